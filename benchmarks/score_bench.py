"""Stance-scoring throughput against the plain Hugging Face pipeline, measured in one run on this CPU.

usage: python benchmarks/score_bench.py [--n 2000] [--model models/quote-stance | runs:/<id>/model ...]

Rows, all over the same N quotes of realistic lengths (our corpus's gold quotes, repeated and shuffled):
  baseline A: transformers.pipeline("text-classification"), default settings, one quote per call;
  baseline B: the same pipeline with batch_size=64;
  ours: the Predictor that the pyfunc model and quotestance-score use (length-sorted batches, dynamic
        padding, inference mode), in fp32 and with bf16 autocast; the faster one that agrees with fp32 wins.
Also printed: tokens/s and achieved GFLOP/s (about 2 x encoder parameters x tokens) against a measured
ceiling (a large matmul in the same dtype). The last line is `ratio_vs_hf_pipeline: X.XX` (ours / A).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def matmul_gflops(dtype, n: int = 2048, reps: int = 5) -> float:
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def main() -> None:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from quotestance.train import Predictor, render

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--n-single", type=int, default=300, help="quotes for baseline A (one per call; slow)")
    ap.add_argument("--model", default=str(ROOT / "models/quote-stance"), help="a Hugging Face folder")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gold = [json.loads(x) for x in (ROOT / "data/annotations/gold.jsonl").read_text(encoding="utf-8").splitlines()]
    rnd = random.Random(0)
    rows = [{"quote": g["quote"], "speaker": g["speaker"]} for g in (gold * (a.n // len(gold) + 1))[: a.n]]
    rnd.shuffle(rows)
    template = "{speaker}: {quote}"
    texts = [render(template, r) for r in rows]
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    n_tokens = sum(len(x) for x in tok(texts)["input_ids"])
    params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    pipe = pipeline("text-classification", model=model, tokenizer=tok, device=-1)
    pipe(texts[:8])
    results = []
    t = time.perf_counter()
    for x in texts[: a.n_single]:
        pipe(x)
    results.append(("A: HF pipeline, one quote per call", a.n_single / (time.perf_counter() - t), None))
    t = time.perf_counter()
    pipe(texts, batch_size=64)
    results.append(("B: HF pipeline, batch_size=64", len(texts) / (time.perf_counter() - t), None))
    preds = {}
    for bf16 in (False, True):
        p = Predictor(tok, model, labels, template, 128, batch_size=64, bf16=bf16)
        p.logits(rows[:64])
        t = time.perf_counter()
        preds[bf16] = p.logits(rows).argmax(1)
        results.append((f"ours, {'bf16 autocast' if bf16 else 'fp32'}", len(rows) / (time.perf_counter() - t), bf16))
    agree = float(np.mean(preds[True] == preds[False]))
    ours = max((r for r in results if r[2] is not None and (r[2] is False or agree >= 0.99)), key=lambda r: r[1])
    ceiling = {False: matmul_gflops(torch.float32), True: matmul_gflops(torch.bfloat16)}
    print(f"{len(rows)} quotes, {n_tokens / len(rows):.1f} tokens per quote, encoder {params / 1e6:.1f} M "
          f"parameters, {a.threads} threads; bf16 label agreement with fp32: {agree:.4f}")
    print("| scorer | quotes/s | tokens/s | GFLOP/s | % of matmul ceiling |")
    print("|---|---:|---:|---:|---:|")
    for name, qps, bf16 in results:
        gf = 2 * params * qps * n_tokens / len(rows) / 1e9
        ceil = ceiling[bool(bf16)]
        print(f"| {name} | {qps:.1f} | {qps * n_tokens / len(rows):.0f} | {gf:.1f} | {100 * gf / ceil:.1f} |")
    print(f"matmul ceiling: fp32 {ceiling[False]:.0f} GFLOP/s, bf16 {ceiling[True]:.0f} GFLOP/s")
    print(f"chosen: {ours[0]}")
    print(f"ratio_vs_hf_pipeline: {ours[1] / results[0][1]:.2f}")


if __name__ == "__main__":
    main()
