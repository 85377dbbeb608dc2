"""Does a quote's score depend on the quotes batched with it? One model, the same quotes, two sets of neighbours.

usage: python benchmarks/int8_batch_dependence.py [--model-uri models:/quote-stance@champion] [--n 100]

Scores quotes 0..2N-1 of the corpus gold in one call and quotes N..3N-1 in another, so that quotes N..2N-1 are
scored twice beside different neighbours, in each inference path this CPU runs (QUOTESTANCE_PRECISION forced per
path, in a child process each), and prints the largest probability difference and how many labels changed.
int8 quantises activations with one scale per batch, so its scores move with the neighbours; fp32 does not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(model_uri: str, n: int) -> None:
    import mlflow
    import numpy as np
    import pandas as pd

    from quotestance.config import MlflowConfig
    from quotestance.tracking import setup

    setup(MlflowConfig(), create=False)
    model = mlflow.pyfunc.load_model(model_uri)
    gold = [
        json.loads(x) for x in (ROOT / "data/annotations/gold.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    df = pd.DataFrame({"quote": [g["quote"] for g in gold], "speaker": [g.get("speaker") for g in gold]})
    a = model.predict(df.iloc[0 : 2 * n].reset_index(drop=True)).iloc[n : 2 * n].reset_index(drop=True)
    b = model.predict(df.iloc[n : 3 * n].reset_index(drop=True)).iloc[0:n].reset_index(drop=True)
    probs = [c for c in a.columns if c.startswith("prob_")]
    diff = float(np.abs(a[probs].to_numpy() - b[probs].to_numpy()).max())
    changed = int((a["label"] != b["label"]).sum())
    print(f"max_probability_difference={diff:.2e} labels_changed={changed} of {n}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-uri", default="models:/quote-stance@champion")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        one(a.model_uri, a.n)
        return
    from quotestance.cpu import cpu_features, describe
    from quotestance.infer import PRECISION_ENV, native

    print(f"cpu: {describe()}")
    for precision in ["fp32", "bf16", "int8"]:
        if precision == "bf16" and not native("bf16", cpu_features()):
            print("bf16: not native on this CPU, skipped")
            continue
        env = {**os.environ, PRECISION_ENV: precision}
        cmd = [sys.executable, __file__, "--one", "--model-uri", a.model_uri, "--n", str(a.n)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        line = next(
            (x for x in proc.stderr.splitlines() if x.startswith("max_probability")), proc.stderr[-500:]
        )
        print(f"{precision}: {line}")


if __name__ == "__main__":
    main()
