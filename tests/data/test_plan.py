import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_bestpractice.data.plan import apportion, batch_plan, pfair_schedule, target_counts

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent

counts_strategy = st.lists(st.integers(1, 300), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(counts=counts_strategy, batch_size=st.integers(1, 64), drop=st.booleans())
def test_batch_quotas_are_floor_or_ceil_and_cumulative_lag_below_one(counts, batch_size, drop):
    counts = np.array(counts)
    total = counts.sum()
    if drop and total < batch_size:
        return
    plan = batch_plan(counts, batch_size, drop_remainder=drop)
    full = total // batch_size
    q = plan.quotas
    exact = batch_size * counts / total
    assert np.all(q[:full] >= np.floor(exact)) and np.all(q[:full] <= np.ceil(exact))
    assert np.all(q[:full].sum(axis=1) == batch_size)
    cumulative = np.cumsum(q[:full], axis=0)
    k = np.arange(1, full + 1)[:, None]
    assert np.all(np.abs(cumulative - k * exact) < 1 + 1e-9)
    if drop:
        assert plan.num_batches == full
    else:
        np.testing.assert_array_equal(q.sum(axis=0), counts)  # every sample once
        assert plan.samples_per_epoch == total
    # Slots: classes match quotas and ranks enumerate 0..m_c-1 within each class.
    for c in range(counts.size):
        ranks = plan.slot_rank[plan.slot_class == c]
        np.testing.assert_array_equal(ranks, np.arange(q[:, c].sum()))


def test_handbook_example_25_75_gives_8_and_24_in_every_batch():
    plan = batch_plan(np.array([250, 750]), 32)
    assert (plan.quotas[:-1] == [8, 24]).all()


@settings(max_examples=100, deadline=None)
@given(counts=counts_strategy, balance=st.floats(0, 1))
def test_target_counts_keep_the_total_and_balance(counts, balance):
    counts = np.array(counts)
    m = target_counts(counts, balance)
    assert m.sum() == counts.sum()
    share = counts ** (1 - balance)
    exact = counts.sum() * share / share.sum()
    assert np.all(np.abs(m - exact) < 1)


def test_full_balance_is_equal_within_one():
    m = target_counts(np.array([10, 100, 1000]), 1.0)
    assert m.max() - m.min() <= 1 and m.sum() == 1110


def test_pfair_rejects_bad_weights():
    with pytest.raises(ValueError):
        pfair_schedule(np.array([3, 3]), 4, 5, 1)
    assert pfair_schedule(np.array([0, 0]), 4, 3, 0).sum() == 0


def test_apportion_and_errors():
    np.testing.assert_array_equal(apportion(10, np.array([1, 1, 1])), [4, 3, 3])
    with pytest.raises(ValueError):
        apportion(3, np.array([0.0, 0.0]))
    with pytest.raises(ValueError, match="batch_size"):
        batch_plan(np.array([3]), 0)


def test_the_plan_never_holds_a_batches_by_classes_array():
    # 200,000 samples in 2000 classes at batch 32: a [6250, 2000] int64 array is 95 MiB
    # (the plan before issue #24 held several); the slot arrays are 200,000 entries.
    import tracemalloc

    counts = np.random.default_rng(0).multinomial(198_000, np.full(2000, 1 / 2000)) + 1
    tracemalloc.start()
    plan = batch_plan(counts, 32)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 30 * 2**20, f"{peak / 2**20:.0f} MiB"
    quotas = plan.quotas
    assert quotas.shape == (6250, 2000) and quotas[:-1].sum(axis=1).tolist() == [32] * 6249
    assert quotas.max() == 1  # b p_c = 0.016: every class at most once per batch
    np.testing.assert_array_equal(quotas.sum(axis=0), counts)
