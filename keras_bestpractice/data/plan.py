"""Per-batch class quotas for stratified mini-batches. Pure NumPy, no TensorFlow.

A stratified batch of size b gives class c (share p_c) either floor(b p_c) or
ceil(b p_c) slots. The "+1" slots are a proportionate-fair (Pfair) scheduling
problem: class c is a task of weight w_c = frac(b p_c) on R = b - sum floor(b p_c)
processors (one per spare slot), and the sum of the weights is exactly R. The PD2
algorithm (Anderson & Srinivasan, 2000; Baruah et al., 1996 for Pfair) schedules
it so that every task's lag stays strictly between -1 and 1: after k batches class
c has been given k b p_c samples, within one. Everything here is integer
arithmetic on the class counts, so the plan is exact and depends only on the
counts and the batch size, never on a random seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _ceil_div(a: np.ndarray | int, b: np.ndarray | int):
    return -((-a) // b)


def pd2_choices(numerators: np.ndarray, denominator: int, slots: int,
                processors: int) -> np.ndarray:
    """The tasks a PD2 schedule runs in each slot: `[slots, processors]`, ascending per row.

    Same schedule as `pfair_schedule` (weights `numerators / denominator`, each < 1, summing
    to `processors`), kept sparse: memory O(slots x processors), never O(slots x tasks).
    Every subtask's release and priority are computed at once, vectorised (at most
    `slots x processors` + 2 per task of them); what remains per slot is one `argpartition`
    of the eligible tasks' packed priorities and moving the chosen tasks to their next
    subtask: a handful of O(C) vector operations.
    """
    a = np.asarray(numerators, dtype=np.int64)
    n = int(denominator)
    if a.size and (np.any(a < 0) or np.any(a >= n) or int(a.sum()) != processors * n):
        raise ValueError("pfair_schedule needs 0 <= a_c < N and sum(a_c) == R * N")
    r = int(processors)
    out = np.zeros((slots, r), dtype=_index_dtype(a.size))
    if slots == 0 or r == 0:
        return out
    tasks = np.nonzero(a > 0)[0]          # a task of weight 0 never runs
    count = tasks.size
    if r >= count:  # pragma: no cover - impossible: every weight is below one
        raise AssertionError("PD2 needs more tasks than processors")
    # Subtasks 1 .. J_c of every task: after t slots task c has run at most ceil(t w_c)
    # times, so ceil(slots w_c) + 1 cover every subtask that can run or be next.
    w = a[tasks]
    per_task = _ceil_div(slots * w, n) + 1
    first = np.concatenate([[0], np.cumsum(per_task)[:-1]])
    owner = np.repeat(np.arange(count, dtype=np.int64), per_task)
    j = np.arange(int(per_task.sum()), dtype=np.int64) - np.repeat(first, per_task) + 1
    wj = w[owner]
    release = ((j - 1) * n) // wj
    deadline = _ceil_div(j * n, wj)
    late = (j * n) % wj == 0              # b-bit 0: no overlap with the next window
    heavy = 2 * wj >= n
    del j
    # Priority, highest first: earliest deadline, then b-bit 1, then larger group deadline
    # (heavy tasks only; ceil(ceil(d (1-w)) / (1-w)) with 1-w = (N-a)/N), then lower task
    # index. Packed into one int64: deadline <= slots + 2N + 1 <= 3N + 1 and the group
    # deadline's excess over the deadline (+1) lies in 0 .. N + 2 for every subtask.
    if (6 * n + 4) * (n + 4) * (count + 1) >= 2 ** 62:  # pragma: no cover - N > ~10^8
        raise ValueError(f"a batch plan over {n} samples does not fit PD2's int64 keys")
    rest = np.where(heavy, n - wj, 1)
    group = _ceil_div(_ceil_div(deadline * rest, n) * n, rest)
    lateness = np.where(heavy, group - deadline + 1, 0)
    del group, rest, heavy, wj
    key = ((2 * deadline + late) * (n + 4) + (n + 3 - lateness)) * count + owner
    del deadline, late, lateness, owner

    pointer = first.copy()                # each task's next subtask
    now_release = release[pointer]
    now_key = key[pointer]
    never = np.iinfo(np.int64).max
    eligible_key = np.empty(count, dtype=np.int64)
    for t in range(slots):
        np.copyto(eligible_key, now_key)
        eligible_key[now_release > t] = never
        chosen = np.argpartition(eligible_key, r - 1)[:r]
        if eligible_key[chosen].max() == never:  # pragma: no cover - infeasible input
            raise AssertionError("PD2 found too few eligible tasks")
        out[t] = chosen
        pointer[chosen] += 1
        following = pointer[chosen]
        now_release[chosen] = release[following]
        now_key[chosen] = key[following]
    out.sort(axis=1)
    return tasks.astype(out.dtype)[out]


def pfair_schedule(numerators: np.ndarray, denominator: int, slots: int,
                   processors: int) -> np.ndarray:
    """PD2 schedule of tasks with weights `numerators / denominator` (each < 1).

    Args:
        numerators: integer weight numerators a_c with 0 <= a_c < denominator and
            sum(a_c) == processors * denominator.
        denominator: the common denominator N.
        slots: number of time slots (batches) to schedule.
        processors: R, tasks scheduled per slot.

    Returns:
        A boolean `[slots, len(numerators)]` array: True where task c runs in slot t.
        Every task's cumulative count after t slots is within (-1, 1) of t * a_c / N.
        (`pd2_choices` gives the same schedule without the dense array.)
    """
    a = np.asarray(numerators, dtype=np.int64)
    choices = pd2_choices(a, denominator, slots, processors)
    out = np.zeros((slots, a.size), dtype=bool)
    out[np.arange(slots)[:, None], choices] = True
    return out


def _index_dtype(size: int):
    """The smallest signed integer type that holds 0 .. size - 1 (int16 argsorts by radix)."""
    return np.int16 if size <= np.iinfo(np.int16).max else np.int32


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder (Hamilton) apportionment of `total` over `weights`.

    Each share is the floor or the ceiling of `total * w_c / sum(w)` and the
    shares sum to `total`; ties go to the lower index.
    """
    w = np.asarray(weights, dtype=np.float64)
    if total < 0 or w.size == 0 or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("apportion needs total >= 0 and non-negative weights with sum > 0")
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    short = total - int(base.sum())
    if short:
        frac = exact - base
        order = np.lexsort((np.arange(w.size), -frac))
        base[order[:short]] += 1
    return base


