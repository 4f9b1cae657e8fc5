"""Training diagnostics from learning curves. Pure NumPy/pandas: no TensorFlow import.

```python
from keras_bestpractice.diagnostics import diagnose

report = diagnose("training_log.csv", num_classes=10)
print(report.primary)
```
"""

from keras_bestpractice.diagnostics.chance import (
    ChanceLevel,
    chance_level,
    detect_not_learning,
    is_at_chance,
)
from keras_bestpractice.diagnostics.curves import Curves
from keras_bestpractice.diagnostics.diagnose import diagnose
from keras_bestpractice.diagnostics.diagnostics_report import DiagnosticsReport
from keras_bestpractice.diagnostics.finding import Finding

__all__ = [
    "ChanceLevel",
    "Curves",
    "DiagnosticsReport",
    "Finding",
    "chance_level",
    "detect_not_learning",
    "diagnose",
    "is_at_chance",
]
