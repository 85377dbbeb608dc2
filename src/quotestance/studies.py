"""Studies beyond one training run (`quotestance-train experiment=cv|adapt|hpo`), each a parent MLflow run
with nested runs:

- `cv`: leave-one-event-out cross-validation (mean ± std stance macro-F1, transformer and baseline);
- `adapt`: what a user's own labels buy, as a learning curve out of fold by incident (adapt.py);
- `hpo`: Optuna over learning rate, batch size, epochs and input template, optimising validation stance
  macro-F1, each trial a nested run.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from quotestance.adapt import run_adapt
from quotestance.baseline import TfidfBaseline
from quotestance.config import TrainApp
from quotestance.dataset import load_splits
from quotestance.evaluate import external_sets, measure
from quotestance.infer import load_predictor
from quotestance.metrics import softmax
from quotestance.progress import say, stage
from quotestance.tracking import tracked_run
from quotestance.train import TrainError, train_model


def study(app: TrainApp, params: dict[str, Any]) -> dict[str, float]:
    """Run the study app.mode names (cv, adapt or hpo); its summary metrics."""
    runs = {"cv": run_cv, "adapt": run_adapt, "hpo": run_hpo}
    if app.mode not in runs:
        raise TrainError(f"mode {app.mode!r} is not train, cv, adapt or hpo")
    return runs[app.mode](app, params)


def fit_and_score(
    app: TrainApp,
    train: list[dict],
    val: list[dict],
    tests: dict[str, list[dict]],
    kind: str = "transformer",
    train_cfg=None,
) -> dict[str, float]:
    """Train one model (transformer or baseline) and score every test set: {'<set>_stance_macro_f1': ...}."""
    labels = app.labels.names
    stance = list(app.labels.stance)
    out: dict[str, float] = {}
    if kind == "baseline":
        model = TfidfBaseline(labels, app.train.template, seed=app.train.seed).fit(train)
        probs_of = model.predict_proba
    else:
        cfg = train_cfg or app.train
        with tempfile.TemporaryDirectory() as tmp:
            cfg = replace(cfg, checkpoint_dir=str(Path(tmp) / "ck"), resume=False)
            res = train_model(train, val, labels, stance, app.model, cfg, str(Path(tmp) / "m"))
            pred = load_predictor(
                str(Path(tmp) / "m"), cfg.template, app.model.max_length, precision=res.precision
            )  # the reference path: the one it trained in
            out["best_epoch"] = float(res.best_epoch)
            out["val_stance_macro_f1"] = max(h["val_stance_macro_f1"] for h in res.history)
            logits = {name: pred.logits(rows) for name, rows in tests.items() if rows}
        probs_of = None
    for name, rows in tests.items():
        if not rows:
            continue
        probs = probs_of(rows) if probs_of else softmax(logits[name])
        ev = measure(rows, probs, labels, stance, f"{name}_", max_errors=0)
        out.update({k: v for k, v in ev.metrics.items() if "event_" not in k})
    return out


def _summary(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_mean": float(np.mean(values)),
        f"{name}_std": float(statistics.stdev(values)) if len(values) > 1 else 0.0,
    }


def event_folds(events: list[str], folds: int | None) -> list[tuple[list[str], str]]:
    """(held-out events, validation event) per fold: each event alone (folds None: leave one event out), or the
    sorted events dealt into `folds` groups; the validation event is the first of the next fold's.

    >>> event_folds(["a", "b", "c", "d", "e"], 2)
    [(['a', 'c', 'e'], 'b'), (['b', 'd'], 'a')]
    """
    events = sorted(events)
    groups = (
        [[e] for e in events] if not folds else [events[i::folds] for i in range(min(folds, len(events)))]
    )
    return [(g, groups[(k + 1) % len(groups)][0]) for k, g in enumerate(groups)]


def run_cv(app: TrainApp, params: dict[str, Any]) -> dict[str, float]:
    """Each event in turn is the test set (or each of `cv.folds` groups of whole events), the first event of the
    next fold validates, the rest train."""
    import mlflow

    splits = load_splits(app.dataset.output, app.labels)
    rows = [r for s in splits.values() for r in s if r["label_source"] == "gold" or s is splits["train"]]
    folds = event_folds(list({r["event"] for r in rows}), app.cv.folds)
    folds = folds[: app.cv.max_folds] if app.cv.max_folds else folds
    scores: dict[str, list[float]] = defaultdict(list)
    with tracked_run(app.mlflow, f"cv-{app.model.name}", "cv", params):
        for k, (held, val_ev) in enumerate(folds):
            name = held[0] if len(held) == 1 else f"{len(held)} events"
            test = [r for r in rows if r["event"] in held and r["label_source"] == "gold"]
            val = [r for r in rows if r["event"] == val_ev and r["label_source"] == "gold"]
            train = [r for r in rows if r["event"] not in held and r["event"] != val_ev]
            for kind in ("transformer", "baseline"):
                with (
                    stage(f"cv fold {k + 1}/{len(folds)}: {kind}, held out {name} ({len(test)} quotes)"),
                    mlflow.start_run(run_name=f"fold-{k}-{kind}", nested=True),
                ):
                    m = fit_and_score(app, train, val, {"test": test}, kind)
                    mlflow.log_params(
                        {
                            "fold": k,
                            "held_out_events": ",".join(held),
                            "validation_event": val_ev,
                            "model_kind": kind,
                        }
                    )
                    mlflow.log_metrics(m)
                    scores[kind].append(m["test_stance_macro_f1"])
                    say(
                        f"cv fold {k + 1}/{len(folds)} {kind}: test stance macro-F1 {m['test_stance_macro_f1']:.3f}"
                    )
        result = {}
        for kind, vals in scores.items():
            result.update(_summary(f"cv_{kind}_stance_macro_f1", vals))
        mlflow.log_metrics(result)
        return result


def run_hpo(app: TrainApp, params: dict[str, Any]) -> dict[str, float]:
    """Optuna, called directly; every trial is a nested MLflow run scored on validation stance macro-F1."""
    import mlflow
    import optuna

    splits = load_splits(app.dataset.output, app.labels)
    h = app.hpo
    # each trial also scores the real sets it finds, for the record only: trials are chosen on validation
    scored = {"validation": splits["validation"]} | external_sets(app.evaluate)
    # the store is created (and migrated) once, here, before any parallel trial touches it
    with tracked_run(app.mlflow, f"hpo-{app.model.name}", "hpo", params) as parent:

        def objective(trial: optuna.Trial) -> float:
            cfg = replace(
                app.train,
                learning_rate=trial.suggest_float("learning_rate", h.lr_min, h.lr_max, log=True),
                batch_size=trial.suggest_categorical("batch_size", list(h.batch_sizes)),
                epochs=trial.suggest_int("epochs", h.epochs_min, h.epochs_max),
                template=trial.suggest_categorical("template", list(h.templates)),
            )
            with (
                stage(f"hpo trial {trial.number + 1}/{h.n_trials}: {trial.params}"),
                mlflow.start_run(
                    run_name=f"trial-{trial.number}", nested=True, parent_run_id=parent.info.run_id
                ),
            ):
                mlflow.log_params(trial.params)
                m = fit_and_score(
                    app,
                    splits["train"],
                    splits["validation"],
                    scored,
                    train_cfg=cfg,
                )
                mlflow.log_metrics(m)
                say(
                    f"hpo trial {trial.number + 1}: validation stance macro-F1 {m['validation_stance_macro_f1']:.3f}"
                )
            return m["validation_stance_macro_f1"]

        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=app.train.seed)
        )
        study.optimize(objective, n_trials=h.n_trials, n_jobs=h.n_jobs)
        mlflow.log_params({f"best_{k}": v for k, v in study.best_params.items()})
        mlflow.log_metric("best_validation_stance_macro_f1", study.best_value)
        return {
            "best_validation_stance_macro_f1": study.best_value,
            **{f"best_{k}": v for k, v in study.best_params.items() if isinstance(v, (int, float))},
        }
