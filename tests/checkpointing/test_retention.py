import pytest

from keras_bestpractice.checkpointing.retention import Entry, best_entry, select_retained

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


def entries():
    # name, step, value, epoch boundary
    return [Entry("a", 10, 0.9, True), Entry("b", 20, 0.5, False), Entry("c", 30, 0.7, True),
            Entry("d", 40, None, False), Entry("e", 50, 0.8, False)]


def test_keeps_last_best_and_newest_epoch_boundary():
    keep = select_retained(entries(), keep_last=2, keep_best=1, mode="min")
    assert keep == {"e", "d", "b", "c"}  # two newest, best (0.5), newest boundary (c)


def test_max_mode_and_more_best():
    keep = select_retained(entries(), keep_last=1, keep_best=2, mode="max")
    assert keep == {"e", "a", "c"}  # newest, best two (0.9, 0.8), boundary c


def test_best_entry_prefers_newer_on_ties():
    es = [Entry("x", 1, 0.5, True), Entry("y", 2, 0.5, True)]
    assert best_entry(es, "min").name == "y"
    assert best_entry([Entry("z", 1, None, True)], "min") is None


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        select_retained(entries(), 1, 1, "auto")
