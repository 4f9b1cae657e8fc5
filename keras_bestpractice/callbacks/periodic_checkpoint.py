"""`PeriodicCheckpoint`: every N epochs / steps / minutes, keep last k and best, exact resume."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keras_bestpractice import _lr
from keras_bestpractice import _validation as v
from keras_bestpractice._atomic import atomic_path
from keras_bestpractice._callback import (
    CopyableCallback,
    print_msg,
    restore_of,
    stateful_callbacks,
)
from keras_bestpractice._core.compare import Direction
from keras_bestpractice._internals import set_initial_epoch
from keras_bestpractice._snapshot import Snapshot
from keras_bestpractice._warnings import warn
from keras_bestpractice.checkpointing.partial_epoch import PartialEpoch
from keras_bestpractice.checkpointing.session import CheckpointSession
from keras_bestpractice.checkpointing.state import (
    capture_arrays,
    capture_rng,
    identity_differences,
    restore_training_state,
    run_identity,
)
from keras_bestpractice.checkpointing.store import Checkpoint, CheckpointStore, checkpoint_name
from keras_bestpractice.data import registry

LR_ON_RESUME = ("checkpoint", "script")
_MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5", ".weights.h5")


class PeriodicCheckpoint(CopyableCallback):
    """Crash-safe checkpoints on a schedule, with retention and exact resume.

    A save happens when any trigger fires: every `every_n_epochs` epochs (at
    epoch end), every `every_n_steps` training steps, every `every_n_minutes`
    minutes, on SIGTERM (preemption: it saves, then stops training cleanly; that
    save is the last of the `fit`), and at the end of training when the last
    epoch was not saved yet. Each checkpoint is a directory committed atomically
    (written under a temporary name, fsynced, renamed) with a manifest that
    verifies itself (its own sha256, a schema, the size and checksum of every
    file). Names count what Keras prints: `ckpt-epoch0003-end-step...` after the
    3rd epoch, `ckpt-epoch0004-batch0002-step...` two batches into the 4th.
    Retention keeps the `keep_last` newest, the `keep_best` best by `monitor`,
    and the newest epoch-boundary checkpoint, among checkpoints that pass every
    check; it never deletes the newest verified one, and runs only after a
    successful save.

    One writer per directory: the `fit` that writes holds an `fcntl` lock on
    `<directory>/.lock`; a second writer gets `CheckpointLockedError` at the
    start of its `fit`, naming the holder's pid. Under
    `MultiWorkerMirroredStrategy` only the chief writes; every worker resumes
    from the same checkpoint.

    Resume (`resume=True`): running the same script again restores the newest
    checkpoint that passes its checks (a damaged one, manifest or data, is
    skipped with a warning naming the cause): weights and every other model
    variable (BatchNormalization statistics, `SeedGenerator` states), optimizer
    variables (with `iterations`, so schedules continue), the NumPy, Python and
    TensorFlow global RNG states, the state of our other callbacks in the same
    `fit` (`DivergenceGuard`, by `state_key`), and the epoch of every
    `stratified_dataset`; training continues with the next unfinished epoch. A
    step-triggered checkpoint resumes mid-epoch when the input is a
    `stratified_dataset` (which can start at batch k, with the epoch's running
    metrics restored too); for other inputs the newest epoch-boundary checkpoint
    is used, with a warning. Resuming says what it does: a checkpoint of another
    run (another architecture, optimizer class or `run_id`) is refused with the
    difference; a run that already trained all its epochs warns "nothing to do"
    (raise `epochs` to train more); a learning rate changed in the script warns
    and `lr_on_resume` decides which one is used.

    Exactness: on CPU with `keras.utils.set_random_seed` and
    `tf.config.experimental.enable_op_determinism()`, a run killed (SIGKILL or
    SIGTERM) at any moment and resumed ends with weights bitwise equal to an
    uninterrupted run, for a model fed NumPy arrays with `shuffle=False` or a
    `stratified_dataset`. Not exact: NumPy arrays with `shuffle=True` (Keras's
    own shuffle cannot be resumed), and random ops drawing from Keras's global
    `SeedGenerator`. Put this callback last so that it saves what the other
    callbacks did.

    Args:
        directory: where checkpoints go (created if needed); not a file, and not
            named like a model file (`.keras`, `.h5`).
        every_n_epochs: save every n epochs; `None` for none. Defaults to `1`.
        every_n_steps: save every n training steps. Defaults to `None`.
        every_n_minutes: save every n minutes of training. Defaults to `None`.
        keep_last: newest checkpoints to keep. Defaults to `3`.
        keep_best: best checkpoints (by `monitor`) to keep. Defaults to `1`.
        monitor: quantity for `keep_best` and `best()`; a monitor missing from
            the logs is reported at the first epoch end. Defaults to `"val_loss"`.
        mode: `"auto"`, `"min"` or `"max"`. Defaults to `"auto"`.
        resume: restore the newest good checkpoint at the start of `fit`.
            Defaults to `True`.
        async_write: write in a background thread; `fit` only waits for the
            copy to host memory. A failed write raises on the next step.
            Defaults to `False`.
        verbose: `1` prints saves and resumes. Defaults to `0`.
        clock: a `time.monotonic`-like function (tests use a fake clock).
            Defaults to `time.monotonic`.
        run_id: a name for this run, stored in every checkpoint; resuming a
            checkpoint with another `run_id` is refused. Give one when two runs
            of the same architecture could share a directory (other data,
            another seed). Defaults to `None`.
        lr_on_resume: when the script's learning rate differs from the one the
            checkpointed run started with: `"checkpoint"` keeps the
            checkpoint's (the run continues as it was), `"script"` sets the
            script's (a float learning rate). Either way it warns. Defaults to
            `"checkpoint"`.

    Attributes:
        saved: paths written during the last `fit`.
        resumed_from: the checkpoint the last `fit` resumed from, or `None`.
        fresh_optimizer_epoch: for a driver that recompiles the model between
            fits (`fine_tune`'s phases): the epoch at which the next `fit`
            starts with a new optimizer. An epoch-boundary checkpoint that
            resumes at this epoch restores weights, not the previous optimizer
            or its rate. Defaults to `None`.

    Example:

    ```python
    ckpt = PeriodicCheckpoint("checkpoints", every_n_epochs=2, keep_last=3)
    model.fit(x, y, epochs=30, shuffle=False, callbacks=[ckpt])   # rerun after a crash
    load_weights(model, PeriodicCheckpoint.best("checkpoints"))
    ckpt.export("model.keras")                                    # the best, as .keras
    ```

    Raises:
        ValueError: for counts < 1, no trigger at all, a bad `mode`, or a
            `directory` that is a file or named like a model file; at the start
            of `fit`, for checkpoints of another run.
        TypeError: for arguments of the wrong type.
        CheckpointLockedError: at the start of `fit`, when another process (or a
            fit in another thread) writes to the same directory.
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
        run_id: str | None = None,
        lr_on_resume: str = "checkpoint",
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
        self._direction = Direction.resolve("PeriodicCheckpoint", self.monitor, self.mode)
        self.resume = v.check_bool("resume", resume)
        self.async_write = v.check_bool("async_write", async_write)
        self.verbose = v.check_int("verbose", verbose, minimum=0)
        self.clock = v.check_callable("clock", clock, allow_none=True) or time.monotonic
        self.run_id = v.check_str("run_id", run_id, allow_none=True)
        self.lr_on_resume = v.check_choice("lr_on_resume", lr_on_resume, LR_ON_RESUME)
        self.fresh_optimizer_epoch: int | None = None
        self._reset()

    _NOT_COPIED = ("_model", "_session", "_partial")

    # ------------------------------------------------------------------ helpers
    def resume_point(self) -> tuple[int, dict[str, Any]] | None:
        """Where a `fit` with `resume=True` would go on from this directory's newest
        usable checkpoint: `(Keras epoch (0-based), {state_key: saved state of each
        stateful callback})`, or `None` (from scratch).

        Reads the directory only: nothing is restored or written.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fit itself reports skipped checkpoints
            store = CheckpointStore(self.directory)
            ckpt, _ = self._choose_resume_checkpoint(store, store.latest(), warn_fallback=False)
        if ckpt is None:
            return None
        return (int(ckpt.manifest["resume_at"]["epoch"]),
                dict(ckpt.read_state().get("callbacks", {})))

    @staticmethod
    def latest(directory: str | os.PathLike) -> Path | None:
        """The newest committed checkpoint under `directory` that passes its checks,
        or `None` when there is none."""

        ckpt = CheckpointStore(_check_directory(directory)).latest()
        return None if ckpt is None else ckpt.path

    @staticmethod
    def best(directory: str | os.PathLike, mode: str = "auto",
             monitor: str | None = None) -> Path:
        """The verified checkpoint with the best value of the monitor it was saved with.

        Raises:
            FileNotFoundError: when `directory` holds no checkpoint that passes
                its checks.
            ValueError: when none of them has a value of the monitor (it was
                not in the logs: the message lists the keys that were).
        """

        v.check_mode(mode)
        v.check_str("monitor", monitor, allow_none=True)
        store = CheckpointStore(_check_directory(directory))
        verified = store.verified()
        if not verified:
            raise FileNotFoundError(f"`directory`={str(directory)!r} holds no checkpoint that "
                                    "passes its checks.")
        newest = verified[0].manifest
        name = monitor or newest["monitor"]
        resolved = Direction.of(newest["mode"]) if mode == "auto" and monitor is None else \
            Direction.resolve("PeriodicCheckpoint.best", name, mode)
        if monitor is not None and monitor != newest["monitor"]:
            raise ValueError(f"the checkpoints under {str(directory)!r} were ranked by "
                             f"{newest['monitor']!r}, not {monitor!r}.")
        ckpt = store.best(resolved)
        if ckpt is None:
            keys = sorted(newest.get("logs") or {})
            raise ValueError(
                f"no checkpoint under {str(directory)!r} has a value of {name!r}: it was not in "
                f"the logs (logged: {', '.join(keys) or 'nothing'}). Use "
                "PeriodicCheckpoint.latest(...), or a monitor that is logged (for `val_*`, "
                "pass validation data to fit)."
            )
        return ckpt.path

    def export(self, path: str | os.PathLike, which: str = "best") -> Path:
        """Write the best (or latest) checkpoint of this callback's directory as a `.keras`
        file (architecture, weights, optimizer state); returns the checkpoint used.

        The model the callback trained is used to rebuild the file and is left as
        it was. Call it after `fit`.

        Raises:
            ValueError: for a `path` not ending in `.keras`, an unknown `which`,
                or no checkpoint to export (see `best()`).
            RuntimeError: before the callback has been used in a `fit`.
        """

        path = v.check_file_path("path", path, suffixes=(".keras",))
        v.check_choice("which", which, ("best", "latest"))
        model = self._model if hasattr(self, "_model") else None
        if model is None:
            raise RuntimeError("PeriodicCheckpoint.export needs the model it trained: call it "
                               "after fit.")
        source = self.best(self.directory) if which == "best" else self.latest(self.directory)
        if source is None:
            raise ValueError(f"no checkpoint under {str(self.directory)!r} to export.")
        ckpt, problem = Checkpoint.open(source)
        if ckpt is None:
            raise ValueError(f"checkpoint {str(source)!r} cannot be exported: {problem}.")
        current = Snapshot.take(model, 0, None)
        try:
            restore_training_state(model, ckpt)
            with atomic_path(path) as tmp:
                model.save(tmp)
        finally:
            if current is not None:
                current.restore(model)
        return ckpt.path

    def _reset(self) -> None:
        self.saved: list[Path] = []
        self.resumed_from: Path | None = None
        self._session: CheckpointSession | None = None
        self._epoch = 0
        self._batch = -1
        self._step = 0
        self._last_save_time = None
        self._stopped_by_sigterm = False
        self._train_feeders: list[str] = []
        self._feeder_iterations: dict[int, int] = {}
        self._partial: PartialEpoch | None = None
        self._pending_epoch_save = False
        self._batch_offset = 0
        self._sequence = 1
        self._identity: dict[str, Any] = {}
        self._script_lr: Any = None
        self._last_logs: dict | None = None
        self._last_epoch_done: int | None = None
        self._last_boundary_saved: int | None = None
        self._boundaries_saved: set[int] = set()
        self._epoch_logs: dict[int, dict] = {}
        self._monitor_checked = False

    # ---------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        # Allow instances to be re-used across `model.fit()` calls.
        self._reset()
        session = CheckpointSession(self.directory, self.model, async_write=self.async_write,
                                    keep_last=self.keep_last, keep_best=self.keep_best,
                                    direction=self._direction, verbose=self.verbose)
        session.open()
        self._session = session
        self.saved = session.saved
        try:
            self._last_save_time = self.clock()
            self._identity = run_identity(self.model, self.run_id)
            self._script_lr = _lr_description(self.model)
            if self.resume:
                self._resume()
            else:
                self._refuse_other_run(session.store.latest())
            self._sequence = session.store.next_sequence()
        except BaseException:
            session.close()
            raise
        # Counted here, not read from the optimizer at every batch (no device sync).
        self._step = self._global_step()
        session.handle_sigterm()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        self._batch = -1
        self._batch_offset = 0
        registry.set_epoch(epoch)
        self._feeder_iterations = {id(f): f.state()["iterations"] for f in registry.feeders()}
        self._train_feeders = []
        if self._partial is not None and epoch == self._partial.epoch:
            self._partial.begin()
            # Keras numbers the resumed epoch's batches from 0; they are batches
            # start, start + 1, ... of the epoch.
            self._batch_offset = self._partial.start_batch

    def on_train_batch_end(self, batch, logs=None):
        self._session.raise_async_error()
        first = self._batch < 0
        prev = self._batch
        self._step += int(batch) - self._batch  # steps_per_execution > 1 counts them all
        self._batch = int(batch)
        if first:
            self._note_training_feeders()
        if self._partial is not None and self._partial.active:
            self._partial.after_batch(self.model, first)
        steps = self.params.get("steps") if self.params else None
        last_of_epoch = steps is not None and self._batch + self._batch_offset + 1 >= steps
        sigterm = self._session.sigterm_requested
        due = sigterm
        if self.every_n_steps is not None:
            # Crossing a multiple of n (with steps_per_execution, it may be jumped over).
            due = due or (self._step // self.every_n_steps
                          > (self._step - max(1, int(batch) - prev)) // self.every_n_steps)
        if self.every_n_minutes is not None:
            due = due or (self.clock() - self._last_save_time) >= self.every_n_minutes * 60.0
        if not due:
            return
        if last_of_epoch:
            # Saved at epoch end, with the epoch's logs, as an epoch boundary (a SIGTERM
            # here too: the epoch is complete, there is nothing to resume inside it).
            self._pending_epoch_save = True
            return
        self._save(logs, epoch_boundary=False)
        if sigterm:
            self._stop_for_sigterm()

    def on_test_begin(self, logs=None):
        # Validation runs after the training batches and before on_epoch_end: undo the
        # exhausted step of a resumed epoch now, so validation's own updates stay.
        self._end_partial_step()

    def on_epoch_end(self, epoch, logs=None):
        self._session.raise_async_error()
        self._end_partial_step()
        if self._partial is not None:
            self._partial.end()
            self._partial = None
        if self._stopped_by_sigterm:
            # The SIGTERM save in this epoch is the last save of this fit: the epoch was
            # cut short, and saving it now as finished would skip its other batches.
            return
        logs = dict(logs or {})
        self._check_monitor(logs)
        if self._after_restore_and_stop(int(epoch)):
            return
        self._last_logs, self._last_epoch_done = logs, int(epoch)
        self._epoch_logs[int(epoch)] = logs
        sigterm = self._session.sigterm_requested
        due = self._pending_epoch_save or sigterm
        if self.every_n_epochs is not None and (epoch + 1) % self.every_n_epochs == 0:
            due = True
        if self.every_n_minutes is not None and \
                (self.clock() - self._last_save_time) >= self.every_n_minutes * 60.0:
            due = True
        self._pending_epoch_save = False
        if due:
            self._save(logs, epoch_boundary=True)
        if sigterm:
            self._stop_for_sigterm()

    def on_train_end(self, logs=None):
        session = self._session
        if session is None:
            return
        try:
            if not self._stopped_by_sigterm and self._last_epoch_done is not None and \
                    self._last_boundary_saved != self._last_epoch_done:
                # The last epoch was not saved (every_n_epochs does not divide epochs):
                # a final save, so that the run's end is never lost.
                self._epoch = self._last_epoch_done
                self._save(self._last_logs, epoch_boundary=True)
        finally:
            if self._partial is not None:
                self._partial.end()
                self._partial = None
            self._session = None
            session.close()
            set_initial_epoch(self.model, None)  # as keras.callbacks.BackupAndRestore does

    def _after_restore_and_stop(self, epoch: int) -> bool:
        """When a callback before this one (the guard) put back an earlier state in this
        epoch and stopped `fit`, the model no longer holds this epoch's state: save that
        state under the epoch it belongs to (when it ended an epoch not saved yet), never
        as this epoch. Returns whether it handled the epoch's end."""
        restored = restore_of(self.model)
        if not self.model.stop_training or restored is None or restored["in_epoch"] != epoch:
            return False
        state_of = restored["epoch"] if restored["where"] == "end" else None
        if state_of is not None and state_of not in self._boundaries_saved:
            # The weights, optimizer and seed variables are the restored epoch's; the
            # Python/NumPy RNG and the callbacks' states are those of the stop (the run
            # ended here: a resume continues from the restored weights, not bit for bit
            # as an uninterrupted run that never stopped would).
            self._epoch, self._step = state_of, self._global_step()
            self._save(self._epoch_logs.get(state_of), epoch_boundary=True)
            said = f"saved as epoch {state_of + 1}"
        else:
            said = ("already saved" if state_of is not None else
                    "not the end of an epoch: nothing saved")
        self._last_epoch_done = self._last_boundary_saved = epoch  # no final save as `epoch`
        if self.verbose:
            print_msg(f"PeriodicCheckpoint: training was stopped in epoch {epoch + 1} after "
                      "an earlier state was restored (by DivergenceGuard); that state is "
                      f"{said}.")
        return True

    # ------------------------------------------------------------------- saving
    def _end_partial_step(self) -> None:
        if self._partial is not None and self._partial.active:
            iterations = self._partial.undo_exhausted_step(self.model)
            if iterations is not None:
                self._step = iterations

    def _global_step(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return 0
        return int(optimizer.iterations.numpy())

    def _note_training_feeders(self) -> None:
        # The feeders that began an iteration since this epoch began feed training
        # (validation runs only after the last training batch).
        self._train_feeders = [
            f.key for f in registry.feeders()
            if f.state()["iterations"] > self._feeder_iterations.get(id(f), 0)
        ]

    def _stop_for_sigterm(self) -> None:
        self._session.clear_sigterm()
        self._stopped_by_sigterm = True
        self.model.stop_training = True
        if self.verbose:
            print_msg("PeriodicCheckpoint: SIGTERM received: checkpoint saved, stopping.")

    def _check_monitor(self, logs: dict) -> None:
        if self._monitor_checked or self.keep_best == 0:
            return
        self._monitor_checked = True
        if self.monitor not in logs:
            warn(
                f"PeriodicCheckpoint(monitor={self.monitor!r}): {self.monitor!r} is not in the "
                f"logs (available: {', '.join(sorted(logs)) or 'none'}); keep_best keeps "
                "nothing and PeriodicCheckpoint.best() will have no checkpoint to return. "
                + ("Pass validation data to fit, or " if self.monitor.startswith("val_")
                   else "") + "monitor a logged key." + v.did_you_mean(self.monitor, logs)
            )

    def _save(self, logs: dict | None, epoch_boundary: bool) -> None:
        """What a checkpoint holds here: the arrays, the JSON state and the manifest."""

        if epoch_boundary:
            self._last_boundary_saved = self._epoch
            self._boundaries_saved.add(self._epoch)
        if not self._session.is_writer:
            return  # another worker (the chief) writes
        started = time.perf_counter()
        self._session.wait()  # one write in flight at a time: capture after it
        logs = dict(logs or {})
        batch = None if epoch_boundary else self._batch + self._batch_offset
        arrays = capture_arrays(self.model, include_metrics=not epoch_boundary,
                                lazy=self.async_write)
        state = {
            "rng": capture_rng(),
            "callbacks": {key: cb.state_dict()
                          for key, cb in stateful_callbacks(self.params).items()},
            "feeders": {f.key: f.state() for f in registry.feeders()},
        }
        manifest = {
            "epoch": self._epoch,
            "batch": batch,
            "global_step": self._step,
            "epoch_boundary": epoch_boundary,
            "resume_at": ({"epoch": self._epoch + 1, "batch": 0} if epoch_boundary else
                          {"epoch": self._epoch, "batch": batch + 1}),
            "sequence": self._sequence,
            "monitor": self.monitor,
            "mode": self._direction,
            "monitor_value": _float_or_none(logs.get(self.monitor)),
            "logs": {k: _float_or_none(val) for k, val in logs.items()},
            "training_feeders": list(self._train_feeders),
            "run_identity": self._identity,
            "script_learning_rate": self._script_lr,
        }
        self._sequence += 1
        name = checkpoint_name(self._epoch, self._step, None if epoch_boundary else batch + 1)
        self._last_save_time = self.clock()
        self._session.save(name, arrays, state, manifest, started)

    # ----------------------------------------------------------------- resuming
    def _refuse_other_run(self, ckpt: Any) -> None:
        """Raise when `ckpt` (the directory's newest good checkpoint) is another run's."""

        if ckpt is None:
            return
        differences = identity_differences(ckpt.manifest.get("run_identity"), self._identity)
        if differences:
            raise ValueError(
                f"PeriodicCheckpoint: the checkpoints in {str(self.directory)!r} belong to "
                f"another run ({'; '.join(differences)}; newest: {ckpt.name}). Give this run "
                "its own directory (or the same run_id, if it is the same run)."
            )

    def _choose_resume_checkpoint(self, store: Any, ckpt: Any,
                                  warn_fallback: bool) -> tuple[Any, bool]:
        """The checkpoint this `fit` resumes from, given the newest good one `ckpt`, and
        whether it fell back from a mid-epoch one (only a stratified_dataset input
        resumes mid-epoch)."""
        if ckpt is None or ckpt.epoch_boundary or self._training_feeders(ckpt):
            return ckpt, False
        fallback = store.latest(epoch_boundary_only=True)
        if warn_fallback:
            warn(
                f"PeriodicCheckpoint: the newest checkpoint {ckpt.name} is mid-epoch, which "
                "only a stratified_dataset input can resume exactly; resuming from "
                + (f"the epoch-boundary checkpoint {fallback.name}" if fallback else
                   "scratch (no epoch-boundary checkpoint)")
                + " instead."
            )
        return fallback, True

    def _resume(self) -> None:
        session = self._session
        newest = session.store.latest()
        self._refuse_other_run(newest)
        ckpt, fell_back = self._choose_resume_checkpoint(session.store, newest,
                                                         warn_fallback=True)
        ckpt = session.agree(ckpt)
        if ckpt is None:
            return
        resume_at = ckpt.manifest["resume_at"]
        epoch = int(resume_at["epoch"])
        # A driver that starts a phase with a new optimizer (`fine_tune`): a checkpoint
        # taken at the end of the previous phase gives its weights, not its optimizer
        # or rate.
        fresh_optimizer = ckpt.epoch_boundary and epoch == self.fresh_optimizer_epoch
        session.restore(self.model, ckpt, stateful_callbacks(self.params),
                        optimizer=not fresh_optimizer)
        if not fresh_optimizer:
            self._resume_learning_rate(ckpt)
        if not ckpt.epoch_boundary:
            batch = int(resume_at["batch"])
            for feeder in self._training_feeders(ckpt):
                feeder.set_epoch(epoch, start_batch=batch)
            self._partial = PartialEpoch(epoch, batch, (
                ckpt.array_names("metrics"), ckpt.read_arrays("metrics")))
        elif not ckpt.manifest.get("training_feeders") and not fell_back:
            warn(
                "PeriodicCheckpoint: resumed a run whose input is not a stratified_dataset: "
                "the data order after resuming is exact only for NumPy arrays with "
                "shuffle=False (Keras's own shuffle cannot be resumed)."
            )
        epochs = (self.params or {}).get("epochs")
        if epochs is not None and epoch >= int(epochs):
            warn(
                f"PeriodicCheckpoint: the run in {str(self.directory)!r} already trained "
                f"{epoch} epochs (newest checkpoint {ckpt.name}) and fit(epochs={epochs}) "
                "asks for no more: nothing to do. Raise `epochs` to train further, or pass "
                "resume=False to start over."
            )
        self._last_boundary_saved = epoch - 1 if ckpt.epoch_boundary else None
        if ckpt.epoch_boundary:
            self._boundaries_saved.add(epoch - 1)
        set_initial_epoch(self.model, epoch)
        self.resumed_from = ckpt.path
        if self.verbose:
            where = f"epoch {epoch + 1}" + (
                "" if ckpt.epoch_boundary else f", batch {int(resume_at['batch']) + 1}")
            print_msg(f"PeriodicCheckpoint: resumed from {ckpt.name}; continuing at {where}.")

    @staticmethod
    def _training_feeders(ckpt: Any) -> list:
        """The live feeders that fed the checkpointed run (they can resume mid-epoch)."""

        wanted = set(ckpt.manifest.get("training_feeders") or [])
        return [f for f in registry.feeders() if f.key in wanted]

    def _resume_learning_rate(self, ckpt: Any) -> None:
        """Say, and settle by `lr_on_resume`, a learning rate changed in the script."""

        started_with = ckpt.manifest.get("script_learning_rate")
        script = self._script_lr
        if started_with is None:
            return
        if started_with != script:
            use_script = self.lr_on_resume == "script" and isinstance(script, float)
            now = _lr_description(self.model)
            warn(
                f"PeriodicCheckpoint: the script's learning rate is {script!r}, but the run in "
                f"the checkpoint started with {started_with!r} (its rate when saved: {now!r}). "
                + ("Using the script's (lr_on_resume='script')." if use_script else
                   "Continuing with the checkpoint's; pass lr_on_resume='script' to use the "
                   "script's.")
            )
            if use_script:
                _lr.base_optimizer(self.model.optimizer).learning_rate = script
                return
        # The run keeps the rate it started with in its identity, so a later change is
        # still compared against the original.
        self._script_lr = started_with


def _float_or_none(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _lr_description(model: Any) -> Any:
    """The optimizer's learning rate: a float, or a schedule's config; `None` if unknown."""

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        if _lr.is_schedule(optimizer, "PeriodicCheckpoint"):
            return _lr.schedule_of(optimizer, "PeriodicCheckpoint").get_config()
        return _lr.current_lr(optimizer)
    except (TypeError, ValueError, AttributeError):
        return None


def _check_directory(directory: Any) -> Path:
    """The checkpoint directory: a path that is not a file and is not named like one."""
    path = v.check_dir_path("directory", directory)
    name = path.name.lower()
    if any(name.endswith(suffix) for suffix in _MODEL_FILE_SUFFIXES):
        raise ValueError(
            f"`directory`={str(path)!r} is named like a model file, but PeriodicCheckpoint "
            "writes a directory of checkpoints there; pass a directory name such as "
            "'checkpoints' (PeriodicCheckpoint.export(...) writes a .keras file)."
        )
    return path
