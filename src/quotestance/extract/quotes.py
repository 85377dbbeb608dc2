"""Direct-quote spans from raw text: pairing quotation marks without ever raising.

Pure text, no NLP. The rules news text needs:
- straight (") and curly (“ ”) double marks, each mark's role read from its neighbours first and its
  glyph second, so a misused ” that opens a quote still opens it;
- a multi-paragraph quote opens every paragraph and closes only at the end: each paragraph is a segment
  of the same group;
- single marks (‘ ’ or ') are text inside a double quote (nested quotes) and count as quotes at top level
  only when they clearly enclose a sentence, so apostrophes ("don’t", "the sites’ owners") never pair;
- a block quote is the paragraph after one that ends in "X wrote:" with no marks of its own;
- an embedded post, as scraped pages render one ("text — Name (@handle) March 3, 2021"), is a quote of the
  name its signature gives;
- an opening mark with no partner yields the best pairing (to the paragraph end), flagged "unclosed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DOUBLE_OPEN = "“„«"
DOUBLE_CLOSE = "”»"
STRAIGHT = '"'
DOUBLE = DOUBLE_OPEN + DOUBLE_CLOSE + STRAIGHT
SINGLE_OPEN = "‘'"
SINGLE_CLOSE = "’'"
_LEFT_BOUND = set("([{—–-/\u00a0") | set(DOUBLE_OPEN) | set("‘")
_RIGHT_BOUND = set(".,;:!?)]}—–-\u00a0…") | set(DOUBLE_CLOSE) | set("’")
_SENT_END = re.compile(r"[.!?…][\"”’')\]]*$")


@dataclass
class Span:
    """A quote segment: [start, end) is the text inside the marks."""

    start: int
    end: int
    open_pos: int | None  # index of the opening mark (None for block quotes)
    close_pos: int | None  # index of the closing mark (None when it runs to a paragraph end)
    paragraph: int  # index into paragraphs()
    flags: list[str] = field(default_factory=list)
    prev_segment: int | None = None  # index of the segment this one continues (multi-paragraph)
    # the speaker the text itself names beside the span (an embedded post's signature)
    named: str | None = None


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph: blank-line separated when the text uses blank lines, else lines."""
    sep = re.compile(r"\n[ \t]*\n\s*") if re.search(r"\n[ \t]*\n", text) else re.compile(r"\n+")
    out, pos = [], 0
    for m in sep.finditer(text):
        if text[pos : m.start()].strip():
            out.append((pos, m.start()))
        pos = m.end()
    if text[pos:].strip():
        out.append((pos, len(text)))
    return [_strip_range(text, s, e) for s, e in out]


