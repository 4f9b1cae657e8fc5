"""TensorBoard HParams logging for a plain `model.fit` and for the tuner.

```python
from keras_bestpractice.hparams import HParamsLogger
model.fit(x, y, callbacks=[HParamsLogger("logs", {"learning_rate": 1e-3})])
```
"""

from keras_bestpractice.hparams.logger import HParamsLogger
from keras_bestpractice.hparams.writer import (
    SessionWriter,
    hparams_from_keras_tuner,
    metrics_for,
    write_experiment,
)

__all__ = [
    "HParamsLogger",
    "SessionWriter",
    "hparams_from_keras_tuner",
    "metrics_for",
    "write_experiment",
]
