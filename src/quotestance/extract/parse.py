"""An article's spaCy parse, in chunks of whole paragraphs, and small text helpers shared by the stages.

The parse comes from spaCy in chunks so that a 5 MB article never meets spaCy's length limit; every offset is
kept in article coordinates (a chunk's doc plus its character offset in the article).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from spacy.language import Language
from spacy.tokens import Doc, Token
from spacy.tokens import Span as SpacySpan

from quotestance.extract.quotes import DOUBLE, paragraphs

MAX_CHUNK_CHARS = 50_000  # spaCy's parser is quadratic in nothing, but memory grows with doc length
_WORD = re.compile(r"\w+")


LINE_BREAKS = "quotestance_line_breaks"


@Language.component(LINE_BREAKS)
def line_breaks(doc: Doc) -> Doc:
    """A line break starts a sentence. Set before the parser, which keeps preset boundaries: without it the
    parser runs a headline, a dateline or a closing quotation on into the next line's sentence, and the
    next line's "X said the government ..." loses its subject, verb or clause to the line above."""
    for tok in doc[1:]:
        if tok.is_space and "\n" in tok.text:
            tok.is_sent_start = True
    return doc


def word_count(s: str) -> int:
    """The number of words (runs of word characters) in s."""
    return len(_WORD.findall(s))


def doc_text(doc: Doc) -> str:
    """`doc.text`, joined once per doc: spaCy rebuilds it from every token on each access, and the extractor
    asks for it inside loops over tokens and words (a cost quadratic in the article's length)."""
    text = doc.user_data.get("quotestance_text")
    if text is None:
        text = doc.user_data["quotestance_text"] = doc.text
    return text


@dataclass
class Parsed:
    """An article's parse as chunks: (doc, char offset of the chunk in the article).

    `names` holds the paragraphs that were given entities only (extract.select): read for names and
    organisations, never for a dependency or a tag.
    """

    chunks: list[tuple[Doc, int]]
    names: list[tuple[Doc, int]] = field(default_factory=list)

    def span(self, start: int, end: int) -> SpacySpan | None:
        """The spaCy span covering [start, end) in article offsets, or None when no chunk holds it."""
        if end <= start:
            return None
        for doc, off in self.chunks:
            if off <= start and end <= off + len(doc_text(doc)):
                sp = doc.char_span(start - off, end - off, alignment_mode="expand")
                return sp
        return None

    def offset(self, doc: Doc) -> int:
        """The article offset of a chunk's doc (of a token's or span's `.doc`)."""
        return next(off for d, off in self.chunks if d is doc)

    def tokens(self) -> Iterator[tuple[Token, int]]:
        """Every token of every chunk, with its chunk's article offset."""
        for doc, off in self.chunks:
            for t in doc:
                yield t, off


def chunk_text(
    text: str, limit: int = MAX_CHUNK_CHARS, paras: list[tuple[int, int]] | None = None
) -> list[tuple[str, int]]:
    """Whole paragraphs (by default every paragraph of the text) grouped into pieces of at most `limit`
    characters (a longer paragraph is cut)."""
    pieces: list[tuple[str, int]] = []
    whole = paras is None
    paras = paragraphs(text) if whole else paras
    if not paras:
        return [(text, 0)]
    start = end = 0 if whole else paras[0][0]  # the whole text keeps its leading blank lines
    for ps, pe in paras:
        if pe - start > limit and end > start:
            pieces.append((text[start:end], start))
            start = ps
        while pe - start > limit:
            pieces.append((text[start : start + limit], start))
            start += limit
        end = pe
    if end > start:
        pieces.append((text[start:end], start))
    return pieces


