"""What a resumable checkpoint holds, and putting it back.

Weights and optimizer variables are not enough for an exact resume: Dropout and
the other random layers keep their RNG in Keras `SeedGenerator` state variables
(`model.variables` lists them, `model.weights` does not); the NumPy, Python and
TensorFlow global generators move on; a mid-epoch resume also needs the
epoch's running metric accumulators. Keras's own global `SeedGenerator` (used by
`keras.random` calls without an explicit generator) is out of public reach and
is not saved.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from keras_bestpractice._snapshot import ensure_optimizer_built

GROUPS = ("weights", "optimizer", "seeds", "metrics")


def _var_name(variable: Any, index: int) -> str:
    return str(getattr(variable, "path", None) or getattr(variable, "name", f"var_{index}"))


def _values(variables: list[Any], lazy: bool = False) -> list[tuple[str, Any]]:
    if lazy:
        import tensorflow as tf

        # A read of a TensorFlow resource variable is a snapshot that shares the
        # buffer until the next in-place update, which then copies it (copy on
        # write): taking it costs almost nothing, and the background writer turns
        # it into bytes while training goes on.
        return [(_var_name(v, i), tf.convert_to_tensor(v)) for i, v in enumerate(variables)]
    # `numpy()` copies the variable into host memory: later updates do not change it.
    return [(_var_name(v, i), np.asarray(v.numpy())) for i, v in enumerate(variables)]


def non_trainable_state(model: Any) -> list[Any]:
    """Every non-trainable model variable: BatchNormalization statistics, seed-generator
    states, counters a layer updates in `call()`."""
    return [v for v in model.variables if not v.trainable]


def run_identity(model: Any, run_id: str | None = None) -> dict[str, Any]:
    """What makes a checkpoint belong to this run: the architecture (layer classes and
    the shape and dtype of every weight, in order; variable names are left out, Keras
    numbers them per process), the optimizer class and the user's `run_id`."""
    import hashlib
    import json

    layers = [type(layer).__name__ for layer in getattr(model, "layers", [])]
    weights = [[list(map(int, w.shape)), str(w.dtype)] for w in model.weights]
    text = json.dumps({"layers": layers, "weights": weights}, sort_keys=True)
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", None)
    name = type(optimizer).__name__ if optimizer is not None else None
    if inner is not None:
        name = f"{name}({type(inner).__name__})"
    return {
        "architecture": hashlib.sha256(text.encode()).hexdigest()[:16],
        "layers": len(layers),
        "parameters": int(sum(int(np.prod(w[0], dtype=np.int64)) for w in weights)),
        "optimizer": name,
        "run_id": run_id,
    }


def identity_differences(saved: Any, current: dict[str, Any]) -> list[str]:
    """What differs between a checkpoint's run identity and this run's (empty: same run)."""
    if not isinstance(saved, dict):
        return ["the checkpoint has no run identity"]
    out = []
    if saved.get("architecture") != current["architecture"]:
        out.append(f"the model differs ({saved.get('layers')} layers, "
                   f"{saved.get('parameters')} parameters in the checkpoint; "
                   f"{current['layers']} layers, {current['parameters']} parameters now)")
    if saved.get("optimizer") != current["optimizer"]:
        out.append(f"the optimizer differs ({saved.get('optimizer')} in the checkpoint, "
                   f"{current['optimizer']} now)")
    if saved.get("run_id") != current["run_id"]:
        out.append(f"run_id differs ({saved.get('run_id')!r} in the checkpoint, "
                   f"{current['run_id']!r} now)")
    return out


def seed_variables(model: Any) -> list[Any]:
    """State variables of the model's `SeedGenerator`s (in `variables`, not `weights`)."""
    weight_ids = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weight_ids]


def capture_arrays(model: Any, include_metrics: bool,
                   lazy: bool = False) -> dict[str, list[tuple[str, Any]]]:
    """Copies of everything array-shaped to save (host arrays, or tensor snapshots
    with `lazy=True` for a background writer)."""
    ensure_optimizer_built(model)
    arrays = {
        "weights": _values(list(model.weights), lazy),
        "seeds": _values(seed_variables(model), lazy),
    }
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        arrays["optimizer"] = _values(list(optimizer.variables), lazy)
    if include_metrics:
        arrays["metrics"] = _values(list(model.metrics_variables), lazy)
    return arrays


