"""RandomSearchTuner (pruned) vs KerasTuner's RandomSearch on the same configurations.

The handbook space, 20 trials x 5 epochs of a small digits CNN. Our tuner runs first and
its 20 configurations are then replayed, unpruned, by KerasTuner (a `RandomSearchOracle`
that returns them in order), so both see exactly the same trials. Targets (issue #7):
<= 0.6x the training epochs, <= 0.8x the wall time, and the same best configuration or a
best val_accuracy within 0.01. Issue #12 adds the ASHA rule next to the median rule
(the same 20 configurations), and KerasTuner's Hyperband with and without
`PruningMixin` at the same budget (max_epochs, factor 3, one iteration).

    python benchmarks/bench_tuner.py [--trials 20] [--epochs 5] [--dir DIR] [--skip-hyperband]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.data import stratified_split  # noqa: E402
from keras_bestpractice.tuning import (  # noqa: E402
    RandomSearchTuner,
    dropout_layer,
    with_pruning,
)
from keras_bestpractice.tuning.pruning import trial_seed  # noqa: E402
from keras_bestpractice.tuning.space import make_optimizer  # noqa: E402

from _harness import print_header  # noqa: E402


def build_cnn(hp):
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        dropout_layer(hp),
        keras.layers.Dense(10, activation="softmax"),
    ])


class CompiledCNN(kt.HyperModel):
    """The same network for KerasTuner, compiled and fitted with the trial's batch size,
    seeded like our tuner seeds the same trial (so unpruned trials match exactly)."""

    def __init__(self, configs=(), seed=0):
        super().__init__()
        self.configs, self.seed = list(configs), seed

    def build(self, hp):
        for index, values in enumerate(self.configs):
            if {k: str(v) for k, v in values.items()} == \
                    {k: str(v) for k, v in hp.values.items()}:
                width = len(str(len(self.configs)))
                keras.utils.set_random_seed(trial_seed(self.seed, f"{index:0{width}d}"))
                break
        model = build_cnn(hp)
        model.compile(make_optimizer(hp), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)


class ReplayOracle(kt.oracles.RandomSearchOracle):
    """Returns a fixed list of configurations, in order."""

    def __init__(self, configs, **kwargs):
        super().__init__(max_trials=len(configs), **kwargs)
        self.configs = list(configs)

    def populate_space(self, trial_id):
        values = self.configs[int(trial_id)]
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": dict(values)}


class HandbookCNN(kt.HyperModel):
    """The handbook space declared and compiled inside `build` (for Hyperband, which
    needs a compiled model), the batch size applied in `fit`."""

    def build(self, hp):
        model = build_cnn(hp)
        hp.Choice("learning_rate", [0.1, 0.01, 0.001, 0.0001, 0.00001], ordered=True)
        hp.Choice("optimizer", ["adam", "adagrad", "rmsprop"])
        model.compile(make_optimizer(hp), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [32, 128], ordered=True),
                         **kwargs)


def run_ours(pruner, args, root, data, extra):
    (xt, yt), (xv, yv) = data
    start = time.perf_counter()
    tuner = RandomSearchTuner(build_cnn, max_trials=args.trials, epochs_per_trial=args.epochs,
                              seed=args.seed, prune=True, pruner=pruner, directory=root,
                              project_name=f"ours_{pruner}", overwrite=True, **extra)
    tuner.search(xt, yt, validation_data=(xv, yv), verbose=0)
    return tuner.results_frame(), time.perf_counter() - start


def run_hyperband(tuner_class, args, root, data, name):
    (xt, yt), (xv, yv) = data
    keras.backend.clear_session()
    start = time.perf_counter()
    tuner = tuner_class(HandbookCNN(), objective="val_accuracy", max_epochs=args.epochs,
                        factor=3, hyperband_iterations=1, seed=args.seed + 1, directory=root,
                        project_name=name, overwrite=True)
    tuner.search(xt, yt, validation_data=(xv, yv), verbose=0)
    seconds = time.perf_counter() - start
    trials = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    best = max((t.metrics.get_best_value("val_accuracy") or 0.0) for t in trials)
    epochs = 0
    for trial in tuner.oracle.trials.values():
        summary = Path(tuner.get_trial_dir(trial.trial_id)) / "kbp_trial.json"
        if summary.exists():
            epochs += json.loads(summary.read_text())["epochs_run"]
        elif trial.metrics.exists("val_accuracy"):
            epochs += int(trial.hyperparameters.values.get("tuner/epochs", args.epochs)) - \
                int(trial.hyperparameters.values.get("tuner/initial_epoch", 0))
    return {"seconds": seconds, "best": best, "trials": len(tuner.oracle.trials),
            "epochs": epochs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--min-trials-for-median", type=int, default=None,
                        help="override RandomSearchTuner's default")
    parser.add_argument("--min-epochs-for-median", type=int, default=None,
                        help="override RandomSearchTuner's default")
    parser.add_argument("--skip-hyperband", action="store_true")
    args = parser.parse_args(argv)
    print_header(f"tuner: {args.trials} trials x {args.epochs} epochs, handbook space, "
                 "digits CNN")
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    (xt, yt), (xv, yv), _ = stratified_split(x, y, val_size=0.2, test_size=0, seed=0)
    data = ((xt, yt), (xv, yv))
    root = tempfile.mkdtemp(prefix="bench_tuner_", dir=args.dir or os.getcwd())
    try:
        # Warm-up: the first trial in a process pays one-time costs (kernel
        # registration, first tracing); give them to neither side.
        warm = RandomSearchTuner(build_cnn, max_trials=1, epochs_per_trial=1, seed=99,
                                 directory=root, project_name="warm", overwrite=True)
        warm.search(xt, yt, validation_data=(xv, yv), verbose=0)
        kt.Tuner(oracle=ReplayOracle([warm.get_best_hyperparameters()[0].values],
                                     objective="val_accuracy", seed=99),
                 hypermodel=CompiledCNN(), directory=root, project_name="warm_kt",
                 overwrite=True).search(xt, yt, validation_data=(xv, yv), epochs=1, verbose=0)
        extra = {}
        if args.min_trials_for_median is not None:
            extra["min_trials_for_median"] = args.min_trials_for_median
        if args.min_epochs_for_median is not None:
            extra["min_epochs_for_median"] = args.min_epochs_for_median
        runs = {pruner: run_ours(pruner, args, root, data, extra)
                for pruner in ("median", "asha")}
        frame = runs["median"][0]
        hp_cols = [c for c in frame.columns if c.startswith("hp_")]
        configs = [{c[3:]: row[c].item() if hasattr(row[c], "item") else row[c]
                    for c in hp_cols} for _, row in frame.iterrows()]
        same_configs = runs["asha"][0][hp_cols].astype(str).equals(frame[hp_cols].astype(str))

        keras.backend.clear_session()
        start = time.perf_counter()
        baseline = kt.Tuner(oracle=ReplayOracle(configs, objective="val_accuracy",
                                                seed=args.seed),
                            hypermodel=CompiledCNN(configs, args.seed), directory=root,
                            project_name="kt", overwrite=True)
        baseline.search(xt, yt, validation_data=(xv, yv), epochs=args.epochs, verbose=0)
        kt_time = time.perf_counter() - start
        kt_trials = baseline.oracle.get_best_trials(args.trials)
        kt_best = kt_trials[0]
        kt_best_acc = kt_best.metrics.get_best_value("val_accuracy")
        kt_epochs = args.trials * args.epochs

        print(f"\nKerasTuner RandomSearch (unpruned, the same {args.trials} configs): "
              f"{kt_time:.1f}s, {kt_epochs} epochs, best val_accuracy {kt_best_acc:.4f}")
        print(f"the median and ASHA runs drew the same configurations: {same_configs}")
        for pruner, (result, seconds) in runs.items():
            epochs = int(result["epochs_run"].sum())
            best = result.loc[result["best_val_accuracy"].idxmax()]
            cfg = {c[3:]: best[c] for c in hp_cols}
            same = ({k: str(v) for k, v in cfg.items()} ==
                    {k: str(v) for k, v in kt_best.hyperparameters.values.items()})
            cols = ["trial_id", *hp_cols, "best_val_accuracy", "epochs_run", "prune_reason"]
            print(f"\nRandomSearchTuner(pruner={pruner!r}) table (best first):")
            print(result.sort_values("best_val_accuracy", ascending=False)[cols].to_string(
                index=False))
            print(f"RESULT {pruner}: epochs {epochs} ({epochs / kt_epochs:.3f} of unpruned), "
                  f"wall time {seconds:.1f}s ({seconds / kt_time:.3f}), best val_accuracy "
                  f"{best['best_val_accuracy']:.4f} (unpruned {kt_best_acc:.4f}, difference "
                  f"{kt_best_acc - best['best_val_accuracy']:+.4f}; target within 0.01), "
                  f"same best configuration: {same}, "
                  f"{(result['prune_reason'] != '').sum()} trials pruned")
        if not args.skip_hyperband:
            plain = run_hyperband(kt.Hyperband, args, root, data, "hyperband")
            pruned = run_hyperband(with_pruning(kt.Hyperband), args, root, data,
                                   "hyperband_pruned")
            for name, result in (("Hyperband", plain), ("Hyperband + PruningMixin", pruned)):
                print(f"RESULT {name}: {result['trials']} trials, {result['epochs']} epochs, "
                      f"{result['seconds']:.1f}s, best val_accuracy {result['best']:.4f}")
            print(f"RESULT Hyperband pruned / plain: epochs "
                  f"{pruned['epochs'] / max(plain['epochs'], 1):.3f}, wall time "
                  f"{pruned['seconds'] / plain['seconds']:.3f}, best val_accuracy difference "
                  f"{plain['best'] - pruned['best']:+.4f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
