"""`CheckpointInfo`: what a checkpoint is (where in training, what it scored), read
without loading any array."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keras_bestpractice.checkpointing.load import open_checkpoint


@dataclass(frozen=True)
class CheckpointInfo:
    """Where in training a checkpoint was saved, read from its verified manifest.

    Attributes:
        path: the checkpoint directory.
        epoch: Keras's 0-based index of the epoch it was saved in (`History.epoch`).
        epoch_number: that epoch as Keras prints it (`epoch + 1`).
        batch: batches done in that epoch for a mid-epoch checkpoint, `None` for
            one saved at the epoch's end.
        step: the optimizer's step count (`optimizer.iterations`) at the save.
        epoch_boundary: saved at the end of an epoch.
        resume_epoch: the 0-based epoch a resumed `fit` continues at.
        resume_batch: the batch of that epoch it continues at.
        monitor: the metric retention ranked by; `monitor_value` its value
            (`None` when it was not logged).
        logs: the logs of the save (epoch logs at an epoch's end, the running
            batch logs mid-epoch).

    Example:

    ```python
    info = checkpoint_info(PeriodicCheckpoint.best("checkpoints"))
    print(info.epoch_number, info.step, info.monitor_value)
    ```
    """

    path: Path
    epoch: int
    batch: int | None
    step: int
    epoch_boundary: bool
    resume_epoch: int
    resume_batch: int
    monitor: str
    monitor_value: float | None
    logs: dict[str, Any] = field(default_factory=dict)

    @property
    def epoch_number(self) -> int:
        return self.epoch + 1


def checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """The `CheckpointInfo` of the checkpoint at `path`, or of the newest good one
    under the directory given to `PeriodicCheckpoint`. The manifest is verified
    (its own hash and schema); no array is read.

    Raises:
        TypeError: if `path` is not a path.
        FileNotFoundError: if there is no committed checkpoint there.
        ValueError: if `path` is a file, or a named checkpoint fails its checks.
    """
    ckpt = open_checkpoint(path)
    manifest = ckpt.manifest
    batch = manifest.get("batch")
    return CheckpointInfo(
        path=ckpt.path,
        epoch=ckpt.epoch,
        batch=None if ckpt.epoch_boundary or batch is None else int(batch) + 1,
        step=ckpt.step,
        epoch_boundary=ckpt.epoch_boundary,
        resume_epoch=int(manifest["resume_at"]["epoch"]),
        resume_batch=int(manifest["resume_at"]["batch"]),
        monitor=str(manifest["monitor"]),
        monitor_value=ckpt.value,
        logs=dict(manifest.get("logs") or {}),
    )
