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

    python benchmarks/bench_scale.py [--part split|dataset] [--sizes 100000,1000000,10000000]
                                     [--classes 1000] [--repeats 3]
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("split", "dataset"), default="split")
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.part == "split":
        part_split(sizes, args.classes, args.repeats)
    elif args.part == "dataset":
        part_dataset(sizes, args.classes, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
