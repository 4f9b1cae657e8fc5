"""Every example runs end to end, as a user runs it (issue #26: one crashed on its first run,
and no test ran them). Each in its own process and working folder, on TensorFlow (the
examples pick no backend); the quickstart on a short budget (2 trials, 3 epochs)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.backend_independent]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# The line each example prints when it did what it says (a crash never prints it).
EXPECTED = {
    "divergence_guard.py": "weights finite: True",
    "lr_finder.py": "best learning rate:",
    "training_diagnostics.py": "Report: diagnostics_outputs/fixed.html",
    "training_objective.py": "Narrow model:",
    "transfer_learning.py": "val_accuracy",
    "periodic_checkpoint.py": "final weights bitwise equal to the uninterrupted run: True",
    "quickstart.py": "test accuracy",
    "deployment.py": "served accuracy on 20 files",
}


def run_example(name: str, cwd: Path, *args: str) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "Traceback" not in done.stderr, done.stderr[-4000:]
    return done.stdout


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


def test_every_example_runs_and_says_what_it_shows(tmp_path):
    """All of them, two at a time (each is one process; on 2 cores two overlap their
    imports and I/O: about 75 s instead of 115 s one after another)."""
    from concurrent.futures import ThreadPoolExecutor

    from keras_bestpractice.checkpointing import checkpoint_info

    out = tmp_path / "qs"
    jobs = {name: (tmp_path / name.removesuffix(".py"), ()) for name in EXPECTED}
    jobs["quickstart.py"] = (tmp_path / "quickstart",
                             ("--trials", "2", "--epochs", "3", "--out", str(out)))
    for cwd, _ in jobs.values():
        cwd.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_example, name, cwd, *args)
                   for name, (cwd, args) in jobs.items()}
        printed = {name: future.result() for name, future in futures.items()}
    for name, text in printed.items():
        assert EXPECTED[name] in text, (name, text[-2000:])
    # The quickstart keeps its best epoch (issue #26: it saved every 2nd epoch, so a best
    # odd epoch was never kept).
    with open(out / "training_log.csv") as handle:
        accuracy = [float(row["val_accuracy"]) for row in csv.DictReader(handle)]
    kept = [checkpoint_info(p).epoch for p in (out / "checkpoints").glob("ckpt-*")]
    assert max(accuracy) in [accuracy[e] for e in kept]
    assert (out / "report.html").stat().st_size > 0
