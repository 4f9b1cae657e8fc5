import base64
import json
import re

import numpy as np
import pytest

from keras_bestpractice.diagnostics import diagnose

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


@pytest.fixture
def report():
    n = 25
    loss = list(np.geomspace(2.0, 0.01, n))
    val = [1.8, 1.2, 0.8, 0.6, 0.5, 0.45] + [0.45 + 0.04 * i for i in range(1, n - 5)]
    return diagnose({"loss": loss, "val_loss": val, "accuracy": list(np.linspace(0.5, 1, n)),
                     "val_accuracy": [0.9] * n}, num_classes=10)


def test_markdown_has_primary_and_table(report):
    md = report.to_markdown()
    assert "**Primary finding: Overfitting**" in md
    assert "| warning | `overfitting` | 6 |" in md


def test_html_is_self_contained_with_an_embedded_png(report, tmp_path):
    path = tmp_path / "sub" / "report.html"
    html = report.to_html(path)
    assert path.read_text() == html
    match = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert match, "plot not embedded"
    png = base64.b64decode(match.group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html  # nothing fetched from the web
    assert not list(path.parent.glob(".*tmp*"))  # no temporary file left behind


def test_plot_writes_a_png_that_loads(report, tmp_path):
    import matplotlib.image as mpimg

    path = tmp_path / "curves.png"
    fig = report.plot(path)
    image = mpimg.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert fig.axes and fig.axes[0].get_title() == "Loss"


def test_dataframe_and_json(report):
    frame = report.to_dataframe()
    # Issue #26: one name for the printed epoch (`epoch_number`, as Finding.to_dict()).
    assert list(frame.columns[:4]) == ["severity", "code", "epoch", "epoch_number"]
    assert frame.loc[0, "code"] == "overfitting" and frame.loc[0, "epoch_number"] == 6
    payload = json.loads(report.to_json())
    assert payload["primary"] == "overfitting"
    # Evidence numbers epochs as Keras prints them (issue #14): the best epoch is "Epoch 6".
    assert payload["findings"][0]["evidence"]["best_epoch"] == 6


def test_str_is_readable(report):
    text = str(report)
    assert text.splitlines()[0].startswith("Training diagnostics (25 epochs, 10 classes")
    assert "PRIMARY [warning] overfitting at epoch 6" in text
    assert "Fix:" in text


def test_the_heading_names_binary_and_multilabel_outputs():
    """A new user's `diagnose log.csv --loss binary_crossentropy` said "1 classes"."""
    import numpy as np

    from keras_bestpractice.diagnostics import diagnose

    history = {"loss": [0.6, 0.4, 0.3, 0.25], "val_loss": [0.6, 0.45, 0.35, 0.3]}
    binary = str(diagnose(history, loss="binary_crossentropy")).splitlines()[0]
    assert "binary, chance loss 0.693" in binary and "1 classes" not in binary
    labels = np.random.default_rng(0).integers(0, 2, (50, 5))
    multi = str(diagnose(history, loss="binary_crossentropy", targets=labels)).splitlines()[0]
    assert "5 labels" in multi