def _strip_range(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _role(text: str, i: int) -> str:
    """'open', 'close' or 'either' for the double mark at i, from its neighbours and then its glyph."""
    prev = text[i - 1] if i > 0 else "\n"
    nxt = text[i + 1] if i + 1 < len(text) else "\n"
    left = prev.isspace() or prev in _LEFT_BOUND
    right = nxt.isspace() or nxt in _RIGHT_BOUND
    if left and not right:
        return "open"
    if right and not left:
        return "close"
    ch = text[i]
    return "open" if ch in DOUBLE_OPEN else "close" if ch in DOUBLE_CLOSE else "either"


def _starts_with_open(text: str, s: int, e: int) -> bool:
    return s < e and text[s] in DOUBLE_OPEN + STRAIGHT and _role(text, s) in ("open", "either")


def _double_spans(text: str, paras: list[tuple[int, int]]) -> list[Span]:
    spans: list[Span] = []
    carry: int | None = None  # index of a segment left open at the previous paragraph's end
    for p, (ps, pe) in enumerate(paras):
        state: int | None = None
        for i in range(ps, pe):
            if text[i] not in DOUBLE:
                continue
            role = _role(text, i)
            if state is None:
                if role in ("open", "either"):
                    state = i
                # a closing mark with nothing open is a stray: ignored
            elif role in ("close", "either"):
                spans.append(Span(state + 1, i, state, i, p))
                if carry is not None and state == ps:
                    spans[-1].prev_segment = carry
                carry = None
                state = None
            else:  # a second opening mark inside a quote: the first one was never closed
                spans.append(
                    Span(state + 1, _trim_end(text, state + 1, i), state, None, p, flags=["unclosed"])
                )
                state = i
        if carry is not None and (not spans or spans[-1].paragraph != p):
            carry = None
        if state is not None:
            nxt = paras[p + 1] if p + 1 < len(paras) else None
            end = _trim_end(text, state + 1, pe)
            flag = "continues" if nxt and _starts_with_open(text, *nxt) else "unclosed"
            spans.append(Span(state + 1, end, state, None, p, flags=[flag]))
            if carry is not None and state == ps:
                spans[-1].prev_segment = carry
            carry = len(spans) - 1 if flag == "continues" else None
    return [s for s in spans if text[s.start : s.end].strip()]


def _trim_end(text: str, s: int, e: int) -> int:
    while e > s and text[e - 1].isspace():
        e -= 1
    return e


MAX_SINGLE_CHARS = 2000  # a single-quoted sentence is never longer: an opener looks no further for its closer
MAX_SINGLE_CANDIDATES = 16  # closers tried per opener (each possessive "s’" skipped costs one)


def _single_spans(text: str, paras: list[tuple[int, int]], taken: list[tuple[int, int]]) -> list[Span]:
    """Top-level single-quoted sentences (British style); apostrophes never pair because an opener
    needs a boundary before and a letter after, and the pair must enclose a sentence-like run.

    Linear in the paragraph: the closers that can end a quote (a mark before a space or punctuation) are
    found once, each opener looks at a bounded number of them within MAX_SINGLE_CHARS, and the double-quote
    spans it must avoid are found by bisection (a flood of unpaired openers once scanned to the paragraph's
    end for each of them).
    """
    from bisect import bisect_left, bisect_right

    spans: list[Span] = []
    opener = re.compile(r"(?:(?<=^)|(?<=[\s(\[—–]))[‘'](?=[^\W_]|@|#)", re.M)
    closer = re.compile(r"[’'](?=[\s.,;:!?)—–]|\Z)")
    taken = sorted(taken)
    starts = [a for a, _ in taken]
    reach = [0] * len(taken)  # the furthest end among taken spans up to each index (they may nest)
    for i, (_, b) in enumerate(taken):
        reach[i] = max(b, reach[i - 1] if i else b)
    for p, (ps, pe) in enumerate(paras):
        closers = [m.start() for m in closer.finditer(text, ps, pe)]
        for m in opener.finditer(text, ps, pe):
            o = m.start()
            i = bisect_right(starts, o) - 1
            if (i >= 0 and o < reach[i]) or (spans and spans[-1].start <= o <= spans[-1].end):
                continue
            k = bisect_left(closers, o + 2)
            for c in closers[k : k + MAX_SINGLE_CANDIDATES]:
                if c - o > MAX_SINGLE_CHARS:
                    break
                nxt = text[c + 1] if c + 1 < pe else " "
                inner = text[o + 1 : c]
                if "‘" in inner:
                    break  # another opener inside: these are apostrophes ("rock ‘n’ roll"), not a quote
                if inner.endswith(("s", "S")) and not re.search(r"[.,!?]$", inner):
                    continue  # likely a plural possessive ("the sites’ owners")
                # a short one is kept only if attribution is found for it later (see the extractor)
                if len(inner.split()) >= 4 and not (re.search(r"[.,!?]$", inner) or nxt in ",."):
                    break
                spans.append(Span(o + 1, c, o, c, p, flags=["single"]))
                break
    return spans


# a paragraph that introduces the next one; tolerant of a stray non-breaking space or its mojibake ("Â")
INTRO_END = re.compile(r":[\s\u00a0Â]*$")


_DOC_REF = re.compile(
    r"^(?:(?:The|That|His|Her|Their|Its|In (?:a|an|the|his|her|their))\s+|[^.]{0,40}\b(?:the|her|his|their) )"
    r"(?:[\w-]+\s+){0,2}"
    r"(?:post|essay|letter|statement|reply|blog|column|op-ed|article|interview|note|message|piece|submission)\b"
)
# a paragraph that reports rather than continues a block quote: quote marks, a reporting verb, or a
# reference to the document itself ("The essay drew replies", "In an interview, Vollmer said")
_NARRATION = re.compile(
    r"[\"“”]|\b(?:said|says|wrote|writes|told|tells|added|according to|replied|responded|argued)\b|"
    r"^(?:The|That|His|Her|Their|Its|In (?:a|an|the|his|her))\s+(?:\w+\s+){0,2}"
    r"(?:post|essay|letter|statement|reply|blog|column|op-ed|article|interview|note|message|piece)\b"
)
MAX_BLOCK_PARAGRAPHS = 8
_SOFT_BREAK = re.compile(r"(?<=[.!?])[ \t\u00a0]{2,}(?=\S)")
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I’m|we|We|our|Our|us|my|My|you|You|your|Your)\b")
_INTRO_CUE = re.compile(
    r"\b(?:wrote|writes|said|says|stated|states|reads|read|added|posted|tweeted|statement|post|"
    r"letter|note|message|email|blog)\b[^.]*:\s*$",
    re.I,
)


