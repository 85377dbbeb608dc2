"""Reported (indirect) speech from the parse: "X argued that ...", "according to X, ...", "X called for ...".

Each candidate is (start, end, subject token, cue) in article offsets; `reported_statements` drops those that
are a direct quote's own frame and keeps the outermost of nested reports.
"""

from __future__ import annotations

from bisect import bisect_left

from spacy.tokens import Token

from quotestance.extract.attribution import cue_text, subject_of
from quotestance.extract.clauses import according_clause, clause_span, complement, core, unbroken
from quotestance.extract.lexicon import (
    ACT_PHRASES,
    ACT_VERBS,
    DOCUMENT_NOUNS,
    INDIRECT_VERBS,
    OBJECT_ACTS,
    RECORD_NOUNS,
    REPORT_FALLBACK,
    SPEAKING_NOUNS,
    STANCE_ACTS,
)
from quotestance.extract.parse import Parsed, doc_text, headline_lines, inside_quote
from quotestance.extract.quotes import DOUBLE, Span


def _unasserted(verb: Token) -> bool:
    """'would not say', 'declined to say', 'asked not to be named', a participle opening a question
    ("Asked whether ..."), hearsay ("said to be"), or speech inside a quotation: nothing is reported here."""
    if any(c.dep_ == "neg" for c in verb.children):
        return True
    if verb.dep_ == "xcomp" and verb.head.lemma_ in ("decline", "refuse", "fail"):
        return True
    if verb.tag_ == "VBN" and verb.dep_ in ("advcl", "ROOT") and verb.i == verb.sent.start:
        return True
    # "a document said to have been shared by ...", "is reported to be": hearsay in the passive, however the
    # parser tags it; the infinitive comes straight after the verb
    nxt = verb.nbor() if verb.i + 1 < len(verb.doc) else None
    if (
        verb.lemma_.lower() in ("say", "report", "allege")
        and nxt is not None
        and nxt.lower_ == "to"
        and nxt.dep_ == "aux"
    ):
        return True
    return inside_quote(verb)


def _is_question(comp: Token) -> bool:
    first = comp.left_edge
    return first.lower_ in ("whether", "if", "what", "why", "how", "who", "when", "where", "which")


def _unparsed_report(verb: Token) -> tuple[int, int] | None:
    """A report the parser did not attach as a clause ("said his company's terms banned ..."): the rest of
    the sentence after the verb, its time or place phrase and the person told, when it holds a finite verb."""
    sent_end = verb.sent.end
    k = verb.i + 1
    doc = verb.doc
    if any(t.text in DOUBLE for t in doc[max(verb.sent.start, verb.i - 6) : verb.i]):
        return None  # '“…,” Prince told The Hill in September': the verb attributes a direct quote
    while k < sent_end:  # skip "on Monday", "at the time", "in a statement", "reporters", "that"
        t = doc[k]
        top = t  # the phrase this token belongs to, as a child of the verb
        while top.head.i != verb.i and top.head.i != top.i and top.head.i > verb.i:
            top = top.head
        if top.head.i == verb.i and (
            top.dep_ in ("prep", "dative", "npadvmod") or (top.dep_ == "dobj" and verb.lemma_ == "tell")
        ):
            k = top.right_edge.i + 1
        elif t.is_punct and t.text == ",":
            return None  # "said, adding ...": not a report clause
        elif t.lower_ == "that" or t.dep_ in ("advmod",) and t.head.i == verb.i:
            k += 1
        else:
            break
    # "said it had found evidence ..., but hedged that ...": a verb conjoined to this one is a new report
    conj = [c.left_edge.i for c in verb.children if c.dep_ == "conj" and c.pos_ == "VERB" and c.i > k]
    if conj:
        cut = min(conj)
        while cut > k and (doc[cut - 1].dep_ == "cc" or doc[cut - 1].is_punct):
            cut -= 1
        sent_end = min(sent_end, cut)
    toks = core([t for t in doc[k:sent_end] if not t.is_space])
    while toks and toks[-1].is_punct:
        toks = toks[:-1]
    finite = any("Fin" in t.morph.get("VerbForm") for t in toks)
    # "says a similar controversy ignited over ...": a past tense the tagger read as a participle on the noun
    finite = finite or (
        verb.lemma_.lower() == "say" and any(t.tag_ == "VBN" and t.dep_ == "acl" for t in toks)
    )
    if len(toks) < 4 or not finite or toks[0].text in DOUBLE or any(t.text in DOUBLE for t in toks[:2]):
        return None
    return toks[0].idx, toks[-1].idx + len(toks[-1].text)


