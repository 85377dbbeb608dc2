"""Train stage: fine-tune a transformer sequence classifier on the train split, as an MLflow run.

`train` is the stage: the transformer run (`run_transformer`: fine-tune, build the fast inference paths,
evaluate on the path serving takes, log the pyfunc model) and the TF-IDF baseline's run (`run_baseline`),
evaluated the same way (evaluate.evaluate_splits). Each run logs the flattened resolved config as params,
the git commit, the dataset splits as inputs and per-epoch metrics.

`train_model` is the loop itself: a plain PyTorch loop (legible, and every knob that matters for reproducibility on CPU is in view): fixed
seed and thread count, inverse-frequency class weights, linear warm-up/decay, early stopping on validation
stance macro-F1, a checkpoint per epoch with resume, and bf16 autocast where the CPU runs it natively
(`train_precision`). Batches are grouped by length (shuffled, then sorted within windows of
`LENGTH_WINDOW` batches, then the batches shuffled): padding, most of the compute of random batches of these
short quotes, falls away, while every epoch still sees the rows in a new, seeded order.
With `model.freeze_layers` (`FrozenBottom`), the embeddings and the bottom layers stay as pretrained and their
output for each row is computed once, so a step runs only the top layers: on a CPU without native bf16 this is
what keeps `make pipeline` near its time bar (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quotestance.config import ModelConfig, TrainApp, TrainConfig, TrainingApp
from quotestance.cpu import cpu_features, family, native
from quotestance.dataset import load_splits
from quotestance.embed import resolve_model_path
from quotestance.evaluate import evaluate_splits
from quotestance.infer import Predictor, load_predictor, render
from quotestance.io import atomic_writer
from quotestance.metrics import stance_macro_f1
from quotestance.progress import bar, say, stage
from quotestance.quantize import build_int8, check_parity, parity_rows, save_parity_rows
from quotestance.records import stance_columns
from quotestance.tracking import tracked_run

LENGTH_WINDOW = 50  # batches sorted together by length: wide enough to cut padding, narrow enough to mix


class TrainError(ValueError):
    """A configuration or data problem found before any training starts."""


def build_model(cfg: ModelConfig, labels: Sequence[str]):
    """(tokenizer, model) for the configured model: a local/package folder, or the tiny BERT built in code."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
    )

    id2label = dict(enumerate(labels))
    label2id = {v: k for k, v in id2label.items()}
    tok_spec = cfg.tokenizer or cfg.path
    if tok_spec is None:
        raise TrainError("model.tokenizer or model.path must name a tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(tok_spec))
    except (OSError, FileNotFoundError) as e:
        raise TrainError(f"cannot load the tokenizer {tok_spec!r}: {e}") from None
    if cfg.path is None:
        if not cfg.tiny:
            raise TrainError("model.path is null and model.tiny gives no architecture")
        conf = BertConfig(
            vocab_size=tokenizer.vocab_size,
            max_position_embeddings=max(cfg.max_length, 64),
            num_labels=len(labels),
            id2label=id2label,
            label2id=label2id,
            **cfg.tiny,
        )
        return tokenizer, BertForSequenceClassification(conf)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            resolve_model_path(cfg.path), num_labels=len(labels), id2label=id2label, label2id=label2id
        )
    except (OSError, FileNotFoundError) as e:
        raise TrainError(f"cannot load the model {cfg.path!r}: {e}") from None
    return tokenizer, model


