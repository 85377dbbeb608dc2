"""Serve stage: the registered model over REST, as downstream tools call it.

The server is MLflow's own scoring app (the `/invocations`, `/ping`, `/health` and `/version` routes and
payload formats of `mlflow models serve`), run by uvicorn in this environment, with one thing added in
front: a cap on the request body, so one oversized POST cannot fill the server's memory (413, before the
model sees a byte). The pyfunc model itself refuses bad rows with a 400 naming the row and field.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from quotestance.config import ServeApp

MODEL_ENV = "QUOTESTANCE_SERVE_MODEL"  # the model's local folder, for the app factory in each worker
MAX_BODY_ENV = "QUOTESTANCE_SERVE_MAX_BODY_BYTES"


class ServeError(RuntimeError):
    pass


def serve(app: ServeApp) -> int:
    """Resolve the model (models:/…@alias, runs:/… or a folder), then run the server until stopped.

    Returns the exit code: 0 after a SIGTERM/SIGINT/SIGHUP (forwarded to every process the server started),
    2 when there is no store or no such model, the server's own code when it fails.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from quotestance.tracking import setup

    env = dict(os.environ)
    try:
        if app.serve.model_uri.startswith(("models:/", "runs:/")):  # a folder needs no tracking store
            env["MLFLOW_TRACKING_URI"] = setup(app.mlflow, create=False)
        local = mlflow.artifacts.download_artifacts(artifact_uri=app.serve.model_uri)
    except (FileNotFoundError, MlflowException) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "quotestance.serve:create_app",
        "--host",
        app.serve.host,
        "--port",
        str(app.serve.port),
        "--workers",
        str(app.serve.workers),
        "--log-level",
        "warning",
    ]
    print(
        f"serving {app.serve.model_uri} on http://{app.serve.host}:{app.serve.port}/invocations "
        f"(body cap {app.serve.max_body_bytes:,} bytes)",
        file=sys.stderr,
        flush=True,
    )
    env.update({MODEL_ENV: local, MAX_BODY_ENV: str(app.serve.max_body_bytes)})
    return run_forwarding_signals(cmd, env)


def create_app():
    """The ASGI app each uvicorn worker builds: MLflow's scoring server behind the body cap."""
    from mlflow.pyfunc import scoring_server

    model = scoring_server.load_model_with_mlflow_config(os.environ[MODEL_ENV])
    return BodyCap(scoring_server.init(model), int(os.environ.get(MAX_BODY_ENV, "1048576")))


class BodyCap:
    """ASGI middleware: a request body over `limit` bytes gets a 413 and never reaches the app.

    The body is read here (up to the limit) and handed on in one piece. Past the limit the rest is read and
    thrown away (memory stays flat) so that an ordinary client, still sending, gets the 413 rather than a
    broken pipe; a body past DRAIN times the limit is not read on (the connection just closes after the 413).
    """

    DRAIN = 64

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and not declared.isdigit():
            return await self._refuse(send)
        chunks, size, more = [], 0, True
        if declared is not None and int(declared) > self.limit * self.DRAIN:
            more = False
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            size += len(message.get("body", b""))
            if size <= self.limit:
                chunks.append(message.get("body", b""))
            else:
                chunks.clear()
            more = message.get("more_body", False) and size <= self.limit * self.DRAIN
        if size > self.limit or (declared is not None and int(declared) > self.limit):
            return await self._refuse(send)
        body, sent = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        return await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        text = (
            f'{{"error_code": "BAD_REQUEST", "message": "request body over {self.limit} bytes; '
            f'send fewer rows per request"}}'
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(text)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": text})


def run_forwarding_signals(cmd: list[str], env: dict[str, str], grace: float = 20.0) -> int:
    """Run cmd in its own process group; SIGTERM, SIGINT or SIGHUP to us goes to the whole group, and we wait.

    uvicorn starts worker processes: stopping only the parent would leave them holding the port. Whatever
    still runs `grace` seconds after the signal is killed.
    """
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    stopping: list[int] = []

    def forward(signum, _frame) -> None:
        stopping.append(signum)
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)
    rc = None
    while rc is None:
        try:
            rc = proc.wait(timeout=grace if stopping else None)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    try:  # workers may outlive the process that started them
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return 0 if stopping else rc
