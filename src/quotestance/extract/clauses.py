"""The reported clause of a speech verb, as a span: which dependent holds it, where it starts and ends.

A clause keeps its relative clauses and stops at an appositive, a "such as" list, a paragraph break, a
trailing participle after a comma, or a report set against it ("…, while advocates said …").
"""

from __future__ import annotations

from spacy.tokens import Token

from quotestance.extract.lexicon import ADVERBIAL_MARKS, INDIRECT_VERBS
from quotestance.extract.mentions import after_dateline
from quotestance.extract.parse import doc_text, inside_quote, word_count
from quotestance.extract.quotes import DOUBLE


def complement(verb: Token) -> Token | None:
    """The reported clause of a speech verb: its ccomp, or the ccomp of 'firm' in 'stood firm that'.

    An inverted report ("Y, Prince added") counts only when nothing but the subject stands between the
    clause and the verb; a conditional ("If ... , X said") is never the report.
    """
    holders = [verb] + [c for c in verb.children if c.dep_ == "acomp"]
    comp = next((c for h in holders for c in h.children if c.dep_ == "ccomp"), None)
    if comp is None:  # "wrote in a statement released on Sunday that ...": the clause hung on the statement
        inner = [t for p in verb.children if p.dep_ == "prep" and p.i > verb.i for t in p.subtree]
        comp = next((t for t in inner if t.dep_ in ("acl", "relcl") and _that_clause(t)), None)
    if comp is None:
        return None
    marks = {c.lower_ for c in comp.children if c.dep_ == "mark"}
    if marks & ADVERBIAL_MARKS or (comp.i < verb.i and "if" in marks):
        return None  # "after the company inked ...", "If ..., X said": an adverbial clause, not the report
    if comp.i < verb.i and comp.left_edge.lower_ == "asked":
        return None  # "Asked what the regulator will do, X said ...": the question put, not the answer
    if comp.i < verb.i:
        # the subject may carry its apposition ("…, Ilse Varga, the head of the watchdog, said")
        subj = next((c for c in verb.children if c.dep_ == "nsubj"), None)
        own = {t.i for t in subj.subtree} if subj is not None else set()
        gap = verb.doc[comp.right_edge.i + 1 : verb.i]
        # "The ban was X; at the time, Prince told ...": a semicolon closes the clause before it
        if any(t.text in DOUBLE or t.text == ";" for t in gap) or len([t for t in gap if t.i not in own]) > 8:
            return None
    return comp


def _that_clause(t: Token) -> bool:
    that = next((c for c in t.children if c.lower_ == "that" and c.i < t.i), None)
    if t.pos_ not in ("VERB", "AUX") or that is None:
        return False
    # "confirmed in a call with investors that Apple removed the apps": parsed as a relative clause with
    # "that" its object, but the verb has a subject and an object of its own, so "that" opens a clause
    roles = [c.dep_ for c in t.children if c is not that]
    return that.dep_ == "mark" or (that.dep_ == "dobj" and "nsubj" in roles and "dobj" in roles)


def core(toks: list[Token]) -> list[Token]:
    """A reported clause without an appositive after a comma (", the message board where ..."), a "such as"
    list or a ", where ..." aside on a place (a relative clause stays: gold keeps ", which ..."); never past a
    paragraph break."""
    for k, t in enumerate(toks):
        if "\n" in t.text or (
            k > 0 and "\n" in doc_text(t.doc)[toks[k - 1].idx + len(toks[k - 1].text) : t.idx]
        ):
            return toks[:k]
        if k > 2 and toks[k - 1].text in ("—", "–") and t.tag_ in ("VBG", "VBN"):
            return toks[: k - 1]  # "… not feasible—given that …": an aside after a dash, not the report
        if k > 2 and toks[k - 1].text == ",":
            if t.lower_ == "such" and k + 1 < len(toks) and toks[k + 1].lower_ == "as":
                return toks[: k - 1]
            if t.lower_ == "where" and t.head.dep_ == "relcl":
                return toks[: k - 1]
            appos = t if t.dep_ == "appos" else t.head if t.dep_ in ("det", "compound", "amod") else None
            # an appositive that closes the clause goes; one inside it stays ("asked Tomas Hale, CEO of
            # the registry, to impose sanctions")
            if appos is not None and appos.dep_ == "appos":
                rest = [x for x in toks[k:] if x.i > appos.right_edge.i and not x.is_punct]
                # what follows still modifies the noun ("El Paso, Texas, where ...") or nothing does: cut
                if rest and rest[0] not in appos.head.subtree:
                    continue
                return toks[: k - 1]
    return toks