def set_determinism(seed: int, threads: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class TrainResult:
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    model_dir: str = ""
    precision: str = "fp32"  # what training ran in (`train_precision`)
    precision_reason: str = ""
    frozen_layers: int = 0  # bottom layers kept as pretrained (`frozen_layers`)
    averaged_epochs: int = 0  # the kept weights are the mean of this many last epochs' (`train.average_last`)


def train_precision(
    requested: str | bool, features: frozenset[str] | set[str] | None = None
) -> tuple[str, str]:
    """(bf16 | fp32, why) for `train.bf16`: auto | bf16 | fp32 (true and false, the old boolean, still work).

    auto takes bf16 only where the CPU runs it natively: emulated bf16 autocast is several times slower than
    fp32 (a CPU without AVX-512 BF16 or AMX runs each bf16 matmul in software).

    >>> train_precision("auto", {"avx2"})[0], train_precision("auto", {"avx512f", "avx512_bf16"})[0]
    ('fp32', 'bf16')
    >>> train_precision(True, {"avx2"})
    ('bf16', 'asked for (train.bf16=True), although this CPU (avx2) only emulates bf16')
    """
    value = str(requested).strip().lower()
    features = cpu_features() if features is None else features
    has = native("bf16", features)
    if value in ("true", "bf16", "1"):
        return "bf16", f"asked for (train.bf16={requested})" + (
            "" if has else f", although this CPU ({family(features)}) only emulates bf16"
        )
    if value in ("false", "fp32", "0"):
        return "fp32", f"asked for (train.bf16={requested})"
    if value != "auto":
        raise TrainError(f"train.bf16={requested!r}: auto, bf16 or fp32 (true/false also work)")
    if has:
        return "bf16", f"auto: this CPU ({family(features)}) runs bf16 natively"
    return (
        "fp32",
        f"auto: this CPU ({family(features)}) has no native bf16 (AVX-512 BF16 or AMX); emulated it is slower",
    )


def frozen_layers(requested: str | bool, layers: int, precision: str) -> tuple[int, str]:
    """(how many bottom layers stay as pretrained, why) for `train.freeze`: auto | true | false, given
    `model.freeze_layers` and the training precision (`train_precision`).

    auto freezes them only where training runs in fp32: there a full fine-tune of MiniLM takes about three
    times as long an epoch (72 s against 25 s on a 2-core AVX2 CPU) and would break `make pipeline`'s time bar,
    while freezing costs about 0.01 real-news F1 (docs/experiments.md); where bf16 is native, the whole model
    trains in the time.

    >>> frozen_layers("auto", 4, "fp32")[0], frozen_layers("auto", 4, "bf16")[0], frozen_layers(True, 4, "bf16")[0]
    (4, 0, 4)
    """
    value = str(requested).strip().lower()
    if value not in ("auto", "true", "false", "1", "0"):
        raise TrainError(f"train.freeze={requested!r}: auto, true or false")
    if not layers or value in ("false", "0"):
        return 0, "" if not layers else f"asked for (train.freeze={requested})"
    if value in ("true", "1"):
        return layers, f"asked for (train.freeze={requested})"
    if precision == "fp32":
        return layers, "auto: training runs in fp32 here, where a full fine-tune is about 3x slower"
    return 0, f"auto: training runs in {precision}, fast enough to fine-tune every layer"


def length_grouped(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Batches of row indices: a seeded shuffle, sorted by length within windows, batches shuffled.

    >>> sorted(i for b in length_grouped([5, 1, 3, 2], 2, 0) for i in b)
    [0, 1, 2, 3]
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths)).tolist()
    window = batch_size * LENGTH_WINDOW
    batches = []
    for k in range(0, len(order), window):
        part = sorted(order[k : k + window], key=lambda i: lengths[i])
        batches += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class FrozenBottom:
    """Embeddings and the bottom `k` encoder layers kept as pretrained (`model.freeze_layers`).

    Their output for a row never changes, so it is computed once (eval mode: no dropout), and each step runs
    only the top layers on it: the same model and the same saved weights, for a fraction of the forward and
    backward work of a step. The top layers run through the model's own forward, with the embeddings swapped
    for a pass-through and the encoder cut to its top layers (`top`), so attention masks, pooler and head are
    the library's own.

    The cache is float32 (4 bytes x hidden size x tokens: about 200 MB for the shipped corpus's 3,490 rows);
    past `max_bytes` (a user's corpus and labels in the tens of thousands of rows) it is kept in float16, half
    the memory, at about three significant digits per value (the top layers' logits move by ~1e-3).
    """

    def __init__(
        self,
        model,
        k: int,
        ids: list[list[int]],
        pad_id: int,
        bf16: bool,
        batch_size: int = 64,
        max_bytes: int = 1 << 30,
    ):
        import torch

        base = getattr(model, "base_model", None)
        layers = getattr(getattr(base, "encoder", None), "layer", None)
        if layers is None or not hasattr(base, "embeddings"):
            raise TrainError(
                f"model.freeze_layers={k}: {type(model).__name__} has no embeddings + encoder.layer to split"
            )
        if not 0 < k < len(layers):
            raise TrainError(
                f"model.freeze_layers={k}: choose 0 (none) to {len(layers) - 1}, below the model's {len(layers)} layers"
            )
        self.model, self.base, self.layers, self.k, self.pad_id = model, base, layers, k, pad_id
        self.bf16, self.batch_size = bf16, batch_size
        size = 4 * model.config.hidden_size * sum(len(x) for x in ids)
        self.dtype = torch.float32 if size <= max_bytes else torch.float16
        for module in (base.embeddings, *layers[:k]):
            module.requires_grad_(False)
        self.hidden = self.bottom(ids)

    def bottom(self, ids: list[list[int]]) -> list:
        """The frozen layers' output for each row of token ids (eval mode, unpadded, in the cache's dtype)."""
        import torch

        hidden: list = [None] * len(ids)
        was_training = self.model.training
        self.model.eval()
        self.base.encoder.layer = self.layers[: self.k]
        try:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                for part in self._sorted_batches(ids):
                    h, mask = self._pad([torch.tensor(ids[i]) for i in part])
                    out = self.base(input_ids=h, attention_mask=mask).last_hidden_state.float()
                    for row, i in enumerate(part):
                        hidden[i] = out[row, : len(ids[i])].to(self.dtype, copy=True)
        finally:
            self.base.encoder.layer = self.layers
            self.model.train(was_training)
        return hidden

    def logits(self, hidden: list) -> np.ndarray:
        """The whole model's logits (eval mode) for rows whose `bottom` is `hidden`: validation each epoch
        runs only the top layers, as training does (the same logits as a full pass, tests/test_train.py)."""
        import torch

        out = np.zeros((len(hidden), self.model.config.num_labels), dtype=np.float32)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), self.top(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                for part in self._sorted_batches(hidden):
                    h, mask = self._pad([hidden[i].float() for i in part])
                    out[part] = self.model(inputs_embeds=h, attention_mask=mask).logits.float().numpy()
        finally:
            self.model.train(was_training)
        return out

    def _sorted_batches(self, seqs) -> list[list[int]]:
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # little padding in one pass
        return [order[j : j + self.batch_size] for j in range(0, len(order), self.batch_size)]

    def _pad(self, seqs):
        import torch

        batch = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=self.pad_id)
        lengths = torch.tensor([len(x) for x in seqs])
        mask = (torch.arange(batch.shape[1])[None, :] < lengths[:, None]).long()
        return batch, mask

    def batch(self, idx: Sequence[int]):
        """(the rows' frozen hidden states, zero-padded; their attention mask): what `top` takes."""
        return self._pad([self.hidden[i].float() for i in idx])

    @contextlib.contextmanager
    def top(self):
        """The model as its top layers: `model(inputs_embeds=hidden, attention_mask=mask)` inside."""
        import torch

        class Given(torch.nn.Module):
            def forward(self, inputs_embeds=None, **_):
                return inputs_embeds

        embeddings = self.base.embeddings
        self.base.embeddings, self.base.encoder.layer = Given(), self.layers[self.k :]
        try:
            yield
        finally:
            self.base.embeddings, self.base.encoder.layer = embeddings, self.layers


