"""Loading a committed checkpoint's weights into a model (for inference)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from keras_bestpractice.checkpointing.state import restore_weights
from keras_bestpractice.checkpointing.store import MANIFEST, Checkpoint, CheckpointStore


def open_checkpoint(path_or_directory: str | os.PathLike) -> Checkpoint:
    """The checkpoint at `path`, or the newest good one under a parent directory.

    Raises:
        FileNotFoundError: if there is no committed checkpoint there.
        ValueError: if a named checkpoint fails its hash check.
    """
    import json

    path = Path(path_or_directory)
    if (path / MANIFEST).is_file():
        ckpt = Checkpoint(path, json.loads((path / MANIFEST).read_text()))
        problem = ckpt.verify()
        if problem is not None:
            raise ValueError(f"checkpoint {str(path)!r} is damaged: {problem}.")
        return ckpt
    if not path.is_dir():
        raise FileNotFoundError(f"{str(path)!r} is neither a checkpoint nor a directory of them.")
    ckpt = CheckpointStore(path).latest()
    if ckpt is None:
        raise FileNotFoundError(f"no committed checkpoint that passes its hash check under "
                                f"{str(path)!r}.")
    return ckpt


def load_weights(model: Any, path_or_directory: str | os.PathLike) -> Path:
    """Load a checkpoint's weights into `model`; returns the checkpoint's path.

    `path_or_directory` is one checkpoint directory, or the directory given to
    `PeriodicCheckpoint` (then its newest checkpoint that passes the hash check
    is used). The model must have the same architecture and be built.

    Raises:
        FileNotFoundError: if no committed checkpoint is found.
        ValueError: if the checkpoint is damaged or belongs to another model.

    Example:

    ```python
    model = build_model()
    load_weights(model, "checkpoints")          # newest good checkpoint
    model.evaluate(x_test, y_test)
    ```
    """
    ckpt = open_checkpoint(path_or_directory)
    restore_weights(model, ckpt)
    return ckpt.path
