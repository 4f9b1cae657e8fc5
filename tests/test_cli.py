import json
import subprocess
import sys

import pytest

from keras_bestpractice.cli import main

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


def write_log(path, loss, val):
    rows = ["epoch,loss,val_loss"] + [f"{i},{a},{b}" for i, (a, b) in enumerate(zip(loss, val,
                                                                                   strict=True))]
    path.write_text("\n".join(rows) + "\n")


def test_diagnose_healthy_log_exits_zero_and_writes_html(tmp_path, capsys):
    log = tmp_path / "training_log.csv"
    loss = [2.0 * 0.7**i for i in range(10)]
    write_log(log, loss, [v * 1.1 for v in loss])
    html = tmp_path / "report.html"
    code = main(["diagnose", str(log), "--num-classes", "10", "--html", str(html)])
    assert code == 0
    assert "healthy" in capsys.readouterr().out
    assert html.exists() and "data:image/png;base64" in html.read_text()


def test_diagnose_exit_code_and_json_for_an_error(tmp_path, capsys):
    log = tmp_path / "log.csv"
    write_log(log, [2.0, 1.0, float("nan")], [2.0, 1.0, float("nan")])
    assert main(["diagnose", str(log), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["primary"] == "nan_loss"


def test_diagnose_json_history_file_and_missing_file(tmp_path, capsys):
    hist = tmp_path / "history.json"
    hist.write_text(json.dumps({"loss": [2.45, 2.43, 2.41, 2.39, 2.37, 2.35],
                                "val_loss": [2.44, 2.42, 2.40, 2.38, 2.36, 2.34]}))
    assert main(["diagnose", str(hist), "--num-classes", "10"]) == 1
    assert "slow_convergence" in capsys.readouterr().out
    assert main(["diagnose", str(tmp_path / "nope.csv")]) == 66  # EX_NOINPUT


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "keras_bestpractice.cli", "--version"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "keras-bestpractice" in result.stdout


def test_python_dash_m_runs_the_command_line(tmp_path):
    # A user who types `python -m keras_bestpractice diagnose log.csv` (as for pip or
    # pytest) got "is a package and cannot be directly executed".
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,accuracy\n0,2.30,0.10\n1,2.30,0.10\n2,2.30,0.10\n"
                   "3,2.30,0.10\n4,2.30,0.10\n5,2.30,0.10\n")
    done = subprocess.run([sys.executable, "-m", "keras_bestpractice", "diagnose", str(log),
                           "--num-classes", "10"], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr   # errors found: not learning
    assert "not_learning" in done.stdout
    version = subprocess.run([sys.executable, "-m", "keras_bestpractice", "--version"],
                             capture_output=True, text=True)
    assert version.returncode == 0 and "keras-bestpractice" in version.stdout


def test_unknown_command_is_a_usage_error():
    assert main(["frobnicate"]) == 64  # EX_USAGE, not 2 ("errors found")
    assert main(["diagnose", "log.csv", "--num-classes", "three"]) == 64
    assert main(["--version"]) == 0


def test_exit_codes_tell_errors_found_from_bad_input(tmp_path, capsys):
    """Issue #26: 2 meant both "errors found" and "bad input"."""
    log = tmp_path / "log.csv"
    write_log(log, [2.0, 5.0, 50.0, 5e3, 5e5], [2.0, 6.0, 60.0, 6e3, 6e5])
    assert main(["diagnose", str(log)]) == 2                        # errors found
    assert main(["diagnose", str(tmp_path)]) == 64                  # not a training log
    assert main(["diagnose", str(tmp_path / "missing.csv")]) == 66  # no input
    # An output folder that does not exist is refused before anything is written.
    missing = tmp_path / "no" / "such" / "report.html"
    assert main(["diagnose", str(log), "--html", str(missing)]) == 64
    assert not (tmp_path / "no").exists()
    assert "--html" in capsys.readouterr().err


def test_trials_table_from_a_project_directory(tmp_path, capsys):
    import json

    project = tmp_path / "proj"
    for i, (acc, reason) in enumerate([(0.9, ""), (0.3, "not_learning")]):
        trial = project / f"trial_{i}"
        trial.mkdir(parents=True)
        (trial / "trial.json").write_text(json.dumps({
            "trial_id": str(i), "status": "COMPLETED", "score": acc,
            "hyperparameters": {"values": {"learning_rate": 10.0 ** -(i + 2)}}}))
        (trial / "kbp_trial.json").write_text(json.dumps({
            "trial_id": str(i), "hyperparameters": {"learning_rate": 10.0 ** -(i + 2)},
            "history": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6],
                        "val_accuracy": [acc - 0.1, acc]},
            "epochs_run": 2, "prune_reason": reason, "seconds": 1.5,
            "objective": "val_accuracy", "direction": "max"}))
    out_csv = tmp_path / "table.csv"
    assert main(["trials", str(project), "--csv", str(out_csv), "--sort",
                 "best_val_accuracy"]) == 0
    printed = capsys.readouterr().out
    assert "not_learning" in printed and "pruned" in printed
    lines = out_csv.read_text().splitlines()
    assert len(lines) == 3 and "hp_learning_rate" in lines[0]
    assert main(["trials", str(project), "--sort", "nope"]) == 64
    assert main(["trials", str(tmp_path / "empty")]) == 66