def run_rows(module, idx: Sequence[int], ids: list[list[int]], tokenizer, frozen, bf16: bool):
    """(module's output, attention mask) for train rows idx, with gradients: the whole model from token ids, or
    its top layers over the cached bottom (`FrozenBottom`). `module` is the model or its base (`base_model`)."""
    import torch

    if frozen is None:
        enc = tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return module(**enc), enc["attention_mask"]
    hidden, mask = frozen.batch(idx)
    with frozen.top(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return module(inputs_embeds=hidden, attention_mask=mask), mask


CONTRASTIVE_MARGIN = 0.25  # cosine-distance margin between a quote's own label and another


def contrastive_stage(
    model, tokenizer, ids, y: np.ndarray, cfg: TrainConfig, frozen, bf16: bool
) -> list[float]:
    """A first stage in the style of SetFit: the encoder's trainable layers learn to place quotes of one label
    near each other before the classifier is fine-tuned. Each train quote anchors a triplet with a random quote
    of its label and one of another; the loss is the triplet margin on cosine distance between mean-pooled
    embeddings. Returns each epoch's mean loss. (docs/experiments.md, row `contrastive-1`.)"""
    import torch

    base = model.base_model
    opt = torch.optim.AdamW(
        [p for p in base.parameters() if p.requires_grad],
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        fused=True,
    )
    by_label = {k: np.flatnonzero(y == k) for k in np.unique(y)}
    others = {k: np.flatnonzero(y != k) for k in by_label}
    if len(by_label) < 2:
        raise TrainError("train.contrastive_epochs needs quotes of at least two labels")

    def embed(idx: list[int]):
        out, mask = run_rows(base, idx, ids, tokenizer, frozen, bf16)
        out = out.last_hidden_state
        m = mask.unsqueeze(-1).to(torch.float32)
        return torch.nn.functional.normalize((out.float() * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1)

    losses = []
    model.train()
    for epoch in range(cfg.contrastive_epochs):
        rng = np.random.default_rng(cfg.seed + 1000 + epoch)
        anchors = rng.permutation(len(y))
        pos = [int(rng.choice(by_label[y[a]])) for a in anchors]
        neg = [int(rng.choice(others[y[a]])) for a in anchors]
        total = 0.0
        for k in range(0, len(anchors), cfg.batch_size):
            a, p_, n = (list(map(int, v[k : k + cfg.batch_size])) for v in (anchors, pos, neg))
            e = embed(a + p_ + n)
            ea, ep, en = e[: len(a)], e[len(a) : 2 * len(a)], e[2 * len(a) :]
            loss = torch.relu((1 - (ea * ep).sum(1)) - (1 - (ea * en).sum(1)) + CONTRASTIVE_MARGIN).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(base.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(a)
        losses.append(total / len(y))
        say(f"contrastive epoch {epoch + 1}/{cfg.contrastive_epochs}: triplet loss {losses[-1]:.4f}")
    return losses


def row_weighted_loss(logits, target, row_weights, class_weights=None, label_smoothing: float = 0.0):
    """Cross-entropy as torch's class-weighted mean, each row's term also scaled by its own weight: a row of
    weight 3 counts as that row three times (tests/test_train.py checks both). With label_smoothing, each
    row's target is that share spread evenly over the labels, and the row keeps its true label's weight."""
    import torch

    w = torch.as_tensor(row_weights, dtype=torch.float32)
    if class_weights is not None:
        w = w * class_weights[target]
    per_row = torch.nn.functional.cross_entropy(
        logits, target, reduction="none", label_smoothing=label_smoothing
    )
    return (per_row * w).sum() / w.sum()


def train_model(
    train_rows: list[dict],
    val_rows: list[dict],
    labels: list[str],
    stance: list[str],
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    out_dir: str,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Fine-tune on train_rows, keep the epoch with the best validation stance macro-F1 in out_dir; with
    cfg.stack_tfidf, a TF-IDF partner fitted on train_rows beside it, each expert weighed on val_rows."""
    import torch

    if not train_rows:
        raise TrainError("the train split is empty")
    unknown = sorted({r["label"] for r in train_rows + val_rows} - set(labels))
    if unknown:
        raise TrainError(f"labels {unknown} in the dataset are not in the label set {labels}")
    if cfg.select_on not in ("transformer", "pair"):
        raise TrainError(f"train.select_on={cfg.select_on!r}: choose transformer or pair")
    if cfg.contrastive_epochs < 0:
        raise TrainError(f"train.contrastive_epochs={cfg.contrastive_epochs}: 0 (none) or more")
    if not 0 <= cfg.average_last <= cfg.epochs:
        raise TrainError(
            f"train.average_last={cfg.average_last}: 0 (the best epoch) to train.epochs ({cfg.epochs})"
        )
    precision, why = train_precision(cfg.bf16)
    bf16 = precision == "bf16"
    set_determinism(cfg.seed, cfg.threads)
    tokenizer, model = build_model(model_cfg, labels)
    ckpt = Path(cfg.checkpoint_dir)
    state_file = ckpt / "trainer_state.json"
    y = np.array([labels.index(r["label"]) for r in train_rows])
    # per-row weights (a user's own labels can count for more, dataset.user_weight); all 1: the usual loss
    row_w = np.array([float(r.get("weight") or 1.0) for r in train_rows])
    weighted_rows = bool((row_w != 1.0).any())
    counts = np.bincount(y, minlength=len(labels)).astype(np.float64)
    weights = (
        torch.tensor(len(y) / (len(labels) * np.maximum(counts, 1)), dtype=torch.float32)
        if cfg.class_weights
        else None
    )
    texts = [render(cfg.template, r) for r in train_rows]
    ids = tokenizer(texts, truncation=True, max_length=model_cfg.max_length)[
        "input_ids"
    ]  # once, not per step
    steps_per_epoch = math.ceil(len(texts) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    val_hidden: list = []  # validation rows' frozen bottom (when frozen)
    frozen, (n_frozen, why_frozen) = None, frozen_layers(cfg.freeze, model_cfg.freeze_layers, precision)
    if n_frozen:
        with stage(
            f"the frozen bottom ({why_frozen}): embeddings + {n_frozen} layers, once per row", tick=True
        ):
            frozen = FrozenBottom(model, n_frozen, ids, tokenizer.pad_token_id or 0, bf16)
            # validation's rows too: each epoch's validation pass then runs only the top layers
            val_hidden = frozen.bottom(
                tokenizer(
                    [render(cfg.template, r) for r in val_rows],
                    truncation=True,
                    max_length=model_cfg.max_length,
                )["input_ids"]
                if val_rows
                else []
            )
    # the fused CPU kernel: the same AdamW update in one pass over the weights, about 8x faster a step than
    # the default loop (the optimizer was a sixth of an fp32 epoch; docs/benchmarks.md)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        fused=True,
    )
    warm = max(1, int(cfg.warmup_ratio * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    start_epoch, best, best_epoch, stale, history = 0, -1.0, -1, 0, []
    gold = [r["label"] for r in val_rows]

    def validate() -> tuple[np.ndarray, float]:
        """The model's validation logits (over the cached bottom when frozen) and its stance macro-F1."""
        if not val_rows:
            return np.zeros((0, len(labels))), 0.0
        z = frozen.logits(val_hidden) if frozen is not None else predictor.logits(val_rows)
        return z, stance_macro_f1(gold, [labels[i] for i in z.argmax(1)], stance)

    # train.average_last: the running sum of the weights at the end of each epoch in the window, and its count
    window = max(0, cfg.epochs - cfg.average_last) if cfg.average_last > 0 else cfg.epochs
    average: dict = {"sum": None, "count": 0}
    if cfg.resume and state_file.exists():
        st = json.loads(state_file.read_text())
        blob = torch.load(
            ckpt / "last.pt", weights_only=True
        )  # tensors and plain values only: nothing unpickled
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["optimizer"])
        sched.load_state_dict(blob["scheduler"])
        torch.set_rng_state(blob["rng"])
        average = blob.get("average", average)
        start_epoch, best, best_epoch, stale, history = (
            st["epoch"] + 1,
            st["best"],
            st["best_epoch"],
            st["stale"],
            st["history"],
        )
        if st.get("stopped_early"):  # early stopping ended it: more epochs would not be kept either
            start_epoch = cfg.epochs
    if cfg.contrastive_epochs and start_epoch == 0:
        with stage(
            f"contrastive first stage ({cfg.contrastive_epochs} epochs, train.contrastive_epochs)", tick=True
        ):
            contrastive_stage(model, tokenizer, ids, y, cfg, frozen, bf16)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    # the partner is fitted first when the epoch is chosen on what the model will score with: the pair
    partner = None
    if cfg.stack_tfidf and cfg.select_on == "pair" and val_rows:
        from quotestance.baseline import fit_tfidf

        partner = fit_tfidf(labels, train_rows, cfg.template, cfg.seed)
    predictor = Predictor(tokenizer, model, labels, cfg.template, model_cfg.max_length, precision=precision)
    say(
        f"training {model_cfg.name} in {precision} ({why}): {len(texts)} rows, {steps_per_epoch} steps per epoch, "
        f"up to {cfg.epochs} epochs"
    )
    t0 = time.perf_counter()
    steps = bar(total=steps_per_epoch * (cfg.epochs - start_epoch), desc="training", unit="step")
    for epoch in range(start_epoch, cfg.epochs):
        t_epoch = time.perf_counter()
        model.train()
        steps.set_description(f"epoch {epoch + 1}/{cfg.epochs}")
        if cfg.group_by_length:
            batches = length_grouped([len(x) for x in ids], cfg.batch_size, cfg.seed + epoch)
        else:  # the same order on every run and on resume
            g = torch.Generator().manual_seed(cfg.seed + epoch)
            perm = torch.randperm(len(texts), generator=g).tolist()
            batches = [perm[k : k + cfg.batch_size] for k in range(0, len(perm), cfg.batch_size)]
        running, real, padded = 0.0, 0, 0
        clock = dict.fromkeys(("forward", "backward", "optimizer"), 0.0)  # where an epoch's time goes
        for idx in batches:
            t = time.perf_counter()
            out, mask = run_rows(model, idx, ids, tokenizer, frozen, bf16)
            logits = out.logits
            if weighted_rows or cfg.label_smoothing:
                loss = row_weighted_loss(
                    logits.float(), torch.tensor(y[idx]), row_w[idx], weights, cfg.label_smoothing
                )
            else:
                loss = loss_fn(logits.float(), torch.tensor(y[idx]))
            t1 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            t3 = time.perf_counter()
            clock["forward"], clock["backward"] = clock["forward"] + t1 - t, clock["backward"] + t2 - t1
            clock["optimizer"] += t3 - t2
            running += loss.item() * len(idx)
            real, padded = real + int(mask.sum()), padded + mask.numel()
            steps.update(1)
            steps.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        t = time.perf_counter()
        z, f1 = validate()
        pair = {}
        if partner is not None:  # each expert calibrated on validation, as stack_partner will
            zp = partner.fit_mix(z, val_rows).combine(z, val_rows)
            pair["val_pair_macro_f1"] = stance_macro_f1(gold, [labels[i] for i in zp.argmax(1)], stance)
        metrics = {
            "train_loss": running / len(texts),
            "val_stance_macro_f1": f1,
            **pair,
            "epoch_seconds": time.perf_counter() - t_epoch,
            "padding_share": 1 - real / max(1, padded),
            **{f"seconds_{k}": v for k, v in clock.items()},
            "seconds_validation": time.perf_counter() - t,
        }
        history.append({"epoch": epoch, **metrics})
        with_pair = f" (with the partner {pair['val_pair_macro_f1']:.4f})" if pair else ""
        f1 = pair.get("val_pair_macro_f1", f1)  # what the epoch is chosen on
        say(
            f"epoch {epoch + 1}/{cfg.epochs}: loss {metrics['train_loss']:.4f}, "
            + (
                f"validation stance macro-F1 {metrics['val_stance_macro_f1']:.4f}{with_pair}"
                f"{' (best so far)' if f1 > best else ''}"
                if val_rows
                else "no validation rows (the last epoch is kept)"
            )
            + f", {metrics['epoch_seconds']:.1f} s"
        )
        if on_epoch:
            on_epoch(epoch, metrics)
        if epoch >= window:
            state = {
                n: v.detach().float().clone() for n, v in model.state_dict().items() if v.is_floating_point()
            }
            average["sum"] = (
                state if average["sum"] is None else {n: average["sum"][n] + v for n, v in state.items()}
            )
            average["count"] += 1
        if f1 > best or not val_rows:  # no validation rows: keep the last epoch
            best, best_epoch, stale = f1, epoch, 0
            # kept beside the checkpoint, not only in out_dir: a resumed run may be given another out_dir
            save_pretrained(model, tokenizer, str(ckpt / "best"))
        else:
            stale += 1
        # each file replaced whole: a run killed while writing leaves the previous epoch's checkpoint intact
        with atomic_writer(ckpt / "last.pt", "wb") as fh:
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "rng": torch.get_rng_state(),
                    "average": average,
                },
                fh,
            )
        with atomic_writer(state_file) as fh:
            json.dump(
                {
                    "epoch": epoch,
                    "best": best,
                    "best_epoch": best_epoch,
                    "stale": stale,
                    "history": history,
                    "stopped_early": stale >= cfg.patience,
                },
                fh,
            )
        if stale >= cfg.patience:
            say(f"early stop: no better validation score for {stale} epochs")
            break
    steps.close()
    if not (ckpt / "best" / "config.json").exists():
        raise TrainError(
            f"no best model in {ckpt / 'best'}: the checkpoint folder is incomplete; train afresh "
            "(train.resume=false)"
        )
    kept = ckpt / "best"
    if average["count"]:
        # the mean of the last epochs' weights (the learning rate decays linearly over them): flatter, and
        # read on real news in docs/experiments.md (row `average-3`); validation scores it for the record
        model.load_state_dict({n: v / average["count"] for n, v in average["sum"].items()}, strict=False)
        _, f1 = validate()
        say(
            f"kept the mean of the last {average['count']} epochs' weights (train.average_last): validation "
            f"stance macro-F1 {f1:.4f}, against {best:.4f} for the best epoch alone"
        )
        kept = ckpt / "average"
        save_pretrained(model, tokenizer, str(kept))
    elif cfg.average_last:
        say(
            f"train.average_last={cfg.average_last}: no epoch in its window ran (early stop); the best epoch is kept"
        )
    _copy_tree(kept, Path(out_dir))
    if cfg.stack_tfidf:
        with stage("the TF-IDF partner", tick=True):
            stack_partner(out_dir, train_rows, val_rows, labels, cfg, model_cfg, partner)
    return TrainResult(
        best_epoch, history, time.perf_counter() - t0, out_dir, precision, why, n_frozen, average["count"]
    )


def stack_partner(
    model_dir: str,
    train_rows: list[dict],
    mix_rows: list[dict],
    labels: list[str],
    cfg: TrainConfig,
    model_cfg,
    tfidf=None,
) -> None:
    """Fit the TF-IDF partner on train_rows (or take `tfidf`, already fitted on them), weigh it against the
    transformer on mix_rows, save it in model_dir."""
    from quotestance.baseline import PARTNER_DIR, fit_tfidf

    tfidf = tfidf or fit_tfidf(labels, train_rows, cfg.template, cfg.seed)
    alone = load_predictor(model_dir, cfg.template, model_cfg.max_length, "fp32")
    tfidf.fit_mix(alone.logits(mix_rows), mix_rows).save(Path(model_dir) / PARTNER_DIR)


def _copy_tree(src: Path, target: Path) -> None:
    """src's files as target, swapped in whole (a reader never sees half a model folder)."""
    import shutil
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    shutil.copytree(src, tmp, dirs_exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def save_pretrained(model, tokenizer, out_dir: str) -> None:
    """Weights as safetensors plus the tokenizer: a plain Hugging Face folder, written atomically."""
    import shutil
    import tempfile

    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def train(app: TrainApp, params: dict[str, Any] | None = None) -> int:
    """The train stage: the transformer and (baseline=true) the TF-IDF baseline, each one evaluated MLflow
    run, their metrics printed side by side; or the study that app.mode names (quotestance.studies).
    Exit code: 0, or 2 with the reason on stderr."""
    import sys

    from quotestance.dataset import DatasetError
    from quotestance.evaluate import summary_table
    from quotestance.progress import quiet_libraries

    quiet_libraries()
    params = params or {}
    try:
        if app.mode != "train":
            from quotestance.studies import study

            result = study(app, params)
            print(
                "\n".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items())
            )
            return 0
        results = {"transformer": run_transformer(app, params)}
        if app.baseline:
            results["baseline"] = run_baseline(app, params)
    except (TrainError, DatasetError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary_table(results))
    return 0


def run_transformer(app: TrainingApp, params: dict[str, Any]) -> dict[str, float]:
    """Fine-tune, evaluate and log the transformer as one MLflow run; returns its metrics."""
    import mlflow

    splits = load_splits(app.dataset.output, app.labels)
    labels = app.labels.names
    with (
        tracked_run(
            app.mlflow,
            f"transformer-{app.model.name}",
            "train",
            params,
            {"model_kind": "transformer", "model": app.model.name},
            system_metrics=True,
        ) as run,
        tempfile.TemporaryDirectory() as tmpd,
    ):
        tmp = Path(tmpd)
        _log_inputs(splits, app.dataset.output)
        model_dir = tmp / "model"
        res = train_model(
            splits["train"],
            splits["validation"],
            labels,
            list(app.labels.stance),
            app.model,
            app.train,
            str(model_dir),
            on_epoch=lambda e, m: mlflow.log_metrics(m, step=e),
        )
        mlflow.log_metrics({"best_epoch": res.best_epoch, "train_seconds": res.seconds})
        mlflow.set_tags(
            {
                "train_precision": res.precision,
                "train_precision_reason": res.precision_reason[:500],
                "train_frozen_layers": str(res.frozen_layers),
                "train_averaged_epochs": str(res.averaged_epochs),
            }
        )
        _fast_paths(app, model_dir, splits)
        # evaluated on the path that serving takes on this CPU (parity keeps it to fp32's labels)
        pred = load_predictor(
            model_dir,
            app.train.template,
            app.model.max_length,
            app.train.precision,
            app.train.int8_margin,
            app.train.bf16_margin,
        )
        mlflow.set_tags(
            {
                "inference_precision": pred.precision,
                "inference_precision_reason": pred.choice.get("reason", "")[:500],
            }
        )
        with stage(f"evaluation in {pred.precision}", tick=True):
            metrics, curve = evaluate_splits(
                app.evaluate, labels, list(app.labels.stance), splits, pred.logits, tmp
            )
        cfg_path = tmp / "inference.json"
        cfg_path.write_text(
            json.dumps(
                {
                    "template": app.train.template,
                    "max_length": app.model.max_length,
                    "temperature": metrics["temperature"],
                    "precision": app.train.precision,
                    "int8_margin": app.train.int8_margin,
                    "bf16_margin": app.train.bf16_margin,
                    "labels": labels,
                    # validation's (confidence, right?) pairs: quotestance-score picks its review threshold
                    # from them for any precision it is asked for (score.review_precision)
                    "review_curve": curve,
                }
            )
        )
        with stage("logging the model to MLflow", tick=True):
            log_pyfunc(model_dir, cfg_path, labels)
        metrics["run_id"] = run.info.run_id  # type: ignore[assignment]
        return metrics


def run_baseline(app: TrainingApp, params: dict[str, Any]) -> dict[str, float]:
    """TF-IDF + logistic regression on the same splits, evaluated the same way, as its own run."""

    from quotestance.baseline import fit_tfidf

    splits = load_splits(app.dataset.output, app.labels)
    labels = app.labels.names
    with (
        tracked_run(
            app.mlflow,
            "baseline-tfidf-logreg",
            "train",
            params,
            {"model_kind": "baseline", "model": "tfidf_logreg"},
        ) as run,
        tempfile.TemporaryDirectory() as tmpd,
    ):
        _log_inputs(splits, app.dataset.output)
        # the same fit as the transformer's partner when that ran first on this split (fit_tfidf)
        model = fit_tfidf(labels, splits["train"], app.train.template, app.train.seed)
        # log-probabilities play the logits' part, so temperature scaling and ECE work the same way
        metrics, _ = evaluate_splits(  # the curve is the served model's: the baseline is never served
            app.evaluate,
            labels,
            list(app.labels.stance),
            splits,
            lambda rows: np.log(np.clip(model.predict_proba(rows), 1e-9, 1)),
            Path(tmpd),
        )
        metrics["run_id"] = run.info.run_id  # type: ignore[assignment]
        return metrics


def _log_inputs(splits: dict[str, list[dict]], output: str) -> None:
    import mlflow
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for s, rows in splits.items():
            df = pd.DataFrame(rows)
            mlflow.log_input(
                mlflow.data.from_pandas(
                    df,
                    source=str((Path(output) / "dataset" / s).resolve()),
                    targets="label",
                    name=f"quotestance-{s}",
                ),
                context=s,
            )


def _fast_paths(app: TrainingApp, model_dir: Path, splits: dict[str, list[dict]]) -> None:
    """The int8 graph and the parity rows beside the weights, then every path measured on this machine."""
    import mlflow

    with stage("int8 graph", tick=True):
        try:
            build_int8(model_dir)
        except Exception as e:  # noqa: BLE001 - an export failure costs speed, never the run
            mlflow.set_tag("skipped_int8", f"{type(e).__name__}: {e}"[:500])
    rows = parity_rows(splits)
    save_parity_rows(model_dir, rows, list(app.labels.stance))
    with stage(f"timing and parity of each inference path on {len(rows)} rows", tick=True):
        ref = load_predictor(
            model_dir,
            app.train.template,
            app.model.max_length,
            "fp32",
            app.train.int8_margin,
            app.train.bf16_margin,
        )  # the best epoch's weights, as saved
        parity = check_parity(ref, model_dir)
    mlflow.set_tags({"parity_cpu": parity["cpu"][:500], "parity_rows": str(len(rows))})
    for p, r in parity["paths"].items():
        if "skipped" in r:
            mlflow.set_tag(f"parity_{p}", f"skipped: {r['skipped']}"[:500])
            continue
        mlflow.log_metric(f"seconds_{p}_parity_rows", r["seconds"])
        if p != "fp32":
            mlflow.log_metrics(
                {
                    f"parity_{p}_agreement": r["agreement"],
                    f"parity_{p}_stance_macro_f1_delta": r["stance_macro_f1_delta_points"],
                }
            )
            mlflow.set_tag(f"parity_{p}", "passed" if r["passed"] else "failed")


def log_pyfunc(model_dir: Path, cfg_path: Path, labels: list[str]) -> None:
    """The model as a Models-from-Code pyfunc with a signature and an input example."""
    import mlflow
    import pandas as pd
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    signature = ModelSignature(
        inputs=Schema(
            [
                ColSpec("string", "quote"),
                ColSpec("string", "speaker", required=False),
                ColSpec("string", "context", required=False),
            ]
        ),
        outputs=Schema(
            [ColSpec("string", "label"), ColSpec("double", "confidence")]
            + [ColSpec("double", c) for c in stance_columns(labels)[2:]]
        ),
    )
    example = pd.DataFrame(
        {
            "quote": ["We act when a court tells us to, not before."],
            "speaker": ["Dana Whitfield"],
            "context": [""],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("pyfunc.py")),
            artifacts={"model": str(model_dir), "config": str(cfg_path)},
            signature=signature,
            input_example=example,
            pip_requirements=["torch", "transformers", "onnxruntime", "scikit-learn", "pandas", "mlflow"],
        )
    mlflow.set_tag("model_uri", info.model_uri)  # MLflow 3 keeps models apart from runs: where this one lives
