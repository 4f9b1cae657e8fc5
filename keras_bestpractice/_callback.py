"""The base under every callback of this package (`callbacks/`, `data/`, `hparams/`, `tuning/`).

It sits below the subpackages so that none of them imports another to get it
(the feeders and the HParams logger are callbacks too):

- `CopyableCallback`: deep copies without the model (KerasTuner copies callbacks
  for every execution), a `state_key` for callbacks with `state_dict()`;
- `print_msg`: Keras-style output;
- `stateful_callbacks(params)`: how `PeriodicCheckpoint` finds the other stateful
  callbacks of the same `fit` (see its docstring);
- `record_stop(model, reason, detail=...)` / `stop_reason_of(model)` /
  `stop_detail_of(model)`: why the running `fit` of `model` was stopped by one of our
  callbacks, and what it saw (Keras gives a callback no view of its siblings;
  `HParamsLogger` reads this to end a stopped run as `Failure`, `TrainingDiagnostics`
  so that a run the guard stopped is not called healthy);
- `record_restore(model, ...)` / `restore_of(model)`: which earlier state a callback
  (the guard) put back into `model` in which epoch, so that `PeriodicCheckpoint`
  names a checkpoint for the state it holds.
"""

from __future__ import annotations

import copy
import logging
import sys
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

log = logging.getLogger("keras_bestpractice")


_STOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_RESTORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def record_stop(model: Any, reason: Any, source: str = "DivergenceGuard",
                detail: Mapping[str, Any] | None = None) -> None:
    """Note that `reason` (a `StopReason`) from callback `source` stopped `model`'s
    `fit`, with what the source saw (`detail`: plain values); `None` clears it."""
    try:
        if reason is None:
            _STOPS.pop(model, None)
        else:
            _STOPS[model] = (source, reason, dict(detail or {}))
    except TypeError:  # pragma: no cover - an object that cannot be weakly referenced
        pass


def stop_reason_of(model: Any) -> tuple[str, Any] | None:
    """`(source, reason)` recorded by `record_stop` for `model`'s current `fit`, or `None`."""
    try:
        stop = _STOPS.get(model)
    except TypeError:  # pragma: no cover
        return None
    return None if stop is None else (stop[0], stop[1])


def stop_detail_of(model: Any) -> dict[str, Any] | None:
    """The `detail` recorded with `model`'s stop (`TrainingDiagnostics` reads the guard's),
    or `None` when nothing stopped it."""
    try:
        stop = _STOPS.get(model)
    except TypeError:  # pragma: no cover
        return None
    return None if stop is None else dict(stop[2])


def record_restore(model: Any, in_epoch: int | None, epoch: int = 0, batch: int | None = None,
                   where: str = "end") -> None:
    """Note that in epoch `in_epoch` a callback put back into `model` the state it had
    at `where` ("start", "batch" or "end") of epoch `epoch` (`batch` for "batch");
    `in_epoch=None` clears it."""
    try:
        if in_epoch is None:
            _RESTORES.pop(model, None)
        else:
            _RESTORES[model] = {"in_epoch": int(in_epoch), "epoch": int(epoch),
                                "batch": batch, "where": where}
    except TypeError:  # pragma: no cover - an object that cannot be weakly referenced
        pass


def restore_of(model: Any) -> dict[str, Any] | None:
    """The last `record_restore` for `model`'s current `fit`, or `None`."""
    try:
        restored = _RESTORES.get(model)
    except TypeError:  # pragma: no cover
        return None
    return dict(restored) if restored is not None else None


def print_msg(message: str) -> None:
    """Print like Keras's own callbacks: stdout when interactive logging is on, else log."""
    import keras

    if keras.config.is_interactive_logging_enabled():
        sys.stdout.write(message + "\n")
        sys.stdout.flush()
    else:
        log.info(message)


