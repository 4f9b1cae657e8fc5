"""The callbacks, the learning-rate finder and the feeders on Keras's PyTorch backend.

Keras fixes its backend at import, and this suite's process runs TensorFlow or JAX,
so the PyTorch checks run in one child process with `KERAS_BACKEND=torch` and
report back as JSON; each test asserts one part. Skipped, with the reason, where
torch cannot be imported (the README's test command does not install it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                       reason="torch is not installed (pip install torch to run the PyTorch "
                              "backend checks)"),
    # One child process per run of the suite, whatever the parent's backend.
    pytest.mark.backend_independent,
    pytest.mark.slow,
]

SCRIPT = textwrap.dedent('''
    import json, math, os, sys, warnings
    import numpy as np
    import keras
    assert keras.backend.backend() == "torch", keras.backend.backend()
    from keras_bestpractice.callbacks import (DivergenceGuard, PeriodicCheckpoint,
                                             TrainingDiagnostics)
    from keras_bestpractice.tuning import lr_range_test
    from keras_bestpractice.data import stratified_dataset

    out = {}
    tmp = sys.argv[1]
    rng = np.random.default_rng(0)
    x = rng.random((128, 6)).astype("float32")
    y = (x[:, 0] * 3).astype("int64")

    def model(lr=0.05):
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
        m.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        return m

    # DivergenceGuard: a NaN batch is caught and the weights go back.
    bad = x.copy(); bad[40:48] = np.nan
    guard = DivergenceGuard()
    m = model()
    m.fit(bad, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[guard])
    out["guard_events"] = [str(e["reason"]) for e in guard.events]
    out["guard_finite"] = bool(all(np.isfinite(w).all() for w in m.get_weights()))

    # PeriodicCheckpoint: stop after epoch 2, resume, and end where an uninterrupted run ends.
    full = model()
    full.fit(x, y, batch_size=16, epochs=4, verbose=0, shuffle=False)
    part = model()
    ckpt = PeriodicCheckpoint(os.path.join(tmp, "ckpt"), every_n_epochs=1)
    part.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[ckpt])
    resumed = model()
    ckpt2 = PeriodicCheckpoint(os.path.join(tmp, "ckpt"), every_n_epochs=1)
    resumed.fit(x, y, batch_size=16, epochs=4, verbose=0, shuffle=False, callbacks=[ckpt2])
    out["resume_exact"] = bool(all(np.allclose(a, b, atol=1e-6) for a, b in
                                  zip(full.get_weights(), resumed.get_weights())))
    out["resume_from"] = str(ckpt2.resumed_from)

    # TrainingDiagnostics: the gradient probe runs through torch autograd.
    diag = TrainingDiagnostics(probe_data=(x[:32], y[:32]), verbose=0)
    model().fit(x, y, validation_split=0.25, epochs=3, verbose=0, callbacks=[diag])
    out["diag_primary"] = diag.report.primary.code
    out["diag_probe_skips"] = list(diag.report.skipped_checks)  # gradient and activation
    out["diag_grad_norms"] = [p.get("grad_norm") for p in diag.report.probes]

    # lr_range_test: rates applied, everything put back.
    m = model(lr=1e-3)
    before = [w.copy() for w in m.get_weights()]
    result = lr_range_test(m, x, y, num_steps=20, batch_size=16)
    out["lr_rows"] = len(result.lrs)
    out["lr_suggestion"] = float(result.suggestion)
    out["lr_restored"] = bool(all(np.array_equal(a, b) for a, b in zip(before, m.get_weights())))
    out["lr_rate_back"] = float(keras.ops.convert_to_numpy(m.optimizer.learning_rate))

    # The tf.data feeders feed a torch-backend fit.
    ds = stratified_dataset(x, y, batch_size=12, seed=0)
    h = model().fit(ds, epochs=1, verbose=0)
    out["feeder_loss"] = float(h.history["loss"][-1])
    print("RESULT " + json.dumps(out))
''')


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("torch")
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp)], capture_output=True,
                          text=True, env=env, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_guard_rolls_back_a_nan_batch_on_torch(torch_run):
    assert torch_run["guard_events"][:1] == ["nan"]
    assert torch_run["guard_finite"]


def test_periodic_checkpoint_resumes_exactly_on_torch(torch_run):
    assert "epoch0002" in torch_run["resume_from"]
    assert torch_run["resume_exact"]


def test_diagnostics_gradient_probe_runs_on_torch(torch_run):
    assert torch_run["diag_probe_skips"] == []
    norms = [n for n in torch_run["diag_grad_norms"] if n is not None]
    assert norms and all(n > 0 for n in norms)
    assert torch_run["diag_primary"] != "probe_failed"


def test_lr_range_test_on_torch(torch_run):
    assert torch_run["lr_rows"] == 20
    assert torch_run["lr_restored"]
    assert torch_run["lr_rate_back"] == pytest.approx(1e-3)


def test_feeders_feed_a_torch_fit(torch_run):
    assert torch_run["feeder_loss"] > 0
