import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image


@pytest.fixture
def image_listing(tmp_path):
    """90 small PNG files: 20 cat, 50 dog, 20 fox; a CSV, a JSON and class folders."""
    rng = np.random.default_rng(0)
    rows = []
    labels = ["cat"] * 20 + ["dog"] * 50 + ["fox"] * 20
    for i, label in enumerate(labels):
        folder = tmp_path / "by_class" / label
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.full((10, 12, 3), i, dtype=np.uint8)  # the id is in the pixels
        pixels[0, 0] = rng.integers(0, 255, 3)
        Image.fromarray(pixels).save(folder / f"{i}.png")
        rows.append({"path": f"by_class/{label}/{i}.png", "label": label, "id": i})
    pd.DataFrame(rows).to_csv(tmp_path / "listing.csv", index=False)
    (tmp_path / "listing.json").write_text(json.dumps(rows))
    return tmp_path
