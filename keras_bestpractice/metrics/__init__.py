"""Macro-averaged precision, recall and F1 that handle sparse integer labels.

```python
from keras_bestpractice.metrics import MacroF1, MacroPrecision, MacroRecall
model.compile("adam", "sparse_categorical_crossentropy",
              metrics=["accuracy", MacroPrecision(), MacroRecall(), MacroF1()])
```
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {name: "macro" for name in ("MacroF1", "MacroPrecision", "MacroRecall",
                                       "MacroScores")}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
