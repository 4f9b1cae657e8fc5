"""Callbacks for `model.fit`: divergence guard, training diagnostics, periodic checkpoints.

```python
from keras_bestpractice.callbacks import DivergenceGuard
model.fit(x, y, callbacks=[DivergenceGuard(lr_backoff=0.1)])
```
"""

from keras_bestpractice.callbacks.divergence_guard import DivergenceGuard, TrainingDivergedError
from keras_bestpractice.callbacks.feeder_epoch_sync import FeederEpochSync
from keras_bestpractice.callbacks.periodic_checkpoint import PeriodicCheckpoint
from keras_bestpractice.callbacks.training_diagnostics import TrainingDiagnostics

__all__ = [
    "DivergenceGuard",
    "FeederEpochSync",
    "PeriodicCheckpoint",
    "TrainingDiagnostics",
    "TrainingDivergedError",
]
