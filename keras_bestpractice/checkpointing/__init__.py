"""Loading what `PeriodicCheckpoint` saved.

```python
from keras_bestpractice.checkpointing import load_weights

load_weights(model, "checkpoints")   # the newest checkpoint that passes its checks
checkpoint_info("checkpoints").epoch_number      # where in training it was saved
```

The storage engine itself (`store`, `retention`, `state`, `session`, `partial_epoch`)
is internal;
`docs/architecture.md` describes it for contributors.
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "CheckpointInfo": "info",
    "checkpoint_info": "info",
    "load_weights": "load",
    "CheckpointWriteError": "store",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
