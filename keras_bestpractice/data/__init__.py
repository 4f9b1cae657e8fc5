"""Stratified splits and tf.data feeders.

```python
from keras_bestpractice.data import stratified_split, stratified_dataset

(train, val, test) = stratified_split(x, y, seed=0)
ds = stratified_dataset(*train, batch_size=32, seed=0)
```
"""

from keras_bestpractice.data.hybrid import HybridFeeder
from keras_bestpractice.data.registry import FeederState, feeder_of
from keras_bestpractice.data.sources import from_file_listing
from keras_bestpractice.data.split import rule_of_thumb, stratified_split
from keras_bestpractice.data.stratified import stratified_dataset

__all__ = [
    "FeederState",
    "HybridFeeder",
    "feeder_of",
    "from_file_listing",
    "rule_of_thumb",
    "stratified_dataset",
    "stratified_split",
]
