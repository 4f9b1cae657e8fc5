"""Cost at growing sizes (issue #24): time and peak memory at three sizes 10x apart.

Each part runs against the plain alternative in the same process and prints the ratio;
peak memory is the peak of NumPy's allocations during the call (`tracemalloc`, which
NumPy reports to), above what was allocated before it.

Parts measured so far:

- `split`: `stratified_split` (train/val/test by class) against scikit-learn's
  `train_test_split(stratify=y)` (one split, train/test), N labels x C classes.
- `dataset`: `stratified_dataset(index, y, batch_size=32)` built and its first batch drawn,
  against a plain `from_tensor_slices(index).shuffle(N).batch(32)` (also to its first
  batch: the shuffle buffer is filled then), each in a fresh process (peak resident memory
  above the process's state once the labels exist, from `getrusage`; TensorFlow's own
  allocations are invisible to `tracemalloc`); then the time of one more full epoch.

- `restore`: a model of `Dense(w, w)` layers with Adam (state = 3x the weights) at three
  state sizes; fresh processes each build the model and its optimizer, then restore:
  Keras's `model.load_weights(.weights.h5)` against our `load_weights` (weights only) and
  our full restore (weights, optimizer, seeds: what a resume reads), the checkpoint
  verified first as a resume does. Peak resident memory above the built model.

- `pruner`: one epoch end's pruning check of a running trial (the finished peers'
  curves, then `MedianPruner.prune`) with 10, 100 and 1000 finished trials in the
  project directory: the trial's first check (which scans the directory) and the
  following ones.

- `async`: what a checkpoint save every epoch adds to `fit`, at three state sizes: the same
  training (Dense(2048) layers, Adam, fixed steps per epoch) with no checkpoint, with
  synchronous saves and with `async_write=True`; per-epoch time and the share of the
  synchronous saves' cost that the background writer hides.

- `writeback`: the checkpoint store's file writer (`store._write_buffers`: flushed and
  dropped from the page cache every 32 MiB) against a plain write and one `fsync` at the
  end, the same buffers, at three sizes: wall time and the process's kernel (sys) CPU
  time, which is what a background save takes from training.

- `hparams`: the tuner's TensorBoard HParams sessions (`TrialSessions`) against the same
  trials written with TensorBoard's own `hp.hparams_config`/`hp.hparams` and scalars: the
  dashboard's columns and the time of its `session_groups` query on a real TensorBoard.

    python benchmarks/bench_scale.py
        [--part split|dataset|restore|pruner|async|writeback|reload|hparams]
        [--sizes 100000,1000000,10000000] [--classes 1000] [--repeats 3] [--state-mib 10,100,1000]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(fn, repeats: int) -> tuple[float, float]:
    """(median seconds over `repeats` untraced calls, peak MiB of allocations during one
    more, traced, call) of `fn()` (tracing slows Python-heavy code, so it is timed apart)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return float(np.median(times)), peak


