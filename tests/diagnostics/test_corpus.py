"""The accuracy target of issue #4 on the stored corpus of real, labelled runs."""

from collections import Counter

import pytest

from keras_bestpractice.diagnostics import diagnose


@pytest.mark.parametrize("give_num_classes", [True, False])
def test_primary_finding_is_right_on_90_percent_of_runs(corpus, give_num_classes):
    runs = corpus["runs"]
    right = 0
    for run in runs:
        report = diagnose(run["history"],
                          num_classes=run["num_classes"] if give_num_classes else None)
        right += report.primary.code == run["label"]
    assert right / len(runs) >= 0.90, f"{right}/{len(runs)}"


def test_healthy_runs_get_no_warning_or_error(corpus):
    for run in corpus["runs"]:
        if run["label"] != "healthy":
            continue
        for num_classes in (run["num_classes"], None):
            report = diagnose(run["history"], num_classes=num_classes)
            assert report.is_healthy, (run["name"], report.codes)


def test_corpus_covers_every_curve_code(corpus):
    labels = Counter(r["label"] for r in corpus["runs"])
    for code in ("healthy", "nan_loss", "diverging", "not_learning", "overfitting",
                 "underfitting", "val_oscillation", "slow_convergence", "plateau"):
        assert labels[code] >= 3, code
