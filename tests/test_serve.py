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

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.mark.slow
def test_serve_champion_on_loopback(tmp_path, mlflow_uri, fake_run, labels):
    from quotestance.config import MlflowConfig, RegisterConfig
    from quotestance.register import register_run
    from quotestance.tracking import setup

    mcfg = MlflowConfig(
        tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
    )
    setup(mcfg)
    run_id = fake_run(tmp_path, 0.6, 0.6, "d1")
    assert register_run(RegisterConfig(run_id=run_id), mcfg, labels).promoted
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from quotestance.cli import serve_main; serve_main()",
            f"serve.port={port}",
            f"mlflow.artifact_location={tmp_path / 'art'}",
        ],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
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
        status, body = post(
            port,
            {
                "dataframe_split": {
                    "columns": ["quote", "speaker"],
                    "data": [["We act on court orders.", "Dana Whitfield"], ["Drop them now.", None]],
                }
            },
        )
        assert status == 200, body
        rows = body["predictions"]
        assert len(rows) == 2 and set(rows[0]) == {"label", "confidence", *(f"prob_{k}" for k in labels)}
        assert rows[0]["label"] in labels
        status, body = post(port, {"dataframe_split": {"columns": ["speaker"], "data": [["x"]]}})
        assert 400 <= status < 500 and "quote" in json.dumps(body)
        status, body = post(port, {"dataframe_split": {"columns": ["quote"], "data": [["q"]] * 1001}})
        assert 400 <= status < 500 and "too many rows" in json.dumps(body)
        status, body = post(port, {"dataframe_split": {"columns": ["quote"], "data": [["x" * 6000]]}})
        assert 400 <= status < 500 and "too long" in json.dumps(body)
        status, body = post(port, {"dataframe_split": {"columns": ["quote"], "data": [[None]]}})
        assert status == 400 and "quote must be a non-empty string" in json.dumps(body)
        status, body = post(port, {"dataframe_split": {"columns": ["quote"], "data": [["x" * 4000]] * 300}})
        assert status == 413 and "request body over" in body["message"]
        status, body = post(port, {"dataframe_split": {"columns": ["quote"], "data": [["Still up?"]]}})
        assert status == 200, body  # the refusal cost the server nothing
        # SIGTERM to quotestance-serve alone (as a service manager sends it): nothing it started may outlive it
        import psutil

        started = psutil.Process(proc.pid).children(recursive=True)  # mlflow, uvicorn and its workers
        assert started
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        gone, alive = psutil.wait_procs(started, timeout=10)
        assert not alive, [p.cmdline() for p in alive]
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0  # the port is free again
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


def _asgi(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes, list[bytes]]:
    """Drive an ASGI app with one request sent in `chunks`; returns status, response body, what the app read."""
    import asyncio

    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "headers": headers}, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), sent


def test_body_cap_refuses_large_bodies_before_the_app_reads_them():
    from quotestance.serve import BodyCap

    seen: list[bytes] = []

    async def echo(scope, receive, send):
        message = await receive()
        seen.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    capped = BodyCap(echo, limit=10)
    assert _asgi(capped, [(b"content-length", b"4")], [b"ab", b"cd"])[:2] == (200, b"ok")
    assert seen == [b"abcd"]  # chunks arrive at the app as one body
    assert _asgi(capped, [(b"content-length", b"11")], [b"x" * 11])[0] == 413  # declared too large
    assert _asgi(capped, [(b"content-length", b"1e9")], [b"x"])[0] == 413  # a length that is not a number
    status, body, _ = _asgi(capped, [], [b"x" * 6, b"x" * 6])  # chunked, no length: refused at the limit
    assert status == 413 and b"request body over 10 bytes" in body
    assert _asgi(capped, [(b"content-length", b"100000")], [b"x"])[0] == 413  # far too large: not even read
    assert seen == [b"abcd"]


@pytest.mark.slow
def test_bad_rows_are_refused_naming_row_and_field(tmp_path, mlflow_uri, fake_run, labels):
    """What the server answers with a 400: a null, NaN, list or empty quote, an over-long speaker or context
    (never scored as "", "nan" or a list's text)."""
    import math

    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from quotestance.config import MlflowConfig
    from quotestance.tracking import setup

    setup(
        MlflowConfig(
            tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
        )
    )
    run_id = fake_run(tmp_path, 0.6, 0.6, "d1")
    model = mlflow.pyfunc.load_model(mlflow.get_run(run_id).data.tags["model_uri"])
    ok = model.predict(pd.DataFrame({"quote": ["We act on court orders."], "speaker": [None]}))
    assert len(ok) == 1 and ok["label"][0] in labels
    for frame, message in (
        ({"quote": [None]}, "row 0: quote must be a non-empty string, not null"),
        ({"quote": ["fine", math.nan]}, "row 1: quote must be a non-empty string, not null"),
        ({"quote": ["   "]}, "row 0: quote must be a non-empty string, not an empty one"),
        ({"quote": [["a", "list"]]}, "row 0: quote must be a non-empty string"),
        ({"quote": ["fine"], "speaker": ["x" * 301]}, "row 0: speaker too long"),
        ({"quote": ["fine"], "context": ["x" * 5001]}, "row 0: context too long"),
    ):
        with pytest.raises(MlflowException, match=message.replace("(", r"\(")):
            model.predict(pd.DataFrame(frame))
