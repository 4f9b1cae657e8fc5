"""Shared by the transfer tests."""

import keras


class Trainable(keras.callbacks.Callback):
    """What is trainable in each fit, seen from inside it: `{layer name: trainable}` of
    the nested model named "base", one dict per `fit`."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_begin(self, logs=None):
        base = self.model.get_layer("base")
        self.seen.append({layer.name: layer.trainable for layer in base.layers[1:]})


def conv_base(seed=0, filters=(4, 4), last_pool=True):
    """Two conv groups (`block1_*`, `block2_*`) on 8x8x1 digits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(filters[0], 3, padding="same", activation="relu",
                            name="block1_conv")(inputs)
    h = keras.layers.MaxPooling2D(name="block1_pool")(h)
    h = keras.layers.Conv2D(filters[1], 3, padding="same", activation="relu",
                            name="block2_conv")(h)
    if last_pool:
        h = keras.layers.MaxPooling2D(name="block2_pool")(h)
    return keras.Model(inputs, h, name="base")