def clause_span(comp: Token, verb: Token) -> tuple[int, int] | None:
    """Character span of a reported clause, without 'that', final punctuation or a trailing 'such as' list.

    A subjectless verb conjoined to the speech verb right after the clause ("stood firm that it does not
    judge content, and merely works to ...") is the parser attaching the clause's second half to the wrong
    verb: it joins the clause.
    """
    toks = [t for t in comp.subtree]
    # "say it's time the community developed a way ...": the parser gives the verb a second clause right
    # where the first ends, with no comma or "and" between; the two are one report
    nxt = next((c for c in verb.rights if c.dep_ == "ccomp" and c.left_edge.i == comp.right_edge.i + 1), None)
    if comp.i > verb.i and nxt is not None:
        toks = list(verb.doc[comp.left_edge.i : nxt.right_edge.i + 1])
    if comp.i > verb.i:
        for c in verb.rights:
            if (
                c.dep_ == "conj"
                and c.pos_ == "VERB"
                and c.i > comp.right_edge.i
                and not any(x.dep_.startswith("nsubj") for x in c.children)
                and c.lemma_.lower() not in INDIRECT_VERBS
                and not any(
                    x.dep_ == "ccomp" for x in c.children
                )  # "but hedged that ...": a report of its own
            ):
                toks = [t for t in verb.doc[comp.left_edge.i : c.right_edge.i + 1]]
                break
    toks = core(_before_next_report(unbroken(toks), comp))
    if toks and toks[0].is_sent_start:  # "MOSCOW, May 28 (Interfax) - X has ...": not the dateline
        cut = after_dateline(comp.doc, toks[0].i, min(comp.i, toks[0].i + 10))
        toks = [t for t in toks if t.i >= cut]
    # a trailing participle after a comma is the writer's gloss, not the report: "..., pointing out that",
    # "..., citing ...", "..., following its rival" (the clause ends at the comma)
    for k, t in enumerate(toks[1:], 1):
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if (
            t.text == ","
            and nxt is not None
            and nxt.tag_ == "VBG"
            and nxt.dep_ in ("advcl", "xcomp", "prep", "acl")
        ):
            toks = toks[:k]
            break
    while toks and (
        toks[0].dep_ == "mark"
        and toks[0].lower_ in ("that", "whether", "if")
        or toks[0].is_punct
        or toks[0].lower_ in ("“", '"')
    ):
        toks = toks[1:]
    while toks and (toks[-1].is_punct or toks[-1].is_space):
        toks = toks[:-1]
    if len(toks) < 3 or any(t.i == verb.i for t in toks):
        return None
    return toks[0].idx, toks[-1].idx + len(toks[-1].text)


OPENING = ("“", "(", "‘")
CLOSING = {"“": "”", "(": ")", "‘": "’"}


def unbroken(toks: list[Token]) -> list[Token]:
    """A clause the parser cut at a quoted or bracketed fragment runs on to its sentence's end: the parse of
    "asked for the suspension of domains “.vd”, “.vdx”, and others used by ..." or "dropped the forum not
    because of “a police request,” but because ..." often hangs what follows the marks elsewhere, leaving the
    clause stopped just before them or inside them. The usual trims (appositive, paragraph break, a later
    report) still apply."""
    if not toks:
        return toks
    last = toks[-1]
    doc, sent = last.doc, last.sent
    text = "".join(t.text_with_ws for t in toks)
    straight_open = text.count('"') % 2 == 1
    unclosed = straight_open or any(text.count(o) > text.count(c) for o, c in CLOSING.items())
    nxt = doc[last.i + 1] if last.i + 1 < sent.end else None
    if (
        nxt is not None
        and not last.is_punct
        and (nxt.text in OPENING or (nxt.text == '"' and not straight_open))
    ):
        # stopped just before a fragment: only when words follow the fragment's close is anything lost (a
        # clause that ends on a quoted phrase is a mixed quote, its phrase scored as the direct quote it is)
        close = CLOSING.get(nxt.text, '"')
        end = next((t.i for t in doc[nxt.i + 1 : sent.end] if t.text == close), sent.end - 1)
        unclosed = unclosed or any(not t.is_punct for t in doc[end + 1 : sent.end])
    if not unclosed:
        return toks
    return toks + [t for t in doc[last.i + 1 : sent.end]]


def _before_next_report(toks: list[Token], comp: Token) -> list[Token]:
    """A clause up to a report set against it ("the ban has no precedent, while advocates said the bans ..."),
    which has its own speaker; "if a court told it", "after the police confirmed" stay the report's own."""
    for x in toks:
        own = any(c.dep_ == "nsubj" for c in x.children) or x.tag_ == "VBG"  # "…, while confirming that"
        if x.i > comp.i and x.lemma_.lower() in INDIRECT_VERBS and own:
            top = next((a for a in [x, *x.ancestors] if a.head.i == comp.i or a.dep_ == "advcl"), x)
            if top.dep_ == "advcl" and {c.lower_ for c in top.children} & {"while", "whereas"}:
                return toks if inside_quote(x) else [t for t in toks if t.i < top.left_edge.i]
    return toks


def according_clause(t: Token) -> tuple[int, int] | None:
    """The statement an 'according to X' phrase attributes: its sentence minus the phrase, the side that is a
    clause (a subject with its verb) where only one is ("X have been implicated in ..., according to the
    complaint, including ...": not the "including" tail), or else the longer side."""
    sent = t.sent
    phrase_end = max(c.right_edge.i for c in [t, *t.subtree])
    before = [x for x in sent if x.i < t.i]
    after = [x for x in sent if x.i > phrase_end]
    clause = [
        any(x.dep_ in ("nsubj", "nsubjpass") and x.head in side for x in side) for side in (before, after)
    ]
    longer = word_count(" ".join(x.text for x in after)) >= word_count(" ".join(x.text for x in before))
    side = after if (clause == [False, True] or (clause[0] == clause[1] and longer)) else before
    side = [x for x in side if not x.is_space]
    while side and (side[0].is_punct or side[0].lower_ in ("and", "but")):
        side = side[1:]
    while side and (side[-1].is_punct or side[-1].lower_ in ("and", "but")):
        side = side[:-1]
    if len(side) < 3:
        return None
    return side[0].idx, side[-1].idx + len(side[-1].text)
