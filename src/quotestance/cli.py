"""Console entry points: compose the Hydra config, turn it into dataclasses, call one stage function."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from quotestance.config import register
from quotestance.progress import quiet_libraries

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models load from installed packages or folders, never a hub
register()
CONF = str(Path(__file__).resolve().parents[2] / "conf")
EXIT_SKIPPED = 3  # the run completed but some inputs were skipped (see the errors file)
_rc: list[int] = [0]  # hydra.main discards a task's return value: the exit code travels here


@hydra.main(version_base=None, config_path=CONF, config_name="extract_app")
def _extract(cfg: DictConfig) -> int:
    from quotestance.extract.batch import extract_files

    app = OmegaConf.to_object(cfg)
    summary = extract_files(app.input, app.output, app.errors, app.extract)
    print(summary.line(), file=sys.stderr)
    _rc[0] = EXIT_SKIPPED if summary.skipped else 0
    return _rc[0]


@hydra.main(version_base=None, config_path=CONF, config_name="eval_extract")
def _eval_extract(cfg: DictConfig) -> int:
    from quotestance.extract import extractor_version
    from quotestance.extract.batch import load_nlp
    from quotestance.extract.evaluation import evaluate_goldset, format_table
    from quotestance.io import atomic_writer

    app = OmegaConf.to_object(cfg)
    nlp = load_nlp(app.extract.spacy_model)
    names = app.only or list(app.goldsets)
    results = [evaluate_goldset(n, g.gold, g.texts, nlp, g.default_article)
               for n, g in app.goldsets.items() if n in names]
    table = format_table(results)
    print(table)
    if app.output:
        with atomic_writer(app.output) as fh:
            fh.write("# Extraction scores on the gold sets\n\nProduced by `make eval-extract` "
                     f"(`quotestance-eval-extract output={app.output}`); extractor "
                     f"`{extractor_version(nlp)}`. Span P/R/F1 by character overlap (quotation marks "
                     "stripped), speaker accuracy on matched quotes; definitions as in "
                     "`../shared/tools/eval_extract.py`.\n\n" + table + "\n")
    return 0


@hydra.main(version_base=None, config_path=CONF, config_name="dataset_app")
def _dataset(cfg: DictConfig) -> None:
    from quotestance.dataset import DatasetError, build_dataset
    from quotestance.tracking import log_dataset

    quiet_libraries()
    app = OmegaConf.to_object(cfg)
    params = OmegaConf.to_container(cfg, resolve=True)
    try:
        rep = build_dataset(app.dataset, app.labels, app.extract, tracking=log_dataset(app.mlflow, params))
    except (DatasetError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        _rc[0] = 2
        return
    print(f"dataset: train={rep.rows['train']} validation={rep.rows['validation']} test={rep.rows['test']} "
          f"unjoined_gold={len(rep.unjoined_gold)} skipped={len(rep.skipped)} seconds={rep.seconds:.1f} -> "
          f"{app.dataset.output}" + (f" (skipped inputs: {app.dataset.output}/errors.jsonl)" if rep.skipped else ""),
          file=sys.stderr)
    _rc[0] = EXIT_SKIPPED if rep.skipped else 0


@hydra.main(version_base=None, config_path=CONF, config_name="train_app")
def _train(cfg: DictConfig) -> None:
    from quotestance.experiments import run_adapt, run_cv, run_hpo
    from quotestance.runs import run_baseline, run_transformer
    from quotestance.train import TrainError

    quiet_libraries()
    app = OmegaConf.to_object(cfg)
    params = OmegaConf.to_container(cfg, resolve=True)
    try:
        if app.mode in ("cv", "adapt", "hpo"):
            result = {"cv": run_cv, "adapt": run_adapt, "hpo": run_hpo}[app.mode](app, params)
            print("\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items()))
            return
        if app.mode != "train":
            raise TrainError(f"mode {app.mode!r} is not train, cv, adapt or hpo")
        results = {"transformer": run_transformer(app, params)}
        if app.baseline:
            results["baseline"] = run_baseline(app, params)
    except (TrainError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        _rc[0] = 2
        return
    print(summary_table(results))


@hydra.main(version_base=None, config_path=CONF, config_name="train_app")
def _pipeline(cfg: DictConfig) -> None:
    """dataset -> train (transformer + baseline) -> evaluate -> register, one command; each stage's seconds."""

    from quotestance.cpu import describe
    from quotestance.dataset import DatasetError, build_dataset
    from quotestance.progress import say, stage
    from quotestance.register import RegisterError, register_run
    from quotestance.runs import run_baseline, run_transformer
    from quotestance.tracking import log_dataset
    from quotestance.train import TrainError

    quiet_libraries()
    app = OmegaConf.to_object(cfg)
    params = OmegaConf.to_container(cfg, resolve=True)
    times: dict[str, float] = {}

    def timed(name: str, fn):
        with stage(name):
            t = time.perf_counter()
            out = fn()
            times[name] = time.perf_counter() - t
        return out

    say(f"CPU: {describe()}")
    try:
        timed("dataset", lambda: build_dataset(app.dataset, app.labels, app.extract,
                                               tracking=log_dataset(app.mlflow, params)))
        results = {"transformer": timed("train+evaluate transformer", lambda: run_transformer(app, params))}
        if app.baseline:
            results["baseline"] = timed("train+evaluate baseline", lambda: run_baseline(app, params))
        reg = app.register
        reg.run_id = results["transformer"]["run_id"]
        d = timed("register", lambda: register_run(reg, app.mlflow, [lab.name for lab in app.labels.labels]))
    except (DatasetError, TrainError, FileNotFoundError, RegisterError) as e:
        print(f"error: {e}", file=sys.stderr)
        _rc[0] = 2
        return
    print(summary_table(results))
    print(f"{reg.model_name} v{d.version}: " + ("promoted to @champion" if d.promoted else "promotion refused")
          + " (" + "; ".join(d.reasons) + ")")
    print("\n".join(f"seconds {k}: {v:.1f}" for k, v in times.items()) + f"\nseconds total: {sum(times.values()):.1f}")