@pytest.mark.parametrize("make", [
    lambda tmp: tmp,                                                    # a directory
    lambda tmp: (tmp / "bin.csv").write_bytes(bytes(range(256)) * 4) and tmp / "bin.csv",
    lambda tmp: (tmp / "acc.csv").write_text("epoch,accuracy\n0,0.5\n") and tmp / "acc.csv",
    lambda tmp: (tmp / "empty.json").write_text("{}") and tmp / "empty.json",
])
def test_bad_input_is_one_error_line_and_exit_code_64(tmp_path, make):
    path = make(tmp_path)
    done = subprocess.run([sys.executable, "-m", "keras_bestpractice.cli", "diagnose", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 64
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


def test_broken_pipe_is_not_a_traceback(tmp_path):
    log = tmp_path / "log.csv"
    loss = [2.0 * 0.9995**i for i in range(30_000)]  # JSON larger than a pipe's buffer
    write_log(log, loss, [v * 1.1 for v in loss])
    done = subprocess.run(f"{sys.executable} -m keras_bestpractice.cli diagnose {log} --json "
                          "| head -c 10", shell=True, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert len(done.stdout) == 10


def test_trials_sort_best_first_in_each_metrics_direction_and_by_default_the_objective(
        tmp_path, capsys):
    """Issue #26: `--sort best_val_loss` put the worst loss first, and without `--sort`
    the rows were in trial order although --help said "the objective"."""
    project = tmp_path / "proj"
    rows = {"0": (0.5, 0.9), "1": (0.9, 0.95), "2": (0.3, 0.7)}  # val_loss, val_accuracy
    for trial_id, (loss, acc) in rows.items():
        trial = project / f"trial_{trial_id}"
        trial.mkdir(parents=True)
        (trial / "kbp_trial.json").write_text(json.dumps({
            "trial_id": trial_id, "status": "completed", "hyperparameters": {"u": 1},
            "history": {"loss": [1.0], "val_loss": [loss], "val_accuracy": [acc]},
            "epochs_run": 1, "prune_reason": "", "objective": "val_accuracy",
            "direction": "max"}))

    def order(*options):
        out = tmp_path / "t.csv"
        assert main(["trials", str(project), "--csv", str(out), *options]) == 0
        capsys.readouterr()
        return [line.split(",")[0] for line in out.read_text().splitlines()[1:]]

    assert order() == ["1", "0", "2"]                                 # best val_accuracy first
    assert order("--sort", "best_val_loss") == ["2", "0", "1"]        # lowest loss first
    assert order("--sort", "best_val_accuracy") == ["1", "0", "2"]
    assert order("--sort", "trial_id") == ["0", "1", "2"]


COLLAPSED = {  # a real run (4 classes, 5:1.5:1:1, SGD(5)) that ends predicting the majority
    "loss": [1.8115, 1.2212, 1.1977, 1.1977, 1.1977, 1.1977, 1.1977, 1.1977],
    "accuracy": [0.5514, 0.58, 0.58, 0.58, 0.58, 0.58, 0.58, 0.58],
    "val_loss": [1.7451, 1.3777, 1.3778, 1.3778, 1.3778, 1.3778, 1.3778, 1.3778],
    "val_accuracy": [0.5667] * 8,
}


@pytest.mark.parametrize("given", [
    lambda tmp: ["--class-prior", "415,115,86,84"],
    lambda tmp: ["--class-prior", "0.593,0.164,0.123,0.12"],
    lambda tmp: ["--targets", str(_labels(tmp, ".txt"))],
    lambda tmp: ["--targets", str(_labels(tmp, ".npy"))],
])
def test_the_class_prior_from_the_command_line_judges_a_majority_collapse(tmp_path, given):
    """Issue #26: `diagnose log.csv --num-classes 4` had no way to pass the prior, and
    judged the collapsed run against a uniform 1/4."""
    hist = tmp_path / "history.json"
    hist.write_text(json.dumps(COLLAPSED))
    assert main(["diagnose", str(hist), "--num-classes", "4"]) != 2   # uniform: no error
    assert main(["diagnose", str(hist), *given(tmp_path)]) == 2       # the prior: not_learning


def _labels(tmp, suffix):
    import numpy as np

    labels = np.repeat([0, 1, 2, 3], [415, 115, 86, 84])
    path = tmp / f"labels{suffix}"
    if suffix == ".npy":
        np.save(path, labels)
    else:
        np.savetxt(path, labels, fmt="%d")
    return path


def test_bad_class_prior_and_targets_are_usage_errors(tmp_path, capsys):
    hist = tmp_path / "history.json"
    hist.write_text(json.dumps(COLLAPSED))
    assert main(["diagnose", str(hist), "--class-prior", "a,b"]) == 64
    assert main(["diagnose", str(hist), "--targets", str(tmp_path / "none.npy")]) == 66
    assert "--class-prior" in capsys.readouterr().err
