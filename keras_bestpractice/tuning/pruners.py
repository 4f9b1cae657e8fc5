"""The pruners a tuner can use (`PruningMixin(pruner=...)`), re-exported for users.

They are pure (`keras_bestpractice._core.pruners`: no Keras), so a rule can be
tried on plain numbers:

```python
from keras_bestpractice.tuning import MedianPruner
MedianPruner(min_peers=3).prune([0.5], [[0.9], [0.8], [0.7]], direction="max")   # True
```
"""

from keras_bestpractice._core.pruners import ASHAPruner, CurvePruner, MedianPruner, Pruner

__all__ = ["ASHAPruner", "CurvePruner", "MedianPruner", "Pruner"]
