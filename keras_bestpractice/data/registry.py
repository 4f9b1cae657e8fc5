"""The process-wide registry of stratified feeders and their epoch variables.

Every `stratified_dataset` owns two `tf.Variable`s: the epoch its next iteration
will produce, and a one-shot batch offset for that iteration (mid-epoch resume).
An iteration reads the epoch and advances it by one, as `reshuffle_each_iteration`
would; `FeederEpochSync` (and `PeriodicCheckpoint`) instead set every registered
feeder to Keras's epoch in `on_epoch_begin`, so a resumed run in a new process, or
a run under `MirroredStrategy` (which iterates the dataset once more to build the
model), replays exactly the order of that epoch.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

_LOCK = threading.Lock()
_FEEDERS: list[weakref.ref] = []


@dataclass(eq=False)
class FeederState:
    """The resumable state of one stratified feeder.

    Attributes:
        key: a fingerprint of the feeder's configuration (sizes, classes, seed,
            batch size, balance), equal for the same dataset built again in a new
            process.
        num_batches: batches per epoch.
        epoch: `tf.Variable` (int64): the epoch the next iteration produces.
        start: `tf.Variable` (int64): the batch the next iteration starts at.
        iterations: `tf.Variable` (int64): iterations begun so far.
    """

    key: str
    num_batches: int
    epoch: Any
    start: Any
    iterations: Any
    info: dict[str, Any] = field(default_factory=dict)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Make the next iteration produce `epoch`, from batch `start_batch` on."""
        if not 0 <= start_batch <= self.num_batches:
            raise ValueError(f"`start_batch` must be in [0, {self.num_batches}], got "
                             f"{start_batch}.")
        self.epoch.assign(int(epoch))
        self.start.assign(int(start_batch))

    def state(self) -> dict[str, int]:
        return {"epoch": int(self.epoch.numpy()), "start": int(self.start.numpy()),
                "iterations": int(self.iterations.numpy())}


def register(state: FeederState) -> None:
    with _LOCK:
        _FEEDERS.append(weakref.ref(state))


def feeders() -> list[FeederState]:
    """The live feeders of this process, oldest first."""
    with _LOCK:
        alive = [ref() for ref in _FEEDERS]
        _FEEDERS[:] = [ref for ref, obj in zip(_FEEDERS, alive, strict=True) if obj is not None]
        return [obj for obj in alive if obj is not None]


def set_epoch(epoch: int) -> int:
    """Set every live feeder to produce `epoch` next; returns how many were set."""
    live = feeders()
    for state in live:
        state.epoch.assign(int(epoch))
    return len(live)


def feeder_of(dataset: Any) -> FeederState | None:
    """The `FeederState` behind a dataset made by `stratified_dataset`, or `None`.

    Follows `_input_dataset` links, so `stratified_dataset(...).prefetch(1)` works too.
    """
    seen = 0
    while dataset is not None and seen < 64:
        state = getattr(dataset, "_keras_bestpractice_feeder", None)
        if state is not None:
            return state
        dataset = getattr(dataset, "_input_dataset", None)
        seen += 1
    return None