def target_counts(class_counts: np.ndarray, balance: float) -> np.ndarray:
    """Samples of each class per epoch: N in total, shares proportional to n_c^(1-balance).

    `balance=0` keeps the data's own mix (m_c = n_c); `balance=1` gives every
    class the same number of samples (within one).
    """
    n = np.asarray(class_counts, dtype=np.int64)
    if balance == 0.0:
        return n.copy()
    weights = n.astype(np.float64) ** (1.0 - balance)
    return apportion(int(n.sum()), weights)


@dataclass(frozen=True)
class BatchPlan:
    """Where every slot of an epoch's batches gets its sample from.

    Attributes:
        counts: samples of each class per epoch (`m_c`).
        batch_size: b.
        batch_starts: `[num_batches + 1]` offsets of each batch in the slot arrays.
        slot_class: class of every slot, batch after batch (classes ascending within a
            batch).
        slot_rank: rank of the slot's sample in its class's stream for the epoch
            (0 .. m_c - 1): the first slot of class c in the epoch has rank 0.
    """

    counts: np.ndarray
    batch_size: int
    batch_starts: np.ndarray
    slot_class: np.ndarray
    slot_rank: np.ndarray

    @property
    def num_batches(self) -> int:
        return int(self.batch_starts.size - 1)

    @property
    def samples_per_epoch(self) -> int:
        return int(self.batch_starts[-1])

    @property
    def quotas(self) -> np.ndarray:
        """`[num_batches, C]` samples of each class in each batch (dense: for inspection
        and tests; the plan itself never holds it)."""
        batch = np.repeat(np.arange(self.num_batches), np.diff(self.batch_starts))
        c = self.counts.size
        flat = np.bincount(batch * c + self.slot_class, minlength=self.num_batches * c)
        return flat.reshape(self.num_batches, c).astype(np.int64)


def batch_plan(counts: np.ndarray, batch_size: int, drop_remainder: bool = False) -> BatchPlan:
    """Per-batch class quotas for one epoch of `sum(counts)` samples.

    Every full batch has floor(b p_c) or ceil(b p_c) samples of class c, with
    p_c = counts_c / sum(counts), and after k full batches class c has had
    k b p_c samples, within one. With `drop_remainder=False` a last, smaller
    batch takes what is left, so the epoch uses every slot of `counts` once.

    Time O(N + C) array work plus one O(C) vector step per batch (PD2 over the classes'
    fractional shares); memory O(N + C): the slot arrays and the `[batches, R]` choices
    of the R = b - sum floor(b p_c) spare slots, never a `[batches, C]` array.
    """
    m, total, b, full = _plan_sizes(counts, batch_size)
    n_classes = m.size
    base = (b * m) // total  # floor(b p_c)
    spare = b - int(base.sum())  # R processors
    numer = (b * m) % total  # frac(b p_c) * N
    kind = _index_dtype(n_classes)
    plus = pd2_choices(numer, total, full, spare)            # [full, R]
    fixed = np.repeat(np.arange(n_classes, dtype=kind), base)  # the floor(b p_c) part
    rows = np.empty((full, b), dtype=kind)
    rows[:, :fixed.size] = fixed
    rows[:, fixed.size:] = plus
    rows.sort(axis=1)
    parts = [rows.ravel()]
    sizes = [np.full(full, b, dtype=np.int64)]
    if not drop_remainder and total - full * b > 0:
        used = full * base + np.bincount(plus.ravel().astype(np.int64), minlength=n_classes)
        parts.append(np.repeat(np.arange(n_classes, dtype=kind), m - used))
        sizes.append(np.array([total - full * b], dtype=np.int64))
    slot_class = np.concatenate(parts)
    starts = np.concatenate([[0], np.cumsum(np.concatenate(sizes))]).astype(np.int64)
    return BatchPlan(counts=m, batch_size=b, batch_starts=starts, slot_class=slot_class,
                     slot_rank=_ranks_within_class(slot_class, n_classes))


