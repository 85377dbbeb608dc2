"""Character spans compared by overlap: the one matcher that pairs a span with its best counterpart.

Extraction scoring (evaluation.score_spans), the dataset's gold join (dataset.join_gold) and Label Studio's
check for existing gold (label.py) all pair spans the same way, so they agree on what "the same quote"
means: overlap is |intersection| / |union| of the spans (usually without their quotation marks).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

K = TypeVar("K")
_MARKS = "\"'“”‘’ \n"


def overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """|intersection| / |union| of two [start, end) spans (0.0 when both are empty)."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def strip_marks(span: tuple[int, int], text: str) -> tuple[int, int]:
    """The span without the quotation marks, spaces and newlines at either end."""
    s, e = span
    while s < e and text[s] in _MARKS:
        s += 1
    while e > s and text[e - 1] in _MARKS:
        e -= 1
    return s, e


def match_span(
    span: tuple[int, int],
    candidates: Iterable[tuple[K, tuple[int, int]]],
    min_overlap: float,
    exact: bool = False,
    first: bool = False,
) -> K | None:
    """The key of the candidate span overlapping `span` most, if that overlap is at least `min_overlap`, else None.

    Candidates are (key, span) pairs, tried in order (a lazy iterable is read only as far as needed); among
    equal overlaps the earliest wins, and an overlap of 0 is never the best. exact=True scores an identical span
    1.0 and any other 0.0. first=True returns the first candidate reaching `min_overlap` instead of the best
    one (a lookup of any matching row rather than a one-to-one pairing). Callers that pair one-to-one leave
    used candidates out.

    >>> cands = [("a", (0, 12)), ("b", (11, 20)), ("c", (10, 21))]  # overlaps 0.1, 0.9, 0.909
    >>> match_span((10, 20), cands, 0.8), match_span((10, 20), cands, 0.8, first=True)
    ('c', 'b')
    >>> match_span((10, 20), cands, 0.95) is None, match_span((10, 20), cands, 0.5, exact=True) is None
    (True, True)
    """
    best, key, found = 0.0, None, False
    for k, cand in candidates:
        o = (1.0 if cand == span else 0.0) if exact else overlap(span, cand)
        if first:
            if o >= min_overlap:
                return k
            continue
        if o > best:  # strictly greater: the earliest of equal overlaps stays
            best, key, found = o, k, True
    return key if found and best >= min_overlap else None
