"""`FeederEpochSync`: keep stratified feeders on Keras's epoch."""

from __future__ import annotations

from keras_bestpractice._callback import CopyableCallback


class FeederEpochSync(CopyableCallback):
    """Set every `stratified_dataset` of this process to Keras's epoch in `on_epoch_begin`.

    A stratified dataset produces the order of its epoch variable, which each
    iteration advances by one. That matches Keras's epochs in a plain `fit`; this
    callback makes it exact when it would not be: a run resumed from a
    checkpoint in a new process (`fit(initial_epoch=5)` replays epoch 5's order),
    `MirroredStrategy` (which iterates the dataset once more to build the model),
    or a dataset also used elsewhere between epochs. `PeriodicCheckpoint` does the
    same, so it is not needed next to it.

    Example:

    ```python
    ds = stratified_dataset(x, y, batch_size=32, seed=0)
    model.fit(ds, epochs=10, initial_epoch=4, callbacks=[FeederEpochSync()])
    ```
    """

    def on_epoch_begin(self, epoch, logs=None):
        from keras_bestpractice.data import registry

        registry.set_epoch(int(epoch))
