"""Rules over in-training signals (probes), used by the `TrainingDiagnostics` callback.

Pure functions over plain numbers and dicts (no TensorFlow): the callback measures,
these decide. Each returns a `Finding` or `None`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from keras_bestpractice.diagnostics.chance import ChanceLevel
from keras_bestpractice.diagnostics.finding import DEFAULT_SEVERITY, Finding

# An untrained softmax classifier starts near ln C (Karpathy, "A Recipe for Training
# Neural Networks": "verify loss @ init"). Twice that means large initial logits
# (unnormalised inputs, too large an initial weight scale); a quarter of it is
# suspicious for a model that has not been trained (label leakage), unless pretrained.
BAD_INIT_HIGH_FACTOR = 2.0
BAD_INIT_LOW_FACTOR = 0.25
# Inputs "normalised" means roughly zero mean and unit scale, or [0, 1]. Raw pixels
# (0-255, or 0-16 for scikit-learn's digits) have a standard deviation far above 1.
INPUT_MAX_ABS_MEAN = 3.0
INPUT_MAX_STD = 3.0
INPUT_MAX_ABS = 20.0
# Exploding: a gradient norm that is not finite, above 1e3, or 100x its first probe.
EXPLODING_ABS_NORM = 1e3
EXPLODING_GROWTH = 100.0
# Vanishing: the first layer's gradient norm below 1e-4 of the last layer's (sigmoid
# or tanh stacks without normalisation), or every gradient below 1e-8.
VANISHING_DEPTH_RATIO = 1e-4
VANISHING_ABS_NORM = 1e-8
# Dead ReLU units: no activation on any probe sample. Half a layer dead is a clear
# sign of a too-high learning rate or a bad initialisation.
DEAD_UNITS_FRACTION = 0.5


def _finding(code: str, epoch: int | None, message: str, suggestion: str,
             evidence: dict[str, Any]) -> Finding:
    return Finding(code=code, severity=DEFAULT_SEVERITY[code], epoch=epoch, message=message,
                   suggestion=suggestion, evidence=evidence)


def initial_loss_finding(initial_loss: float | None, chance: ChanceLevel | None,
                         source: str = "probe") -> Finding | None:
    """`bad_initial_loss` when the loss before training is far from the chance level."""
    if initial_loss is None or chance is None or not math.isfinite(initial_loss):
        return None
    ratio = initial_loss / chance.loss if chance.loss > 0 else math.inf
    evidence = {"initial_loss": round(initial_loss, 6), "expected": round(chance.loss, 6),
                "ratio": round(ratio, 4), "high_factor": BAD_INIT_HIGH_FACTOR,
                "low_factor": BAD_INIT_LOW_FACTOR, "measured_on": source}
    if ratio > BAD_INIT_HIGH_FACTOR:
        return _finding(
            "bad_initial_loss", 0,
            f"The loss before training was {initial_loss:.4g}, {ratio:.1f}x the "
            f"{chance.loss:.4g} (entropy of the class prior) an untrained classifier should "
            "start at: the initial logits are far too large.",
            "Normalise the inputs (e.g. a keras.layers.Rescaling(1/255) or Normalization layer "
            "first), keep the default Glorot initialisation, and initialise the output bias to "
            "the log class prior for imbalanced data.",
            evidence,
        )
    if ratio < BAD_INIT_LOW_FACTOR:
        return _finding(
            "bad_initial_loss", 0,
            f"The loss before training was only {initial_loss:.4g}, {ratio:.2f}x the chance "
            f"level {chance.loss:.4g}: suspicious for an untrained model.",
            "If the model is not pretrained, check for label leakage (a feature that encodes the "
            "label) and that validation data is not in the training set.",
            evidence,
        )
    return None


def input_scale_finding(stats: Mapping[str, float] | None,
                        has_preprocessing: bool = False) -> Finding | None:
    """`inputs_not_normalized` from probe-input statistics (mean, std, min, max)."""
    if not stats or has_preprocessing:
        return None
    mean, std = float(stats["mean"]), float(stats["std"])
    max_abs = max(abs(float(stats["min"])), abs(float(stats["max"])))
    if abs(mean) <= INPUT_MAX_ABS_MEAN and std <= INPUT_MAX_STD and max_abs <= INPUT_MAX_ABS:
        return None
    return _finding(
        "inputs_not_normalized", None,
        f"The inputs are not normalised: mean {mean:.3g}, standard deviation {std:.3g}, "
        f"range [{stats['min']:.3g}, {stats['max']:.3g}].",
        "Scale them to [0, 1] (divide pixels by their maximum, e.g. 255) or standardise "
        "(keras.layers.Normalization adapted on the training data) as the first step.",
        {"mean": round(mean, 6), "std": round(std, 6), "min": float(stats["min"]),
         "max": float(stats["max"]), "max_abs_mean": INPUT_MAX_ABS_MEAN,
         "max_std": INPUT_MAX_STD, "max_abs": INPUT_MAX_ABS},
    )


def gradient_findings(probes: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """`exploding_gradients` / `vanishing_gradients` from per-layer gradient norms.

    Each probe is `{"epoch": e, "grad_norms": {layer: norm, ...}}` with layers in
    model order (first layer first).
    """
    findings: list[Finding] = []
    usable = [p for p in probes if p.get("grad_norms")]
    if not usable:
        return findings
    first_total = _total(usable[0]["grad_norms"])
    for probe in usable:
        norms = probe["grad_norms"]
        total = _total(norms)
        bad = [name for name, n in norms.items() if not math.isfinite(n)]
        growth = total / first_total if first_total and first_total > 0 else 1.0
        if bad or total > EXPLODING_ABS_NORM or growth > EXPLODING_GROWTH:
            findings.append(_finding(
                "exploding_gradients", probe.get("epoch"),
                (f"Gradients are not finite in {', '.join(bad)}." if bad else
                 f"The gradient norm on the probe batch reached {total:.3g} "
                 f"({growth:.0f}x its first value)."),
                "Clip gradients (`clipnorm=1.0` in the optimizer), lower the learning rate, "
                "and add BatchNormalization or residual connections to deep stacks.",
                {"global_norm": total, "growth": growth, "non_finite_layers": bad,
                 "abs_threshold": EXPLODING_ABS_NORM, "growth_threshold": EXPLODING_GROWTH},
            ))
            break
    for probe in usable:
        norms = [n for n in probe["grad_norms"].values() if math.isfinite(n)]
        if len(norms) < 1:
            continue
        first, last = norms[0], norms[-1]
        ratio = first / last if last > 0 else math.inf
        tiny = max(norms) < VANISHING_ABS_NORM
        if tiny or (len(norms) >= 3 and ratio < VANISHING_DEPTH_RATIO):
            findings.append(_finding(
                "vanishing_gradients", probe.get("epoch"),
                (f"Every gradient norm is below {VANISHING_ABS_NORM:g} on the probe batch."
                 if tiny else
                 f"The first layer's gradient is {ratio:.1e} of the last layer's: the early "
                 "layers barely learn."),
                "Use ReLU-family activations instead of sigmoid/tanh in hidden layers, He "
                "initialisation (`kernel_initializer='he_normal'`), BatchNormalization, or "
                "residual connections.",
                {"first_layer_norm": first, "last_layer_norm": last, "depth_ratio": ratio,
                 "ratio_threshold": VANISHING_DEPTH_RATIO},
            ))
            break
    return findings


def _total(norms: Mapping[str, float]) -> float:
    values = list(norms.values())
    if any(not math.isfinite(v) for v in values):
        return math.inf
    return math.sqrt(sum(v * v for v in values))


def dead_units_finding(probes: Sequence[Mapping[str, Any]]) -> Finding | None:
    """`dead_units` when a ReLU layer has too many units that never fire on the probe."""
    worst = None
    for probe in probes:
        for layer, fraction in (probe.get("dead_fraction") or {}).items():
            if fraction >= DEAD_UNITS_FRACTION and (worst is None or fraction > worst[2]):
                worst = (probe.get("epoch"), layer, fraction)
    if worst is None:
        return None
    epoch, layer, fraction = worst
    return _finding(
        "dead_units", epoch,
        f"{fraction:.0%} of the units of layer `{layer}` never activate on the probe batch "
        "(dead ReLUs): they get no gradient and cannot recover.",
        "Lower the learning rate, use LeakyReLU or ELU, He initialisation "
        "(`kernel_initializer='he_normal'`), and check the inputs are normalised.",
        {"layer": layer, "dead_fraction": round(fraction, 4), "threshold": DEAD_UNITS_FRACTION},
    )


def logits_mismatch_finding(output_activation: str | None, from_logits: bool | None,
                            loss_name: str | None,
                            outputs_are_probabilities: bool | None = None) -> Finding | None:
    """`logits_mismatch`: a probability output fed to a `from_logits=True` loss, or reverse."""
    if loss_name is None or "crossentropy" not in loss_name.replace("_", "").lower():
        return None
    probabilistic = output_activation in ("softmax", "sigmoid")
    if output_activation is None and outputs_are_probabilities is not None:
        probabilistic = outputs_are_probabilities
    elif output_activation is None:
        return None
    if probabilistic and from_logits:
        message = (f"The output layer applies {output_activation or 'a probability map'} but "
                   f"the loss `{loss_name}` has from_logits=True: it applies softmax/sigmoid a "
                   "second time, so gradients are weak and the loss is wrong.")
        fix = ("Use from_logits=False with a softmax/sigmoid output, or (numerically better) "
               "a linear output layer with from_logits=True.")
    elif not probabilistic and from_logits is False:
        message = (f"The output layer is linear (`{output_activation}`) but the loss "
                   f"`{loss_name}` expects probabilities (from_logits=False): Keras clips the "
                   "raw outputs into [eps, 1-eps] and training is broken.")
        fix = (f"Pass from_logits=True to the loss (e.g. keras.losses."
               f"{_loss_class(loss_name)}(from_logits=True)), or add a softmax/sigmoid "
               "activation to the output layer.")
    else:
        return None
    return _finding("logits_mismatch", None, message, fix, {
        "output_activation": output_activation, "from_logits": from_logits, "loss": loss_name,
    })


def _loss_class(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")).replace(
        "Crossentropy", "Crossentropy")
