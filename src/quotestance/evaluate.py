"""Evaluate stage: metrics, calibration and error analysis for any model's class probabilities.

The headline is stance macro-F1: macro-F1 over the three stance labels only (SemEval-2016 style), with
4-class macro-F1 and accuracy beside it. Calibration: expected calibration error (ECE) before and after
temperature scaling fitted on the validation split.

Training evaluates each model it logs with `evaluate_splits` (validation, test and every external set, in
the run that holds the model); `quotestance-evaluate` (`evaluate`) scores a logged model afresh as a new
run, or compares the latest transformer and baseline runs and writes the README's results block.
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quotestance.config import EvaluateApp, EvaluateConfig
from quotestance.dataset import DatasetError, external_rows, load_splits
from quotestance.metrics import coverage_at, ece, fit_temperature, review_threshold, softmax, stance_macro_f1
from quotestance.records import stance_columns
from quotestance.tracking import setup, tracked_run


class EvaluateError(ValueError):
    """Nothing to evaluate, with the reason."""


@dataclass
class Evaluation:
    metrics: dict[str, float]
    confusion: np.ndarray
    reliability: list[tuple[float, float, int]]
    errors: list[dict[str, Any]] = field(default_factory=list)


def measure(
    rows: Sequence[dict[str, Any]],
    probs: np.ndarray,
    labels: Sequence[str],
    stance: Sequence[str],
    prefix: str,
    bins: int = 10,
    max_errors: int = 500,
) -> Evaluation:
    """Metrics under `prefix` (test_, external_realdev_, ...) for rows with a gold `label`."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    y = np.array([labels.index(r["label"]) for r in rows])
    pred = probs.argmax(1)
    yt, yp = [labels[i] for i in y], [labels[i] for i in pred]
    m = {
        f"{prefix}stance_macro_f1": stance_macro_f1(yt, yp, stance),
        f"{prefix}macro_f1": float(f1_score(yt, yp, labels=labels, average="macro", zero_division=0)),
        f"{prefix}accuracy": float(accuracy_score(yt, yp)),
        f"{prefix}n": float(len(rows)),
    }
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
    for k, lab in enumerate(labels):
        m.update(
            {
                f"{prefix}precision_{lab}": float(p[k]),
                f"{prefix}recall_{lab}": float(r[k]),
                f"{prefix}f1_{lab}": float(f[k]),
            }
        )
    e, table = ece(probs, y, bins)
    m[f"{prefix}ece"] = e
    by_event: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row.get("event"):
            by_event[row["event"]].append(i)
    for ev, idx in sorted(by_event.items()):
        m[f"{prefix}event_{ev}_stance_macro_f1"] = stance_macro_f1(
            [yt[i] for i in idx], [yp[i] for i in idx], stance
        )
    errors = [
        {
            "quote_id": row.get("quote_id"),
            "event": row.get("event"),
            "speaker": row.get("speaker"),
            "quote": row.get("text") or row.get("quote"),
            "gold": yt[i],
            "predicted": yp[i],
            "confidence": round(float(probs[i].max()), 4),
        }
        for i, row in enumerate(rows)
        if y[i] != pred[i]
    ]
    errors.sort(key=lambda e: -e["confidence"])  # confident mistakes first: the ones worth reading
    return Evaluation(m, confusion_matrix(yt, yp, labels=labels), table, errors[:max_errors])


