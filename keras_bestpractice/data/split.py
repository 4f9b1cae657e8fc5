"""Stratified train/validation/test splits. Pure NumPy (pandas for DataFrames).

The per-class counts come from a *controlled rounding* of the table of exact
shares n_c * size_j / N (Cox, 1987): every cell is rounded to its floor or its
ceiling, the rows still sum to the class counts and the columns to the split
sizes. So each class's count in each split is within one of its exact share,
which the usual independent rounding per split cannot promise for three splits.
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
                "(exactly one 1 per row); pass integer or string labels instead."
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
    classes, ids = np.unique(arr, return_inverse=True)
    return ids.astype(np.int64).ravel(), classes


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
    except ValueError as exc:
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
):
    """Split `(x, y)` into stratified train, validation and test parts.

    Every class keeps its share in every split: its count in each split is within
    one of its exact share (n_c * split_size / N), the splits are disjoint and
    cover all samples.

    Args:
        x: features: a NumPy array of any rank, a list, or a pandas DataFrame
            (then `y` is the name of its label column).
        y: labels (integers, strings, or a one-hot matrix), or a column name when
            `x` is a DataFrame.
        val_size: a fraction in [0, 1) or a sample count; `None` uses the
            handbooks' rule of thumb by data size (20% under 1,000 samples, 10%
            under 10,000, else 5%). Defaults to `None`.
        test_size: as `val_size`. Defaults to `None`.
        seed: seed of the random assignment. Defaults to `0`.
        min_per_class: least samples of every class in each non-empty split.
            Defaults to `1`.
        return_indices: return `(train_idx, val_idx, test_idx)` (sorted int64
            arrays) instead of the data. Defaults to `False`.

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
    ids, classes = encode_labels(labels)
    if ids.shape[0] != n_x:
        raise ValueError(f"`x` has {n_x} samples but `y` has {ids.shape[0]} labels.")
    total = n_x
    share = rule_of_thumb(total)
    n_val = _split_size("val_size", share if val_size is None else val_size, total)
    n_test = _split_size("test_size", share if test_size is None else test_size, total)
    if n_val + n_test >= total:
        raise ValueError(f"val ({n_val}) and test ({n_test}) leave no training samples out "
                         f"of {total}.")
    counts = np.bincount(ids)
    table = split_counts(counts, [n_val, n_test], min_per_class, seed,
                         class_names=[c.item() if hasattr(c, "item") else c for c in classes])
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]  # val, test, train
    for c in range(counts.size):
        members = rng.permutation(np.nonzero(ids == c)[0])
        a, b = int(table[c, 0]), int(table[c, 1])
        parts[0].append(members[:a])
        parts[1].append(members[a:a + b])
        parts[2].append(members[a + b:])
    val_idx, test_idx, train_idx = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    if return_indices:
        return train_idx, val_idx, test_idx
    if frame is not None:
        features = frame.drop(columns=[y])
        label_series = frame[y]
        return tuple((features.iloc[idx], label_series.iloc[idx])
                     for idx in (train_idx, val_idx, test_idx))
    return tuple((_take(x, idx), _take(labels, idx)) for idx in (train_idx, val_idx, test_idx))


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "iloc")


def _length(name: str, obj: Any) -> int:
    try:
        n = len(obj)
    except TypeError as exc:
        raise TypeError(f"`{name}` must be an array, a list or a DataFrame, got "
                        f"{type(obj).__name__}.") from exc
    if n == 0:
        raise ValueError(f"`{name}` is empty: there is nothing to split.")
    return n


def _take(data: Any, idx: np.ndarray) -> Any:
    if hasattr(data, "iloc"):
        return data.iloc[idx]
    if isinstance(data, np.ndarray):
        return data[idx]
    if isinstance(data, (list, tuple)):
        return [data[i] for i in idx]
    return np.asarray(data)[idx]
