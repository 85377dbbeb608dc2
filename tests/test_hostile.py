"""Hostile inputs cost bounded time: extraction stays linear in the article, and a per-article time budget
stops whatever still runs long, recording it while the batch goes on."""

from __future__ import annotations

import time

import pytest

from quotestance.records import Article


def test_single_quote_floods_finish():
    """8k/16k/32k characters of unpaired single-quote openers once took 0.9/3.5/10.4 s (quadratic: 400k would
    take half an hour). Linear, 400k take about a second; the bound is loose because machines are noisy (the
    per-100 KB figures belong in a benchmark, not a test)."""
    from quotestance.extract.quotes import _single_spans, paragraphs

    for unit in (" 'ab", " 'ab' ", " ‘x’s "):
        text = unit * (400_000 // len(unit))
        t = time.perf_counter()
        _single_spans(text, paragraphs(text), [])
        assert time.perf_counter() - t < 20, unit


def test_an_article_over_its_time_budget_is_recorded_and_the_batch_goes_on(nlp, monkeypatch):
    import quotestance.extract.batch as ex

    real = ex.extract_from_parse

    def slow_for_one(art, parsed, version):
        if art.id == "slow":
            time.sleep(5)
        return real(art, parsed, version)

    monkeypatch.setattr(ex, "extract_from_parse", slow_for_one)
    arts = [Article(id=i, text='"We act on court orders," said Dana Whitfield.') for i in ("a", "slow", "b")]
    t = time.perf_counter()
    got = dict((a.id, r) for a, r in ex.extract_many(arts, nlp, max_seconds=0.5))
    assert time.perf_counter() - t < 4
    assert isinstance(got["slow"], ex.ExtractionTimeout) and "max_seconds_per_article" in str(got["slow"])
    assert len(got["a"]) == len(got["b"]) == 1


@pytest.mark.parametrize("seconds", [0.0])
def test_no_budget_means_no_timer(nlp, seconds):
    import signal

    from quotestance.extract.batch import extract_many

    before = signal.getsignal(signal.SIGALRM)
    list(extract_many([Article(id="a", text='"Fine," she said.')], nlp, max_seconds=seconds))
    assert signal.getsignal(signal.SIGALRM) == before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
