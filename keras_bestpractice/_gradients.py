"""Loss and gradients of a probe batch, with each Keras backend's own mechanism.

`TrainingDiagnostics` probes gradient norms in inference mode on a small batch;
this is the one place that knows how each backend differentiates:
TensorFlow's `GradientTape`, JAX's `value_and_grad` over `stateless_call`, and
PyTorch's autograd. Nothing is updated: no optimizer step, no metric, no
BatchNorm statistics, no RNG state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

ProbeFunction = Callable[[Any, Any, Any], tuple[float, list]]


def loss_and_gradients(model: Any, x: Any, y: Any,
                       sample_weight: Any = None) -> tuple[float, list[np.ndarray | None]]:
    """`(loss, gradients)` of `model` on `(x, y)`; gradients follow `model.trainable_variables`
    (`None` for a variable the loss does not depend on).

    Raises:
        NotImplementedError: on a backend other than TensorFlow, JAX or PyTorch.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(model, x, y, sample_weight)
    if backend == "jax":
        return _jax(model, x, y, sample_weight)
    if backend == "torch":
        return _torch(model, x, y, sample_weight)
    raise NotImplementedError(f"gradient probes do not support the {backend!r} backend "
                              "(TensorFlow, JAX and PyTorch are supported).")


def compiled_loss_and_gradients(model: Any, probe_model: Any = None) -> ProbeFunction:
    """`loss_and_gradients` for `model` as one compiled function (a `tf.function` on
    TensorFlow, `jax.jit` on JAX), returning `(loss, gradients, activations)`: a
    probe run every epoch costs what a training step costs, not an eager pass op by
    op (issue #23: the eager probe cost 8-11% of a CNN epoch of 32 steps).

    `probe_model`: a `keras.Model` over the same layers whose outputs are `model`'s
    output followed by hidden activations; its forward pass then serves the loss and
    the activations at once (one pass, not two). Build it again when the trainable
    variables change. Other backends get the eager function (no activations).
    """
    import keras

    backend = keras.backend.backend()
    forward = probe_model if probe_model is not None else model

    def split(outs):
        if probe_model is None:
            return outs, []
        return outs[0], list(outs[1:])

    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def step(x, y, sample_weight):
            with tf.GradientTape() as tape:
                y_pred, aux = split(forward(x, training=False))
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                          training=False)
            variables = [v.value for v in model.trainable_variables]
            grads = tape.gradient(loss, variables)
            return loss, [tf.zeros_like(v) if g is None else g
                          for v, g in zip(variables, grads, strict=True)], \
                [g is None for g in grads], aux

        def run(x, y, sample_weight=None):
            loss, grads, missing, aux = step(x, y, sample_weight)
            return float(loss.numpy()), [None if m else np.asarray(g)
                                         for g, m in zip(grads, missing, strict=True)], \
                [np.asarray(a) for a in aux]

        return run
    if backend == "jax":
        import jax

        # The forward model's variables are the model's (shared layers), maybe in
        # another order: gradients are taken in its order and handed back in the model's.
        position = {id(v): i for i, v in enumerate(forward.trainable_variables)}
        order = [position.get(id(v)) for v in model.trainable_variables]

        def loss_fn(values, non_trainable, model_non_trainable, metrics, x, y, sample_weight):
            outs, _ = forward.stateless_call(values, non_trainable, x, training=False)
            y_pred, aux = split(outs)
            model_values = [values[i] if i is not None else v.value
                            for i, v in zip(order, model.trainable_variables, strict=True)]
            loss, _ = model.stateless_compute_loss(model_values, model_non_trainable, metrics,
                                                   x=x, y=y, y_pred=y_pred,
                                                   sample_weight=sample_weight, training=False)
            return loss, aux

        step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))

        def run(x, y, sample_weight=None):
            (loss, aux), grads = step(
                [v.value for v in forward.trainable_variables],
                [v.value for v in forward.non_trainable_variables],
                [v.value for v in model.non_trainable_variables],
                [v.value for v in model.metrics_variables], x, y, sample_weight)
            return float(loss), [None if i is None else np.asarray(grads[i]) for i in order], \
                [np.asarray(a) for a in aux]

        return run

    def eager(x, y, sample_weight=None):
        loss, grads = loss_and_gradients(model, x, y, sample_weight)
        return loss, grads, []

    return eager


def _tensorflow(model, x, y, sample_weight):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                  training=False)
    grads = tape.gradient(loss, [v.value for v in model.trainable_variables])
    return float(loss.numpy()), [None if g is None else np.asarray(g) for g in grads]


def _jax(model, x, y, sample_weight):
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    metrics = [v.value for v in model.metrics_variables]

    def loss_fn(values):
        y_pred, _ = model.stateless_call(values, non_trainable, x, training=False)
        loss, _ = model.stateless_compute_loss(values, non_trainable, metrics, x=x, y=y,
                                               y_pred=y_pred, sample_weight=sample_weight,
                                               training=False)
        return loss

    loss, grads = jax.value_and_grad(loss_fn)(trainable)
    return float(loss), [np.asarray(g) for g in grads]


def _torch(model, x, y, sample_weight):  # pragma: no cover - run when torch is installed
    import torch

    y_pred = model(x, training=False)
    loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                              training=False)
    params = [v.value for v in model.trainable_variables]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return float(loss.detach().cpu()), [None if g is None else g.detach().cpu().numpy()
                                         for g in grads]
