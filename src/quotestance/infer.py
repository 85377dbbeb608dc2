"""Inference: score quotes with a trained stance model, as fast as this CPU allows, with fp32's labels.

This is the one scorer behind evaluation, the pyfunc model (so `quotestance-score` and the REST server) and
`benchmarks/score_bench.py`. It tokenises everything once, sorts by token count and pads each batch only to
its own longest row, so almost no compute goes to padding (sorting by characters left about a quarter of
the tokens of our short quotes as padding). It runs in one of three precisions:

- `fp32`: the reference (torch, inference mode);
- `bf16`: torch under bf16 autocast (AVX-512 BF16 or AMX); it moves a label only on a near-exact tie, so
  rows whose top-two probability gap is under `bf16_margin` are scored again in fp32;
- `int8`: `model.int8.onnx`, written by `build_int8` when the model is trained: the graph exported to ONNX,
  attention/LayerNorm/GELU fused, weights quantised to int8 per channel, activations per batch (dynamic), run
  by ONNX Runtime on VNNI. Batches run concurrently, one thread each, which beats one batch on all threads
  for matrices this small; the last layer computes [CLS] only (`_cls_only_tail`). int8 alone moves more
  labels than the parity bar allows (most on held-out events, where the model is less sure), nearly all on
  rows whose top two probabilities are close; so rows whose int8 gap is under `margin` are scored again in
  bf16 (and their near-ties in fp32), which keeps the labels of fp32 (the benchmark prints how many).

`precision="auto"` takes the fastest path that the CPU runs natively (`cpu_features`) and that passed the
parity check at training time (`parity.json` in the model folder: label agreement with fp32 >= 99 % and
stance macro-F1 within 0.5 points on the test split). `QUOTESTANCE_PRECISION` overrides it at load time.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

PRECISIONS = ("fp32", "bf16", "int8")
INT8_FILE = "model.int8.onnx"
PARITY_FILE = "parity.json"
MIN_AGREEMENT = 0.99  # label agreement with fp32
MAX_F1_DELTA = 0.5  # stance macro-F1 change, in points


def render(template: str, row: dict[str, Any]) -> str:
    """The model's input text for one quote.

    >>> render("{speaker}: {quote}", {"quote": "We act on orders.", "speaker": "Dana Whitfield"})
    'Dana Whitfield: We act on orders.'
    >>> render("{speaker}: {quote}", {"quote": "No comment."})
    'No comment.'
    """
    fields = {"quote": row.get("quote") or row.get("text") or "", "speaker": row.get("speaker") or "",
              "context": row.get("context") or ""}
    out = template.format(**fields).strip()
    return out.lstrip(":").strip() if not fields["speaker"] else out


@lru_cache(maxsize=1)
def cpu_features() -> frozenset[str]:
    """The CPU's instruction-set flags that matter here (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return frozenset(flags) & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "amx_bf16"}


def native(precision: str, features: AbstractSet[str]) -> bool:
    """Whether the CPU runs this precision in hardware (else it is emulated, slower than fp32)."""
    return {"fp32": True, "bf16": bool(features & {"avx512_bf16", "amx_bf16"}),
            "int8": bool(features & {"avx512_vnni", "avx_vnni", "amx_int8"})}[precision]


def choose_precision(requested: str, model_dir: str | Path, features: AbstractSet[str] | None = None) -> str:
    """`requested` itself, or for "auto" the fastest native path that passed parity for this model."""
    if requested != "auto":
        if requested not in PRECISIONS:
            raise ValueError(f"precision {requested!r}: one of auto, {', '.join(PRECISIONS)}")
        return requested
    features = cpu_features() if features is None else features
    passed = read_parity(model_dir)
    runnable = {"int8": _has_onnxruntime() and (Path(model_dir) / INT8_FILE).exists(), "bf16": True}
    for p in ("int8", "bf16"):
        if native(p, features) and runnable[p] and passed.get(p, {}).get("passed"):
            return p
    return "fp32"