def _block_spans(text: str, paras: list[tuple[int, int]], covered: set[int]) -> list[Span]:
    """Paragraphs with no marks after one that ends in a colon ("… wrote:"): the first is a block quote,
    and so is each following one until a paragraph reads as narration again."""
    spans: list[Span] = []
    for p in range(1, len(paras)):
        ps, pe = paras[p]
        prev_s, prev_e = paras[p - 1]
        if p in covered or not INTRO_END.search(text[prev_s:prev_e]):
            continue
        if any(ch in DOUBLE for ch in text[ps : min(pe, ps + 2)]) or len(text[ps:pe].split()) < 4:
            continue
        intro = text[prev_s:prev_e]
        if not (_INTRO_CUE.search(intro) or _FIRST_PERSON.search(text[ps:pe])):
            continue  # "The founder calls it:" then a paragraph of narration
        # scraped text often joins paragraphs with a double space: each piece is its own segment
        cuts = [ps] + [m.end() for m in _SOFT_BREAK.finditer(text, ps, pe)] + [pe]
        for a, b in zip(cuts, cuts[1:]):
            b = _trim_end(text, a, b)
            if b > a:
                prev = len(spans) - 1 if a != ps else None
                spans.append(Span(a, b, None, None, p, flags=["block"], prev_segment=prev))
        # the block runs on until narration resumes; without a first- or second-person voice a paragraph
        # belongs to it only when the narration that ends the run refers back to the document ("The essay …")
        run, personal = [], 0
        for q in range(p + 1, min(len(paras), p + MAX_BLOCK_PARAGRAPHS)):
            qs, qe = paras[q]
            para = text[qs:qe]
            voice = _FIRST_PERSON.search(para)
            if (
                q in covered
                or INTRO_END.search(para)
                or _DOC_REF.search(para)
                or any(c in DOUBLE for c in para)
                or (_NARRATION.search(para) and not voice)
            ):
                if _DOC_REF.search(para):
                    personal = len(run)
                break
            run.append(q)
            if voice:  # everything up to the last paragraph still in the writer's voice
                personal = len(run)
        for q in run[:personal]:
            qs, qe = paras[q]
            spans.append(Span(qs, qe, None, None, q, flags=["block"], prev_segment=len(spans) - 1))
            covered.add(q)
    return spans


