"""The shared benchmark harness: time a candidate against a baseline, interleaved.

Every benchmark in this folder uses `compare()`: both callables run `repeats`
times in alternating order (ABBA...), after `warmup` untimed runs each, in the
same process, so drift (thermal, caches, other load) hits both alike. It prints
min/median/max per side and the median ratio candidate/baseline, and returns
them. Speed is measured here, never asserted in unit tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def max(self) -> float:
        return max(self.seconds)


@dataclass
class Comparison:
    title: str
    candidate: Timing
    baseline: Timing
    unit: str = "s"
    per: float = 1.0  # divide seconds by this (e.g. steps) for the printed figures

    @property
    def ratio(self) -> float:
        """Median candidate time / median baseline time."""
        return self.candidate.median / self.baseline.median

    def line(self) -> str:
        c, b = self.candidate, self.baseline

        def f(t: Timing) -> str:
            return (f"{t.name}: min {t.min / self.per * _scale(self.unit):.4g} "
                    f"median {t.median / self.per * _scale(self.unit):.4g} "
                    f"max {t.max / self.per * _scale(self.unit):.4g} {self.unit}")

        return (f"{self.title}\n  {f(c)}\n  {f(b)}\n  median ratio {self.ratio:.3f} "
                f"(min ratio {self.min_ratio:.3f})")

    @property
    def min_ratio(self) -> float:
        """Fastest candidate run / fastest baseline run (least disturbed by noise)."""
        return self.candidate.min / self.baseline.min

    def to_dict(self) -> dict:
        return {"title": self.title, "ratio": self.ratio, "candidate": asdict(self.candidate),
                "baseline": asdict(self.baseline), "unit": self.unit, "per": self.per}


def _scale(unit: str) -> float:
    return {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]


def compare(
    title: str,
    candidate: Callable[[], object],
    baseline: Callable[[], object],
    *,
    repeats: int = 7,
    warmup: int = 1,
    names: tuple[str, str] = ("candidate", "baseline"),
    unit: str = "s",
    per: float = 1.0,
    timer: Callable[[Callable[[], object]], float] | None = None,
    verbose: bool = True,
) -> Comparison:
    """Time `candidate` and `baseline` alternately; print and return the comparison.

    `timer(fn)` may replace wall-clock timing of the whole call (e.g. to time
    only the steps inside a `fit`); it must return seconds.
    """
    timer = timer or _wall
    for _ in range(warmup):
        candidate()
        baseline()
    cand, base = Timing(names[0]), Timing(names[1])
    for i in range(repeats):
        order = ((candidate, cand), (baseline, base))
        if i % 2:
            order = order[::-1]
        for fn, sink in order:
            sink.seconds.append(timer(fn))
    result = Comparison(title, cand, base, unit=unit, per=per)
    if verbose:
        print(result.line(), flush=True)
    return result


def _wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def environment() -> dict[str, str]:
    """Versions and machine facts to print next to the figures."""
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": str(os.cpu_count())}
    for module in ("numpy", "tensorflow", "keras", "keras_tuner"):
        with contextlib.suppress(Exception):  # a missing module is just not reported
            info[module] = __import__(module).__version__
    return info


def print_header(title: str) -> None:
    print(f"# {title}")
    print("environment: " + json.dumps(environment()))


def save_json(path: str | os.PathLike, comparisons: list[Comparison], extra: dict | None = None):
    payload = {"environment": environment(), "results": [c.to_dict() for c in comparisons]}
    payload.update(extra or {})
    Path(path).write_text(json.dumps(payload, indent=1))
