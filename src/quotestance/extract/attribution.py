"""Who said a direct quote: the attribution frame beside it, its speech verb and subject, or a bare name.

A frame is the text after a quote's closing mark up to its sentence end, the text between the halves of a
split quote, the text before its opening mark from the sentence start, or a colon-ended previous paragraph
("Hugh Hill, a doctor, said:"). The subject found there becomes a `Speaker` through speakers.resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Span as SpacySpan
from spacy.tokens import Token

from quotestance.extract.lexicon import (
    DOCUMENT_NOUNS,
    INDIRECT_VERBS_ALL,
    RECORD_NOUNS,
    SENTENCE_ADVERBS,
    SPEECH_VERBS,
)
from quotestance.extract.names import NameIndex, clean_name
from quotestance.extract.parse import Parsed, word_count
from quotestance.extract.quotes import INTRO_END, Span
from quotestance.extract.speakers import Speaker, resolve, with_role


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


@dataclass
class Attribution:
    subject: Token | None
    cue: str | None
    name_span: SpacySpan | None = None  # a name standing without a verb ("-Commissioner X", "desk of X:")


_NEW_CLAUSE = set(
    """
while whereas and but as because which who where when although though since whose or so if unless after
before until
""".split()
)
_CLIMB = {"conj", "xcomp", "advcl", "acl", "ccomp", "relcl", "pcomp", "prep", "pobj"}


# "was quoted as saying", "can be heard saying": the passive's subject is the one speaking
HEARD_VERBS = {"quote", "hear", "overhear", "record", "film", "see"}


def _name_as_adverb(tok: Token) -> bool:
    """ "Tolliver said the board ...", '"…," Tolliver said': a capitalised word opening the sentence or the
    frame that the tagger took for an adverb, before a speech verb with no subject of its own, is a name."""
    return (
        tok.pos_ == "ADV"
        and (tok.is_sent_start or tok.nbor(-1).is_punct)
        and tok.text[:1].isupper()
        and tok.text[1:].islower()
        and not tok.lower_.endswith("ly")
        and tok.lower_ not in SENTENCE_ADVERBS
        and not any(c.dep_ in ("nsubj", "nsubjpass") for c in tok.head.children)
    )


def subject_of(verb: Token) -> Token | None:
    """nsubj of the verb, or of the verb it hangs from ("by saying", "was quoted as saying", "and added")."""
    v = verb
    if verb.dep_ == "acl" and verb.head.pos_ in ("NOUN", "PROPN"):
        return verb.head  # "one of the Null Sector accounts posted": a reduced relative on its speaker
    prev = verb.doc[verb.i - 1] if verb.i > 0 else None
    if (
        prev is not None
        and prev.head.i == verb.i
        and prev.dep_ in ("advmod", "npadvmod", "dep")
        and (prev.pos_ == "PROPN" or _name_as_adverb(prev))
    ):
        return prev  # "In an email, Haverlake said ...": a name the parser did not take for the subject
    if verb.tag_ == "VBG" and verb.dep_ == "advcl":
        # "X said the company did not want ..., pointing out that ...": the participle is the speaker's act,
        # though the parser hangs it inside what X said
        said = next(
            (a for a in verb.ancestors if a.lemma_.lower() in SPEECH_VERBS and a.pos_ == "VERB"), None
        )
        if said is not None and verb.head.dep_ in ("ccomp", "xcomp"):
            return subject_of(said)
    for _ in range(4):
        # of two subjects ("• The registry said", "In an email [PDF], Varga asked"), the word, nearest the verb
        subjs = [
            c for c in v.children if c.dep_ in ("nsubj", "nsubjpass") and c.text.lstrip("@")[:1].isalnum()
        ]
        subj = max(subjs, key=lambda c: (c.i < v.i, c.i if c.i < v.i else -c.i)) if subjs else None
        if subj is not None and subj.dep_ == "nsubjpass" and v.lemma_ not in HEARD_VERBS:
            # "the host has been called a “safe haven”": what is called is not who speaks; the agent is
            agent = next((c for c in v.children if c.dep_ == "agent"), None)
            return next((c for c in agent.children if c.dep_ == "pobj"), None) if agent is not None else None
        if subj is not None and subj.lower_ in ("who", "that", "which") and v.dep_ == "relcl":
            return v.head  # "Ilse Varga, who said ...": the noun the relative clause describes
        if subj is not None:
            return subj
        obj = next((c for c in v.head.children if c.dep_ == "dobj"), None) if v.dep_ == "xcomp" else None
        if obj is not None and obj.i < v.i and v is verb:
            # "prompting Senator X to demand ...": the object of the verb above speaks; only for the speech
            # verb itself ("used the site to hit back at Amazon, stating ...": the firm speaks)
            return obj
        if v.dep_ in _CLIMB and v.head.i != v.i:
            v = v.head
        else:
            break
    root = verb.sent.root
    if verb.tag_ == "VBG" and verb.dep_ == "advcl" and verb.i > 0 and verb.doc[verb.i - 1].text == ",":
        # "Cloudflare is resisting requests to shut off its services, saying that ...": a participle set off
        # by a comma is the act of the sentence's subject, however deep the parser hung it
        subj = next((c for c in root.children if c.dep_ == "nsubj"), None) if root.i < verb.i else None
        if subj is not None and subj.text[:1].isalnum():
            return subj
    return None


def cue_text(verb: Token) -> str:
    """The speech verb as the cue, with its particle or 'firm' ("pointed out", "stood firm")."""
    prt = [c.text for c in verb.children if c.dep_ == "prt"]
    acomp = [c.text for c in verb.children if c.dep_ == "acomp" and c.lower_ == "firm"]
    return " ".join([verb.text, *prt, *acomp])


def _is_speech(t: Token) -> bool:
    return t.lemma_.lower() in SPEECH_VERBS and t.pos_ in ("VERB", "AUX") and t.lemma_ != "be"


def _is_other_verb(t: Token) -> bool:
    if t.lemma_.lower() in HEARD_VERBS and any(c.dep_ == "auxpass" for c in t.children):
        return False  # "“…,” a member can be heard saying": the speech verb follows
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
            if any(_is_speech(x) and subject_of(x) is not None for x in toks if x.i < t.i):
                break  # "Ruiz wrote in the email, according to the Ledger": the writer speaks, the outlet reports
            pobj = next((c for c in t.doc[t.i + 1].children if c.dep_ == "pobj"), None)
            if pobj is not None and pobj.lower_ not in RECORD_NOUNS:
                return Attribution(pobj, "according to")
    if side == "after":
        first = next((t for t in toks if not t.is_punct), None)
        if first is not None and first.lower_ in _NEW_CLAUSE:
            return None  # '“…” while the Ledger notes …': a new clause, not this quote's attribution
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
        subj = subject_of(t)
        if subj is not None and subj.lower_ in ("i", "we", "you"):
            continue
        if subj is not None and not (sp.start <= subj.i < sp.end) and side == "after":
            # the parser hung the verb on a subject across the quote: take the name in the frame instead
            inside = [
                x for x in toks if x.i < t.i and (x.ent_type_ in ("PERSON", "ORG") or x.pos_ == "PROPN")
            ]
            # or the verb's other subject in the frame ("“Jess, do it,” says another": not the name addressed)
            own = [c for c in t.children if c.dep_ in ("nsubj", "nsubjpass") and sp.start <= c.i < sp.end]
            if inside or own:
                subj = inside[-1] if inside else own[0]
        passive = any(c.dep_ == "auxpass" for c in t.children)
        if subj is None and side == "after" and not passive:  # "said Prince" parsed without nsubj
            nxt = t.doc[t.i + 1] if t.i + 1 < len(t.doc) else None
            if (
                nxt is not None
                and nxt.i < sp.end
                and nxt.pos_ in ("PROPN", "NOUN", "DET")
                and nxt.dep_ not in ("dobj", "dative", "pobj")
            ):
                subj = nxt if nxt.pos_ != "DET" else nxt.head
        if subj is not None:
            return Attribution(subj, cue_text(t))
    stripped = sp.text.strip()
    if stripped[:1] in "—–-" or (stripped.endswith(":") and side == "before"):
        cue = "byline" if stripped[:1] in "—–-" else "colon"
        people = [e for e in sp.ents if e.label_ == "PERSON"]
        if people:  # a person named in the intro speaks, not the outlet or the company
            return Attribution(None, cue, people[-1])
        runs: list[list[Token]] = []  # proper-noun runs; the one nearest the colon names the speaker
        for t in sp:  # never a date ("published its statement on Monday:")
            if t.pos_ == "PROPN" and t.text[:1].isupper() and t.ent_type_ not in ("DATE", "TIME"):
                if runs and runs[-1][-1].i == t.i - 1:
                    runs[-1].append(t)
                else:
                    runs.append([t])
        if runs:
            return Attribution(None, cue, sp.doc[runs[-1][0].i : runs[-1][-1].i + 1])
        orgs = [e for e in sp.ents if e.label_ in ("ORG", "NORP")]
        if orgs:
            return Attribution(None, cue, orgs[-1])
        # "The post read, in part:" parsed with no verb: the document speaks for whoever issued it
        docs = [t for t in sp if t.pos_ == "NOUN" and t.lemma_.lower() in DOCUMENT_NOUNS]
        if docs:
            return Attribution(docs[-1], cue)
    return None


def speaker_from(att: Attribution, idx: NameIndex, pos: int) -> Speaker:
    """The speaker an attribution names: its subject resolved, or the bare name it holds."""
    if att.subject is not None:
        return resolve(att.subject, idx, pos)
    assert att.name_span is not None
    ent = att.name_span
    if ent.label_ == "PERSON" or all(t.pos_ == "PROPN" for t in ent):
        toks = [
            t
            for t in ent
            if not (t.pos_ == "NOUN" or (t.ent_type_ != "PERSON" and t.i == ent.start and len(ent) > 2))
        ]
        name = idx.canonical(clean_name(" ".join(t.text for t in toks) or ent.text))
        title = " ".join(t.text for t in ent if t not in toks) or None
        return with_role(Speaker(name, title, None, True), idx)
    name = clean_name(ent.text)
    return Speaker(name, None, name, False)


def direct_attribution(
    text: str, parsed: Parsed, paras: list[tuple[int, int]], spans: list[Span], i: int
) -> tuple[Attribution | None, tuple[int, int], str]:
    """The attribution frame of direct segment i: after it, between it and a split partner, before it,
    or a colon-ended previous paragraph ("Hugh Hill, a doctor, said:")."""
    s = spans[i]
    ps, pe = paras[s.paragraph]
    prev = spans[i - 1] if i > 0 and spans[i - 1].paragraph == s.paragraph else None
    nxt = spans[i + 1] if i + 1 < len(spans) and spans[i + 1].paragraph == s.paragraph else None
    inner = text[s.start : s.end].rstrip()
    if s.close_pos is not None:
        f = _frame_after(text, s.close_pos + 1, pe, nxt.open_pos if nxt else None)
        head = text[f[0] : f[1]].lstrip(" ,")
        # after a quote that ends its own sentence, a capitalised frame is a new sentence, not attribution
        if not (inner.endswith(".") and head[:1].isupper()):
            att = _attribution(parsed.span(*f), "after")
            if att:
                return att, f, "after"
    if s.open_pos is not None:
        pc = prev.close_pos if prev else None
        if pc is not None and word_count(text[pc + 1 : s.open_pos]) <= 20:
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
        # "…, a spokesperson stated," ending its paragraph introduces the next as well as a colon does
        comma = text[qs:qe].rstrip().endswith(",")
        if INTRO_END.search(text[qs:qe]) or comma:
            last = re.split(r"(?<=[.!?])\s+", text[qs:qe])[-1]
            f = (qe - len(last), qe)
            att = _attribution(parsed.span(*f), "before")
            if att and not (comma and att.subject is None):  # after a comma, a speech verb with its subject
                return att, f, "intro"
    return None, (s.start, s.end), "none"


def enclosing_report(parsed: Parsed, s: Span) -> Attribution | None:
    """A quote with no frame of its own that sits inside reported speech ("Varga pointed out that the country's
    “...”", "the groups argue that the U.S. should “...”"): the reporting verb's subject is its speaker."""
    inside = parsed.span(s.start, s.end)
    if inside is None:
        return None
    head = inside.root
    for _ in range(6):
        if head.head.i == head.i:
            return None
        head = head.head
        if head.idx < s.start or head.idx >= s.end:  # outside the quote: the verb the quote hangs from
            lo, hi = min(head.i, inside.start), max(head.i + 1, inside.end)
            if any("\n" in t.text for t in head.doc[lo:hi]):
                return None  # a verb in another paragraph: the parser glued the lines
            if head.pos_ == "VERB" and head.lemma_.lower() in INDIRECT_VERBS_ALL:
                subj = subject_of(head)
                if subj is not None and not (s.start <= subj.idx < s.end):
                    return Attribution(subj, cue_text(head))
                return None
    return None
