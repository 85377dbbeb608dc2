"""Paragraph selection: the parser reads only what can hold a quote or an attribution, and nothing is lost."""

from __future__ import annotations

import pytest

from quotestance.extract.quotes import paragraphs
from quotestance.extract.select import parse_plan
from quotestance.records import Article

ARTICLE = """Jonas Feldhaus built Kestrel Networks from a garage in Leeds in 2009.

It now runs data centres on three continents.

Its revenue doubled over the past two years, filings show.

Growth is expected to last into next year.

"We do not decide what is true," Feldhaus said on Tuesday.

Civil liberties groups argued that the host should keep serving the forum."""


def test_background_paragraphs_get_entities_only():
    plan = parse_plan(ARTICLE, paragraphs(ARTICLE))
    # 0: no cue, two paragraphs from any; 3 and 4 stand next to the quote; 5 reports speech
    assert plan == [False, False, False, True, True, True]


@pytest.mark.parametrize("text", [ARTICLE, "No quotes here.\n\nNone at all."])
def test_selection_gives_the_same_quotes_and_full_names(nlp, text):
    from quotestance.extract.batch import extract_many

    art = Article(id="a", text=text)
    (_, full), (_, selected) = (next(extract_many([art], nlp, select=s)) for s in (False, True))
    assert [q.to_dict() for q in selected] == [q.to_dict() for q in full]
    if text == ARTICLE:  # the surname resolves to the name given in a paragraph that was never parsed
        assert selected[0].speaker == "Jonas Feldhaus"