@hydra.main(version_base=None, config_path=CONF, config_name="train_app")
def _evaluate(cfg: DictConfig) -> None:
    """Score a model afresh (evaluate.model_uri=...) or compare the latest transformer and baseline runs."""
    from quotestance.runs import RESULTS_BEGIN, RESULTS_END, compare_table, evaluate_model_uri, latest_runs
    from quotestance.train import TrainError

    quiet_libraries()
    app = OmegaConf.to_object(cfg)
    try:
        if app.evaluate.model_uri:
            print(summary_table({app.evaluate.model_uri: evaluate_model_uri(app, OmegaConf.to_container(cfg))}))
            return
        runs = latest_runs(app)
        if not runs:
            raise TrainError("no finished training runs in MLflow yet: run `quotestance-train` first")
    except (TrainError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        _rc[0] = 2
        return
    table = compare_table(runs)
    print(table)
    if app.evaluate.write:
        from quotestance.io import atomic_writer

        text = Path(app.evaluate.write).read_text(encoding="utf-8")
        head, rest = text.split(RESULTS_BEGIN, 1)
        tail = rest.split(RESULTS_END, 1)[1]
        with atomic_writer(app.evaluate.write) as fh:
            fh.write(f"{head}{RESULTS_BEGIN}\n{table}\n{RESULTS_END}{tail}")


@hydra.main(version_base=None, config_path=CONF, config_name="train_app")
def _register(cfg: DictConfig) -> None:
    from quotestance.register import RegisterError, export_champion, register_run, rollback

    app = OmegaConf.to_object(cfg)
    r = app.register
    try:
        if r.action == "rollback":
            old, new = rollback(r, app.mlflow)
            print(f"{r.model_name}: @champion moved back from v{old} to v{new}")
        elif r.action == "export":
            print(f"{r.model_name}@champion exported to {export_champion(r, app.mlflow)}")
        elif r.action == "register":
            d = register_run(r, app.mlflow, [lab.name for lab in app.labels.labels])
            verdict = "promoted to @champion" if d.promoted else "kept as @challenger (promotion refused)"
            print(f"{r.model_name} v{d.version}: {verdict}; compared to {d.compared_to or 'none'}: "
                  + "; ".join(d.reasons))
        else:
            raise RegisterError(f"unknown action {r.action!r}: register, rollback or export")
    except RegisterError as e:
        print(f"error: {e}", file=sys.stderr)
        _rc[0] = 2


@hydra.main(version_base=None, config_path=CONF, config_name="serve_app")
def _serve(cfg: DictConfig) -> None:
    from mlflow.exceptions import MlflowException

    from quotestance.serve import serve

    try:
        _rc[0] = serve(OmegaConf.to_object(cfg))
    except (FileNotFoundError, MlflowException) as e:  # no tracking store, or the model URI names nothing
        print(f"error: {e}", file=sys.stderr)
        _rc[0] = 2


@hydra.main(version_base=None, config_path=CONF, config_name="score_app")
def _score(cfg: DictConfig) -> None:
    from quotestance.score import ScoreError, score_articles

    quiet_libraries()
    app = OmegaConf.to_object(cfg)
    try:
        summary = score_articles(app.input, app.output, app.score, app.extract, app.mlflow)
    except ScoreError as e:
        print(f"error: {e}", file=sys.stderr)
        _rc[0] = 2
        return
    print(summary.line(), file=sys.stderr)
    _rc[0] = EXIT_SKIPPED if summary.skipped else 0


def report_main() -> None:
    """`quotestance-report input=<scores dir> output=<report.html>`."""
    from quotestance.report import build_report

    args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    if "input" not in args:
        print("usage: quotestance-report input=<scores dir> output=<report.html>", file=sys.stderr)
        sys.exit(2)
    try:
        print(build_report(args["input"], args.get("output", str(Path(args["input"]) / "report.html"))))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def summary_table(results: dict[str, dict]) -> str:
    """Headline metrics of each run, side by side."""
    keys = sorted({k for m in results.values() for k in m if k.endswith(("stance_macro_f1", "_macro_f1",
                                                                          "_accuracy", "_ece"))
                   and "event_" not in k and "uncalibrated" not in k})
    lines = ["| metric | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(f"{m.get(k, float('nan')):.3f}" for m in results.values()) + " |")
    lines.append("| run_id | " + " | ".join(str(m.get("run_id")) for m in results.values()) + " |")
    return "\n".join(lines)


def _exit(fn) -> None:
    fn()
    sys.exit(_rc[0])


def extract_main() -> None:
    _exit(_extract)


def eval_extract_main() -> None:
    _exit(_eval_extract)


def dataset_main() -> None:
    _exit(_dataset)


def train_main() -> None:
    _exit(_train)


def pipeline_main() -> None:
    _exit(_pipeline)


def evaluate_main() -> None:
    _exit(_evaluate)


def register_main() -> None:
    """`quotestance-register [register|rollback|export] [overrides]`: the first word picks the action."""
    if len(sys.argv) > 1 and sys.argv[1] in ("register", "rollback", "export"):
        sys.argv[1] = f"register.action={sys.argv[1]}"
    _exit(_register)


def serve_main() -> None:
    _exit(_serve)


def score_main() -> None:
    _exit(_score)