_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
# the signature an embedded post ends with: a dash, the display name, the handle, the date (and a stray mark
# the page put around the whole embed)
_SIGNATURE = re.compile(
    r"(?:^|\s)[—–-]{1,2}\s*(?P<name>[^\n()@—–]{1,80}?)\s*\(@\w{1,30}\)\s*"
    rf"(?:{_MONTHS})\.? \d{{1,2}},? \d{{4}}\s*[\"“”'‘’]?\s*$"
)
_LIST_ITEM = re.compile(r"(?:\d{1,2}[.)]|[•*-])\s")
MAX_POST_CHARS = 320  # a post's text (280 characters) with a link or two: the paragraphs above it looked at


def _post_spans(text: str, paras: list[tuple[int, int]], covered: set[int]) -> list[Span]:
    """Embedded posts: the text before a signature ("— Name (@handle) Month D, YYYY") in its paragraph, or else
    the paragraph above it, as one span named by the signature. A post that is a list ("1. …", "2. …") takes
    the items above it too, as far as one post holds; a paragraph ending in a colon introduces the post and
    any other paragraph is the article's own."""

    def fits(q: int, end: int) -> bool:
        qs, qe = paras[q]
        para = text[qs:qe]
        return not (
            q in covered
            or end - qs > MAX_POST_CHARS
            or INTRO_END.search(para)
            or any(c in DOUBLE for c in para)
            or _SIGNATURE.search(para)
        )

    spans: list[Span] = []
    for p, (ps, pe) in enumerate(paras):
        m = _SIGNATURE.search(text[ps:pe]) if "(@" in text[ps:pe] else None  # most paragraphs: one scan
        if m is None or p in covered:
            continue
        name = " ".join(w for w in m.group("name").split() if re.search(r"[A-Za-z0-9]", w))
        first, end = p, _trim_end(text, ps, ps + m.start())
        if end == ps:  # the signature is a paragraph of its own: the post is the one above
            if p == 0 or not fits(p - 1, paras[p - 1][1]):
                continue
            first, end = p - 1, paras[p - 1][1]
        while (
            first > 0
            and _LIST_ITEM.match(text, paras[first][0])
            and _LIST_ITEM.match(text, paras[first - 1][0])
            and fits(first - 1, end)
        ):
            first -= 1
        start = paras[first][0]
        while start < end and (text[start] in SINGLE_OPEN + DOUBLE or text[start].isspace()):
            start += 1  # a mark the page put around the whole embed
        if name and len(re.findall(r"\w+", text[start:end])) >= 3:
            spans.append(Span(start, end, None, None, first, flags=["post"], named=name))
    return spans


def find_direct_spans(text: str) -> tuple[list[tuple[int, int]], list[Span]]:
    """Paragraph ranges and every candidate direct-quote segment, in text order.

    >>> _, spans = find_direct_spans('“Yes, we will,” she said. “Not today.”')
    >>> [(s.start, s.end) for s in spans]
    [(1, 14), (27, 37)]
    """
    paras = paragraphs(text)
    doubles = _double_spans(text, paras)
    taken = [(s.open_pos if s.open_pos is not None else s.start, (s.close_pos or s.end) + 1) for s in doubles]
    singles = _single_spans(text, paras, taken)
    covered = {s.paragraph for s in doubles + singles}
    blocks = _block_spans(text, paras, covered)
    for b in blocks:  # block indices are local to their list
        if b.prev_segment is not None:
            b.prev_segment += len(doubles) + len(singles)
    posts = _post_spans(text, paras, covered | {b.paragraph for b in blocks})
    spans = doubles + singles + blocks + posts
    order = sorted(range(len(spans)), key=lambda i: spans[i].start)
    remap = {old: new for new, old in enumerate(order)}
    out = [spans[i] for i in order]
    for s in out:
        if s.prev_segment is not None:
            s.prev_segment = remap[s.prev_segment]
    return paras, out


def ends_sentence(s: str) -> bool:
    """Whether s ends with sentence-final punctuation (closing marks allowed after it)."""
    return bool(_SENT_END.search(s.rstrip()))
