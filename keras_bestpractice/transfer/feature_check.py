"""Do a base's features vary across inputs? A classifier cannot learn from constant ones.

Issue #26: after `domain_transfer_init` with a rate that killed the base, its features
were the same for every input (a spread of 2e-9 across samples) and `fine_tune`
trained a head on them without a word. `check_features_vary` runs the base on a
sample of the inputs and warns, with the numbers, when they do not vary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_bestpractice._core.inputs import is_dataset
from keras_bestpractice._warnings import warn

# Features "vary" when some feature's spread across the sample is at least this fraction
# of the features' typical magnitude (plus a floor for all-zero outputs): a working base's
# features spread by tens of percent; a dead one by float rounding (1e-9 relative).
MIN_RELATIVE_SPREAD = 1e-4
SAMPLE = 64


def first_inputs(x: Any, n: int = SAMPLE) -> Any:
    """Up to `n` inputs from `x` as `fit` takes it (arrays, or a dataset of batches)."""
    if is_dataset(x):
        import keras

        xs, count = [], 0
        for batch in x:
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            xs.append(keras.tree.map_structure(np.asarray, inputs))
            count += len(keras.tree.flatten(xs[-1])[0])
            if count >= n:
                break
        if not xs:
            return None
        return keras.tree.map_structure(lambda *parts: np.concatenate(parts)[:n], *xs)
    if isinstance(x, np.ndarray):
        return x[:n]
    return None


def feature_spread(base: Any, x: Any) -> tuple[float, float] | None:
    """`(largest spread of a feature across the samples, mean |feature|)` of `base`'s
    outputs on `x`, or `None` when it cannot be measured (fewer than 2 samples)."""
    import keras

    out = keras.ops.convert_to_numpy(base(x, training=False))
    if out.ndim < 2 or out.shape[0] < 2:
        return None
    flat = out.reshape(out.shape[0], -1).astype(np.float64)
    return float(flat.std(axis=0).max()), float(np.abs(flat).mean())


def check_features_vary(base: Any, x: Any, who: str) -> bool:
    """Warn (naming `who`) when `base`'s features are the same for every sampled input;
    returns whether they vary (True when it cannot tell)."""
    sample = first_inputs(x)
    if sample is None:
        return True
    measured = feature_spread(base, sample)
    if measured is None:
        return True
    spread, scale = measured
    if spread > MIN_RELATIVE_SPREAD * scale + 1e-12:
        return True
    warn(
        f"{who}: the base's features are the same for every input (largest spread of a "
        f"feature across {len(sample) if hasattr(sample, '__len__') else SAMPLE} samples "
        f"{spread:.3g}, features' mean magnitude {scale:.3g}): a classifier cannot learn "
        "from them. Likely causes: a dead base (a learning rate too high killed its ReLUs, "
        "e.g. in domain_transfer_init: lower learning_rate), BatchNormalization statistics "
        "that collapsed, or inputs that are all alike (check the preprocessing)."
    )
    return False
