"""Inference on the tiny model: the path is chosen by measurement on this CPU (and cached), every path that is
chosen passed parity here, the second look rescores exactly the close calls, and padding and the [CLS]-only
last layer change no logits. No outcome depends on the CPU's flags: paths a CPU lacks are skipped with a
reason, and the choosing logic is tested with injected flags (QUOTESTANCE_CPU_FLAGS)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from tests.test_train import LABELS, STANCE, TINY, rows_for

from quotestance.config import TrainConfig
from quotestance.cpu import cpu_features, family, native
from quotestance.infer import (
    CACHE_ENV,
    INT8_FILE,
    MARGIN_ENV,
    MAX_F1_DELTA,
    MIN_AGREEMENT,
    PARITY_FILE,
    PARITY_ROWS_FILE,
    PRECISION_ENV,
    load_predictor,
    pick,
)
from quotestance.quantize import check_parity, save_parity_rows
from quotestance.train import train_model

TEMPLATE = "{speaker}: {quote}"


@pytest.fixture(scope="module")
def held_out():
    return rows_for(("ev06", "ev07", "ev08", "ev09"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, held_out):
    """A tiny model trained until it is sure of most rows, with its int8 graph and parity rows."""
    from quotestance.quantize import build_int8

    tmp = tmp_path_factory.mktemp("tiny")
    train = rows_for(("ev01", "ev02", "ev04", "ev05", "ev10", "ev11"))
    cfg = TrainConfig(
        epochs=15,
        batch_size=16,
        seed=3,
        threads=2,
        learning_rate=1e-2,
        bf16="fp32",
        patience=15,
        class_weights=False,
        warmup_ratio=0.0,
        checkpoint_dir=str(tmp / "ck"),
        stack_tfidf=False,  # the transformer's own paths; the partner's tests copy this model and add one
    )
    train_model(train, train, LABELS, STANCE, TINY, cfg, str(tmp / "m"))
    build_int8(tmp / "m")
    save_parity_rows(tmp / "m", held_out, STANCE)
    return tmp / "m"


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    monkeypatch.delenv(MARGIN_ENV, raising=False)
    return tmp_path / "cache" / "precision"


def _check_record(choice: dict, n_rows: int) -> None:
    """What every measured choice must satisfy, whatever the CPU."""
    paths = choice["paths"]
    assert paths["fp32"]["seconds"] > 0
    chosen = paths[choice["precision"]]
    assert choice["precision"] == "fp32" or chosen["passed"]
    for p, r in paths.items():
        if "skipped" in r:
            continue
        if p != "fp32":
            assert r["rows"] == n_rows
            assert r["passed"] == (
                r["agreement"] >= MIN_AGREEMENT and abs(r["stance_macro_f1_delta_points"]) <= MAX_F1_DELTA
            )
    passed = [p for p, r in paths.items() if p == "fp32" or r.get("passed")]
    assert all(paths[p]["seconds"] >= chosen["seconds"] for p in passed)


def test_auto_measures_once_per_machine_and_caches_the_choice(tiny_dir, held_out, cache):
    pred = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "auto")
    choice = pred.choice
    assert choice["measured"] and "cached" not in choice
    assert pred.precision == choice["precision"] and choice["cpu_family"] == family(cpu_features())
    _check_record(choice, len(held_out))
    if native("bf16", cpu_features()):
        assert "agreement" in choice["paths"]["bf16"]
    else:
        assert "emulated" in choice["paths"]["bf16"]["skipped"]
    int8 = choice["paths"]["int8"]  # int8 runs on every x86-64 CPU: it is measured, never assumed
    margins = [t["int8_margin"] for t in int8["margins_tried"]]
    assert margins == sorted(margins) and margins[0] == pytest.approx(0.3)
    assert int8["int8_margin"] == margins[-1]
    assert len(list(cache.glob("*.json"))) == 1
    again = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "auto")
    assert again.choice["cached"] and again.precision == pred.precision
    assert len(list(cache.glob("*.json"))) == 1


def test_other_flags_or_margins_are_measured_afresh(tiny_dir, cache, monkeypatch):
    load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "auto")
    smaller = "sse4_2" if os.environ.get("QUOTESTANCE_CPU_FLAGS") else "avx2"  # other than the suite's own
    monkeypatch.setenv("QUOTESTANCE_CPU_FLAGS", smaller)
    small = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "auto")
    assert "cached" not in small.choice and small.choice["cpu_family"] in ("avx2", "baseline")
    assert "emulated" in small.choice["paths"]["bf16"]["skipped"]  # never timed where it is emulated
    assert small.precision in ("fp32", "int8")
    load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "auto", margin=0.5)
    assert len(list(cache.glob("*.json"))) == 3


def test_training_machine_record_seeds_the_cache(tiny_dir, held_out, cache):
    ref = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "fp32")
    result = check_parity(ref, tiny_dir)
    assert json.loads((tiny_dir / PARITY_FILE).read_text()) == result
    _check_record(result, len(held_out))
    assert load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "auto").choice["cached"]


def test_a_forced_path_is_not_measured(tiny_dir, cache, monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, "int8")
    monkeypatch.setenv(MARGIN_ENV, "0.55")
    pred = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "auto")
    assert (pred.precision, pred.margin) == ("int8", 0.55)
    assert PRECISION_ENV in pred.choice["reason"] and not pred.choice["measured"]
    assert not cache.exists()
    assert load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "fp32").precision == "fp32"  # by name wins
    with pytest.raises(ValueError, match="precision 'fp16'"):
        load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "fp16")


def test_a_model_without_parity_rows_scores_fp32(tiny_dir, tmp_path, cache):
    import shutil

    d = tmp_path / "old-model"
    shutil.copytree(tiny_dir, d)
    (d / PARITY_ROWS_FILE).unlink()
    pred = load_predictor(d, TEMPLATE, TINY.max_length, "auto")
    assert pred.precision == "fp32" and PARITY_ROWS_FILE in pred.choice["reason"]


def test_pick_takes_the_fastest_that_passed():
    paths = {
        "fp32": {"seconds": 4.0},
        "bf16": {"skipped": "emulated on this CPU"},
        "int8": {"seconds": 1.0, "passed": False},
    }
    assert pick(paths)[0] == "fp32"
    assert "failed parity: int8" in pick(paths)[1] and "not measured: bf16" in pick(paths)[1]
    paths["int8"]["passed"] = True
    assert pick(paths)[0] == "int8"
    paths["bf16"] = {"seconds": 0.5, "passed": True}
    assert pick(paths)[0] == "bf16"
    paths["bf16"]["seconds"] = 9.0
    assert pick(paths)[0] == "int8"


def test_the_second_look_rescores_exactly_the_close_calls(tiny_dir, held_out, cache):
    """The cascade's bookkeeping is exact on every CPU: int8's first pass is the raw int8 run."""
    raw = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "int8", margin=0.0)
    raw_logits = raw.logits(held_out)
    assert raw.stats == {"int8": len(held_out)}
    fp32 = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "fp32").logits(held_out)
    assert np.abs(raw_logits - fp32).mean() < 0.1 * np.abs(fp32).mean()  # int8 really ran, close to fp32
    assert not np.array_equal(raw_logits, fp32)
    p = np.exp(raw_logits - raw_logits.max(1, keepdims=True))
    p = np.sort(p / p.sum(1, keepdims=True), 1)
    gaps = p[:, -1] - p[:, -2]
    s = np.unique(gaps)
    margin = float((s[len(s) // 2] + s[len(s) // 2 + 1]) / 2)  # between two rows' gaps: no rounding tie
    full = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "int8", margin=margin)
    labels = full.logits(held_out).argmax(1)
    second = full.stats.get("bf16", full.stats.get("fp32"))  # bf16 only where the CPU has it natively
    assert full.stats["int8"] == len(held_out) and second == int((gaps < margin).sum())
    keep = gaps >= margin
    assert np.array_equal(labels[keep], raw_logits.argmax(1)[keep])  # int8's own labels where it was sure
    assert np.mean(labels == fp32.argmax(1)) >= np.mean(raw_logits.argmax(1) == fp32.argmax(1))


def test_bf16_keeps_fp32_labels(tiny_dir, held_out, cache):
    if not native("bf16", cpu_features()):
        pytest.skip(f"bf16 is emulated on this CPU ({family(cpu_features())}): not a path it would take")
    bf16 = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "bf16").logits(held_out).argmax(1)
    fp32 = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "fp32").logits(held_out).argmax(1)
    assert np.mean(bf16 == fp32) >= MIN_AGREEMENT


def test_batching_and_padding_change_no_logits(tiny_dir, held_out, cache):
    rows = held_out[:50]
    one = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "fp32")
    one.batch_size = 1
    many = load_predictor(tiny_dir, TEMPLATE, TINY.max_length, "fp32")
    many.batch_size = 16
    assert np.allclose(one.logits(rows), many.logits(rows), atol=1e-5)
    assert many.logits([]).shape == (0, len(LABELS))


def test_cls_only_last_layer_gives_the_same_logits(tiny_dir, held_out):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from quotestance.quantize import cls_only_tail

    model = AutoModelForSequenceClassification.from_pretrained(tiny_dir, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    enc = tok([r["text"] for r in held_out[:20]], padding=True, return_tensors="pt")
    with torch.inference_mode():
        full = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        tail = cls_only_tail(model)(enc["input_ids"], enc["attention_mask"])
    assert torch.allclose(full, tail, atol=1e-5)


def test_int8_file_missing_is_a_recorded_skip(tiny_dir, tmp_path, cache):
    import shutil

    d = tmp_path / "no-int8"
    shutil.copytree(tiny_dir, d)
    (d / INT8_FILE).unlink()
    choice = load_predictor(d, TEMPLATE, TINY.max_length, "auto").choice
    assert INT8_FILE in choice["paths"]["int8"]["skipped"] and choice["precision"] != "int8"


def test_a_fast_path_that_fails_here_is_a_recorded_skip(tiny_dir, tmp_path, cache):
    import shutil

    d = tmp_path / "broken-int8"
    shutil.copytree(tiny_dir, d)
    (d / INT8_FILE).write_bytes(b"not an onnx graph")
    pred = load_predictor(d, TEMPLATE, TINY.max_length, "auto")
    assert pred.precision != "int8" and "failed on this CPU" in pred.choice["paths"]["int8"]["skipped"]


def test_the_tfidf_partner_is_saved_loaded_and_mixed_into_every_path(tiny_dir, held_out, tmp_path, cache):
    """train.stack_tfidf: the partner lives in the model folder as arrays and terms (no pickle); every load
    mixes it in, so evaluation, scoring and serving give the product of the two calibrated experts."""
    import shutil

    from quotestance.baseline import PARTNER_DIR, TfidfBaseline
    from quotestance.train import stack_partner

    model = tmp_path / "m"
    shutil.copytree(tiny_dir, model)
    alone = load_predictor(model, TEMPLATE, TINY.max_length, "fp32")
    assert alone.partner is None
    train = rows_for(("ev01", "ev02", "ev04", "ev05", "ev10", "ev11"))
    cfg = TrainConfig(template=TEMPLATE, seed=3)
    stack_partner(str(model), train, held_out, LABELS, cfg, TINY)
    assert sorted(p.name for p in (model / PARTNER_DIR).iterdir()) == ["tfidf.json", "tfidf.npz"]
    tfidf = TfidfBaseline.load(model / PARTNER_DIR)
    assert tfidf.labels == LABELS and all(w > 0 for w in tfidf.mix.values())
    assert tfidf.mix != {"transformer": 1.0, "tfidf": 1.0}  # calibrated on the rows it was given
    both = load_predictor(model, TEMPLATE, TINY.max_length, "fp32")
    raw = alone.logits(held_out)
    mixed = both.logits(held_out)
    log_p = raw - raw.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    expected = tfidf.mix["transformer"] * log_p + tfidf.mix["tfidf"] * tfidf.log_proba(held_out)
    assert np.allclose(mixed, expected, atol=1e-4)
    # the partner moves labels (the tiny transformer knows little, so many) and every row keeps a score
    assert np.mean(mixed.argmax(1) != raw.argmax(1)) > 0
    assert np.isfinite(mixed).all()
    # a fast path carries the partner too: the same mixing on its own logits
    int8 = load_predictor(model, TEMPLATE, TINY.max_length, "int8")
    assert int8.partner is not None and np.mean(int8.logits(held_out).argmax(1) == mixed.argmax(1)) >= 0.9


def test_a_partner_with_other_labels_is_refused(tiny_dir, tmp_path):
    import shutil

    from quotestance.baseline import PARTNER_DIR, TfidfBaseline

    model = tmp_path / "m"
    shutil.copytree(tiny_dir, model)
    rows = [{"quote": q, "label": y} for q, y in [("take it down", "a"), ("neutral pipes", "b")] * 3]
    TfidfBaseline(["a", "b"]).fit(rows).save(model / PARTNER_DIR)
    with pytest.raises(ValueError, match="partner's labels"):
        load_predictor(model, TEMPLATE, TINY.max_length, "fp32")
