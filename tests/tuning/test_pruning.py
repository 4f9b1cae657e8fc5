"""The median pruner's view of finished peers (issue #24): read from the project directory
once per trial (and again only after `PEER_RESCAN_S`), never at every epoch end."""

from __future__ import annotations

from pathlib import Path

import pytest

from keras_bestpractice._core.pruners import PeerCurves
from keras_bestpractice.tuning import pruning
from keras_bestpractice.tuning import results as results_mod

# Path arithmetic on JSON records: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


class _Peers(pruning.PruningMixin):
    """Only what `peer_curves` reads: a project directory and the two caches."""

    def __init__(self, project_dir: Path):  # no KerasTuner set-up needed here
        self.project_dir = str(project_dir)
        self._peer_cache = {}
        self._peer_snapshot = None
        self._peer_pool = PeerCurves()


def finish(project: Path, trial_id: str, curve: list[float], status="completed") -> None:
    results_mod.write_summary(project / f"trial_{trial_id}", {
        "trial_id": trial_id, "status": status, "prune_reason": "",
        "objective_history": curve})


def test_a_trial_scans_its_peers_once_however_many_epochs_it_checks(tmp_path, monkeypatch):
    for i in range(20):
        finish(tmp_path, f"{i:02d}", [0.5 + i / 100, 0.6 + i / 100])
    scans = []
    real_glob = Path.glob
    monkeypatch.setattr(Path, "glob", lambda self, pattern: scans.append(pattern)
                        or real_glob(self, pattern))
    tuner = _Peers(tmp_path)
    for _ in range(10):  # ten epoch ends of trial 20
        peers = tuner.peer_curves("20")
    assert len(scans) == 1 and len(peers) == 20
    finish(tmp_path, "20", [0.9, 0.95])
    peers = tuner.peer_curves("21")                   # the next trial rescans
    assert len(scans) == 2 and len(peers) == 21 and [0.9, 0.95] in peers


def test_a_long_trial_sees_peers_other_workers_finished_after_the_rescan_period(
        tmp_path, monkeypatch):
    finish(tmp_path, "00", [0.5])
    clock = [1000.0]
    monkeypatch.setattr(pruning.time, "monotonic", lambda: clock[0])
    tuner = _Peers(tmp_path)
    assert len(tuner.peer_curves("05")) == 1
    finish(tmp_path, "01", [0.6])            # another worker finishes a trial
    assert len(tuner.peer_curves("05")) == 1  # not yet looked at
    clock[0] += pruning.PEER_RESCAN_S
    assert sorted(c[0] for c in tuner.peer_curves("05")) == [0.5, 0.6]


def test_failed_peers_do_not_compete(tmp_path):
    finish(tmp_path, "00", [0.5])
    finish(tmp_path, "01", [0.1], status="failed")
    assert list(_Peers(tmp_path).peer_curves("02")) == [[0.5]]


def test_the_peer_pool_grows_in_place_and_is_rebuilt_when_a_record_changes(tmp_path):
    # Issue #24: the finished peers stay sorted per epoch across trials; a new peer is
    # inserted, a rewritten record rebuilds the pool.
    import os

    import numpy as np

    for i in range(5):
        finish(tmp_path, f"{i:02d}", [0.1 * i, 0.2])
    tuner = _Peers(tmp_path)
    assert np.allclose(tuner.peer_curves("10").sorted_at(0), [0.0, 0.1, 0.2, 0.3, 0.4])
    finish(tmp_path, "05", [0.25, 0.2])
    grown = tuner.peer_curves("11")
    assert np.allclose(grown.sorted_at(0), [0.0, 0.1, 0.2, 0.25, 0.3, 0.4])
    assert len(grown) == 6 and grown is tuner._peer_pool
    finish(tmp_path, "00", [0.9, 0.2])
    record = tmp_path / "trial_00" / results_mod.SUMMARY_FILE
    os.utime(record, ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 10**9))
    rebuilt = tuner.peer_curves("12")
    assert np.allclose(rebuilt.sorted_at(0), [0.1, 0.2, 0.25, 0.3, 0.4, 0.9])
    # A trial never competes with its own record.
    assert len(tuner.peer_curves("03")) == 5 and 0.3 not in tuner.peer_curves("03").sorted_at(0)
