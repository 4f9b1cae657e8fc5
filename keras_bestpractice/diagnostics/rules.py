"""The curve rules: each code's detection and wording. Pure NumPy, no TensorFlow.

Every code is declared once with `catalog.finding_spec` (severity, title, rank,
what it subsumes) on a class holding its rule (`detect`, returning the epoch
index and the evidence) and its wording (`message` and `fix`, rendered from the
evidence alone). Every threshold is a named constant with a note on where it
comes from. They were set from the handbooks' descriptions and checked (never
fitted one run at a time) against the labelled corpus of real runs in
`tests/fixtures/diagnostics_runs.json` (see `benchmarks/make_diagnostics_corpus.py`
and `benchmarks/RESULTS.md`).

Epoch numbers in evidence are as Keras prints them ("Epoch 6/20" is 6); the
epoch of a `Finding` is Keras's 0-based index (`History.epoch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from keras_bestpractice._core.divergence import DIAGNOSE_DIVERGENCE_FACTOR
from keras_bestpractice.diagnostics.catalog import finding_spec
from keras_bestpractice.diagnostics.chance import (
    INFER_CONSTANT_ACCURACY,
    PACE_MIN_RATIO,
    ChanceLevel,
    constant_predictor_level,
    detect_not_learning,
    infer_chance_level,
    is_at_chance,
    pace_kept,
    steadily_decreasing,
)
from keras_bestpractice.diagnostics.curves import Curves
from keras_bestpractice.diagnostics.model_facts import ModelFacts

# ----------------------------------------------------------------- divergence
# "Diverging": the training loss ends at least 2x its lowest value (the offline
# factor; `_core.divergence` says why DivergenceGuard's online factor is 3)...
DIVERGENCE_FACTOR = DIAGNOSE_DIVERGENCE_FACTOR
# ...and has given back at least a quarter of what it had learned (first - min).
# This keeps a converged run whose loss wobbles between 0.001 and 0.004 healthy.
DIVERGENCE_GIVEBACK = 0.25
# "Climbing" (issue #23: a rate that grows every epoch): the training loss rises on 75%+
# of the epochs since its lowest value (2+ epochs; the first one a rise; Kendall's tau
# >= 0.5 over 3+) to >= 1.3x it, having given back >= 5% of what it had learned, its
# first rise >= 2% of that and more than twice any rise before its lowest point (a curve
# that was going down smoothly turns and keeps going up; a noisy curve's last rises are
# more of its noise).
CLIMB_MIN_EPOCHS = 2
CLIMB_MIN_RATIO = 1.3
CLIMB_MIN_GIVEBACK = 0.05
CLIMB_MIN_STEP = 0.02
CLIMB_MAX_EARLIER_RISE = 0.5
CLIMB_MIN_RISING_FRACTION = 0.75
CLIMB_MIN_TREND = 0.5
# A "rising" divergence trends up after its lowest point (Kendall's tau >= 0.4 over 4+
# epochs): a noisy loss whose lowest epoch was an outlier ends "higher" without diverging
# (issue #23: Adam 0.05 with Dropout 0.5 at batch 4, a loss jumping 1e-4 to 1.2).
DIVERGENCE_MIN_TREND = 0.4

# "Blown up": the training loss stays at >= 10x the loss of a model that learned
# nothing (the reference level, when known). When it is not known, a classifier's
# (a run with an accuracy curve) chance level is at most ln 1000 = 6.9 for up to
# 1000 classes, so a loss above 10x that (69) is a blown-up network whatever the
# class count (lr 1e4 SGD on digits: 5322 after a first epoch of 9.9e13).
BLOWN_UP_FACTOR = 10.0
MAX_PLAUSIBLE_CHANCE_LOSS = math.log(1000)
# A run "has diverged" (no class count may be inferred from its level) when its
# loss ends at 3x its lowest value or more, or blown up as above.
DIVERGED_RISE = 3.0

# ---------------------------------------------------------------- overfitting
# Validation loss, smoothed over 3 epochs, risen 15% above its minimum while the
# training loss kept falling (the handbooks' "by epoch 7 the model was
# overfitted"). Healthy long runs in the corpus drift up to 10% after their best
# epoch; the overfitting runs rise 15% to 130%.
OVERFIT_MIN_RISE = 0.15
OVERFIT_MIN_EPOCHS_AFTER_BEST = 2
OVERFIT_TRAIN_MIN_DROP = 0.10
# Memorisation: training accuracy >= 99% with validation accuracy 5+ points lower
# and validation loss >= 3x the training loss (healthy digits runs: gap <= 3 points).
OVERFIT_MEMORISED_ACCURACY = 0.99
OVERFIT_ACCURACY_GAP = 0.05
OVERFIT_LOSS_RATIO = 3.0
# Memorised without an accuracy (regression): the training loss fell below 1% of the
# reference level (the targets' variance, or the first loss) while the validation
# loss stayed at least ten times higher.
OVERFIT_MEMORISED_LOSS_FRACTION = 0.01
OVERFIT_MEMORISED_LOSS_RATIO = 10.0
# The rise must also matter in absolute terms (>= 5% of the chance loss, or of the
# first validation loss when the chance level is unknown): a converged model whose
# validation loss wanders from 0.003 to 0.02 at 99.6% accuracy is not overfitting...
OVERFIT_MIN_ABS_RISE = 0.05
# ...and stand out of the curve's own noise (the median epoch-to-epoch jump after the
# best epoch): a trend (Kendall's tau >= 0.3) at least 2.5 jumps high, or a rise of 5+
# jumps whatever its later course (a rise that then levels off or eases back). A
# validation loss that bounces by a quarter of its level has a "best" epoch that is only
# its luckiest one: the rise after it is the bounce (issue #23: high-rate runs judged on
# 50 validation samples rose 25-32% "since their best" at 1.4-2 jumps; `val_oscillation`).
OVERFIT_MIN_TREND = 0.3
OVERFIT_NOISE_MULTIPLE = 2.5
OVERFIT_STRONG_NOISE_MULTIPLE = 5.0
# A memorised training set (accuracy >= 99%, training loss under 1% of the reference
# level) whose validation loss rose 5%+ above its best, far out of its noise (10+
# jumps): overfitting although the rise is under 15% and the accuracy gap under 5
# points (issue #23: 24 wine samples memorised to a loss of 1e-5, validation loss up
# 8.5% from epoch 7 on a curve that moves by 1e-4 per epoch).
OVERFIT_MEMORISED_MIN_RISE = 0.05
OVERFIT_MEMORISED_NOISE_MULTIPLE = 10.0

# --------------------------------------------------------------- underfitting
# "Both poor and close": the final training loss is still >= 25% of the chance
# loss (healthy classifiers in the corpus end at 2-23% of it)...
UNDERFIT_MIN_LOSS_FRACTION = 0.25
# ...(a regression whose training loss converged to a standstill: 10% of the targets'
# variance, R^2 below 0.9 on its own training data; issue #23: a linear model on
# Friedman #2 stops at 0.128, an MLP reaches 0.001)...
UNDERFIT_CONVERGED_REGRESSION_FRACTION = 0.10
# ...or accuracy has covered at most 80% of the way from chance to 100%...
UNDERFIT_MAX_ACCURACY_FRACTION = 0.80
# ...validation within 25% of training (or better: too much regularisation)...
UNDERFIT_MAX_GAP = 0.25
# ...and it has levelled off: training improving by less than 0.5%/epoch and
# validation by less than 1%/epoch over the last epochs (issue #23: healthy runs on
# noisy multi-label and small regression sets still gained 1.1-1.4%/epoch (training)
# and up to 2% (validation) at their end; they need epochs, not capacity).
UNDERFIT_MAX_REL_SLOPE = 0.005
UNDERFIT_MAX_VAL_REL_SLOPE = 0.01
# ...and is steady: no epoch-to-epoch jump above 10% of its level in that window (a
# training loss jumping around is an unstable optimisation, not a capacity limit).
UNDERFIT_MAX_JITTER = 0.10

# ---------------------------------------------------------- val oscillation
# Movement of the validation loss beyond the unavoidable down-then-up path,
# per epoch, relative to the run's scale (max of its median and its total
# improvement): >= 10% per epoch with direction changes on >= 40% of epochs.
# Healthy noisy validation curves in the corpus stay below 3%.
OSCILLATION_MIN_EXCESS = 0.10
OSCILLATION_MIN_REVERSALS = 0.40
OSCILLATION_MIN_EPOCHS = 5
# The same after the first third of the epochs, against that part's median level (issue
# #23: validation on 75 samples bouncing 0.28-0.73 after a fall from 1.21).
OSCILLATION_TAIL_MIN_EXCESS = 0.15
OSCILLATION_TAIL_MIN_REVERSALS = 0.5
OSCILLATION_TAIL_MIN_ABS = 0.05  # of the reference level (else the first validation loss)

# ------------------------------------------------------------ slow convergence
# Loss going down steadily but slowly: under 35% total improvement, still
# falling at >= 0.1%/epoch and, when the chance level is known, still above half
# of it. (lr 1e-5 Adam on digits: 5% in 15 epochs; healthy runs: 65-99%.)
SLOW_MAX_TOTAL_IMPROVEMENT = 0.35
SLOW_MIN_EPOCHS = 3
SLOW_MIN_CHANCE_FRACTION = 0.5
# ...and has not slowed down: the slope over the last third of the run is at
# least 30% of the slope over the first third (a converged run decelerates to
# ~1% of its early pace; a learning rate that is too low gives a straight line).
SLOW_MIN_PACE_RATIO = PACE_MIN_RATIO
# ...or, however small its pace, training and validation both fall on >= 90% of epochs
# without slowing down ("creeping": a rate far too low).
CREEP_MIN_FRACTION = 0.9

# ------------------------------------------------------------------- plateau
# The training loss has stopped moving: it changed by under 0.5% over the last
# max(3, n/4) epochs, while it is not near zero (>= 5% of the chance loss or of
# the first epoch's loss). "Frozen" (no change above 1e-4 relative per epoch)
# means the weights no longer move at all: a collapsed learning rate or frozen
# layers; underfitting is then not the explanation.
PLATEAU_MAX_REL_CHANGE = 0.005
PLATEAU_MIN_LEVEL = 0.05
PLATEAU_MIN_EPOCHS = 5
FROZEN_REL_CHANGE = 1e-4
# A plateau worth a warning is a *stall* (issue #23): the loss was still falling when it
# stopped dead, as when a schedule cuts the rate to ~0 (frozen: every step under 2e-4
# of its level, and after its first two epochs under 5e-6, float rounding; the two
# epochs before it fell by >= 1% of its level). A run that
# *converged* slows down gradually (each epoch's gain a fraction, 0.2-0.7, of the one
# before) and then is flat: that is where the model ends, not a stall (`converged`,
# info; underfitting when the level is poor).
STALL_MIN_LAST_DROP = 0.01
FROZEN_STALL_STEP = 2e-4
STALL_TAIL_STEP = 5e-6
# A dead network (issue #23): the loss frozen (every step under 1e-3 of its level, and a
# constant accuracy where one is logged) for the last 3 epochs at least, after it had
# blown up (>= 10x the frozen level) or risen from a better level (>= 1.25x its best):
# the updates destroyed what it had and nothing moves any more, whatever the class count.
# Or frozen at ln k for an integer k (within 0.1%) with an accuracy logged: a softmax
# giving every class the same probability; or frozen at >= 2x the reference level.
DEAD_FROZEN_STEP = 1e-3
DEAD_MIN_EPOCHS = 3
DEAD_BLOWUP = 10.0
DEAD_RISE = 1.25
DEAD_LN_K_TOLERANCE = 1e-3
# ...or frozen at >= 2x the reference level (saturated outputs, confidently wrong).
DEAD_ABOVE_REFERENCE = 2.0
DEAD_LN_K_MAX_ACCURACY = 1.5
# "Not learning" caused by a learning rate too high: the first epochs' loss was at
# least 1.2x the level the run got stuck at (and above chance): the updates moved the
# network, then left it dead (SGD lr=3 on digits: 2.95, 2.34, then 2.33 for good). A
# frozen run (lr 0) starts where it stays; a run stuck on shuffled labels starts
# within a few percent of it.
NOT_LEARNING_SPIKE = 1.2
# A training loss that jumped up by half its level or more on at least two epochs before
# its lowest point, and recovered each time, is bouncing (see `Diverging`).
BOUNCING_JUMP = 1.5
BOUNCING_MIN_JUMPS = 2
# A logged learning rate at 1% of its largest value or less has collapsed: a loss that
# stopped dead with it is a stall (`plateau`: the schedule), at whatever level it stopped.
RATE_COLLAPSE_FRACTION = 0.01


@dataclass
class RunView:
    """What the rules read: finite prefixes of the main curves and the chance level."""

    curves: Curves
    loss: np.ndarray | None
    val_loss: np.ndarray | None
    acc: np.ndarray | None
    val_acc: np.ndarray | None
    chance: ChanceLevel | None
    n: int
    inferred_chance: ChanceLevel | None = None
    # `(class, count)`: the model predicts that class for every one of `count` inputs.
    single_class: tuple[int, int] | None = None
    # The level of a run found collapsed onto `single_class` (for the report's plot).
    collapse_chance: ChanceLevel | None = None
    # What is known of the model besides its curves (`diagnose(model=...)`).
    facts: ModelFacts | None = None

    @classmethod
    def build(cls, curves: Curves, chance: ChanceLevel | None, infer: bool = True) -> RunView:
        """`infer=False`: never guess a class count (the loss is not a classifier's)."""
        loss = curves.loss
        n = len(curves)
        # Rules other than nan_loss read the run up to its first non-finite loss.
        if loss is not None:
            bad = np.where(~np.isfinite(loss))[0]
            if curves.val_loss is not None:
                bad_val = np.where(~np.isfinite(curves.val_loss) & ~np.isnan(curves.val_loss))[0]
                bad = np.union1d(bad, bad_val)
            if bad.size:
                n = int(bad[0])
        view = cls(
            curves=curves,
            loss=None if loss is None else loss[:n],
            val_loss=None if curves.val_loss is None else curves.val_loss[:n],
            acc=None if curves.accuracy is None else curves.accuracy[:n],
            val_acc=None if curves.val_accuracy is None else curves.val_accuracy[:n],
            chance=chance,
            n=n,
        )
        if view.chance is None and curves.is_binary_accuracy and infer:
            view.chance = ChanceLevel(math.log(2), 0.5, 2, "inferred")
        if view.chance is None and view.loss is not None and n >= 3 and infer:
            # An inferred chance level serves the not_learning rule only: a wrong
            # guess must not move the thresholds of the other rules.
            t = min(3, n)
            acc = None if view.acc is None else _nanmean(view.acc[-t:])
            spread = None
            if view.acc is not None and np.isfinite(view.acc[-t:]).all():
                spread = float(np.ptp(view.acc[-t:]))
            # A loss near ln C with accuracy near 1/C is the evidence; flatness only
            # has to rule out a curve plunging through ln C on its way down.
            if _rel_change(view.loss[-t:]) < 0.3 or (spread is not None and spread <= 0.02):
                # A diverged loss's level says nothing of the class count: then only a
                # steady accuracy (a class share) may name it.
                view.inferred_chance = infer_chance_level(
                    float(np.mean(view.loss[-t:])), acc, spread,
                    loss_level=not has_diverged(view.loss, view.acc is not None))
        return view

    def epoch(self, position: int | None) -> int | None:
        return self.curves.epoch_at(position)

    def has_val(self) -> bool:
        return self.val_loss is not None and np.isfinite(self.val_loss).sum() >= 2

    @property
    def linear_model(self) -> bool:
        """Known to have no non-linear hidden layer."""
        return self.facts is not None and self.facts.hidden_nonlinear is False

    def logged_rates(self) -> np.ndarray | None:
        lr = self.curves.learning_rate
        if lr is None:
            return None
        lr = np.asarray(lr[: self.n], dtype=float)
        lr = lr[np.isfinite(lr)]
        return lr if lr.size else None

    def rate_is_low(self) -> bool | None:
        """Was the largest rate the run used low for its optimizer (`None`: unknown)?
        The logged `learning_rate` curve when there is one, else the model's facts."""
        if self.facts is None:
            return None
        lr = self.logged_rates()
        if lr is not None:
            return replace(self.facts, learning_rate=float(lr.max())).rate_is_low
        return self.facts.rate_is_low

    def rate_collapsed(self) -> bool:
        """Did the logged learning rate fall to 1% of its largest value or less?"""
        lr = self.logged_rates()
        return lr is not None and lr.max() > 0 and lr[-1] <= RATE_COLLAPSE_FRACTION * lr.max()


def has_diverged(loss: np.ndarray, classifier: bool) -> bool:
    """Is the level this loss curve ends at a diverged one: (a classifier) above any
    chance level, or at least 3x the lowest value it had reached? Its level then says
    nothing about the class count. (A run that blew up and then collapsed to a flat
    constant predictor ends at ln C again: that level does say C.)"""
    x = np.asarray(loss, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return False
    tail = float(np.mean(x[-min(3, x.size):]))
    if classifier and tail >= BLOWN_UP_FACTOR * MAX_PLAUSIBLE_CHANCE_LOSS:
        return True
    return bool(tail >= DIVERGED_RISE * max(float(np.min(x)), 1e-12))


def _nanmean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else None


def _rel_change(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.inf
    level = max(abs(float(np.mean(x))), 1e-12)
    return float((x.max() - x.min()) / level)


def stall_at(loss: np.ndarray) -> int | None:
    """The position where a falling loss stopped dead (a stall), or `None` when it
    slowed down gradually or never stopped: from position `f` on the loss is frozen
    (every step under `FROZEN_STALL_STEP` of its level, for 3 epochs or more), and in
    the two epochs before `f` it was still falling by >= `STALL_MIN_LAST_DROP` of its
    level (a rate cut within an epoch leaves that epoch half-moved)."""
    x = np.asarray(loss, dtype=float)
    f = frozen_since(x, None, max_step=FROZEN_STALL_STEP)
    if f is None or f == 0:
        return None
    level = abs(float(np.mean(x[f:]))) or 1e-12
    drop = float(x[max(0, f - 2)] - x[f])
    if drop < STALL_MIN_LAST_DROP * level:
        return None
    # Past its first two epochs (a rate cut inside an epoch leaves a half step) a stalled
    # loss moves by float rounding only; an optimiser still running at its rate keeps
    # wiggling a converged loss by 1e-5 to 1e-4.
    steps = np.abs(np.diff(x[f:])) / level
    tail = steps[2:] if steps.size > 2 else steps[1:]
    return f if tail.size == 0 or float(np.max(tail)) <= STALL_TAIL_STEP else None


def frozen_since(loss: np.ndarray, acc: np.ndarray | None = None,
                 max_step: float = DEAD_FROZEN_STEP,
                 min_len: int = DEAD_MIN_EPOCHS) -> int | None:
    """The first position of the frozen stretch at the end of `loss` (every step under
    `max_step` of its level, and `acc` constant there), when it is at least `min_len`
    epochs long; else `None`."""
    x = np.asarray(loss, dtype=float)
    n = x.size
    if n < min_len or not np.isfinite(x[-min_len:]).all():
        return None
    level = abs(float(x[-1])) or 1e-12
    a = None if acc is None else np.asarray(acc, dtype=float)
    s = n - 1
    while s > 0 and np.isfinite(x[s - 1]) and abs(x[s] - x[s - 1]) <= max_step * level and (
            a is None or not np.isfinite(a[s - 1]) or abs(a[s] - a[s - 1]) <= 1e-6):
        s -= 1
    return s if n - s >= min_len else None


def dead_network(view: RunView) -> dict | None:
    """Evidence that the network died (`DEAD_*`), whatever the class count: frozen after
    a blow-up or a rise, or frozen at ln k with an accuracy logged."""
    loss = view.loss
    if loss is None or view.n < 3:
        return None
    s = frozen_since(loss, view.acc) if view.n >= DEAD_MIN_EPOCHS + 1 else None
    if s is None and view.chance is not None and view.chance.loss > 0 and \
            float(loss[-1]) >= DEAD_ABOVE_REFERENCE * view.chance.loss:
        # Far above the reference level, two epochs the same to the float are enough
        # (a 3-epoch sweep run of a dead network: 12.24, 12.98, 12.98 at ln 10 = 2.30).
        s = frozen_since(loss, view.acc, max_step=1e-6, min_len=2)
    if s is None:
        return None
    level = float(np.mean(loss[s:]))
    before = loss[:s]
    evidence = {"frozen_level": level, "frozen_since_position": s,
                "frozen_epochs": view.n - s}
    if before.size and np.isfinite(before).any():
        peak, best = float(np.nanmax(before)), float(np.nanmin(before))
        p = int(np.nanargmax(before))
        # A blow-up is a rise (the loss went up to its peak), or a first epoch already
        # far above any chance level: a first epoch that is simply where an untrained
        # model starts (a linear model's, far above where it converges) is not one.
        rose_to_peak = p > 0 and peak >= DEAD_BLOWUP * float(np.nanmin(before[:p]))
        far_above = (view.chance is not None and peak >= DEAD_BLOWUP * view.chance.loss) or (
            view.chance is None and view.acc is not None
            and peak >= BLOWN_UP_FACTOR * MAX_PLAUSIBLE_CHANCE_LOSS)
        if level > 0 and peak >= DEAD_BLOWUP * level and (rose_to_peak or far_above):
            return {**evidence, "dead_kind": "blown_up", "peak_loss": peak,
                    "peak_epoch": _num(view, int(np.nanargmax(before)))}
        if best > 0 and level >= DEAD_RISE * best:
            return {**evidence, "dead_kind": "rose", "best_loss": best,
                    "best_epoch": _num(view, int(np.nanargmin(before)))}
    if view.chance is not None and view.chance.loss > 0 and \
            level >= DEAD_ABOVE_REFERENCE * view.chance.loss and stall_at(loss) is None:
        return {**evidence, "dead_kind": "saturated", "reference_loss": view.chance.loss}
    if view.acc is not None and level > 0:
        k = round(math.exp(level))
        acc = _nanmean(view.acc[s:])
        # Equal probabilities for k classes: one fixed answer, right at most about as
        # often as one class in k (the share of the class it names).
        if k >= 2 and abs(level - math.log(k)) <= DEAD_LN_K_TOLERANCE * level and \
                acc is not None and acc <= DEAD_LN_K_MAX_ACCURACY / k:
            return {**evidence, "dead_kind": "ln_k", "k": int(k)}
    return None


def _smooth(x: np.ndarray, k: int = 3) -> np.ndarray:
    """Centred moving average that ignores NaN (validation every k-th epoch)."""
    out = np.full_like(x, np.nan, dtype=float)
    half = k // 2
    for i in range(x.size):
        window = x[max(0, i - half) : i + half + 1]
        window = window[np.isfinite(window)]
        if window.size:
            out[i] = window.mean()
    return out


def _num(view: RunView, position: int | None) -> int | None:
    """The epoch at list position `position` as Keras prints it (1-based), for evidence."""
    epoch = view.epoch(position)
    return None if epoch is None else epoch + 1


# ============================================================================ rules
@finding_spec("nan_loss", severity="error", title="Loss became NaN/Inf", rank=10,
              subsumes=("slow_convergence", "plateau"))
class NanLoss:
    @staticmethod
    def detect(view: RunView):
        curves = view.curves
        first = None
        for key, values in curves.series.items():
            if "loss" not in key:
                continue
            bad = np.where(np.isinf(values) | (np.isnan(values) & _observed(key, curves)))[0]
            if bad.size and (first is None or bad[0] < first[0]):
                first = (int(bad[0]), key, float(values[bad[0]]))
        if first is None:
            return None
        pos, key, value = first
        loss = curves.loss
        finite_before = None
        if loss is not None and pos > 0 and np.isfinite(loss[:pos]).any():
            finite_before = float(loss[:pos][np.isfinite(loss[:pos])][-1])
        return curves.epoch_at(pos), {
            "key": key, "first_nonfinite_epoch": curves.epoch_at(pos) + 1, "value": value,
            "last_finite_loss": finite_before, "from_first_epoch": pos == 0,
        }

    @staticmethod
    def message(ev) -> str:
        kind = "NaN" if math.isnan(ev["value"]) else "Inf"
        text = f"`{ev['key']}` became {kind} at epoch {ev['first_nonfinite_epoch']}"
        if ev["last_finite_loss"] is not None:
            return text + f" (last finite training loss {ev['last_finite_loss']:.4g})."
        return text + ", from the very first epoch."

    @staticmethod
    def fix(ev) -> str:
        if ev["from_first_epoch"]:
            return ("The loss was not finite from the start: check the data for NaN/Inf "
                    "(`np.isfinite(x).all()`, labels in range), the optimizer's epsilon (Adam's "
                    "must be > 0), and the loss for log(0); then divide the learning rate by 10.")
        return ("Divide the learning rate by 10 and clip gradients (`optimizer=keras.optimizers."
                "Adam(learning_rate=..., clipnorm=1.0)`); add `DivergenceGuard(lr_backoff=0.1)` "
                "to roll back to the last good weights and retry automatically.")


def _observed(key: str, curves: Curves) -> np.ndarray:
    """NaN that stands for a value (not for 'not evaluated this epoch')."""
    values = curves.series[key]
    if not key.startswith("val_"):
        return np.ones(values.shape, dtype=bool)
    # Validation every k-th epoch leaves structural NaN. A NaN after the first
    # observed validation value, where the training loss is also NaN/Inf or where
    # validation was evaluated the epoch before, is a real NaN.
    loss = curves.loss
    observed = np.zeros(values.shape, dtype=bool)
    if loss is not None:
        observed |= ~np.isfinite(loss)
    seen = np.isfinite(values)
    if seen.any():
        first_seen = int(np.argmax(seen))
        gaps = np.diff(np.where(seen)[0])
        stride = int(gaps.min()) if gaps.size else 1
        for i in range(first_seen, values.size, max(stride, 1)):
            observed[i] = True
    return observed


def _climbing(loss: np.ndarray, m: int) -> bool:
    """The `climbing` form of `diverging` (`CLIMB_*`): after its lowest point `m` the
    training loss rises on each of the last epochs by growing steps."""
    lmin, first, last = float(loss[m]), float(loss[0]), float(loss[-1])
    learned = first - lmin
    if learned <= 0 or last < CLIMB_MIN_RATIO * lmin or \
            last - lmin < CLIMB_MIN_GIVEBACK * learned:
        return False
    steps = np.diff(loss[m:])
    if steps.size < CLIMB_MIN_EPOCHS or steps[0] <= 0 or \
            float(np.mean(steps > 0)) < CLIMB_MIN_RISING_FRACTION:
        return False  # not rising on (nearly) every epoch since its lowest point
    if steps.size >= 3 and _kendall_tau(loss[m:]) < CLIMB_MIN_TREND:
        return False
    if steps[0] < CLIMB_MIN_STEP * learned:
        return False  # too small to tell from noise
    earlier = np.diff(loss[: m + 1])
    return not (earlier.size and float(np.max(earlier)) >= CLIMB_MAX_EARLIER_RISE * steps[0])


@finding_spec("diverging", severity="error", title="Training loss diverges", rank=20,
              subsumes=("underfitting", "plateau", "slow_convergence", "not_learning",
                        "converged", "val_lags_training"))
class Diverging:
    @staticmethod
    def detect(view: RunView):
        loss = view.loss
        if loss is None or view.n < 1:
            return None
        # A loss far above the reference level is a blow-up even in a run's only epoch
        # (issue #26: DivergenceGuard stopped SGD(30) in epoch 1 at a loss of 2e30 and the
        # report said "healthy, keep the settings").
        blown = _blown_up(view)
        if blown is not None:
            return blown
        if view.n < 3:
            return None
        m = int(np.argmin(loss))
        lmin, first, last = float(loss[m]), float(loss[0]), float(loss[-1])
        if m >= view.n - 1 or lmin <= 0:
            return None
        kind = "rising"
        after = loss[m:]
        before = loss[1: m]
        if before.size >= 3 and last <= float(np.max(before)):
            head = loss[: m + 1]
            jumps = int(np.sum(head[1:] >= BOUNCING_JUMP * np.maximum(head[:-1], 1e-12)))
            if jumps >= BOUNCING_MIN_JUMPS:
                # Back inside the range a bouncing loss has crossed again and again since
                # its start: its lowest point was one more low, not the turn of a
                # divergence (issue #23: Adam at 0.05 on wine, batches of 4, loss 0.19,
                # 0.91, 0.26, 0.82, 0.04, 0.48, 1e-5, 0.74).
                return None
        if last < DIVERGENCE_FACTOR * lmin or \
                last - lmin < DIVERGENCE_GIVEBACK * max(first - lmin, 0.0) or \
                (after.size >= 4 and _kendall_tau(after) < DIVERGENCE_MIN_TREND):
            # (A loss that ends high but does not trend up since its lowest point is a
            # noisy one whose lowest value was an outlier, not a divergence.)
            if not _climbing(loss, m):
                return None
            kind = "climbing"
        evidence = {
            "kind": kind,
            "min_loss": lmin, "min_loss_epoch": _num(view, m), "last_loss": last,
            "last_epoch": _num(view, view.n - 1), "first_loss": first,
            "ratio_to_min": last / lmin, "factor": DIVERGENCE_FACTOR,
            "giveback": DIVERGENCE_GIVEBACK, "lr_first": None, "lr_last": None,
        }
        lr = view.curves.learning_rate
        if lr is not None and np.isfinite(lr[: view.n]).all() and lr[view.n - 1] > lr[0] * 1.5:
            evidence.update({"lr_first": float(lr[0]), "lr_last": float(lr[view.n - 1])})
        return view.epoch(m + 1), evidence

    @staticmethod
    def message(ev) -> str:
        if ev.get("kind") == "guard":
            restored = (f" It restored the state of {ev['restored']}." if ev.get("restored")
                        else "")
            return (f"DivergenceGuard stopped the run in epoch {ev['epoch']}"
                    + (f" at step {ev['step']}" if ev.get("step") is not None else "")
                    + f": {ev['what']}.{restored}")
        if ev.get("kind") == "blown_up" and ev["since_epoch"] == ev["last_epoch"]:
            return (f"In its last epoch ({ev['since_epoch']}) the training loss was "
                    f"{ev['tail_loss']:.4g}, {ev['ratio']:.3g}x {ev['reference_name']} "
                    f"({ev['reference_loss']:.4g}): the weights have blown up.")
        if ev.get("kind") == "blown_up":
            peak = "" if ev["max_loss_epoch"] == ev["since_epoch"] and \
                ev["max_loss"] <= 1.5 * ev["tail_loss"] else \
                f" (it reached {ev['max_loss']:.3g} at epoch {ev['max_loss_epoch']})"
            return (f"Since epoch {ev['since_epoch']} the training loss has stayed above "
                    f"{ev['factor']:g}x {ev['reference_name']} ({ev['reference_loss']:.4g}): "
                    f"{ev['tail_loss']:.4g} over the last epochs ({ev['ratio']:.3g}x){peak}. "
                    "The weights have blown up.")
        text = (f"The training loss fell to {ev['min_loss']:.4g} at epoch {ev['min_loss_epoch']}, "
                f"then climbed to {ev['last_loss']:.4g} by epoch {ev['last_epoch']} "
                f"({ev['ratio_to_min']:.1f}x its best).")
        if ev.get("lr_first") is not None:
            text += (f" The logged learning rate grew from {ev['lr_first']:.3g} to "
                     f"{ev['lr_last']:.3g}.")
        return text

    @staticmethod
    def fix(ev) -> str:
        if ev.get("kind") == "guard":
            return ("Divide the learning rate by 10 (find a good one with "
                    "`keras_bestpractice.tuning.lr_range_test`) and clip gradients "
                    "(`clipnorm=1.0`); or let the guard retry on its own with "
                    "`DivergenceGuard(lr_backoff=0.5)`, which rolls back and halves the rate "
                    "instead of stopping.")
        if ev.get("kind") == "blown_up":
            return ("The learning rate is far too high: divide it by 100 (find a good one with "
                    "`keras_bestpractice.tuning.lr_range_test`), clip gradients (`clipnorm=1.0`) "
                    "and add `DivergenceGuard(lr_backoff=0.1)`; check the inputs are normalised.")
        return ("Divide the learning rate by 10 (or decay it: `keras.optimizers.schedules."
                "ExponentialDecay`, `ReduceLROnPlateau`), clip gradients (`clipnorm=1.0`), and add "
                "`DivergenceGuard(lr_backoff=0.1)`; the best weights were those of epoch "
                f"{ev['min_loss_epoch']}.")


def _blown_up(view: RunView):
    """The `blown_up` form of `diverging`: the loss stays >= 10x the reference level."""
    loss = view.loss
    chance = view.chance
    if chance is not None:
        reference, name = chance.loss, (
            "the loss of always predicting the typical target" if chance.kind == "regression"
            else "the chance level")
    elif view.acc is not None:
        reference, name = MAX_PLAUSIBLE_CHANCE_LOSS, "the largest chance level (1000 classes)"
    else:
        return None
    level = BLOWN_UP_FACTOR * reference
    if not (reference > 0 and float(loss[-1]) >= level):
        return None  # the last epoch came back below the level: not "stays"
    start = view.n - 1
    while start > 0 and loss[start - 1] >= level:
        start -= 1
    # The level it stays at: the mean of the last (up to) three epochs of that stretch.
    tail = float(np.mean(loss[max(start, view.n - 3):]))
    peak = int(np.argmax(loss))
    return view.epoch(start), {
        "kind": "blown_up", "tail_loss": tail, "reference_loss": reference,
        "reference_name": name, "ratio": tail / reference, "factor": BLOWN_UP_FACTOR,
        "since_epoch": _num(view, start), "max_loss": float(loss[peak]),
        "max_loss_epoch": _num(view, peak), "first_loss": float(loss[0]),
        "last_epoch": _num(view, view.n - 1),
    }


@finding_spec("not_learning", severity="error", title="Not learning",
              rank=30, subsumes=("underfitting", "plateau", "slow_convergence", "converged",
                                 "val_oscillation"))
class NotLearning:
    @staticmethod
    def detect(view: RunView):
        chance = view.chance or view.inferred_chance
        if view.loss is None or view.n < 2:
            return None
        if _is_slow(view):
            # Loss and validation both falling at an undiminished pace: learning, too
            # slowly (a rate far too low sits near chance for many epochs too).
            return None
        # A run whose predictions show one class gets the class shares as evidence
        # (the constant-predictor path below); another dead network, the freeze.
        dead = None if view.single_class is not None else dead_network(view)
        if dead is not None and dead["dead_kind"] == "ln_k" and view.linear_model:
            # A linear model at ln k has converged to the prior it can represent, not died.
            dead = None
        if dead is not None:
            # Frozen after a blow-up (or saturated): the most specific account of a stuck
            # run, whatever its level says about a chance level.
            return NotLearning._dead(view, dead, chance)
        if stall_at(view.loss) is not None and view.rate_collapsed():
            # Falling, then stopped dead as the logged rate collapsed: the schedule stopped
            # it (`plateau`), even where it stopped near the chance level (issue #23).
            return None
        evidence = None if chance is None else detect_not_learning(
            view.loss, view.acc, chance, val_loss=view.val_loss, val_accuracy=view.val_acc,
            grace_epochs=2,
        )
        if evidence is None and view.single_class is not None and \
                (chance is None or chance.kind == "classification"):
            # A classifier collapsed onto one class (the majority of imbalanced data) sits
            # at its data's prior, not at a uniform guess (issue #26). Its predictions say
            # it (every input gets one class), and its curves must agree: a constant
            # share as accuracy, a flat loss (a model whose rate went to zero is flat too,
            # but predicts several classes).
            constant = constant_predictor_level(
                view.loss, view.acc, view.val_acc,
                None if chance is None else chance.num_classes)
            if constant is not None:
                chance = constant
                evidence = detect_not_learning(
                    view.loss, view.acc, constant, val_loss=view.val_loss,
                    val_accuracy=view.val_acc, grace_epochs=2)
                if evidence is not None:
                    view.collapse_chance = constant
                    evidence.update({"predicted_class": view.single_class[0],
                                     "predictions": view.single_class[1]})
        if evidence is None:
            dead = dead_network(view) if view.single_class is not None else None
            return None if dead is None else NotLearning._dead(view, dead, chance)
        start = int(evidence.pop("stuck_since_position"))
        loss = view.loss
        early_max = float(np.max(loss[: max(1, min(3, view.n))]))
        tail_loss = float(evidence["tail_loss"])
        if early_max > 3 * chance.loss or (early_max >= NOT_LEARNING_SPIKE * tail_loss
                                           and early_max > 1.2 * chance.loss):
            # A first epoch far above where the run got stuck: the updates were too big
            # (a dead network: lr=3 SGD on digits goes 5.9, 2.6, then flat).
            cause = "too_high"
        elif start == 0 and _rel_change(loss[-min(3, view.n):]) < FROZEN_REL_CHANGE and \
                early_max <= (1.0 + 2 * FROZEN_REL_CHANGE) * tail_loss:
            # Flat from the first epoch on: nothing updates the weights.
            cause = "frozen"
        else:
            cause = "unknown"
        if view.linear_model and view.single_class is None and (
                cause == "unknown" or (cause == "too_high" and early_max <= 3 * chance.loss)):
            # A model without a non-linear hidden layer whose loss moved to the chance
            # level and stays: it found the best it can represent (`underfitting`). Its
            # untrained start above that level is no sign of a rate too high.
            return None
        evidence.update({"stuck_since_epoch": _num(view, start), "early_max_loss": early_max,
                         "cause": cause})
        return view.epoch(start), evidence

    @staticmethod
    def _dead(view: RunView, dead: dict, chance: ChanceLevel | None):
        """The `not_learning` evidence of a dead network (`dead_network`)."""
        start = int(dead.pop("frozen_since_position"))
        acc = None if view.acc is None else _nanmean(view.acc[start:])
        evidence = {**dead, "tail_loss": dead["frozen_level"], "tail_accuracy": acc,
                    "stuck_since_epoch": _num(view, start),
                    "early_max_loss": float(np.nanmax(view.loss[: max(1, start)])),
                    "cause": "too_high" if dead["dead_kind"] in ("blown_up", "rose", "saturated")
                    else "dead"}
        if chance is not None:
            evidence.update(chance.to_dict())
        return view.epoch(start), evidence

    @staticmethod
    def message(ev) -> str:
        if ev.get("dead_kind") is not None:
            return NotLearning._dead_message(ev)
        acc = ev.get("tail_accuracy")
        kind = ev.get("reference_kind", "classification")
        acc_txt = "" if acc is None or ev.get("chance_accuracy") is None else \
            f" and accuracy {acc:.3f} (chance {ev['chance_accuracy']:.3f})"
        low, high = ev.get("stuck_min"), ev.get("stuck_max")
        if low is not None and high is not None and high - low > 0.1 * ev["tail_loss"]:
            level = f"between {low:.4g} and {high:.4g}"
        else:
            level = f"at {ev['tail_loss']:.4g}"
        start = f"Since epoch {ev['stuck_since_epoch']} the training loss stays {level}" \
            f"{acc_txt}: "
        if kind == "regression":
            return (start + f"the loss of always predicting the typical target is "
                    f"{ev['chance_loss']:.4g} (the targets' spread). The model predicts a "
                    "constant and nothing else.")
        if kind in ("binary", "multilabel"):
            labels = f" of {ev['num_classes']} labels" if ev.get("num_classes", 1) > 1 else ""
            return (start + f"the entropy of the label prevalence{labels} is "
                    f"{ev['chance_loss']:.4g}. The model predicts the prevalence and nothing "
                    "else.")
        if ev.get("chance_source") == "constant_predictor":
            return (start + f"the model predicts class {ev['predicted_class']} for all "
                    f"{ev['predictions']} inputs it was shown, its accuracy is that class's "
                    f"share ({ev['chance_accuracy']:.3f}) every epoch and its loss at least the "
                    "entropy of any class prior with that majority "
                    f"({ev['chance_loss']:.4g}). It collapsed onto one class (the majority) "
                    "and learned nothing else.")
        c_txt = f"{ev['num_classes']} classes" if ev.get("num_classes") else "this prior"
        return (start + f"the chance level for {c_txt} is a loss of "
                f"{ev['chance_loss']:.4g}. The model predicts the class prior and nothing else.")

    @staticmethod
    def _dead_message(ev) -> str:
        acc = "" if ev.get("tail_accuracy") is None else \
            f" and the accuracy at {ev['tail_accuracy']:.4f}"
        start = (f"Since epoch {ev['stuck_since_epoch']} the training loss is frozen at "
                 f"{ev['tail_loss']:.4g}{acc} ({ev['frozen_epochs']} epochs without a change): ")
        if ev["dead_kind"] == "blown_up":
            return (start + f"it had blown up to {ev['peak_loss']:.3g} at epoch "
                    f"{ev['peak_epoch']} first. The network is dead: its updates destroyed "
                    "it and nothing moves it any more.")
        if ev["dead_kind"] == "saturated":
            return (start + f"{ev['tail_loss'] / ev['reference_loss']:.3g}x the loss of a model "
                    f"that learned nothing ({ev['reference_loss']:.4g}). Its outputs are "
                    "saturated, confidently wrong, and nothing moves them: the network is dead.")
        if ev["dead_kind"] == "rose":
            return (start + f"it had been down to {ev['best_loss']:.4g} at epoch "
                    f"{ev['best_epoch']} and got worse before it froze. The network is dead: "
                    "its updates destroyed what it had learned and nothing moves it any more.")
        return (start + f"that is ln {ev['k']}, the loss of giving each of {ev['k']} classes "
                "the same probability. The network outputs a constant: it is dead.")

    @staticmethod
    def fix(ev) -> str:
        fix = NotLearning._fix(ev)
        if ev.get("chance_source") == "constant_predictor":
            fix += (f" The majority class is {ev['chance_accuracy']:.0%} of the samples: once "
                    "the rate is right, weight the classes (`class_weight=` in fit) or feed "
                    "balanced batches (`stratified_dataset(x, y, batch_size, balance=0.5)`) so "
                    "that predicting the majority stops paying.")
        return fix

    @staticmethod
    def _fix(ev) -> str:
        if ev["cause"] == "dead":
            return ("Nothing updates the network any more: look for what killed it (a NaN in "
                    "the inputs turns weights into NaN, which ReLU then hides as zeros; a "
                    "learning rate far too high; a bias initialised far negative), fix it and "
                    "start from fresh weights; `DivergenceGuard()` stops a run whose weights "
                    "go non-finite.")
        if ev["cause"] == "too_high" and ev.get("dead_kind") in ("blown_up", "rose",
                                                                 "saturated"):
            how = "far too high" if ev["dead_kind"] == "blown_up" else "too high"
            return (f"The loss reached {ev['early_max_loss']:.3g} before the network froze: the "
                    f"learning rate is {how} and its updates killed the network (dead ReLU "
                    "units, saturated outputs). Divide it by 10-100 (try `keras_bestpractice."
                    "tuning.lr_range_test`), clip gradients (`clipnorm=1.0`) and start from "
                    "fresh weights; `DivergenceGuard(lr_backoff=0.1)` rolls such a run back.")
        if ev["cause"] == "too_high":
            ratio = ev["early_max_loss"] / ev["chance_loss"] if ev.get("chance_loss") else None
            above = f" ({ratio:.3g}x the reference level)" if ratio else ""
            how = "far too high" if ratio and ratio > 3 else "too high"
            return (f"The first epochs' loss reached {ev['early_max_loss']:.3g}{above} before "
                    f"the network got stuck: the learning rate is {how} and its first updates "
                    "killed the network (dead ReLU units, saturated outputs). Divide it by 10-100 "
                    "(try `keras_bestpractice.tuning.lr_range_test`) and start from fresh "
                    "weights.")
        if ev["cause"] == "frozen":
            return ("The loss does not move at all: check that the learning rate is not 0, that "
                    "the layers are trainable, and that labels match their inputs (not shuffled "
                    "separately).")
        if ev.get("reference_kind") == "regression":
            return ("Divide the learning rate by 10, standardise the inputs and the targets "
                    "(or give the output layer's bias the target mean), check that targets "
                    "match their inputs; reduce heavy regularisation.")
        return ("Check that labels match their inputs, that inputs are normalised, that the "
                "output layer and loss agree (softmax with `sparse_categorical_crossentropy`) "
                "and that the model can represent the task (a model without a hidden "
                "non-linear layer cannot separate classes that are not linearly separable); "
                "reduce heavy regularisation; if the loss jumps about, divide the learning rate "
                "by 10.")


# Validation at chance while training learns (issue #26: a from-scratch MobileNetV2's
# BatchNorm statistics, train 0.99 / validation exactly 1/3 for 8 epochs): the last
# `VAL_CHANCE_TAIL` epochs of validation at the chance level (`is_at_chance`), while the
# training loss is below half of it and, where logged, the training accuracy at least
# half-way from chance to perfect.
VAL_CHANCE_TAIL = 3
# "Sits": the validation loss moves by less than 5% over those epochs, or the validation
# accuracy is one constant share (at most 0.005 apart: one answer for every input). A model
# that overfits shuffled labels moves both (that is `overfitting`). With no class count
# given, the accuracy must be a constant share to name C.
VAL_CHANCE_MAX_REL_CHANGE = 0.05
VAL_CHANCE_INFERRED_MAX = 1.25
VAL_CHANCE_TRAIN_LOSS_FRACTION = 0.5
VAL_CHANCE_TRAIN_ACCURACY_FRACTION = 0.5


VAL_CHANCE_NEVER_ABOVE_EPOCHS = 5


def _val_accuracy_never_above_chance(view: RunView) -> bool:
    """Validation accuracy at its chance level on every epoch of a run of 5+ epochs (with
    a known class chance level): whatever its loss does (it climbs as the model grows
    confident on training data the validation labels do not match), nothing learned
    reached validation."""
    chance = view.chance
    if chance is None or chance.kind != "classification" or chance.accuracy is None or \
            view.val_acc is None or view.n < VAL_CHANCE_NEVER_ABOVE_EPOCHS:
        return False
    acc = view.val_acc[np.isfinite(view.val_acc)]
    return acc.size >= VAL_CHANCE_NEVER_ABOVE_EPOCHS and all(
        is_at_chance(chance.loss, float(a), chance) for a in acc)


@finding_spec("val_at_chance", severity="error", title="Validation at chance while training "
              "learns", rank=38,
              subsumes=("overfitting", "val_oscillation", "generalization_gap", "underfitting",
                        "plateau", "slow_convergence", "val_lags_training"))
class ValAtChance:
    @staticmethod
    def detect(view: RunView):
        t = VAL_CHANCE_TAIL
        if view.loss is None or not view.has_val() or view.n < t + 1:
            return None
        val_loss = view.val_loss[-t:]
        if not np.isfinite(val_loss).all():
            return None
        val_acc = None if view.val_acc is None else view.val_acc[-t:]
        if val_acc is not None and not np.isfinite(val_acc).all():
            val_acc = None
        # Sitting there: a flat validation loss, or one constant answer for every
        # validation input (a constant accuracy share; its loss may still climb as the
        # answer grows more confident).
        constant_answer = val_acc is not None and float(np.ptp(val_acc)) <= INFER_CONSTANT_ACCURACY
        never_above = _val_accuracy_never_above_chance(view)
        if _rel_change(val_loss) >= VAL_CHANCE_MAX_REL_CHANGE and not constant_answer and \
                not never_above:
            return None
        chance = view.chance
        if chance is None or chance.kind != "classification":
            if chance is not None or val_acc is None or \
                    float(np.ptp(val_acc)) > INFER_CONSTANT_ACCURACY:
                return None
            # No class count given: validation flat at ln C with accuracy near 1/C names it.
            chance = infer_chance_level(float(np.mean(val_loss)), float(np.mean(val_acc)),
                                        float(np.ptp(val_acc)))
            # Inferred, C must come from a loss near ln C (a loss far above it is an
            # overfitting model confidently wrong, whose accuracy can look like 1/C' for
            # some other C').
            if chance is None or float(np.mean(val_loss)) > VAL_CHANCE_INFERRED_MAX * chance.loss:
                return None
        vl = float(np.mean(val_loss))
        va = None if val_acc is None else float(np.mean(val_acc))
        if not is_at_chance(vl, va, chance) and not never_above:
            return None
        tl = float(np.mean(view.loss[-t:]))
        if tl >= VAL_CHANCE_TRAIN_LOSS_FRACTION * chance.loss:
            return None
        ta = None if view.acc is None else _nanmean(view.acc[-t:])
        if ta is not None and chance.accuracy is not None and \
                ta < chance.accuracy + VAL_CHANCE_TRAIN_ACCURACY_FRACTION * (1 - chance.accuracy):
            return None
        # Where it started: the first epoch from which validation stayed at chance.
        start = view.n - t
        while start > 0 and np.isfinite(view.val_loss[start - 1]) and is_at_chance(
                float(view.val_loss[start - 1]),
                None if view.val_acc is None else float(view.val_acc[start - 1]), chance):
            start -= 1
        evidence = {"train_loss": tl, "train_accuracy": ta, "val_loss": vl,
                    "val_accuracy": va, "since_epoch": _num(view, start), "tail_epochs": t}
        evidence.update(chance.to_dict())
        return view.epoch(start), evidence

    @staticmethod
    def message(ev) -> str:
        train = f"loss {ev['train_loss']:.4g}" + (
            "" if ev.get("train_accuracy") is None else f", accuracy {ev['train_accuracy']:.3f}")
        val = f"loss {ev['val_loss']:.4g}" + (
            "" if ev.get("val_accuracy") is None else f", accuracy {ev['val_accuracy']:.3f}")
        chance = f"loss {ev['chance_loss']:.4g}" + (
            "" if ev.get("chance_accuracy") is None else
            f", accuracy {ev['chance_accuracy']:.3f}")
        return (f"Training learns ({train}) while validation is no better than chance "
                f"({val}; chance: {chance}) since epoch {ev['since_epoch']}: what the model "
                "learned does not reach the validation data at all.")

    @staticmethod
    def fix(ev) -> str:
        return ("Look for a difference between how training and validation data reach the "
                "model: BatchNormalization statistics (a network trained from scratch in few "
                "steps, or frozen layers left in training mode: train longer, lower the "
                "BatchNormalization momentum, or keep `training=False` for a frozen base); "
                "preprocessing applied to one and not the other (rescaling, normalisation, "
                "channel order); validation labels that do not match their inputs (shuffled "
                "or mapped differently). Check: `model.evaluate(x_train[:512], "
                "y_train[:512])` should match the training accuracy.")


@finding_spec("overfitting", severity="warning", title="Overfitting", rank=60,
              subsumes=("val_lags_training",))
class Overfitting:
    @staticmethod
    def detect(view: RunView):
        if view.loss is None or not view.has_val() or view.n < 4:
            return None
        val, loss = view.val_loss, view.loss
        smooth = _smooth(val)
        finite = np.isfinite(smooth)
        if finite.sum() < 3:
            return None
        s_best = int(np.nanargmin(smooth))
        # The raw epoch where validation loss was lowest, up to where the smoothed
        # curve turned (a late single low spike in a noisy rise is not "the best").
        upto = min(view.n, s_best + 2)
        raw = np.where(np.isfinite(val[:upto]), val[:upto], np.inf)
        best = int(np.argmin(raw))
        vbest = float(val[best])
        after = view.n - 1 - s_best
        # The level the validation loss settled at after its best: the mean of the
        # smoothed curve over the second half of the epochs after the best one.
        tail = _nanmean(smooth[-max(1, min(after, max(3, after // 2))):]) if after >= 1 else None
        s_min = float(smooth[s_best])
        rise = None if tail is None or s_min <= 0 else tail / s_min - 1.0
        abs_rise = None if tail is None else tail - s_min
        train_drop = 1.0 - float(loss[-1]) / float(loss[best]) if loss[best] > 0 else 0.0
        if view.chance is not None:
            reference = view.chance.loss
        else:  # the larger first loss stands in for the unknown chance level
            reference = max(float(val[np.isfinite(val)][0]), float(loss[0]))
        post = val[s_best:][np.isfinite(val[s_best:])]
        tau = _kendall_tau(post)
        noise = float(np.median(np.abs(np.diff(post)))) if post.size > 2 else 0.0
        rising = (
            rise is not None
            and after >= OVERFIT_MIN_EPOCHS_AFTER_BEST
            and rise >= OVERFIT_MIN_RISE
            and abs_rise >= OVERFIT_MIN_ABS_RISE * reference
            and train_drop >= OVERFIT_TRAIN_MIN_DROP
            and ((tau >= OVERFIT_MIN_TREND and abs_rise >= OVERFIT_NOISE_MULTIPLE * noise)
                 or abs_rise >= OVERFIT_STRONG_NOISE_MULTIPLE * noise)
        )
        memorised = False
        # "Has not improved since E" needs a later, worse epoch: a run whose validation
        # loss is lowest at its last epoch is still improving (`generalization_gap`).
        still_improving = best >= view.n - 1 or not float(val[-1]) > vbest
        evidence: dict = {
            "best_val_loss": vbest, "best_epoch": _num(view, best),
            "last_val_loss": float(val[-1]), "val_rise": rise, "val_rise_abs": abs_rise,
            "trend_tau": tau, "train_loss_drop_since_best": train_drop,
            "min_rise": OVERFIT_MIN_RISE,
        }
        if view.acc is not None and view.val_acc is not None:
            t = min(3, view.n)
            acc, vacc = _nanmean(view.acc[-t:]), _nanmean(view.val_acc[-t:])
            tl, vl = _nanmean(loss[-t:]), _nanmean(val[-t:])
            if None not in (acc, vacc, tl, vl):
                clear_rise = (
                    rise is not None and rise >= OVERFIT_MEMORISED_MIN_RISE
                    and after >= OVERFIT_MIN_EPOCHS_AFTER_BEST and reference > 0
                    and tl <= OVERFIT_MEMORISED_LOSS_FRACTION * reference
                    and abs_rise >= OVERFIT_MEMORISED_NOISE_MULTIPLE * noise
                )
                memorised = (
                    acc >= OVERFIT_MEMORISED_ACCURACY
                    and (acc - vacc >= OVERFIT_ACCURACY_GAP or clear_rise)
                    and tl > 0
                    and vl >= OVERFIT_LOSS_RATIO * tl
                    and (rise is None or rise >= 0)
                    and not still_improving
                )
                evidence.update({"train_accuracy": acc, "val_accuracy": vacc,
                                 "accuracy_gap": acc - vacc})
        elif view.acc is None:
            t = min(3, view.n)
            tl, vl = _nanmean(loss[-t:]), _nanmean(val[-t:])
            if tl is not None and vl is not None and reference > 0:
                memorised = (
                    tl <= OVERFIT_MEMORISED_LOSS_FRACTION * reference
                    and vl >= OVERFIT_MEMORISED_LOSS_RATIO * max(tl, 1e-12)
                    and (rise is None or rise >= 0)
                    and not still_improving
                )
                evidence.update({"train_loss": tl, "reference_loss": reference,
                                 "train_loss_fraction": tl / reference})
        if not (rising or memorised):
            return None
        evidence.update({"rising": rising, "memorised": memorised})
        return view.epoch(best), evidence

    @staticmethod
    def message(ev) -> str:
        if ev["rising"]:
            return (f"Validation loss was lowest at epoch {ev['best_epoch']} "
                    f"({ev['best_val_loss']:.4g}) and then rose {ev['val_rise']:.0%} while the "
                    f"training loss kept falling ({ev['train_loss_drop_since_best']:.0%} lower).")
        if ev.get("train_accuracy") is None:
            return (f"The model memorised the training set (training loss {ev['train_loss']:.3g}, "
                    f"{ev['train_loss_fraction']:.1%} of the reference level "
                    f"{ev['reference_loss']:.4g}) but validation loss has not improved since "
                    f"epoch {ev['best_epoch']} ({ev['best_val_loss']:.4g}, "
                    f"{ev['last_val_loss']:.4g} at the last epoch).")
        return (f"The model memorised the training set (accuracy {ev['train_accuracy']:.3f}) but "
                f"validation accuracy is {ev['val_accuracy']:.3f}; validation loss has not "
                f"improved since epoch {ev['best_epoch']} ({ev['best_val_loss']:.4g}, "
                f"{ev['last_val_loss']:.4g} at the last epoch).")

    @staticmethod
    def fix(ev) -> str:
        text = ("Add regularisation: Dropout(0.25) after the hidden layers, L2 1e-4 "
                "(`kernel_regularizer=keras.regularizers.L2(1e-4)`) or data augmentation, or get "
                f"more data; or stop at epoch {ev['best_epoch']} with `keras.callbacks."
                "EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True)`.")
        if (ev.get("accuracy_gap") or 0.0) >= VAL_LAG_GAP:
            # A gap this wide is also what BatchNormalization statistics that lag the
            # batches give (issue #26, bench_judgments.py --part mismatch): one check
            # tells them apart before regularising.
            text += (" First check that it is memorisation: `model.evaluate(x_train[:512], "
                     "y_train[:512])` should score like the training accuracy; if it scores "
                     "like validation, the model behaves differently in inference mode "
                     "(BatchNormalization moving statistics: `momentum=0.9`, inputs "
                     "normalised) and regularising will not help.")
        return text


@finding_spec("generalization_gap", severity="info", title="Training set fitted, validation "
              "still improving", rank=1100)
class GeneralisationGap:
    """A run that fits its training set perfectly while validation loss is still at its
    best at the last epoch: not overfitting (yet), and no warning; said for the gap."""

    @staticmethod
    def detect(view: RunView):
        if view.acc is None or view.val_acc is None or not view.has_val() or view.n < 4:
            return None
        val = view.val_loss
        finite = np.where(np.isfinite(val), val, np.inf)
        best = int(np.argmin(finite))
        if best < view.n - 1:
            return None
        t = min(3, view.n)
        acc, vacc = _nanmean(view.acc[-t:]), _nanmean(view.val_acc[-t:])
        if acc is None or vacc is None or acc < OVERFIT_MEMORISED_ACCURACY or \
                acc - vacc < OVERFIT_ACCURACY_GAP:
            return None
        return view.epoch(best), {
            "train_accuracy": acc, "val_accuracy": vacc, "accuracy_gap": acc - vacc,
            "best_epoch": _num(view, best), "best_val_loss": float(val[best]),
        }

    @staticmethod
    def message(ev) -> str:
        return (f"Training accuracy {ev['train_accuracy']:.3f} against validation "
                f"{ev['val_accuracy']:.3f}: the training set is fitted, while validation loss "
                f"is still improving (lowest, {ev['best_val_loss']:.4g}, at the last epoch, "
                f"{ev['best_epoch']}).")

    @staticmethod
    def fix(ev) -> str:
        return ("Train on while validation loss improves (`keras.callbacks.EarlyStopping("
                "monitor='val_loss', patience=3, restore_best_weights=True)` stops at the right "
                "epoch); Dropout, L2 or data augmentation would narrow the gap.")


# Validation far behind training, not at chance (issue #26: a BatchNormalization net with
# slow moving statistics, training accuracy 0.94 against validation 0.48 and its loss 4x
# training's, was called healthy): over the last `VAL_LAG_TAIL` epochs, training learned
# at least half-way from chance to perfect, validation lacks at least `VAL_LAG_LOST` of
# what training gained above chance and `VAL_LAG_GAP` in absolute accuracy, and the
# validation loss is `OVERFIT_LOSS_RATIO` times the training loss or more. On every
# labelled corpus, no run labelled healthy has an accuracy gap of 0.2 at its last epoch.
VAL_LAG_TAIL = 3
VAL_LAG_GAP = 0.25
VAL_LAG_LOST = 1 / 3
VAL_LAG_MIN_EPOCHS = 4


@finding_spec("val_lags_training", severity="warning", title="Validation far behind training",
              rank=55, subsumes=("generalization_gap",))
class ValLagsTraining:
    @staticmethod
    def detect(view: RunView):
        if view.acc is None or view.val_acc is None or view.loss is None or \
                not view.has_val() or view.n < VAL_LAG_MIN_EPOCHS:
            return None
        t = VAL_LAG_TAIL
        tails = [view.acc[-t:], view.val_acc[-t:], view.loss[-t:], view.val_loss[-t:]]
        if not all(np.isfinite(x).all() for x in tails):
            return None
        ta, va, tl, vl = (float(np.mean(x)) for x in tails)
        chance = view.chance
        c = chance.accuracy if chance is not None and chance.kind == "classification" and \
            chance.accuracy is not None else 0.0
        learned = ta - c
        if learned < 0.5 * (1.0 - c) or tl <= 0 or vl < OVERFIT_LOSS_RATIO * tl:
            return None
        gap = ta - va
        lost = gap / learned
        if gap < VAL_LAG_GAP or lost < VAL_LAG_LOST:
            return None
        val = np.where(np.isfinite(view.val_loss), view.val_loss, np.inf)
        best = int(np.argmin(val))
        return view.epoch(view.n - t), {
            "train_accuracy": ta, "val_accuracy": va, "train_loss": tl, "val_loss": vl,
            "accuracy_gap": gap, "lost_share": lost, "chance_accuracy": c,
            "loss_ratio": vl / tl, "tail_epochs": t, "best_val_epoch": _num(view, best),
            "val_still_improving": best >= view.n - 2,
        }

    @staticmethod
    def message(ev) -> str:
        state = "still improving" if ev["val_still_improving"] else "no longer improving"
        trend = f"{state} (its loss lowest at epoch {ev['best_val_epoch']})"
        return (f"Training accuracy {ev['train_accuracy']:.3f} against validation "
                f"{ev['val_accuracy']:.3f} over the last {ev['tail_epochs']} epochs: "
                f"validation lacks {ev['lost_share']:.0%} of what training learned above "
                f"chance ({ev['chance_accuracy']:.3g}), and its loss is "
                f"{ev['loss_ratio']:.1f}x the training loss ({ev['val_loss']:.4g} against "
                f"{ev['train_loss']:.4g}); validation is {trend}.")

    @staticmethod
    def fix(ev) -> str:
        return ("Find out which side is off: `model.evaluate(x_train[:512], y_train[:512])` "
                "scores training data in inference mode. If it scores like validation, the "
                "model behaves differently at inference: BatchNormalization moving "
                "statistics that lag the batches (a network trained from scratch in few "
                "steps, inputs far from zero, a high `momentum`: use `momentum=0.9` or "
                "normalise the inputs, and train on while validation catches up). If it "
                "scores like training, the validation data differ from the training data "
                "(preprocessing applied to one only, a shift between the splits) or the "
                "training set is small enough to memorise (more data, augmentation, "
                "Dropout or L2).")


@finding_spec("underfitting", severity="warning", title="Underfitting", rank=70,
              subsumes=("plateau", "converged"))
class Underfitting:
    @staticmethod
    def detect(view: RunView):
        if view.loss is None or view.n < 3:
            return None
        loss = view.loss
        t = min(3, view.n)
        tl = float(np.mean(loss[-t:]))
        fraction = UNDERFIT_MIN_LOSS_FRACTION
        stalled, standstill = stall_at(loss) is not None, frozen_since(loss) is not None
        if view.chance is not None and view.chance.kind == "regression" and \
                standstill and not stalled:
            # A regression converged to a standstill (a convex fit's optimum): what it
            # has not explained by then, it cannot.
            fraction = UNDERFIT_CONVERGED_REGRESSION_FRACTION
        if view.chance is not None and tl >= DEAD_ABOVE_REFERENCE * view.chance.loss:
            return None  # worse than a constant answer: broken, not short of capacity
        poor_loss = None if view.chance is None else tl >= fraction * view.chance.loss
        acc = None if view.acc is None else _nanmean(view.acc[-t:])
        poor_acc = None
        if acc is not None and view.chance is not None and view.chance.accuracy is not None:
            span = 1.0 - view.chance.accuracy
            poor_acc = (acc - view.chance.accuracy) / span <= UNDERFIT_MAX_ACCURACY_FRACTION
        elif acc is not None:
            poor_acc = acc <= UNDERFIT_MAX_ACCURACY_FRACTION
        checks = [c for c in (poor_loss, poor_acc) if c is not None]
        if not checks or not all(checks):
            return None
        w = min(view.n, max(3, view.n // 4 + 1))
        window = loss[-w:]
        slope = -np.polyfit(np.arange(w, dtype=float), window, 1)[0] / max(
            float(np.mean(window)), 1e-12)
        if slope >= UNDERFIT_MAX_REL_SLOPE or _max_step(window) > UNDERFIT_MAX_JITTER:
            return None
        if view.has_val() and _nanmean(view.val_loss[-t:]) is not None and \
                _nanmean(view.val_loss[-t:]) >= 0.9 * tl:
            # (Validation well below training is regularisation holding training back:
            # validation improving there is no sign that more epochs fix it.)
            val_window = view.val_loss[-w:]
            val_window = val_window[np.isfinite(val_window)]
            if val_window.size >= 3 and -np.polyfit(
                    np.arange(val_window.size, dtype=float), val_window, 1)[0] / max(
                    float(np.mean(val_window)), 1e-12) >= UNDERFIT_MAX_VAL_REL_SLOPE:
                return None  # validation still improving: train longer first
        if stalled:
            return None  # stopped dead while falling: a stall (plateau), not capacity
        if _is_slow(view):
            return None  # still learning at a steady pace: the learning rate, not capacity
        evidence: dict = {"train_loss": tl, "train_accuracy": acc, "rel_slope_per_epoch": slope,
                          "max_rel_slope": UNDERFIT_MAX_REL_SLOPE}
        inverted = False
        if view.has_val():
            vl = _nanmean(view.val_loss[-t:])
            if vl is None:
                return None
            gap = (vl - tl) / max(tl, 1e-12)
            evidence.update({"val_loss": vl, "gap": gap, "max_gap": UNDERFIT_MAX_GAP})
            if gap > UNDERFIT_MAX_GAP:
                return None
            inverted = gap < -0.10
        if view.chance is not None:
            evidence.update(view.chance.to_dict())
        start = int(np.argmax(loss <= tl * 1.05))
        first = float(loss[0])
        if view.linear_model:
            evidence["linear_model"] = True
        evidence.update({"inverted_gap": inverted, "levelled_since_epoch": _num(view, start),
                         "max_over_first": float(np.max(loss)) / first if first > 0 else None,
                         "standstill": standstill})
        return view.epoch(start), evidence

    @staticmethod
    def message(ev) -> str:
        acc_txt = "" if ev["train_accuracy"] is None else f", accuracy {ev['train_accuracy']:.3f}"
        if ev["inverted_gap"]:
            return (f"The training loss levelled off at {ev['train_loss']:.4g}{acc_txt}, above the "
                    f"validation loss ({ev['val_loss']:.4g}): regularisation is holding the "
                    "model back.")
        text = ("Training and validation loss levelled off together at a poor value (training "
                f"{ev['train_loss']:.4g}{acc_txt}) from about epoch {ev['levelled_since_epoch']}: "
                "the model cannot fit the data.")
        if ev.get("linear_model"):
            text += (" The model has no non-linear hidden layer: it can only draw straight "
                     "boundaries (fit a linear function), and it has converged to the best of "
                     "those.")
        return text

    @staticmethod
    def fix(ev) -> str:
        if ev["inverted_gap"]:
            return ("Reduce Dropout (e.g. 0.5 -> 0.2) and L2 (e.g. 1e-2 -> 1e-4), then train "
                    "longer; if it still levels off, add units or layers.")
        if ev.get("linear_model"):
            return ("Increase capacity: add a hidden non-linear layer (e.g. `Dense(64, "
                    "activation='relu')` before the output), or give the model features that "
                    "carry the non-linear structure. More epochs or another learning rate will "
                    "not move a linear model that has converged.")
        if ev.get("standstill"):
            # Converged to a standstill: neither more epochs nor another rate moves it.
            return ("Increase capacity (more units, e.g. Dense(128), or another (non-linear) "
                    "layer) and reduce regularisation; check the features carry the signal. "
                    "More epochs or another learning rate will not move a model that has "
                    "converged.")
        rose = ev.get("max_over_first") is None or ev["max_over_first"] >= 10.0
        lr = "" if rose else ", or raise the learning rate"
        return ("Increase capacity (more units, e.g. Dense(128), or another layer), reduce "
                f"regularisation, train longer{lr}; check the features carry the signal.")


def _kendall_tau(x: np.ndarray) -> float:
    """Kendall's tau of `x` against time (1: always rising, -1: always falling)."""
    x = np.asarray(x, dtype=float)
    if x.size < 3:
        return 0.0
    diff = np.sign(x[None, :] - x[:, None])
    upper = np.triu_indices(x.size, k=1)
    return float(diff[upper].mean())


def _max_step(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return math.inf
    level = max(float(np.mean(np.abs(x))), 1e-12)
    return float(np.max(np.abs(np.diff(x))) / level)


def _bounce(val: np.ndarray) -> tuple[float, float]:
    """`(excess movement per epoch, share of direction changes)` of a curve: how far it
    travels beyond the straightest path through its lowest point (down to it, then up
    to its end), per epoch, and how often its direction turns."""
    d = np.diff(val)
    vmin = float(val.min())
    baseline = (float(val[0]) - vmin) + (float(val[-1]) - vmin)
    excess = max(float(np.abs(d).sum()) - baseline, 0.0) / (val.size - 1)
    signs = np.sign(d[d != 0])
    reversals = float(np.mean(signs[1:] != signs[:-1])) if signs.size > 1 else 0.0
    return excess, reversals


@finding_spec("val_oscillation", severity="warning", title="Validation loss oscillates",
              rank=80)
class ValOscillation:
    @staticmethod
    def detect(view: RunView):
        if not view.has_val():
            return None
        val = view.val_loss[np.isfinite(view.val_loss)]
        if val.size < OSCILLATION_MIN_EPOCHS:
            return None
        excess, reversals = _bounce(val)
        rel = excess / max(float(np.median(val)), float(val[0]) - float(val.min()), 1e-12)
        if rel < OSCILLATION_MIN_EXCESS or reversals < OSCILLATION_MIN_REVERSALS:
            # After a steep first descent the whole-run scale hides a bounce as large as
            # the level it bounces at: judge the epochs after the first third alone.
            tail = val[val.size // 3:]
            if tail.size < OSCILLATION_MIN_EPOCHS:
                return None
            excess, reversals = _bounce(tail)
            rel = excess / max(float(np.median(tail)), 1e-12)
            reference = view.chance.loss if view.chance is not None else float(val[0])
            if rel < OSCILLATION_TAIL_MIN_EXCESS or reversals < OSCILLATION_TAIL_MIN_REVERSALS \
                    or excess < OSCILLATION_TAIL_MIN_ABS * reference:
                return None  # (a converged model wiggling near zero loss is no bounce)
        d = np.diff(val)
        positions = np.where(np.isfinite(view.val_loss))[0]
        jump = int(positions[int(np.argmax(np.abs(d))) + 1])
        return view.epoch(jump), {
            "excess_movement_per_epoch": rel, "direction_changes": reversals,
            "largest_jump_epoch": _num(view, jump),
            "largest_jump_to": float(view.val_loss[jump]),
            "min_excess": OSCILLATION_MIN_EXCESS,
            "min_direction_changes": OSCILLATION_MIN_REVERSALS,
        }

    @staticmethod
    def message(ev) -> str:
        return (f"Validation loss bounces back and forth: direction changes on "
                f"{ev['direction_changes']:.0%} of epochs, {ev['excess_movement_per_epoch']:.0%} "
                f"of its level per epoch beyond a smooth path (largest jump at epoch "
                f"{ev['largest_jump_epoch']}, to {ev['largest_jump_to']:.4g}).")

    @staticmethod
    def fix(ev) -> str:
        return ("Lower the learning rate (divide by 3-10) or decay it (`ReduceLROnPlateau`), use a "
                "larger batch size, and a larger stratified validation set "
                "(`keras_bestpractice.data.stratified_split`); with BatchNormalization and small "
                "batches, raise the batch size.")


def _creeping(view: RunView) -> bool:
    """Falling on (nearly) every epoch, training and validation, at an undiminished
    pace however small (issue #23: Adagrad at 2e-4 on digits, 0.07%/epoch): a rate far
    too low, not a stuck model (whose loss wanders, or whose validation does not
    follow)."""
    curves = [view.loss] + ([view.val_loss[np.isfinite(view.val_loss)]] if view.has_val()
                            else [])
    return all(c.size >= SLOW_MIN_EPOCHS + 2 and np.mean(np.diff(c) < 0) >= CREEP_MIN_FRACTION
               and float(c[-1]) < float(c[0]) and pace_kept(c) for c in curves)


def _is_slow(view: RunView) -> bool:
    """Steady but slow: the slow_convergence condition (shared with underfitting)."""
    if view.loss is None or view.n < SLOW_MIN_EPOCHS:
        return False
    loss = view.loss
    first, last = float(loss[0]), float(loss[-1])
    if first <= 0 or (first - last) / first >= SLOW_MAX_TOTAL_IMPROVEMENT:
        return False
    if _creeping(view):
        return not (view.chance is not None and
                    last < SLOW_MIN_CHANCE_FRACTION * view.chance.loss)
    if not steadily_decreasing(loss):
        return False
    if view.has_val() and not steadily_decreasing(view.val_loss, min_fraction=0.6):
        return False
    if not pace_kept(loss):
        return False
    return not (view.chance is not None and last < SLOW_MIN_CHANCE_FRACTION * view.chance.loss)


@finding_spec("slow_convergence", severity="warning",
              title="Slow convergence (learning rate too low?)", rank=90)
class SlowConvergence:
    @staticmethod
    def detect(view: RunView):
        if not _is_slow(view) or view.rate_is_low() is False:
            return None
        return SlowConvergence.evidence(view)

    @staticmethod
    def evidence(view: RunView):
        loss = view.loss
        first, last = float(loss[0]), float(loss[-1])
        improvement = (first - last) / first
        rate = (first - last) / first / max(view.n - 1, 1)
        return None, {
            "first_loss": first, "last_loss": last, "epochs": view.n,
            "total_improvement": improvement, "improvement_per_epoch": rate,
            "epochs_to_halve": None if rate <= 0 else int(math.ceil(0.5 / rate)),
            "max_total_improvement": SLOW_MAX_TOTAL_IMPROVEMENT,
        }

    @staticmethod
    def message(ev) -> str:
        text = (f"The loss goes down steadily but slowly: {ev['total_improvement']:.0%} in "
                f"{ev['epochs']} epochs ({ev['first_loss']:.4g} -> {ev['last_loss']:.4g}, about "
                f"{ev['improvement_per_epoch']:.1%} per epoch).")
        if ev["epochs_to_halve"]:
            text += f" At this pace halving it would take ~{ev['epochs_to_halve']} epochs."
        return text

    @staticmethod
    def fix(ev) -> str:
        return ("Multiply the learning rate by 10 (find it with `keras_bestpractice.tuning."
                "lr_range_test` or `lr_sweep`); a healthy update/weight ratio is ~1e-3.")


@finding_spec("still_improving", severity="info", title="Still improving", rank=1050)
class StillImproving:
    """Steady but slow progress at the optimizer's customary rate (issue #23): the rate is
    not the suspect (advice to raise it would contradict the evidence); the run has not
    finished. A note, not a warning."""

    @staticmethod
    def detect(view: RunView):
        if not _is_slow(view) or view.rate_is_low() is not False:
            return None
        epoch, evidence = SlowConvergence.evidence(view)
        facts = view.facts
        lr = view.logged_rates()
        evidence.update({"optimizer": facts.optimizer,
                         "learning_rate": float(lr.max()) if lr is not None
                         else facts.learning_rate,
                         "customary_rate": facts.customary_rate})
        return epoch, evidence

    @staticmethod
    def message(ev) -> str:
        return (SlowConvergence.message(ev) + f" The learning rate ({ev['learning_rate']:.3g}) "
                f"is a customary one for {ev['optimizer']}: the run is still improving and has "
                "not finished.")

    @staticmethod
    def fix(ev) -> str:
        return ("Train for more epochs, with `keras.callbacks.EarlyStopping(monitor='val_loss', "
                "patience=5, restore_best_weights=True)` to stop where it ends. To get there "
                "sooner: normalised inputs, a wider or deeper model, or a learning-rate range "
                "test (`keras_bestpractice.tuning.lr_range_test`) to see whether a larger rate "
                "stays stable.")


@finding_spec("plateau", severity="warning", title="Training plateaued", rank=100)
class Plateau:
    @staticmethod
    def detect(view: RunView):
        if view.loss is None or view.n < PLATEAU_MIN_EPOCHS:
            return None
        loss = view.loss
        p = max(3, view.n // 4)
        window = loss[-(p + 1):]
        change = _rel_change(window)
        if change >= PLATEAU_MAX_REL_CHANGE:
            return None
        level = float(np.mean(window))
        reference = view.chance.loss if view.chance is not None else float(loss[0])
        if level < PLATEAU_MIN_LEVEL * reference:
            return None  # converged near zero: nothing left to gain
        start = stall_at(loss)
        if start is None:
            return None  # slowed down gradually: converged (see `converged`), not a stall
        lr = view.curves.learning_rate
        lr_now = None
        if lr is not None and np.isfinite(lr[: view.n]).any():
            lr_now = float(lr[view.n - 1])
        return view.epoch(start), {
            "level": level, "relative_change": change, "window_epochs": p,
            "frozen": _max_step(window) < FROZEN_REL_CHANGE, "since_epoch": _num(view, start),
            "final_learning_rate": lr_now, "max_relative_change": PLATEAU_MAX_REL_CHANGE,
            "last_drop": float(loss[start - 1] - loss[start]) / level,
        }

    @staticmethod
    def message(ev) -> str:
        drop = "" if ev.get("last_drop") is None else \
            f", after falling {ev['last_drop']:.1%} in the epoch before"
        text = (f"The training loss stopped dead at epoch {ev['since_epoch']} (stuck at "
                f"{ev['level']:.4g}{drop}; {ev['relative_change']:.2%} change over the last "
                f"{ev['window_epochs']} epochs): it was still improving when it stalled.")
        if ev["final_learning_rate"] is not None:
            text += f" The learning rate at the end was {ev['final_learning_rate']:.3g}."
        return text

    @staticmethod
    def fix(ev) -> str:
        if ev["frozen"]:
            return ("The weights have stopped changing: the learning rate collapsed (check the "
                    "schedule, `ReduceLROnPlateau(min_lr=...)`), or the layers are frozen. Keep "
                    "the learning rate above ~1e-5 (e.g. `ReduceLROnPlateau(factor=0.5, "
                    "min_lr=1e-5)`).")
        return ("Use `ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=3)` or a warm "
                "restart schedule; if it stays flat, add capacity.")


# A run that converged (issue #23): it reached its best validation loss at least
# `CONVERGED_MIN_AFTER_BEST` epochs before its end and stayed within
# `CONVERGED_MAX_REL_CHANGE` of it (or, without validation, its training loss moved
# under that over the last epochs), having slowed down gradually (not a stall). Info:
# the epochs EarlyStopping would have saved.
CONVERGED_MIN_AFTER_BEST = 3
CONVERGED_MAX_REL_CHANGE = 0.02
CONVERGED_PATIENCE = 3
CONVERGED_MIN_DELTA = 1e-3


def first_best(val: np.ndarray) -> int:
    """The position of the first epoch within `CONVERGED_MIN_DELTA` of the lowest value
    of `val` (EarlyStopping's min_delta): a curve creeping down by 1e-7 was at its best
    long before its last epoch. NaN epochs are skipped."""
    lowest = float(np.nanmin(val))
    return int(np.argmax(np.where(np.isfinite(val), val, np.inf)
                         <= lowest + CONVERGED_MIN_DELTA * abs(lowest)))


@finding_spec("converged", severity="info", title="Converged", rank=1001)
class Converged:
    @staticmethod
    def detect(view: RunView):
        if view.loss is None or view.n < PLATEAU_MIN_EPOCHS or stall_at(view.loss) is not None:
            return None
        lr = view.curves.learning_rate
        reductions = 0
        if lr is not None and np.isfinite(lr[: view.n]).all():
            reductions = int(np.sum(np.diff(lr[: view.n]) < 0))
        if view.has_val():
            val = view.val_loss
            best = first_best(val)
            after = view.n - 1 - best
            tail = val[best:][np.isfinite(val[best:])]
            level = float(val[best])
            if after < CONVERGED_MIN_AFTER_BEST or level <= 0 or \
                    float(np.max(tail) - level) > CONVERGED_MAX_REL_CHANGE * level:
                return None
            stop = best + CONVERGED_PATIENCE  # position EarlyStopping stops at
            return view.epoch(best), {
                "monitor": "val_loss", "best": level, "best_epoch": _num(view, best),
                "epochs_after_best": after, "patience": CONVERGED_PATIENCE,
                "saved_epochs": max(0, view.n - 1 - stop), "lr_reductions": reductions,
            }
        window = view.loss[-(CONVERGED_MIN_AFTER_BEST + 1):]
        if _rel_change(window) > CONVERGED_MAX_REL_CHANGE:
            return None
        return view.epoch(view.n - 1 - CONVERGED_MIN_AFTER_BEST), {
            "monitor": "loss", "best": float(np.min(view.loss)),
            "best_epoch": _num(view, int(np.argmin(view.loss))),
            "epochs_after_best": CONVERGED_MIN_AFTER_BEST, "patience": CONVERGED_PATIENCE,
            "saved_epochs": None, "lr_reductions": reductions,
        }

    @staticmethod
    def message(ev) -> str:
        lr = "" if not ev["lr_reductions"] else \
            f" (the learning rate was reduced {ev['lr_reductions']} time(s) on the way)"
        text = (f"The run converged: {ev['monitor']} reached {ev['best']:.4g} at epoch "
                f"{ev['best_epoch']} and stayed there{lr}.")
        if ev["saved_epochs"]:
            text += (f" EarlyStopping(patience={ev['patience']}) would have stopped "
                     f"{ev['saved_epochs']} epoch(s) earlier.")
        return text

    @staticmethod
    def fix(ev) -> str:
        return (f"Nothing to fix. To save the {ev['saved_epochs'] or 'flat'} epoch(s) after the "
                f"best, add `keras.callbacks.EarlyStopping(monitor={ev['monitor']!r}, patience="
                f"{ev['patience']}, restore_best_weights=True)`; to go lower, the model, not "
                "the schedule, has to change.")
