"""Wall time of the two commands, each a fresh process, against a bare Python start-up.

Issue #11: `keras-bestpractice trials DIR` must not import TensorFlow (it took ~13 s
when the tuning package pulled in the learning-rate finder); target under 2 s on
the 2-core development machine. `diagnose` is measured the same way. The baseline
is `python -c "import pandas"` (both commands print a pandas table or read a CSV
with pandas, so that is the floor of any implementation in Python).

    python benchmarks/bench_cli.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _harness import compare, print_header  # noqa: I001


def make_project(root: Path) -> Path:
    """A real saved search to read: 3 trials of a tiny MLP, 2 epochs each."""
    import keras

    from keras_bestpractice.tuning import RandomSearchTuner

    rng = np.random.default_rng(0)
    x, y = rng.random((90, 4)).astype("float32"), rng.integers(0, 3, 90)

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    tuner = RandomSearchTuner(build, max_trials=3, epochs_per_trial=2, seed=0, directory=root,
                              project_name="p")
    tuner.search(x, y, validation_data=(x[:30], y[:30]), verbose=0)
    return root / "p"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print_header("keras-bestpractice commands: wall time of a fresh process")
    cli = [sys.executable, "-m", "keras_bestpractice.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = make_project(root)
        log = root / "log.csv"
        log.write_text("epoch,loss,val_loss\n" + "".join(
            f"{i},{2.0 * 0.7 ** i},{2.2 * 0.7 ** i}\n" for i in range(20)))

        def run(command):
            return lambda: subprocess.run(command, check=True, capture_output=True)

        floor = run([sys.executable, "-c", "import pandas"])
        for name, command in (("trials", [*cli, "trials", str(project)]),
                              ("diagnose", [*cli, "diagnose", str(log)])):
            result = compare(f"keras-bestpractice {name}", run(command), floor,
                             repeats=args.repeats, names=(name, "python -c 'import pandas'"))
            print(f"  {name}: median {result.candidate.median:.2f} s "
                  f"(target < 2 s: {'met' if result.candidate.median < 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
