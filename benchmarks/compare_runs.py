"""Whether two MLflow stores hold the same metrics, to the last digit: the latest finished transformer and
baseline training runs of each, every metric compared exactly (timings and system metrics left out).

    python benchmarks/compare_runs.py before/experiments/mlflow.db after/experiments/mlflow.db

Prints each metric that differs and a last line `same: N metrics` or `differ: K of N metrics`; exits 1 when
any differs. Used to check that a refactoring changed no result (`make pipeline` in two fresh clones).
"""

from __future__ import annotations

import argparse
import sys

TIMING = ("seconds", "system/", "quotes_per_s", "train_seconds")


def latest_metrics(db: str) -> dict[str, float]:
    """{'<kind>/<metric>': value} of the newest finished transformer and baseline training runs."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}")
    out: dict[str, float] = {}
    for exp in client.search_experiments():
        for kind in ("transformer", "baseline"):
            runs = client.search_runs(
                [exp.experiment_id],
                f"tags.model_kind = '{kind}' and tags.stage = 'train' and attributes.status = 'FINISHED'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            for run in runs:
                out.update(
                    {f"{kind}/{k}": v for k, v in run.data.metrics.items() if not any(t in k for t in TIMING)}
                )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    a = ap.parse_args()
    before, after = latest_metrics(a.before), latest_metrics(a.after)
    keys = sorted(set(before) | set(after))
    differ = [k for k in keys if before.get(k) != after.get(k)]
    for k in differ:
        print(f"{k}: {before.get(k)!r} -> {after.get(k)!r}")
    print(f"differ: {len(differ)} of {len(keys)} metrics" if differ else f"same: {len(keys)} metrics")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
