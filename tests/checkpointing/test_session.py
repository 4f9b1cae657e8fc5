"""The background checkpoint writer yields the cores to training (issue #24)."""

from __future__ import annotations

import os
import sys
import threading

import keras
import numpy as np
import pytest

from keras_bestpractice.callbacks import PeriodicCheckpoint
from keras_bestpractice.checkpointing import session as session_mod
from keras_bestpractice.checkpointing import store as store_mod


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice: Linux")
def test_the_async_writer_runs_at_a_lower_priority_than_training(tmp_path, monkeypatch):
    seen = []
    real_write = store_mod.CheckpointStore.write

    def write(self, *args, **kwargs):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(store_mod.CheckpointStore, "write", write)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).random((16, 3)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, verbose=0, callbacks=[PeriodicCheckpoint(
        tmp_path, every_n_epochs=1, monitor="loss", async_write=True)])
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert len(seen) == 2
    assert seen == [min(mine + session_mod.WRITER_NICENESS, 19)] * 2, (seen, mine)
    assert len(list(tmp_path.glob("ckpt-*"))) >= 1  # and the checkpoints were written
