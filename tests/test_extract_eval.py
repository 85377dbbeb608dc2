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


def test_an_article_whose_extraction_fails_is_named_not_silently_dropped(nlp, tmp_path, monkeypatch):
    from quotestance.extract import batch
    from quotestance.extract.evaluation import format_table, pooled

    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a1.txt").write_text('"We will not host it," said Mara Quill.', encoding="utf-8")
    (texts / "a2.txt").write_text('"We will host it," said Ines Marlowe.', encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    rows = [("a1", "We will not host it,", "Mara Quill"), ("a2", "We will host it,", "Ines Marlowe")]
    gold.write_text(
        "".join(
            json.dumps(
                {"passage_id": a, "char_start": 1, "char_end": 1 + len(t), "speaker": s, "kind": "direct"}
            )
            + "\n"
            for a, t, s in rows
        ),
        encoding="utf-8",
    )
    real = batch.extract_many

    def failing(articles, nlp, **kw):
        for art, qs in real(articles, nlp, **kw):
            yield art, (RuntimeError("boom") if art.id == "a2" else qs)

    monkeypatch.setattr(batch, "extract_many", failing)
    r = evaluate_goldset("g", str(gold), str(texts), nlp)
    direct = next(s for k, rule, s in r.rows if (k, rule) == ("direct", "overlap>=0.8"))
    assert r.failed == ("a2",) and (direct.gold, direct.matched) == (2, 1)  # a2 counts as finding nothing
    assert "extraction failed on 1 articles (a2)" in format_table([r, pooled("all", [r])])
