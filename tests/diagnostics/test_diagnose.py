import math

import numpy as np
import pytest

from keras_bestpractice.diagnostics import Finding, diagnose
from keras_bestpractice.diagnostics.catalog import CODE_ORDER, CURVE_CODES

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


def geometric(start, end, n):
    return list(np.geomspace(start, end, n))


def healthy_history(n=15):
    loss = geometric(2.0, 0.1, n)
    val = [v * 1.1 for v in geometric(1.8, 0.12, n)]
    acc = list(np.linspace(0.4, 0.97, n))
    vacc = list(np.linspace(0.5, 0.95, n))
    return {"loss": loss, "val_loss": val, "accuracy": acc, "val_accuracy": vacc}


def test_healthy_run_has_a_single_info_finding():
    report = diagnose(healthy_history(), num_classes=10)
    assert report.codes == ["healthy"]
    assert report.primary.severity == "info"
    assert report.is_healthy


def test_nan_loss_is_primary_with_its_epoch():
    h = healthy_history(8)
    h["loss"][5] = float("nan")
    h["loss"][6] = float("nan")
    h["loss"][7] = float("inf")
    report = diagnose(h, num_classes=10)
    assert report.primary.code == "nan_loss"
    assert report.primary.severity == "error"
    assert report.primary.epoch == 5
    assert "epoch 6" in report.primary.message  # printed 1-based, like Keras's progress bar


def test_nan_from_first_epoch_points_at_the_data():
    report = diagnose({"loss": [float("nan")] * 3}, num_classes=3)
    assert report.primary.code == "nan_loss"
    assert "from the start" in report.primary.suggestion


def test_diverging_run():
    loss = [2.0, 1.2, 0.6, 0.4, 0.5, 0.9, 1.6, 2.5]
    report = diagnose({"loss": loss, "val_loss": [v * 1.05 for v in loss]}, num_classes=10)
    assert report.primary.code == "diverging"
    assert report.primary.epoch == 4  # the loss started climbing after epoch index 3
    assert report.primary.evidence["min_loss"] == pytest.approx(0.4)


def test_converged_wobble_is_not_divergence():
    loss = [0.5, 0.05, 0.01, 0.002, 0.001, 0.004]
    report = diagnose({"loss": loss}, num_classes=2)
    assert report.get("diverging") is None


def test_not_learning_at_chance():
    n = 10
    h = {"loss": [30.0] + [2.31] * (n - 1), "accuracy": [0.1] * n,
         "val_loss": [2.35] * n, "val_accuracy": [0.1] * n}
    report = diagnose(h, num_classes=10)
    assert report.primary.code == "not_learning"
    assert report.primary.evidence["chance_loss"] == pytest.approx(math.log(10), rel=1e-5)
    assert "far too high" in report.primary.suggestion


def test_not_learning_is_inferred_without_num_classes():
    h = {"loss": [2.5, 2.31, 2.30, 2.31, 2.30], "accuracy": [0.1, 0.1, 0.09, 0.1, 0.1]}
    report = diagnose(h)
    assert report.primary.code == "not_learning"
    assert report.chance.source == "inferred" and report.chance.num_classes == 10


def test_chance_rules_are_skipped_when_chance_is_unknown():
    report = diagnose({"loss": [1.5, 1.4, 1.45, 1.42]})
    assert any("chance level unknown" in s for s in report.skipped_checks)


def test_overfitting_reports_the_best_validation_epoch():
    n = 30
    loss = geometric(2.0, 0.01, n)
    val = [1.8, 1.2, 0.8, 0.6, 0.5, 0.45] + [0.45 + 0.04 * i for i in range(1, n - 5)]
    acc = list(np.linspace(0.5, 1.0, n))
    vacc = [0.9] * n
    report = diagnose({"loss": loss, "val_loss": val, "accuracy": acc, "val_accuracy": vacc},
                      num_classes=10)
    assert report.primary.code == "overfitting"
    assert report.primary.epoch == 5
    assert "EarlyStopping" in report.primary.suggestion and "epoch 6" in report.primary.suggestion


def test_underfitting_poor_and_close():
    n = 20
    loss = [1.4 - 0.35 * (1 - math.exp(-i / 2)) + 0.003 * (-1) ** i for i in range(n)]
    val = [v * 1.02 for v in loss]
    acc = [0.5] * n
    report = diagnose({"loss": loss, "val_loss": val, "accuracy": acc, "val_accuracy": acc},
                      num_classes=4)
    assert report.primary.code == "underfitting"


