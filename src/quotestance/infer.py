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

`precision="auto"` is decided by measurement on the machine that loads the model (`choose`): the first load
times every path this CPU can run on the labelled rows saved with the model at training (`parity_rows.json`,
1,000 held-out-first rows) and keeps the fastest that passes the parity bar *on this CPU* (label agreement
with fp32 >= 99 % and stance macro-F1 within 0.5 points); for int8 the second-look margin widens until it
passes, or int8 is skipped with its numbers. The choice is cached outside the model folder, keyed by CPU
model, flags (QUOTESTANCE_CPU_FLAGS included), library versions and the model's hash, so later loads are
instant. `QUOTESTANCE_PRECISION` (and `QUOTESTANCE_INT8_MARGIN`) force a path instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from quotestance.cpu import OVERRIDE_ENV, cpu_features, cpu_model, describe, family, native
from quotestance.io import write_json
from quotestance.metrics import stance_macro_f1

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "int8")
INT8_FILE = "model.int8.onnx"
PARITY_FILE = "parity.json"  # the measurement made on the training machine (a record; `choose` re-measures)
PARITY_ROWS_FILE = "parity_rows.json"  # labelled rows saved with the model: parity is measured on them
# what the served model accepts per quote (pyfunc.py refuses more; quotestance-score trims or leaves unscored)
MAX_QUOTE_CHARS, MAX_SPEAKER_CHARS, MAX_CONTEXT_CHARS = 5000, 300, 5000
MIN_AGREEMENT = 0.99  # label agreement with fp32
MAX_F1_DELTA = 0.5  # stance macro-F1 change, in points
WIDER_MARGINS = (0.5, 0.7, 0.9)  # int8 second-look margins tried, in order, when the model's own fails parity
PRECISION_ENV, MARGIN_ENV, CACHE_ENV = (
    "QUOTESTANCE_PRECISION",
    "QUOTESTANCE_INT8_MARGIN",
    "QUOTESTANCE_CACHE_DIR",
)


PAD_MULTIPLE = 16  # batch widths are rounded up to this (Predictor._pad)


_SENTENCE_END = re.compile(r"[.!?][\"”’']?\s+(?=[\"“‘'(]?[A-Z])")
_MARKS = "\"“”‘’' "
FRAME_WORDS = 12  # words kept on each side of the quote


def frame(context: str, quote: str) -> str:
    """The quote's own sentence without the quote: the attribution and the act around it ("X urged the
    registrar to …", "…, the ministry said in a notice"); "" where the quote is not found in its context.

    >>> frame('Regulators said on Monday that the host must act. Others disagreed.', 'the host must act')
    'Regulators said on Monday that …'
    """
    # its first 60 characters place the quote (a context may hold it with other spacing or cut)
    k = context.find(quote[:60]) if quote else -1
    if k < 0:
        return ""
    end = k + (len(quote) if context.startswith(quote, k) else min(len(quote), 60))
    starts = [m.end() for m in _SENTENCE_END.finditer(context, 0, k)]
    left = context[starts[-1] if starts else 0 : k]
    m = _SENTENCE_END.search(context, end)
    right = context[end : m.start() + 1 if m else len(context)]
    left = " ".join(left.strip(_MARKS).split()[-FRAME_WORDS:])
    right = " ".join(right.strip(_MARKS).split()[:FRAME_WORDS]).strip(".,;: ")
    return f"{left} … {right}".strip() if left or right else ""


