"""In-memory snapshots of a model's weights and optimizer state (for roll-back)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def ensure_optimizer_built(model: Any) -> bool:
    """Build the optimizer's variables now if Keras has not yet (it would at step 1).

    Returns False when the model itself is not built yet (a subclassed model before
    its first call): there is nothing to snapshot then.
    """
    if not getattr(model, "built", False):
        return False
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        strategy = getattr(model, "distribute_strategy", None)
        if strategy is not None:
            with strategy.scope():
                optimizer.build(model.trainable_variables)
        else:
            optimizer.build(model.trainable_variables)
    return True


def assign(variable: Any, value: Any) -> None:
    """`variable.assign(value)`, on the backend variable when there is one.

    Assigning a Keras variable in eager mode converts and reads the value back; the
    TensorFlow variable under it (`Variable.value`) takes the array without reading,
    a few times faster, which counts for roll-backs and restores of many variables.
    """
    raw = getattr(variable, "value", None)
    if type(raw).__module__.startswith("tensorflow") and hasattr(raw, "assign"):
        raw.assign(value, read_value=False)
    else:
        variable.assign(value)


def _lr_variable(optimizer: Any) -> Any:
    """The optimizer's learning-rate variable (float learning rate), or None."""
    lr = getattr(optimizer, "learning_rate", None)
    return lr if hasattr(lr, "assign") else None


@dataclass
class Snapshot:
    """Host copies of `model.weights` and the optimizer variables."""

    weights: list[np.ndarray]
    optimizer: list[np.ndarray] | None
    epoch: int
    batch: int | None
    value: float | None = None  # the monitored value when it was taken
    where: str = "end"  # "start" of epoch, "end" of epoch, or after "batch"

    def describe(self) -> str:
        """Where in training the copy was taken, 1-based as Keras prints epochs."""
        if self.where == "start":
            return f"the start of epoch {self.epoch + 1}"
        if self.where == "batch" and self.batch is not None:
            return f"epoch {self.epoch + 1}, batch {self.batch}"
        return f"the end of epoch {self.epoch + 1}"

    @classmethod
    def take(cls, model: Any, epoch: int, batch: int | None,
             value: float | None = None, where: str = "end") -> Snapshot | None:
        """Copy the state to host memory; `None` if any value is not finite."""
        return cls.capture(model, epoch, batch, value, where)[0]

    @classmethod
    def capture(cls, model: Any, epoch: int, batch: int | None, value: float | None = None,
                where: str = "end") -> tuple[Snapshot | None, str | None]:
        """`(snapshot, None)`, or `(None, name)` of the first variable that is not finite
        (a weight, a BatchNormalization statistic, an optimizer slot), or `(None, None)`
        for a model that is not built yet."""
        if not ensure_optimizer_built(model):
            return None, None
        variables = list(model.weights)
        weights = [np.array(v.numpy(), copy=True) for v in variables]
        optimizer = getattr(model, "optimizer", None)
        opt_variables = list(optimizer.variables) if optimizer is not None else []
        opt_values = [np.array(v.numpy(), copy=True) for v in opt_variables]
        for variable, w in zip(variables + opt_variables, weights + opt_values, strict=True):
            if w.dtype.kind == "f" and not np.isfinite(w).all():
                return None, str(getattr(variable, "path", None) or variable.name)
        return cls(weights, opt_values if optimizer is not None else None, epoch, batch,
                   value, where), None

    def restore(self, model: Any) -> None:
        """Assign the copies back (the learning-rate variable is left as it is)."""
        for variable, value in zip(model.weights, self.weights, strict=True):
            assign(variable, value)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or self.optimizer is None:
            return
        lr_var = _lr_variable(optimizer)
        variables = list(optimizer.variables)
        if len(variables) != len(self.optimizer):
            return  # the optimizer was rebuilt since; its fresh state is kept
        for variable, value in zip(variables, self.optimizer, strict=True):
            if lr_var is not None and variable is lr_var:
                continue
            assign(variable, value)

    @property
    def nbytes(self) -> int:
        total = sum(w.nbytes for w in self.weights)
        if self.optimizer:
            total += sum(w.nbytes for w in self.optimizer)
        return total