def num_classes_of(model: Any) -> int | None:
    """Classes from a single-output model's output width (1 unit: binary), or `None`."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    width = outputs[0].shape[-1]
    if width is None:
        return None
    return 2 if int(width) == 1 else int(width)


def output_losses(model: Any) -> dict[str, Any] | None:
    """`{output name: compiled loss}` for a multi-output model, `None` for one output."""
    names = list(getattr(model, "output_names", None) or [])
    if len(names) < 2:
        return None
    loss = getattr(model, "loss", None)
    if isinstance(loss, Mapping):
        return {name: loss.get(name) for name in names}
    if isinstance(loss, (list, tuple)) or (loss is not None and hasattr(loss, "__len__")
                                          and not isinstance(loss, str)):
        items = list(loss)
        if len(items) == len(names):
            return dict(zip(names, items, strict=True))
        return {name: None for name in names}
    return {name: loss for name in names}


def output_widths(model: Any) -> dict[str, int | None]:
    """`{output name: last-axis width}` of every output of a built functional model."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return {}
    names = list(getattr(model, "output_names", None) or [])
    if not outputs or len(names) != len(outputs):
        return {}
    return {name: (None if out.shape[-1] is None else int(out.shape[-1]))
            for name, out in zip(names, outputs, strict=True)}


def reference_for(model: Any, num_classes: int | None = None, class_prior: Any = None,
                  targets: Any = None, loss: Any = None, width: int | None = None):
    """The `_core.reference.ReferenceLevel` of a model's compiled loss, or `None` (unknown).

    `loss`/`width` name one output's loss and width (multi-output models); by
    default the model's single compiled loss and output width are read.
    """
    from keras_bestpractice._core.reference import loss_kind, reference_level

    kind = loss_kind(getattr(model, "loss", None) if loss is None else loss)
    if width is None:
        outputs = getattr(model, "outputs", None) or []
        if len(outputs) == 1 and outputs[0].shape[-1] is not None:
            width = int(outputs[0].shape[-1])
    if kind == "classification" and width == 1:
        width = None  # a one-unit output is not a softmax over classes
    return reference_level(kind, num_classes=num_classes or width,
                           class_prior=class_prior, targets=targets)


def _callback_base():
    import keras

    return keras.callbacks.Callback


_STATEFUL: list[weakref.ref] = []  # callbacks exposing state_dict(), weakly held


def _register_stateful(callback: Any) -> None:
    _STATEFUL[:] = [ref for ref in _STATEFUL if ref() is not None]
    if not any(ref() is callback for ref in _STATEFUL):
        _STATEFUL.append(weakref.ref(callback))


def stateful_callbacks(params: Any) -> dict[str, Any]:
    """`{state_key: callback}` of our callbacks with `state_dict()` in the `fit` of `params`.

    Keras hands every callback of one `CallbackList` the same `params` dict (in
    `set_params`, before `on_train_begin`), so its identity tells which callbacks
    train together; each registers itself there. Two callbacks with the same
    `state_key` (the same class and arguments) are told apart by their order in
    the callback list: the second gets `#2` appended, and so on.
    """
    found: dict[str, Any] = {}
    if params is None:
        return found
    for ref in list(_STATEFUL):
        callback = ref()
        if callback is None or callback.params is not params:
            continue
        key, n = callback.state_key, 1
        while key in found:
            n += 1
            key = f"{callback.state_key}#{n}"
        found[key] = callback
    return found


