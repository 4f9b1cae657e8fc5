"""Pictures for the README: the HParams dashboard and the diagnostics report.

Runs a small real search on scikit-learn's digits with `RandomSearchTuner` (its
handbook search space, pruning on) into a TensorBoard log directory, starts
TensorBoard on a loopback port, and has a headless Chromium take pictures of the
HParams dashboard's table view and its parallel-coordinates view (learning-rate
axis switched to the logarithmic scale, as the README tells users to); then
renders `diagnose()`'s HTML report for corpus runs at a desktop and a phone width.
Writes into `docs/images/`:

- `hparams-table.png`, `hparams-parallel.png`;
- `report-<run>-1400.png`, `report-<run>-420.png`.

    python docs/screenshots.py [--chromium PATH] [--out docs/images] [--logdir DIR]
        [--skip-dashboard] [--skip-reports]

Needs Chromium (`apt-get install chromium`) and Playwright's Python package
(`pip install playwright`; no browser download: the installed Chromium is used).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "tests" / "fixtures" / "diagnostics_runs.json"
REPORT_RUNS = ("notlearn_rmsprop_lr_10", "nan_sgd_ramp_overflow")
REPORT_SIZES = ((1400, 1500), (420, 2600))


def find_chromium(given: str | None) -> str | None:
    if given:
        return given
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(b)), None)


# ------------------------------------------------------------------ the search
def run_search(logdir: Path, workdir: Path) -> None:
    """A real search: digits, a small MLP, the handbook's space, pruning on."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from sklearn.datasets import load_digits

    from keras_bestpractice.data import stratified_split
    from keras_bestpractice.tuning import RandomSearchTuner, dropout_layer

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    (xt, yt), (xv, yv), _ = stratified_split(x, y, val_size=0.25, test_size=0, seed=0)

    def build(hp):
        return keras.Sequential([keras.Input((64,)),
                                 keras.layers.Dense(32, activation="relu"),
                                 dropout_layer(hp),
                                 keras.layers.Dense(10, activation="softmax")])

    tuner = RandomSearchTuner(build, max_trials=14, epochs_per_trial=8, seed=3,
                              directory=workdir, project_name="digits", logdir=logdir)
    tuner.search(xt, yt, validation_data=(xv, yv), verbose=0)
    frame = tuner.results_frame()
    print(frame[["trial_id", "status", "prune_reason", "best_val_accuracy"]].to_string())


# ----------------------------------------------------------------- tensorboard
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def tensorboard(logdir: Path):
    """A TensorBoard on `logdir` at a free loopback port, up once its HParams plugin
    lists the sessions; stopped at the end. Yields the port."""
    port = _free_port()
    board = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir",
                              str(logdir), "--host", "127.0.0.1", "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/data/plugin/hparams/experiment",
                    data=json.dumps({"experimentName": ""}).encode(),
                    headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if json.loads(response.read()).get("hparamInfos"):
                        break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("TensorBoard did not come up within 120 s")
        yield port
    finally:
        board.terminate()
        board.wait(timeout=30)


def shoot_dashboard(port: int, chromium: str, out: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise SystemExit("error: the dashboard pictures need Playwright: "
                         "pip install playwright") from err
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1920, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/#hparams")
        page.get_by_text("Table View", exact=False).first.wait_for(timeout=60_000)
        page.wait_for_timeout(3000)  # the session table fills in after the schema
        page.screenshot(path=str(out / "hparams-table.png"))

        page.get_by_text("Parallel Coordinates View", exact=False).first.click()
        page.wait_for_timeout(2000)
        # The scale controls list one block per column; pick "Logarithmic" for the rate.
        title = page.locator(".column-title", has_text=re.compile(r"^\s*learning_rate\s*$"))
        block = page.locator("tf-hparams-scale-and-color-controls .column").filter(has=title)
        if block.count():
            block.first.get_by_text("Logarithmic").first.click()
        else:
            print("warning: no scale control for learning_rate found", file=sys.stderr)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(out / "hparams-parallel.png"))
        browser.close()


# ----------------------------------------------------------------- the report
def shoot_reports(chromium: str, out: Path, runs=REPORT_RUNS) -> None:
    from keras_bestpractice.diagnostics import diagnose

    corpus = {r["name"]: r for r in json.loads(CORPUS.read_text())["runs"]}
    with tempfile.TemporaryDirectory() as tmp:
        for name in runs:
            run = corpus[name]
            page = Path(tmp) / f"{name}.html"
            diagnose(run["history"], num_classes=run["num_classes"]).to_html(page)
            for width, height in REPORT_SIZES:
                target = out / f"report-{name}-{width}.png"
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                "--hide-scrollbars", f"--window-size={width},{height}",
                                f"--screenshot={target}", page.as_uri()],
                               check=True, capture_output=True, timeout=120)
                print(f"wrote {target}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=None,
                        help="the Chromium/Chrome executable (default: found on PATH)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--logdir", default=None,
                        help="use this existing HParams log directory instead of searching")
    parser.add_argument("--skip-dashboard", action="store_true",
                        help="no dashboard pictures")
    parser.add_argument("--skip-reports", action="store_true",
                        help="no diagnostics report pictures")
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("error: no Chromium found; install one (e.g. apt-get install chromium) or pass "
              "--chromium", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.skip_dashboard:
        with tempfile.TemporaryDirectory() as tmp:
            logdir = Path(args.logdir) if args.logdir else Path(tmp) / "logs"
            if not args.logdir:
                run_search(logdir, Path(tmp) / "tuner")
            with tensorboard(logdir) as port:
                shoot_dashboard(port, chromium, out)
            print(f"wrote {out / 'hparams-table.png'} and {out / 'hparams-parallel.png'}")
    if not args.skip_reports:
        shoot_reports(chromium, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
