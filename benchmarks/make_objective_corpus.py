"""Train the corpus of real runs behind the training-objective benchmark (issue #17).

Small Keras models on scikit-learn's digits and on a harder synthetic task
(scikit-learn's `make_classification` with label noise), over a grid of widths,
optimizers, learning rates and dropout, each trained for the full budget without
any stopping, so that what would have happened after a stop is known. Stores
every run's `History.history` in `tests/fixtures/objective_runs.json`;
`benchmarks/bench_objective.py` replays `TrainingObjective`'s rule and
`plan_epochs` on them, and the test suite checks the precision target.

    python benchmarks/make_objective_corpus.py [--epochs 40] [--out PATH] [--seed 0]

The held-out corpus (other splits, other initialisations), scored but never used
to choose the rule's defaults:

    python benchmarks/make_objective_corpus.py --seed 100 \
        --out tests/fixtures/objective_runs_heldout.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "objective_runs.json"


def datasets(split_seed: int = 0):
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    yield "digits", train_test_split((x / 16.0).astype("float32"), y, test_size=0.25,
                                     stratify=y, random_state=split_seed)
    x, y = make_classification(n_samples=1600, n_features=20, n_informative=8, n_classes=4,
                               flip_y=0.08, class_sep=0.9, random_state=0)
    yield "synthetic", train_test_split(x.astype("float32"), y, test_size=0.25, stratify=y,
                                        random_state=split_seed)


def train(data, width, optimizer, lr, dropout, epochs, seed, depth=1, activation="relu"):
    import keras

    (x_tr, x_va, y_tr, y_va) = data
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((x_tr.shape[1],))] + [
        keras.layers.Dense(width, activation=activation) for _ in range(depth)]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(int(y_tr.max()) + 1, activation="softmax"))
    model = keras.Sequential(layers)
    opt = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop}[optimizer](lr)
    model.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs,
                        batch_size=32, verbose=0)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the splits and of the runs (a held-out corpus: 100)")
    parser.add_argument("--late", action="store_true",
                        help="late starters (issue #26): deep sigmoid networks trained with "
                             "plain SGD sit at chance for epochs (vanishing gradients at "
                             "their start) before they learn")
    args = parser.parse_args(argv)
    if args.late:
        return main_late(args)
    grid = list(itertools.product([4, 32], ["adam", "sgd", "rmsprop"], [1e-1, 1e-2, 1e-3],
                                  [0.0, 0.3]))
    runs = []
    start = time.perf_counter()
    for name, data in datasets(args.seed):
        for i, (width, optimizer, lr, dropout) in enumerate(grid):
            history = train(data, width, optimizer, lr, dropout, args.epochs,
                            seed=args.seed + i)
            runs.append({"name": f"{name}_w{width}_{optimizer}_lr{lr:g}_do{dropout:g}",
                         "data": name, "width": width, "optimizer": optimizer, "lr": lr,
                         "dropout": dropout, "history": history})
            best = max(history["val_accuracy"])
            print(f"{runs[-1]['name']:40s} best val_accuracy {best:.3f}", flush=True)
    return write_corpus(args, runs, start, "Full-budget runs (no stopping) for the "
                        "TrainingObjective benchmark; made by benchmarks/make_objective_corpus.py")


def write_corpus(args, runs: list[dict], start: float, about: str) -> int:
    """The corpus as one JSON file, written atomically (a temporary name, then renamed)."""
    from keras_bestpractice._atomic import atomic_write_text

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"about": about, "epochs": args.epochs, "runs": runs}
    atomic_write_text(out, json.dumps(payload, separators=(",", ":")))
    print(f"{len(runs)} runs in {time.perf_counter() - start:.0f} s -> {out}")
    return 0


def main_late(args) -> int:
    """Late starters: flat heads of varying length, then a rise (or none in the budget)."""
    grid = list(itertools.product([3, 4], [0.5, 1.0, 2.0]))
    runs = []
    start = time.perf_counter()
    for name, data in datasets(args.seed):
        for i, (depth, lr) in enumerate(grid):
            history = train(data, 32, "sgd", lr, 0.0, args.epochs, seed=args.seed + i,
                            depth=depth, activation="sigmoid")
            runs.append({"name": f"{name}_sigmoid{depth}_sgd_lr{lr:g}", "data": name,
                         "width": 32, "depth": depth, "optimizer": "sgd", "lr": lr,
                         "dropout": 0.0, "history": history})
            acc = history["val_accuracy"]
            flat = next((e for e, a in enumerate(acc) if a >= acc[0] + 0.1), None)
            print(f"{runs[-1]['name']:32s} best val_accuracy {max(acc):.3f}, first +0.1 at "
                  f"epoch {flat}", flush=True)
    return write_corpus(args, runs, start, "Late starters (flat first epochs, then learning) "
                        "for the TrainingObjective benchmark; made by benchmarks/"
                        "make_objective_corpus.py --late after the late-start rules (issue "
                        "#26), measured only")


if __name__ == "__main__":
    raise SystemExit(main())
