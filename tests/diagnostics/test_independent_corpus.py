"""Issue #23: diagnoses on runs nobody tuned the rules for.

`independent_runs.json` comes from `benchmarks/make_independent_corpus.py`, a generator
that shares no code, data set or architecture with the one the rules were first
developed on; its labels come from how each run was built. `issue23_runs.json` holds one
real run of each class of miss the issue names, built as it describes them.
"""

import json
from pathlib import Path

import pytest

from benchmarks.bench_diagnostics import diagnose_args, score
from keras_bestpractice.diagnostics import diagnose

pytestmark = pytest.mark.backend_independent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def corpus(name):
    return json.loads((FIXTURES / name).read_text())


def issue_run(name):
    return next(r for r in corpus("issue23_runs.json")["runs"] if r["name"] == name)


@pytest.mark.parametrize("name, given, floor", [
    ("independent_runs.json", True, 0.93), ("independent_runs.json", False, 0.85),
    ("independent_runs_heldout.json", True, 0.90), ("independent_runs_heldout.json", False, 0.83),
    ("independent_runs_heldout2.json", True, 0.85), ("independent_runs_heldout2.json", False, 0.78),
])
def test_independent_corpus_accuracy_and_no_healthy_error(name, given, floor):
    result = score(corpus(name), use_num_classes=given)
    # RESULTS.md records the figures; these floors guard against a regression.
    assert result["accuracy"] >= floor, result["misses"]
    # One healthy run (Hastie's set at Adam 1e-3 with Dropout) is called slow: its
    # curve is that of the slow runs (a straight 25% descent in 25 epochs); none gets an
    # error.
    assert [name for name, _ in result["healthy_flagged"]] in ([], ["hastie_mlp_dropout"])


@pytest.mark.parametrize("name", ["dead_3class_after_spike", "dead_binary_after_spike",
                                  "dead_regression_sgd_0_5"])
@pytest.mark.parametrize("given", [True, False])
def test_a_dead_network_is_not_learning_whatever_the_class_count(name, given):
    # Issue #23: without num_classes these were called healthy, underfitting and
    # val_oscillation.
    run = issue_run(name)
    report = diagnose(run["history"], **diagnose_args(run, given))
    assert report.primary.code == "not_learning", report.codes
    finding = report.primary
    if name != "dead_regression_sgd_0_5":
        assert finding.evidence["dead_kind"] in ("blown_up", "saturated")
        assert "frozen" in finding.message and "dead" in finding.message
        assert "too high" in finding.suggestion and "learning rate" in finding.suggestion


def test_frozen_at_ln_k_with_an_accuracy_is_a_dead_network():
    flat = [2.5e4] + [1.0986123] * 8
    report = diagnose({"loss": flat, "accuracy": [0.4] * 9})
    assert report.primary.code == "not_learning"
    assert report.primary.evidence["dead_kind"] == "blown_up"
    report = diagnose({"loss": [1.2, 1.1, 1.0986123, 1.0986123, 1.0986123, 1.0986123],
                       "accuracy": [0.4] * 6})
    assert report.primary.code == "not_learning" and report.primary.evidence["k"] == 3
    # A learned level that happens to be near ln 5, with an accuracy no constant answer
    # reaches, is not one.
    report = diagnose({"loss": [2.1, 1.66, 1.6094, 1.6094, 1.6094, 1.6094],
                       "accuracy": [0.3, 0.7, 0.76, 0.76, 0.76, 0.76]})
    assert report.primary.code != "not_learning" or \
        report.primary.evidence.get("dead_kind") != "ln_k"


@pytest.mark.parametrize("name", ["converged_rlrop", "converged_rlrop_regression"])
def test_a_converged_reduce_lr_on_plateau_run_is_healthy_and_says_what_stopping_saves(name):
    # Issue #23: called `plateau` (a false alarm).
    run = issue_run(name)
    for given in (True, False):
        report = diagnose(run["history"], **diagnose_args(run, given))
        assert report.is_healthy and report.primary.code == "healthy", report.codes
        converged = report.get("converged")
        assert converged is not None and converged.evidence["lr_reductions"] >= 3
        assert converged.evidence["saved_epochs"] > 10
        assert "EarlyStopping" in converged.message
        # The healthy summary names the same best epoch.
        assert report.primary.evidence["best_epoch"] == converged.evidence["best_epoch"]


def test_a_stall_is_still_a_plateau():
    # A schedule that cut the rate to ~0 while the loss was falling.
    loss = [1.53, 1.16, 0.93, 0.8328, 0.83262, 0.83262, 0.83262, 0.83262, 0.83262, 0.83262]
    assert diagnose({"loss": loss}, num_classes=5).primary.code == "plateau"
    # The same level reached by slowing down (each gain ~40% of the one before).
    converged = [1.53, 1.0, 0.9, 0.86, 0.845, 0.839, 0.8366, 0.8356, 0.8352, 0.8351]
    assert diagnose({"loss": converged}, num_classes=5).primary.code != "plateau"


def test_regression_underfitting_is_underfitting_with_capacity_advice():
    # Issue #23: a linear model on a non-linear target was called `plateau` (whose fix is
    # the learning rate and the schedule, the wrong way).
    run = issue_run("linear_on_nonlinear_target")
    for given in (True, False):
        report = diagnose(run["history"], **diagnose_args(run, given))
        assert report.primary.code == "underfitting", report.codes
        fix = report.primary.suggestion
        assert "capacity" in fix and "raise the learning rate" not in fix
        assert "train longer" not in fix


def test_a_short_run_frozen_far_above_chance_is_dead_not_underfitting():
    # A 3-epoch lr_sweep run at SGD(3) on JAX: worse than a constant answer and frozen is a
    # broken network; underfitting (capacity advice) was the verdict.
    history = {"loss": [12.2394, 12.9804, 12.9804], "accuracy": [0.176, 0.1947, 0.1947],
               "val_loss": [12.8945, 12.8945, 12.8945], "val_accuracy": [0.2, 0.2, 0.2]}
    report = diagnose(history, num_classes=10)
    assert report.primary.code == "not_learning", report.codes
    assert report.primary.evidence["dead_kind"] == "saturated"
    assert report.get("underfitting") is None
