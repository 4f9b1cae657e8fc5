"""Tuning: the pruning random-search tuner, the handbook space, the results table.

```python
from keras_bestpractice.tuning import RandomSearchTuner, handbook_search_space
```
"""

from keras_bestpractice.tuning.lr_finder import LRFinderResult, lr_range_test
from keras_bestpractice.tuning.lr_sweep import LRSweepResult, lr_sweep
from keras_bestpractice.tuning.results import load_results_frame
from keras_bestpractice.tuning.space import (
    compile_from_hp,
    default_metrics,
    dropout_layer,
    handbook_search_space,
    make_optimizer,
)
from keras_bestpractice.tuning.tuner import RandomSearchTuner, trial_seed

__all__ = [
    "LRFinderResult",
    "LRSweepResult",
    "RandomSearchTuner",
    "compile_from_hp",
    "default_metrics",
    "dropout_layer",
    "handbook_search_space",
    "load_results_frame",
    "lr_range_test",
    "lr_sweep",
    "make_optimizer",
    "trial_seed",
]