def test_val_oscillation():
    val = [1.0, 0.5, 1.2, 0.4, 1.1, 0.45, 1.3, 0.5, 1.2, 0.4]
    loss = geometric(1.5, 0.3, 10)
    report = diagnose({"loss": loss, "val_loss": val}, num_classes=10)
    assert report.primary.code == "val_oscillation"


def test_slow_convergence():
    loss = list(np.linspace(2.45, 2.20, 15))
    report = diagnose({"loss": loss, "val_loss": [v + 0.01 for v in loss]}, num_classes=10)
    assert report.primary.code == "slow_convergence"
    assert report.primary.epoch is None


def test_plateau_of_frozen_weights():
    loss = [2.2, 1.9, 1.7] + [1.7] * 12
    report = diagnose({"loss": loss, "val_loss": [v + 0.02 for v in loss],
                       "learning_rate": [1e-3] * 3 + [1e-9] * 12}, num_classes=10)
    assert report.primary.code == "plateau"
    assert report.primary.evidence["frozen"] is True
    assert report.primary.epoch == 2


@pytest.mark.parametrize("history", [
    {"loss": [1.0]},
    {"loss": [1.0, 0.5]},
    {"loss": [float("nan")]},
    {"loss": [1.0, float("nan"), 0.5], "accuracy": [0.1, float("nan"), 0.3]},
    {"loss": [2.0, 1.0, 0.5], "val_loss": [float("nan")] * 3},
])
def test_short_and_odd_histories_never_crash(history):
    report = diagnose(history)
    assert report.findings and isinstance(report.primary, Finding)
    assert str(report)


@pytest.mark.parametrize(("history", "match"), [
    ({"loss": [], "val_loss": []}, "no epochs"),
    ({}, "no `loss`"),
    ({"val_loss": [1.0, 0.9]}, "no `loss`"),
    ({"loss": [1.0, 0.5, 0.4], "accuracy": [0.5, 0.6]}, "differ in length"),
    ({"loss": [1.0, 0.5], "val_loss": [1.0, 0.5, 0.4]}, "more validation values"),
])
def test_histories_that_cannot_be_diagnosed_are_refused(history, match):
    # Issue #14: these read as "healthy (0 epochs)" before; a report must never hide bad input.
    with pytest.raises(ValueError, match=match):
        diagnose(history)


def test_findings_are_ordered_by_severity_then_code():
    h = healthy_history(10)
    h["loss"] = list(np.linspace(2.45, 2.2, 10))
    h["val_loss"][-1] = float("nan")
    report = diagnose(h, num_classes=10)
    ranks = [(["error", "warning", "info"].index(f.severity), CODE_ORDER.index(f.code))
             for f in report.findings]
    assert ranks == sorted(ranks)
    assert set(CURVE_CODES) <= set(CODE_ORDER)


def test_finding_rejects_unknown_severity():
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", None, "m", "s")


def test_epochs_follow_the_csv_epoch_column(tmp_path):
    csv = tmp_path / "log.csv"
    rows = ["epoch,loss,val_loss"]
    loss = [2.0, 1.2, 0.6, 0.4, 0.5, 0.9, 1.6, 2.5]
    for i, v in enumerate(loss):
        rows.append(f"{i + 10},{v},{v}")
    csv.write_text("\n".join(rows) + "\n")
    report = diagnose(csv, num_classes=10)
    assert report.primary.code == "diverging"
    assert report.primary.epoch == 14


def test_every_code_has_its_own_rank_so_the_order_of_findings_is_defined():
    from keras_bestpractice.diagnostics import catalog

    ranks = [spec.rank for spec in catalog.specs()]
    assert len(ranks) == len(set(ranks)), sorted(ranks)
    assert "negative_transfer" in catalog.CODE_ORDER


# Real curves (bench_judgments.py --part val_at_chance --seed 501): Dense ->
# BatchNormalization(momentum=0.999) -> ReLU -> softmax on inputs offset by 5 standard
# deviations. Before issue #26's `val_lags_training` both were "healthy".
LAG_DIGITS = {
    "loss": [2.0966, 1.4317, 1.031, 0.78, 0.6134, 0.4973, 0.413, 0.3498],
    "val_loss": [6.1888, 4.2711, 3.0077, 2.2008, 1.7542, 1.5308, 1.423, 1.3891],
    "accuracy": [0.288, 0.6372, 0.8043, 0.864, 0.8942, 0.9149, 0.926, 0.9387],
    "val_accuracy": [0.1444, 0.1907, 0.1944, 0.2667, 0.3815, 0.4444, 0.4741, 0.4796]}
