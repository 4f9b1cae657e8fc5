"""A real TensorBoard server on a loopback port for the dashboard tests, and its
HParams plugin's HTTP API (the calls the dashboard's own pages make)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request

ALL_STATUSES = ["STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING", "STATUS_UNKNOWN"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, endpoint: str, payload: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/data/plugin/hparams/{endpoint}",
        data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def tensorboard(logdir, wait_for=1):
    """Start TensorBoard on `logdir`; yields `(port, experiment)` once the experiment
    lists hyperparameters and at least `wait_for` session groups. Stopped at the end."""
    port = free_port()
    board = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
                              "--host", "127.0.0.1", "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        experiment = None
        for _ in range(180):
            try:
                experiment = post(port, "experiment", {"experimentName": ""})
                if experiment.get("hparamInfos") and \
                        len(session_groups(port)) >= wait_for:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert experiment and experiment.get("hparamInfos"), "TensorBoard did not answer"
        yield port, experiment
    finally:
        board.terminate()
        board.wait(timeout=30)


def session_groups(port: int, col_params=(), statuses=ALL_STATUSES) -> list[dict]:
    return post(port, "session_groups", {
        "experimentName": "", "startIndex": 0, "sliceSize": 1000,
        "colParams": list(col_params), "allowedStatuses": list(statuses)})["sessionGroups"]


def metric_values(group: dict) -> dict:
    return {(m["name"]["group"], m["name"]["tag"]): m["value"] for m in group["metricValues"]}

