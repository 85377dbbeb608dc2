"""The shipped corpus and its gold labels: well-formed, reproducible, large enough, and extractable."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from quotestance.corpus import LABELS, build_gold, card_section, cohen_kappa, read_body, stats
from quotestance.extract.ingest import read_file
from quotestance.extract.spans import overlap
from quotestance.records import Article

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data/corpus"
GOLD = ROOT / "data/annotations/gold.jsonl"


@pytest.fixture(scope="module")
def gold() -> list[dict]:
    return [json.loads(x) for x in GOLD.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def bodies() -> dict[str, str]:
    return {p.stem: read_body(p)[1] for p in CORPUS.glob("*.md")}


def test_every_article_parses_with_complete_front_matter():
    for path in sorted(CORPUS.glob("*.md")):
        meta, body = read_body(path)
        assert meta.get("id") == path.stem, path
        for key in ("title", "date", "outlet", "event", "byline"):
            assert meta.get(key), f"{path.name}: no {key}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(meta["date"])), path
        assert meta.get("url") == "", path
        assert 350 <= len(body.split()) <= 1000, f"{path.name}: {len(body.split())} words"
        (art,) = list(read_file(path))  # the extraction stage reads the same body
        assert isinstance(art, Article) and art.text == body and art.event == meta["event"]


def test_gold_offsets_ids_and_labels(gold, bodies):
    assert len({g["quote_id"] for g in gold}) == len(gold)
    for g in gold:
        assert bodies[g["article_id"]][g["char_start"] : g["char_end"]] == g["quote"], g["quote_id"]
        assert g["stance"] in LABELS and g["kind"] in ("direct", "indirect")
        assert g["confidence"] in ("clear", "ambiguous") and g["speaker"]
    assert {g["article_id"] for g in gold} == set(bodies)


def test_gold_is_exactly_what_the_parts_build(gold):
    rows, errors = build_gold(CORPUS, sorted((ROOT / "data/annotations/parts").glob("*.jsonl")))
    assert not errors
    built = [(r["quote_id"], r["char_start"], r["char_end"], r["stance"]) for r in rows]
    assert built == [(g["quote_id"], g["char_start"], g["char_end"], g["first_stance"]) for g in gold]


def test_size_label_shares_and_agreement(gold, bodies):
    events = {read_body(p)[0]["event"] for p in CORPUS.glob("*.md")}
    assert len(bodies) >= 100 and len(gold) >= 1200 and len(events) >= 16
    lab = Counter(g["stance"] for g in gold)
    assert 0.20 <= lab["other"] / len(gold) <= 0.35
    stance_n = len(gold) - lab["other"]
    assert all(lab[k] / stance_n >= 0.20 for k in LABELS[:3])
    a = [g["first_stance"] for g in gold]
    b = [g["second_stance"] for g in gold]
    assert cohen_kappa(a, b) >= 0.75
    disagreements = [g for g in gold if g["first_stance"] != g["second_stance"]]
    assert all(g.get("adjudication_note") for g in disagreements)


def test_cohen_kappa_known_values():
    assert cohen_kappa(list("aabb"), list("aabb")) == 1.0
    assert abs(cohen_kappa(list("aabb"), list("abab"))) < 1e-9


def test_data_card_figures_are_the_stats_output():
    assert card_section(ROOT / "data/README.md") == stats(GOLD, CORPUS), (
        "data/README.md is stale: run `quotestance-corpus card`"
    )


@pytest.mark.slow
def test_extractor_delivers_every_gold_direct_quote(nlp, gold):
    from quotestance.extract import extract_many, read_articles

    arts = [a for a in read_articles(CORPUS) if isinstance(a, Article)]
    found: dict[str, list[tuple[int, int]]] = {}
    for art, qs in extract_many(arts, nlp):
        found[art.id] = [(q.char_start, q.char_end) for q in qs if q.kind == "direct"]
    missing = [
        g["quote_id"]
        for g in gold
        if g["kind"] == "direct"
        and not any(
            overlap((g["char_start"], g["char_end"]), x) >= 0.5
            or (x[0] <= g["char_start"] and g["char_end"] <= x[1])
            for x in found[g["article_id"]]
        )
    ]
    assert not missing, f"the extractor cannot deliver these gold direct quotes: {missing}"
