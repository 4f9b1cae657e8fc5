"""plan_epochs: the epoch budget from a short run (issue #17). Pure NumPy."""

import math

import numpy as np
import pandas as pd
import pytest

from keras_bestpractice.tuning import EpochPlan, plan_epochs

pytestmark = pytest.mark.backend_independent


def run(asymptote=0.95, rate=0.2, n=30, seed=0):
    t = np.arange(1, n + 1)
    rng = np.random.default_rng(seed)
    acc = asymptote - (asymptote - 0.2) * np.exp(-rate * t) + rng.normal(0, 0.004, n)
    return {"loss": list(2.0 * np.exp(-rate * t) + 0.1), "val_accuracy": list(acc)}


def test_projected_epochs_match_the_full_run():
    full = run()
    short = {k: v[:8] for k, v in full.items()}
    truth = next(i + 1 for i, a in enumerate(full["val_accuracy"]) if a >= 0.9)
    plan = plan_epochs(short, {"val_accuracy": 0.9}, max_epochs=30)
    assert isinstance(plan, EpochPlan)
    assert abs(plan.epochs_needed - truth) <= 2
    assert plan.interval[0] <= truth <= plan.interval[1]
    assert plan.probability > 0.9 and "plan" in str(plan) and "from 8 epochs" in str(plan)


def test_unreachable_target_says_to_change_something_else_than_the_budget():
    plan = plan_epochs({k: v[:10] for k, v in run(asymptote=0.8).items()},
                       ("val_accuracy", 0.95), max_epochs=40)
    assert plan.probability < 0.1
    assert "out of reach" in str(plan) or "not reached" in str(plan)


def test_already_met_and_readers_of_every_history_format(tmp_path):
    full = run()
    plan = plan_epochs(full, {"val_accuracy": 0.5}, max_epochs=30)
    assert plan.probability == 1.0 and "already met at epoch" in str(plan)
    csv = tmp_path / "log.csv"
    frame = pd.DataFrame({"epoch": range(10), **{k: v[:10] for k, v in full.items()}})
    frame.to_csv(csv, index=False)
    from_csv = plan_epochs(csv, {"val_accuracy": 0.93}, max_epochs=30)
    from_frame = plan_epochs(frame, {"val_accuracy": 0.93}, max_epochs=30)
    assert from_csv.epochs_needed == from_frame.epochs_needed
    assert not math.isnan(from_csv.epochs_needed)


def test_loss_targets_and_several_targets_at_once():
    full = run()
    short = {k: v[:8] for k, v in full.items()}
    both = plan_epochs(short, {"val_accuracy": 0.9, "loss": 0.3}, max_epochs=30)
    one = plan_epochs(short, {"val_accuracy": 0.9}, max_epochs=30)
    assert both.epochs_needed >= one.epochs_needed  # the later of the two
    assert set(both.projections) == {"val_accuracy", "loss"}


@pytest.mark.parametrize("args, error, match", [
    (({"val_accuracy": [0.1, 0.2, 0.3, 0.4]}, {"val_acc": 0.9}, 10), ValueError, "val_acc"),
    (({"val_accuracy": [0.1, 0.2, 0.3]}, {"val_accuracy": 0.9}, 10), ValueError, "at least 4"),
    (({"val_accuracy": [0.1, 0.2, 0.3, 0.4]}, {"val_accuracy": 0.9}, 0), ValueError,
     "max_epochs"),
    (({"val_accuracy": [0.1, 0.2, 0.3, 0.4]}, 0.9, 10), TypeError, "target"),
])
def test_bad_input_is_a_clear_error(args, error, match):
    with pytest.raises(error, match=match):
        plan_epochs(*args)
