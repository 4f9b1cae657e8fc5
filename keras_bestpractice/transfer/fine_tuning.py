"""`fine_tune`: the head first, then one group at a time, top-most first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keras_bestpractice import _validation as v


@dataclass
class FineTuneResult:
    """What `fine_tune` did.

    Attributes:
        history: every epoch of every phase, as one `History.history`-shaped dict,
            with a `phase` list naming the phase of each epoch.
        phases: one record per phase: `name`, `unfrozen` (groups trainable in it),
            `epochs` (Keras epoch indices), `learning_rate`, `trainable_weights`.
    """

    history: dict[str, list[Any]] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)


def fine_tune(model: Any, x: Any = None, y: Any = None, *, validation_data: Any = None,
              head_epochs: int = 5, epochs_per_group: int = 2, groups: Any = "all",
              lr_factor: float = 0.1, batch_size: int | None = None,
              callbacks: list | None = None, verbose: int = 0) -> FineTuneResult:
    """Train a `new_classifier` model as the handbook prescribes, as separate `fit` calls.

    1. The head, the base frozen, `head_epochs` epochs at the compiled learning rate.
    2. Then the base's groups (`layer_groups`), top-most first and the stem last,
       each unfrozen in turn and trained for `epochs_per_group` epochs together with
       everything unfrozen before it, at `lr_factor` times the learning rate. Each
       unfreeze recompiles the model (Keras needs it for `trainable` to take effect)
       from its own compile configuration; BatchNormalization layers stay frozen
       and in inference mode.

    Epochs are numbered continuously across phases (`initial_epoch`), so callbacks
    (`PeriodicCheckpoint`, `CSVLogger`, `TrainingDiagnostics`) see one run. A callback
    that stops training (`EarlyStopping`, `TrainingObjective`, `DivergenceGuard`) ends
    `fine_tune` after that phase.

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
        verbose: passed to `fit`. Defaults to `0`.

    Returns:
        A `FineTuneResult`.

    Raises:
        TypeError: for a model that is not compiled or not a Keras model.
        ValueError: for a model without a nested base, unknown group names, or bad
            counts.
    """
    import keras

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
    all_groups = layer_groups(base)
    order = _unfreeze_order(all_groups, groups)
    config = model.get_compile_config()
    base_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    fit_kwargs = {"validation_data": validation_data, "batch_size": batch_size,
                  "callbacks": list(callbacks or []), "verbose": verbose}
    result = FineTuneResult()
    epoch = 0

    def run_phase(name: str, unfrozen: list[str], epochs: int, lr: float) -> None:
        nonlocal epoch
        _set_trainable(base, all_groups, unfrozen)
        _recompile(model, config, lr)
        history = model.fit(x, y, initial_epoch=epoch, epochs=epoch + epochs, **fit_kwargs)
        for key, values in history.history.items():
            result.history.setdefault(key, []).extend(float(val) for val in values)
        ran = len(next(iter(history.history.values()), []))
        result.history.setdefault("phase", []).extend([name] * ran)
        result.phases.append({"name": name, "unfrozen": list(unfrozen),
                              "epochs": list(range(epoch, epoch + ran)),
                              "learning_rate": lr,
                              "trainable_weights": len(model.trainable_weights)})
        epoch += ran

    run_phase("head", [], head_epochs, base_lr)
    unfrozen: list[str] = []
    for group in order:
        if model.stop_training:
            break
        unfrozen.append(group)
        run_phase(f"unfreeze {group}", unfrozen, epochs_per_group, base_lr * lr_factor)
    return result


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


def _recompile(model: Any, config: dict, lr: float) -> None:
    import copy

    cfg = copy.deepcopy(config)
    cfg["optimizer"]["config"]["learning_rate"] = lr
    model.compile_from_config(cfg)
