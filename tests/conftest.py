"""Shared test setup: quiet TensorFlow, fixed seeds, small helpers."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

DATA = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def corpus() -> dict:
    """The labelled corpus of real training runs (benchmarks/make_diagnostics_corpus.py)."""
    return json.loads((DATA / "diagnostics_runs.json").read_text())