def _reports_itself(according: Token) -> bool:
    """Whether the sentence of an 'according to' phrase already has its own speaker: a speech verb with a
    subject and a reported clause, as the sentence's main verb or the phrase's head ("Ruiz said the app was
    removed, according to a memo obtained by the Ledger": Ruiz speaks, the phrase names where it was read)."""
    phrase = {x.i for x in according.subtree}
    return any(
        x.pos_ == "VERB"
        and x.lemma_.lower() in INDIRECT_VERBS
        and (x.dep_ == "ROOT" or x in according.ancestors)
        and (sb := subject_of(x)) is not None
        and sb.i not in phrase
        and complement(x) is not None
        for x in according.sent
    )


def _indirect_candidates(parsed: Parsed) -> list[tuple[int, int, Token, str]]:
    """(start, end, subject token, cue) for each reported statement, in article offsets."""
    out = []
    for t, off in parsed.tokens():
        lemma = t.lemma_.lower()
        if t.lower_ == "according" and t.i + 1 < len(t.doc) and t.doc[t.i + 1].lower_ == "to":
            if _reports_itself(t):
                continue
            pobj = next((c for c in t.doc[t.i + 1].children if c.dep_ == "pobj"), None)
            span = according_clause(t)
            if pobj is not None and span and pobj.lower_ not in RECORD_NOUNS:  # not "according to audio logs"
                out.append((span[0] + off, span[1] + off, pobj, "according to"))
            continue
        if t.pos_ != "VERB":
            continue
        subj = subject_of(t)
        if subj is None:
            continue
        if lemma in INDIRECT_VERBS and t.dep_ == "parataxis" and t.head.pos_ in ("VERB", "AUX"):
            # "But, he says, somewhere a company will host it": the clause around the parenthetical
            own = {x.i for x in t.subtree}
            toks = [x for x in t.head.subtree if x.i not in own and not x.is_space]
            while toks and (toks[0].is_punct or toks[0].lower_ in ("but", "and")):
                toks = toks[1:]
            toks = core(toks)
            while toks and toks[-1].is_punct:
                toks = toks[:-1]
            if len(toks) >= 3 and not any(x.text in DOUBLE for x in toks):
                out.append((toks[0].idx + off, toks[-1].idx + len(toks[-1].text) + off, subj, cue_text(t)))
            continue
        if lemma in INDIRECT_VERBS and not (lemma == "call"):
            if lemma == "point" and not any(c.dep_ == "prt" and c.lower_ == "out" for c in t.children):
                continue
            if lemma == "stand" and not any(c.lower_ == "firm" for c in t.children):
                continue
            if _unasserted(t):
                continue
            comp = complement(t)
            if (
                comp is not None
                and comp.i < t.i
                and not (_can_speak(subj) or subj.lemma_.lower() in DOCUMENT_NOUNS)
            ):
                continue  # "…, a situation that it claims threatens security": no inverted report by a situation
            if comp is None:
                span = _unparsed_report(t) if lemma in REPORT_FALLBACK else None
            else:
                span = None if _is_question(comp) else clause_span(comp, t)
            if span:
                out.append((span[0] + off, span[1] + off, subj, cue_text(t)))
            if comp is not None or span:
                continue
        if lemma in STANCE_ACTS and (span := _passive_act(t, subj)):
            out.append((span[0] + off, span[1] + off, subj, t.text))
            continue
        if lemma in ACT_VERBS or lemma in ACT_PHRASES:
            # "called for the forum to be taken down", "urged the host to drop the site"
            if any(c.dep_ == "prt" or (lemma == "call" and c.dep_ == "oprd") for c in t.children):
                continue  # "called out", "called off", "a firm called Zonex for support": not a demand
            # "the man accused of ...": a passive participle, nobody is speaking; "a letter urging ...": one is,
            # and so does "X answered the suspensions by calling for ..." (the participle after a preposition)
            participle = t.tag_ == "VBG" and t.dep_ in ("advcl", "acl", "pcomp") and lemma in ACT_VERBS
            if (
                not any(c.dep_ == "nsubj" for c in t.children)
                and t.dep_ not in ("conj", "xcomp")
                and not participle
            ):
                continue
            if _unasserted(t) or (
                lemma in ("ask", "urge", "press", "pressure", "implore", "beg")
                and not any(
                    c.dep_ in ("dobj", "dative")
                    or (c.dep_ == "prep" and c.lower_ == "for")
                    or (c.dep_ == "ccomp" and _infinitive(c))  # "pressured [the hosts to cut it off]"
                    for c in t.children
                )
            ):
                continue  # "asked not to be named", "Asked whether ...": no demand of anyone
            if lemma in OBJECT_ACTS and not any(
                c.dep_ == "dobj" and c.lemma_.lower() in OBJECT_ACTS[lemma] for c in t.children
            ):
                continue  # "defended the town": not a speech act
            if lemma == "describe" and not any(c.lower_ == "as" for c in t.subtree):
                continue  # "described a tense call" tells a story; "described X as Y" says something
            if (lemma in STANCE_ACTS or lemma in OBJECT_ACTS) and not _can_speak(subj):
                continue
            comp = next(
                (
                    c
                    for c in t.children
                    if (lemma in ("call", "ask", "press") and c.dep_ == "prep" and c.lower_ in ("for", "on"))
                    or (lemma == "call" and c.dep_ == "advcl" and any(m.lower_ == "for" for m in c.children))
                    or (lemma not in ("call",) and c.dep_ in ("xcomp", "ccomp"))
                    or (
                        lemma in ACT_PHRASES
                        and c.dep_ == ACT_PHRASES[lemma][0]
                        and (ACT_PHRASES[lemma][1] is None or c.lower_ == ACT_PHRASES[lemma][1])
                    )
                    or (lemma == "demand" and c.dep_ == "dobj")
                    or (lemma in ACT_VERBS and c.dep_ == "dobj" and _to_clause_on(c))
                ),
                None,
            )
            if comp is None:
                continue
            if (
                comp.dep_ == "ccomp"
                and comp.i > t.i
                and not _infinitive(comp)
                and (span := clause_span(comp, t))
            ):
                out.append((span[0] + off, span[1] + off, subj, t.text))  # "requested that X revoke": X ...
                continue
            last = max(x.i for x in comp.subtree)
            if comp.dep_ in ("prep", "dobj"):
                # "called on the company to withdraw", "ordered Relaynet to stop": the whole verb phrase; the
                # parser may hang the object's own infinitive ("denied the petition to shut down ...") or the
                # rest of a list of objects ("called for the repeal of X, Y and Z") on the verb
                last = max(
                    [last]
                    + [
                        x.right_edge.i
                        for x in t.rights
                        if x.dep_ in ("xcomp", "prep", "oprd")
                        or (x.dep_ == "advcl" and _infinitive(x) and x.left_edge.i == comp.right_edge.i + 1)
                        or (x.dep_ in ("conj", "dobj") and x.pos_ in ("NOUN", "PROPN") and x.i > comp.i)
                    ]
                )
            toks = core(unbroken([x for x in t.doc[t.i : last + 1]]))
            while toks and toks[-1].is_punct:
                toks.pop()
            if len(toks) >= 4:
                out.append((toks[0].idx + off, toks[-1].idx + len(toks[-1].text) + off, subj, t.text))
    # a report and its verb share a paragraph: a headline the parser glued to the next sentence is none
    return [r for r in out if "\n" not in _between(parsed, r)]


