"""Scaling an optimizer's learning rate through its public `learning_rate` setter.

Used by `DivergenceGuard` (back-off) and the learning-rate finder. A float
learning rate lives in a variable and is scaled in place. A
`LearningRateSchedule` is wrapped in `ScaledSchedule` (its output times a
factor), assigned through `optimizer.learning_rate = ...`, and the model's train
function is rebuilt so the compiled step sees the new schedule.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="keras_bestpractice")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule whose output is multiplied by `scale`.

    Args:
        schedule: the wrapped `LearningRateSchedule`.
        scale: the factor applied to its output.
    """

    def __init__(self, schedule: keras.optimizers.schedules.LearningRateSchedule,
                 scale: float):
        self.schedule = schedule
        self.scale = float(scale)

    def __call__(self, step):
        return keras.ops.multiply(self.schedule(step), self.scale)

    def get_config(self) -> dict[str, Any]:
        return {"schedule": keras.saving.serialize_keras_object(self.schedule),
                "scale": self.scale}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScaledSchedule:
        schedule = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(schedule, config["scale"])


def base_optimizer(optimizer: Any) -> Any:
    """The optimizer that owns the learning rate (inside a `LossScaleOptimizer`)."""
    return getattr(optimizer, "inner_optimizer", None) or optimizer


def _lr_config(optimizer: Any, who: str) -> Any:
    optimizer = base_optimizer(optimizer)
    try:
        return optimizer.get_config()["learning_rate"]
    except Exception as exc:  # noqa: BLE001 - e.g. a lambda learning rate cannot serialise
        raise TypeError(
            f"{who} cannot scale this optimizer's learning rate ({exc}); give the optimizer a "
            "float or a serialisable keras.optimizers.schedules.LearningRateSchedule."
        ) from exc


def is_schedule(optimizer: Any, who: str = "keras_bestpractice") -> bool:
    """True when the optimizer's learning rate is a `LearningRateSchedule`."""
    config = _lr_config(optimizer, who)
    if isinstance(config, (int, float)):
        return False
    if isinstance(config, dict):
        schedule_of(optimizer, who)  # raises for a function or lambda learning rate
        return True
    raise TypeError(f"{who} cannot scale a learning rate of kind {type(config).__name__}.")


def check_scalable(optimizer: Any, who: str) -> None:
    """Raise a clear `TypeError` if the optimizer's learning rate cannot be scaled."""
    if is_schedule(optimizer, who):
        schedule_of(optimizer, who)


def schedule_of(optimizer: Any, who: str) -> keras.optimizers.schedules.LearningRateSchedule:
    config = _lr_config(optimizer, who)
    if config.get("class_name") in ("__lambda__", "function"):
        raise TypeError(
            f"{who} cannot scale a learning rate given as a function or lambda; give the "
            "optimizer a float or a keras.optimizers.schedules.LearningRateSchedule."
        )
    try:
        schedule = keras.optimizers.schedules.deserialize(config)
    except Exception as exc:  # noqa: BLE001 - a custom schedule that is not registered
        raise TypeError(
            f"{who} cannot rebuild the learning-rate schedule {config.get('class_name')!r} "
            "to scale it: register it with keras.saving.register_keras_serializable."
        ) from exc
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        raise TypeError(f"{who} cannot scale a learning rate of kind {type(schedule).__name__}.")
    return schedule


def current_lr(optimizer: Any) -> float:
    """The learning rate the next step will use, as a float."""
    lr = base_optimizer(optimizer).learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else keras.ops.convert_to_numpy(lr))


def scale_learning_rate(model: Any, factor: float) -> None:
    """Multiply the learning rate of `model.optimizer` (or of the optimizer inside its
    `LossScaleOptimizer`) by `factor`."""
    optimizer = base_optimizer(model.optimizer)
    if is_schedule(optimizer, "scale_learning_rate"):
        schedule = schedule_of(optimizer, "scale_learning_rate")
        if isinstance(schedule, ScaledSchedule):
            new = ScaledSchedule(schedule.schedule, schedule.scale * factor)
        else:
            new = ScaledSchedule(schedule, factor)
        optimizer.learning_rate = new
        # The compiled step captured the old schedule object: rebuild it.
        model.make_train_function(force=True)
        return
    optimizer.learning_rate = current_lr(optimizer) * factor
