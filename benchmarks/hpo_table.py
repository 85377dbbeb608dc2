"""The newest `quotestance-train experiment=hpo` study as a table: one row per trial (its parameters, validation
stance macro-F1, which chose the best, and the real sets each trial scored for the record).

usage: python benchmarks/hpo_table.py [--write docs/experiments.md]

Reads MLflow (experiments/mlflow.db): the newest finished run tagged stage=hpo and its nested trial runs. --write
puts the table between the `<!-- hpo:begin -->` and `<!-- hpo:end -->` markers of the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sections import write_block

COLUMNS = ("validation", "external_realdev", "external_realdev2")


def study_lines() -> list[str]:
    import mlflow

    from quotestance.config import MlflowConfig
    from quotestance.tracking import setup

    cfg = MlflowConfig()
    setup(cfg, create=False)
    parents = mlflow.search_runs(
        experiment_names=[cfg.experiment],
        filter_string="tags.stage = 'hpo' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not parents:
        sys.exit("no finished hpo study in MLflow: run `quotestance-train experiment=hpo` first")
    parent = parents[0]
    trials = mlflow.search_runs(
        experiment_names=[cfg.experiment],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["attributes.start_time ASC"],
        output_format="list",
    )
    best = parent.data.metrics.get("best_validation_stance_macro_f1")
    lines = [
        f"Study `{parent.info.run_id[:12]}`: {len(trials)} trials, chosen on validation stance macro-F1 "
        f"(best {best:.3f}); the real sets are scored for the record only.",
        "",
        "| trial | learning rate | batch | epochs | input | validation | realdev | realdev2 |",
        "|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for k, t in enumerate(trials):
        p, m = t.data.params, t.data.metrics
        scores = " | ".join(
            f"{m[f'{c}_stance_macro_f1']:.3f}" if f"{c}_stance_macro_f1" in m else "" for c in COLUMNS
        )
        lines.append(
            f"| {k} | {float(p['learning_rate']):.1e} | {p['batch_size']} | {p['epochs']} | "
            f"`{p['template']}` | {scores} |"
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", type=Path)
    a = ap.parse_args()
    lines = study_lines()
    print("\n".join(lines))
    if a.write:
        write_block(a.write, "hpo", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
