"""The `keras-bestpractice` command.

    keras-bestpractice diagnose training_log.csv [--html report.html] [--png curves.png]
                                                 [--num-classes C] [--json]
    keras-bestpractice trials <tuner directory> [--csv out.csv] [--sort COLUMN]

`diagnose` reads a `CSVLogger` file (or a JSON dict of lists) and prints the
findings; the exit status is 0 when the run is healthy, 1 for warnings only and 2
for errors, so a script can gate on it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-bestpractice",
        description="Keras training best practices: diagnose runs, inspect tuning trials.",
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
    d.add_argument("--html", default=None, help="write a self-contained HTML report here")
    d.add_argument("--png", default=None, help="write the learning-curve plot here")
    d.add_argument("--markdown", default=None, help="write a Markdown report here")
    d.add_argument("--json", action="store_true", help="print the report as JSON")

    t = sub.add_parser("trials", help="table of a RandomSearchTuner's trials",
                       description="Print (and optionally save) the per-trial results table of "
                                   "a RandomSearchTuner project directory.")
    t.add_argument("project", help="the tuner's directory/project_name folder")
    t.add_argument("--csv", default=None, help="also write the table as CSV here")
    t.add_argument("--sort", default=None, help="column to sort by (default: the objective)")
    return parser


def _diagnose(args: argparse.Namespace) -> int:
    from keras_bestpractice.diagnostics.diagnosis import diagnose

    report = diagnose(Path(args.history), num_classes=args.num_classes)
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
    return 2 if "error" in severities else 1 if "warning" in severities else 0


def _trials(args: argparse.Namespace) -> int:
    from keras_bestpractice.tuning.results import load_results_frame

    frame = load_results_frame(args.project)
    if args.sort:
        if args.sort not in frame.columns:
            print(f"error: --sort {args.sort!r} is not a column; columns: "
                  f"{', '.join(frame.columns)}", file=sys.stderr)
            return 2
        frame = frame.sort_values(args.sort, ascending=False)
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(frame.to_string(index=False))
    if args.csv:
        from keras_bestpractice._atomic import atomic_write_text

        atomic_write_text(args.csv, frame.to_csv(index=False))
    return 0


# Exit status after the reader of our output went away (`... --json | head`), as
# shells report a process ended by SIGPIPE (128 + 13).
BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status.

    Bad input (a missing or unreadable file, a directory, a history without
    `loss`) prints one `error: ...` line to stderr and returns 2, without a
    traceback.
    """
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "diagnose":
            return _diagnose(args)
        return _trials(args)
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    except (ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