def read_parity(model_dir: str | Path) -> dict[str, dict[str, Any]]:
    f = Path(model_dir) / PARITY_FILE
    return json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Predictor:
    """Batched inference over quote rows; `logits(rows)` is the whole interface."""

    tokenizer: Any
    model: Any  # the torch model: the fp32 and bf16 paths, and the second look at int8's close calls
    labels: list[str]
    template: str
    max_length: int = 128
    batch_size: int = 32  # bigger batches were slower on 2 cores (docs/benchmarks.md)
    precision: str = "fp32"
    session: Any = None  # the ONNX Runtime session for int8
    margin: float = 0.3  # int8 rows with a top-two probability gap under this are scored again
    bf16_margin: float = 0.02  # bf16 rows (from either) with a gap under this are scored again in fp32
    threads: int = 0  # concurrent int8 batches; 0: torch's thread count
    stats: dict[str, int] = field(default_factory=dict)  # rows scored by each precision in the last call

    def plan(self) -> list[tuple[str, float]]:
        """(precision, margin) stages: each scores the rows whose gap was under the previous stage's margin.

        bf16 moves labels only on near-exact ties, int8 on gaps up to about the default margin; each fast
        stage hands its close calls to a more precise one, fp32 last.
        """
        bf16 = native("bf16", cpu_features())
        return {"fp32": [("fp32", 0.0)], "bf16": [("bf16", self.bf16_margin), ("fp32", 0.0)],
                "int8": [("int8", self.margin)] + ([("bf16", self.bf16_margin)] if bf16 else [])
                + [("fp32", 0.0)]}[self.precision]

    def logits(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        out = np.zeros((len(rows), len(self.labels)), dtype=np.float32)
        self.stats = {}
        if not rows:
            return out
        ids = self.tokenizer([render(self.template, r) for r in rows], truncation=True,
                             max_length=self.max_length)["input_ids"]
        todo = list(range(len(ids)))
        for precision, margin in self.plan():
            order = sorted(todo, key=lambda i: len(ids[i]))
            batches = [order[k:k + self.batch_size] for k in range(0, len(order), self.batch_size)]
            if precision == "int8":
                self._run_onnx(ids, batches, out)
            else:
                self._run_torch(ids, batches, out, bf16=precision == "bf16")
            self.stats[precision] = len(todo)
            p = np.exp(out[todo] - out[todo].max(1, keepdims=True))
            p = np.sort(p / p.sum(1, keepdims=True), 1)
            todo = [i for i, gap in zip(todo, p[:, -1] - p[:, -2]) if gap < margin]
            if not todo:
                break
        return out

    def _pad(self, ids: list[list[int]], idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(ids[i]) for i in idx)
        pad = self.tokenizer.pad_token_id or 0
        x = np.full((len(idx), width), pad, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            x[row, :len(ids[i])] = ids[i]
            mask[row, :len(ids[i])] = 1
        return x, mask

    def _run_torch(self, ids, batches, out: np.ndarray, bf16: bool) -> None:
        import torch

        self.model.eval()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for idx in batches:
                x, mask = self._pad(ids, idx)
                out[idx] = self.model(input_ids=torch.from_numpy(x),
                                      attention_mask=torch.from_numpy(mask)).logits.float().numpy()

    def _run_onnx(self, ids, batches, out: np.ndarray) -> None:
        import torch

        def one(idx: list[int]) -> None:  # ONNX Runtime releases the GIL while it runs
            x, mask = self._pad(ids, idx)
            out[idx] = self.session.run(None, {"input_ids": x, "attention_mask": mask})[0]

        with ThreadPoolExecutor(self.threads or torch.get_num_threads()) as pool:
            list(pool.map(one, batches))


def load_predictor(model_dir: str | Path, template: str, max_length: int = 128, precision: str = "auto",
                   margin: float = 0.3, bf16_margin: float = 0.02) -> Predictor:
    """A Predictor for a Hugging Face model folder, in `precision` (see `choose_precision`)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    precision = choose_precision(precision, model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return in_precision(Predictor(tok, model, labels, template, max_length, margin=margin,
                                  bf16_margin=bf16_margin), precision, model_dir)


def in_precision(pred: Predictor, precision: str, model_dir: str | Path) -> Predictor:
    """The same loaded model and tokenizer in another precision (no second load of the weights)."""
    session = _session(Path(model_dir) / INT8_FILE) if precision == "int8" else None
    return replace(pred, precision=precision, session=session)


def _session(path: Path):
    if not path.exists():
        raise FileNotFoundError(f"precision int8 needs {path}: build it with quotestance.infer.build_int8")
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # parallel over batches instead (Predictor._run_onnx)
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _cls_only_tail(model):
    """A BERT classifier whose last layer computes the [CLS] position only, with the same logits.

    The classifier reads [CLS] alone, so in the last layer the other positions matter only as keys and
    values: their queries, attention outputs and feed-forward are skipped (about 1/7 of MiniLM-L6's work).
    """
    import copy

    import torch

    class ClsOnlyTail(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = copy.deepcopy(model)
            self.last = self.m.bert.encoder.layer[-1]
            self.m.bert.encoder.layer = self.m.bert.encoder.layer[:-1]

        def forward(self, input_ids, attention_mask):
            x = self.m.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            att, heads = self.last.attention.self, self.m.config.num_attention_heads
            b, s, d = x.shape[0], x.shape[1], att.attention_head_size

            def split(t, n):
                return t.view(b, n, heads, d).transpose(1, 2)

            q, k, v = split(att.query(x[:, :1]), 1), split(att.key(x), s), split(att.value(x), s)
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            w = torch.softmax(q @ k.transpose(2, 3) * att.scaling + bias, -1)
            y = self.last.attention.output((w @ v).transpose(1, 2).reshape(b, 1, heads * d), x[:, :1])
            y = self.last.output(self.last.intermediate(y), y)
            return self.m.classifier(self.m.bert.pooler(y))

    return ClsOnlyTail().eval()


def build_int8(model_dir: str | Path) -> Path:
    """Write `model_dir/model.int8.onnx`: the model exported to ONNX, fused, with int8 weights.

    Per-channel weights moved far fewer labels than per-tensor ones. reduce_range (7-bit
    weights) keeps CPUs without VNNI from saturating, should the file be forced on one.
    """
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModelForSequenceClassification

    model_dir = Path(model_dir)
    # eager attention: the pattern ONNX Runtime's optimizer fuses into its Attention kernel
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".onnx.") as tmpd, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer and deprecation warnings
        tmp = Path(tmpd)
        ids = torch.ones(2, 8, dtype=torch.long)
        # the TorchScript exporter: its graphs are the ones ONNX Runtime's BERT fusions recognise
        bert = model.config.model_type == "bert"
        torch.onnx.export(_cls_only_tail(model) if bert else model, (ids, torch.ones_like(ids)), str(tmp / "fp32.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
        fused = tmp / "fp32.onnx"
        if bert:  # other families still quantise, unfused and whole
            opt = optimizer.optimize_model(str(fused), model_type="bert", num_heads=model.config.num_attention_heads,
                                           hidden_size=model.config.hidden_size)
            fused = tmp / "fused.onnx"
            opt.save_model_to_file(str(fused))
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # the quantiser's advice to pre-process, on the root logger
        try:
            quantize_dynamic(str(fused), str(tmp / INT8_FILE), per_channel=True, reduce_range=True,
                             weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        finally:
            logging.getLogger().setLevel(level)
        os.replace(tmp / INT8_FILE, model_dir / INT8_FILE)
    return model_dir / INT8_FILE


def check_parity(model_dir: str | Path, template: str, max_length: int, rows: Sequence[dict[str, Any]],
                 stance: Sequence[str], margin: float = 0.3, bf16_margin: float = 0.02) -> dict[str, dict[str, Any]]:
    """Each fast path against fp32 on `rows` (gold `label`s); written to `model_dir/parity.json`."""
    from sklearn.metrics import f1_score

    labels_of = {}
    ref = load_predictor(model_dir, template, max_length, "fp32", margin, bf16_margin)
    for p in ("fp32", "bf16") + (("int8",) if (Path(model_dir) / INT8_FILE).exists() else ()):
        pred = in_precision(ref, p, model_dir)
        labels_of[p] = [pred.labels[i] for i in pred.logits(rows).argmax(1)]
    gold = [r["label"] for r in rows]

    def f1(y: list[str]) -> float:
        return 100 * float(f1_score(gold, y, labels=list(stance), average="macro", zero_division=0))

    out = {}
    ref = labels_of.pop("fp32")
    for p, labels in labels_of.items():
        agree = float(np.mean([a == b for a, b in zip(labels, ref)])) if rows else 1.0
        delta = f1(labels) - f1(ref)
        out[p] = {"agreement": agree, "stance_macro_f1_delta_points": delta, "rows": len(rows),
                  "passed": bool(rows) and agree >= MIN_AGREEMENT and abs(delta) <= MAX_F1_DELTA}
    tmp = Path(model_dir) / f".{PARITY_FILE}.tmp"
    tmp.write_text(json.dumps(out, indent=1), encoding="utf-8")
    os.replace(tmp, Path(model_dir) / PARITY_FILE)
    return out
