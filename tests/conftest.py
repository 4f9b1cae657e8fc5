"""Shared test setup: quiet TensorFlow, the Keras backend, small helpers.

The suite runs once per Keras backend: `KERAS_BACKEND` picks it (TensorFlow when
unset). Modules marked `backend_independent` (the pure core: diagnosis rules,
split arithmetic, checkpoint store, pruning rules, the CLI) read no backend and
run on the TensorFlow pass only; the JAX pass is
`KERAS_BACKEND=jax pytest -m "not backend_independent"` (the README's test command).
Tests marked `tensorflow_only` (`tf.distribute` strategies, which Keras runs on
the TensorFlow backend only) are skipped on the other backends, with that reason.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import gc  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

DATA = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def corpus() -> dict:
    """The labelled corpus of real training runs (benchmarks/make_diagnostics_corpus.py)."""
    return json.loads((DATA / "diagnostics_runs.json").read_text())


def pytest_report_header(config):
    return f"keras backend: {os.environ['KERAS_BACKEND']}"


def backend() -> str:
    return os.environ["KERAS_BACKEND"]


def pytest_collection_modifyitems(config, items):
    if os.environ["KERAS_BACKEND"] == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"tf.distribute strategies run on the TensorFlow backend only "
                                   f"(this pass: {os.environ['KERAS_BACKEND']})")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _young_heap():
    """Collect, then freeze what is alive, before every test.

    KerasTuner runs `gc.collect()` before every trial and Keras's `clear_session()`
    does too; a full collection walks every live object of the process, and a test
    session holds many (TensorFlow, Keras, earlier tests' fixtures): it cost more than
    the trials' training (21 s for a 6-trial search in the suite, 4 s alone). Frozen
    objects are left out of those walks, so they see only the running test's objects.
    Garbage among them is collected here first.
    """
    gc.collect()
    gc.freeze()
    yield


def pytest_sessionfinish(session, exitstatus):
    gc.unfreeze()


@pytest.fixture(autouse=True, scope="session")
def _consistent_reports():
    """Every DiagnosticsReport built in the suite is checked against its curves
    (tests/diagnostics/consistency.py, issue #14)."""
    from keras_bestpractice.diagnostics.diagnostics_report import DiagnosticsReport
    from tests.diagnostics.consistency import install

    install(DiagnosticsReport)
    yield
