"""What an article introduces for later reference: descriptions of people ("a bipartisan coalition of
lawmakers", for a later "the lawmakers") and documents with their issuer ("an email from Kestrel's legal
department", for a later "the email stated"), registered in the article's `NameIndex` as the parse is read.
"""

from __future__ import annotations

import re

from spacy.tokens import Doc, Span, Token

from quotestance.extract.lexicon import DOCUMENT_NOUNS, PART_NOUNS, PEOPLE_NOUNS, SPEECH_VERBS, TITLE_NOUNS
from quotestance.extract.names import Mention, NameIndex


def after_dateline(doc: Doc, left: int, end: int) -> int:
    """Where a phrase [left, end) starts once a dateline before it is cut off ("OSLO — Norhill", "WASHINGTON -
    Nine U.S. senators"): just after the last dash, spaced hyphen included."""
    dashes = [t.i for t in doc[left:end] if t.text in ("—", "–") or (t.text == "-" and t.whitespace_)]
    return dashes[-1] + 1 if dashes else left


def description(tok: Token) -> Span | None:
    """The phrase a person noun heads when it says more than the noun ("Brightmoor spokesman", "official at
    Amazon", "one user on Twitter", "26 rights groups"), without relative clauses or appositions; None
    for a bare noun ("the spokesman")."""
    doc = tok.doc
    left = min(
        [tok.i]
        + [t.left_edge.i for t in tok.lefts if t.dep_ in ("compound", "amod", "nummod", "nmod", "poss")]
    )
    head = tok
    while head.dep_ == "conj" and head.head.pos_ == "NOUN" and head.head.i < head.i:
        head = head.head  # "26 rights, media and Internet freedom groups": the nouns before it qualify it
    if head is not tok:
        left = min(left, head.left_edge.i)
    left = after_dateline(doc, left, tok.i)
    right = tok.i
    prep = next(
        (
            t
            for t in tok.rights
            if t.dep_ == "prep" and t.lower_ in ("of", "for", "at", "on", "to", "from", "with")
        ),
        None,
    )
    if prep is not None and any(c.dep_ == "pobj" for c in prep.children):
        # to the end of the phrase, but not into a relative clause or past a comma ("..., who asked not to be named")
        cut = {x.i for t in prep.subtree if t.dep_ in ("relcl", "acl", "advcl", "appos") for x in t.subtree}
        right = prep.i
        for t in doc[prep.i : prep.right_edge.i + 1]:
            if t.i in cut or t.text == ",":
                break
            right = t.i
    while right > tok.i and doc[right].is_punct:
        right -= 1
    if left == tok.i and right == tok.i:
        return None
    return doc[left : right + 1]


def as_written(text: str) -> str:
    """A description as the text gives it, without its article: "an official at Amazon" -> "official at Amazon"."""
    return re.sub(r"^(?:the|a|an)\s+", "", " ".join(text.split()), flags=re.I)


def document_of_part(tok: Token) -> Token:
    """ "The central passage of the letter": the letter, which speaks through it; any other token itself."""
    if tok.lemma_.lower() in PART_NOUNS:
        for p in tok.children:
            if p.dep_ == "prep" and p.lower_ == "of":
                doc = next((o for o in p.children if o.dep_ == "pobj"), None)
                if doc is not None and doc.lemma_.lower() in DOCUMENT_NOUNS:
                    return doc
    return tok


def issuer(doc_noun: Token) -> Token | None:
    """Who issued a document the text names: "Kestrel's statement", "a statement from Kestrel" (no pronoun)."""
    for child in doc_noun.children:
        if child.dep_ == "poss" or (child.dep_ == "prep" and child.lower_ in ("from", "by", "of")):
            target = (
                child if child.dep_ == "poss" else next((c for c in child.children if c.dep_ == "pobj"), None)
            )
            if target is not None and target.lower_ not in ("its", "their", "his", "her"):
                return target
    for child in doc_noun.children:  # "The post, signed by Daniel Overbeck, ..."
        if child.dep_ == "acl" and child.lemma_ in ("sign", "write", "author", "publish", "issue", "release"):
            agent = next((c for c in child.children if c.dep_ == "agent"), None)
            who = next((c for c in agent.children if c.dep_ == "pobj"), None) if agent is not None else None
            if who is not None:
                return who
    said = doc_noun.head.head if doc_noun.dep_ == "pobj" and doc_noun.head.dep_ == "prep" else None
    if said is not None and said.dep_ == "dobj" and doc_noun.head.lower_ == "in":
        said = said.head  # "X set out its position in a statement": the statement is X's
    if said is not None and said.lemma_.lower() in SPEECH_VERBS:  # "X said in a statement posted to its site"
        who = next((c for c in said.children if c.dep_ == "nsubj"), None)
        return who if who is not None and who.lower_ not in ("i", "we", "you") else None
    if said is not None and said.pos_ == "VERB" and doc_noun.head.lower_ == "in":  # any verb: a named subject
        who = next((c for c in said.children if c.dep_ == "nsubj"), None)
        return who if who is not None and who.text[:1].isupper() and who.is_alpha else None
    verb = doc_noun.head if doc_noun.dep_ == "dobj" else None
    if verb is not None and verb.lemma_ in ("receive", "get", "obtain"):  # "received an email from X"
        prep = next((c for c in verb.children if c.dep_ == "prep" and c.lower_ == "from"), None)
        return next((c for c in prep.children if c.dep_ == "pobj"), None) if prep is not None else None
    if verb is not None and verb.lemma_ in ("send", "publish", "issue", "release", "post", "write", "devote"):
        who = next((c for c in verb.children if c.dep_ == "nsubj"), None)  # "X published a statement"
        return who if who is not None and who.lower_ not in ("i", "we", "you") else None
    return None


