"""Which paragraphs extraction needs parsed, found from the text alone before the parser runs.

A paragraph needs the full parse (tagger, parser, lemmas, entities) when it holds a direct quote or a word
that can report speech (a speech verb in any form, a speech act, "according to"), or stands next to one (an
attribution in the next paragraph, "he" or "the company" just before). Every other paragraph only needs its
names and organisations, for resolving surnames and abbreviations elsewhere: spaCy's entity recogniser alone
gives those (it has its own embedding layer), at about half the cost of the whole pipeline. The choice errs
towards parsing: a false hit costs time, a miss could cost a quote.
"""

from __future__ import annotations

import re

from quotestance.extract.lexicon import INDIRECT_VERBS_ALL, PEOPLE_NOUNS
from quotestance.extract.quotes import find_direct_spans
from quotestance.extract.reported import ACT_PHRASES, ACT_VERBS, STANCE_ACTS

# past forms a stem does not reach ("say" -> "said")
_IRREGULAR = "said told wrote written spoke spoken stood held thought felt meant swore sworn sought"


def forms(verb: str) -> set[str]:
    """Every regular inflection of a verb, over-generated (a false hit only costs a parse).

    >>> sorted(forms("deny"))
    ['denied', 'denies', 'deny', 'denyd', 'denyed', 'denyes', 'denying', 'denys']
    >>> {"quipped", "argued", "arguing"} <= forms("quip") | forms("argue")
    True
    """
    out = {verb, verb + "s", verb + "es", verb + "ed", verb + "d", verb + "ing"}
    if verb.endswith("e"):
        out.add(verb[:-1] + "ing")  # argue -> arguing
    if verb.endswith("y") and verb[-2:-1] not in tuple("aeiou"):
        out |= {verb[:-1] + "ied", verb[:-1] + "ies"}  # deny -> denied, denies
    if verb[-1:] not in tuple("aeiouwxy") and verb[-2:-1] in tuple("aeiou"):
        out |= {verb + verb[-1] + "ed", verb + verb[-1] + "ing"}  # quip -> quipped, admit -> admitted
    return out


_VERBS = INDIRECT_VERBS_ALL | ACT_VERBS | STANCE_ACTS | set(ACT_PHRASES)
# descriptions of people ("a coalition of 26 rights groups") that a later "the groups said" refers back to
_NOUNS = {f for n in PEOPLE_NOUNS for f in (n, n + "s", n + "es")}
_CUE = re.compile(
    r"\baccording\s+to\b|\b(?:"
    + "|".join(
        sorted(set().union(*map(forms, _VERBS)) | set(_IRREGULAR.split()) | _NOUNS, key=len, reverse=True)
    )
    + r")\b",
    re.IGNORECASE,
)


def parse_plan(text: str, paras: list[tuple[int, int]]) -> list[bool]:
    """Per paragraph of `paras` (quotes.paragraphs(text)): True where it needs the full parse.

    >>> t = "Acme sells routers.\\n\\nIt was founded in 1990.\\n\\nSales grew.\\n\\n“Never,” Lee said."
    >>> from quotestance.extract.quotes import paragraphs
    >>> parse_plan(t, paragraphs(t))
    [False, False, True, True]
    """
    hit = [bool(_CUE.search(text, s, e)) for s, e in paras]
    for span in find_direct_spans(text)[1]:
        if 0 <= span.paragraph < len(hit):
            hit[span.paragraph] = True
    return [hit[i] or (i > 0 and hit[i - 1]) or (i + 1 < len(hit) and hit[i + 1]) for i in range(len(hit))]
