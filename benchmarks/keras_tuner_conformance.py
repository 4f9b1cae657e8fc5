"""Run KerasTuner's own tuner tests against `RandomSearchTuner` (issue #12).

KerasTuner's `tuners/randomsearch_test.py`, `engine/base_tuner_test.py` and
`engine/tuner_test.py` are read from a keras-tuner git checkout, changed only in their
import paths (the released wheel keeps the repository's modules under
`keras_tuner.src`) and where they construct a tuner: `RandomSearch(...)`,
`Tuner(oracle=...)`, `BaseTuner` subclasses and the tuner classes they subclass become
`RandomSearchTuner` with
KerasTuner's defaults passed through its constructor (`hypermodel=None`,
`objective=None`, an empty space, `prune=False`, epochs left to `fit`, no batch-size
tuning). Nothing of KerasTuner's is copied into this project: the files are read at
run time into a temporary directory. Prints pytest's summary and the failures.

    python benchmarks/keras_tuner_conformance.py /path/to/keras-tuner [--ref HEAD]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("keras_tuner/tuners/randomsearch_test.py", "keras_tuner/engine/base_tuner_test.py",
         "keras_tuner/engine/tuner_test.py")
SHIM = '''
from keras_bestpractice.tuning import RandomSearchTuner


class KTDefaultsTuner(RandomSearchTuner):
    """RandomSearchTuner constructed with KerasTuner's defaults."""

    def __init__(self, hypermodel=None, objective=None, hyperparameters=None, prune=False,
                 epochs_per_trial=None, tune_batch_size=False, directory=None,
                 project_name=None, **kwargs):
        super().__init__(hypermodel=hypermodel, objective=objective,
                         hyperparameters=hyperparameters, prune=prune,
                         epochs_per_trial=epochs_per_trial, tune_batch_size=tune_batch_size,
                         directory=directory or ".",
                         project_name=project_name or "untitled_project", **kwargs)
'''
# The repository's tests import its source tree; the released wheel (1.4.8) keeps the same
# modules under `keras_tuner.src`: import paths only.
IMPORTS = (
    (r"from keras_tuner\.(backend|engine|tuners|distribute|protos)\b", r"from keras_tuner.src.\1"),
    (r"keras_tuner\.engine\.(tuner_utils|trial|hyperparameters)\b", r"keras_tuner.src.engine.\1"),
    (r"keras_tuner\.tuners\.randomsearch\b", "keras_tuner.src.tuners.randomsearch"),
    (r"keras_tuner\.backend\b", "keras_tuner.src.backend"),
    (r"from keras_tuner\.test_utils import mock_distribute",
     "import kt_mock_distribute as mock_distribute"),
)
HELPERS = {"keras_tuner/test_utils/mock_distribute.py": "kt_mock_distribute.py"}
# Where the tests construct (or subclass) a random-search tuner or a tuner with an oracle.
SUBSTITUTIONS = (
    (r"keras_tuner\.tuners\.RandomSearch\b", "KTDefaultsTuner"),
    (r"keras_tuner\.RandomSearch\b", "KTDefaultsTuner"),
    (r"randomsearch\.RandomSearch\b(?!Oracle)", "KTDefaultsTuner"),
    (r"tuner_module\.Tuner\(", "KTDefaultsTuner("),
    (r"keras_tuner\.Tuner\b", "KTDefaultsTuner"),
    (r"base_tuner\.BaseTuner\)", "KTDefaultsTuner)"),
)


def export(checkout: Path, ref: str, target: Path) -> list[Path]:
    out = []
    for name in FILES:
        text = subprocess.run(["git", "-C", str(checkout), "show", f"{ref}:{name}"],
                              check=True, capture_output=True, text=True).stdout
        for pattern, replacement in IMPORTS + SUBSTITUTIONS:
            text = re.sub(pattern, replacement, text)
        text = "from kt_shim import KTDefaultsTuner  # noqa\n" + text
        path = target / f"test_kt_{Path(name).stem}.py"
        path.write_text(text)
        out.append(path)
    for name, module in HELPERS.items():
        text = subprocess.run(["git", "-C", str(checkout), "show", f"{ref}:{name}"],
                              check=True, capture_output=True, text=True).stdout
        for pattern, replacement in IMPORTS:
            text = re.sub(pattern, replacement, text)
        (target / module).write_text(text)
    (target / "kt_shim.py").write_text(SHIM)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkout", type=Path, help="a keras-tuner git checkout (or bare repo)")
    parser.add_argument("--ref", default="HEAD")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp)
        export(args.checkout, args.ref, target)
        env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{ROOT}",
               "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow"),
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "-o", "addopts=", "-o", "filterwarnings=", "--rootdir", tmp,
                               "-rf", str(target)], env=env, cwd=tmp, capture_output=True,
                              text=True)
        lines = done.stdout.splitlines()
        print("\n".join(line for line in lines if line.startswith(("FAILED", "ERROR"))
                        or " passed" in line or " failed" in line))
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
