"""Training diagnostics from learning curves. Pure NumPy/pandas: no Keras or TensorFlow.

```python
from keras_bestpractice.diagnostics import diagnose

report = diagnose("training_log.csv", num_classes=10)
print(report.primary)
```
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "DiagnosticsReport": "diagnostics_report",
    "Finding": "finding",
    "diagnose": "diagnosis",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
