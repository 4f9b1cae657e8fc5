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
