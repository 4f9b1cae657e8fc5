"""The `keras-bestpractice` command.

    keras-bestpractice diagnose training_log.csv [--html report.html] [--png curves.png]
                        [--class-prior N,N,...] [--targets labels.npy] [--loss NAME]
                                                 [--num-classes C] [--json]
    keras-bestpractice trials <tuner directory> [--csv out.csv] [--sort COLUMN]
    keras-bestpractice predict <export directory> <images or folders> [--top K] [--csv out]

`diagnose` reads a `CSVLogger` file (or a JSON dict of lists) and prints the
findings. `trials` prints one row per trial, best first by the objective (or by
`--sort COLUMN`, in that metric's own direction: lowest loss first, highest
accuracy first). `predict` serves image files with a directory written by
`keras_bestpractice.deploy.export_for_serving` (one row per image: top classes and
probabilities).

Exit status, so a script can gate on it:

- 0: done; for `diagnose`, the run is healthy (notes only);
- 1: `diagnose` found warnings and no errors;
- 2: `diagnose` found errors (NaN, divergence, not learning, ...); `predict`: the
  export failed its self-test on load (it must not serve);
- 64 (`EX_USAGE`): bad usage or input: an unknown option, a column that does not
  exist, a file that is not a training log, an output folder that does not exist;
- 66 (`EX_NOINPUT`): the input cannot be read (a missing file or project);
- 141: the reader of the output went away (`... | head`), as for SIGPIPE.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_WARNINGS = 1
EXIT_ERRORS = 2
EXIT_USAGE = 64    # sysexits.h EX_USAGE
EXIT_NOINPUT = 66  # sysexits.h EX_NOINPUT
# Exit status after the reader of our output went away (`... --json | head`), as
# shells report a process ended by SIGPIPE (128 + 13).
BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """argparse with the usage-error status of this command (argparse's own is 2, which
    `diagnose` uses for "errors found")."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="keras-bestpractice",
        description="Keras training best practices: diagnose runs, inspect tuning trials, "
                    "predict with an exported model.",
    )
    from keras_bestpractice import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("diagnose", help="diagnose a run from its CSVLogger file",
                       description="Diagnose a training run from a CSVLogger CSV file or a JSON "
                                   "file holding History.history.")
    d.add_argument("history", help="CSVLogger .csv file, or .json with a dict of lists")
    d.add_argument("--num-classes", type=int, default=None,
                   help="number of classes (enables the chance-level rules)")
    d.add_argument("--class-prior", default=None, metavar="N,N,...",
                   help="class counts or shares of the training data, comma-separated "
                        "(imbalanced data: the chance level is the prior's, not 1/C)")
    d.add_argument("--targets", default=None, metavar="FILE",
                   help="the training labels or targets (.npy, or text with one per line): "
                        "the class prior of labels, the spread of regression targets")
    d.add_argument("--loss", default=None,
                   help="the loss the model was trained with (e.g. mse, "
                        "binary_crossentropy; default: a softmax classifier's)")
    d.add_argument("--html", default=None, help="write a self-contained HTML report here")
    d.add_argument("--png", default=None, help="write the learning-curve plot here")
    d.add_argument("--markdown", default=None, help="write a Markdown report here")
    d.add_argument("--json", action="store_true", help="print the report as JSON")

    t = sub.add_parser("trials", help="table of a RandomSearchTuner's trials",
                       description="Print (and optionally save) the per-trial results table of "
                                   "a RandomSearchTuner project directory.")
    t.add_argument("project", help="the tuner's directory/project_name folder")
    t.add_argument("--csv", default=None, help="also write the table as CSV here")
    t.add_argument("--sort", default=None,
                   help="column to sort by, best first in the metric's own direction (lowest "
                        "loss, highest accuracy); other columns ascending (default: the "
                        "objective's best value)")

    p = sub.add_parser("predict", help="predict on a folder of images with an exported model",
                       description="Predict on image files (a folder, or files) with a "
                                   "directory written by deploy.export_for_serving; prints "
                                   "one row per image: file, top class, its probability.")
    p.add_argument("export", help="the export directory (export_for_serving's path)")
    p.add_argument("images", nargs="+", help="image files, or folders of them")
    p.add_argument("--top", type=int, default=1, help="classes to show per image (default 1)")
    p.add_argument("--csv", default=None, help="also write the table as CSV here")
    return parser


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _predict(args: argparse.Namespace) -> int:
    _check_outputs(args, ("csv",))
    if args.top < 1:
        raise _UsageError(f"--top {args.top}: must be at least 1.")
    files: list[Path] = []
    for name in args.images:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(f for f in path.iterdir()
                                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{name!r}: no such file or folder")
    if not files:
        raise _UsageError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in "
                          f"{', '.join(args.images)}")
    import numpy as np
    import pandas as pd

    from keras_bestpractice.deploy import Predictor

    predictions = np.asarray(Predictor(args.export).predict(files))
    rows = []
    for path, scores in zip(files, predictions.reshape(len(files), -1), strict=True):
        row = {"file": str(path)}
        if scores.size == 1:  # one sigmoid output: the probability of class 1
            row.update({"class": int(scores[0] >= 0.5), "probability": float(scores[0])})
        else:
            order = np.argsort(-scores, kind="stable")[:args.top]
            for rank, c in enumerate(order, start=1):
                suffix = "" if args.top == 1 else f"_{rank}"
                row.update({f"class{suffix}": int(c), f"probability{suffix}": float(scores[c])})
        rows.append(row)
    frame = pd.DataFrame(rows)
    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(frame.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if args.csv:
        from keras_bestpractice._atomic import atomic_write_text

        atomic_write_text(args.csv, frame.to_csv(index=False))
    return 0


def _check_outputs(args: argparse.Namespace, options: Sequence[str]) -> None:
    """Refuse, before any work, an output whose folder does not exist (nothing is
    created or written half)."""
    for option in options:
        value = getattr(args, option, None)
        if value is not None and not Path(value).resolve().parent.is_dir():
            raise _UsageError(f"--{option} {value!r}: the folder "
                              f"{str(Path(value).resolve().parent)!r} does not exist.")


class _UsageError(ValueError):
    pass


def _class_prior(text: str | None) -> list[float] | None:
    """`--class-prior 500,150,100,100` -> the numbers (counts or shares)."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise _UsageError(f"--class-prior {text!r}: give comma-separated counts or shares, "
                          "e.g. 500,150,100,100.") from None


def _targets(path: str | None):
    """`--targets FILE`: labels or targets from a .npy file or a text file, one per line."""
    if path is None:
        return None
    import numpy as np

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--targets {path!r} does not exist.")
    try:
        values = np.load(file, allow_pickle=False) if file.suffix.lower() == ".npy" else \
            np.loadtxt(file, ndmin=1)
        if values.dtype.kind == "f" and values.size and np.all(values == np.round(values)):
            values = values.astype(np.int64)  # class ids written as text
        return values
    except ValueError as exc:
        raise _UsageError(f"--targets {path!r} is not a .npy file or numbers one per line "
                          f"({exc}).") from None


def _diagnose(args: argparse.Namespace) -> int:
    from keras_bestpractice.diagnostics.diagnosis import diagnose

    _check_outputs(args, ("html", "png", "markdown"))
    report = diagnose(Path(args.history), num_classes=args.num_classes,
                      class_prior=_class_prior(args.class_prior),
                      targets=_targets(args.targets), loss=args.loss)
    if args.json:
        print(report.to_json())
    else:
        print(report)
    if args.html:
        report.to_html(args.html)
        print(f"HTML report: {args.html}", file=sys.stderr)
    if args.png:
        report.plot(args.png)
        print(f"plot: {args.png}", file=sys.stderr)
    if args.markdown:
        from keras_bestpractice._atomic import atomic_write_text

        atomic_write_text(args.markdown, report.to_markdown())
        print(f"Markdown report: {args.markdown}", file=sys.stderr)
    severities = {f.severity for f in report.findings}
    return EXIT_ERRORS if "error" in severities else \
        EXIT_WARNINGS if "warning" in severities else 0


def _trials(args: argparse.Namespace) -> int:
    from keras_bestpractice.tuning.results import load_results_frame, sort_best_first

    _check_outputs(args, ("csv",))
    frame = load_results_frame(args.project)
    if args.sort is not None and args.sort not in frame.columns:
        raise _UsageError(f"--sort {args.sort!r} is not a column; columns: "
                          f"{', '.join(frame.columns)}")
    frame = sort_best_first(frame, args.sort)
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(frame.to_string(index=False))
    if args.csv:
        from keras_bestpractice._atomic import atomic_write_text

        atomic_write_text(args.csv, frame.to_csv(index=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status.

    Bad input prints one `error: ...` line to stderr, without a traceback, and
    returns 64 (a directory, a history without `loss`, a bad option value) or 66
    (a missing or unreadable file); see the module docstring.
    """
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exc:  # --help and --version exit 0; usage errors EXIT_USAGE
        return int(exc.code or 0)
    try:
        if args.command == "diagnose":
            return _diagnose(args)
        if args.command == "predict":
            return _predict(args)
        return _trials(args)
    except RuntimeError as exc:
        from keras_bestpractice.deploy import DeploymentCheckError

        if not isinstance(exc, DeploymentCheckError):
            raise
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERRORS
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    except (ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        missing = isinstance(exc, (FileNotFoundError, PermissionError)) or \
            isinstance(exc, OSError) and not isinstance(exc, IsADirectoryError)
        return EXIT_NOINPUT if missing else EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
