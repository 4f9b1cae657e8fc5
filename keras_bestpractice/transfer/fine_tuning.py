"""`fine_tune`: the head first, then one group at a time, top-most first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import CopyableCallback, print_msg
from keras_bestpractice._core.history import EpochHistory, accuracy_key, history_dict


@dataclass
class FineTuneResult:
    """What `fine_tune` did.

    Attributes:
        history: every epoch of every phase, as one `History.history`-shaped dict
            (a metric missing from an epoch, e.g. validation every k-th epoch, is
            NaN there), with an `epoch` list (Keras epoch indices) and a `phase` list
            naming the phase of each epoch. After a resume it holds the epochs
            before the crash too (they come back with the checkpoint).
        phases: one record per phase: `name`, `unfrozen` (groups trainable in it),
            `epochs` (Keras epoch indices), `learning_rate` (at its start),
            `trainable_weights`.
        resumed_at: the Keras epoch a `PeriodicCheckpoint` resumed the run at, or
            `None`.
        reference_history: the from-scratch reference's `History.history`, when
            the negative-transfer check ran.
        negative_transfer: the alarm's evidence (`keras_bestpractice._core.transfer.
            TransferCheck`) when the transferred model trailed the reference, else
            `None`.
    """

    history: dict[str, list[Any]] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    resumed_at: int | None = None
    reference_history: dict[str, list[float]] | None = None
    negative_transfer: Any = None


def fine_tune(model: Any, x: Any = None, y: Any = None, *, validation_data: Any = None,
              head_epochs: int = 5, epochs_per_group: int = 2, groups: Any = "all",
              lr_factor: float = 0.1, batch_size: int | None = None,
              callbacks: list | None = None, check_negative_transfer: bool = False,
              reference: Any = None, verbose: int = 0, **fit_kwargs: Any) -> FineTuneResult:
    """Train a `new_classifier` model as the handbook prescribes, as separate `fit` calls.

    1. The head, the base frozen, `head_epochs` epochs at the compiled learning rate.
    2. Then the base's groups (`layer_groups`), top-most first and the stem last,
       each unfrozen in turn and trained for `epochs_per_group` epochs together with
       everything unfrozen before it, at `lr_factor` times the learning rate (a
       `LearningRateSchedule` is scaled by `lr_factor` and starts again with the
       phase's new optimizer). Each unfreeze recompiles the model (Keras needs it
       for `trainable` to take effect) from its own compile configuration;
       BatchNormalization layers stay frozen and in inference mode.

    Epochs are numbered continuously across phases (`initial_epoch`), so callbacks
    (`PeriodicCheckpoint`, `CSVLogger`, `TrainingObjective`, `NegativeTransferAlarm`)
    see one run; a `TrainingObjective` without `max_epochs` is given the whole run's
    epochs as its budget. A callback that stops training (`EarlyStopping`,
    `TrainingObjective`, `DivergenceGuard`) ends `fine_tune` after that phase.

    Resuming: with a `PeriodicCheckpoint(resume=True)` in `callbacks`, calling
    `fine_tune` again after a crash (same model construction, same arguments)
    skips the phases already done, sets up the phase the newest checkpoint is in
    (its trainable layers and learning rate) and goes on from that checkpoint; a
    checkpoint at the end of a phase starts the next phase with a new optimizer, as
    the uninterrupted run did. `history` and `phases` include the epochs before
    the crash.

    Negative transfer (the handbook's check): with `check_negative_transfer=True`
    the same architecture is first trained from scratch (fresh weights, every layer
    trainable, the same compile settings and data) for the first 10 epochs, the
    handbook's 5-10 epoch window (fewer when `fine_tune` runs fewer), unless its
    history is given as `reference`; a `NegativeTransferAlarm` then warns, with
    the numbers, when the transferred model's best validation accuracy (under the
    name the model logs it; the training accuracy without validation data, the
    loss for a model without an accuracy metric) trails it by more than 0.02 (for
    a loss: is 0.02 higher) for 2 epochs within epochs 5-10. Put your own
    `NegativeTransferAlarm` in `callbacks` for other settings.

    Args:
        model: a compiled model holding a pre-built base (`new_classifier`).
        x, y: training data, as for `fit` (`y` may be omitted for a dataset).
        validation_data: as for `fit`. Defaults to `None`.
        head_epochs: epochs of the head phase (>= 1). Defaults to `5`.
        epochs_per_group: epochs after each unfreeze (>= 1). Defaults to `2`.
        groups: `"all"` (every group and the stem), an int k (the top-most k), or
            a list of group names in the order to unfreeze. Defaults to `"all"`.
        lr_factor: learning-rate multiplier of the fine-tuning phases, in (0, 1].
            Defaults to `0.1`.
        batch_size: as for `fit`. Defaults to `None`.
        callbacks: Keras callbacks, passed to every phase. Defaults to `None`.
        check_negative_transfer: run the negative-transfer check. Defaults to
            `False`.
        reference: the from-scratch run's history (a `History`, a dict of lists or
            a DataFrame) for the check, instead of training one. Defaults to `None`.
        verbose: passed to `fit`. Defaults to `0`.
        **fit_kwargs: other `fit` arguments (`shuffle`, `class_weight`,
            `steps_per_epoch`, `validation_freq`, ...), passed to every phase.

    Returns:
        A `FineTuneResult`.

    Warns:
        KerasBestPracticeWarning: when the base's features are the same for every
            input of a sample of `x` (a dead base): the numbers and likely causes.

    Raises:
        TypeError: for a model that is not compiled or not a Keras model, or a
            learning rate that cannot be scaled (a lambda).
        ValueError: for a model without a nested base, unknown group names, bad
            counts, or a `fit` argument fine_tune sets itself.
    """
    import keras

    from keras_bestpractice import _lr
    from keras_bestpractice.transfer.groups import find_base, layer_groups

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a Keras model, got {type(model).__name__}.")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise TypeError("`model` must be compiled (its optimizer, loss and metrics are reused "
                        "for every phase).")
    base = find_base(model)
    if base is None:
        raise ValueError("`model` holds no pre-built base model (make it with "
                         "`new_classifier(base, num_classes)`).")
    head_epochs = v.check_int("head_epochs", head_epochs, minimum=1)
    epochs_per_group = v.check_int("epochs_per_group", epochs_per_group, minimum=1)
    lr_factor = v.check_float("lr_factor", lr_factor, low=0.0, high=1.0, low_inclusive=False)
    check_negative_transfer = v.check_bool("check_negative_transfer", check_negative_transfer)
    if reference is not None and not check_negative_transfer:
        raise ValueError("`reference` is only used with `check_negative_transfer=True`.")
    _lr.check_scalable(model.optimizer, "fine_tune")
    all_groups = layer_groups(base)
    order = _unfreeze_order(all_groups, groups)
    config = model.get_compile_config()
    user_callbacks = list(callbacks or [])
    plan = [("head", [], head_epochs, 1.0)]
    plan += [(f"unfreeze {g}", order[: i + 1], epochs_per_group, lr_factor)
             for i, g in enumerate(order)]
    starts = [sum(p[2] for p in plan[:i]) for i in range(len(plan))]
    total = starts[-1] + plan[-1][2]
    owned = sorted({"epochs", "initial_epoch", "callbacks"} & set(fit_kwargs))
    if owned:
        given = ", ".join(f"`{k}`={fit_kwargs[k]!r}" for k in owned)
        raise ValueError(f"{given}: fine_tune sets epochs, initial_epoch and callbacks itself "
                         "for every phase; pass head_epochs, epochs_per_group and "
                         "callbacks=[...] as its own arguments.")
    fit_kwargs = {"validation_data": validation_data, "batch_size": batch_size,
                  "verbose": verbose, **fit_kwargs}
    result = FineTuneResult()
    from keras_bestpractice.transfer.feature_check import check_features_vary

    # A head trained on features that are the same for every input learns nothing
    # (issue #26: a base killed in domain_transfer_init, then fine-tuned without a word).
    check_features_vary(base, x, "fine_tune")

    checkpoints = [cb for cb in user_callbacks if _is_resuming_checkpoint(cb)]
    points = [p for cb in checkpoints if (p := cb.resume_point()) is not None]
    resume_at = max((epoch for epoch, _ in points), default=None)
    first = 0
    if resume_at is not None:
        done = [i for i in range(len(plan)) if starts[i] + plan[i][2] <= resume_at]
        first = min(len(done), len(plan) - 1)
        result.resumed_at = resume_at
    recorder = _PhaseRecorder()

    alarm = None
    if check_negative_transfer:
        from keras_bestpractice.callbacks.negative_transfer_alarm import NegativeTransferAlarm
        from keras_bestpractice.transfer.scratch_run import train_reference

        if reference is None:
            # A resumed run compares with the reference it trained before the kill.
            saved = [states.get(recorder.state_key) or {} for _, states in points]
            reference = next((s["reference"] for s in saved if s.get("reference")), None)
        if reference is None:
            if verbose:
                print_msg(f"fine_tune: reference run: the same architecture trained from "
                          f"scratch for {min(10, total)} epochs (for the negative-transfer "
                          "check; not the model being fine-tuned)")
            reference = train_reference(model, x, y, epochs=min(10, total), **fit_kwargs)
        recorder.reference = result.reference_history = history_dict(reference)
        monitor = _transfer_monitor(result.reference_history, validation_data is not None)
        alarm = NegativeTransferAlarm(reference, monitor=monitor, verbose=verbose)

    all_callbacks = [recorder, *([alarm] if alarm else []), *user_callbacks]
    saved_resume = [(cb, cb.resume, cb.fresh_optimizer_epoch) for cb in checkpoints]
    # Each phase's fit knows only its own end: a TrainingObjective without a budget
    # gets the whole run's.
    budgeted = [cb for cb in user_callbacks if _is_unbudgeted_objective(cb)]
    for cb in budgeted:
        cb.max_epochs = total
    try:
        for i in range(first, len(plan)):
            if i > first and model.stop_training:
                break
            name, unfrozen, epochs, factor = plan[i]
            for cb in checkpoints:
                # Only the first fit of this call resumes; later phases go on in memory.
                cb.resume = cb.resume and i == first
                cb.fresh_optimizer_epoch = starts[i] if starts[i] > 0 else None
            _set_trainable(base, all_groups, unfrozen)
            _recompile(model, config, factor)
            recorder.begin_phase(name, unfrozen, _lr.current_lr(model.optimizer),
                                 len(model.trainable_weights))
            if verbose:
                print_msg(f"fine_tune: phase {i + 1}/{len(plan)} {name!r}: epochs "
                          f"{starts[i] + 1}-{starts[i] + epochs}, learning rate "
                          f"{_lr.current_lr(model.optimizer):.3g}, "
                          f"{len(model.trainable_weights)} trainable weights")
            model.fit(x, y, initial_epoch=starts[i], epochs=starts[i] + epochs,
                      callbacks=all_callbacks, **fit_kwargs)
    finally:
        for cb, resume, fresh in saved_resume:
            cb.resume, cb.fresh_optimizer_epoch = resume, fresh
        for cb in budgeted:
            cb.max_epochs = None
    result.history = recorder.history_dict()
    result.phases = [dict(p) for p in recorder.phases]
    if alarm is not None:
        result.negative_transfer = alarm.alarm
    return result


def _transfer_monitor(reference: dict[str, list[float]] | None, validated: bool) -> str:
    """The metric the negative-transfer check compares: the accuracy under the name the
    model logs it (`accuracy`, `sparse_categorical_accuracy`, ...: `ACCURACY_KEYS`, as
    `diagnose` reads it), else the loss; validation values with validation data."""
    prefix = "val_" if validated else ""
    if reference is None:
        return f"{prefix}accuracy"
    return accuracy_key(reference, prefix) or f"{prefix}loss"


def _is_unbudgeted_objective(callback: Any) -> bool:
    from keras_bestpractice.callbacks.training_objective import TrainingObjective

    return isinstance(callback, TrainingObjective) and callback.max_epochs is None


def _is_resuming_checkpoint(callback: Any) -> bool:
    from keras_bestpractice.callbacks.periodic_checkpoint import PeriodicCheckpoint

    return isinstance(callback, PeriodicCheckpoint) and callback.resume


class _PhaseRecorder(CopyableCallback):
    """Every epoch of every phase, kept as resumable state (`PeriodicCheckpoint`
    saves it with the run, so a resumed `fine_tune` returns the whole history)."""

    def __init__(self):
        super().__init__()
        self._history = EpochHistory()
        self.phase_of_epoch: list[str] = []
        self.phases: list[dict[str, Any]] = []
        self.reference: dict[str, list[float]] | None = None
        self._current: dict[str, Any] = {}

    def begin_phase(self, name: str, unfrozen: list[str], learning_rate: float,
                    trainable_weights: int) -> None:
        self._current = {"name": name, "unfrozen": list(unfrozen), "epochs": [],
                         "learning_rate": float(learning_rate),
                         "trainable_weights": int(trainable_weights)}

    def on_epoch_end(self, epoch, logs=None):
        if not self.phases or self.phases[-1]["name"] != self._current["name"]:
            self.phases.append(dict(self._current, epochs=[]))
        self.phases[-1]["epochs"].append(int(epoch))
        self._history.append(epoch, logs)
        self.phase_of_epoch.append(self._current["name"])

    def history_dict(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = self._history.to_dict(with_epoch=True)
        out["phase"] = list(self.phase_of_epoch)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"history": self._history.to_dict(with_epoch=True),
                "phase": list(self.phase_of_epoch),
                "phases": [dict(p, epochs=list(p["epochs"])) for p in self.phases],
                "reference": self.reference}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._history = EpochHistory.from_dict(state.get("history", {}))
        self.phase_of_epoch = list(state.get("phase", []))
        self.phases = [dict(p) for p in state.get("phases", [])]
        self.reference = state.get("reference") or self.reference


def _unfreeze_order(all_groups: dict[str, list[Any]], groups: Any) -> list[str]:
    top_first = [g for g in reversed(list(all_groups)) if g not in ("stem", "head")]
    if "stem" in all_groups:
        top_first.append("stem")  # the stem last
    if groups == "all":
        return top_first
    if isinstance(groups, int) and not isinstance(groups, bool):
        if not 0 <= groups <= len(top_first):
            raise ValueError(f"`groups`={groups} must be in [0, {len(top_first)}] (the base has "
                             f"{top_first}).")
        return top_first[:groups]
    if isinstance(groups, (list, tuple)):
        unknown = [g for g in groups if g not in top_first]
        if unknown:
            raise ValueError(f"`groups` names {unknown}; the base's groups are {top_first}.")
        return list(groups)
    raise TypeError(f"`groups` must be 'all', an int or a list of group names, got {groups!r}.")


def _set_trainable(base: Any, all_groups: dict[str, list[Any]], unfrozen: list[str]) -> None:
    import keras

    base.trainable = bool(unfrozen)
    if not unfrozen:
        return
    chosen = {id(layer) for g in unfrozen for layer in all_groups[g]}
    for layer in base.layers:
        layer.trainable = id(layer) in chosen and \
            not isinstance(layer, keras.layers.BatchNormalization)


def _recompile(model: Any, config: dict, factor: float) -> None:
    """Compile `model` again from its compile configuration, the learning rate (a
    float or a schedule) times `factor`: a new optimizer, as `trainable` needs."""
    import copy

    import keras

    from keras_bestpractice._lr import ScaledSchedule

    cfg = copy.deepcopy(config)
    opt = cfg["optimizer"]["config"]
    if "learning_rate" not in opt and "inner_optimizer" in opt:  # LossScaleOptimizer
        opt = opt["inner_optimizer"]["config"]
    lr = opt["learning_rate"]
    if factor != 1.0:
        if isinstance(lr, (int, float)):
            opt["learning_rate"] = float(lr) * factor
        else:
            schedule = keras.optimizers.schedules.deserialize(lr)
            if isinstance(schedule, ScaledSchedule):
                schedule = ScaledSchedule(schedule.schedule, schedule.scale * factor)
            else:
                schedule = ScaledSchedule(schedule, factor)
            opt["learning_rate"] = keras.saving.serialize_keras_object(schedule)
    model.compile_from_config(cfg)
