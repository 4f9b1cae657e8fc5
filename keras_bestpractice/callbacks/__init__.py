"""Callbacks for `model.fit`: divergence guard, training diagnostics, periodic checkpoints,
training objectives, the negative-transfer alarm.

```python
from keras_bestpractice.callbacks import DivergenceGuard
model.fit(x, y, callbacks=[DivergenceGuard(lr_backoff=0.1)])
```

Names are imported lazily (PEP 562): Keras is imported when one is first used.
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "DivergenceGuard": "divergence_guard",
    "TrainingDivergedError": "divergence_guard",
    "FeederEpochSync": "feeder_epoch_sync",
    "NegativeTransferAlarm": "negative_transfer_alarm",
    "PeriodicCheckpoint": "periodic_checkpoint",
    "TrainingDiagnostics": "training_diagnostics",
    "TrainingObjective": "training_objective",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
