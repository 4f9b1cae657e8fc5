"""The issue-#26 judgments on fresh runs, made after the rules and only measured.

Each part trains small real runs with the callbacks a user adds, on seeds, data and
settings the tests do not use, and compares the judgment with a truth that does not
come from the rule:

- `collapse`: 4-class data at several imbalances, a ReLU MLP on SGD at rates from
  sensible to far too high. Truth: built with a rate far too high (3 or 8) *and* the
  trained model gives one class to at least 99% of the whole validation set (the rule
  sees 64 probe samples and the curves); a slow run that has not yet left the majority
  class (SGD 0.03) has no fault but its rate (`slow_convergence` is right there).
  Judgment: `TrainingDiagnostics`' primary finding is `not_learning`.
- `val_at_chance`: Dense -> BatchNormalization(momentum=0.999) -> ReLU -> softmax on
  digits or generated blobs, inputs offset far from zero (the fault: inference sees other
  statistics than training) or centred. Truth: validation accuracy never more than 0.1
  above the majority share while training accuracy ends above 0.8. Judgment: primary
  `val_at_chance`.
- `mismatch`: BatchNormalization nets whose moving statistics lag (slow momentum, inputs
  offset from zero) beside controls. Truth: `model.evaluate` on the training samples is
  0.2 or more below the training accuracy `fit` logged. Judgment: primary
  `val_lags_training` or `val_at_chance`.
- `guard`: `DivergenceGuard(lr_backoff=0.5)` on runs that converge near zero loss with
  noisy batches (they must never be stopped as diverged) and on runs whose rate grows
  1.6x per epoch (they diverge). Truth: the loss of the same run without the guard ends
  above 3x its lowest value. Judgment: the guard recorded a divergence.
- `pruning`: the median rule on a random search whose epochs are 2 or 9 optimizer steps
  (`part_pruning`), with the tuner's step grace and without it.

Prints precision and recall per part.

    python benchmarks/bench_judgments.py [--part NAME|all] [--seed 500]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _pr(rows: list[tuple[bool, bool]]) -> str:
    tp = sum(1 for truth, said in rows if truth and said)
    fp = sum(1 for truth, said in rows if not truth and said)
    fn = sum(1 for truth, said in rows if truth and not said)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    return (f"{len(rows)} runs, {tp + fn} with the fault: precision {precision:.2f}, "
            f"recall {recall:.2f} (false alarms {fp}, missed {fn})")


def _imbalanced(shares, seed):
    rng = np.random.default_rng(seed)
    counts = [int(1000 * s) for s in shares]
    x = np.concatenate([rng.normal(c * 0.6, 1.0, (n, 12)) for c, n in enumerate(counts)])
    x = (1.0 / (1.0 + np.exp(-x))).astype("float32")
    y = np.concatenate([[c] * n for c, n in enumerate(counts)])
    order = rng.permutation(len(y))
    return x[order], y[order]


def part_collapse(seed: int) -> list[tuple[bool, bool]]:
    import keras

    from keras_bestpractice.callbacks import TrainingDiagnostics

    rows = []
    grid = itertools.product([(0.6, 0.2, 0.12, 0.08), (0.45, 0.25, 0.2, 0.1),
                              (0.7, 0.1, 0.1, 0.1)], [0.03, 0.3, 3.0, 8.0])
    for i, (shares, lr) in enumerate(grid):
        x, y = _imbalanced(shares, seed + i)
        n_tr = int(0.7 * len(y))
        keras.utils.set_random_seed(seed + i)
        model = keras.Sequential([keras.Input((12,)),
                                  keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(4, activation="softmax")])
        model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        diag = TrainingDiagnostics(probe_data=(x[:64], y[:64]), verbose=0)
        model.fit(x[:n_tr], y[:n_tr], validation_data=(x[n_tr:], y[n_tr:]), epochs=10,
                  batch_size=32, verbose=0, callbacks=[diag])
        predicted = np.argmax(model.predict(x[n_tr:], verbose=0), axis=-1)
        one_class = bool(np.bincount(predicted, minlength=4).max() >= 0.99 * predicted.size)
        truth = lr >= 3.0 and one_class
        said = diag.report.primary.code == "not_learning"
        rows.append((truth, said))
        print(f"  shares {shares} SGD({lr:g}): one class {one_class}, collapsed {truth}, "
              f"primary {diag.report.primary.code}", flush=True)
    return rows


def _bn_data(seed: int):
    """Digits and generated blobs, as the BatchNormalization parts use them."""
    from sklearn.datasets import load_digits, make_blobs

    return [("digits", load_digits(return_X_y=True)),
            ("blobs", make_blobs(n_samples=1500, centers=6, n_features=20, cluster_std=3.0,
                                 random_state=seed))]


def _offset_split(x, y, offset: float, seed: int):
    """Standardised inputs shifted by `offset` standard deviations, shuffled, split 70/30:
    `(x_train, y_train, x_val, y_val, classes)`."""
    x = x.astype("float32")
    x = (x - x.mean(0)) / (x.std(0) + 1e-6) + offset
    y = y.astype(int)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    n_tr = int(0.7 * len(y))
    return x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:], int(y.max()) + 1


def part_val_at_chance(seed: int) -> list[tuple[bool, bool]]:
    import keras

    from keras_bestpractice.callbacks import TrainingDiagnostics

    rows = []
    for i, ((name, (x, y)), offset) in enumerate(itertools.product(
            _bn_data(seed), [0.0, 5.0, 20.0, 80.0])):
        x_tr, y_tr, x_va, y_va, k = _offset_split(x, y, offset, seed + i)
        keras.utils.set_random_seed(seed + i)
        model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(64),
                                  keras.layers.BatchNormalization(momentum=0.999),
                                  keras.layers.Activation("relu"),
                                  keras.layers.Dense(k, activation="softmax")])
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        diag = TrainingDiagnostics(verbose=0)
        history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va),
                            epochs=8, batch_size=64, verbose=0, callbacks=[diag]).history
        majority = np.bincount(y_va).max() / len(y_va)
        truth = bool(max(history["val_accuracy"]) <= majority + 0.1
                     and history["accuracy"][-1] > 0.8)
        said = diag.report.primary.code == "val_at_chance"
        rows.append((truth, said))
        print(f"  {name} offset {offset:g}: train {history['accuracy'][-1]:.2f}, val max "
              f"{max(history['val_accuracy']):.2f}: at chance {truth}, primary "
              f"{diag.report.primary.code}", flush=True)
    return rows


def part_mismatch(seed: int) -> list[tuple[bool, bool]]:
    """Validation far behind training, not at chance: is a train/inference mismatch named?

    Dense -> [BatchNormalization] -> ReLU -> softmax on digits or generated blobs, 8 epochs.
    The fault: BatchNormalization with a slow `momentum` (0.999 or 0.99) on inputs offset
    from zero, so its moving statistics, which inference uses, lag the batch statistics
    training uses. Controls without it: the default momentum on centred inputs, no
    BatchNormalization on offset inputs, heavy Dropout (training-mode accuracy *below*
    inference), and a 60-sample training set that a wide net memorises. Truth, measured
    apart from the curves: `model.evaluate` on the training samples (inference mode) is at
    least 0.2 below the accuracy `fit` logged for them in its last epoch. Judgment: the
    primary finding is `val_lags_training` or `val_at_chance`.
    """
    import keras

    from keras_bestpractice.callbacks import TrainingDiagnostics

    # (name, BatchNormalization momentum or None, input offset, dropout, training samples)
    variants = [("bn0.999 offset 3", 0.999, 3.0, 0.0, None),
                ("bn0.999 offset 8", 0.999, 8.0, 0.0, None),
                ("bn0.99 offset 8", 0.99, 8.0, 0.0, None),
                ("bn0.99 offset 0", 0.99, 0.0, 0.0, None),
                ("no bn offset 8", None, 8.0, 0.0, None),
                ("dropout 0.5", None, 0.0, 0.5, None),
                ("60 samples", None, 0.0, 0.0, 60)]
    rows = []
    for i, ((name, (x, y)), (label, momentum, offset, dropout, n_small)) in enumerate(
            itertools.product(_bn_data(seed), variants)):
        x_tr, y_tr, x_va, y_va, k = _offset_split(x, y, offset, seed + i)
        if n_small:
            x_tr, y_tr = x_tr[:n_small], y_tr[:n_small]
        keras.utils.set_random_seed(seed + i)
        layers = [keras.Input((x.shape[1],)), keras.layers.Dense(64 if not n_small else 256)]
        if momentum is not None:
            layers.append(keras.layers.BatchNormalization(momentum=momentum))
        layers.append(keras.layers.Activation("relu"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
        layers.append(keras.layers.Dense(k, activation="softmax"))
        model = keras.Sequential(layers)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        diag = TrainingDiagnostics(verbose=0)
        epochs = 30 if n_small else 8
        history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs,
                            batch_size=64 if not n_small else 16, verbose=0,
                            callbacks=[diag]).history
        inference = float(model.evaluate(x_tr, y_tr, verbose=0, return_dict=True)["accuracy"])
        logged = float(history["accuracy"][-1])
        truth = logged - inference >= 0.2
        said = diag.report.primary.code in ("val_lags_training", "val_at_chance")
        rows.append((truth, said))
        print(f"  {name} {label}: train {logged:.2f} (inference mode {inference:.2f}), val "
              f"{history['val_accuracy'][-1]:.2f}: mismatch {truth}, primary "
              f"{diag.report.primary.code}", flush=True)
    return rows


def _guard_run(x, y, opt, lr, growth, seed, with_guard):
    """30 epochs at batch 16, the rate constant or growing `growth`x per epoch."""
    import keras

    from keras_bestpractice.callbacks import DivergenceGuard

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(int(y.max()) + 1, activation="softmax")])
    steps = int(np.ceil(len(y) / 16))
    rate = lr if growth is None else keras.optimizers.schedules.ExponentialDecay(
        lr, steps, growth)
    optimizer = (keras.optimizers.Adam if opt == "adam" else keras.optimizers.SGD)(rate)
    model.compile(optimizer, "sparse_categorical_crossentropy")
    guard = DivergenceGuard(lr_backoff=0.5) if with_guard else None
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0,
                        callbacks=[guard] if guard else []).history
    return history, guard


def part_guard(seed: int) -> list[tuple[bool, bool]]:
    from sklearn.datasets import load_digits, make_blobs

    digits = load_digits(return_X_y=True)
    blobs = make_blobs(n_samples=1200, centers=4, n_features=10, cluster_std=1.0,
                       random_state=seed)
    rows = []
    cases = itertools.product([("digits", digits), ("blobs", blobs)],
                              [("adam", 3e-3, None), ("adam", 1e-2, None),
                               ("sgd", 0.1, None), ("adam", 1e-3, 1.6), ("sgd", 0.01, 1.6)])
    for i, ((name, (x, y)), (opt, lr, growth)) in enumerate(cases):
        x = ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype("float32")
        plain, _ = _guard_run(x, y, opt, lr, growth, seed + i, with_guard=False)
        loss = np.asarray(plain["loss"], dtype=float)
        finite = loss[np.isfinite(loss)]
        truth = bool(not np.isfinite(loss).all() or finite[-1] > 3 * finite.min())
        _, guard = _guard_run(x, y, opt, lr, growth, seed + i, with_guard=True)
        said = any(e["reason"] in ("diverged", "nan", "inf") for e in guard.events)
        rows.append((truth, said))
        print(f"  {name} {opt}({lr:g}{'' if growth is None else f', x{growth}/epoch'}): "
              f"plain loss {finite.min():.3g} -> {loss[-1]:.3g}, diverged {truth}; guard "
              f"events {[e['reason'] for e in guard.events]}", flush=True)
    return rows


def part_pruning(seed: int) -> list[tuple[bool, bool]]:
    """Trials of a random search on wine (133 training samples) at batch 128 (2 optimizer
    steps per epoch) and 16 (9 steps), 15 epochs each, trained in full; then the median
    rule replayed in trial order (peers: the trials finished before), with the tuner's
    `min_steps` (50) and, for comparison, without it (epochs only, as before issue #26).
    Truth of a bad trial: its best validation accuracy ends below the median of all
    trials' best. Judgment: the rule prunes it at some epoch."""
    import keras
    from sklearn.datasets import load_wine

    from keras_bestpractice.tuning import MedianPruner

    x, y = load_wine(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")[order]
    y = y[order]
    n_tr = int(0.75 * len(y))
    space = list(itertools.product(["adam", "sgd"], [1e-3, 1e-2, 3e-2, 0.1], [16, 64]))
    picks = [space[i] for i in rng.choice(len(space), size=10, replace=False)]
    rows = []
    for batch in (128, 16):
        steps_per_epoch = int(np.ceil(n_tr / batch))
        curves = []
        for i, (opt, lr, width) in enumerate(picks):
            keras.utils.set_random_seed(seed + i)
            model = keras.Sequential([keras.Input((13,)),
                                      keras.layers.Dense(width, activation="relu"),
                                      keras.layers.Dense(3, activation="softmax")])
            optimizer = (keras.optimizers.Adam if opt == "adam" else keras.optimizers.SGD)(lr)
            model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
            history = model.fit(x[:n_tr], y[:n_tr], validation_data=(x[n_tr:], y[n_tr:]),
                                epochs=15, batch_size=batch, verbose=0).history
            curves.append(history["val_accuracy"])
        finals = [max(c) for c in curves]
        median = float(np.median(finals))
        for name, pruner in (("min_steps=50", MedianPruner(min_peers=3, min_steps=50)),
                             ("epochs only", MedianPruner(min_peers=3))):
            judged = []
            for i, curve in enumerate(curves):
                pruned = any(pruner.prune(curve[: e + 1], curves[:i], direction="max",
                                          steps=(e + 1) * steps_per_epoch)
                             for e in range(len(curve)))
                judged.append((finals[i] < median, pruned))
            good_pruned = sum(1 for bad, p in judged if p and not bad)
            print(f"  batch {batch} ({steps_per_epoch} steps/epoch), {name}: pruned "
                  f"{sum(p for _, p in judged)} of {len(judged)}, good trials pruned "
                  f"{good_pruned}; {_pr(judged)}", flush=True)
            if name == "min_steps=50":
                rows.extend(judged)
    return rows


PARTS = {"collapse": part_collapse, "val_at_chance": part_val_at_chance,
         "mismatch": part_mismatch, "guard": part_guard,
         "pruning": part_pruning}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=(*PARTS, "all"), default="all")
    parser.add_argument("--seed", type=int, default=500)
    args = parser.parse_args(argv)
    names = list(PARTS) if args.part == "all" else [args.part]
    summary = []
    for name in names:
        start = time.perf_counter()
        print(f"# {name}", flush=True)
        rows = PARTS[name](args.seed)
        line = f"{name}: {_pr(rows)} ({time.perf_counter() - start:.0f} s)"
        summary.append(line)
        print(line, flush=True)
    print("\n".join(["", "## summary", *summary]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
