"""How often TrainingObjective terminates a run that would have met its target, the
epochs it saves, and how far plan_epochs's projections land from the truth (issue #17).

Replays the rule `TrainingObjective` applies after every epoch
(`keras_bestpractice._core.objective.check_objective`) on the full-budget runs of
`tests/fixtures/objective_runs.json` (made by `make_objective_corpus.py`), for
several targets per run, so what would have happened after each stop is known:

- precision of "unreachable": of the runs it terminates, the share that indeed
  never met the target within the budget (target >= 0.95);
- epochs saved by those terminations, and the runs it let go on that never got there;
- of the runs that meet the target, the epochs between meeting it and stopping
  (the rule checks every epoch, so 0 by construction: reported to show it);
- `plan_epochs` from the first 6 epochs of runs that meet the target later:
  median absolute error of the projected epoch, and how often the truth lies in
  the interval.

    python benchmarks/bench_objective.py [--corpus PATH] [--confidence 0.9]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_bestpractice._core.objective import (  # noqa: E402
    DEFAULT_MIN_EPOCHS,
    check_objective,
    first_epoch_meeting,
)
from keras_bestpractice.tuning import plan_epochs  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "objective_runs.json"
TARGET_QUANTILES = (0.3, 0.5, 0.7, 0.9)  # of the corpus's best accuracies, per data set
PLAN_FROM = 6


def targets_for(runs: list[dict]) -> dict[str, list[float]]:
    """Per data set, targets spread over what its runs reach (rounded to 0.01)."""
    out: dict[str, list[float]] = {}
    for data in sorted({r["data"] for r in runs}):
        best = [max(r["history"]["val_accuracy"]) for r in runs if r["data"] == data]
        out[data] = sorted({round(float(np.quantile(best, q)), 2) for q in TARGET_QUANTILES})
    return out


def replay(history: dict, target: float, budget: int, confidence: float,
           min_progress: float | None = None) -> tuple[str | None, int]:
    """What the rule does on this run: (reason or None, epochs run)."""
    targets, modes = {"val_accuracy": target}, {"val_accuracy": "max"}
    n = min(budget, len(history["val_accuracy"]))
    for epoch in range(1, n + 1):
        seen = {k: v[:epoch] for k, v in history.items()}
        check = check_objective(seen, targets, modes, budget, confidence=confidence,
                                min_progress=min_progress)
        if check.reason is not None:
            return str(check.reason), epoch
    return None, n


def evaluate(runs: list[dict], budget: int, confidence: float) -> dict:
    per_target = targets_for(runs)
    terminated = correct = saved = 0
    missed_hopeless = hopeless_total = 0
    met_delays: list[int] = []
    plan_errors: list[float] = []
    plan_covered = plan_total = plan_uncertain = plan_out_of_reach = 0
    wrong: list[str] = []
    for run in runs:
        history = run["history"]
        for target in per_target[run["data"]]:
            reached = first_epoch_meeting(history, {"val_accuracy": target},
                                          {"val_accuracy": "max"})
            reached = reached if reached is not None and reached <= budget else None
            reason, ran = replay(history, target, budget, confidence)
            if reached is None:
                hopeless_total += 1
            if reason == "objective_unreachable":
                terminated += 1
                if reached is None:
                    correct += 1
                    saved += budget - ran
                else:
                    wrong.append(f"{run['name']} target {target}: stopped at {ran}, "
                                 f"met at {reached}")
            elif reached is None:
                missed_hopeless += 1
            if reason == "objective_met":
                met_delays.append(ran - reached)
            if reached is not None and reached > PLAN_FROM:
                short = {k: v[:PLAN_FROM] for k, v in history.items()}
                plan = plan_epochs(short, {"val_accuracy": target}, max_epochs=budget,
                                   confidence=confidence)
                plan_total += 1
                plan_out_of_reach += "out of reach" in plan.verdict
                if math.isnan(plan.epochs_needed):
                    plan_uncertain += 1  # flat so far: "uncertain", nothing projected
                    continue
                if not math.isinf(plan.epochs_needed):
                    plan_errors.append(abs(plan.epochs_needed - reached))
                else:
                    plan_errors.append(float(budget))  # "never": as wrong as it gets
                plan_covered += plan.interval[0] <= reached <= plan.interval[1]
    return {
        "targets": per_target, "cases": sum(len(per_target[r["data"]]) for r in runs),
        "terminated": terminated, "correct": correct,
        "precision": correct / terminated if terminated else float("nan"),
        "epochs_saved": saved, "hopeless": hopeless_total,
        "hopeless_let_run": missed_hopeless, "wrong": wrong,
        "met": len(met_delays), "max_delay": max(met_delays, default=0),
        "plan_cases": plan_total,
        "plan_median_abs_error": float(np.median(plan_errors)) if plan_errors else math.nan,
        "plan_interval_coverage": plan_covered / (plan_total - plan_uncertain)
        if plan_total > plan_uncertain else math.nan,
        "plan_uncertain": plan_uncertain, "plan_out_of_reach": plan_out_of_reach,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--confidence", type=float, default=0.9)
    args = parser.parse_args(argv)
    corpus = json.loads(Path(args.corpus).read_text())
    runs, budget = corpus["runs"], int(corpus["epochs"])
    result = evaluate(runs, budget, args.confidence)
    print(f"# TrainingObjective on {len(runs)} real runs x targets {result['targets']} "
          f"= {result['cases']} cases, budget {budget} epochs, confidence {args.confidence}, "
          f"min_epochs {DEFAULT_MIN_EPOCHS}")
    print(f"terminated as unreachable: {result['terminated']}; never met the target: "
          f"{result['correct']}; precision {result['precision']:.3f} (target >= 0.95)")
    for line in result["wrong"]:
        print(f"  wrongly terminated: {line}")
    possible = max(1, result["correct"] * budget)
    print(f"epochs saved by correct terminations: {result['epochs_saved']} of {possible} "
          f"({result['epochs_saved'] / possible:.0%})")
    print(f"runs that never met their target: {result['hopeless']}; let run to the budget: "
          f"{result['hopeless_let_run']}")
    print(f"runs stopped as met: {result['met']}; epochs between meeting and stopping: max "
          f"{result['max_delay']}")
    print(f"plan_epochs from {PLAN_FROM} epochs on {result['plan_cases']} runs that met the "
          f"target later: median absolute error {result['plan_median_abs_error']:.1f} epochs, "
          f"truth inside the interval {result['plan_interval_coverage']:.0%}; "
          f"{result['plan_uncertain']} flat so far, said \"uncertain\" (no projection); "
          f"said \"out of reach\" (wrongly) on {result['plan_out_of_reach']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
