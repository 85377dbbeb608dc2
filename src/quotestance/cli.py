"""Console entry points: each composes its command's Hydra config (src/quotestance/conf/<command>_app.yaml),
turns it into that command's dataclass and calls one stage function, whose return value is the exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from quotestance.config import register as register_schemas

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models load from installed packages or folders, never a hub
register_schemas()


def command(root: str, run: Callable[[Any, dict[str, Any]], int]) -> Callable[[], None]:
    """A console entry point for one Hydra root; `run(app, params)` gets the dataclass config and the resolved
    config as a plain dict (for MLflow params), and returns the exit code."""

    def main() -> None:
        rc = 0

        @hydra.main(version_base=None, config_path="conf", config_name=f"{root}_app")
        def task(cfg: DictConfig) -> None:
            nonlocal rc  # hydra.main discards a task's return value
            rc = run(OmegaConf.to_object(cfg), OmegaConf.to_container(cfg, resolve=True))

        task()
        sys.exit(rc)

    main.__doc__ = f"quotestance {root}: see src/quotestance/conf/{root}_app.yaml"
    return main


def first_word_action(actions: tuple[str, ...], key: str) -> None:
    """`quotestance-register rollback ...` reads as `register.action=rollback ...`."""
    if len(sys.argv) > 1 and sys.argv[1] in actions:
        sys.argv[1] = f"{key}={sys.argv[1]}"


def _extract(app, params):
    from quotestance.extract.batch import extract

    return extract(app)


def _eval_extract(app, params):
    from quotestance.extract.evaluation import eval_extract

    return eval_extract(app)


def _dataset(app, params):
    from quotestance.dataset import dataset

    return dataset(app, params)


def _train(app, params):
    from quotestance.train import train

    return train(app, params)


def _pipeline(app, params):
    from quotestance.pipeline import pipeline

    return pipeline(app, params)


def _evaluate(app, params):
    from quotestance.evaluate import evaluate

    return evaluate(app, params)


def _register(app, params):
    from quotestance.register import register

    return register(app)


def _serve(app, params):
    from quotestance.serve import serve

    return serve(app)


def _score(app, params):
    from quotestance.score import score

    return score(app)


def _report(app, params):
    from quotestance.report import report

    return report(app)


extract_main = command("extract", _extract)
eval_extract_main = command("eval_extract", _eval_extract)
dataset_main = command("dataset", _dataset)
train_main = command("train", _train)
pipeline_main = command("pipeline", _pipeline)
evaluate_main = command("evaluate", _evaluate)
serve_main = command("serve", _serve)
score_main = command("score", _score)
report_main = command("report", _report)
_register_main = command("register", _register)


def register_main() -> None:
    """`quotestance-register [register|rollback|export] [overrides]`: the first word picks the action."""
    first_word_action(("register", "rollback", "export"), "register.action")
    _register_main()