def plot_confusion(cm: np.ndarray, labels: Sequence[str], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    short = [lab.replace("_", "\n") for lab in labels]
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(cm, cmap="Blues")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="white" if cm[i, j] > cm.max() / 2 else "black",
            )
    ax.set_xticks(range(len(labels)), short, fontsize=8)
    ax.set_yticks(range(len(labels)), short, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(table: list[tuple[float, float, int]], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    if table:
        conf, acc, n = zip(*table)
        ax.plot(conf, acc, "o-", label="model")
        for c, a, k in table:
            ax.annotate(str(k), (c, a), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def log_evaluation(ev: Evaluation, labels: list[str], name: str, tmp: Path) -> None:
    import mlflow
    import pandas as pd

    mlflow.log_metrics(ev.metrics)
    mlflow.log_artifact(
        str(plot_confusion(ev.confusion, labels, f"{name}: confusion", tmp / f"confusion_{name}.png")),
        "plots",
    )
    mlflow.log_artifact(
        str(plot_reliability(ev.reliability, f"{name}: reliability", tmp / f"reliability_{name}.png")),
        "plots",
    )
    if ev.errors:
        mlflow.log_table(pd.DataFrame(ev.errors), artifact_file=f"errors/{name}.json")


def external_sets(cfg: EvaluateConfig) -> dict[str, list[dict]]:
    """The labelled external sets that are present, by metric prefix (external_realdev, ...)."""
    return {
        ext.prefix: external_rows(ext.quotes, ext.texts)
        for ext in cfg.external.values()
        if Path(ext.quotes).exists()
    }


def evaluate_splits(
    cfg: EvaluateConfig,
    labels: list[str],
    stance: list[str],
    splits: dict[str, list[dict]],
    logits_of: Callable[[list[dict]], np.ndarray],
    tmp: Path,
) -> tuple[dict[str, float], list[list[float]]]:
    """Into the active MLflow run: temperature from validation; metrics, plots and error tables for
    validation, test and every external set found. Returns the metrics and validation's review curve (each
    quote's calibrated confidence and whether it was right), which the served model carries."""
    import mlflow

    val_logits = logits_of(splits["validation"])
    y_val = np.array([labels.index(r["label"]) for r in splits["validation"]])
    t = fit_temperature(val_logits, y_val)
    mlflow.log_metric("temperature", t)
    results: dict[str, float] = {}
    curve: list[list[float]] = []
    sets = {"validation": splits["validation"], "test": splits["test"]} | external_sets(cfg)
    for name, ext in cfg.external.items():
        if ext.prefix not in sets:
            mlflow.set_tag(f"skipped_{name}", f"{ext.quotes} not found")
    computed = {
        name: val_logits if name == "validation" else logits_of(rows) for name, rows in sets.items() if rows
    }
    external = [n for n in computed if n not in ("validation", "test")]
    # the real sets together ("external_real_"): the figure the stance work is held to
    if len(external) >= 2:
        sets["external_real"] = [r for n in external for r in sets[n]]
        computed["external_real"] = np.concatenate([computed[n] for n in external])
    for name, rows in sets.items():
        if not rows:
            continue
        logits = computed[name]
        probs = softmax(logits, t)
        ev = measure(rows, probs, labels, stance, f"{name}_", cfg.bins, cfg.max_error_rows)
        y = np.array([labels.index(r["label"]) for r in rows])
        mlflow.log_metric(f"{name}_ece_uncalibrated", ece(softmax(logits), y, cfg.bins)[0])
        # calibrated abstention: the confidence above which validation reaches cfg.review_precision
        conf, correct = probs.max(1), probs.argmax(1) == y
        if name == "validation":
            results["review_threshold"] = review_threshold(conf, correct, cfg.review_precision)
            curve = [[round(float(c), 6), int(k)] for c, k in zip(conf, correct)]
        coverage, kept_precision = coverage_at(conf, correct, results.get("review_threshold", float("inf")))
        review = {f"{name}_review_coverage": coverage, f"{name}_review_precision": kept_precision}
        mlflow.log_metrics(review)
        results.update(review)
        log_evaluation(ev, labels, name, tmp)
        results.update(ev.metrics)
    if np.isfinite(results.get("review_threshold", np.inf)):
        mlflow.log_metric("review_threshold", results["review_threshold"])
    return results | {"temperature": t}, curve


def evaluate_model_uri(app: EvaluateApp, params: dict[str, Any]) -> dict[str, float]:
    """Score a logged pyfunc model afresh on the test split and every external set, as a new run."""
    import mlflow

    splits = load_splits(app.dataset.output, app.labels)
    labels = app.labels.names
    setup(app.mlflow, create=False)
    model = mlflow.pyfunc.load_model(app.evaluate.model_uri)

    def logits_of(rows):
        import pandas as pd

        out = model.predict(
            pd.DataFrame(
                {
                    "quote": [r.get("text") or r.get("quote") for r in rows],
                    "speaker": [r.get("speaker") for r in rows],
                    "context": [r.get("context") for r in rows],
                }
            )
        )
        return np.log(np.clip(out[stance_columns(labels)[2:]].to_numpy(), 1e-9, 1))

    with (
        tracked_run(app.mlflow, "evaluate", "evaluate", params, {"model_uri": app.evaluate.model_uri}) as run,
        tempfile.TemporaryDirectory() as tmpd,
    ):
        metrics, _ = evaluate_splits(
            app.evaluate, labels, list(app.labels.stance), splits, logits_of, Path(tmpd)
        )
        metrics["run_id"] = run.info.run_id  # type: ignore[assignment]
        return metrics


RESULTS_BEGIN = "<!-- results:begin (written by `quotestance-evaluate evaluate.write=README.md`) -->"
RESULTS_END = "<!-- results:end -->"
HEADLINE = (
    "test_stance_macro_f1",
    "external_realdev_stance_macro_f1",
    "external_realdev2_stance_macro_f1",
    "external_real_stance_macro_f1",
    "test_macro_f1",
    "test_accuracy",
    "external_realdev_macro_f1",
    "external_realdev_accuracy",
    "external_realdev2_macro_f1",
    "external_realdev2_accuracy",
    "test_ece",
    "external_realdev_ece",
    "external_realdev2_ece",
)


def latest_runs(app: EvaluateApp) -> dict[str, Any]:
    """The newest finished transformer and baseline runs of the experiment."""
    import mlflow

    setup(app.mlflow, create=False)
    out = {}
    for kind in ("transformer", "baseline"):
        runs = mlflow.search_runs(
            experiment_names=[app.mlflow.experiment],
            output_format="list",
            filter_string=f"tags.model_kind = '{kind}' and attributes.status = 'FINISHED' "
            "and tags.stage = 'train'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
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


def summary_table(results: dict[str, dict]) -> str:
    """Headline metrics of each run, side by side."""
    keys = sorted(
        {
            k
            for m in results.values()
            for k in m
            if k.endswith(
                ("stance_macro_f1", "_macro_f1", "_accuracy", "_ece", "_review_coverage", "_review_precision")
            )
            and "event_" not in k
            and "uncalibrated" not in k
        }
    )
    lines = ["| metric | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    for k in keys:
        lines.append(
            f"| {k} | " + " | ".join(f"{m.get(k, float('nan')):.3f}" for m in results.values()) + " |"
        )
    lines.append("| run_id | " + " | ".join(str(m.get("run_id")) for m in results.values()) + " |")
    return "\n".join(lines)


def evaluate(app: EvaluateApp, params: dict[str, Any] | None = None) -> int:
    """Score evaluate.model_uri afresh, or compare the latest transformer and baseline runs (and write the
    comparison into evaluate.write). Returns the exit code."""
    from quotestance.progress import quiet_libraries

    quiet_libraries()
    try:
        if app.evaluate.model_uri:
            print(summary_table({app.evaluate.model_uri: evaluate_model_uri(app, params or {})}))
            return 0
        runs = latest_runs(app)
        if not runs:
            raise EvaluateError("no finished training runs in MLflow yet: run `quotestance-train` first")
    except (EvaluateError, DatasetError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = compare_table(runs)
    print(table)
    if app.evaluate.write:
        from quotestance.io import replace_block

        try:
            replace_block(app.evaluate.write, RESULTS_BEGIN, RESULTS_END, table)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0
