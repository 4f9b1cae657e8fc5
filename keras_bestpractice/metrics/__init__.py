"""Macro-averaged precision, recall and F1 that handle sparse integer labels.

```python
from keras_bestpractice.metrics import MacroF1, MacroPrecision, MacroRecall
model.compile("adam", "sparse_categorical_crossentropy",
              metrics=["accuracy", MacroPrecision(), MacroRecall(), MacroF1()])
```
"""

from keras_bestpractice.metrics.macro_f1 import MacroF1
from keras_bestpractice.metrics.macro_precision import MacroPrecision
from keras_bestpractice.metrics.macro_recall import MacroRecall
from keras_bestpractice.metrics.macro_scores import MacroScores

__all__ = ["MacroF1", "MacroPrecision", "MacroRecall", "MacroScores"]
