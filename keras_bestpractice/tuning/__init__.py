"""Tuning: the pruning random-search tuner, the handbook space, the results table, LR finders.

```python
from keras_bestpractice.tuning import RandomSearchTuner, handbook_search_space
```

`load_results_frame` (the results table of a saved search) is pure pandas and
`plan_epochs` pure NumPy; the tuner and the learning-rate finders import Keras when
first used.
"""

from keras_bestpractice._lazy import lazy_exports

_EXPORTS = {
    "ASHAPruner": "pruners",
    "CurvePruner": "pruners",
    "LRFinderResult": "lr_finder",
    "LRSweepResult": "sweep",
    "MedianPruner": "pruners",
    "Pruner": "pruners",
    "PruningMixin": "pruning",
    "RandomSearchTuner": "tuner",
    "with_pruning": "pruning",
    "compile_from_hp": "space",
    "dropout_layer": "space",
    "handbook_search_space": "space",
    "EpochPlan": "planning",
    "load_results_frame": "results",
    "plan_epochs": "planning",
    "lr_range_test": "lr_finder",
    "lr_sweep": "sweep",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
