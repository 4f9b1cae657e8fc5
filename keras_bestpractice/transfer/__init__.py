"""Transfer learning as the handbook does it: a new classifier on a pre-built model,
then one convolutional group unfrozen at a time, top-most first.

```python
from keras_bestpractice.transfer import fine_tune, layer_groups, new_classifier

model = new_classifier(base, num_classes=10)           # base frozen, head added
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
result = fine_tune(model, x, y, validation_data=(xv, yv), head_epochs=5,
                   epochs_per_group=2, groups=2)
```

Names are imported lazily (PEP 562): Keras is imported when one is first used.
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "FineTuneResult": "fine_tuning",
    "domain_transfer_init": "pretraining",
    "fine_tune": "fine_tuning",
    "layer_groups": "groups",
    "new_classifier": "classifier",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
