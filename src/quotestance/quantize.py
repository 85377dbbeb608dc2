"""Build-time fast paths, written beside the weights when a model is trained (apart from the runtime
predictor in infer.py, which only loads and measures them):

- `build_int8`: `model.int8.onnx`, the model exported to ONNX, fused, with int8 weights;
- `save_parity_rows`: the labelled rows (held-out first) every machine that loads the model measures its
  paths on;
- `check_parity`: every path measured on the training machine, recorded in `parity.json` and the cache.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quotestance.infer import (
    INT8_FILE,
    PARITY_FILE,
    PARITY_ROWS_FILE,
    Predictor,
    measure_paths,
    remember_choice,
)
from quotestance.io import write_json

MIN_PARITY_ROWS = 1000


def cls_only_tail(model):
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
        torch.onnx.export(
            cls_only_tail(model) if bert else model,
            (ids, torch.ones_like(ids)),
            str(tmp / "fp32.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
        fused = tmp / "fp32.onnx"
        if bert:  # other families still quantise, unfused and whole
            opt = optimizer.optimize_model(
                str(fused),
                model_type="bert",
                num_heads=model.config.num_attention_heads,
                hidden_size=model.config.hidden_size,
            )
            fused = tmp / "fused.onnx"
            opt.save_model_to_file(str(fused))
        level = logging.getLogger().level
        logging.getLogger().setLevel(
            logging.ERROR
        )  # the quantiser's advice to pre-process, on the root logger
        try:
            quantize_dynamic(
                str(fused),
                str(tmp / INT8_FILE),
                per_channel=True,
                reduce_range=True,
                weight_type=QuantType.QInt8,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            logging.getLogger().setLevel(level)
        os.replace(tmp / INT8_FILE, model_dir / INT8_FILE)
    return model_dir / INT8_FILE


def parity_rows(splits: dict[str, list[dict]]) -> list[dict]:
    """MIN_PARITY_ROWS rows: held-out rows first (test, validation), then gold train rows.

    Agreement with fp32 is what parity measures; held-out rows are the hard ones (the model is less sure of
    them), and the train rows only make up the count on a small corpus. The count is fixed, not "at least":
    every machine that loads the model times each path on these rows once, and a growing test split should
    not make that first load (or training) slower.
    """
    rows = [r | {"split": s} for s in ("test", "validation") for r in splits[s]]
    extra = [r | {"split": "train"} for r in splits["train"] if r.get("label_source", "gold") == "gold"]
    return (rows + extra)[:MIN_PARITY_ROWS]


def save_parity_rows(model_dir: str | Path, rows: Sequence[dict[str, Any]], stance: Sequence[str]) -> Path:
    """The labelled rows every machine that loads the model measures its paths on (`measure_paths`)."""
    keep = ("quote", "text", "speaker", "context", "label", "split")
    path = Path(model_dir) / PARITY_ROWS_FILE
    write_json(
        path,
        {"stance": list(stance), "rows": [{k: r[k] for k in keep if r.get(k) is not None} for r in rows]},
    )
    return path


def check_parity(pred: Predictor, model_dir: str | Path) -> dict[str, Any]:
    """Measure every path on this (the training) machine: `parity.json` beside the weights, and the cache.

    The record shows how the model fared where it was trained; every other machine measures again.
    """
    result = measure_paths(pred, model_dir)
    write_json(Path(model_dir) / PARITY_FILE, result)
    remember_choice(pred, model_dir, result)
    return result