def render(template: str, row: dict[str, Any]) -> str:
    """The model's input text for one quote.

    >>> render("{speaker}: {quote}", {"quote": "We act on orders.", "speaker": "Dana Whitfield"})
    'Dana Whitfield: We act on orders.'
    >>> render("{speaker}: {quote}", {"quote": "No comment."})
    'No comment.'
    """
    fields = {
        "quote": row.get("quote") or row.get("text") or "",
        "speaker": row.get("speaker") or "",
        "context": row.get("context") or "",
    }
    if "{frame}" in template:  # computed only where asked for
        fields["frame"] = frame(fields["context"], fields["quote"])
    out = template.format(**fields).strip()
    return out.lstrip(":").strip() if not fields["speaker"] else out


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
    choice: dict[str, Any] = field(default_factory=dict)  # how load_predictor chose the precision (`choose`)
    # the TF-IDF partner saved with the model (baseline.py): the logits become the two experts' product
    partner: Any = None

    def plan(self) -> list[tuple[str, float]]:
        """(precision, margin) stages: each scores the rows whose gap was under the previous stage's margin.

        bf16 moves labels only on near-exact ties, int8 on gaps up to about the default margin; each fast
        stage hands its close calls to a more precise one, fp32 last.
        """
        bf16 = native("bf16", cpu_features())
        return {
            "fp32": [("fp32", 0.0)],
            "bf16": [("bf16", self.bf16_margin), ("fp32", 0.0)],
            "int8": [("int8", self.margin)]
            + ([("bf16", self.bf16_margin)] if bf16 else [])
            + [("fp32", 0.0)],
        }[self.precision]

    def logits(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        out = np.zeros((len(rows), len(self.labels)), dtype=np.float32)
        self.stats = {}
        if not rows:
            return out
        ids = self.tokenizer(
            [render(self.template, r) for r in rows], truncation=True, max_length=self.max_length
        )["input_ids"]
        todo = list(range(len(ids)))
        # with a partner, a close call is one the final (mixed) scores are close on: those are rescored
        share = self.partner.share(rows) if self.partner is not None else None
        for precision, margin in self.plan():
            order = sorted(todo, key=lambda i: len(ids[i]))
            batches = [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]
            if precision == "int8":
                self._run_onnx(ids, batches, out)
            else:
                self._run_torch(ids, batches, out, bf16=precision == "bf16")
            self.stats[precision] = len(todo)
            z = out[todo] if share is None else self.partner.combine(out[todo], [], share[todo])
            p = np.exp(z - z.max(1, keepdims=True))
            p = np.sort(p / p.sum(1, keepdims=True), 1)
            todo = [i for i, gap in zip(todo, p[:, -1] - p[:, -2]) if gap < margin]
            if not todo:
                break
        return out if share is None else self.partner.combine(out, rows, share)

    def _pad(self, ids: list[list[int]], idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
        # widths rounded up to a multiple of PAD_MULTIPLE: a long scoring run then sees a few dozen batch shapes,
        # not one per quote length, and the per-shape state of the kernels (oneDNN's primitive cache, ONNX
        # Runtime's plans, the allocator's free lists) stops growing with it: scale_bench --memory measured
        # the peak at 5,000 articles over 1,000 this way. The masked padding costs a few percent of compute.
        longest = max(len(ids[i]) for i in idx)
        width = min(-(-longest // PAD_MULTIPLE) * PAD_MULTIPLE, max(longest, self.max_length))
        pad = self.tokenizer.pad_token_id or 0
        x = np.full((len(idx), width), pad, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            x[row, : len(ids[i])] = ids[i]
            mask[row, : len(ids[i])] = 1
        return x, mask

    def _run_torch(self, ids, batches, out: np.ndarray, bf16: bool) -> None:
        import torch

        self.model.eval()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for idx in batches:
                x, mask = self._pad(ids, idx)
                out[idx] = (
                    self.model(input_ids=torch.from_numpy(x), attention_mask=torch.from_numpy(mask))
                    .logits.float()
                    .numpy()
                )

    def _run_onnx(self, ids, batches, out: np.ndarray) -> None:
        import torch

        def one(idx: list[int]) -> None:  # ONNX Runtime releases the GIL while it runs
            x, mask = self._pad(ids, idx)
            out[idx] = self.session.run(None, {"input_ids": x, "attention_mask": mask})[0]

        with ThreadPoolExecutor(self.threads or torch.get_num_threads()) as pool:
            list(pool.map(one, batches))


def load_predictor(
    model_dir: str | Path,
    template: str,
    max_length: int = 128,
    precision: str = "auto",
    margin: float = 0.3,
    bf16_margin: float = 0.02,
) -> Predictor:
    """A Predictor for a Hugging Face model folder, in `precision` ("auto": see `choose`).

    The chosen path, its margin and why are in `predictor.choice`.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    ref = Predictor(
        tok,
        model,
        labels,
        template,
        max_length,
        margin=margin,
        bf16_margin=bf16_margin,
        partner=partner(model_dir),
    )
    if ref.partner is not None and ref.partner.labels != labels:
        raise ValueError(
            f"{model_dir}: the TF-IDF partner's labels {ref.partner.labels} are not the model's {labels}"
        )
    choice = choose(ref, model_dir, precision)
    return in_precision(
        replace(ref, choice=choice), choice["precision"], model_dir, margin=choice.get("int8_margin", margin)
    )


def partner(model_dir: str | Path) -> Any:
    """The TF-IDF partner saved in the model folder (train.stack_tfidf), or None."""
    from quotestance.baseline import PARTNER_DIR, TfidfBaseline

    folder = Path(model_dir) / PARTNER_DIR
    return TfidfBaseline.load(folder) if (folder / "tfidf.json").exists() else None


def in_precision(
    pred: Predictor, precision: str, model_dir: str | Path, margin: float | None = None
) -> Predictor:
    """The same loaded model and tokenizer in another precision (no second load of the weights)."""
    session = _session(Path(model_dir) / INT8_FILE) if precision == "int8" else None
    return replace(
        pred, precision=precision, session=session, margin=pred.margin if margin is None else margin
    )


def choose(pred: Predictor, model_dir: str | Path, requested: str = "auto") -> dict[str, Any]:
    """Which path (and int8 margin) to score with, and why: {"precision", "int8_margin", "reason", ...}.

    A named precision is taken as asked, even if this CPU only emulates it. "auto" takes
    QUOTESTANCE_PRECISION (and QUOTESTANCE_INT8_MARGIN) when set; else the cached measurement for this CPU,
    libraries and model; else it measures now (`measure_paths`, a few seconds once per machine and model)
    and caches the result. A model saved without labelled rows cannot be measured: fp32.
    """
    margin, why = pred.margin, "asked for by name"
    if requested == "auto" and os.environ.get(PRECISION_ENV):
        requested, why = os.environ[PRECISION_ENV], f"{PRECISION_ENV} forces it"
        try:
            margin = float(os.environ.get(MARGIN_ENV) or pred.margin)
        except ValueError:
            raise ValueError(f"{MARGIN_ENV}={os.environ[MARGIN_ENV]!r} is not a number") from None
    if requested != "auto":
        if requested not in PRECISIONS:
            raise ValueError(f"precision {requested!r}: one of auto, {', '.join(PRECISIONS)}")
        return {"precision": requested, "int8_margin": margin, "reason": why, "measured": False}
    if not (Path(model_dir) / PARITY_ROWS_FILE).exists():
        return {
            "precision": "fp32",
            "int8_margin": pred.margin,
            "measured": False,
            "reason": f"no {PARITY_ROWS_FILE} saved with this model, so no path can be checked on this CPU",
        }
    key = cache_key(pred, model_dir)
    cached = _cache_file(key)
    if cached and cached.exists():
        try:
            return json.loads(cached.read_text(encoding="utf-8")) | {"cached": str(cached)}
        except (OSError, ValueError):
            pass  # a damaged entry is measured again and rewritten
    result = measure_paths(pred, model_dir)
    _write_cache(cached, result | {"key": key})
    return result


def measure_paths(pred: Predictor, model_dir: str | Path) -> dict[str, Any]:
    """Time every path this CPU can run on the saved parity rows; the fastest that passes parity wins.

    fp32 is the reference. bf16 is measured only where it is native (emulated, it is always slower than fp32).
    int8 runs wherever ONNX Runtime does (VNNI or not: AVX2 has int8 multiply-adds too); if it fails the bar
    with the model's margin, wider margins (more rows scored again) are tried before it is ruled out.
    Each path is warmed up on a few rows first, so one-time set-up is not counted.
    """
    saved = json.loads((Path(model_dir) / PARITY_ROWS_FILE).read_text(encoding="utf-8"))
    rows, stance = saved["rows"], saved["stance"]
    features = cpu_features()
    paths: dict[str, dict[str, Any]] = {}
    fp32 = in_precision(pred, "fp32", model_dir)
    ref, paths["fp32"] = _timed(fp32, rows)
    gold = [r["label"] for r in rows]

    def check(p: Predictor) -> dict[str, Any]:
        labels, out = _timed(p, rows)
        agree = float(np.mean([a == b for a, b in zip(labels, ref)])) if rows else 1.0
        delta = 100 * stance_macro_f1(gold, labels, stance) - 100 * stance_macro_f1(gold, ref, stance)
        return out | {
            "agreement": agree,
            "stance_macro_f1_delta_points": delta,
            "rows": len(rows),
            "passed": bool(rows) and agree >= MIN_AGREEMENT and abs(delta) <= MAX_F1_DELTA,
        }

    if native("bf16", features):
        paths["bf16"] = _guarded(lambda: check(in_precision(pred, "bf16", model_dir)))
    else:
        paths["bf16"] = {"skipped": f"emulated on this CPU ({family(features)}: no AVX-512 BF16 or AMX)"}
    if not (Path(model_dir) / INT8_FILE).exists():
        paths["int8"] = {"skipped": f"no {INT8_FILE} beside the weights"}
    elif not _has_onnxruntime():
        paths["int8"] = {"skipped": "onnxruntime is not installed"}
    else:

        def int8() -> dict[str, Any]:
            tried = []
            for m in [pred.margin, *[w for w in WIDER_MARGINS if w > pred.margin]]:
                r = check(in_precision(pred, "int8", model_dir, margin=m)) | {"int8_margin": m}
                tried.append(
                    {k: r[k] for k in ("int8_margin", "agreement", "stance_macro_f1_delta_points", "seconds")}
                )
                if r["passed"]:
                    break
            return r | {"margins_tried": tried}

        paths["int8"] = _guarded(int8)
    best, reason = pick(paths)
    return {
        "precision": best,
        "int8_margin": paths[best].get("int8_margin", pred.margin),
        "reason": reason,
        "measured": True,
        "cpu": describe(),
        "cpu_family": family(features),
        "features": sorted(features),
        "threads": _threads(),
        "paths": paths,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _guarded(measure) -> dict[str, Any]:
    """A fast path's measurement, or a recorded skip if it fails on this machine (a kernel or graph this CPU's
    ONNX Runtime or torch cannot run): losing a fast path costs speed, never the load."""
    try:
        return measure()
    except Exception as e:  # noqa: BLE001 - any failure of an optional path
        return {"skipped": f"failed on this CPU: {type(e).__name__}: {e}"[:300]}


def pick(paths: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The fastest path that passed parity (fp32, the reference, always does), and why.

    >>> pick({"fp32": {"seconds": 4.0}, "int8": {"seconds": 1.5, "passed": False},
    ...       "bf16": {"seconds": 2.5, "passed": True}})
    ('bf16', 'fastest of the paths that passed parity on this CPU (bf16 2.50 s, fp32 4.00 s); failed parity: int8')
    """
    passed = {p: r for p, r in paths.items() if p == "fp32" or r.get("passed")}
    ranked = sorted(passed, key=lambda p: passed[p]["seconds"])
    times = ", ".join(f"{p} {passed[p]['seconds']:.2f} s" for p in ranked)
    failed = [p for p, r in paths.items() if "passed" in r and not r["passed"]]
    skipped = [f"{p} ({r['skipped']})" for p, r in paths.items() if "skipped" in r]
    return ranked[0], (
        f"fastest of the paths that passed parity on this CPU ({times})"
        + (f"; failed parity: {', '.join(failed)}" if failed else "")
        + (f"; not measured: {', '.join(skipped)}" if skipped else "")
    )


def _timed(pred: Predictor, rows: Sequence[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    pred.logits(rows[:64])  # warm-up: ONNX Runtime's and oneDNN's first calls set up kernels
    t = time.perf_counter()
    labels = [pred.labels[i] for i in pred.logits(rows).argmax(1)]
    seconds = time.perf_counter() - t
    return labels, {
        "seconds": seconds,
        "quotes_per_s": len(rows) / seconds if seconds else 0.0,
        "rows_by_precision": dict(pred.stats),
    }


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def cache_key(pred: Predictor, model_dir: str | Path) -> str:
    """What the choice depends on: CPU model and flags (and the override), libraries, threads, model, margins."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    h = hashlib.sha256()
    for name in (
        "model.safetensors",
        INT8_FILE,
        PARITY_ROWS_FILE,
        "config.json",
        "tfidf/tfidf.npz",
        "tfidf/tfidf.json",
    ):
        f = Path(model_dir) / name
        if f.exists():
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023 - read at once
                    h.update(block)
    parts = {
        "cpu": cpu_model(),
        "features": sorted(cpu_features()),
        "override": os.environ.get(OVERRIDE_ENV),
        "libs": {n: ver(n) for n in ("torch", "onnxruntime", "transformers", "quotestance")},
        "threads": _threads(),
        "model": h.hexdigest(),
        "margin": pred.margin,
        "bf16_margin": pred.bf16_margin,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def cache_dir() -> Path:
    """QUOTESTANCE_CACHE_DIR, else $XDG_CACHE_HOME/quotestance, else ~/.cache/quotestance."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quotestance"


def remember_choice(pred: Predictor, model_dir: str | Path, result: dict[str, Any]) -> None:
    """Cache a measurement (`measure_paths`) so the next load on this machine chooses at once."""
    key = cache_key(pred, model_dir)
    _write_cache(_cache_file(key), result | {"key": key})


def _cache_file(key: str) -> Path | None:
    try:
        return cache_dir() / "precision" / f"{key}.json"
    except RuntimeError:  # no home directory to put it in: measure every time
        return None


def _write_cache(path: Path | None, result: dict[str, Any]) -> None:
    """Atomically; a cache that cannot be written costs a re-measure next time, never the load."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, result)
    except OSError as e:
        log.warning("could not cache the precision choice in %s: %s", path, e)


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _session(path: Path):
    if not path.exists():
        raise FileNotFoundError(f"precision int8 needs {path}: build it with quotestance.quantize.build_int8")
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # parallel over batches instead (Predictor._run_onnx)
    so.inter_op_num_threads = 1
    # no memory arena: every batch has its own shape (its longest quote), and the arena kept growing with the
    # shapes it had seen (~250 MB over 40,000 quotes); plain allocations keep a long scoring run flat
    so.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
