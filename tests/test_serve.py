"""REST serving on loopback: the champion answers one row per quote; bad requests get a clear 4xx."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from test_register import LABELS, fake_training_run

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.mark.slow
def test_serve_champion_on_loopback(tmp_path, mlflow_uri):
    from quotestance.config import MlflowConfig, RegisterConfig
    from quotestance.register import register_run
    from quotestance.tracking import setup

    mcfg = MlflowConfig(tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance")
    setup(mcfg)
    run_id = fake_training_run(tmp_path, 0.6, 0.6, "d1")
    assert register_run(RegisterConfig(run_id=run_id), mcfg, LABELS).promoted
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from quotestance.cli import serve_main; serve_main()",
                             f"serve.port={port}", f"mlflow.artifact_location={tmp_path / 'art'}"],
                            cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(1)
        else:
            pytest.fail("server did not start: " + proc.stdout.read1(20000).decode(errors="replace"))
        status, body = post(port, {"dataframe_split": {"columns": ["quote", "speaker"],
                                                       "data": [["We act on court orders.", "Dana Whitfield"],
                                                                ["Drop them now.", None]]}})
        assert status == 200, body
        rows = body["predictions"]
        assert len(rows) == 2 and set(rows[0]) == {"label", "confidence", *(f"prob_{k}" for k in LABELS)}
        assert rows[0]["label"] in LABELS
        status, body = post(port, {"dataframe_split": {"columns": ["speaker"], "data": [["x"]]}})
        assert 400 <= status < 500 and "quote" in json.dumps(body)
        status, body = post(port, {"dataframe_split": {"columns": ["quote"], "data": [["q"]] * 1001}})
        assert 400 <= status < 500 and "too many rows" in json.dumps(body)
        status, body = post(port, {"dataframe_split": {"columns": ["quote"], "data": [["x" * 6000]]}})
        assert 400 <= status < 500 and "too long" in json.dumps(body)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
