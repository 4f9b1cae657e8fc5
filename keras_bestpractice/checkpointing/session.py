"""`CheckpointSession`: one `fit`'s hold on a checkpoint directory.

`PeriodicCheckpoint` decides *when* to save, *what* to keep and *whether* to
resume; the session does the rest, the way Lightning's checkpoint connector and
async IO plugin sit under its `ModelCheckpoint`:

- the directory lock (one writer per directory: an `fcntl` lock across
  processes, a table of the directories this process writes across threads);
- SIGTERM: the handler is installed for the `fit` and put back after it; the
  callback asks `sigterm_requested` at its save points;
- the writer: synchronous, or one background thread with one write in flight
  (a failed background write raises at the next `raise_async_error`), each
  commit followed by retention;
- multi-worker agreement: only the chief writes; every worker resumes from the
  checkpoint the chief chose;
- the restore order: model and optimizer variables, then the global RNG states,
  then the state of the other stateful callbacks of the `fit`.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keras_bestpractice._callback import cluster_strategy, cluster_sum, is_chief, print_msg
from keras_bestpractice._core.compare import Direction
from keras_bestpractice.checkpointing import state as state_mod
from keras_bestpractice.checkpointing.store import (
    Checkpoint,
    CheckpointLockedError,
    CheckpointStore,
    WriterLock,
)

# The directories this process writes, and the thread of the `fit` writing each: a fit
# that died of an exception never reached its end, and the next fit in the same thread
# takes its lock over (it cannot still be running); a fit in another live thread keeps it.
_PROCESS_LOCKS: dict[str, tuple[WriterLock, int]] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class CheckpointSession:
    """The lock, SIGTERM handling, writer and restore of one `fit` on one directory.

    Args:
        directory: the checkpoint directory.
        model: the model being trained (read for its distribution strategy only).
        async_write: write in a background thread.
        keep_last, keep_best, direction: retention, applied after each commit.
        verbose: print each save.
    """

    def __init__(self, directory: Path, model: Any, *, async_write: bool, keep_last: int,
                 keep_best: int, direction: Direction, verbose: int = 0):
        self.directory = Path(directory)
        self.model = model
        self.async_write = async_write
        self.keep_last, self.keep_best, self.direction = keep_last, keep_best, direction
        self.verbose = verbose
        self.store = CheckpointStore(self.directory)
        self.is_writer = is_chief(model)
        self.saved: list[Path] = []
        self._lock: WriterLock | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._future: concurrent.futures.Future | None = None
        self._previous_handler: Any = None
        self._sigterm = False

    # ------------------------------------------------------------- lifecycle
    def open(self) -> None:
        """Take the directory (the writer only: lock, create, clean temporaries).

        Raises:
            CheckpointLockedError: another process, or a fit in another live thread
                of this one, writes to the directory.
        """
        if not self.is_writer:
            return
        self._acquire_lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.store.clean_temporaries()
        except BaseException:
            self._release_lock()
            raise

    def handle_sigterm(self) -> None:
        """Note SIGTERM (preemption) instead of dying, until `close` (the writer, on the
        main thread only: signal handlers cannot be set elsewhere)."""
        if self.is_writer and threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):  # pragma: no cover - exercised in a subprocess
        self._sigterm = True

    @property
    def sigterm_requested(self) -> bool:
        """SIGTERM arrived since the session opened (or since `clear_sigterm`)."""
        return self._sigterm

    def clear_sigterm(self) -> None:
        self._sigterm = False

    def close(self) -> None:
        """Wait for the write in flight (raising its error), then put everything back:
        the SIGTERM handler, the writer thread, the lock."""
        try:
            self.wait()
        finally:
            if self._previous_handler is not None:
                signal.signal(signal.SIGTERM, self._previous_handler)
                self._previous_handler = None
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            self._release_lock()

    # ---------------------------------------------------------------- locking
    def _acquire_lock(self) -> None:
        key = os.path.realpath(self.directory)
        me = threading.get_ident()
        with _PROCESS_LOCKS_GUARD:
            held = _PROCESS_LOCKS.get(key)
            if held is not None:
                lock, thread = held
                alive = {t.ident for t in threading.enumerate()}
                if thread != me and thread in alive:
                    raise CheckpointLockedError(
                        f"a fit in another thread of this process (pid {os.getpid()}) is "
                        f"writing checkpoints to {str(self.directory)!r}; give this run its "
                        "own directory."
                    )
            else:
                lock = WriterLock(self.directory)
                lock.acquire()
            _PROCESS_LOCKS[key] = (lock, me)
            self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is None:
            return
        key = os.path.realpath(self.directory)
        with _PROCESS_LOCKS_GUARD:
            held = _PROCESS_LOCKS.get(key)
            if held is not None and held[0] is self._lock:
                del _PROCESS_LOCKS[key]
                self._lock.release()
        self._lock = None

    # ---------------------------------------------------------------- writing
    def save(self, name: str, arrays: Mapping[str, list], state: dict, manifest: dict,
             started: float) -> None:
        """Commit a checkpoint (then apply retention), in the background with
        `async_write`; one write in flight at a time. `started` (a `perf_counter`
        time) is when the save began, for the printed duration. Non-writers write
        nothing."""
        if not self.is_writer:
            return
        self.wait()
        if self.async_write:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="periodic-checkpoint",
                    initializer=_lower_this_thread_priority)
            self._future = self._executor.submit(self._commit, name, arrays, state, manifest,
                                                 started, True)
        else:
            self._commit(name, arrays, state, manifest, started, False)

    def _commit(self, name, arrays, state, manifest, started, background):
        ckpt = self.store.write(name, arrays, state, manifest)
        deleted = self.store.apply_retention(self.keep_last, self.keep_best, self.direction,
                                             protect=ckpt.name)
        self.saved.append(ckpt.path)
        self._describe(ckpt, manifest, started, deleted, background)
        return ckpt

    def wait(self) -> None:
        """Wait for the write in flight; raises `CheckpointWriteError` from it."""
        if self._future is not None:
            future, self._future = self._future, None
            future.result()

    def raise_async_error(self) -> None:
        """Raise now if the background write has failed (never blocks)."""
        if self._future is not None and self._future.done():
            self.wait()

    # ---------------------------------------------------------------- reading
    def agree(self, ckpt: Checkpoint | None) -> Checkpoint | None:
        """Under multi-worker training, the checkpoint the chief chose, on every worker
        (a collective: every worker calls it at the same point)."""
        strategy = cluster_strategy(self.model)
        if strategy is None:
            return ckpt
        mine = float(ckpt.sequence) if (self.is_writer and ckpt is not None) else 0.0
        sequence = int(cluster_sum(strategy, [mine])[0])
        if sequence == 0:
            return None
        for candidate in self.store.verified(warn_damaged=False):
            if candidate.sequence == sequence:
                return candidate
        raise RuntimeError(
            f"PeriodicCheckpoint: the chief resumes from checkpoint #{sequence} in "
            f"{str(self.directory)!r}, which this worker cannot read: every worker must see "
            "the same checkpoint directory (a shared file system)."
        )

    def restore(self, model: Any, ckpt: Checkpoint, callbacks: Mapping[str, Any],
                optimizer: bool = True) -> dict[str, Any]:
        """Put `ckpt` back into `model` (pass `callback.model`: on JAX reading it
        re-attaches the training state), in order: model variables (and the
        optimizer's unless `optimizer=False`), the global RNG states, each stateful
        callback's state (by state key). Returns the checkpoint's JSON state."""
        state_mod.restore_training_state(model, ckpt, optimizer=optimizer)
        state = ckpt.read_state()
        state_mod.restore_rng(state.get("rng", {}))
        saved = state.get("callbacks", {})
        for key, callback in callbacks.items():
            if saved.get(key) is not None:
                callback.load_state_dict(saved[key])
        return state

    def _describe(self, ckpt: Checkpoint, manifest: dict, started: float,
                  deleted: list[str], background: bool) -> None:
        """Print one line for a save (with `verbose`)."""
        if not self.verbose:
            return
        where = (f"end of epoch {manifest['epoch'] + 1}" if manifest["epoch_boundary"] else
                 f"epoch {manifest['epoch'] + 1}, after batch {manifest['batch'] + 1}")
        print_msg(
            f"PeriodicCheckpoint: saved {ckpt.name} ({where}, step "
            f"{manifest['global_step']}) in {time.perf_counter() - started:.2f}s"
            + (" (background)" if background else "")
            + (f"; deleted {len(deleted)} old" if deleted else "")
        )


#: The background writer's niceness (Linux): training's threads get the cores first and
#: the write, hash and fsync fill the gaps (issue #24: at nice 0 they competed with the
#: training step for the same two cores).
WRITER_NICENESS = 10


def _lower_this_thread_priority() -> None:
    """Lower the calling thread's scheduling priority (on Linux a thread is a task with its
    own nice value; threads it starts inherit it). Elsewhere, or when refused, nothing."""
    import os
    import threading

    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid)
                       + WRITER_NICENESS)
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or not permitted
        pass
