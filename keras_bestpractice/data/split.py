"""Stratified train/validation/test splits. Pure NumPy (pandas for DataFrames).

The per-class counts come from a *controlled rounding* of the table of exact
shares n_c * size_j / N (Cox, 1987): every cell is rounded to its floor or its
ceiling, the rows still sum to the class counts and the columns to the split
sizes. So each class's count in each split is within one of its exact share,
which the usual independent rounding per split cannot promise for three splits.
Where `min_per_class` lifts a tiny class's cell above its share, another cell of
that class (or of that split) must give the unit up: then the table is the one with
the fewest units outside their [floor, ceil] (a min-cost flow), and a request is
refused only when no table exists at all (a class with fewer samples than the
non-empty splits need, or a split smaller than the classes it must hold).
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from typing import Any

import numpy as np

# The handbooks' rule of thumb for the validation and test shares by data size.
RULE_OF_THUMB = ((1_000, 0.20), (10_000, 0.10), (math.inf, 0.05))


def rule_of_thumb(num_samples: int) -> float:
    """The handbooks' split share: 20% under 1,000 samples, 10% under 10,000, else 5%."""
    for limit, share in RULE_OF_THUMB:
        if num_samples < limit:
            return share
    return RULE_OF_THUMB[-1][1]  # pragma: no cover


