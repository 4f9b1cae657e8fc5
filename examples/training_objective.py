"""
Title: Set a training objective, plan the epochs, stop when it is met
Description: The handbook's training cycle on scikit-learn's digits. An 8-epoch
pretraining run gives plan_epochs the curve to project: how many epochs a 95%
validation accuracy needs. The real run gets that budget and TrainingObjective,
which stops at the first epoch that meets the objective (checkpointed by
PeriodicCheckpoint). A second model, too small for the objective, is terminated
as soon as its curve says 95% is out of reach, instead of using its whole budget.
Checkpoints go to objective_outputs/.

    python examples/training_objective.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.callbacks import (  # noqa: E402
    DivergenceGuard,
    PeriodicCheckpoint,
    TrainingObjective,
)
from keras_bestpractice.data import stratified_split  # noqa: E402
from keras_bestpractice.tuning import plan_epochs  # noqa: E402

OUT = Path("objective_outputs")
TARGET = {"val_accuracy": 0.95}


def build(width: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(width, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main() -> None:
    x, y = load_digits(return_X_y=True)
    (x_tr, y_tr), (x_val, y_val), _ = stratified_split((x / 16.0).astype("float32"), y,
                                                       val_size=0.2, test_size=0, seed=0)

    # 1. Pretraining: a short run whose curve plan_epochs projects.
    short = build(64).fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=8, verbose=0)
    plan = plan_epochs(short, TARGET, max_epochs=60)
    print(f"Plan: {plan}")
    # A confident plan sets the budget (with the interval's upper end); otherwise the
    # whole budget, and TrainingObjective decides on the way.
    sure = plan.probability >= 0.9 and plan.interval[1] < 60
    budget = int(plan.interval[1]) + 2 if sure else 60

    # 2. The real run: the objective, the budget, a checkpoint of the stopping epoch.
    objective = TrainingObjective(TARGET, min_progress=0.001)
    history = build(64).fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=budget,
                            verbose=0, callbacks=[DivergenceGuard(), objective,
                                                  PeriodicCheckpoint(OUT / "wide",
                                                                     every_n_epochs=10)])
    print(f"Wide model: {objective.stop_reason} after {len(history.history['loss'])} of "
          f"{budget} epochs, val_accuracy {history.history['val_accuracy'][-1]:.3f}; "
          f"checkpoints: {sorted(p.name for p in (OUT / 'wide').glob('ckpt-*'))}")

    # 3. A model too small for the objective: terminated early, budget saved.
    objective = TrainingObjective(TARGET)
    history = build(3).fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=60, verbose=0,
                           callbacks=[objective])
    print(f"Narrow model: {objective.stop_reason} after {len(history.history['loss'])} of 60 "
          f"epochs (best val_accuracy {max(history.history['val_accuracy']):.3f}): "
          f"{objective.events[-1].get('message', '')}")


if __name__ == "__main__":
    main()
