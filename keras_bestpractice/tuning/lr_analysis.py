"""Reading a learning-rate range test: smoothing and suggestions. Pure NumPy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Points skipped at each end before looking for the steepest slope: the first
# steps are dominated by noise and the bias correction of the smoothing.
SKIP_START = 5


def smooth(losses: Sequence[float], beta: float) -> np.ndarray:
    """Bias-corrected exponential moving average (as fastai and Lightning do)."""
    out = np.empty(len(losses), dtype=np.float64)
    avg = 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1.0 - beta) * float(loss)
        out[i] = avg / (1.0 - beta ** (i + 1)) if beta < 1 else float(loss)
    return out


def steepest(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The rate where the smoothed loss falls fastest against log(lr), before its minimum."""
    n = int(np.argmin(smoothed)) + 1
    start = min(SKIP_START, max(0, n - 3))
    if n - start < 3:
        return None
    x = np.log10(lrs[start:n])
    slope = np.gradient(smoothed[start:n], x)
    return float(lrs[start + int(np.argmin(slope))])


def valley(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """fastai's "valley": two thirds of the way down the longest falling stretch."""
    n = len(smoothed)
    if n < 3:
        return None
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
        if lds[max_end] < lds[i]:
            max_end = i
            max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[min(max(idx, 0), n - 1)])


def minimum_tenth(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The rate at the minimum smoothed loss, divided by 10."""
    if len(smoothed) == 0:
        return None
    return float(lrs[int(np.argmin(smoothed))] / 10.0)


def suggestions(lrs: Sequence[float], smoothed: Sequence[float]) -> dict[str, float | None]:
    lrs_a = np.asarray(lrs, dtype=np.float64)
    sm = np.asarray(smoothed, dtype=np.float64)
    finite = np.isfinite(sm)
    if not finite.all():
        cut = int(np.argmin(finite)) if not finite[0] else int(np.argmax(~finite))
        lrs_a, sm = lrs_a[:cut], sm[:cut]
    return {"valley": valley(lrs_a, sm), "steepest": steepest(lrs_a, sm),
            "minimum/10": minimum_tenth(lrs_a, sm)}


def exponential_schedule(min_lr: float, max_lr: float, num_steps: int) -> np.ndarray:
    """`num_steps` rates from `min_lr` to `max_lr`, evenly spaced on a log scale."""
    if num_steps == 1:
        return np.array([min_lr])
    return min_lr * (max_lr / min_lr) ** (np.arange(num_steps) / (num_steps - 1))