def register_descriptions(doc: Doc, offset: int, idx: NameIndex) -> None:
    """Every description of people in the chunk ("26 rights, media and Internet freedom groups"), under each
    person noun it holds, for a later "the groups" (`NameIndex.description_before`); and every document with
    its issuer, for a later "the email" (`NameIndex.documents`)."""
    found: list[Span] = []
    for tok in doc:
        if tok.pos_ == "NOUN" and tok.lemma_.lower() in DOCUMENT_NOUNS and (who := issuer(tok)) is not None:
            subj = tok.dep_ in ("nsubj", "nsubjpass")
            idx.documents.setdefault(tok.lemma_.lower(), []).append((tok.idx + offset, who, subj))
        if tok.pos_ != "NOUN" or tok.lemma_.lower() not in PEOPLE_NOUNS:
            continue
        desc = description(tok)
        if (
            desc is not None
            and len(desc) <= 12
            and entity_in(doc[desc.start : tok.i + 1], ("PERSON",)) is None
        ):
            found.append(desc)
    for e in doc.ents:  # "Senators Ana Reyes and Colm Doyle", for a later "the senators"
        other = next((c for c in e.root.children if c.dep_ == "conj" and c.ent_type_ == "PERSON"), None)
        title = doc[e.start - 1] if e.start else None
        if e.label_ == "PERSON" and other is not None and title is not None:
            noun = TITLE_NOUNS.get(title.lower_.rstrip("."), title.lower_.rstrip("s"))
            if noun in PEOPLE_NOUNS:
                pair = f"{e.text} and {doc[other.left_edge.i : other.i + 1].text}"
                idx.descriptions.setdefault(noun, []).append(Mention(e.start_char + offset, pair, True))
    for desc in found:
        if any(o.start <= desc.start and desc.end <= o.end and o != desc for o in found):
            continue  # "30 civil society groups" inside "a coalition of 30 civil society groups": the whole
        text = as_written(desc.text)
        if desc.root.dep_ in ("nsubj", "nsubjpass"):
            idx.subject_descriptions.add(desc.start_char + offset)
        for t in desc:
            if t.pos_ == "NOUN" and t.lemma_.lower() in PEOPLE_NOUNS:
                idx.descriptions.setdefault(t.lemma_.lower(), []).append(
                    Mention(desc.start_char + offset, text, True)
                )


def entity_in(span: Span, labels: tuple[str, ...] = ("PERSON", "ORG", "NORP", "GPE")) -> Span | None:
    """The first entity with one of `labels` that overlaps the span, or None."""
    for e in span.doc.ents:
        if e.label_ in labels and e.start < span.end and e.end > span.start:
            return e
    return None


def document_just_before(
    subject: Token, idx: NameIndex, pos: int, as_subject: bool = False
) -> tuple[int, Token] | None:
    """The document (with its issuer) named in the sentence before the subject's, or in its own, within 300
    characters: what "the statement" refers to ("published a notice ... The statement read:"); with
    `as_subject`, only a document that was its sentence's subject (what a later "it" can be)."""
    near = [
        (p, t)
        for docs in idx.documents.values()
        for p, t, was_subject in docs
        if pos - 300 <= p < pos
        and t.doc is subject.doc
        and t.sent.end >= subject.sent.start - 1
        and (was_subject or not as_subject)
    ]
    return max(near, key=lambda x: x[0], default=None)


def appos_role(subject: Token) -> tuple[str | None, str | None]:
    """The role an apposition gives a subject ("X, the company's CEO"), and the organisation named in it."""
    for child in subject.children:
        if child.dep_ == "appos":
            span = subject.doc[child.left_edge.i : child.right_edge.i + 1]
            org = next((e.text for e in span.ents if e.label_ == "ORG"), None)
            return span.text.strip(" ,"), org
    return None, None
