"""
Title: keras-bestpractice quickstart
Description: The whole best-practice workflow on scikit-learn's 8x8 digits (10 classes,
shipped inside scikit-learn, no download): stratified split and feeder, a short pruned
random search logged to TensorBoard's HParams dashboard, then the final training with
DivergenceGuard, TrainingDiagnostics and PeriodicCheckpoint. Runs offline on a laptop
CPU in about a minute.

    python examples/quickstart.py [--out quickstart_outputs] [--resume]

Each run starts over; `--resume` instead continues an interrupted final training from
its checkpoints (PeriodicCheckpoint resumes by itself when its directory has one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Keras says this for every tf.data input (its `shuffle` argument defaults to True);
# stratified_dataset shuffles by itself.
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")

import keras  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.callbacks import (  # noqa: E402
    DivergenceGuard,
    PeriodicCheckpoint,
    TrainingDiagnostics,
)
from keras_bestpractice.checkpointing import load_weights  # noqa: E402
from keras_bestpractice.data import stratified_dataset, stratified_split  # noqa: E402
from keras_bestpractice.hparams import HParamsLogger  # noqa: E402
from keras_bestpractice.tuning import (  # noqa: E402
    RandomSearchTuner,
    compile_from_hp,
    dropout_layer,
)


def build_cnn(hp) -> keras.Model:
    """A small CNN; `dropout_layer(hp)` is the one line the search space needs."""
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        dropout_layer(hp),
        keras.layers.Dense(10, activation="softmax"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="quickstart_outputs")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--resume", action="store_true",
                        help="continue the final training from the last run's checkpoints")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.resume and (out / "checkpoints").exists():
        shutil.rmtree(out / "checkpoints")  # a fresh run, not a resume of the last one
    t0 = time.perf_counter()
    keras.utils.set_random_seed(0)

    # 1. Data: stratified train/validation/test splits (every class keeps its share).
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)  # normalise to [0, 1]
    (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = stratified_split(
        x, y, val_size=0.15, test_size=0.15, seed=0)
    print(f"split: train {len(y_tr)}, validation {len(y_val)}, test {len(y_te)}")

    # 2. A short pruned random search over the handbooks' space, fed by exactly
    #    stratified batches; every trial goes to TensorBoard's HParams dashboard.
    tuner = RandomSearchTuner(build_cnn, max_trials=args.trials, epochs_per_trial=4, seed=0,
                              logdir=out / "tensorboard" / "search",
                              directory=out, project_name="tuning", overwrite=True)
    tuner.search(lambda batch_size: stratified_dataset(x_tr, y_tr, batch_size, seed=0),
                 validation_data=(x_val, y_val), verbose=0)
    table = tuner.results_frame().sort_values("best_val_accuracy", ascending=False)
    columns = ["trial_id", "hp_learning_rate", "hp_dropout", "hp_batch_size", "hp_optimizer",
               "best_val_accuracy", "best_val_f1_macro", "epochs_run", "prune_reason"]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print("\nsearch results (best first):")
        print(table[columns].to_string(index=False))
    hp = tuner.get_best_hyperparameters()[0]
    print(f"\nbest hyperparameters: {hp.values}")

    # 3. Final training with the best values and the three callbacks.
    model = compile_from_hp(build_cnn(hp), hp)
    diagnostics = TrainingDiagnostics(probe_data=(x_val[:64], y_val[:64]),
                                      report_path=out / "report.html")
    callbacks = [
        DivergenceGuard(lr_backoff=0.1, verbose=1),  # prints each roll-back
        diagnostics,
        HParamsLogger(out / "tensorboard" / "final", hp, trial_id="final"),
        keras.callbacks.CSVLogger(str(out / "training_log.csv")),
        # Every epoch is a candidate for the best (keep_best=1 keeps it, keep_last=2 the
        # newest two): saving every 2nd epoch could never keep a best odd epoch.
        PeriodicCheckpoint(out / "checkpoints", every_n_epochs=1, keep_last=2, keep_best=1,
                           monitor="val_accuracy"),
    ]
    train = stratified_dataset(x_tr, y_tr, batch_size=int(hp["batch_size"]), seed=0)
    model.fit(train, validation_data=(x_val, y_val), epochs=args.epochs, verbose=2,
              callbacks=callbacks)
    diagnostics.report.plot(out / "curves.png")
    last = model.evaluate(x_te, y_te, verbose=0, return_dict=True)
    # Keep the best model, not the last one: the checkpoint with the best val_accuracy.
    best = PeriodicCheckpoint.best(out / "checkpoints")
    load_weights(model, best)
    results = model.evaluate(x_te, y_te, verbose=0, return_dict=True)
    print(f"\ntest accuracy {results['accuracy']:.4f}, test macro F1 "
          f"{results['f1_macro']:.4f} (best checkpoint {best.name}; last epoch: "
          f"{last['accuracy']:.4f})")

    print(f"\nDone in {time.perf_counter() - t0:.0f}s. Outputs:")
    print(f"  diagnostics report  {out / 'report.html'}   (open in a browser; "
          f"plot: {out / 'curves.png'})")
    print(f"  results table       {out / 'tuning' / 'results.csv'}")
    print(f"  checkpoints         {out / 'checkpoints'}   "
          f"(best: {best})")
    print(f"  training log        {out / 'training_log.csv'}")
    print(f"  TensorBoard         tensorboard --logdir {out / 'tensorboard'}   "
          "(HPARAMS tab)")


if __name__ == "__main__":
    main()
