"""Learning-curve projection: where a metric is heading, and whether it gets to a target.

Pure NumPy. The curve of a metric over epochs is fitted with two families of
saturating curves, each linear in two parameters once its rate is fixed
(Domhan et al., IJCAI 2015, use a larger family with MCMC; this is the small,
closed-form version):

- exponential: y(t) = a - b exp(-c t)
- power law:   y(t) = a - b t^(-c)

(for a metric to minimise, the same on -y). Every (family, rate) pair on a grid
is a least-squares fit; the pairs are weighted by their likelihood under the
residual noise of the best fit, tempered (raised to the power 1/TEMPER: a
handful of noisy epochs must not make one curve certain; chosen on the real runs
of `benchmarks/bench_objective.py`, where real curves level off and then creep
up), and each gives a normal
predictive distribution for the value at a future epoch. The mixture answers
"probability of reaching the target by epoch T" and "epoch at which the target
is reached" (weighted quantiles over the grid). Projections need
`MIN_POINTS` epochs or more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from keras_bestpractice._core.compare import Direction

MIN_POINTS = 4
TEMPER = 4.0  # the likelihood is raised to 1/TEMPER
_EXP_RATES = np.logspace(-2.5, 0.7, 90)
_POW_RATES = np.logspace(-1.7, 0.7, 70)
_HORIZON = 10_000  # epochs searched for "reached at"
_MAX_FUTURE = 1_000  # epochs looked at for "reached by the budget"


@dataclass(frozen=True)
class Projection:
    """A fitted learning curve and what it says about a target.

    Attributes:
        epochs_seen: epochs the fit used.
        mode: "max" (higher is better) or "min".
        current: the best value so far.
        target: the target value, or `None`.
        budget: the last epoch considered (1-based, as Keras prints), or `None`.
        probability: probability that the target is reached at some epoch up to
            `budget` (each remaining epoch with its predictive noise).
        expected_epoch: median epoch (1-based) at which the target is reached
            (`inf` when the median curve never gets there).
        interval: central interval of that epoch at the projection's confidence.
        value_at_budget: median projected value at `budget`.
    """

    epochs_seen: int
    mode: Direction
    current: float
    target: float | None
    budget: int | None
    probability: float
    expected_epoch: float
    interval: tuple[float, float]
    value_at_budget: float | None
    components: list[tuple[str, float, float]] = field(default_factory=list, repr=False)

    def describe(self) -> str:
        """One line, e.g. "reaches 0.95 at epoch 14 (10-22), 93% by epoch 30"."""
        if self.target is None:
            return f"{self.value_at_budget:.4g} at epoch {self.budget}"
        reach = ("never on the fitted curves" if math.isinf(self.expected_epoch)
                 else f"at epoch {int(self.expected_epoch)}")
        lo, hi = self.interval
        span = "" if math.isinf(self.expected_epoch) else \
            f" ({int(lo)}-{'never' if math.isinf(hi) else int(hi)})"
        by = f", {self.probability:.0%} by epoch {self.budget}" if self.budget else ""
        return f"reaches {self.target:.4g} {reach}{span}{by}"


_FAMILIES = np.array(["exp"] * _EXP_RATES.size + ["pow"] * _POW_RATES.size)
_RATES = np.concatenate([_EXP_RATES, _POW_RATES])
_IS_EXP = _FAMILIES == "exp"


def _bases(t: np.ndarray) -> np.ndarray:
    """basis_k(t) of every (family, rate) on the grid: `[K, len(t)]`."""
    t = np.asarray(t, dtype=np.float64)[None, :]
    rates = _RATES[:, None]
    return np.where(_IS_EXP[:, None], np.exp(-rates * t), t ** (-rates))


def _fits(t: np.ndarray, z: np.ndarray):
    """Every (family, rate) least-squares fit of z = a - b basis(t), in closed form:
    `(a, b, sse, inv)` arrays over the grid (`inv` the entries of the 2x2
    (X'X)^-1) and the mask of well-conditioned fits."""
    u = _bases(t)                                   # [K, n]
    n = float(t.size)
    su, suu = u.sum(axis=1), (u * u).sum(axis=1)
    sz, suz = float(z.sum()), u @ z
    det = n * suu - su * su                         # of X'X = [[n, -su], [-su, suu]]
    ok = det > 1e-12 * np.maximum(n * suu, 1e-300)
    det = np.where(ok, det, 1.0)
    inv00, inv01, inv11 = suu / det, su / det, n / det
    # (a, b) = (X'X)^-1 X'z with X'z = [sz, -suz]
    a = inv00 * sz - inv01 * suz
    b = inv01 * sz - inv11 * suz
    resid = a[:, None] - b[:, None] * u - z[None, :]
    sse = (resid ** 2).sum(axis=1)
    return a, b, sse, (inv00, inv01, inv11), ok


# A late start (issue #26: six epochs at the majority-class accuracy, then learning): the
# learning curve begins where the run first gets `LATE_START_FRACTION` of the way to its
# best so far; the flat head before it is not part of the curve (the families assume
# learning from epoch 1, and fitted to a flat head they see a ceiling that is not there).
# A curve whose improvement so far is within `NOISE_FACTOR` times its epoch-to-epoch
# noise has not started at all: nothing can be projected from it ("uncertain").
LATE_START_FRACTION = 0.1
NOISE_FACTOR = 3.0
# ...and beyond `MIN_START_CHANGE` of the curve's level: a flat accuracy moves in steps of
# one sample (0.102, 0.102, 0.100) and its second differences are 0, so "three times the
# noise" is 0 and one sample lost read as "clearly worse", one gained as a start (issue
# #26, late starters made after the first late-start rule: a deep sigmoid net at 0.100 for
# 8 epochs was projected, and stopped, at 0.098).
MIN_START_CHANGE = 0.05
# A flat head is at least 3 epochs whose mean step is at most a quarter of the mean step
# after it (a slow, steady start is a curve, not a plateau: on the objective corpora,
# trimming a slow start cost a correct projection).
MIN_FLAT_HEAD = 3
FLAT_HEAD_STEP_RATIO = 0.25
# After a plateau the rise begins with a jump that the families read as a fast
# saturation: six epochs of the rise before projecting it (four made a held-out digits
# run that met 0.84 at epoch 37 look capped at epoch 8).
LATE_START_MIN_POINTS = 6


def rise_index(z: np.ndarray, first: float, total: float,
               finite: np.ndarray | None = None) -> int:
    """Where a rise of `total` from `first` crossed `LATE_START_FRACTION` of the way for
    good: the index after the last epoch still at or under that bar (non-finite epochs,
    marked False in `finite`, do not hold it back)."""
    above = z - first > LATE_START_FRACTION * total
    if finite is not None:
        above = np.where(finite, above, True)
    below = np.flatnonzero(~above)
    return int(below[-1] + 1) if below.size else 0


def improved(values: Sequence[float], mode: Direction | str) -> bool:
    """Has the curve's best so far moved past its first value by more than
    `MIN_START_CHANGE` of its level (and its noise)?"""
    z = Direction.of(mode).sign * np.asarray(values, dtype=np.float64)
    z = z[np.isfinite(z)]
    if z.size < 2:
        return False
    bends = np.abs(np.diff(z, n=2))
    noise = float(np.median(bends)) / 1.65 if bends.size else 0.0
    gain = float(np.max(z) - z[0])
    return gain > max(NOISE_FACTOR * noise, MIN_START_CHANGE * abs(float(z[0])))


def learning_start(values: Sequence[float], mode: Direction | str) -> int | None:
    """Index of the epoch the learning curve starts at (0 for a run that learns from
    its first epoch, or one that only got worse), or `None` when it is flat: no
    improvement beyond noise yet."""
    z = Direction.of(mode).sign * np.asarray(values, dtype=np.float64)
    finite = np.isfinite(z)
    if finite.sum() < 2:
        return None
    first = z[np.argmax(finite)]
    best = np.fmax.accumulate(np.where(finite, z, -np.inf)) - first
    total = float(best[-1])
    # The epoch-to-epoch noise, from second differences (a trend, even a steep one, has
    # none; iid noise of scale s gives a median |second difference| of 1.65 s).
    bends = np.abs(np.diff(z[finite], n=2))
    noise = float(np.median(bends)) / 1.65 if bends.size else 0.0
    noise = max(noise, MIN_START_CHANGE * abs(float(first)) / NOISE_FACTOR)
    if total <= NOISE_FACTOR * noise:
        # No improvement beyond noise: a flat curve has not started (None); one that got
        # clearly worse is projected as it is (it starts at its first epoch).
        last = z[finite][-1]
        worse = float(first - last)
        return 0 if worse > 0 and worse >= NOISE_FACTOR * noise else None
    # The rise starts where the curve crosses `LATE_START_FRACTION` of the way for good: a
    # flat head's noise that pokes above the line once (0.088, 0.099, 0.095, 0.095, ...
    # before a rise from epoch 7) is part of the head.
    i = rise_index(z, first, total, finite)
    # A plateau, not a slow start: at least `MIN_FLAT_HEAD` epochs whose steps are a
    # small fraction of the steps after them.
    head, rest = z[:i][finite[:i]], z[i - 1:][finite[i - 1:]] if i else z[:0]
    if i < MIN_FLAT_HEAD or rest.size < 2:
        return 0
    head_step = float(np.mean(np.abs(np.diff(head)))) if head.size > 1 else 0.0
    rest_step = float(np.mean(np.abs(np.diff(rest))))
    return i if head_step <= FLAT_HEAD_STEP_RATIO * rest_step else 0


def project(values: Sequence[float], mode: Direction | str, target: float | None = None,
            budget: int | None = None, confidence: float = 0.9,
            ceiling_seen: bool = False) -> Projection | None:
    """Fit the curve of `values` (one per epoch, epochs 1..n) and project it.

    The curve starts where the run starts learning (`learning_start`): a flat head
    is left out and the fit's epochs count from the start, so a late starter is not
    taken for a run at its ceiling. A run that has not started learning gives `None`
    (nothing to project: uncertain, never "unreachable"), unless `ceiling_seen`:
    the caller has evidence that the curve is at its ceiling, not waiting to start
    (the training curve of the same metric learns while this one stays flat), and
    it is projected as it is, from its first epoch.

    Args, returns: as `_project`.
    """
    mode = Direction.of(mode)
    values = list(values)
    start = 0 if ceiling_seen else learning_start(values, mode)
    if start is None:
        return None
    if start == 0:
        return _project(values, mode, target, budget, confidence)
    if len(values) - start < LATE_START_MIN_POINTS:
        return None  # the rise has just begun: too few epochs of it to fit
    p = _project(values[start:], mode, target, None if budget is None else budget - start,
                 confidence)
    if p is None:
        return None
    return Projection(p.epochs_seen, p.mode, p.current, p.target, budget, p.probability,
                      p.expected_epoch + start, (p.interval[0] + start, p.interval[1] + start),
                      p.value_at_budget, p.components)


def _project(values: Sequence[float], mode: Direction | str, target: float | None = None,
             budget: int | None = None, confidence: float = 0.9) -> Projection | None:
    """Fit the curve of `values` (one per epoch, epochs 1..n) and project it.

    Args:
        values: the metric per epoch (non-finite values are left out).
        mode: "max" or "min".
        target: the value to reach (`None`: only the value at `budget`).
        budget: the last epoch (1-based) that counts.
        confidence: width of the `interval` (0.9: the 5%-95% range).

    Returns:
        A `Projection`, or `None` with fewer than `MIN_POINTS` finite values.
    """
    mode = Direction.of(mode)
    y = np.asarray(values, dtype=np.float64)
    t_all = np.arange(1, y.size + 1, dtype=np.float64)
    keep = np.isfinite(y)
    t, y = t_all[keep], y[keep]
    if y.size < MIN_POINTS:
        return None
    sign = mode.sign
    z = sign * y
    a, b, sses, (i00, i01, i11), ok = _fits(t, z)
    if not ok.any():
        return None
    families, rates = _FAMILIES[ok], _RATES[ok]
    a, b, sses, i00, i01, i11 = a[ok], b[ok], sses[ok], i00[ok], i01[ok], i11[ok]
    dof = max(y.size - 3, 1)
    spread = float(np.ptp(z)) or abs(float(z.mean())) or 1.0
    # The noise floor keeps a curve fitted exactly from claiming certainty.
    sigma2 = max(float(sses.min()) / dof, (0.005 * spread) ** 2, 1e-12)
    weights = np.exp(-(sses - sses.min()) / (2 * TEMPER * sigma2))  # tempered likelihood
    weights /= weights.sum()
    current = float(y.max() if mode is Direction.MAX else y.min())
    horizon = budget if budget is not None else int(t_all[-1])
    u_budget = _bases(np.array([float(horizon)]))[ok, 0]
    value_at_budget = sign * _weighted_quantile(a - b * u_budget, weights, 0.5)
    if target is None:
        return Projection(int(y.size), mode, current, None, budget, float("nan"),
                          float("nan"), (float("nan"), float("nan")), value_at_budget)
    z_target = sign * float(target)
    last = int(t_all[-1])
    future = np.arange(last + 1, max(min(horizon, last + _MAX_FUTURE), last) + 1,
                       dtype=np.float64)
    if future.size:
        # Met at ANY remaining epoch counts (the objective stops at the first one):
        # 1 - prod_t P(epoch t falls short), with each epoch's predictive noise.
        u = _bases(future)[ok]                                       # [K, F]
        mean = a[:, None] - b[:, None] * u
        var = sigma2 * (1.0 + i00[:, None] - 2 * i01[:, None] * u + i11[:, None] * u * u)
        short = 1.0 - _norm_sf((z_target - mean) / np.sqrt(var))
        probs = 1.0 - np.exp(np.log(np.clip(short, 1e-300, 1.0)).sum(axis=1))
    else:
        probs = np.zeros_like(a)
    already = bool(np.any(z >= z_target))
    probability = 1.0 if already else float(np.dot(weights, probs))
    # The epoch the curve gets there, and the noise band around it: reached earlier
    # by a lucky epoch, later by an unlucky one.
    z_band = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0) * math.sqrt(sigma2)
    reach, early, late = (np.array([_reach_epoch(f, c, ak, bk, level, float(t[-1]))
                                    for f, c, ak, bk in zip(families, rates, a, b,
                                                            strict=True)])
                          for level in (z_target, z_target - z_band, z_target + z_band))
    quantile = (1.0 - confidence) / 2.0
    expected = _weighted_quantile(reach, weights, 0.5)
    interval = (_weighted_quantile(early, weights, quantile),
                _weighted_quantile(late, weights, 1.0 - quantile))
    if already:
        first = float(t[np.argmax(z >= z_target)])
        expected, interval = first, (first, first)
    comps = [(str(f), float(c), float(w)) for f, c, w in zip(families, rates, weights,
                                                              strict=True) if w > 1e-3]
    return Projection(int(y.size), mode, current, float(target), budget, probability,
                      float(expected), (float(interval[0]), float(interval[1])),
                      value_at_budget, comps)


def _reach_epoch(family: str, c: float, a: float, b: float, z_target: float,
                 last: float) -> float:
    """First epoch after `last` at which a + (-b) basis(t) >= z_target (`inf`: never)."""
    if a <= z_target or b <= 0:  # the asymptote is short of it, or the curve falls
        return math.inf
    # a - b basis(t) >= z  <=>  basis(t) <= (a - z) / b
    level = (a - z_target) / b
    if level <= 0:
        return math.inf
    t = -math.log(level) / c if family == "exp" else level ** (-1.0 / c)
    t = max(math.ceil(t), int(last) + 1)
    return float(t) if t <= _HORIZON else math.inf


def _norm_sf(x: np.ndarray) -> np.ndarray:
    """P(N(0, 1) > x), vectorised (Abramowitz and Stegun 7.1.26 for erfc; |error| < 2e-7)."""
    x = np.asarray(x, dtype=np.float64) / math.sqrt(2.0)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (
        -1.453152027 + t * 1.061405429))))
    erfc_abs = poly * np.exp(-a * a)
    return np.where(x >= 0, 0.5 * erfc_abs, 1.0 - 0.5 * erfc_abs)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    idx = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(v[min(idx, v.size - 1)])
