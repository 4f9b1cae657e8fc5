"""TrainingObjective's rule on recorded real runs (issue #17): pure replay, no training.

`tests/fixtures/objective_runs.json` (and the held-out `objective_runs_heldout.json`:
other splits and initialisations, never used to choose defaults) hold full-budget
runs made by `benchmarks/make_objective_corpus.py`; `benchmarks/bench_objective.py`
prints the same figures.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_objective import evaluate  # noqa: E402

pytestmark = pytest.mark.backend_independent
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize("name", ["objective_runs.json", "objective_runs_heldout.json"])
def test_unreachable_terminations_are_right_and_met_runs_stop_at_once(name):
    corpus = json.loads((FIXTURES / name).read_text())
    result = evaluate(corpus["runs"], int(corpus["epochs"]), confidence=0.9)
    assert result["terminated"] >= 50
    assert result["precision"] >= 0.95, result["wrong"]
    # Terminations save at least half the epochs of the runs that never got there.
    assert result["epochs_saved"] >= 0.5 * result["correct"] * corpus["epochs"]
    assert result["met"] >= 50 and result["max_delay"] == 0
