"""Loading a committed checkpoint's weights into a model (for inference)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice.checkpointing.state import restore_weights
from keras_bestpractice.checkpointing.store import MANIFEST, Checkpoint, CheckpointStore


def open_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The checkpoint at `path`, or the newest good one under a parent directory.

    Raises:
        TypeError: if `path` is not a path.
        FileNotFoundError: if there is no committed checkpoint there.
        ValueError: if `path` is a file, or a named checkpoint fails its checks.
    """
    path = v.check_dir_path("path", path, must_exist=True)
    if (path / MANIFEST).is_file():
        ckpt, problem = Checkpoint.open(path)
        if problem is not None:
            raise ValueError(f"`path`={str(path)!r} is a damaged checkpoint: {problem}.")
        return ckpt
    ckpt = CheckpointStore(path).latest()
    if ckpt is None:
        raise FileNotFoundError(f"`path`={str(path)!r} holds no committed checkpoint that "
                                "passes its checks.")
    return ckpt


def load_weights(model: Any, path: str | os.PathLike) -> Path:
    """Load a checkpoint's weights into `model`; returns the checkpoint's path.

    `path` is one checkpoint directory, or the directory given to
    `PeriodicCheckpoint` (then its newest checkpoint that passes its checks is
    used). The model must have the same architecture and be built.

    Raises:
        TypeError: if `model` is not a Keras model or `path` not a path.
        FileNotFoundError: if no committed checkpoint is found.
        ValueError: if `path` is a file, the checkpoint is damaged, or it
            belongs to another model.

    Example:

    ```python
    model = build_model()
    load_weights(model, "checkpoints")          # newest good checkpoint
    model.evaluate(x_test, y_test)
    ```
    """
    if not hasattr(model, "weights") or not hasattr(model, "get_weights"):
        raise TypeError(f"`model` must be a built Keras model, got {type(model).__name__}.")
    ckpt = open_checkpoint(path)
    restore_weights(model, ckpt)
    return ckpt.path