def _passive_act(verb: Token, agent: Token) -> tuple[int, int] | None:
    """A stance-taking act in the passive, by whoever its agent names ("Apple has been criticised by state
    media for the app", "hailed by its supporters as an alternative"): the verb with what follows it."""
    if not any(c.dep_ == "auxpass" for c in verb.children) or agent.head.dep_ != "agent":
        return None
    if _unasserted(verb) or not _can_speak(agent):
        return None
    last = max([verb.i] + [c.right_edge.i for c in verb.rights if c.dep_ not in ("punct", "cc", "conj")])
    toks = core([x for x in verb.doc[verb.i : last + 1]])
    while toks and toks[-1].is_punct:
        toks.pop()
    return (toks[0].idx, toks[-1].idx + len(toks[-1].text)) if len(toks) >= 4 else None


def _infinitive(verb: Token) -> bool:
    return any(a.dep_ == "aux" and a.lower_ == "to" for a in verb.children)


def _to_clause_on(obj: Token) -> bool:
    """An infinitive the parser hung on the object ("requested the nonprofit to shut down ..."): the demand."""
    return any(g.dep_ in ("relcl", "acl") and _infinitive(g) for g in obj.children)


def _can_speak(subj: Token) -> bool:
    """A subject that can take a stand: a named person or organisation, a pronoun, or a person noun."""
    return (
        subj.ent_type_ in ("PERSON", "ORG", "NORP", "GPE")
        or subj.pos_ in ("PRON", "PROPN")
        or subj.lemma_.lower() in SPEAKING_NOUNS
        or subj.lower_ in SPEAKING_NOUNS  # "media", whose lemma is "medium"
    )


