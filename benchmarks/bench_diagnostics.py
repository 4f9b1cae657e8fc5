"""Score `diagnose()` on the labelled corpus of real runs.

Prints the primary-finding accuracy, precision/recall per code (primary finding
vs. label), the confusion of the misses, and whether any healthy run got a
warning or error. Targets (issue #4): primary right on >= 90% of runs, healthy
runs get no warning or error.

    python benchmarks/bench_diagnostics.py [--corpus tests/fixtures/diagnostics_runs.json] [-v]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_bestpractice.diagnostics import diagnose  # noqa: E402


def diagnose_args(run: dict, use_num_classes: bool = True) -> dict:
    """What a user would pass for this run: the class count (when known and asked for),
    and, for the problem-types corpus, the loss and the training targets' summary."""
    from keras_bestpractice._core.reference import TargetSummary

    kwargs: dict = {"num_classes": run["num_classes"] if use_num_classes else None}
    if use_num_classes and run.get("class_prior") is not None:
        # The labels' class shares, as TrainingDiagnostics reads them off the data.
        kwargs["class_prior"] = run["class_prior"]
    if "loss" in run:
        kwargs["loss"] = run["loss"]
        if kwargs["loss"] != "sparse_categorical_crossentropy":
            kwargs["num_classes"] = None  # a sigmoid's reference comes from the prevalence
    if run.get("targets") is not None:
        kwargs["targets"] = TargetSummary(run["targets"])
    # What TrainingDiagnostics reads off the model and its probe batch, where the corpus
    # recorded it (the independent corpora; see make_independent_corpus.py --backfill).
    if run.get("model_facts") is not None:
        kwargs["model"] = run["model_facts"]
    if run.get("predicted_classes") is not None:
        kwargs["predicted_classes"] = run["predicted_classes"]
    return kwargs


def score(corpus: dict, use_num_classes: bool = True, verbose: bool = False) -> dict:
    runs = corpus["runs"]
    labels, predicted, misses = [], [], []
    healthy_flagged = []
    for run in runs:
        report = diagnose({**run["history"]}, **diagnose_args(run, use_num_classes))
        labels.append(run["label"])
        predicted.append(report.primary.code)
        if report.primary.code != run["label"]:
            misses.append((run["name"], run["label"], report.codes))
        if run["label"] == "healthy" and not report.is_healthy:
            healthy_flagged.append((run["name"], report.codes))
        if verbose:
            mark = "ok " if report.primary.code == run["label"] else "MISS"
            print(f"{mark} {run['name']:42s} {run['label']:17s} -> {report.codes}")
    codes = sorted(set(labels) | set(predicted))
    table = []
    for code in codes:
        tp = sum(1 for a, b in zip(labels, predicted, strict=True) if a == code and b == code)
        fp = sum(1 for a, b in zip(labels, predicted, strict=True) if a != code and b == code)
        fn = sum(1 for a, b in zip(labels, predicted, strict=True) if a == code and b != code)
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        table.append((code, Counter(labels)[code], precision, recall))
    accuracy = sum(a == b for a, b in zip(labels, predicted, strict=True)) / len(labels)
    return {"accuracy": accuracy, "table": table, "misses": misses,
            "healthy_flagged": healthy_flagged, "n": len(labels)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(ROOT / "tests" / "fixtures" /
                                                 "diagnostics_runs.json"))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    corpus = json.loads(Path(args.corpus).read_text())
    for use_c in (True, False):
        result = score(corpus, use_num_classes=use_c, verbose=args.verbose and use_c)
        title = "num_classes given" if use_c else "num_classes=None (inferred)"
        print(f"\n## {title}: {result['n']} runs, primary finding right on "
              f"{result['accuracy']:.1%}")
        print("| code | runs | precision | recall |\n|---|---|---|---|")
        for code, count, p, r in result["table"]:
            print(f"| {code} | {count} | {p:.2f} | {r:.2f} |")
        print(f"healthy runs with a warning or error: {len(result['healthy_flagged'])}"
              + (f" {result['healthy_flagged']}" if result["healthy_flagged"] else ""))
        for name, label, codes in result["misses"]:
            print(f"  miss: {name} (label {label}) -> {codes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
