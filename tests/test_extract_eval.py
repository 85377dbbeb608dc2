"""Extraction quality on the gold sets, scored by our evaluator and checked against the reference scorer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from quotestance.extract import extract_many, read_articles
from quotestance.extract.evaluation import evaluate_goldset, score_spans
from quotestance.records import Article


def _extract(nlp, spec):
    arts = [a for a in read_articles(spec) if isinstance(a, Article)]
    return arts, [q.to_dict() for _, qs in extract_many(arts, nlp) for q in qs]


def _reference(shared, pred_rows, gold, texts, kind, overlap, tmp_path, default_article=None):
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in pred_rows), encoding="utf-8")
    cmd = [
        sys.executable,
        str(shared / "tools/eval_extract.py"),
        str(pred),
        str(gold),
        str(texts),
        "--kind",
        kind,
        "--min-overlap",
        str(overlap),
    ]
    if default_article:
        cmd += ["--default-article", default_article]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return dict(kv.split("=") for kv in out.split())


def test_seed_article_done_when(nlp, shared):
    arts, pred = _extract(nlp, shared / "data/seed/article.txt")
    direct = [q for q in pred if q["kind"] == "direct"]
    assert len(direct) == 8
    assert sorted(q["speaker"] for q in direct) == ["Anonymous"] * 2 + ["Matthew Prince"] * 6
    gold = [json.loads(x) for x in (shared / "data/seed/quotes.gold.jsonl").read_text().splitlines()]
    for g in gold:
        g["article_id"] = "article"
    texts = {a.id: a.text for a in arts}
    d = score_spans(pred, gold, texts, 0.8, "direct")
    assert d.matched == 8 and d.speaker_correct == 8
    assert score_spans(pred, gold, texts, 0.5, "indirect").matched >= 5


@pytest.mark.parametrize("kind,overlap", [("direct", 0.8), ("indirect", 0.5), ("indirect", 0.8)])
def test_our_scorer_agrees_with_the_reference_scorer(nlp, shared, tmp_path, kind, overlap):
    rd = shared / "data/realdev"
    arts, pred = _extract(nlp, rd / "passages")
    gold = [json.loads(x) for x in (rd / "quotes.jsonl").read_text().splitlines() if x.strip()]
    ours = score_spans(pred, gold, {a.id: a.text for a in arts}, overlap, kind)
    ref = _reference(shared, pred, rd / "quotes.jsonl", rd / "passages", kind, overlap, tmp_path)
    assert (ours.gold, ours.pred, ours.matched) == (int(ref["gold"]), int(ref["pred"]), int(ref["matched"]))
    assert f"{ours.speaker_accuracy:.3f}" == ref["speaker_acc"]


def test_realdev_done_when(nlp, shared):
    rd = shared / "data/realdev"
    res = evaluate_goldset("realdev", str(rd / "quotes.jsonl"), str(rd / "passages"), nlp)
    got = {(k, rule): s for k, rule, s in res.rows}
    direct = got[("direct", "overlap>=0.8")]
    assert direct.f1 >= 0.90 and direct.speaker_accuracy >= 0.85
    assert got[("indirect", "overlap>=0.5")].f1 >= 0.70
