import math

import pytest

from keras_bestpractice.diagnostics.chance import (
    chance_level,
    detect_not_learning,
    infer_chance_level,
    is_at_chance,
)

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


def test_balanced_and_prior_chance_levels():
    c = chance_level(10)
    assert c.loss == pytest.approx(math.log(10)) and c.accuracy == pytest.approx(0.1)
    p = chance_level(class_prior=[90, 10])
    assert p.accuracy == pytest.approx(0.9)
    assert p.loss == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))
    assert chance_level() is None


@pytest.mark.parametrize("bad", [1, 0, -3])
def test_num_classes_below_two_is_rejected(bad):
    with pytest.raises(ValueError, match="num_classes"):
        chance_level(bad)


def test_bad_prior_is_rejected():
    with pytest.raises(ValueError, match="class_prior"):
        chance_level(class_prior=[1.0, -1.0])
    with pytest.raises(TypeError, match="num_classes"):
        chance_level(2.5)


def test_is_at_chance_loss_and_accuracy():
    c = chance_level(10)
    assert is_at_chance(2.31, 0.10, c)
    assert is_at_chance(12.0, 0.09, c)  # confidently wrong is not learning either
    assert not is_at_chance(1.5, 0.10, c)
    assert not is_at_chance(2.31, 0.50, c)
    assert not is_at_chance(float("nan"), 0.1, c)


def test_majority_class_predictor_of_imbalanced_set_is_at_chance():
    c = chance_level(class_prior=[0.9, 0.1])
    assert is_at_chance(0.33, 0.9, c)


def test_detect_not_learning_requires_no_steady_progress():
    c = chance_level(10)
    stuck = detect_not_learning([2.5, 2.31, 2.30, 2.30, 2.31], [0.1] * 5, c)
    assert stuck is not None and stuck["num_classes"] == 10
    slow = detect_not_learning([2.48, 2.46, 2.44, 2.42, 2.40, 2.38],
                               [0.09, 0.095, 0.1, 0.105, 0.11, 0.115], c,
                               val_loss=[2.47, 2.45, 2.43, 2.41, 2.39, 2.37])
    assert slow is None
    # Coming down from an explosion to the chance level is not learning: accuracy is flat.
    exploded = detect_not_learning([505.0, 5.3, 3.97], [0.115, 0.107, 0.117], c,
                                   val_loss=[7.9, 4.6, 2.9], grace_epochs=2)
    assert exploded is not None
    assert detect_not_learning([2.3], [0.1], c, grace_epochs=2) is None


def test_infer_chance_level_needs_agreeing_accuracy():
    assert infer_chance_level(math.log(10) + 0.01, 0.1).num_classes == 10
    assert infer_chance_level(1.6, 0.55) is None  # loss ~ ln 5 but accuracy says learning
    assert infer_chance_level(12.0, 0.1, accuracy_spread=0.01).num_classes == 10
    assert infer_chance_level(1.12, 0.52, accuracy_spread=0.0) is None  # 1.6x ln 2: learned
    assert infer_chance_level(2.0, None) is None
