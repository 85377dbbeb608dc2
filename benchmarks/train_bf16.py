"""Training speed and quality, fp32 vs bf16 autocast, on this machine's CPU: same data, seed and epochs.

usage: python benchmarks/train_bf16.py [--epochs 2] [--dataset data/processed]

Prints one row per precision (seconds per epoch, best validation stance macro-F1, test stance macro-F1) and
the speed ratio. Needs the dataset built by `quotestance-dataset`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from quotestance.config import ModelConfig, TrainConfig
from quotestance.evaluate import evaluate, softmax
from quotestance.runs import load_splits
from quotestance.infer import load_predictor
from quotestance.train import train_model

LABELS = ["demand_takedown", "neutral_infrastructure", "law_enforcement_deference", "other"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--dataset", default="data/processed")
    a = ap.parse_args()
    splits = load_splits(a.dataset)
    model = ModelConfig()
    rows = []
    for bf16 in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(epochs=a.epochs, learning_rate=1e-4, bf16=bf16, patience=a.epochs,
                              checkpoint_dir=str(Path(tmp) / "ck"))
            t0 = time.perf_counter()
            res = train_model(splits["train"], splits["validation"], LABELS, LABELS[:3], model, cfg, str(Path(tmp) / "m"))
            secs = (time.perf_counter() - t0) / len(res.history)
            pred = load_predictor(str(Path(tmp) / "m"), cfg.template, model.max_length, "bf16" if bf16 else "fp32")
            test = evaluate(splits["test"], softmax(pred.logits(splits["test"])), LABELS, LABELS[:3], "")
            rows.append(("bf16 autocast" if bf16 else "fp32", secs,
                         max(h["val_stance_macro_f1"] for h in res.history), test.metrics["stance_macro_f1"]))
    print(f"| precision | seconds/epoch | best val stance macro-F1 | test stance macro-F1 |  ({a.epochs} epochs, "
          f"{len(splits['train'])} train quotes, MiniLM-L6, lr 1e-4)")
    print("|---|---:|---:|---:|")
    for name, secs, val, test in rows:
        print(f"| {name} | {secs:.1f} | {val:.3f} | {test:.3f} |")
    print(f"bf16_speedup: {rows[0][1] / rows[1][1]:.2f}")


if __name__ == "__main__":
    main()
