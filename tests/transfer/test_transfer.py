"""Transfer learning (issue #17): layer groups, the new classifier, phased fine-tuning."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_bestpractice.transfer import (
    domain_transfer_init,
    fine_tune,
    layer_groups,
    new_classifier,
)
from keras_bestpractice.transfer.group_rules import group_names
from tests.transfer.helpers import Trainable


@pytest.mark.backend_independent
@pytest.mark.slow
@pytest.mark.parametrize("name, groups", [
    ("VGG16", ["block1", "block2", "block3", "block4", "block5"]),
    ("ResNet50", ["stem", "conv2", "conv3", "conv4", "conv5"]),
    ("EfficientNetB0", ["stem", "block1", "block2", "block3", "block4", "block5", "block6",
                        "block7", "top"]),
    ("MobileNetV2", ["stem", "stage1", "stage2", "stage3", "stage4"]),  # by resolution
])
def test_groups_of_keras_applications_built_offline(name, groups):
    base = getattr(keras.applications, name)(weights=None, include_top=False,
                                             input_shape=(64, 64, 3))
    found = layer_groups(base)
    assert list(found) == groups
    # Every layer but the input is in exactly one group.
    layers = [layer for members in found.values() for layer in members]
    assert len(layers) == len(base.layers) - 1 == len({id(la) for la in layers})
    model = new_classifier(base, 3)
    assert list(layer_groups(model)) == [*groups, "head"]


def test_resolution_rule_puts_padding_with_the_layer_it_feeds():
    names = ["input", "conv_a", "pad_b", "conv_b", "se_squeeze", "conv_c", "pad_d", "conv_d"]
    res = [(32, 32), (16, 16), (17, 17), (8, 8), None, (8, 8), (9, 9), (4, 4)]
    assert group_names(names, res) == [None, "stem", "stage1", "stage1", "stage1", "stage1",
                                       "stage2", "stage2"]


def small_base():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv")(inputs)
    h = keras.layers.MaxPooling2D(name="block1_pool")(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block2_conv")(h)
    h = keras.layers.BatchNormalization(name="block2_bn")(h)
    h = keras.layers.MaxPooling2D(name="block2_pool")(h)
    return keras.Model(inputs, h, name="base")


def digits(classes):
    x, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    return (x[keep] / 16.0).astype("float32").reshape(-1, 8, 8, 1), y[keep] - min(classes)


def test_fine_tune_runs_the_phases_top_group_first_with_bn_frozen_and_one_history():
    x, y = digits(range(5, 10))
    model = new_classifier(small_base(), 5)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    seen = Trainable()
    result = fine_tune(model, x[:200], y[:200], validation_data=(x[200:300], y[200:300]),
                       head_epochs=2, epochs_per_group=1, lr_factor=0.1, callbacks=[seen])
    assert [p["name"] for p in result.phases] == ["head", "unfreeze block2", "unfreeze block1"]
    assert [p["epochs"] for p in result.phases] == [[0, 1], [2], [3]]
    assert result.history["phase"] == ["head", "head", "unfreeze block2", "unfreeze block1"]
    assert len(result.history["val_accuracy"]) == 4
    assert result.phases[1]["learning_rate"] == pytest.approx(1e-3)
    head, top, both = seen.seen
    assert not any(head.values())
    assert top == {"block1_conv": False, "block1_pool": False, "block2_conv": True,
                   "block2_bn": False, "block2_pool": True}
    assert both["block1_conv"] and both["block2_conv"] and not both["block2_bn"]
    # Trainable weights grow phase by phase (head; + block2 conv; + block1 conv).
    assert [p["trainable_weights"] for p in result.phases] == [2, 4, 6]
    assert np.isfinite(result.history["loss"]).all()


def test_fine_tune_refuses_what_it_cannot_do():
    model = new_classifier(small_base(), 5)
    with pytest.raises(TypeError, match="compiled"):
        fine_tune(model, np.zeros((4, 8, 8, 1)), np.zeros(4))
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="groups"):
        fine_tune(model, np.zeros((4, 8, 8, 1)), np.zeros(4), groups=["block9"])
    with pytest.raises(ValueError, match="groups"):
        fine_tune(model, np.zeros((4, 8, 8, 1)), np.zeros(4), groups=5)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    plain.compile("adam", "mse")
    with pytest.raises(ValueError, match="new_classifier"):
        fine_tune(plain, np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(TypeError, match="base"):
        new_classifier("resnet", 3)
    with pytest.raises(ValueError, match="pooling"):
        new_classifier(small_base(), 3, pooling="mean")
    with pytest.raises(TypeError, match="model"):
        layer_groups(3)


def test_domain_transfer_init_pretrains_the_base_and_drops_its_head():
    x, y = digits(range(0, 5))
    base = small_base()
    before = [w.copy() for w in base.get_weights()]
    same, history = domain_transfer_init(base, x[:200], y[:200], num_classes=5, epochs=2)
    assert same is base and not base.trainable
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    changed = [not np.array_equal(a, b) for a, b in zip(before, base.get_weights(),
                                                        strict=True)]
    assert all(changed[:2])  # the first convolution learned
    model = new_classifier(base, 5)  # a fresh head on the pretrained base
    assert model.output.shape[-1] == 5 and len(model.trainable_weights) == 2
    with pytest.raises(ValueError, match="epochs"):
        domain_transfer_init(small_base(), x[:8], y[:8], num_classes=5, epochs=0)