def _ranks_within_class(slot_class: np.ndarray, n_classes: int) -> np.ndarray:
    """For every slot, how many slots of its class come before it (one stable sort: a
    radix sort for int16 class ids)."""
    order = np.argsort(slot_class, kind="stable")
    per_class = np.bincount(slot_class.astype(np.int64), minlength=n_classes)
    first = np.concatenate([[0], np.cumsum(per_class)[:-1]])
    ranks = np.empty(slot_class.size, dtype=np.int64)
    ranks[order] = np.arange(slot_class.size, dtype=np.int64) - np.repeat(first, per_class)
    return ranks


def _plan_sizes(counts: np.ndarray, batch_size: int) -> tuple[np.ndarray, int, int, int]:
    """`(counts, total, batch size, full batches)`, checked."""
    m = np.asarray(counts, dtype=np.int64)
    total = int(m.sum())
    b = int(batch_size)
    if b <= 0:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if total == 0:
        raise ValueError("the plan needs at least one sample")
    return m, total, b, total // b


def _plan_from_quotas(counts: np.ndarray, b: int, quotas: np.ndarray) -> BatchPlan:
    """The slot arrays of the batches whose per-class counts are `quotas` [batches, C]."""
    n_classes = quotas.shape[1]
    sizes = quotas.sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    slot_class = np.repeat(np.tile(np.arange(n_classes), quotas.shape[0]), quotas.ravel())
    # Rank of each slot within its class: cumulative count of that class so far.
    before = np.vstack([np.zeros((1, n_classes), dtype=np.int64),
                        np.cumsum(quotas, axis=0)[:-1]])
    flat = quotas.ravel()
    group_start = np.concatenate([[0], np.cumsum(flat)[:-1]])
    within = np.arange(int(flat.sum()), dtype=np.int64) - np.repeat(group_start, flat)
    ranks = np.repeat(before.ravel(), flat) + within
    return BatchPlan(counts=counts, batch_size=b, batch_starts=starts,
                     slot_class=slot_class.astype(np.int64), slot_rank=ranks)


def multilabel_batch_plan(patterns: np.ndarray, counts: np.ndarray, batch_size: int,
                          drop_remainder: bool = False) -> BatchPlan:
    """Per-batch quotas of label sets for a multi-label epoch (classes = the distinct
    rows `patterns` of a 0/1 label matrix, `counts` samples each).

    Slot after slot, the set that most lowers the squared distance of the running
    label counts (and, at a tenth of the weight, of the running set counts) from
    their shares is taken among the sets with samples left. Measured on 100 random
    label matrices (`benchmarks/RESULTS.md`): every label's running count within
    0.78 of k b p_l, 99.7% of the per-batch counts within one of b p_l, the worst
    1.26 off (a greedy, not a proof as PD2 is for one label per sample).
    Deterministic: depends only on the sets, their counts and the batch size.
    """
    u = np.asarray(patterns, dtype=np.float64)
    m, total, b, full = _plan_sizes(counts, batch_size)
    slots = full * b if drop_remainder else total
    label_share = (m @ u) / total          # per-slot expected count of each label
    set_share = m / total
    have_labels = np.zeros(u.shape[1])
    have_sets = np.zeros(m.size)
    left = m.copy()
    norms = (u ** 2).sum(axis=1)
    chosen = np.empty(slots, dtype=np.int64)
    for g in range(slots):
        gap = label_share * (g + 1) - have_labels
        set_gap = set_share * (g + 1) - have_sets
        score = 2 * (u @ gap) - norms + 0.1 * (2 * set_gap - 1)
        score = np.where(left > 0, score, -np.inf)
        p = int(np.argmax(score))
        chosen[g] = p
        have_labels += u[p]
        have_sets[p] += 1
        left[p] -= 1
    n_batches = -(-slots // b)
    batch_of = np.arange(slots) // b
    quotas = np.zeros((n_batches, m.size), dtype=np.int64)
    np.add.at(quotas, (batch_of, chosen), 1)
    return _plan_from_quotas(quotas.sum(axis=0), b, quotas)
