"""One process of a distributed search (chief or worker), for the distributed test.

    KERASTUNER_TUNER_ID=chief|tuner0|... KERASTUNER_ORACLE_IP=127.0.0.1 \
    KERASTUNER_ORACLE_PORT=PORT python distributed_worker.py DIRECTORY
"""

import json
import os
import sys
from pathlib import Path

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from keras_bestpractice.tuning import RandomSearchTuner  # noqa: E402
from tests.tuning.helpers import build_mlp, digits_splits  # noqa: E402

# KerasTuner's chief re-checks that every worker has left every 20 s once the search is
# over (`oracle_chief.start_server`): when a worker finishes a moment after the chief,
# that wait was 20 s of the test (14.6 s one run, 32.7 s the next). The harness polls
# every 0.2 s instead; nothing else of KerasTuner changes.
if os.environ.get("KERASTUNER_TUNER_ID") == "chief":
    import importlib
    import time
    import types

    chief_module = importlib.import_module("keras_tuner.src.distribute.oracle_chief")
    chief_module.time = types.SimpleNamespace(sleep=lambda s: time.sleep(min(s, 0.2)))

directory = sys.argv[1]
(xt, yt), (xv, yv) = digits_splits(n=400)
tuner = RandomSearchTuner(build_mlp, max_trials=6, epochs_per_trial=3, seed=3,
                          directory=directory, project_name="dist",
                          min_trials_for_median=1,
                          # 3 epochs of a few steps: the guard judges by epochs here, as
                          # before grace_steps, so hopeless trials are pruned in every run.
                          grace_steps=0)
tuner.search(xt, yt, validation_data=(xv, yv), verbose=0)
who = os.environ.get("KERASTUNER_TUNER_ID")
if who == "chief":
    frame = tuner.results_frame()
    print("CHIEF-DONE", json.dumps(frame[["trial_id", "status", "prune_reason"]]
                                   .to_dict(orient="records")))
else:
    print("WORKER-DONE", who)