class CopyableCallback(_callback_base()):
    """A Keras callback whose deep copy does not drag the model along.

    KerasTuner deep-copies callbacks for every execution, and users copy
    configured callbacks; copying `self.model` with them would duplicate a whole
    network (and fail for models holding non-copyable state). The copy gets no
    model: Keras calls `set_model` on it when it is used. Attributes named in
    `_NOT_COPIED` (threads, host snapshots) are set to `None` in the copy; those in
    `_SHARED` (a tuner, the record of a trial) are the same object in the copy.

    A subclass with `state_dict()`/`load_state_dict()` is resumable by
    `PeriodicCheckpoint`; its `state_key` (class name plus the arguments of
    `_state_key_args()`, as Lightning's callbacks do) names its state in the
    checkpoint, so two instances with different arguments keep separate state.
    """

    _NOT_COPIED: tuple[str, ...] = ("_model",)
    # Attributes the copy shares with the original (a tuner, a record of the trial).
    _SHARED: tuple[str, ...] = ()

    def set_params(self, params):
        super().set_params(params)
        if hasattr(self, "state_dict"):
            _register_stateful(self)

    def _state_key_args(self) -> dict[str, Any]:
        return {}

    @property
    def state_key(self) -> str:
        """The key of this callback's state in a checkpoint."""
        args = self._state_key_args()
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(args.items()))
        return f"{type(self).__qualname__}{{{inner}}}"

    def __deepcopy__(self, memo):
        cls = self.__class__
        new = cls.__new__(cls)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key in self._NOT_COPIED:
                setattr(new, key, None)
            elif key in self._SHARED:
                setattr(new, key, value)
            else:
                setattr(new, key, copy.deepcopy(value, memo))
        return new


def is_chief(model: Any) -> bool:
    """False on a worker that must not write: a non-chief worker of a `tf.distribute`
    multi-worker strategy, or a JAX process other than process 0 of a multi-process
    run (`jax.distributed`). Files a run writes (checkpoints, HParams sessions) come
    from the chief only; every worker still runs the callbacks' logic."""
    strategy = getattr(model, "distribute_strategy", None)
    extended = getattr(strategy, "extended", None)
    if extended is not None and not bool(getattr(extended, "should_checkpoint", True)):
        return False
    if "jax" in sys.modules:
        try:
            import jax

            if jax.process_count() > 1:
                return jax.process_index() == 0
        except Exception:  # noqa: BLE001 - no JAX runtime: a single process
            return True
    return True


class JaxProcesses:
    """The processes of a multi-process JAX run (`jax.distributed` /
    `keras.distribution.initialize`), as `cluster_strategy` returns them."""

    def __init__(self, count: int):
        self.count = count

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over the processes (a collective: every process calls it)."""
        from jax.experimental import multihost_utils

        gathered = multihost_utils.process_allgather(np.asarray(values, dtype=np.float32))
        return [float(v) for v in np.asarray(gathered).reshape(self.count, -1).sum(axis=0)]


def cluster_strategy(model: Any) -> Any:
    """What spans more than one worker: the model's `tf.distribute` strategy, or the
    processes of a multi-process JAX run (`JaxProcesses`); else `None`.

    Under `MultiWorkerMirroredStrategy` or `jax.distributed` every worker runs the same
    callbacks at the same steps; decisions that must be the same everywhere (roll back,
    stop, save) are then combined with `cluster_sum`.
    """
    if "jax" in sys.modules and getattr(model, "distribute_strategy", None) is None:
        try:
            import jax

            if jax.process_count() > 1:
                return JaxProcesses(jax.process_count())
        except Exception:  # noqa: BLE001 - no JAX runtime: a single process
            pass
    strategy = getattr(model, "distribute_strategy", None)
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return None
    try:
        spec = resolver.cluster_spec().as_dict()
    except Exception:  # noqa: BLE001 - no cluster: a single worker
        return None
    tasks = sum(len(spec.get(job, [])) for job in ("chief", "worker"))
    return strategy if tasks > 1 else None


def cluster_sum(strategy: Any, values: list[float]) -> list[float]:
    """Element-wise sum of `values` over every replica of every worker (a collective:
    every worker must call it at the same point)."""
    if isinstance(strategy, JaxProcesses):
        return strategy.sum(values)
    import tensorflow as tf

    local = tf.constant(values, tf.float32)
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: local), axis=None)
    return [float(v) for v in total.numpy()]
