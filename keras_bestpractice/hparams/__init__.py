"""TensorBoard HParams logging for a plain `model.fit` (the tuner logs its own trials).

```python
from keras_bestpractice.hparams import HParamsLogger
model.fit(x, y, callbacks=[HParamsLogger("logs", {"learning_rate": 1e-3})])
```
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {"HParamsLogger": "logger"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
