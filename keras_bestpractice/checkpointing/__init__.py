"""Loading what `PeriodicCheckpoint` saved.

```python
from keras_bestpractice.checkpointing import load_weights

load_weights(model, "checkpoints")   # the newest checkpoint that passes its checks
```

The storage engine itself (`store`, `retention`, `state`, `load`) is internal;
`docs/architecture.md` describes it for contributors.
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "load_weights": "load",
    "CheckpointWriteError": "store",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
