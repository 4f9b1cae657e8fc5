"""Plot helpers (`keras_bestpractice/_plotting.py`): what a reader sees (issue #14)."""

import pytest

from keras_bestpractice import _plotting

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture
def ax():
    fig, ax = plt.subplots(figsize=(6, 3))
    yield ax
    plt.close(fig)


def tick_labels(ax, axis="x"):
    ax.figure.canvas.draw()
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    return [t.get_text() for t in ticks
            if low <= (t.get_position()[0] if axis == "x" else t.get_position()[1]) <= high]


def test_epoch_axis_ticks_whole_epochs_only(ax):
    ax.plot([1, 2, 3], [0.5, 0.4, 0.3])
    _plotting.integer_epochs(ax)
    labels = tick_labels(ax)
    assert labels and all(float(t.replace("\u2212", "-")).is_integer() for t in labels), labels


def test_log_axis_reads_as_plain_numbers(ax):
    ax.plot([1, 2, 3], [0.001, 0.1, 10.0])
    _plotting.readable_log(ax)
    labels = [t for t in tick_labels(ax, "y") if t]
    assert "0.01" in labels and "1" in labels, labels
    assert not any("^" in t or "times" in t or "$" in t for t in labels), labels


def test_labels_of_one_epoch_are_joined_and_near_epochs_do_not_overlap(ax):
    ax.set_xlim(1, 100)
    _plotting.epoch_marks(ax, [(3, "not_learning", "red"), (3, "val_oscillation", "orange"),
                              (4, "plateau", "grey")])
    texts = ax.texts
    assert [t.get_text().strip() for t in texts] == ["not_learning, val_oscillation", "plateau"]
    _plotting.settle_labels(ax.figure)
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    first, second = (t.get_window_extent(renderer) for t in texts)
    assert not first.overlaps(second)


def test_legend_sits_outside_the_axes(ax):
    ax.plot([1, 2, 3], [3, 2, 1], label="train loss")
    ax.plot([1, 2, 3], [3, 2.5, 2], label="val loss")
    _plotting.legend_outside(ax)
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    axes = ax.get_window_extent(renderer)
    assert legend.y1 <= axes.y0  # below the plotting area


def test_html_report_reads_on_a_phone():
    from keras_bestpractice.diagnostics import diagnose

    report = diagnose({"loss": [2.95, 2.34, 2.33, 2.33, 2.33], "accuracy": [0.1] * 5},
                      num_classes=10)
    html = report.to_html()
    assert "width=device-width" in html and "@media (max-width:600px)" in html
    assert "not_<wbr>learning" in html  # the code breaks at its underscore, not mid-word