def encode_labels(y: Any, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Integer class ids and the class values for sparse, string or one-hot labels.

    Raises:
        ValueError: for empty labels, NaN/None labels, or a 2-D array that is not one-hot.
    """
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: there is nothing to split.")
    if arr.ndim == 2 and arr.shape[1] > 1:
        if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
            raise ValueError(f"`{name}` is 2-D but not a one-hot matrix of numbers.")
        row_sums = arr.sum(axis=1)
        if not (np.all((arr == 0) | (arr == 1)) and np.all(row_sums == 1)):
            raise ValueError(
                f"`{name}` is 2-D with shape {arr.shape} but its rows are not one-hot "
                "(exactly one 1 per row) nor multi-label (0/1); pass integer or string "
                "labels instead."
            )
        ids = arr.argmax(axis=1).astype(np.int64)
        return ids, np.arange(arr.shape[1])
    if arr.ndim == 2:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D labels or a one-hot matrix, got shape "
                         f"{arr.shape}.")
    if arr.dtype.kind == "f":
        bad = np.where(~np.isfinite(arr))[0]
        if bad.size:
            raise ValueError(f"`{name}` has NaN/Inf labels at positions {bad[:5].tolist()}"
                             + (" ..." if bad.size > 5 else "") + ".")
        fractional = arr[arr != np.round(arr)]
        if fractional.size:
            raise ValueError(
                f"`{name}` holds continuous values (e.g. {fractional[0]:.6g}): stratification "
                "needs class labels. For a regression target, stratify by quantile bins "
                "(`bins=10`)."
            )
    if arr.dtype.kind == "O":
        bad = [i for i, v in enumerate(arr) if v is None or (isinstance(v, float)
                                                             and math.isnan(v))]
        if bad:
            raise ValueError(f"`{name}` has missing (None/NaN) labels at positions {bad[:5]}.")
    if arr.dtype.kind in "iu" and arr.size:
        # Integer labels over a range no wider than the data: one counting pass instead
        # of a sort (issue #24: 10M labels, 2.2 s in np.unique).
        low, high = int(arr.min()), int(arr.max())
        if high - low < max(arr.size, 1024):
            offset = (arr - low).astype(np.intp, copy=False)
            present = np.bincount(offset, minlength=high - low + 1) > 0
            lookup = np.cumsum(present) - 1
            classes = (np.nonzero(present)[0] + low).astype(arr.dtype)
            return lookup[offset].astype(np.int64, copy=False), classes
    classes, ids = np.unique(arr, return_inverse=True)
    return ids.astype(np.int64).ravel(), classes


def quantile_bins(values: Any, bins: int, name: str = "y") -> np.ndarray:
    """Bin ids `0..k-1` of a continuous target by its quantiles (`k <= bins`: equal
    values never straddle a bin edge, so heavy ties give fewer bins).

    Raises:
        ValueError: for NaN/Inf values or a target that is not one column.
    """
    from keras_bestpractice import _validation as v

    bins = v.check_int("bins", bins, minimum=2)
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"`{name}` must be one non-empty column of numbers to bin, got "
                         f"shape {arr.shape}.")
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`bins` needs a numeric `{name}`: {exc}.") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` has NaN/Inf values; they cannot be binned.")
    edges = np.unique(np.quantile(arr, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, arr, side="right").astype(np.int64)


def stratification_target(y: Any, stratify_on: Any = None, name: str = "y") -> Any:
    """The labels to stratify on: `y` itself, or one target of a multi-output `y`
    (a dict by key, a tuple/list of arrays by index)."""
    if isinstance(y, dict):
        if stratify_on is None:
            if len(y) != 1:
                raise ValueError(f"`{name}` is a dict of {len(y)} targets {sorted(y)}: pass "
                                 "`stratify_on=<key>` to say which one to stratify on.")
            return next(iter(y.values()))
        if stratify_on not in y:
            raise ValueError(f"`stratify_on`={stratify_on!r} is not a key of `{name}`; keys: "
                             f"{sorted(y)}.")
        return y[stratify_on]
    if isinstance(y, tuple):
        if stratify_on is None:
            if len(y) != 1:
                raise ValueError(f"`{name}` is a tuple of {len(y)} targets: pass "
                                 "`stratify_on=<index>` to say which one to stratify on.")
            return y[0]
        if isinstance(stratify_on, bool) or not isinstance(stratify_on, int) or \
                not -len(y) <= stratify_on < len(y):
            raise ValueError(f"`stratify_on`={stratify_on!r} must be an index into the "
                             f"{len(y)} targets of `{name}`.")
        return y[stratify_on]
    if stratify_on is not None:
        raise ValueError(f"`stratify_on`={stratify_on!r} needs `{name}` to be a dict or a "
                         "tuple of targets.")
    return y


def _split_size(name: str, value: Any, total: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a fraction in [0, 1), a count or None, got "
                        f"{value!r}.")
    if isinstance(value, numbers.Integral) and not (0 < value < 1):
        count = int(value)
        if count < 0 or count >= total:
            raise ValueError(f"`{name}`={count} must be a count in [0, {total - 1}] for "
                             f"{total} samples.")
        return count
    frac = float(value)
    if not 0.0 <= frac < 1.0:
        raise ValueError(f"`{name}` must be a fraction in [0, 1) or a count, got {value!r}.")
    return int(math.ceil(frac * total)) if frac > 0 else 0


def _max_flow_rounding(exact: np.ndarray, totals: np.ndarray, lower: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Round `exact` (rows: classes, columns: splits) cell by cell to floor/ceil.

    Row sums stay the class counts, column sums become `totals`, cells never go
    below `lower`. Solved as a bipartite flow of the "+1" units (rows supply,
    columns demand, one unit per cell with a fractional part); random
    priorities make the choice among valid roundings seeded.
    """
    floor = np.floor(exact + 1e-9).astype(np.int64)
    frac = exact - floor
    forced = lower > floor
    counts = np.rint(exact.sum(axis=1)).astype(np.int64)
    base = np.maximum(floor, lower)
    supply = counts - base.sum(axis=1)
    demand = totals - base.sum(axis=0)
    if np.any(supply < 0) or np.any(demand < 0):
        raise ValueError("min_per_class cannot be met with these split sizes")
    allowed = (frac > 1e-9) & ~forced
    rows, cols = exact.shape
    up = np.zeros_like(base)
    # Greedy by largest fraction (random tie-break), then augmenting paths.
    keys = frac + rng.random(frac.shape) * 1e-6
    for flat in np.argsort(-keys, axis=None):
        r, c = divmod(int(flat), cols)
        if allowed[r, c] and supply[r] > 0 and demand[c] > 0:
            up[r, c] = 1
            supply[r] -= 1
            demand[c] -= 1
    while supply.sum() > 0:
        # BFS from a row with supply to a column with demand, alternating along
        # unused cells (row -> column) and used cells (column -> row).
        start = int(np.nonzero(supply > 0)[0][0])
        parent: dict[tuple[str, int], tuple[str, int] | None] = {("r", start): None}
        queue = deque([("r", start)])
        found = None
        while queue and found is None:
            kind, i = queue.popleft()
            if kind == "r":
                for c in range(cols):
                    if allowed[i, c] and up[i, c] == 0 and ("c", c) not in parent:
                        parent[("c", c)] = ("r", i)
                        if demand[c] > 0:
                            found = c
                            break
                        queue.append(("c", c))
            else:
                for r in np.nonzero(up[:, i])[0]:
                    if ("r", int(r)) not in parent:
                        parent[("r", int(r))] = ("c", i)
                        queue.append(("r", int(r)))
        if found is None:
            raise ValueError("no stratified rounding meets min_per_class with these sizes")
        node: tuple[str, int] | None = ("c", found)
        while node is not None:
            prev = parent[node]
            if prev is None:
                break
            if node[0] == "c":
                up[prev[1], node[1]] = 1
            else:
                up[node[1], prev[1]] = 0
            node = prev
        supply[start] -= 1
        demand[found] -= 1
    return base + up


def _min_cost_rounding(exact: np.ndarray, totals: np.ndarray, lower: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """The table nearest to `exact` with the given row and column sums and cells
    `>= lower`: first the fewest units outside each cell's [floor, ceil], then the
    least squared deviation (a separable convex min-cost flow, solved by successive
    shortest paths from the floor/ceil table; Bellman-Ford on the bipartite residual
    graph, vectorised). Used where `min_per_class` forces a cell up and another cell
    must then leave its [floor, ceil] to make room; such a table exists whenever the
    row and column sums leave room for the lower bounds (checked by the caller).
    """
    floor = np.floor(exact + 1e-9)
    ceil = np.ceil(exact - 1e-9)
    big = 1e6  # per unit outside [floor, ceil]: far above any squared-deviation change
    noise = rng.random(exact.shape) * 1e-6  # seeded choice among equal tables

    def cost(v: np.ndarray) -> np.ndarray:
        return (v - exact) ** 2 + big * (np.maximum(floor - v, 0) + np.maximum(v - ceil, 0))

    x = np.maximum(floor, lower).astype(np.int64)
    counts = np.rint(exact.sum(axis=1)).astype(np.int64)
    rows, cols = exact.shape
    for _ in range(int(counts.sum()) + 1):
        row_need = counts - x.sum(axis=1)    # > 0: the row must gain units
        col_need = totals - x.sum(axis=0)
        if not row_need.any() and not col_need.any():
            return x
        up = cost(x + 1) - cost(x) + noise            # edge row -> column: cell + 1
        down = np.where(x > lower, cost(x - 1) - cost(x) - noise, np.inf)  # column -> row
        d_row = np.where(row_need > 0, 0.0, np.inf)  # sources: rows that must gain
        d_col = np.where(col_need < 0, 0.0, np.inf)  # ... and columns that must lose
        par_col = np.full(cols, -1)
        par_row = np.full(rows, -1)
        for _ in range(rows + cols + 1):  # Bellman-Ford, alternating the two sides
            via_row = d_row[:, None] + up
            best_r = via_row.argmin(axis=0)
            cand = via_row[best_r, np.arange(cols)]
            better_c = cand < d_col - 1e-12
            d_col = np.where(better_c, cand, d_col)
            par_col = np.where(better_c, best_r, par_col)
            via_col = d_col[None, :] + down
            best_c = via_col.argmin(axis=1)
            cand = via_col[np.arange(rows), best_c]
            better_r = cand < d_row - 1e-12
            d_row = np.where(better_r, cand, d_row)
            par_row = np.where(better_r, best_c, par_row)
            if not better_c.any() and not better_r.any():
                break
        sinks = [(d_col[j], "c", j) for j in np.nonzero(col_need > 0)[0]] + \
                [(d_row[r], "r", r) for r in np.nonzero(row_need < 0)[0]]
        sinks = [s for s in sinks if np.isfinite(s[0])]
        if not sinks:
            raise ValueError("min_per_class cannot be met with these split sizes")
        _, kind, node = min(sinks, key=lambda s: s[0])
        # Walk back to a source, applying each edge: column reached from a row = cell + 1,
        # row reached from a column = cell - 1.
        for _ in range(2 * (rows + cols) + 2):
            if kind == "c":
                r = int(par_col[node])
                if r < 0:
                    break  # a source column
                x[r, node] += 1
                kind, node = "r", r
            else:
                j = int(par_row[node])
                if j < 0:
                    break  # a source row
                x[node, j] -= 1
                kind, node = "c", j
    raise ValueError("min_per_class cannot be met with these split sizes")  # pragma: no cover


def is_multilabel(y: Any) -> bool:
    """Whether `y` is an N x L matrix of 0/1 with some row not one-hot."""
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim != 2 or arr.shape[1] < 2 or not np.issubdtype(arr.dtype, np.number):
        return False
    if not np.all((arr == 0) | (arr == 1)):
        return False
    return not np.all(arr.sum(axis=1) == 1)


def iterative_stratification(labels: np.ndarray, sizes: list[int],
                             rng: np.random.Generator) -> np.ndarray:
    """The split (index into `sizes`) of every row of a 0/1 label matrix, by iterative
    stratification (Sechidis, Tsoumakas and Vlahavas, 2011): the rarest label first,
    each of its samples to the split that still wants most of that label (ties: most
    samples wanted, then random); a split that is full takes no more, so the split
    sizes are exact. Rows without labels fill what is left."""
    y = np.asarray(labels, dtype=bool)
    n, n_labels = y.shape
    sizes_arr = np.asarray(sizes, dtype=np.float64)
    want_total = sizes_arr.copy()
    want = np.outer(sizes_arr / n, y.sum(axis=0).astype(np.float64))  # [K, L]
    split = np.full(n, -1, dtype=np.int64)
    left = y.copy()
    while True:
        per_label = left.sum(axis=0)
        live = np.nonzero(per_label > 0)[0]
        if live.size == 0:
            break
        rarest = per_label[live].min()
        label = int(rng.choice(live[per_label[live] == rarest]))
        for i in rng.permutation(np.nonzero(left[:, label])[0]):
            open_ = want_total > 0.5
            score = np.where(open_, want[:, label], -np.inf)
            best = np.nonzero(score == score.max())[0]
            if best.size > 1:
                totals = want_total[best]
                best = best[totals == totals.max()]
            j = int(rng.choice(best))
            split[i] = j
            want[j] -= y[i]
            want_total[j] -= 1
            left[i] = False
    for i in rng.permutation(np.nonzero(split < 0)[0]):
        j = int(np.argmax(want_total + rng.random(want_total.size) * 1e-9))
        split[i] = j
        want_total[j] -= 1
    _improve_by_swaps(y, split, sizes_arr, rng)
    return split


PAIR_WEIGHT = 0.5


def _improve_by_swaps(y: np.ndarray, split: np.ndarray, sizes: np.ndarray,
                      rng: np.random.Generator, max_patterns: int = 2000) -> None:
    """Swap samples between splits (sizes stay exact) while that lowers the squared
    distance of the per-label (and, at half the weight, per-label-pair) counts from
    their shares: the greedy pass leaves a label up to two or three samples off its
    share in small splits, and does not look at pairs at all. Works on the
    distinct label patterns (samples with equal labels are interchangeable); skipped
    above `max_patterns` of them."""
    patterns, p_of = np.unique(y, axis=0, return_inverse=True)
    p_of = p_of.ravel()
    n_p, k = patterns.shape[0], sizes.size
    if n_p > max_patterns or n_p < 2:
        return
    # Features whose split counts should follow their shares: every label and, at
    # PAIR_WEIGHT, every pair of labels (co-occurrence, up to 30 labels).
    u = patterns.astype(np.float64)                              # [P, L]
    if u.shape[1] <= 30:
        i, j = np.triu_indices(u.shape[1], 1)
        u = np.hstack([u, PAIR_WEIGHT * u[:, i] * u[:, j]])
    m = np.zeros((k, n_p), dtype=np.int64)                        # samples per split, pattern
    np.add.at(m, (split, p_of), 1)
    target = np.outer(sizes / y.shape[0], m.sum(axis=0) @ u)      # [K, F]
    norms = (u ** 2).sum(axis=1)
    gram = u @ u.T
    dist2 = norms[:, None] + norms[None, :] - 2 * gram            # |u_p - u_q|^2
    for _ in range(10 * y.shape[0]):
        dev = m @ u - target                                      # [K, L]
        best = (0.0, None)
        for a in range(k):
            for b in range(a + 1, k):
                g = u @ (dev[a] - dev[b])                         # u_p . (D_a - D_b)
                # Move pattern p from a to b and q from b to a.
                delta = 2 * dist2 - 2 * (g[:, None] - g[None, :])
                delta[m[a] == 0, :] = np.inf
                delta[:, m[b] == 0] = np.inf
                flat = int(np.argmin(delta))
                if delta.flat[flat] < best[0] - 1e-9:
                    best = (float(delta.flat[flat]), (a, b, *divmod(flat, n_p)))
        if best[1] is None:
            break
        a, b, p, q = best[1]
        m[a, p] -= 1
        m[b, p] += 1
        m[b, q] -= 1
        m[a, q] += 1
    # Re-deal the samples of each pattern to match the new per-split counts.
    for p in range(n_p):
        members = rng.permutation(np.nonzero(p_of == p)[0])
        split[members] = np.repeat(np.arange(k), m[:, p])


def group_assignment(group_ids: np.ndarray, class_ids: np.ndarray, sizes: list[int],
                     rng: np.random.Generator) -> np.ndarray:
    """The split of every sample such that each group lies in one split, split sizes
    are as near `sizes` as whole groups allow, and each split's class counts as near
    their shares as that allows: groups, largest first, each go to the split where
    they least increase the squared distance from the targets (class counts and
    size). Returns the split index of every sample."""
    groups, g_of = np.unique(group_ids, return_inverse=True)
    n_classes = int(class_ids.max()) + 1
    per_group = np.zeros((groups.size, n_classes), dtype=np.int64)
    np.add.at(per_group, (g_of, class_ids), 1)
    n = class_ids.size
    sizes_arr = np.asarray(sizes, dtype=np.float64)
    target = np.outer(sizes_arr / n, per_group.sum(axis=0))  # [K, C]
    have = np.zeros_like(target)
    size_have = np.zeros(len(sizes))
    order = np.lexsort((rng.random(groups.size), -per_group.sum(axis=1)))
    where = np.empty(groups.size, dtype=np.int64)
    for g in order:
        counts = per_group[g]
        size = counts.sum()
        cost = (((have + counts - target) ** 2).sum(axis=1) - ((have - target) ** 2).sum(axis=1)
                + (size_have + size - sizes_arr) ** 2 - (size_have - sizes_arr) ** 2)
        cost = np.where(sizes_arr > 0, cost, np.inf)  # an empty split stays empty
        j = int(np.argmin(cost + rng.random(cost.size) * 1e-9))
        where[g] = j
        have[j] += counts
        size_have[j] += size
    _improve_groups(where, per_group, target, sizes_arr, have, size_have)
    return where[g_of]


def _improve_groups(where: np.ndarray, per_group: np.ndarray, target: np.ndarray,
                    sizes: np.ndarray, have: np.ndarray, size_have: np.ndarray) -> None:
    """Local search after the greedy pass: move a group to another split, or swap two
    groups of different splits, while that lowers the squared distance from the
    targets (in place; stops at a local optimum or after a bounded number of rounds)."""
    def cost(h: np.ndarray, s: np.ndarray) -> float:
        return float(((h - target) ** 2).sum() + ((s - sizes) ** 2).sum())

    usable = sizes > 0
    size_of = per_group.sum(axis=1)
    best = cost(have, size_have)
    for _ in range(50):
        improved = False
        for g in range(per_group.shape[0]):
            a = where[g]
            for b in np.nonzero(usable)[0]:
                if b == a:
                    continue
                have[a] -= per_group[g]
                have[b] += per_group[g]
                size_have[a] -= size_of[g]
                size_have[b] += size_of[g]
                new = cost(have, size_have)
                if new < best - 1e-9:
                    best, where[g], a, improved = new, b, b, True
                    continue
                have[b] -= per_group[g]  # undo
                have[a] += per_group[g]
                size_have[b] -= size_of[g]
                size_have[a] += size_of[g]
        if per_group.shape[0] <= 400:  # pair swaps: quadratic, for modest group counts
            for g in range(per_group.shape[0]):
                for h in range(g + 1, per_group.shape[0]):
                    a, b = where[g], where[h]
                    if a == b:
                        continue
                    delta = per_group[h] - per_group[g]
                    d_size = size_of[h] - size_of[g]
                    have[a] += delta
                    have[b] -= delta
                    size_have[a] += d_size
                    size_have[b] -= d_size
                    new = cost(have, size_have)
                    if new < best - 1e-9:
                        best, improved = new, True
                        where[g], where[h] = b, a
                        continue
                    have[a] -= delta
                    have[b] += delta
                    size_have[a] -= d_size
                    size_have[b] += d_size
        if not improved:
            break


def split_counts(class_counts: np.ndarray, sizes: list[int], min_per_class: int,
                 seed: int, class_names: Any = None) -> np.ndarray:
    """`[C, len(sizes) + 1]` per-class counts for the splits (train last)."""
    n = np.asarray(class_counts, dtype=np.int64)
    total = int(n.sum())
    totals = np.array([*sizes, total - sum(sizes)], dtype=np.int64)
    exact = n[:, None] * totals[None, :] / total
    lower = np.where(totals[None, :] > 0, min_per_class, 0) * np.ones_like(exact, dtype=np.int64)
    need = lower.sum(axis=1)
    short = np.nonzero(n < need)[0]
    if short.size:
        c = int(short[0])
        label = f"class {class_names[c]!r}" if class_names is not None else f"class index {c}"
        raise ValueError(
            f"{label} has {int(n[c])} samples, fewer than the {int(need[c])} the "
            f"non-empty splits need (min_per_class={min_per_class} in each); lower "
            "min_per_class, drop the class, or use fewer splits."
        )
    names = (["val", "test"] if len(sizes) == 2 else [f"split {i}" for i in range(len(sizes))])
    names.append("train")
    for j, size in enumerate(totals):
        need_j = int(lower[:, j].sum())
        if size > 0 and need_j > size:
            raise ValueError(
                f"min_per_class={min_per_class} needs {need_j} samples in the {names[j]} split "
                f"({n.size} classes) but it has {int(size)}; make it larger or lower "
                "min_per_class."
            )
    rng = np.random.default_rng(seed)
    try:
        return _max_flow_rounding(exact, totals, lower, rng)
    except ValueError:
        # min_per_class forced a cell above its share: another cell of its row or
        # column must leave its [floor, ceil]. The checks above guarantee a table.
        pass
    try:
        return _min_cost_rounding(exact, totals, lower, np.random.default_rng(seed))
    except ValueError as exc:  # pragma: no cover - excluded by the checks above
        raise ValueError(f"{exc} (min_per_class={min_per_class}, split sizes "
                         f"{dict(zip(names, totals.tolist(), strict=True))})") from None


def stratified_split(
    x: Any,
    y: Any = None,
    val_size: float | int | None = None,
    test_size: float | int | None = None,
    seed: int = 0,
    min_per_class: int = 1,
    return_indices: bool = False,
    *,
    groups: Any = None,
    bins: int | None = None,
    stratify_on: Any = None,
):
    """Split `(x, y)` into stratified train, validation and test parts.

    Every class keeps its share in every split: its count in each split is within
    one of its exact share (n_c * split_size / N), except where `min_per_class`
    must move a tiny class's cells (3 samples over three splits give 1/1/1); the
    splits are disjoint and cover all samples.

    Multi-label targets (an N x L matrix of 0/1) are split by iterative
    stratification (Sechidis et al., 2011), which keeps each label's share in
    each split close (scikit-learn has no multi-label stratified split). With
    `groups`, every group (a patient, a recording session) lies in one split,
    and the splits are as near their sizes and class shares as whole groups
    allow. A continuous target is stratified by quantile bins (`bins=10`).

    Args:
        x: features: a NumPy array of any rank, a list, a dict or tuple of
            arrays (a multi-input model), or a pandas DataFrame (then `y` is the
            name of its label column).
        y: labels (integers, strings, a one-hot matrix or a multi-label 0/1
            matrix), a dict or tuple of targets (with `stratify_on`), or a column
            name when `x` is a DataFrame.
        val_size: a fraction in [0, 1) or a sample count; `None` uses the
            handbooks' rule of thumb by data size (20% under 1,000 samples, 10%
            under 10,000, else 5%). Defaults to `None`.
        test_size: as `val_size`. Defaults to `None`.
        seed: seed of the random assignment. Defaults to `0`.
        min_per_class: least samples of every class in each non-empty split.
            Defaults to `1`.
        return_indices: return `(train_idx, val_idx, test_idx)` (sorted int64
            arrays) instead of the data. Defaults to `False`.
        groups: one group id per sample; no group straddles two splits
            (`min_per_class` does not apply). Defaults to `None`.
        bins: stratify a continuous target by this many quantile bins.
            Defaults to `None`.
        stratify_on: the target of a dict (key) or tuple (index) `y` to
            stratify on. Defaults to `None`.

    Returns:
        `((x_train, y_train), (x_val, y_val), (x_test, y_test))`, in the type of
        the input (DataFrames without the label column and Series for a
        DataFrame, with its index kept).

    Raises:
        ValueError: for empty data, length mismatches, NaN labels, bad sizes,
            an unknown label column, or a class too small for the splits.
        TypeError: for arguments of the wrong type.

    Example:

    ```python
    (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = stratified_split(x, y, seed=0)
    (df_tr, s_tr), (df_val, s_val), (df_te, s_te) = stratified_split(df, "label")
    ```
    """
    from keras_bestpractice import _validation as v

    v.check_int("seed", seed)
    v.check_int("min_per_class", min_per_class, minimum=0)
    v.check_bool("return_indices", return_indices)
    frame = None
    if _is_dataframe(x):
        frame = x
        if not isinstance(y, str):
            raise TypeError("with a DataFrame, `y` must be the name of its label column, got "
                            f"{type(y).__name__}.")
        if y not in frame.columns:
            raise ValueError(f"label column {y!r} is not in the DataFrame; columns: "
                             f"{', '.join(map(str, frame.columns))}.")
        labels = frame[y]
    else:
        if y is None:
            raise TypeError("`y` (the labels) is required unless `x` is a DataFrame.")
        labels = y
    n_x = len(frame) if frame is not None else _length("x", x)
    target = stratification_target(labels, stratify_on)
    multilabel = bins is None and is_multilabel(target)
    if bins is not None:
        ids = quantile_bins(target, bins)
    elif multilabel:
        ids = np.asarray(target.to_numpy() if hasattr(target, "to_numpy") else target)
    else:
        ids, classes = encode_labels(target)
    if ids.shape[0] != n_x:
        raise ValueError(f"`x` has {n_x} samples but `y` has {ids.shape[0]} labels.")
    total = n_x
    share = rule_of_thumb(total)
    n_val = _split_size("val_size", share if val_size is None else val_size, total)
    n_test = _split_size("test_size", share if test_size is None else test_size, total)
    if n_val + n_test >= total:
        raise ValueError(f"val ({n_val}) and test ({n_test}) leave no training samples out "
                         f"of {total}.")
    sizes = [n_val, n_test, total - n_val - n_test]
    rng = np.random.default_rng(seed)
    if groups is not None:
        group_ids = _group_ids(groups, total)
        class_ids = ids.argmax(axis=1) if multilabel else ids  # groups: by first label
        where = group_assignment(group_ids, class_ids, sizes, rng)
    elif multilabel:
        where = iterative_stratification(ids, sizes, rng)
    else:
        counts = np.bincount(ids)
        names = None if bins is not None else \
            [c.item() if hasattr(c, "item") else c for c in classes]
        table = split_counts(counts, [n_val, n_test], min_per_class, seed, class_names=names)
        where = _assign_by_class(ids, counts, table, rng)
    val_idx, test_idx, train_idx = (np.nonzero(where == j)[0].astype(np.int64)
                                    for j in range(3))
    if return_indices:
        return train_idx, val_idx, test_idx
    if frame is not None:
        features = frame.drop(columns=[y])
        label_series = frame[y]
        return tuple((features.iloc[idx], label_series.iloc[idx])
                     for idx in (train_idx, val_idx, test_idx))
    return tuple((_take(x, idx), _take(labels, idx)) for idx in (train_idx, val_idx, test_idx))


def _assign_by_class(ids: np.ndarray, counts: np.ndarray, table: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Split 0 (val), 1 (test) or 2 (train) for every sample: class c's first
    `table[c, 0]` samples in a random order go to val, the next `table[c, 1]` to test.

    One stable sort over all labels (in a random order), not one scan per class: O(N)
    for up to 32767 classes (a radix sort), O(N log N) beyond, whatever the class count
    (issue #24: 1000 classes x 10M labels cost 1000 full scans, 2x scikit-learn's time).
    The split of each sorted position comes from the class's counts (an int8 array), so
    the peak is about three index arrays."""
    shuffled = rng.permutation(ids.size)
    keys = ids[shuffled]
    if counts.size <= np.iinfo(np.int16).max:
        keys = keys.astype(np.int16)  # a radix sort
    order = shuffled[np.argsort(keys, kind="stable")]  # by class, random within each
    del shuffled, keys
    val, test = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    lengths = np.stack([val, test, counts - val - test], axis=1).ravel()
    pattern = np.tile(np.arange(3, dtype=np.int8), counts.size)
    where = np.empty(ids.size, dtype=np.int8)
    where[order] = np.repeat(pattern, lengths)
    return where


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "iloc")


def _group_ids(groups: Any, n: int) -> np.ndarray:
    arr = np.asarray(groups.to_numpy() if hasattr(groups, "to_numpy") else groups)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"`groups` must hold one group id per sample ({n}), got shape "
                         f"{arr.shape}.")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("`groups` has NaN/Inf ids.")
    return np.unique(arr, return_inverse=True)[1].ravel()


def _length(name: str, obj: Any) -> int:
    if isinstance(obj, (dict, tuple)) and obj:
        parts = obj.values() if isinstance(obj, dict) else obj
        lengths = {len(np.asarray(p)) if not hasattr(p, "iloc") else len(p) for p in parts}
        if len(lengths) != 1:
            raise ValueError(f"the arrays of `{name}` differ in length: {sorted(lengths)}.")
        n = lengths.pop()
        if n == 0:
            raise ValueError(f"`{name}` is empty: there is nothing to split.")
        return n
    try:
        n = len(obj)
    except TypeError as exc:
        raise TypeError(f"`{name}` must be an array, a list or a DataFrame, got "
                        f"{type(obj).__name__}.") from exc
    if n == 0:
        raise ValueError(f"`{name}` is empty: there is nothing to split.")
    return n


def _take(data: Any, idx: np.ndarray) -> Any:
    if isinstance(data, dict):
        return {k: _take(val, idx) for k, val in data.items()}
    if isinstance(data, tuple):
        return tuple(_take(val, idx) for val in data)
    if hasattr(data, "iloc"):
        return data.iloc[idx]
    if isinstance(data, np.ndarray):
        return data[idx]
    if isinstance(data, (list, tuple)):
        return [data[i] for i in idx]
    return np.asarray(data)[idx]
