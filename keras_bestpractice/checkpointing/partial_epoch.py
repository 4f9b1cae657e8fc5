"""`PartialEpoch`: an epoch resumed from a mid-epoch checkpoint, made to look whole.

A step-triggered checkpoint resumes inside an epoch: the feeder starts at batch
k, so the epoch yields fewer batches than the dataset's cardinality says.
Three things then need mending, and this object does each at its moment:

- Keras warns that the input "ran out of data": the warning is silenced for that
  epoch only;
- the epoch's running metrics start from zero: the accumulators saved with the
  checkpoint are added after the first resumed step (compile metrics exist only
  then), so the epoch's logs match an uninterrupted epoch;
- Keras calls its compiled step once more on the exhausted iterator; that call
  raises, but its data-independent stateful ops (the optimizer's step counter,
  Dropout's seed generators, a counter a layer updates in `call()`) may already
  have run: every non-trainable variable is put back to its value after the last
  real batch (before validation, whose own updates stay).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from keras_bestpractice.checkpointing.state import add_metric_totals, non_trainable_state

RAN_OUT = "Your input ran out of data"


class PartialEpoch:
    """The resumed epoch `epoch`, starting at batch `start_batch` (0-based).

    Its methods take the model from the callback at each call (`callback.model`):
    on JAX, reading it re-attaches the training state the trainer keeps outside
    the variables during `fit`.

    Args:
        epoch: Keras's 0-based epoch index.
        start_batch: the first batch the resumed iteration yields.
        metrics: `(names, arrays)` of the metric accumulators saved mid-epoch.
    """

    def __init__(self, epoch: int, start_batch: int,
                 metrics: tuple[list[str], list[np.ndarray]] | None):
        self.epoch = int(epoch)
        self.start_batch = int(start_batch)
        self._metrics = metrics
        self._warnings: Any = None
        self._step_state: tuple[int, list[np.ndarray]] | None = None
        self.active = False

    def begin(self) -> None:
        """At the start of the resumed epoch: silence Keras's "ran out of data"."""
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message=RAN_OUT)
        self.active = True

    def after_batch(self, model: Any, first: bool) -> None:
        """After each training batch of the resumed epoch."""
        if first and self._metrics:
            add_metric_totals(model, *self._metrics)
            self._metrics = None
        self._step_state = (
            int(model.optimizer.iterations.numpy()),
            [v.numpy().copy() for v in non_trainable_state(model)],
        )

    def undo_exhausted_step(self, model: Any) -> int | None:
        """Put the non-trainable variables back to their values after the last real
        batch; returns the optimizer's step count then (`None`: nothing to undo)."""
        self.active = False
        if self._step_state is None:
            return None
        iterations, values = self._step_state
        model.optimizer.iterations.assign(iterations)
        for variable, value in zip(non_trainable_state(model), values, strict=True):
            variable.assign(value)
        self._step_state = None
        return iterations

    def end(self) -> None:
        """Stop silencing the warning (idempotent)."""
        if self._warnings is not None:
            self._warnings.__exit__(None, None, None)
            self._warnings = None
