"""MLflow at the edges: the store, the experiment, and the one way a stage opens a run (`tracked_run`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from quotestance.config import MlflowConfig


class StoreMissing(FileNotFoundError):
    """A command that only reads runs or models was pointed at an MLflow store that does not exist."""


def tracking_uri(cfg: MlflowConfig) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri


def setup(cfg: MlflowConfig, create: bool = True) -> str:
    """Point MLflow at the configured store (MLFLOW_TRACKING_URI wins) and make sure the experiment exists
    with its artifacts under experiments/ rather than a ./mlruns beside wherever the command ran.

    create=False is for commands that read what training wrote (register, serve, score, evaluate): a missing
    sqlite store is an error naming the fix, never silently created empty (which would read as "no runs" or
    "no champion yet").
    """
    import mlflow

    uri = tracking_uri(cfg)
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        if not create and not db.exists():
            raise StoreMissing(
                f"no MLflow store at {db}: create it by training first (`make pipeline` or "
                "`quotestance-train`), or point mlflow.tracking_uri / MLFLOW_TRACKING_URI at yours"
            )
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(cfg.experiment) is None:
        art = Path(cfg.artifact_location).resolve()
        art.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(cfg.experiment, artifact_location=art.as_uri())
    mlflow.set_experiment(cfg.experiment)
    return uri


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}: the resolved config as MLflow params."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@contextmanager
def tracked_run(
    cfg: MlflowConfig,
    name: str,
    stage: str,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    system_metrics: bool = False,
) -> Iterator[Any]:
    """Store and experiment set up, then one MLflow run tagged with its stage and the git commit, the
    resolved config logged as flattened params. Every stage's run starts here.
    """
    import mlflow

    setup(cfg)
    with mlflow.start_run(run_name=name, log_system_metrics=system_metrics) as run:
        mlflow.set_tags({"stage": stage, "mlflow.source.git.commit": git_commit(), **(tags or {})})
        if params:
            mlflow.log_params({k: str(v)[:500] for k, v in flatten(params).items()})
        yield run