def plan_chunks(
    text: str, full: list[bool] | None = None, paras: list[tuple[int, int]] | None = None
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(pieces for the full parse, pieces for entities only): each a run of consecutive paragraphs of one
    kind, cut at `MAX_CHUNK_CHARS`; `full` marks the paragraphs that need the parse (None: all of them).
    There is always at least one piece to parse, so that every article passes through the parser once.
    `paras`: the text's paragraphs when the caller has them already."""
    paras = paragraphs(text) if paras is None else paras
    if not paras:
        return [(text, 0)], []
    full = [True] * len(paras) if full is None else full
    parse: list[tuple[str, int]] = []
    names: list[tuple[str, int]] = []
    k = 0
    while k < len(paras):
        j = k
        while j + 1 < len(paras) and full[j + 1] == full[k]:
            j += 1
        (parse if full[k] else names).extend(chunk_text(text, paras=paras[k : j + 1]))
        k = j + 1
    return (parse or [("", 0)]), names


def quote_marks(doc: Doc) -> tuple[list[int], list[int], list[tuple[int, int, int]]]:
    """Per doc, once: newline positions, double-mark positions, and running (open, close, straight) counts."""
    cached = doc.user_data.get("quotestance_marks")
    if cached is None:
        text = doc_text(doc)
        newlines = [i for i, c in enumerate(text) if c == "\n"]
        marks, counts, o, c_, s = [], [], 0, 0, 0
        for i, ch in enumerate(text):
            if ch in DOUBLE:
                o, c_, s = o + (ch in "“„«"), c_ + (ch in "”»"), s + (ch == '"')
                marks.append(i)
                counts.append((o, c_, s))
        cached = doc.user_data["quotestance_marks"] = (newlines, marks, counts)
    return cached


def inside_quote(tok: Token) -> bool:
    """Whether a token stands inside a pair of double quotation marks of its own paragraph.

    Counted from running totals of the doc's marks (built once per doc), so each call costs a bisection,
    not a rescan of its paragraph (a long paragraph with many verbs was quadratic).
    """
    from bisect import bisect_left

    newlines, marks, counts = quote_marks(tok.doc)
    k = bisect_left(newlines, tok.idx) - 1
    start = max(newlines[k] if k >= 0 else 0, 0)  # as text.rfind("\n", 0, idx), clamped at 0
    a, b = bisect_left(marks, start), bisect_left(marks, tok.idx)
    if b <= a:
        return False
    o0, c0, s0 = counts[a - 1] if a else (0, 0, 0)
    o1, c1, s1 = counts[b - 1]
    return o1 - o0 > c1 - c0 or (s1 - s0) % 2 == 1


def headline_lines(text: str) -> list[tuple[int, int]]:
    """Lines that read as a headline or a page's furniture, not prose: three words or more, no closing
    punctuation, and nearly every word capitalised ("Forum Dropped by Its Host, But Mirrors Live On").

    >>> headline_lines("Host Drops Forum After Outcry\\nThe host said on Monday it had dropped the forum.")
    [(0, 29)]
    >>> headline_lines("Registrar Tells Customers to Leave Over ‘War Crimes’\\nIt said so.")
    [(0, 52)]
    >>> headline_lines("Regulator asks stores to remove the app\\n\\nRegulator asks stores to remove the app\\nIt did.")
    [(0, 39), (41, 80)]
    >>> headline_lines("This story is 2 years old\\nRegulator asks stores to remove the app\\nIt did.\\nStores comply in part")
    [(0, 25), (26, 65)]
    """
    out, pos, first, prose = [], 0, None, False
    for line in text.split("\n"):
        words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", line) if w.lower() not in _MINOR]
        end = line.rstrip()
        # a closing mark right after a word ends a quoted phrase, not a sentence: "... Due to Russia’s ‘War
        # Crimes’"
        end = end[:-1] if end.endswith(("”", '"', "’")) and end[-2:-1].isalpha() else end
        if len(words) >= 3 and not end.endswith((".", "!", "?", ":", "”", '"', "’", ",")):
            # the lines above the first sentence are the headline, a standfirst or page furniture ("This
            # article is 2 years old"), in sentence case too, and so is the first line repeated below
            if (
                (not prose and not line.lstrip().startswith(("•", "*", "-", "–")))  # key points are prose
                or line.strip() == first
                or sum(w[:1].isupper() for w in words) >= 0.8 * len(words)
            ):
                out.append((pos, pos + len(line)))
        elif end.endswith((".", "!", "?", "”", '"')):
            prose = True  # a sentence: the headline zone is over
        if line.strip() and first is None:
            first = line.strip()
        pos += len(line) + 1
    return out


_MINOR = set(
    """
a an the and or but of in on at to for by with as from vs via after over into is are its
""".split()
)


def dateline_place(ent: SpacySpan) -> bool:
    """A capitalised place opening a paragraph before a dash or a date: "OSLO —", "MELBOURNE, June 14"."""
    doc = ent.doc
    opens = ent.start == 0 or "\n" in doc[ent.start - 1].text
    if not (ent.text.isupper() and opens) or ent.end >= len(doc):
        return False
    after = doc[ent.end + 1] if ent.end + 1 < len(doc) else None
    return doc[ent.end].text in ("—", "–", "-") or (
        doc[ent.end].text == "," and after is not None and after.ent_type_ == "DATE"
    )


_DATELINE_TAIL = re.compile(r"\d\s*[—–-]\s+(?=[A-Z])")


def dateline_name(ent: SpacySpan) -> tuple[int, str] | None:
    """The name a dateline's date swallowed: "June 28 - Corvane Payments" tagged whole as a DATE, as
    (character offset, name); None for any other entity."""
    m = _DATELINE_TAIL.search(ent.text) if ent.label_ == "DATE" else None
    return (ent.start_char + m.end(), ent.text[m.end() :]) if m else None
