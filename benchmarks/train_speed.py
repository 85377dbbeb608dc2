"""Where training time goes on this CPU, and what grouping batches by length buys, at the same quality.

usage: python benchmarks/train_speed.py [--epochs 5] [--seeds 13 14] [--dataset data/processed] [--write docs/benchmarks.md]

Trains the default model (MiniLM-L6, the default recipe) on the built dataset once per configuration and
seed: fp32, and bf16 autocast only where this CPU runs it natively (emulated it is several times slower,
so it is skipped, saying so), each with plain shuffled batches and with length-grouped ones
(`train.group_by_length`), and fp32 by length with the bottom 4 layers frozen (what `train.freeze=auto`
trains where bf16 is not native). Per configuration (mean over seeds): seconds per epoch, its split into forward,
backward, optimizer step and the validation pass, the share of padding among the tokens computed, the best
validation stance macro-F1 and the test stance macro-F1 (scored in fp32). Run it as an AVX2-only CPU would
with QUOTESTANCE_CPU_FLAGS=avx2 (torch's kernels are capped too). --write puts the table in this CPU family's
section of the file. Needs the dataset built by `quotestance-dataset` (or `make pipeline`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from omegaconf import OmegaConf
from sections import write_section

from quotestance.config import CONF_DIR, LabelsConfig, LabelSpec, ModelConfig, TrainConfig
from quotestance.cpu import cpu_features, describe, native
from quotestance.dataset import load_splits
from quotestance.evaluate import measure
from quotestance.infer import load_predictor
from quotestance.metrics import softmax
from quotestance.records import LABELS as RECORD_LABELS
from quotestance.train import train_model

LABELS = list(RECORD_LABELS)
# what `train.freeze=auto` keeps frozen without native bf16: the shipped model config's own count
FROZEN = int(OmegaConf.load(CONF_DIR / "model/minilm_l6.yaml").freeze_layers)
PARTS = ("forward", "backward", "optimizer", "validation")


def one_run(
    splits, precision: str, grouped: bool, seed: int, epochs: int, frozen: int = 0
) -> dict[str, float]:
    model = ModelConfig(freeze_layers=frozen)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            epochs=epochs,
            bf16=precision,
            freeze="true" if frozen else "false",  # each row says what it trains, whatever auto would choose
            group_by_length=grouped,
            seed=seed,
            patience=epochs,
            checkpoint_dir=str(Path(tmp) / "ck"),
        )
        res = train_model(
            splits["train"], splits["validation"], LABELS, LABELS[:3], model, cfg, str(Path(tmp) / "m")
        )
        pred = load_predictor(str(Path(tmp) / "m"), cfg.template, model.max_length, "fp32")
        test = measure(splits["test"], softmax(pred.logits(splits["test"])), LABELS, LABELS[:3], "")
    h = res.history
    out = {
        "epoch_seconds": statistics.mean(e["epoch_seconds"] for e in h),
        "padding_share": statistics.mean(e["padding_share"] for e in h),
        "val": max(e["val_stance_macro_f1"] for e in h),
        "test": test.metrics["stance_macro_f1"],
    }
    out |= {p: statistics.mean(e[f"seconds_{p}"] for e in h) for p in PARTS}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[13])
    ap.add_argument("--dataset", default="data/processed")
    ap.add_argument("--write", help="also put the table in this CPU family's section of this markdown file")
    a = ap.parse_args()
    splits = load_splits(a.dataset, LabelsConfig([LabelSpec(n) for n in LABELS], LABELS[:3]))
    lines = [
        f"CPU: {describe()}",
        f"{len(splits['train'])} train quotes, MiniLM-L6, {a.epochs} epochs, "
        f"seeds {', '.join(map(str, a.seeds))} (every epoch run: no early stop)",
        "",
    ]
    precisions = ["fp32"] + (["bf16"] if native("bf16", cpu_features()) else [])
    if "bf16" not in precisions:
        lines += ["bf16: skipped, emulated on this CPU (no AVX-512 BF16 or AMX): slower than fp32", ""]
    lines += [
        "| training | batches | s/epoch | speed | forward | backward | optimizer | validation | padding | "
        "best val stance F1 | test stance F1 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = None
    # every layer trained, shuffled and by length, per precision; then what `train.freeze=auto` does on a CPU
    # without native bf16: fp32, by length, the embeddings and bottom FROZEN layers kept as pretrained
    configs = [(p, g, 0) for p in precisions for g in (False, True)] + [("fp32", True, FROZEN)]
    for precision, grouped, frozen in configs:
        runs = [one_run(splits, precision, grouped, s, a.epochs, frozen) for s in a.seeds]
        m = {k: statistics.mean(r[k] for r in runs) for k in runs[0]}
        base = base or m["epoch_seconds"]  # fp32 with shuffled batches, the old default off bf16 CPUs
        training = f"{precision}, bottom {frozen} of 6 frozen" if frozen else precision
        lines.append(
            f"| {training} | {'by length' if grouped else 'shuffled'} | {m['epoch_seconds']:.1f} | "
            f"{base / m['epoch_seconds']:.2f}x | "
            + " | ".join(f"{m[p]:.1f}" for p in PARTS)
            + f" | {100 * m['padding_share']:.0f} % | {m['val']:.3f} | {m['test']:.3f} |"
        )
        print(lines[-1], flush=True)
    print("\n".join(lines))
    if a.write:
        write_section(Path(a.write), "train_speed", lines)


if __name__ == "__main__":
    main()
