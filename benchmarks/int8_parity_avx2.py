"""int8 parity on an AVX2-only CPU's kernels, measured without one: ONNX Runtime under QEMU's Haswell model.

usage: python benchmarks/int8_parity_avx2.py [--model models/quote-stance] [--cpu Haswell] [--write docs/benchmarks.md]
needs: qemu-user (Debian: apt-get install qemu-user), and a model with its parity rows (`make pipeline`,
`quotestance-register export`).

ONNX Runtime picks its int8 kernels from CPUID, and QUOTESTANCE_CPU_FLAGS cannot change that, so on a VNNI
machine the int8 path is always the VNNI one. Under `qemu-x86_64 -cpu Haswell` (AVX2, FMA, no AVX-512, no
VNNI) it runs its AVX2 u8s8 kernels instead, as on a real AVX2-only CPU; emulated, so slowly (minutes), and
only the raw int8 logits are computed there. Everything else runs natively: the fp32 reference and this
machine's own int8, and the second-look cascade is replayed exactly from the logits (the first stage scores
every row in the same batches; an AVX2 CPU has no native bf16, so close calls go to fp32). Prints, for each
margin, label agreement with fp32 and the stance macro-F1 change on the saved rows, for both kernels.
Timings under emulation mean nothing and are not printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MARGINS = (0.0, 0.3, 0.5, 0.7, 0.9)


def raw_int8(model: str, out: str) -> None:
    """The child's job: raw int8 logits (no second look) on the parity rows, saved to `out`."""
    import torch

    from quotestance.infer import in_precision, load_predictor

    torch.set_num_threads(1)  # one emulated thread: the other core stays free
    pred = load_predictor(model, "{speaker}: {quote}", 128, "fp32")
    rows = json.loads((Path(model) / "parity_rows.json").read_text(encoding="utf-8"))["rows"]
    np.save(out, in_precision(pred, "int8", model, margin=0.0).logits(rows))


def cascade(int8: np.ndarray, fp32: np.ndarray, margin: float) -> np.ndarray:
    """Labels of the int8 path with second looks in fp32 below `margin` (an AVX2 CPU's cascade)."""
    p = np.exp(int8 - int8.max(1, keepdims=True))
    p = np.sort(p / p.sum(1, keepdims=True), 1)
    close = (p[:, -1] - p[:, -2]) < margin
    return np.where(close, fp32.argmax(1), int8.argmax(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models/quote-stance"))
    ap.add_argument("--cpu", default="Haswell", help="QEMU CPU model: AVX2 without AVX-512 or VNNI")
    ap.add_argument("--write", help="also put the table between the int8_avx2 markers of this markdown file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        raw_int8(a.model, a.child)
        return
    qemu = shutil.which("qemu-x86_64")
    if not qemu:
        sys.exit("error: qemu-x86_64 not found (Debian: apt-get install qemu-user)")
    from sklearn.metrics import f1_score

    from quotestance.infer import in_precision, load_predictor

    saved = json.loads((Path(a.model) / "parity_rows.json").read_text(encoding="utf-8"))
    rows, stance = saved["rows"], saved["stance"]
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "int8.npy")
        env = {**os.environ, "QUOTESTANCE_CPU_FLAGS": "avx2", "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run(
            [qemu, "-cpu", a.cpu, sys.executable, __file__, "--model", a.model, "--child", out],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            sys.exit(f"error: the emulated run failed ({proc.returncode}): {proc.stderr[-2000:]}")
        avx2 = np.load(out)
    pred = load_predictor(a.model, "{speaker}: {quote}", 128, "fp32")
    fp32 = pred.logits(rows)
    native = in_precision(pred, "int8", a.model, margin=0.0).logits(rows)
    gold = [r["label"] for r in rows]
    labels = pred.labels

    def f1(y: np.ndarray) -> float:
        return 100 * f1_score(gold, [labels[i] for i in y], labels=stance, average="macro", zero_division=0)

    from quotestance.cpu import describe

    ref = fp32.argmax(1)
    lines = [
        f"{len(rows)} parity rows of the model; int8 kernels: AVX2 (QEMU -cpu {a.cpu}) and this CPU's own "
        f"({describe()})",
        "",
        "| int8 kernels | margin | rows scored again | agreement with fp32 | stance macro-F1 change (points) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, logits in (("AVX2, emulated", avx2), ("this CPU", native)):
        for m in MARGINS:
            y = cascade(logits, fp32, m)
            p = np.exp(logits - logits.max(1, keepdims=True))
            p = np.sort(p / p.sum(1, keepdims=True), 1)
            again = int(((p[:, -1] - p[:, -2]) < m).sum())
            lines.append(f"| {name} | {m} | {again} | {np.mean(y == ref):.4f} | {f1(y) - f1(ref):+.2f} |")
    lines += [
        "",
        f"raw logits, AVX2 vs this CPU's int8: mean |difference| {np.abs(avx2 - native).mean():.4f}, "
        f"labels agree {np.mean(avx2.argmax(1) == native.argmax(1)):.4f}",
    ]
    print("\n".join(lines))
    if a.write:
        from sections import write_block

        write_block(Path(a.write), "int8_avx2", lines)


if __name__ == "__main__":
    main()