LAG_BLOBS = {
    "loss": [1.7118, 0.9056, 0.5263, 0.3357, 0.2272, 0.1623, 0.1218, 0.0952],
    "val_loss": [4.1485, 3.1755, 2.6387, 2.3747, 2.2523, 2.192, 2.152, 2.1169],
    "accuracy": [0.2267, 0.7257, 0.9276, 0.9829, 0.9924, 0.9971, 0.999, 0.999],
    "val_accuracy": [0.1867, 0.1867, 0.2156, 0.3467, 0.4378, 0.5022, 0.5489, 0.6022]}


@pytest.mark.parametrize("history, classes", [(LAG_DIGITS, 10), (LAG_BLOBS, 6)])
def test_validation_far_behind_training_is_a_warning(history, classes):
    report = diagnose(history, num_classes=classes)
    assert report.primary.code == "val_lags_training" and not report.is_healthy
    assert report.primary.severity == "warning"
    assert "generalization_gap" not in report.codes        # the stronger statement only
    ev = report.primary.evidence
    assert ev["val_still_improving"] and ev["loss_ratio"] > 3
    assert ev["chance_accuracy"] == pytest.approx(1 / classes, abs=1e-4)
    assert "still improving" in report.primary.message
    assert "BatchNormalization" in report.primary.suggestion
    # The same from a CSV log without the class count: chance taken as 0, still said.
    assert diagnose(history).primary.code == "val_lags_training"


def test_a_usual_gap_memorisation_and_chance_are_not_validation_lag():
    # A gap a healthy run has (training 0.97, validation 0.86): nothing to say.
    usual = {"loss": [1.5, 0.8, 0.4, 0.25, 0.18, 0.14],
             "val_loss": [1.6, 0.95, 0.6, 0.5, 0.47, 0.46],
             "accuracy": [0.6, 0.8, 0.9, 0.94, 0.96, 0.97],
             "val_accuracy": [0.55, 0.74, 0.82, 0.85, 0.86, 0.86]}
    assert "val_lags_training" not in diagnose(usual, num_classes=10).codes
    # Validation loss rising since epoch 4 while training memorises: overfitting says it.
    rising = {"loss": [1.77, 0.96, 0.51, 0.30, 0.20, 0.14, 0.11, 0.09],
              "val_loss": [8.58, 6.55, 5.63, 5.44, 5.55, 5.70, 5.82, 5.89],
              "accuracy": [0.29, 0.76, 0.98, 0.996, 0.998, 0.998, 0.999, 1.0],
              "val_accuracy": [0.22, 0.34, 0.44, 0.47, 0.42, 0.36, 0.32, 0.30]}
    report = diagnose(rising, num_classes=6)
    assert report.primary.code == "overfitting" and "val_lags_training" not in report.codes
    # ...and, the gap being as wide as a BatchNormalization lag gives, its fix says how to
    # tell memorisation from that before regularising; a narrow memorised gap does not.
    assert "model.evaluate(x_train" in report.primary.suggestion
    from keras_bestpractice.diagnostics.catalog import get

    assert "model.evaluate" not in get("overfitting").fix({"best_epoch": 3, "accuracy_gap": 0.1})
    # Training itself has not learned half-way: not a lag of validation behind it.
    weak = {k: v for k, v in LAG_DIGITS.items()}
    weak["accuracy"] = [0.2, 0.3, 0.38, 0.42, 0.45, 0.5, 0.52, 0.53]
    assert "val_lags_training" not in diagnose(weak, num_classes=10).codes


def test_a_single_epoch_blown_up_is_diverging():
    # Issue #26: SGD(30) on breast_cancer, stopped by the guard in epoch 1 at a training
    # loss of 2e30: "healthy, 1 epoch says little, keep the settings".
    report = diagnose({"loss": [2.008e30], "accuracy": [0.446], "val_loss": [1.25],
                       "val_accuracy": [0.308]}, loss="binary_crossentropy")
    assert report.primary.code == "diverging"
    assert report.primary.evidence["kind"] == "blown_up"
    assert "In its last epoch (1)" in report.primary.message
    # One ordinary epoch is still only "says little".
    assert diagnose({"loss": [2.1], "accuracy": [0.44]}, num_classes=10).is_healthy
