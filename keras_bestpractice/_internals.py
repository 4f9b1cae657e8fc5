"""Every reliance on another library's private API, named in one place.

Where Keras or KerasTuner has a public API for what we need, we use it
(`keras_tuner.engine.trial.Trial`, `keras_tuner.engine.tuner.maybe_distribute`
are exported names). What remains has no public equivalent; each use goes
through this module, and `tests/test_internals.py` checks every one against the
installed libraries, so a release that changes one fails loudly there instead
of silently here.

- `set_initial_epoch`: Keras's `fit` reads `model._initial_epoch` (set by a
  callback in `on_train_begin`) as the epoch to start from; Keras's own
  `BackupAndRestore` resumes this way. There is no public way for a callback to
  move a running `fit`'s first epoch.
- `values_hash`: KerasTuner's `Oracle._compute_values_hash`, the key under which
  an oracle remembers a tried set of hyperparameter values (`tried_so_far`,
  `id_to_hash` in `oracle.json`); rebuilding a damaged `oracle.json` must use
  the oracle's own key.
- `TUNER_HOOKS`: the protected `keras_tuner.Tuner` methods `PruningMixin`
  overrides or calls (KerasTuner's documented way to extend a tuner is to
  subclass it; these are the seams its own tuners and AutoKeras use). If one is
  renamed, the override would silently stop being called.
"""

from __future__ import annotations

from typing import Any

TUNER_HOOKS = (
    "_populate_initial_space",
    "_build_hypermodel",
    "_build_and_fit_model",
    "_configure_tensorboard_dir",
    "_try_build",
    "_get_checkpoint_fname",
    "_get_build_config_fname",
)


def set_initial_epoch(model: Any, epoch: int | None) -> None:
    """Make the running `fit` of `model` start at `epoch` (call in `on_train_begin`);
    `None` clears it (call in `on_train_end`, as `BackupAndRestore` does)."""
    model._initial_epoch = None if epoch is None else int(epoch)


def values_hash(oracle: Any, values: dict[str, Any]) -> str:
    """The key under which `oracle` records a tried set of hyperparameter values."""
    return oracle._compute_values_hash(values)
