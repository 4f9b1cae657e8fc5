"""`PeriodicCheckpoint`: every N epochs / steps / minutes, keep last k and best, exact resume."""

from __future__ import annotations

import concurrent.futures
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import CopyableCallback, print_msg, stateful_callbacks
from keras_bestpractice._core.compare import resolve_mode
from keras_bestpractice._warnings import warn

_RAN_OUT = "Your input ran out of data"


class PeriodicCheckpoint(CopyableCallback):
    """Crash-safe checkpoints on a schedule, with retention and exact resume.

    A save happens when any trigger fires: every `every_n_epochs` epochs (at
    epoch end), every `every_n_steps` training steps, every `every_n_minutes`
    minutes, and on SIGTERM (preemption: it saves, then stops training cleanly).
    Each checkpoint is a directory committed atomically (written under a
    temporary name, fsynced, renamed) with a manifest (epoch, step, monitored
    values, sha256 of every file, package versions); `<directory>/latest` points
    to the newest. Retention keeps the `keep_last` newest, the `keep_best` best
    by `monitor`, and the newest epoch-boundary checkpoint; older ones are deleted
    only after the new one is committed. Best score and kept set are read back
    from the manifests, so they survive restarts.

    Resume (`resume=True`): running the same script again after a crash
    restores the newest checkpoint that passes its hash check (a truncated or
    bit-flipped one is skipped with a warning): weights, optimizer variables
    (with `iterations`, so schedules continue), every `SeedGenerator` state of
    the model's layers (Dropout), the NumPy, Python and TensorFlow global RNG
    states, the state of our other callbacks in the same `fit`
    (`DivergenceGuard`), and the epoch of every `stratified_dataset`; training
    continues with the next unfinished epoch. A step-triggered checkpoint
    resumes mid-epoch when the input is a `stratified_dataset` (which can start
    at batch k, with the epoch's running metrics restored too); for other inputs
    the newest epoch-boundary checkpoint is used, with a warning.

    Exactness: on CPU with `keras.utils.set_random_seed` and
    `tf.config.experimental.enable_op_determinism()`, a run killed at any moment
    and resumed ends with weights bitwise equal to an uninterrupted run, for a
    model fed NumPy arrays with `shuffle=False` or a `stratified_dataset`. Not
    exact: NumPy arrays with `shuffle=True` (Keras's own shuffle cannot be
    resumed), and random ops drawing from Keras's global `SeedGenerator`. Put
    this callback last so that it saves what the other callbacks did.

    Args:
        directory: where checkpoints go (created if needed).
        every_n_epochs: save every n epochs; `None` for none. Defaults to `1`.
        every_n_steps: save every n training steps. Defaults to `None`.
        every_n_minutes: save every n minutes of training. Defaults to `None`.
        keep_last: newest checkpoints to keep. Defaults to `3`.
        keep_best: best checkpoints (by `monitor`) to keep. Defaults to `1`.
        monitor: quantity for `keep_best`. Defaults to `"val_loss"`.
        mode: `"auto"`, `"min"` or `"max"`. Defaults to `"auto"`.
        resume: restore the newest good checkpoint at the start of `fit`.
            Defaults to `True`.
        async_write: write in a background thread; `fit` only waits for the
            copy to host memory. A failed write raises on the next step.
            Defaults to `False`.
        verbose: `1` prints saves and resumes. Defaults to `0`.
        clock: a `time.monotonic`-like function (tests use a fake clock).
            Defaults to `time.monotonic`.

    Example:

    ```python
    ckpt = PeriodicCheckpoint("checkpoints", every_n_epochs=2, keep_last=3)
    model.fit(x, y, epochs=30, shuffle=False, callbacks=[ckpt])   # rerun after a crash
    best = PeriodicCheckpoint.best("checkpoints")
    ```

    Raises:
        ValueError: for counts < 1, no trigger at all, or a bad `mode`.
        TypeError: for arguments of the wrong type.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        every_n_epochs: int | None = 1,
        every_n_steps: int | None = None,
        every_n_minutes: float | None = None,
        keep_last: int = 3,
        keep_best: int = 1,
        monitor: str = "val_loss",
        mode: str = "auto",
        resume: bool = True,
        async_write: bool = False,
        verbose: int = 0,
        clock: Callable[[], float] | None = None,
    ):
        super().__init__()
        self.directory = _check_directory(directory)
        self.every_n_epochs = v.check_int("every_n_epochs", every_n_epochs, minimum=1,
                                          allow_none=True)
        self.every_n_steps = v.check_int("every_n_steps", every_n_steps, minimum=1,
                                         allow_none=True)
        self.every_n_minutes = v.check_float("every_n_minutes", every_n_minutes, low=0.0,
                                             low_inclusive=False, allow_none=True)
        if self.every_n_epochs is None and self.every_n_steps is None and \
                self.every_n_minutes is None:
            raise ValueError("PeriodicCheckpoint needs a trigger: `every_n_epochs`, "
                             "`every_n_steps` or `every_n_minutes` (all are None).")
        self.keep_last = v.check_int("keep_last", keep_last, minimum=1)
        self.keep_best = v.check_int("keep_best", keep_best, minimum=0)
        self.monitor = v.check_str("monitor", monitor)
        self.mode = v.check_mode(mode)
        self._resolved_mode = resolve_mode("PeriodicCheckpoint", self.monitor, self.mode)
        self.resume = v.check_bool("resume", resume)
        self.async_write = v.check_bool("async_write", async_write)
        self.verbose = v.check_int("verbose", verbose, minimum=0)
        self.clock = v.check_callable("clock", clock, allow_none=True) or time.monotonic
        self._executor = None
        self._future = None
        self._reset()

    _NOT_COPIED = ("_model", "_executor", "_future", "_previous_handler", "_warning_context")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def latest(directory: str | os.PathLike) -> Path | None:
        """The newest committed checkpoint under `directory` that passes its hash check."""
        from keras_bestpractice.checkpointing.store import CheckpointStore

        ckpt = CheckpointStore(_check_directory(directory)).latest()
        return None if ckpt is None else ckpt.path

    @staticmethod
    def best(directory: str | os.PathLike, mode: str = "auto",
             monitor: str | None = None) -> Path | None:
        """The best committed checkpoint (by the monitor it was saved with), or `None`."""
        from keras_bestpractice.checkpointing.store import CheckpointStore

        v.check_mode(mode)
        v.check_str("monitor", monitor, allow_none=True)
        store = CheckpointStore(_check_directory(directory))
        committed = store.committed()
        if not committed:
            return None
        name = monitor or committed[-1].manifest.get("monitor", "val_loss")
        saved_mode = committed[-1].manifest.get("mode")
        resolved = saved_mode if mode == "auto" and saved_mode else resolve_mode(
            "PeriodicCheckpoint.best", name, mode)
        ckpt = store.best(resolved)
        return None if ckpt is None else ckpt.path

    def _reset(self) -> None:
        self.saved: list[Path] = []
        self.resumed_from: Path | None = None
        self._epoch = 0
        self._batch = -1
        self._last_save_time = None
        self._sigterm = False
        self._previous_handler = None
        self._train_feeders: list[str] = []
        self._feeder_iterations: dict[int, int] = {}
        self._partial_epoch: int | None = None
        self._resume_metrics = None
        self._warning_context = None
        self._pending_epoch_save = False
        self._in_partial = False
        self._step_state = None
        self._batch_offset = 0
        self._partial_start = 0

    # ---------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        from keras_bestpractice.checkpointing.store import CheckpointStore

        # Allow instances to be re-used across `model.fit()` calls.
        self._reset()
        self._store = CheckpointStore(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._store.clean_temporaries()
        self._last_save_time = self.clock()
        if self.resume:
            self._resume()
        # Counted here, not read from the optimizer at every batch (no device sync).
        self._step = self._global_step()
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):  # pragma: no cover - exercised in a subprocess
        self._sigterm = True

    def on_epoch_begin(self, epoch, logs=None):
        from keras_bestpractice.data import registry

        self._epoch = int(epoch)
        self._batch = -1
        self._batch_offset = 0
        registry.set_epoch(epoch)
        self._feeder_iterations = {id(f): f.state()["iterations"] for f in registry.feeders()}
        self._train_feeders = []
        if self._partial_epoch is not None and epoch == self._partial_epoch:
            # The resumed epoch has fewer batches; Keras says the input "ran out".
            self._warning_context = warnings.catch_warnings()
            self._warning_context.__enter__()
            warnings.filterwarnings("ignore", message=_RAN_OUT)
            self._in_partial = True
            # Keras numbers the resumed epoch's batches from 0; they are batches
            # start, start + 1, ... of the epoch.
            self._batch_offset = self._partial_start

    def on_train_batch_end(self, batch, logs=None):
        self._raise_async_error()
        first = self._batch < 0
        prev = self._batch
        self._step += int(batch) - self._batch  # steps_per_execution > 1 counts them all
        self._batch = int(batch)
        if first:
            self._note_training_feeders()
        if self._in_partial:
            if first and self._resume_metrics:
                from keras_bestpractice.checkpointing.state import add_metric_totals

                # Add the accumulators of the batches done before the crash, so the
                # epoch's logs match an uninterrupted epoch (compile metrics only
                # exist once the first step has run).
                add_metric_totals(self.model, *self._resume_metrics)
                self._resume_metrics = None
            self._remember_step_state()
        steps = self.params.get("steps") if self.params else None
        last_of_epoch = steps is not None and self._batch + self._batch_offset + 1 >= steps
        due = self._sigterm
        if self.every_n_steps is not None:
            # Crossing a multiple of n (with steps_per_execution, it may be jumped over).
            due = due or (self._step // self.every_n_steps
                          > (self._step - max(1, int(batch) - prev)) // self.every_n_steps)
        if self.every_n_minutes is not None:
            due = due or (self.clock() - self._last_save_time) >= self.every_n_minutes * 60.0
        if not due:
            return
        if last_of_epoch and not self._sigterm:
            self._pending_epoch_save = True  # saved at epoch end, with the epoch's logs
            return
        self._save(logs, epoch_boundary=False)
        if self._sigterm:
            self._stop_for_sigterm()

    def on_epoch_end(self, epoch, logs=None):
        self._raise_async_error()
        if self._warning_context is not None:
            self._warning_context.__exit__(None, None, None)
            self._warning_context = None
        if self._in_partial:
            self._undo_exhausted_step()
        self._partial_epoch = None
        due = self._pending_epoch_save or self._sigterm
        if self.every_n_epochs is not None and (epoch + 1) % self.every_n_epochs == 0:
            due = True
        if self.every_n_minutes is not None and \
                (self.clock() - self._last_save_time) >= self.every_n_minutes * 60.0:
            due = True
        self._pending_epoch_save = False
        if due:
            self._save(logs, epoch_boundary=True)
        if self._sigterm:
            self._stop_for_sigterm()

    def on_train_end(self, logs=None):
        try:
            self._wait()
        finally:
            if self._warning_context is not None:
                self._warning_context.__exit__(None, None, None)
                self._warning_context = None
            if self._previous_handler is not None:
                signal.signal(signal.SIGTERM, self._previous_handler)
                self._previous_handler = None
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            self.model._initial_epoch = None  # as keras.callbacks.BackupAndRestore does

    # --------------------------------------------------------- partial epochs
    def _remember_step_state(self) -> None:
        from keras_bestpractice.checkpointing.state import seed_variables

        optimizer = self.model.optimizer
        self._step_state = (
            int(optimizer.iterations.numpy()),
            [v.numpy().copy() for v in seed_variables(self.model)],
        )

    def _undo_exhausted_step(self) -> None:
        """Undo what the call that found the resumed epoch's data exhausted did.

        The resumed epoch yields fewer batches than the dataset's cardinality says,
        so Keras calls its compiled step once more on an exhausted iterator. The
        call raises, but its data-independent stateful ops (the optimizer's step
        counter, Dropout's seed generators) may already have run: put them back
        to their values after the last real batch.
        """
        from keras_bestpractice.checkpointing.state import seed_variables

        self._in_partial = False
        if self._step_state is None:
            return
        iterations, seeds = self._step_state
        self.model.optimizer.iterations.assign(iterations)
        for variable, value in zip(seed_variables(self.model), seeds, strict=True):
            variable.assign(value)
        self._step = iterations
        self._step_state = None

    # ------------------------------------------------------------------- saving
    def _global_step(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return 0
        return int(optimizer.iterations.numpy())

    def _note_training_feeders(self) -> None:
        from keras_bestpractice.data import registry

        # The feeders that began an iteration since this epoch began feed training
        # (validation runs only after the last training batch).
        self._train_feeders = [
            f.key for f in registry.feeders()
            if f.state()["iterations"] > self._feeder_iterations.get(id(f), 0)
        ]

    def _stop_for_sigterm(self) -> None:
        self._sigterm = False
        self.model.stop_training = True
        if self.verbose:
            print_msg("PeriodicCheckpoint: SIGTERM received: checkpoint saved, stopping.")

    def _save(self, logs: dict | None, epoch_boundary: bool) -> None:
        from keras_bestpractice.checkpointing.state import capture_arrays, capture_rng
        from keras_bestpractice.checkpointing.store import checkpoint_name
        from keras_bestpractice.data import registry

        started = time.perf_counter()
        self._wait()  # one write in flight at a time
        logs = dict(logs or {})
        step = self._step
        if epoch_boundary:
            resume_at = {"epoch": self._epoch + 1, "batch": 0}
        else:
            resume_at = {"epoch": self._epoch, "batch": self._batch + self._batch_offset + 1}
        arrays = capture_arrays(self.model, include_metrics=not epoch_boundary,
                                lazy=self.async_write)
        state = {
            "rng": capture_rng(),
            "callbacks": {key: cb.state_dict()
                          for key, cb in stateful_callbacks(self.params).items()},
            "feeders": {f.key: f.state() for f in registry.feeders()},
        }
        value = logs.get(self.monitor)
        try:
            value = None if value is None else float(value)
        except (TypeError, ValueError):
            value = None
        manifest = {
            "epoch": self._epoch,
            "batch": None if epoch_boundary else self._batch + self._batch_offset,
            "global_step": step,
            "epoch_boundary": epoch_boundary,
            "resume_at": resume_at,
            "monitor": self.monitor,
            "mode": self._resolved_mode,
            "monitor_value": value if value is None or math.isfinite(value) else None,
            "logs": {k: _float_or_none(val) for k, val in logs.items()},
            "training_feeders": list(self._train_feeders),
        }
        name = checkpoint_name(self._epoch, step)
        self._last_save_time = self.clock()
        if self.async_write:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="periodic-checkpoint")
            self._future = self._executor.submit(self._commit, name, arrays, state, manifest,
                                                 started, True)
        else:
            self._commit(name, arrays, state, manifest, started, False)

    def _commit(self, name, arrays, state, manifest, started, background):
        ckpt = self._store.write(name, arrays, state, manifest)
        deleted = self._store.apply_retention(self.keep_last, self.keep_best,
                                              self._resolved_mode)
        self.saved.append(ckpt.path)
        if self.verbose:
            where = (f"end of epoch {manifest['epoch'] + 1}" if manifest["epoch_boundary"] else
                     f"epoch {manifest['epoch'] + 1}, batch {manifest['batch']}")
            print_msg(
                f"PeriodicCheckpoint: saved {ckpt.name} ({where}, step "
                f"{manifest['global_step']}) in {time.perf_counter() - started:.2f}s"
                + (" (background)" if background else "")
                + (f"; deleted {len(deleted)} old" if deleted else "")
            )
        return ckpt

    def _wait(self) -> None:
        if self._future is not None:
            future, self._future = self._future, None
            future.result()  # raises CheckpointWriteError from the background write

    def _raise_async_error(self) -> None:
        if self._future is not None and self._future.done():
            self._wait()

    # ----------------------------------------------------------------- resuming
    def _resume(self) -> None:
        from keras_bestpractice.checkpointing.state import restore_rng, restore_training_state
        from keras_bestpractice.data import registry

        ckpt = self._store.latest()
        if ckpt is None:
            return
        fell_back = False
        feeders: list = []
        if not ckpt.epoch_boundary:
            wanted = set(ckpt.manifest.get("training_feeders") or [])
            feeders = [f for f in registry.feeders() if f.key in wanted]
            if not feeders:
                fallback = self._store.latest(epoch_boundary_only=True)
                warn(
                    f"PeriodicCheckpoint: the newest checkpoint {ckpt.name} is mid-epoch, which "
                    "only a stratified_dataset input can resume exactly; resuming from "
                    + (f"the epoch-boundary checkpoint {fallback.name}" if fallback else
                       "scratch (no epoch-boundary checkpoint)")
                    + " instead."
                )
                if fallback is None:
                    return
                ckpt = fallback
                fell_back = True
        restore_training_state(self.model, ckpt)
        state = ckpt.read_state()
        restore_rng(state.get("rng", {}))
        saved_callbacks = state.get("callbacks", {})
        for key, callback in stateful_callbacks(self.params).items():
            # Format 1 checkpoints keyed the state by class name.
            saved = saved_callbacks.get(key, saved_callbacks.get(type(callback).__name__))
            if saved is not None:
                callback.load_state_dict(saved)
        resume_at = ckpt.manifest["resume_at"]
        epoch = int(resume_at["epoch"])
        if not ckpt.epoch_boundary:
            batch = int(resume_at["batch"])
            for feeder in feeders:
                feeder.set_epoch(epoch, start_batch=batch)
            self._partial_epoch = epoch
            self._partial_start = batch
            self._resume_metrics = (ckpt.array_names("metrics"), ckpt.read_arrays("metrics"))
        elif not ckpt.manifest.get("training_feeders") and not fell_back:
            warn(
                "PeriodicCheckpoint: resumed a run whose input is not a stratified_dataset: "
                "the data order after resuming is exact only for NumPy arrays with "
                "shuffle=False (Keras's own shuffle cannot be resumed)."
            )
        self.model._initial_epoch = epoch
        self.resumed_from = ckpt.path
        if self.verbose:
            where = f"epoch {epoch + 1}" + (
                "" if ckpt.epoch_boundary else f", batch {int(resume_at['batch'])}")
            print_msg(f"PeriodicCheckpoint: resumed from {ckpt.name}; continuing at {where}.")


def _float_or_none(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


_MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5", ".weights.h5")


def _check_directory(directory: Any) -> Path:
    """The checkpoint directory: a path that is not a file and is not named like one."""
    path = v.check_dir_path("directory", directory)
    name = path.name.lower()
    if any(name.endswith(suffix) for suffix in _MODEL_FILE_SUFFIXES):
        raise ValueError(
            f"`directory`={str(path)!r} is named like a model file, but PeriodicCheckpoint "
            "writes a directory of checkpoints there; pass a directory name such as "
            "'checkpoints' (use PeriodicCheckpoint.export(...) for a .keras file)."
        )
    return path