def capture_rng() -> dict[str, Any]:
    """NumPy, Python and TensorFlow global generator states, as JSON-able data."""
    import tensorflow as tf

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    out: dict[str, Any] = {
        "numpy": {"kind": kind, "keys": keys.tolist(), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    try:
        generator = tf.random.get_global_generator()
    except RuntimeError:
        # With op determinism on, TensorFlow refuses an unseeded global generator:
        # then nothing uses it and there is nothing to save.
        return out
    out["tensorflow_global"] = {"state": generator.state.numpy().tolist(),
                                "algorithm": int(generator.algorithm)}
    return out


def restore_rng(state: dict[str, Any]) -> None:
    import tensorflow as tf

    if "numpy" in state:
        s = state["numpy"]
        np.random.set_state((s["kind"], np.array(s["keys"], dtype=np.uint32), s["pos"],
                             s["has_gauss"], s["cached_gaussian"]))
    if "python" in state:
        s = state["python"]
        random.setstate((s["version"], tuple(s["internal"]), s["gauss_next"]))
    if "tensorflow_global" in state:
        s = state["tensorflow_global"]
        try:
            generator = tf.random.get_global_generator()
        except RuntimeError:
            return
        if int(generator.algorithm) == int(s["algorithm"]):
            generator.reset(np.array(s["state"], dtype=np.int64))


def _check_fits(variables: list[Any], shapes: list[tuple[int, ...]], names: list[str],
                what: str) -> None:
    if len(variables) != len(shapes):
        raise ValueError(
            f"the checkpoint holds {len(shapes)} {what} but the model has {len(variables)}: it "
            "was saved from a different model. Use another directory or resume=False."
        )
    for i, (variable, shape) in enumerate(zip(variables, shapes, strict=True)):
        if tuple(variable.shape) != tuple(shape):
            raise ValueError(
                f"{what} {i} ({names[i] if i < len(names) else '?'}) has shape "
                f"{tuple(shape)} in the checkpoint but {tuple(variable.shape)} in the "
                "model: it was saved from a different model."
            )


def _assign_group(variables: list[Any], checkpoint: Any, group: str, what: str) -> None:
    """Assign `group`'s arrays to `variables`, read and assigned one at a time (every shape
    is checked from the manifest first, so a wrong model changes nothing)."""
    _check_fits(variables, checkpoint.array_shapes(group), checkpoint.array_names(group),
                what)
    for variable, value in zip(variables, checkpoint.iter_arrays(group), strict=True):
        variable.assign(value)
        del value  # one array in memory at a time


def restore_weights(model: Any, checkpoint: Any) -> None:
    """Assign the saved `model.weights` (enough for inference): no other group is read."""
    _assign_group(list(model.weights), checkpoint, "weights", "weights")


def restore_training_state(model: Any, checkpoint: Any, optimizer: bool = True) -> None:
    """Weights, seed-generator states and (unless `optimizer=False`) optimizer variables,
    each array read from the file and assigned before the next is read."""
    _check_fits(list(model.weights), checkpoint.array_shapes("weights"),
                checkpoint.array_names("weights"), "weights")
    seed_shapes = checkpoint.array_shapes("seeds")
    optimizer_shapes = checkpoint.array_shapes("optimizer") if optimizer else []
    opt = getattr(model, "optimizer", None)
    if optimizer_shapes and opt is not None:
        ensure_optimizer_built(model)
        _check_fits(list(opt.variables), optimizer_shapes,
                    checkpoint.array_names("optimizer"), "optimizer variables")
    if seed_shapes:
        _check_fits(seed_variables(model), seed_shapes, checkpoint.array_names("seeds"),
                    "seed-generator states")
    restore_weights(model, checkpoint)
    if seed_shapes:
        _assign_group(seed_variables(model), checkpoint, "seeds", "seed-generator states")
    if optimizer_shapes and opt is not None:
        _assign_group(list(opt.variables), checkpoint, "optimizer", "optimizer variables")


def add_metric_totals(model: Any, names: list[str], values: list[np.ndarray]) -> int:
    """Add saved metric accumulators to the current ones, matched by variable path.

    Keras metrics keep additive accumulators (totals, counts, confusion counts),
    so the epoch's running means after a mid-epoch resume equal those of an
    uninterrupted epoch. Compile metrics are built at the first step, so this
    runs after it. Returns how many variables were updated.
    """
    saved = dict(zip(names, values, strict=True))
    done = 0
    for i, variable in enumerate(model.metrics_variables):
        value = saved.get(_var_name(variable, i))
        if value is not None and tuple(value.shape) == tuple(variable.shape):
            variable.assign(variable.numpy() + value)
            done += 1
    return done
