"""The main job: dataset -> train (transformer + baseline, each evaluated in its run) -> register, nothing
else; each stage's seconds printed at the end. `make pipeline` runs it (after scoring extraction)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from quotestance.config import PipelineApp
from quotestance.cpu import describe
from quotestance.dataset import DatasetError, build_dataset, log_dataset
from quotestance.evaluate import summary_table
from quotestance.progress import quiet_libraries, say, stage
from quotestance.register import RegisterError, register_run
from quotestance.train import TrainError, run_baseline, run_transformer

T = TypeVar("T")


def pipeline(app: PipelineApp, params: dict[str, Any]) -> int:
    """Build the dataset, train and evaluate both models, register the transformer (gated). Exit code."""
    quiet_libraries()
    times: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], T]) -> T:
        with stage(name):
            t = time.perf_counter()
            out = fn()
            times[name] = time.perf_counter() - t
        return out

    say(f"CPU: {describe()}")
    try:
        timed(
            "dataset",
            lambda: build_dataset(
                app.dataset, app.labels, app.extract, tracking=log_dataset(app.mlflow, params)
            ),
        )
        results = {"transformer": timed("train+evaluate transformer", lambda: run_transformer(app, params))}
        if app.baseline:
            results["baseline"] = timed("train+evaluate baseline", lambda: run_baseline(app, params))
        reg = app.register
        reg.run_id = results["transformer"]["run_id"]
        d = timed("register", lambda: register_run(reg, app.mlflow, app.labels.names))
    except (DatasetError, TrainError, FileNotFoundError, RegisterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary_table(results))
    print(
        f"{reg.model_name} v{d.version}: "
        + ("promoted to @champion" if d.promoted else "promotion refused")
        + " ("
        + "; ".join(d.reasons)
        + ")"
    )
    print(
        "\n".join(f"seconds {k}: {v:.1f}" for k, v in times.items())
        + f"\nseconds total: {sum(times.values()):.1f}"
    )
    return 0
