"""Training runs as MLflow runs: the transformer and the TF-IDF baseline, evaluated the same way.

Each run logs the flattened resolved config as params, the git commit, the dataset splits as inputs,
per-epoch metrics, the evaluation of every split and external set (metrics, confusion matrix and
reliability diagram PNGs, an error table), and for the transformer the pyfunc model (Models-from-Code).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from quotestance.config import TrainApp
from quotestance.evaluate import (
    Evaluation,
    ece,
    evaluate,
    external_rows,
    fit_temperature,
    plot_confusion,
    plot_reliability,
    softmax,
)
from quotestance.infer import MIN_PARITY_ROWS, build_int8, check_parity, load_predictor, save_parity_rows
from quotestance.progress import stage
from quotestance.tracking import flatten, setup
from quotestance.train import TrainError, train_model

SPLITS = ("train", "validation", "test")


def load_splits(output: str) -> dict[str, list[dict[str, Any]]]:
    """The dataset built by quotestance-dataset; a clear error when it is missing."""
    from datasets import load_from_disk

    path = Path(output) / "dataset"
    if not path.exists():
        raise TrainError(f"no dataset at {path}: run `quotestance-dataset` first")
    dd = load_from_disk(str(path))
    return {s: dd[s].to_list() for s in SPLITS}


def check_labels(app: TrainApp, splits: dict[str, list[dict]]) -> list[str]:
    labels = [lab.name for lab in app.labels.labels]
    found = sorted({r["label"] for rows in splits.values() for r in rows} - set(labels))
    if found:
        raise TrainError(f"dataset labels {found} are not in the configured label set {labels}")
    if not set(app.labels.stance) <= set(labels):
        raise TrainError(f"labels.stance {app.labels.stance} must be a subset of {labels}")
    return labels


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _log_inputs(splits: dict[str, list[dict]], output: str) -> None:
    import mlflow
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for s, rows in splits.items():
            df = pd.DataFrame(rows)
            mlflow.log_input(mlflow.data.from_pandas(df, source=str((Path(output) / "dataset" / s).resolve()),
                                                     targets="label", name=f"quotestance-{s}"), context=s)


def _log_evaluation(ev: Evaluation, labels: list[str], name: str, tmp: Path) -> None:
    import mlflow
    import pandas as pd

    mlflow.log_metrics(ev.metrics)
    mlflow.log_artifact(str(plot_confusion(ev.confusion, labels, f"{name}: confusion", tmp / f"confusion_{name}.png")),
                        "plots")
    mlflow.log_artifact(str(plot_reliability(ev.reliability, f"{name}: reliability", tmp / f"reliability_{name}.png")),
                        "plots")
    if ev.errors:
        mlflow.log_table(pd.DataFrame(ev.errors), artifact_file=f"errors/{name}.json")


def _evaluate_all(app: TrainApp, labels: list[str], splits: dict[str, list[dict]], logits_of, tmp: Path) -> dict:
    """Temperature from validation; metrics for validation, test and every external set found."""
    import mlflow

    stance = list(app.labels.stance)
    val_logits = logits_of(splits["validation"])
    y_val = np.array([labels.index(r["label"]) for r in splits["validation"]])
    t = fit_temperature(val_logits, y_val)
    mlflow.log_metric("temperature", t)
    results: dict[str, float] = {}
    sets = {"validation": splits["validation"], "test": splits["test"]}
    for name, ext in app.evaluate.external.items():
        if Path(ext.quotes).exists():
            sets[ext.prefix] = external_rows(ext.quotes, ext.texts)
        else:
            mlflow.set_tag(f"skipped_{name}", f"{ext.quotes} not found")
    for name, rows in sets.items():
        if not rows:
            continue
        logits = val_logits if name == "validation" else logits_of(rows)
        ev = evaluate(rows, softmax(logits, t), labels, stance, f"{name}_", app.evaluate.bins,
                      app.evaluate.max_error_rows)
        y = np.array([labels.index(r["label"]) for r in rows])
        mlflow.log_metric(f"{name}_ece_uncalibrated", ece(softmax(logits), y, app.evaluate.bins)[0])
        _log_evaluation(ev, labels, name, tmp)
        results.update(ev.metrics)
    return results | {"temperature": t}


def run_transformer(app: TrainApp, params: dict[str, Any]) -> dict[str, float]:
    """Fine-tune, evaluate and log the transformer as one MLflow run; returns its metrics."""
    import mlflow

    splits = load_splits(app.dataset.output)
    labels = check_labels(app, splits)
    setup(app.mlflow)
    with mlflow.start_run(run_name=f"transformer-{app.model.name}", log_system_metrics=True) as run, \
            tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        mlflow.set_tags({"stage": "train", "model_kind": "transformer", "model": app.model.name,
                         "mlflow.source.git.commit": git_commit()})
        mlflow.log_params({k: str(v)[:500] for k, v in flatten(params).items()})
        _log_inputs(splits, app.dataset.output)
        model_dir = tmp / "model"
        res = train_model(splits["train"], splits["validation"], labels, list(app.labels.stance), app.model,
                          app.train, str(model_dir),
                          on_epoch=lambda e, m: mlflow.log_metrics(m, step=e))
        mlflow.log_metrics({"best_epoch": res.best_epoch, "train_seconds": res.seconds})
        mlflow.set_tags({"train_precision": res.precision, "train_precision_reason": res.precision_reason[:500]})
        _fast_paths(app, model_dir, splits)
        # evaluated on the path that serving takes on this CPU (parity keeps it to fp32's labels)
        pred = load_predictor(model_dir, app.train.template, app.model.max_length, app.train.precision,
                              app.train.int8_margin, app.train.bf16_margin)
        mlflow.set_tags({"inference_precision": pred.precision,
                         "inference_precision_reason": pred.choice.get("reason", "")[:500]})
        with stage(f"evaluation in {pred.precision}", tick=True):
            metrics = _evaluate_all(app, labels, splits, pred.logits, tmp)
        cfg_path = tmp / "inference.json"
        cfg_path.write_text(json.dumps({"template": app.train.template, "max_length": app.model.max_length,
                                        "temperature": metrics["temperature"], "precision": app.train.precision,
                                        "int8_margin": app.train.int8_margin,
                                        "bf16_margin": app.train.bf16_margin, "labels": labels}))
        with stage("logging the model to MLflow", tick=True):
            log_pyfunc(model_dir, cfg_path, labels)
        metrics["run_id"] = run.info.run_id  # type: ignore[assignment]
        return metrics


def parity_rows(splits: dict[str, list[dict]]) -> list[dict]:
    """Held-out rows first (test, validation), then gold train rows, to at least MIN_PARITY_ROWS.

    Agreement with fp32 is what parity measures; held-out rows are the hard ones (the model is less sure of
    them), and the train rows only make up the count on a small corpus.
    """
    rows = [r | {"split": s} for s in ("test", "validation") for r in splits[s]]
    extra = [r | {"split": "train"} for r in splits["train"] if r.get("label_source", "gold") == "gold"]
    return rows + extra[:max(0, MIN_PARITY_ROWS - len(rows))]


def _fast_paths(app: TrainApp, model_dir: Path, splits: dict[str, list[dict]]) -> None:
    """The int8 graph and the parity rows beside the weights, then every path measured on this machine."""
    import mlflow

    with stage("int8 graph", tick=True):
        try:
            build_int8(model_dir)
        except Exception as e:  # noqa: BLE001 - an export failure costs speed, never the run
            mlflow.set_tag("skipped_int8", f"{type(e).__name__}: {e}"[:500])
    rows = parity_rows(splits)
    save_parity_rows(model_dir, rows, list(app.labels.stance))
    with stage(f"timing and parity of each inference path on {len(rows)} rows", tick=True):
        ref = load_predictor(model_dir, app.train.template, app.model.max_length, "fp32", app.train.int8_margin,
                             app.train.bf16_margin)  # the best epoch's weights, as saved
        parity = check_parity(ref, model_dir)
    mlflow.set_tags({"parity_cpu": parity["cpu"][:500], "parity_rows": str(len(rows))})
    for p, r in parity["paths"].items():
        if "skipped" in r:
            mlflow.set_tag(f"parity_{p}", f"skipped: {r['skipped']}"[:500])
            continue
        mlflow.log_metric(f"seconds_{p}_parity_rows", r["seconds"])
        if p != "fp32":
            mlflow.log_metrics({f"parity_{p}_agreement": r["agreement"],
                                f"parity_{p}_stance_macro_f1_delta": r["stance_macro_f1_delta_points"]})
            mlflow.set_tag(f"parity_{p}", "passed" if r["passed"] else "failed")


def log_pyfunc(model_dir: Path, cfg_path: Path, labels: list[str]) -> None:
    """The model as a Models-from-Code pyfunc with a signature and an input example."""
    import mlflow
    import pandas as pd
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "quote"), ColSpec("string", "speaker", required=False),
                       ColSpec("string", "context", required=False)]),
        outputs=Schema([ColSpec("string", "label"), ColSpec("double", "confidence")]
                       + [ColSpec("double", f"prob_{lab}") for lab in labels]))
    example = pd.DataFrame({"quote": ["We act when a court tells us to, not before."],
                            "speaker": ["Dana Whitfield"], "context": [""]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(Path(__file__).with_name("pyfunc.py")),
            artifacts={"model": str(model_dir), "config": str(cfg_path)}, signature=signature,
            input_example=example, pip_requirements=["torch", "transformers", "onnxruntime", "pandas", "mlflow"])
    mlflow.set_tag("model_uri", info.model_uri)  # MLflow 3 keeps models apart from runs: where this one lives


def run_baseline(app: TrainApp, params: dict[str, Any]) -> dict[str, float]:
    """TF-IDF + logistic regression on the same splits, evaluated the same way, as its own run."""
    import mlflow

    from quotestance.baseline import TfidfBaseline

    splits = load_splits(app.dataset.output)
    labels = check_labels(app, splits)
    setup(app.mlflow)
    with mlflow.start_run(run_name="baseline-tfidf-logreg") as run, tempfile.TemporaryDirectory() as tmpd:
        mlflow.set_tags({"stage": "train", "model_kind": "baseline", "model": "tfidf_logreg",
                         "mlflow.source.git.commit": git_commit()})
        mlflow.log_params({k: str(v)[:500] for k, v in flatten(params).items()})
        _log_inputs(splits, app.dataset.output)
        model = TfidfBaseline(labels, app.train.template, seed=app.train.seed).fit(splits["train"])
        # log-probabilities play the logits' part, so temperature scaling and ECE work the same way
        metrics = _evaluate_all(app, labels, splits, lambda rows: np.log(np.clip(model.predict_proba(rows), 1e-9, 1)),
                                Path(tmpd))
        metrics["run_id"] = run.info.run_id  # type: ignore[assignment]
        return metrics


RESULTS_BEGIN = "<!-- results:begin (written by `quotestance-evaluate evaluate.write=README.md`) -->"
RESULTS_END = "<!-- results:end -->"
HEADLINE = ("test_stance_macro_f1", "external_realdev_stance_macro_f1", "test_macro_f1", "test_accuracy",
            "external_realdev_macro_f1", "external_realdev_accuracy", "test_ece", "external_realdev_ece")


def latest_runs(app: TrainApp) -> dict[str, Any]:
    """The newest finished transformer and baseline runs of the experiment."""
    import mlflow

    setup(app.mlflow, create=False)
    out = {}
    for kind in ("transformer", "baseline"):
        runs = mlflow.search_runs(experiment_names=[app.mlflow.experiment], output_format="list",
                                  filter_string=f"tags.model_kind = '{kind}' and attributes.status = 'FINISHED' "
                                                "and tags.stage = 'train'",
                                  order_by=["attributes.start_time DESC"], max_results=1)
        if runs:
            out[kind] = runs[0]
    return out


def compare_table(runs: dict[str, Any]) -> str:
    names = {k: f"{k} ({r.data.tags.get('model', '')})" for k, r in runs.items()}
    lines = ["| metric | " + " | ".join(names.values()) + " |", "|---|" + "---:|" * len(runs)]
    for k in HEADLINE:
        vals = [r.data.metrics.get(k) for r in runs.values()]
        if any(v is not None for v in vals):
            lines.append(f"| {k} | " + " | ".join("" if v is None else f"{v:.3f}" for v in vals) + " |")
    lines.append("| MLflow run | " + " | ".join(f"`{r.info.run_id[:12]}`" for r in runs.values()) + " |")
    return "\n".join(lines)


def evaluate_model_uri(app: TrainApp, params: dict[str, Any]) -> dict[str, float]:
    """Score a logged pyfunc model afresh on the test split and every external set, as a new run."""
    import mlflow

    splits = load_splits(app.dataset.output)
    labels = check_labels(app, splits)
    setup(app.mlflow, create=False)
    model = mlflow.pyfunc.load_model(app.evaluate.model_uri)

    def logits_of(rows):
        import pandas as pd

        out = model.predict(pd.DataFrame({"quote": [r.get("text") or r.get("quote") for r in rows],
                                          "speaker": [r.get("speaker") for r in rows],
                                          "context": [r.get("context") for r in rows]}))
        return np.log(np.clip(out[[f"prob_{k}" for k in labels]].to_numpy(), 1e-9, 1))

    with mlflow.start_run(run_name="evaluate") as run, tempfile.TemporaryDirectory() as tmpd:
        mlflow.set_tags({"stage": "evaluate", "model_uri": app.evaluate.model_uri})
        metrics = _evaluate_all(app, labels, splits, logits_of, Path(tmpd))
        metrics["run_id"] = run.info.run_id  # type: ignore[assignment]
        return metrics
