"""Rules over in-training signals (probes), used by the `TrainingDiagnostics` callback.

Pure functions over plain numbers and dicts (no TensorFlow): the callback measures,
these decide. Each code is declared once in the catalogue (`catalog.finding_spec`)
with its wording rendered from the evidence; the functions below return a
`Finding` or `None`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from keras_bestpractice.diagnostics.catalog import finding_spec, make_finding
from keras_bestpractice.diagnostics.chance import ChanceLevel
from keras_bestpractice.diagnostics.finding import Finding

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


# --------------------------------------------------------------- initial loss
@finding_spec("bad_initial_loss", severity="warning", title="Suspicious initial loss", rank=130,
              source="probes")
class BadInitialLoss:
    @staticmethod
    def message(ev) -> str:
        if ev["ratio"] > ev["high_factor"]:
            reference = ev.get("reference_name", "entropy of the class prior")
            return (f"The loss before training was {ev['initial_loss']:.4g}, "
                    f"{ev['ratio']:.1f}x the {ev['expected']:.4g} ({reference}) "
                    "an untrained classifier should start at: the initial logits are far too "
                    "large.")
        return (f"The loss before training was only {ev['initial_loss']:.4g}, "
                f"{ev['ratio']:.2f}x the chance level {ev['expected']:.4g}: suspicious for an "
                "untrained model.")

    @staticmethod
    def fix(ev) -> str:
        if ev["ratio"] > ev["high_factor"] and ev.get("inputs_normalized"):
            return ("The inputs are already normalised, so the initial weights or the output "
                    "layer make the logits large: keep the default Glorot initialisation (no "
                    "large custom initialisers or constant kernels), check the output layer's "
                    "activation matches the loss, and initialise the output bias to the log "
                    "class prior for imbalanced data.")
        if ev["ratio"] > ev["high_factor"]:
            return ("Normalise the inputs (e.g. a keras.layers.Rescaling(1/255) or Normalization "
                    "layer first), keep the default Glorot initialisation, and initialise the "
                    "output bias to the log class prior for imbalanced data.")
        return ("If the model is not pretrained, check for label leakage (a feature that encodes "
                "the label) and that validation data is not in the training set.")


def initial_loss_finding(initial_loss: float | None, chance: ChanceLevel | None,
                         source: str = "probe",
                         inputs_normalized: bool | None = None) -> Finding | None:
    """`bad_initial_loss` when the loss before training is far from the chance level.

    `inputs_normalized` (from the probe's input statistics, `None` when unknown)
    decides the advice: normalising inputs that already are normalised helps nobody.
    """
    if initial_loss is None or chance is None or not math.isfinite(initial_loss):
        return None
    if chance.kind == "regression":
        # An untrained regressor starts at variance + mean^2 of the targets: far above
        # the variance whenever they are not centred, which is no defect of the model.
        return None
    ratio = initial_loss / chance.loss if chance.loss > 0 else math.inf
    if BAD_INIT_LOW_FACTOR <= ratio <= BAD_INIT_HIGH_FACTOR:
        return None
    return make_finding("bad_initial_loss", 0, {
        "initial_loss": initial_loss, "expected": chance.loss, "ratio": round(ratio, 4),
        "high_factor": BAD_INIT_HIGH_FACTOR, "low_factor": BAD_INIT_LOW_FACTOR,
        "measured_on": source, "inputs_normalized": inputs_normalized,
        "reference_name": ("entropy of the class prior" if chance.kind == "classification"
                           else "entropy of the label prevalence"),
    })


# --------------------------------------------------------------- probe failed
@finding_spec("probe_failed", severity="warning", title="Probes could not run", rank=45,
              source="probes")
class ProbeFailed:
    @staticmethod
    def message(ev) -> str:
        return (f"`probe_data` could not be used with this model ({ev['cause']}): gradients, "
                "dead units and the input scale were not checked.")

    @staticmethod
    def fix(ev) -> str:
        return ("Give `probe_data` exactly as `fit` takes x and y (same shapes, numeric labels "
                "in range), e.g. `probe_data=(x_val[:64], y_val[:64])`.")


# ---------------------------------------------------------------- input scale
@finding_spec("inputs_not_normalized", severity="warning", title="Inputs not normalised",
              rank=140, source="probes")
class InputsNotNormalized:
    @staticmethod
    def message(ev) -> str:
        return (f"The inputs are not normalised: mean {ev['mean']:.3g}, standard deviation "
                f"{ev['std']:.3g}, range [{ev['min']:.3g}, {ev['max']:.3g}].")

    @staticmethod
    def fix(ev) -> str:
        return ("Scale them to [0, 1] (divide pixels by their maximum, e.g. 255) or standardise "
                "(keras.layers.Normalization adapted on the training data) as the first step.")


def input_scale_finding(stats: Mapping[str, float] | None,
                        has_preprocessing: bool = False) -> Finding | None:
    """`inputs_not_normalized` from probe-input statistics (mean, std, min, max)."""
    if not stats or has_preprocessing:
        return None
    mean, std = float(stats["mean"]), float(stats["std"])
    max_abs = max(abs(float(stats["min"])), abs(float(stats["max"])))
    if abs(mean) <= INPUT_MAX_ABS_MEAN and std <= INPUT_MAX_STD and max_abs <= INPUT_MAX_ABS:
        return None
    return make_finding("inputs_not_normalized", None, {
        "mean": mean, "std": std, "min": float(stats["min"]), "max": float(stats["max"]),
        "max_abs_mean": INPUT_MAX_ABS_MEAN, "max_std": INPUT_MAX_STD, "max_abs": INPUT_MAX_ABS,
    })


# ------------------------------------------------------------------ gradients
@finding_spec("exploding_gradients", severity="warning", title="Exploding gradients", rank=50,
              source="probes")
class ExplodingGradients:
    @staticmethod
    def message(ev) -> str:
        if ev["non_finite_layers"]:
            return f"Gradients are not finite in {', '.join(ev['non_finite_layers'])}."
        return (f"The gradient norm on the probe batch reached {ev['global_norm']:.3g} "
                f"({ev['growth']:.0f}x its first value).")

    @staticmethod
    def fix(ev) -> str:
        return ("Clip gradients (`clipnorm=1.0` in the optimizer), lower the learning rate, "
                "and add BatchNormalization or residual connections to deep stacks.")


@finding_spec("vanishing_gradients", severity="warning", title="Vanishing gradients", rank=120,
              source="probes")
class VanishingGradients:
    @staticmethod
    def message(ev) -> str:
        if ev["all_tiny"]:
            return f"Every gradient norm is below {ev['abs_threshold']:g} on the probe batch."
        return (f"The first layer's gradient is {ev['depth_ratio']:.1e} of the last layer's: the "
                "early layers barely learn.")

    @staticmethod
    def fix(ev) -> str:
        return ("Use ReLU-family activations instead of sigmoid/tanh in hidden layers, He "
                "initialisation (`kernel_initializer='he_normal'`), BatchNormalization, or "
                "residual connections.")


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
            findings.append(make_finding("exploding_gradients", probe.get("epoch"), {
                "global_norm": total, "growth": growth, "non_finite_layers": bad,
                "abs_threshold": EXPLODING_ABS_NORM, "growth_threshold": EXPLODING_GROWTH,
            }))
            break
    for probe in usable:
        norms = [n for n in probe["grad_norms"].values() if math.isfinite(n)]
        if len(norms) < 1:
            continue
        first, last = norms[0], norms[-1]
        ratio = first / last if last > 0 else math.inf
        tiny = max(norms) < VANISHING_ABS_NORM
        if tiny or (len(norms) >= 3 and ratio < VANISHING_DEPTH_RATIO):
            findings.append(make_finding("vanishing_gradients", probe.get("epoch"), {
                "first_layer_norm": first, "last_layer_norm": last, "depth_ratio": ratio,
                "all_tiny": tiny, "abs_threshold": VANISHING_ABS_NORM,
                "ratio_threshold": VANISHING_DEPTH_RATIO,
            }))
            break
    return findings


def _total(norms: Mapping[str, float]) -> float:
    values = list(norms.values())
    if any(not math.isfinite(v) for v in values):
        return math.inf
    return math.sqrt(sum(v * v for v in values))


# ----------------------------------------------------------------- dead units
@finding_spec("dead_units", severity="warning", title="Dead units", rank=110, source="probes")
class DeadUnits:
    @staticmethod
    def message(ev) -> str:
        return (f"{ev['dead_fraction']:.0%} of the units of layer `{ev['layer']}` never activate "
                "on the probe batch (dead ReLUs): they get no gradient and cannot recover.")

    @staticmethod
    def fix(ev) -> str:
        return ("Lower the learning rate, use LeakyReLU or ELU, He initialisation "
                "(`kernel_initializer='he_normal'`), and check the inputs are normalised.")


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
    return make_finding("dead_units", epoch, {
        "layer": layer, "dead_fraction": round(fraction, 4), "threshold": DEAD_UNITS_FRACTION,
    })


# ------------------------------------------------------------ logits mismatch
@finding_spec("logits_mismatch", severity="error", title="Output activation and loss disagree",
              rank=40, source="probes")
class LogitsMismatch:
    @staticmethod
    def message(ev) -> str:
        if ev["from_logits"]:
            return (f"The output layer applies {ev['output_activation'] or 'a probability map'} "
                    f"but the loss `{ev['loss']}` has from_logits=True: it applies "
                    "softmax/sigmoid a second time, so gradients are weak and the loss is wrong.")
        return (f"The output layer is linear (`{ev['output_activation']}`) but the loss "
                f"`{ev['loss']}` expects probabilities (from_logits=False): Keras clips the raw "
                "outputs into [eps, 1-eps] and training is broken.")

    @staticmethod
    def fix(ev) -> str:
        if ev["from_logits"]:
            return ("Use from_logits=False with a softmax/sigmoid output, or (numerically better) "
                    "a linear output layer with from_logits=True.")
        return (f"Pass from_logits=True to the loss (e.g. keras.losses."
                f"{_loss_class(ev['loss'])}(from_logits=True)), or add a softmax/sigmoid "
                "activation to the output layer.")


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
    if not ((probabilistic and from_logits) or (not probabilistic and from_logits is False)):
        return None
    return make_finding("logits_mismatch", None, {
        "output_activation": output_activation, "from_logits": from_logits, "loss": loss_name,
    })


def _loss_class(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


# ------------------------------------------------- SageMaker Debugger's rules (issue #23)
# Saturated sigmoid/tanh units: an activation within 1% of its limit (|tanh| >= 0.99,
# sigmoid <= 0.01 or >= 0.99) has a gradient under ~2% of its maximum. A hidden layer
# with half its activations there learns little (SageMaker Debugger's
# `saturated_activation` checks the same share of tanh/sigmoid outputs).
SATURATION_MARGIN = 0.01
SATURATED_FRACTION = 0.5
# Poor initialisation: before the first update, the activations' standard deviation
# shrinks (or grows) by more than 10x per layer on average through the network, or
# a layer outputs a constant (std 0): the signal dies out (or blows up) with depth
# (Glorot & Bengio 2010; SageMaker Debugger's `poor_weight_initialization`).
INIT_STD_RATIO_PER_LAYER = 10.0
# Class imbalance: the largest class at least 3x the smallest in the training labels
# (SageMaker Debugger's `class_imbalance` defaults to 10x; the handbook balances from 3x).
CLASS_IMBALANCE_RATIO = 3.0
IMBALANCE_MIN_PER_CLASS = 20
# A class never predicted: present at least 3 times in the probe labels, predicted for
# none of the probe inputs by the trained model.
NEVER_PREDICTED_MIN_SAMPLES = 3
# Weights unchanged: a trainable kernel whose values did not move between the first
# and the last probe (relative change below 1e-7) while the others did.
UNCHANGED_REL_CHANGE = 1e-7


@finding_spec("saturated_activations", severity="warning", title="Saturated activations",
              rank=115, source="probes")
class SaturatedActivations:
    @staticmethod
    def message(ev) -> str:
        return (f"{ev['saturated_fraction']:.0%} of the activations of `{ev['layer']}` "
                f"({ev['activation']}) are pinned within {ev['margin']:.0%} of its limits on the "
                "probe batch: their gradient is nearly zero, so those units barely learn.")

    @staticmethod
    def fix(ev) -> str:
        return ("Normalise the inputs, use a smaller initial weight scale (Glorot: "
                "`kernel_initializer='glorot_uniform'`), add BatchNormalization before the "
                "activation, lower the learning rate, or use ReLU in hidden layers.")


def saturated_activations_finding(probes: Sequence[Mapping[str, Any]]) -> Finding | None:
    """`saturated_activations`: the worst hidden sigmoid/tanh layer over the probes."""
    worst = None
    for probe in probes:
        for layer, (activation, fraction) in (probe.get("saturated") or {}).items():
            if fraction >= SATURATED_FRACTION and (worst is None or fraction > worst[3]):
                worst = (probe.get("epoch"), layer, activation, fraction)
    if worst is None:
        return None
    epoch, layer, activation, fraction = worst
    return make_finding("saturated_activations", epoch, {
        "layer": layer, "activation": activation, "saturated_fraction": round(fraction, 4),
        "margin": SATURATION_MARGIN, "threshold": SATURATED_FRACTION})


@finding_spec("poor_initialization", severity="warning", title="Poor weight initialisation",
              rank=125, source="probes")
class PoorInitialization:
    @staticmethod
    def message(ev) -> str:
        if ev["kind"] == "constant":
            return (f"Before training, layer `{ev['layer']}` outputs the same value for every "
                    "probe input (standard deviation 0): nothing it passes on can be learned from.")
        way = "shrinks" if ev["kind"] == "vanishing" else "grows"
        return (f"Before training, the activations' spread {way} through the network: "
                f"standard deviation {ev['first_std']:.3g} after `{ev['first_layer']}`, "
                f"{ev['last_std']:.3g} after `{ev['last_layer']}` ({ev['per_layer']:.3g}x per "
                f"layer over {ev['layers']} layers).")

    @staticmethod
    def fix(ev) -> str:
        return ("Use the initialiser that matches the activation: `he_normal` for ReLU, "
                "`glorot_uniform` for tanh/sigmoid (Keras's default); check custom "
                "initialisers and bias constants; BatchNormalization between layers also "
                "keeps the scale.")


def poor_initialization_finding(probes: Sequence[Mapping[str, Any]]) -> Finding | None:
    """`poor_initialization`, from the activation spreads of the probe before training."""
    start = next((p for p in probes if p.get("when") == "start"), None)
    stds = list((start or {}).get("activation_std", {}).items())
    if len(stds) < 2:
        return None
    for layer, std in stds[:-1]:  # the output layer may legitimately be constant-ish
        if std == 0.0:
            return make_finding("poor_initialization", None, {"kind": "constant", "layer": layer})
    (first_layer, first), (last_layer, last) = stds[0], stds[-2] if len(stds) > 2 else stds[-1]
    layers = max(1, (len(stds) - 2 if len(stds) > 2 else 1))
    if not (first > 0 and last > 0 and math.isfinite(first) and math.isfinite(last)):
        return None
    per_layer = (last / first) ** (1.0 / layers)
    if 1.0 / INIT_STD_RATIO_PER_LAYER < per_layer < INIT_STD_RATIO_PER_LAYER:
        return None
    return make_finding("poor_initialization", None, {
        "kind": "vanishing" if per_layer < 1 else "exploding", "first_layer": first_layer,
        "first_std": first, "last_layer": last_layer, "last_std": last,
        "per_layer": per_layer, "layers": layers, "threshold": INIT_STD_RATIO_PER_LAYER})


@finding_spec("class_imbalance", severity="info", title="Imbalanced classes", rank=1010,
              source="probes")
class ClassImbalance:
    @staticmethod
    def message(ev) -> str:
        return (f"The training labels are imbalanced: class {ev['largest']} has "
                f"{ev['largest_share']:.1%} of the samples, class {ev['smallest']} "
                f"{ev['smallest_share']:.1%} ({ev['ratio']:.3g}:1), from {ev['source']}.")

    @staticmethod
    def fix(ev) -> str:
        return ("If the rare classes matter, weight them (`fit(class_weight=...)`, e.g. "
                "sklearn.utils.class_weight.compute_class_weight('balanced', ...)) or feed "
                "balanced batches (`stratified_dataset(x, y, batch_size, balance=0.5)`), and "
                "judge the model by macro F1 or recall per class, not accuracy.")


def class_imbalance_finding(counts: Sequence[float] | None, source: str,
                            shares: bool = False) -> Finding | None:
    """`class_imbalance` from class counts (or, `shares=True`, a prior); `None` when
    balanced enough, or when the counts are too few to tell (under
    `IMBALANCE_MIN_PER_CLASS` samples per class on average: 64 probe samples of 10
    balanced classes easily hold 11 of one and 3 of another)."""
    if counts is None or len(counts) < 2:
        return None
    if not shares and float(sum(counts)) < IMBALANCE_MIN_PER_CLASS * len(counts):
        return None
    total = float(sum(counts))
    present = [(i, c) for i, c in enumerate(counts) if c > 0]
    if total <= 0 or len(present) < 2:
        return None
    (large, lc), (small, sc) = max(present, key=lambda t: t[1]), min(present, key=lambda t: t[1])
    ratio = lc / sc
    if ratio < CLASS_IMBALANCE_RATIO:
        return None
    return make_finding("class_imbalance", None, {
        "largest": large, "largest_share": lc / total, "smallest": small,
        "smallest_share": sc / total, "ratio": ratio, "source": source,
        "threshold": CLASS_IMBALANCE_RATIO})


@finding_spec("class_never_predicted", severity="warning", title="A class is never predicted",
              rank=112, source="probes")
class ClassNeverPredicted:
    @staticmethod
    def message(ev) -> str:
        classes = ", ".join(str(c) for c in ev["classes"])
        return (f"The trained model predicts class(es) {classes} for none of the {ev['probes']} "
                f"probe inputs, although the probe holds {ev['samples']} sample(s) of them: "
                "every one of those is misclassified.")

    @staticmethod
    def fix(ev) -> str:
        return ("Weight the missed classes (`fit(class_weight=...)`) or feed balanced batches "
                "(`stratified_dataset(x, y, batch_size, balance=0.5)`); check that their labels "
                "are right and that they have enough training samples.")


def class_never_predicted_finding(labels: Sequence[int], predicted: Sequence[int]) -> \
        Finding | None:
    """`class_never_predicted`, from the probe's labels and the trained model's answers."""
    labels, predicted = [int(v) for v in labels], {int(v) for v in predicted}
    if not labels:
        return None
    counts: dict[int, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    missed = sorted(c for c, n in counts.items()
                    if n >= NEVER_PREDICTED_MIN_SAMPLES and c not in predicted)
    if not missed:
        return None
    return make_finding("class_never_predicted", None, {
        "classes": missed, "samples": sum(counts[c] for c in missed), "probes": len(labels),
        "min_samples": NEVER_PREDICTED_MIN_SAMPLES})


@finding_spec("weights_unchanged", severity="warning", title="Weights do not change",
              rank=118, source="probes")
class WeightsUnchanged:
    @staticmethod
    def message(ev) -> str:
        layers = ", ".join(f"`{name}`" for name in ev["layers"])
        return (f"The trainable weights of {layers} did not change between epoch "
                f"{ev['first_epoch']} and epoch {ev['last_epoch']} while the other layers' did: "
                "they get no gradient.")

    @staticmethod
    def fix(ev) -> str:
        return ("Find what cuts their gradient: a dead layer after them (ReLU units that never "
                "fire, a bias initialised far negative), an output that does not depend on them, "
                "a stop-gradient; a layer meant to train but frozen (`trainable=False` set on "
                "the wrong layer) shows here too.")


def weights_unchanged_finding(first: Mapping[str, float], last: Mapping[str, float],
                              first_epoch: int, last_epoch: int) -> Finding | None:
    """`weights_unchanged`: kernels whose fingerprint (`first`, `last`: a checksum per
    kernel) did not move while at least one other kernel's did."""
    common = [k for k in first if k in last]
    if len(common) < 2:
        return None

    def moved(key: str) -> bool:
        a, b = first[key], last[key]
        return abs(a - b) > UNCHANGED_REL_CHANGE * max(abs(a), abs(b), 1e-12)

    still = [k for k in common if not moved(k)]
    if not still or len(still) == len(common):
        return None  # nothing frozen, or nothing moved at all (the rate: not_learning)
    return make_finding("weights_unchanged", None, {
        "layers": still, "first_epoch": first_epoch, "last_epoch": last_epoch,
        "threshold": UNCHANGED_REL_CHANGE})
