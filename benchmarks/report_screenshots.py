"""Screenshots of the diagnostics HTML report at a desktop and a phone width.

Renders `diagnose()`'s report for corpus runs with several findings, then has a
headless Chromium take a picture at 1400 px and 420 px wide (issue #14: the report
must read at both). Writes `docs/images/report-<run>-<width>.png`.

    python benchmarks/report_screenshots.py [--chromium chromium] [--run NAME ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_bestpractice.diagnostics import diagnose  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "diagnostics_runs.json"
DEFAULT_RUNS = ("notlearn_rmsprop_lr_10", "nan_sgd_ramp_overflow")
WIDTHS = ((1400, 1500), (420, 2600))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=None,
                        help="the Chromium/Chrome executable (default: found on PATH)")
    parser.add_argument("--run", nargs="*", default=list(DEFAULT_RUNS),
                        help="corpus run names (tests/fixtures/diagnostics_runs.json)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args(argv)
    browser = args.chromium or next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        print("error: no Chromium found; install one (e.g. apt-get install chromium) or pass "
              "--chromium", file=sys.stderr)
        return 2
    runs = {r["name"]: r for r in json.loads(CORPUS.read_text())["runs"]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.run:
            if name not in runs:
                print(f"error: no run {name!r} in {CORPUS.name}", file=sys.stderr)
                return 2
            run = runs[name]
            page = Path(tmp) / f"{name}.html"
            diagnose(run["history"], num_classes=run["num_classes"]).to_html(page)
            for width, height in WIDTHS:
                target = out / f"report-{name}-{width}.png"
                subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                                "--hide-scrollbars", f"--window-size={width},{height}",
                                f"--screenshot={target}", page.as_uri()],
                               check=True, capture_output=True, timeout=120)
                print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