def part_split(sizes: list[int], classes: int, repeats: int) -> None:
    from sklearn.model_selection import train_test_split

    from keras_bestpractice.data import stratified_split

    print(f"## stratified_split vs sklearn train_test_split(stratify=y), {classes} classes")
    print("| N | ours s | sklearn s | time ratio | ours peak MiB | sklearn peak MiB |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        rng = np.random.default_rng(0)
        y = rng.integers(0, classes, n)
        idx = np.arange(n)
        ours = measure(lambda y=y, idx=idx: stratified_split(
            idx, y, val_size=0.1, test_size=0.1, seed=0, return_indices=True), repeats)
        theirs = measure(lambda y=y, idx=idx: train_test_split(idx, y, test_size=0.2, stratify=y,
                                                      random_state=0), repeats)
        print(f"| {n:,} | {ours[0]:.3f} | {theirs[0]:.3f} | {ours[0] / theirs[0]:.2f} | "
              f"{ours[1]:.0f} | {theirs[1]:.0f} |", flush=True)


DATASET_CHILD = '''
import os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, {root!r})
import numpy as np
import tensorflow as tf
from keras_bestpractice.data import stratified_dataset
n, classes, which = {n}, {classes}, {which!r}
rng = np.random.default_rng(0)
y = rng.integers(0, classes, n).astype(np.int64)
index = np.arange(n, dtype=np.int64)
tf.constant(0)  # start TensorFlow's runtime before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if which == "ours":
    ds = stratified_dataset(index, y, batch_size=32, seed=0, prefetch=False)
else:
    ds = tf.data.Dataset.from_tensor_slices((index, y)).shuffle(n, seed=0).batch(32)
it = iter(ds)
next(it)
build = time.perf_counter() - start
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
start = time.perf_counter()
for _ in ds:
    pass
epoch = time.perf_counter() - start
print("RESULT", build, peak, epoch)
'''


def part_dataset(sizes: list[int], classes: int, repeats: int) -> None:
    import subprocess

    def child(n: int, which: str) -> tuple[float, float, float]:
        code = DATASET_CHILD.format(root=str(ROOT), n=n, classes=classes, which=which)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
        if not line:
            raise RuntimeError(done.stderr[-2000:])
        return tuple(float(v) for v in line[0].split()[1:])

    print(f"## stratified_dataset vs plain shuffle+batch, {classes} classes, batch 32 "
          f"(build + first batch; median of {repeats} fresh processes)")
    print("| N | ours build s | plain build s | build ratio | ours peak MiB | plain peak MiB "
          "| peak ratio | ours epoch s | plain epoch s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        ours = np.median([child(n, "ours") for _ in range(repeats)], axis=0)
        plain = np.median([child(n, "plain") for _ in range(repeats)], axis=0)
        print(f"| {n:,} | {ours[0]:.2f} | {plain[0]:.2f} | {ours[0] / plain[0]:.2f} | "
              f"{ours[1]:.0f} | {plain[1]:.0f} | {ours[1] / max(plain[1], 1):.2f} | "
              f"{ours[2]:.2f} | {plain[2]:.2f} |", flush=True)


RESTORE_CHILD = '''
import os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, {root!r})
import numpy as np
import keras
width, layers, which, work = {width}, {layers}, {which!r}, {work!r}


def build():
    model = keras.Sequential([keras.Input((width,))]
                             + [keras.layers.Dense(width) for _ in range(layers)])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    model.optimizer.build(model.trainable_variables)
    return model


if which == "save":
    from keras_bestpractice.callbacks import PeriodicCheckpoint
    model = build()
    x = np.ones((2, width), "float32")
    model.fit(x, x, epochs=1, verbose=0, callbacks=[
        PeriodicCheckpoint(os.path.join(work, "ours"), every_n_epochs=1, monitor="loss")])
    model.save_weights(os.path.join(work, "keras.weights.h5"))
    print("RESULT 0 0")
    sys.exit()
from keras_bestpractice.checkpointing import load_weights
from keras_bestpractice.checkpointing.load import open_checkpoint
from keras_bestpractice.checkpointing.state import restore_training_state

model = build()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if which == "keras":
    model.load_weights(os.path.join(work, "keras.weights.h5"))
elif which == "weights":
    load_weights(model, os.path.join(work, "ours"))
else:
    restore_training_state(model, open_checkpoint(os.path.join(work, "ours")))
took = time.perf_counter() - start
print("RESULT", took, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
'''


def part_restore(sizes_mib: list[int], repeats: int) -> None:
    import shutil
    import subprocess
    import tempfile

    def child(code: str) -> tuple[float, float]:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
        if not line:
            raise RuntimeError(done.stderr[-2000:])
        return tuple(float(v) for v in line[0].split()[1:])

    print(f"## checkpoint restore vs model.load_weights (median of {repeats} fresh processes)")
    print("| state MiB (weights) | keras load_weights s | ours weights s | ratio | ours full s "
          "| ratio | keras peak MiB | ours weights peak MiB (/ weights) | ours full peak MiB "
          "(/ state) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for state_mib in sizes_mib:
        width = 2048
        layers = max(1, round(state_mib * 2**20 / (3 * 4 * width * width)))
        weights_mib = layers * (width * width + width) * 4 / 2**20
        work = tempfile.mkdtemp()
        try:
            fmt = dict(root=str(ROOT), width=width, layers=layers, work=work)
            child(RESTORE_CHILD.format(which="save", **fmt))
            rows = {which: np.median([child(RESTORE_CHILD.format(which=which, **fmt))
                                      for _ in range(repeats)], axis=0)
                    for which in ("keras", "weights", "full")}
        finally:
            shutil.rmtree(work, ignore_errors=True)
        keras_, ours, full = rows["keras"], rows["weights"], rows["full"]
        print(f"| {3 * weights_mib:.0f} ({weights_mib:.0f}) | {keras_[0]:.3f} | {ours[0]:.3f} | "
              f"{ours[0] / keras_[0]:.2f} | {full[0]:.3f} | {full[0] / keras_[0]:.2f} | "
              f"{keras_[1]:.0f} | "
              f"{ours[1]:.0f} ({ours[1] / weights_mib:.2f}) | "
              f"{full[1]:.0f} ({full[1] / (3 * weights_mib):.2f}) |", flush=True)


def part_pruner(counts: list[int], repeats: int) -> None:
    import shutil
    import tempfile

    from keras_bestpractice._core import pruners
    from keras_bestpractice.tuning import MedianPruner, pruning
    from keras_bestpractice.tuning import results as results_mod

    class Peers(pruning.PruningMixin):
        def __init__(self, project_dir):
            self.project_dir = project_dir
            self._peer_cache, self._peer_snapshot = {}, None
            self._peer_pool = pruners.PeerCurves()

    print("## a pruning check at an epoch end vs finished trials (MedianPruner, 10 epochs)")
    print("| finished trials | first check of the search ms | first check of a later trial ms "
          "| later checks ms (median) | every check scanning (before) ms |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for count in counts:
        work = tempfile.mkdtemp()
        try:
            for i in range(count):
                curve = list(np.cumsum(rng.random(10) / 20) + 0.3)
                results_mod.write_summary(Path(work) / f"trial_{i:05d}", {
                    "trial_id": f"{i:05d}", "status": "completed", "prune_reason": "",
                    "objective_history": curve})
            pruner = MedianPruner()
            first, firsts, laters, rescans = None, [], [], []
            tuner = Peers(work)
            for r in range(repeats + 1):
                mine = list(np.cumsum(rng.random(10) / 20) + 0.3)
                for epoch in range(9):
                    start = time.perf_counter()
                    peers = tuner.peer_curves(f"new{r}")
                    pruner.prune(mine[:epoch + 1], peers, direction="max", budget=10)
                    took = (time.perf_counter() - start) * 1e3
                    if r == 0 and epoch == 0:
                        first = took
                    elif epoch == 0:
                        firsts.append(took)
                    else:
                        laters.append(took)
                    # What every epoch end cost before: a directory scan (records cached).
                    start = time.perf_counter()
                    tuner._scan_peer_curves()
                    peers = tuner._peer_pool.without(f"new{r}")
                    pruner.prune(mine[:epoch + 1], peers, direction="max", budget=10)
                    rescans.append((time.perf_counter() - start) * 1e3)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"| {count:,} | {first:.2f} | {np.median(firsts):.2f} | {np.median(laters):.3f} | "
              f"{np.median(rescans):.2f} |", flush=True)


def part_async(sizes_mib: list[int], repeats: int) -> None:
    import shutil
    import tempfile

    import keras

    from keras_bestpractice.callbacks import PeriodicCheckpoint

    width, epochs, steps = 2048, 5, 24

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.marks = [time.perf_counter()]

        def on_epoch_end(self, epoch, logs=None):
            self.marks.append(time.perf_counter())

    print("## a checkpoint every epoch inside fit: none vs synchronous vs async_write=True "
          f"({epochs} epochs x {steps} steps of batch 32; medians of {repeats} runs)")
    print("| state MiB | epoch s, no checkpoint | sync: epoch with its save | async: epoch during "
          "the previous save's write | async: wait at the end of fit s |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    x = rng.random((32 * steps, width), dtype=np.float32)
    for state_mib in sizes_mib:
        layers = max(1, round(state_mib * 2**20 / (3 * 4 * width * width)))

        def build(layers=layers):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((width,))]
                                     + [keras.layers.Dense(width) for _ in range(layers)])
            model.compile(keras.optimizers.Adam(1e-4), "mse")
            return model

        def run(mode: str, build=build) -> tuple[float, float]:
            """(median epoch time over epochs 2.., the wait after the last epoch)."""
            work = tempfile.mkdtemp(dir=ROOT)
            try:
                model = build()
                model.fit(x[:32], x[:32], epochs=1, verbose=0)  # trace and build first
                clock = EpochClock()
                callbacks = [] if mode == "none" else [PeriodicCheckpoint(
                    work, every_n_epochs=1, monitor="loss", keep_last=1, keep_best=0,
                    async_write=mode == "async")]
                model.fit(x, x, batch_size=32, epochs=epochs, verbose=0, shuffle=False,
                          callbacks=[*callbacks, clock])
                end = time.perf_counter()
                return float(np.median(np.diff(clock.marks)[1:])), end - clock.marks[-1]
            finally:
                shutil.rmtree(work, ignore_errors=True)

        got = {mode: [] for mode in ("none", "sync", "async")}
        for _ in range(repeats):
            for mode in got:
                got[mode].append(run(mode))
        none, sync, asyn = (np.median(np.array(got[m]), axis=0) for m in ("none", "sync",
                                                                           "async"))
        print(f"| {3 * layers * width * width * 4 / 2**20:.0f} | {none[0]:.2f} | "
              f"{sync[0]:.2f} ({sync[0] / none[0] - 1:+.0%}) | "
              f"{asyn[0]:.2f} ({asyn[0] / none[0] - 1:+.0%}) | {asyn[1]:.2f} |", flush=True)


def part_writeback(sizes_mib: list[int], repeats: int) -> None:
    import os
    import resource
    import shutil
    import tempfile

    from keras_bestpractice.checkpointing import store

    def plain(path, buffers):  # the writer before issue #24's change
        with open(path, "wb") as handle:
            for buf in buffers:
                for start in range(0, len(buf), store.CHUNK):
                    handle.write(buf[start:start + store.CHUNK])
            handle.flush()
            os.fsync(handle.fileno())

    def timed(write, path, buffers) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        start = time.perf_counter()
        write(path, buffers)
        took = time.perf_counter() - start
        return took, resource.getrusage(resource.RUSAGE_SELF).ru_stime - before

    print(f"## writing one checkpoint file: store._write_buffers vs write + one fsync "
          f"(medians of {repeats}, interleaved)")
    print("| MiB | plain wall s | plain sys s | ours wall s | ours sys s | wall ratio | "
          "sys ratio |")
    print("|---|---|---|---|---|---|---|")
    work = Path(tempfile.mkdtemp(dir=ROOT))
    try:
        for mib in sizes_mib:
            data = np.random.default_rng(0).random(mib * 2**20 // 8)
            buffers = [memoryview(data).cast("B")]
            got = {"plain": [], "ours": []}
            for _ in range(repeats):
                for name, write in (("plain", plain), ("ours", store._write_buffers)):
                    got[name].append(timed(write, work / name, buffers))
                    (work / name).unlink()
            p, o = (np.median(np.array(got[k]), axis=0) for k in ("plain", "ours"))
            print(f"| {mib:,} | {p[0]:.2f} | {p[1]:.2f} | {o[0]:.2f} | {o[1]:.2f} | "
                  f"{o[0] / p[0]:.2f} | {o[1] / max(p[1], 1e-3):.2f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


RELOAD_CHILD = r"""
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, {root!r})
import keras
import keras_tuner as kt
import numpy as np
from keras_bestpractice.tuning import RandomSearchTuner

def build(hp):
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Int("units", 4, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.get("units")),
                              keras.layers.Dense(2)])
    return model  # uncompiled: our tuner compiles; KerasTuner's gets one compiled below

def compiled(hp):
    # The same four hyperparameters per trial as ours (the two our tuner adds to an
    # uncompiled build): the trial files KerasTuner parses are the same size.
    model = build(hp)
    name = hp.Choice("optimizer", ["adam", "sgd", "rmsprop", "adagrad"])
    rate = hp.Choice("learning_rate", [1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    model.compile(keras.optimizers.get({{"class_name": name,
                                         "config": {{"learning_rate": rate}}}}), "mse")
    return model

which, count, work = {which!r}, {count}, {work!r}
def make(overwrite):
    if which == "keras_tuner":
        return kt.RandomSearch(compiled, objective="val_loss", max_trials=count + 10,
                               directory=work, project_name="kt", overwrite=overwrite)
    return RandomSearchTuner(build, objective="val_loss", max_trials=count + 10,
                             directory=work, project_name="ours", overwrite=overwrite)
if {create!r}:
    tuner = make(True)
    rng = np.random.default_rng(0)
    for _ in range(count):
        trial = tuner.oracle.create_trial("bench")
        tuner.oracle.update_trial(trial.trial_id, {{"val_loss": float(rng.random())}})
        tuner.oracle.end_trial(trial)
    tuner.save()
    print("RESULT 0")
    sys.exit()
start = time.perf_counter()
tuner = make(False)
took = time.perf_counter() - start
assert len(tuner.oracle.trials) == count, len(tuner.oracle.trials)
print("RESULT", took)
"""


def part_reload(counts: list[int], repeats: int) -> None:
    """Reloading a project of `count` finished trials (KerasTuner's `RandomSearch` over
    its own project, ours over its own; the same four hyperparameters per trial), each
    timed in a fresh process."""
    import shutil
    import subprocess
    import tempfile

    def child(**fmt) -> float:
        done = subprocess.run([sys.executable, "-c", RELOAD_CHILD.format(root=str(ROOT), **fmt)],
                              capture_output=True, text=True)
        line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
        if not line:
            raise RuntimeError(done.stderr[-2000:])
        return float(line[0].split()[1])

    print(f"## reloading a search of N finished trials (median of {repeats} fresh processes)")
    print("| trials | KerasTuner RandomSearch s | ours s | ratio |")
    print("|---|---|---|---|")
    for count in counts:
        work = tempfile.mkdtemp()
        try:
            times = {}
            for which in ("keras_tuner", "ours"):
                child(which=which, count=count, work=work, create=True)
                times[which] = float(np.median([child(which=which, count=count, work=work,
                                                      create=False)
                                                for _ in range(repeats)]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"| {count:,} | {times['keras_tuner']:.3f} | {times['ours']:.3f} | "
              f"{times['ours'] / times['keras_tuner']:.2f} |", flush=True)


HPARAMS_CHILD = r'''
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
import keras_tuner as kt
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp
from keras_bestpractice.hparams.trial_sessions import TrialSessions

n, logdir, which = {n}, {logdir!r}, {which!r}
rng = np.random.default_rng(0)
space = kt.HyperParameters()
choices = dict(learning_rate=[0.1, 0.01, 0.001], dropout=[0.1, 0.25, 0.5],
               batch_size=[32, 128], optimizer=["adam", "rmsprop"])
for name, values in choices.items():
    space.Choice(name, values)
keys = ("loss", "accuracy", "val_loss", "val_accuracy")
if which == "plain":  # what a Keras user writes: hp.hparams_config, hp.hparams, scalars
    with tf.summary.create_file_writer(logdir).as_default():
        hp.hparams_config(hparams=[hp.HParam(k, hp.Discrete(v)) for k, v in choices.items()],
                          metrics=[hp.Metric(f"epoch_{{k}}") for k in keys])
sessions = TrialSessions(logdir)
start = time.perf_counter()
for i in range(n):
    values = {{k: v[int(rng.integers(len(v)))] for k, v in choices.items()}}
    history = {{k: [float(x) for x in rng.random(3)] for k in keys}}
    if which == "ours":
        sessions.write(space, "val_accuracy", "max", {{
            "trial_id": f"{{i:04d}}", "hyperparameters": values, "history": history,
            "epochs_run": 3, "status": "completed", "prune_reason": None, "error": None}})
    else:
        with tf.summary.create_file_writer(f"{{logdir}}/trial_{{i:04d}}").as_default():
            hp.hparams(values, trial_id=f"trial_{{i:04d}}")
            for epoch in range(3):
                for k in keys:
                    tf.summary.scalar(f"epoch_{{k}}", history[k][epoch], step=epoch)
print("RESULT", time.perf_counter() - start)
'''


def part_hparams(counts: list[int], repeats: int) -> None:
    """The tuner's HParams sessions against the same trials written with TensorBoard's own
    API: columns, and how long the dashboard's `session_groups` query takes."""
    import shutil
    import subprocess
    import tempfile

    sys.path.insert(0, str(ROOT))
    from tests.hparams.board import post, session_groups, tensorboard

    print(f"## HParams dashboard: tuner sessions vs plain `hp.hparams` (median of {repeats} "
          "session_groups queries, 4 hyperparameters, 4 metrics x 3 epochs)")
    print("| sessions | columns ours / plain | write ours s | write plain s | session_groups "
          "ours s | plain s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for n in counts:
        row = {}
        for which in ("ours", "plain"):
            work = tempfile.mkdtemp()
            try:
                code = HPARAMS_CHILD.format(root=str(ROOT), n=n, logdir=work, which=which)
                done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True)
                line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
                if not line:
                    raise RuntimeError(done.stderr[-2000:])
                with tensorboard(work, wait_for=n) as (port, experiment):
                    columns = len(experiment["hparamInfos"]) + len(experiment["metricInfos"])
                    times = []
                    for _ in range(repeats):
                        start = time.perf_counter()
                        groups = session_groups(port)
                        times.append(time.perf_counter() - start)
                    assert len(groups) == min(n, 1000), len(groups)
                    post(port, "experiment", {"experimentName": ""})
                row[which] = (columns, float(line[0].split()[1]), float(np.median(times)))
            finally:
                shutil.rmtree(work, ignore_errors=True)
        ours, plain = row["ours"], row["plain"]
        print(f"| {n} | {ours[0]} / {plain[0]} | {ours[1]:.2f} | {plain[1]:.2f} | "
              f"{ours[2]:.3f} | {plain[2]:.3f} | {ours[2] / plain[2]:.2f} |", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("split", "dataset", "restore", "pruner", "async",
                                           "writeback", "reload", "hparams"),
                        default="split")
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--state-mib", default=None,
                        help="restore: checkpoint sizes in MiB (default 10,100,1000)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.part == "split":
        part_split(sizes, args.classes, args.repeats)
    elif args.part == "dataset":
        part_dataset(sizes, args.classes, args.repeats)
    elif args.part == "async":
        part_async([int(s) for s in (args.state_mib or "10,100,1000").split(",")],
                   args.repeats)
    elif args.part == "writeback":
        part_writeback([int(s) for s in (args.state_mib or "10,100,1000").split(",")],
                       args.repeats)
    elif args.part == "pruner":
        part_pruner([int(s) for s in args.sizes.split(",")], args.repeats)
    elif args.part == "hparams":
        part_hparams([int(s) for s in args.sizes.split(",")], args.repeats)
    elif args.part == "reload":
        part_reload([int(s) for s in args.sizes.split(",")], args.repeats)
    elif args.part == "restore":
        part_restore([int(s) for s in (args.state_mib or "10,100,1000").split(",")],
                     args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
