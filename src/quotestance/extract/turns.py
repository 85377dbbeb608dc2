"""Where a quote's stance turns: the labelling guide (../shared/data/LABELING.md) splits a long quote "at the
sentence where it turns", each side its own record with its own stance. Pure text.

A quoted sentence opening with a connective that sets it against the one before ("However, …", "That said,
…"; lexicon.TURN_OPENERS) starts a new segment. "But" is not one of them: inside a quote it more often goes
on with a point than turns it, and splitting at it cost more whole quotes than it found segments.
"""

from __future__ import annotations

import re

from quotestance.extract.lexicon import TURN_OPENERS

_TURN = re.compile(r"[.!?][\"”’']?\s+((?:" + "|".join(TURN_OPENERS) + r")\b)")
MIN_TURN_WORDS = 4  # each side of a turn is a sentence of its own, not a scrap ("However, no.")


def turn_segments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) cut where a quoted sentence turns against the one before; [(start, end)] when none does.

    >>> t = "We host what the law allows. However, this forum has gone too far for us."
    >>> [t[a:b] for a, b in turn_segments(t, 0, len(t))]
    ['We host what the law allows.', 'However, this forum has gone too far for us.']
    """
    cuts = [start]
    for m in _TURN.finditer(text, start, end):
        k = m.start(1)
        if min(len(text[cuts[-1] : k].split()), len(text[k:end].split())) >= MIN_TURN_WORDS:
            cuts.append(k)
    return [(a, a + len(text[a:b].rstrip())) for a, b in zip(cuts, [*cuts[1:], end])]
