"""The pure core works where Keras, TensorFlow, KerasTuner and TensorBoard cannot be imported.

Issue #11: `diagnostics`, `data/split.py`, `data/plan.py`, `checkpointing/retention.py`,
`_core/images.py` (issue #25),
`tuning/results.py`, `tuning/lr_analysis.py` and the `diagnose` and `trials` commands
run in a process whose import system refuses those four packages.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent

REFUSE = """
import sys

class _Refuse:
    BLOCKED = {"keras", "tensorflow", "keras_tuner", "tensorboard", "jax", "torch"}

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"refused by the test: {name}")
        return None

sys.meta_path.insert(0, _Refuse())
"""


@pytest.fixture(scope="module")
def tuner_project(tmp_path_factory):
    """A real saved search: two trials of a tiny MLP, one epoch each."""
    import keras

    from keras_bestpractice.tuning import RandomSearchTuner

    root = tmp_path_factory.mktemp("search")
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 4)).astype("float32"), rng.integers(0, 3, 60)

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    tuner = RandomSearchTuner(build, max_trials=2, epochs_per_trial=1, seed=0, directory=root,
                              project_name="p", prune=False)
    tuner.search(x, y, validation_data=(x[:20], y[:20]), verbose=0)
    return root / "p"


def run_refusing(code: str, tmp_path) -> str:
    script = tmp_path / "pure.py"
    script.write_text(REFUSE + textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_pure_core_runs_without_keras_tensorflow_keras_tuner_or_tensorboard(tmp_path,
                                                                            tuner_project):
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(
        f"{i},{2.0 * 0.7 ** i},{2.2 * 0.7 ** i}\n" for i in range(8)))
    out = run_refusing(f"""
        import numpy as np

        import keras_bestpractice
        from keras_bestpractice._core.images import check_image, interpolation_for
        from keras_bestpractice.checkpointing.retention import Entry, select_retained
        from keras_bestpractice.cli import main
        from keras_bestpractice.data import stratified_split
        from keras_bestpractice.data.plan import batch_plan
        from keras_bestpractice.diagnostics import diagnose
        from keras_bestpractice.tuning import load_results_frame
        from keras_bestpractice.tuning import plan_epochs
        from keras_bestpractice.tuning.lr_analysis import exponential_schedule, suggestions

        acc = [0.9 - 0.7 * 0.8 ** i for i in range(1, 9)]
        print("plan-epochs", int(plan_epochs({{"loss": acc, "val_accuracy": acc}},
                                             {{"val_accuracy": 0.8}}, 40).epochs_needed))
        print("history", diagnose({{"loss": [2.0, 1.0, 0.5, 0.3]}}, num_classes=3).primary.code)
        print("csv", diagnose({str(log)!r}).primary.code)
        (xt, yt), (xv, yv), (xe, ye) = stratified_split(np.zeros((100, 2)), [0] * 70 + [1] * 30,
                                                        val_size=0.2, test_size=0.1)
        print("split", np.bincount(yt).tolist(), np.bincount(yv).tolist(),
              np.bincount(ye).tolist())
        print("plan", batch_plan(np.array([25, 75]), 32).quotas[0].tolist())
        print("images", interpolation_for((90, 30), (24, 24)),
              check_image(np.zeros((4, 6, 4), np.uint16)).shape)
        keep = select_retained([Entry(f"c{{i}}", i, float(i), True) for i in range(5)], 2, 1,
                               "min")
        print("retained", sorted(keep))
        lrs = exponential_schedule(1e-5, 1.0, 30)
        print("lr", suggestions(lrs, np.linspace(2.0, 0.5, 30))["minimum/10"] > 0)
        frame = load_results_frame({str(tuner_project)!r})
        print("trials", len(frame), sorted(frame["status"].unique().tolist()))
        print("cli-diagnose", main(["diagnose", {str(log)!r}]))
        print("cli-trials", main(["trials", {str(tuner_project)!r}]))
        import sys
        print("heavy", sorted(m for m in ("keras", "tensorflow", "keras_tuner", "tensorboard")
                               if m in sys.modules))
    """, tmp_path)
    lines = dict(line.split(" ", 1) for line in out.splitlines()
                 if line.split(" ", 1)[0] in {"history", "csv", "split", "plan", "retained",
                                               "images", "plan-epochs",
                                               "lr", "trials", "cli-diagnose", "cli-trials",
                                               "heavy"})
    assert lines["history"] == "healthy"
    assert lines["csv"] == "healthy"
    assert lines["split"] == "[49, 21] [14, 6] [7, 3]"
    assert lines["plan"] == "[8, 24]"
    assert lines["images"] == "area (4, 6, 4)"
    assert lines["retained"] == "['c0', 'c3', 'c4']"
    assert lines["lr"] == "True"
    assert lines["trials"] == "2 ['completed']"
    assert lines["cli-diagnose"] == "0"
    assert lines["cli-trials"] == "0"
    assert lines["heavy"] == "[]"
    # 0.9 - 0.7 * 0.8**t >= 0.8 first at t = 10 (1-based epochs), within one.
    assert abs(int(lines["plan-epochs"]) - 10) <= 1


def test_public_names_come_from_the_right_module_whatever_was_imported_first():
    """Lazy exports stay right after their modules were imported directly (a module
    named like the function it holds would shadow it)."""
    import keras_bestpractice.diagnostics.diagnosis  # noqa: F401
    import keras_bestpractice.tuning.sweep  # noqa: F401
    from keras_bestpractice.diagnostics import diagnose
    from keras_bestpractice.tuning import lr_sweep

    assert callable(diagnose) and diagnose.__name__ == "diagnose"
    assert callable(lr_sweep) and lr_sweep.__name__ == "lr_sweep"


def test_no_import_cycle_between_subpackages():
    """Each subpackage imports (anywhere in its modules) only the layers below it."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "keras_bestpractice"
    order = ["_core", "diagnostics", "checkpointing", "data", "metrics", "callbacks", "hparams",
             "tuning", "transfer"]
    edges = set()
    for path in root.rglob("*.py"):
        package = path.relative_to(root).parts[0]
        if package not in order:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("keras_bestpractice."):
                target = node.module.split(".")[1]
                if target in order and target != package:
                    edges.add((package, target))
    for source, target in edges:
        assert order.index(target) < order.index(source), f"{source} imports {target}"