def _inside(r: tuple[int, int, Token, str], o: tuple[int, int, Token, str]) -> bool:
    return o[0] <= r[0] and r[1] <= o[1] and r[:2] != o[:2]


def _between(parsed: Parsed, r: tuple[int, int, Token, str]) -> str:
    """The text from the report's clause to its subject, whichever comes first."""
    start, end, subj, _ = r
    off = parsed.offset(subj.doc)
    pos = subj.idx + off
    a, b = (min(start, pos), max(end, pos))
    return doc_text(subj.doc)[a - off : b - off]


def _comma_before(text: str, start: int, a: int) -> bool:
    return text[start:a].rstrip(" “\"‘'").endswith(",")


def reported_statements(text: str, parsed: Parsed, spans: list[Span]) -> list[tuple[int, int, Token, str]]:
    """Indirect candidates that are not a direct quote's own frame; nested reports keep the outermost."""
    direct = sorted((s.start, s.end) for s in spans)
    starts = [a for a, _ in direct]
    longest = max((b - a for a, b in direct), default=0)
    kept = []
    headlines = headline_lines(text)
    for start, end, subj, cue in _indirect_candidates(parsed):
        if any(a <= start < b for a, b in headlines):
            continue  # "Registrar Tells Valdorian Customers To Leave": a headline reports no one
        # only the direct spans that can overlap [start, end): those starting within `longest` before it
        lo, hi = bisect_left(starts, start - longest), bisect_left(starts, end)
        # "X said Y has seen “a rise” in users, “reflecting a desire ...”": a quote that opens after a comma
        # and runs on past the clause is the next thing X says; the report ends at that comma
        cut = next(
            (a for a, b in direct[lo:hi] if start < a < end < b and _comma_before(text, start, a)), None
        )
        if cut is not None:
            end = start + len(text[start:cut].rstrip(" “\"‘'")[:-1].rstrip())
            lo, hi = bisect_left(starts, start - longest), bisect_left(starts, end)
        covered = sum(max(0, min(end, b) - max(start, a)) for a, b in direct[lo:hi])
        # a report mostly made of a direct quote is that quote's frame; one that ends on a quoted fragment
        # ("bars use "if it encourages illegal activity"") is still a report (a mixed quote)
        if covered > 0.5 * (end - start) or text[start] in DOUBLE:
            continue
        # a speaker inside a direct quote is the quoted person's words, never the writer's report of someone:
        # "'@Host you serve them - they posted this,' a user said": not "they" reporting "a user said"
        at = parsed.offset(subj.doc) + subj.idx
        k = bisect_left(starts, at + 1) - 1
        if k >= 0 and direct[k][0] <= at < direct[k][1]:
            continue
        kept.append((start, end, subj, cue))
    # "Ruiz said he had ..., the Ledger reported": an outlet relays the report inside, whose speaker it is
    kept = [o for o in kept if not (o[3].startswith("report") and any(_inside(r, o) for r in kept))]
    kept.sort(key=lambda r: (r[0], -r[1]))
    outer: list[tuple[int, int, Token, str]] = []
    for r in kept:
        if not outer or r[0] >= outer[-1][1]:
            outer.append(r)
    return outer
