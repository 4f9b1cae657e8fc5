"""Which checkpoints to keep. Pure Python, no TensorFlow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keras_bestpractice._core.compare import Direction, is_finite_number


@dataclass(frozen=True)
class Entry:
    """A committed checkpoint as retention sees it.

    Attributes:
        name: directory name.
        step: global training step at the save.
        value: the monitored value, or `None` when it was not in the logs.
        epoch_boundary: True when saved at the end of an epoch (resumable
            with any input pipeline).
        order: the save's position in its directory (newer is higher); `None`
            orders by `step`. A run started over (`resume=False`) saves at lower
            steps than the checkpoints it supersedes, so age is the save order.
    """

    name: str
    step: int
    value: float | None
    epoch_boundary: bool
    order: int | None = None

    @property
    def age_key(self) -> tuple[int, str]:
        return (self.step if self.order is None else self.order, self.name)


def select_retained(entries: Sequence[Entry], keep_last: int, keep_best: int,
                    mode: Direction | str) -> set[str]:
    """Names to keep: the `keep_last` newest, the `keep_best` best, and the newest
    epoch-boundary checkpoint (always: a mid-epoch checkpoint is only resumable
    with a stratified feeder, so the newest epoch boundary stays as a fallback).

    Ties in age are broken by name, ties in value by age (newer first).
    """
    direction = Direction.of(mode)
    newest_first = sorted(entries, key=lambda e: e.age_key, reverse=True)
    keep = {e.name for e in newest_first[:max(keep_last, 0)]}
    scored = [e for e in newest_first if is_finite_number(e.value)]
    scored.sort(key=lambda e: (direction.sort_key(e.value), -e.age_key[0]))
    keep |= {e.name for e in scored[:max(keep_best, 0)]}
    for e in newest_first:
        if e.epoch_boundary:
            keep.add(e.name)
            break
    return keep


def best_entry(entries: Sequence[Entry], mode: Direction | str) -> Entry | None:
    """The entry with the best monitored value (newer wins ties), or `None`."""
    newest_first = sorted(entries, key=lambda e: e.age_key, reverse=True)
    i = Direction.of(mode).best_index([e.value for e in newest_first])
    return None if i is None else newest_first[i]
