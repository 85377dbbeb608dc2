"""MLflow at the edges: the store, the experiment, and what each stage logs."""

from __future__ import annotations

import os
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
        db = Path(uri[len("sqlite:///"):])
        if not create and not db.exists():
            raise StoreMissing(f"no MLflow store at {db}: create it by training first (`make pipeline` or "
                               "`quotestance-train`), or point mlflow.tracking_uri / MLFLOW_TRACKING_URI at yours")
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


def log_dataset(cfg: MlflowConfig, params: dict[str, Any]):
    """A callback for build_dataset: one MLflow run with the params, each split as a dataset input, the card."""
    def log(report, splits: dict[str, list[dict]], out: Path) -> None:
        import warnings

        import mlflow
        import pandas as pd

        from quotestance.dataset import COLUMNS

        setup(cfg)
        with mlflow.start_run(run_name="dataset"), warnings.catch_warnings():
            # a folder source is ambiguous to MLflow's registry and integer columns draw a schema hint: both benign
            warnings.simplefilter("ignore", UserWarning)
            mlflow.set_tag("stage", "dataset")
            mlflow.log_params({k: str(v)[:500] for k, v in flatten(params).items()})
            for split, rows in splits.items():
                df = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=list(COLUMNS))
                ds = mlflow.data.from_pandas(df, source=str((out / "dataset" / split).resolve()),
                                             targets="label", name=f"quotestance-{split}",
                                             digest=report.digests[split])
                mlflow.log_input(ds, context=split)
                mlflow.log_metric(f"rows_{split}", len(rows))
            for k, v in report.weak_accuracy.items():
                mlflow.log_metric(f"weak_{k}", v)
            mlflow.log_metric("unjoined_gold", len(report.unjoined_gold))
            mlflow.log_artifact(str(out / "README.md"))
            mlflow.log_artifact(str(out / "folds.json"))
    return log
