"""The storage layer under `PeriodicCheckpoint`: atomic commits, manifests, retention.

```python
from keras_bestpractice.checkpointing import load_weights

load_weights(model, "checkpoints")   # the newest checkpoint that passes its hash check
```
"""

from keras_bestpractice.checkpointing.load import load_weights, open_checkpoint
from keras_bestpractice.checkpointing.retention import Entry, select_retained
from keras_bestpractice.checkpointing.store import (
    Checkpoint,
    CheckpointStore,
    CheckpointWriteError,
)

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "CheckpointWriteError",
    "Entry",
    "load_weights",
    "open_checkpoint",
    "select_retained",
]
