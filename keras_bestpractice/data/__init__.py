"""Stratified splits and tf.data feeders.

```python
from keras_bestpractice.data import stratified_split, stratified_dataset

(train, val, test) = stratified_split(x, y, seed=0)
ds = stratified_dataset(*train, batch_size=32, seed=0)
```

`stratified_split` (and the arithmetic under it, `split` and `plan`) is pure
NumPy; the feeders import TensorFlow when first used.
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "HybridFeeder": "hybrid",
    "from_file_listing": "sources",
    "stratified_dataset": "stratified",
    "stratified_split": "split",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
