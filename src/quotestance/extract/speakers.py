"""Who said it: the speaker phrase next to a speech verb, resolved to the article's canonical name.

"Prince", "he" and "the company's CEO" all become "Matthew Prince" when the article names him in full
anywhere; an organisation's nickname ("the company", "the group") becomes the organisation last named.
Nothing is guessed: a phrase that resolves to nobody is kept as written (without its article).
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Span, Token

from quotestance.extract.lexicon import (
    COMPANY_NOUNS,
    DESCRIBED_NOUNS,
    DOCUMENT_NOUNS,
    GROUP_NOUNS,
    INANIMATE_NOUNS,
    ORG_NOUNS,
    PEOPLE_NOUNS,
    PERSON_NOUNS,
    PERSON_PRONOUNS,
    PRONOUNS,
    ROLE_NOUNS,
    ROLE_SYNONYMS,
    SOLE_TITLES,
    SPOKES_NOUNS,
    TECH_TERMS,
    TITLES,
)
from quotestance.extract.mentions import (
    after_dateline,
    appos_role,
    as_written,
    description,
    document_just_before,
    document_of_part,
    entity_in,
    issuer,
)
from quotestance.extract.names import Mention, NameIndex, clean_name, without_possessor
from quotestance.extract.parse import inside_quote


def _is_name_token(t: Token) -> bool:
    return t.pos_ == "PROPN" and t.text[:1].isupper()


def noun_phrase(tok: Token) -> Span:
    """The phrase a subject token heads, without relative clauses, appositions or trailing prepositions,
    except 'one of X' / 'spokesperson for X' where the organisation is the point."""
    doc = tok.doc
    left = min(
        [tok.i] + [t.i for t in tok.lefts if t.dep_ in ("compound", "amod", "det", "poss", "nmod", "case")]
    )
    for t in tok.lefts:
        if t.dep_ == "poss":
            left = min(left, t.left_edge.i)
    return doc[after_dateline(doc, left, tok.i) : tok.i + 1]  # "OSLO — Norhill": not the dateline


@dataclass
class Speaker:
    name: str | None
    role: str | None = None
    org: str | None = None
    is_person: bool | None = None


def resolve(subject: Token, idx: NameIndex, pos: int, offset: int = 0) -> Speaker:
    """Resolve the subject of a speech verb to a speaker (pos: article offset of the quote, for pronouns)."""
    low = subject.lower_
    if subject.pos_ == "PRON" or low in PRONOUNS:
        if low in ("i", "we", "you"):
            return Speaker(None)  # first person inside the quote's own frame, or "you can tell": no one
        if low in ("another", "someone", "somebody", "others"):
            return Speaker(low, is_person=True)  # "says another": nobody named, kept as the text gives it
        if low in PERSON_PRONOUNS:
            m = idx.person_before(pos, pronoun=low)
        else:  # "it" and "they" speak for organisations and groups
            # "The post, signed by X, is reproduced here. It read:": the document the sentence before is about
            doc = document_just_before(subject, idx, pos, as_subject=True) if low == "it" else None
            if doc is not None:
                return resolve(doc[1], idx, doc[0])
            m = idx.recent_speaker(pos) if low in ("they", "them") else None
            if m is None or m.name.split()[-1].lower().rstrip("s") not in PEOPLE_NOUNS:
                # "they" after "26 rights groups said": those groups; else the organisation in view
                m = idx.org_before(pos) or idx.last_before(pos, None)
        return with_role(Speaker(m.name, is_person=m.is_person), idx) if m else Speaker(None)

    # "26 rights, media and Internet freedom groups said": the parser heads the coordination with its first
    # noun; the people noun that closes it is the head of the description
    last = subject
    while subject.pos_ == "NOUN" and (nxt := next((c for c in last.children if c.dep_ == "conj"), None)):
        last = nxt
    if (
        last.pos_ == "NOUN"
        and last.lemma_.lower() in PEOPLE_NOUNS
        and subject.lemma_.lower() not in PEOPLE_NOUNS
    ):
        subject = last
    appos = next((c for c in subject.children if c.dep_ == "appos" and c.i > subject.i), None)
    if (
        subject.text.isupper()
        and appos is not None
        and after_dateline(subject.doc, subject.i, appos.i) > subject.i
    ):
        subject = appos  # "SAN FRANCISCO — Norhill, the company that ..., says": a dateline, then the speaker
    # a title or rank parsed as the head of the name after it: "Founder and CEO Ilse Varga", "said CSP Ibrahim
    # Garba-Lawal"
    rank = subject.text.isupper() and 2 <= len(subject.text) <= 5
    if subject.lower_ in PERSON_NOUNS or rank:
        doc = subject.doc
        for e in doc.ents:
            gap = doc[subject.i + 1 : e.start]
            if e.label_ == "PERSON" and subject.i < e.start <= subject.right_edge.i and len(gap) <= 4:
                if all(t.pos_ in ("PROPN", "NOUN", "CCONJ", "ADJ") for t in gap):
                    name = idx.canonical(clean_name(e.text))
                    return with_role(Speaker(name, doc[subject.i : e.start].text, None, True), idx)
    if subject.lower_.strip(".") in TITLES:  # "Sgt. Ray Dillard" parsed with the title as the subject
        if subject.head.pos_ == "PROPN" and subject.head.i != subject.i:
            subject = subject.head
        else:
            nxt = []  # the name right after the title, never past the verb ("the Senator revealed on Tuesday")
            for t in subject.doc[subject.i + 1 : subject.i + 5]:
                if t.pos_ != "PROPN" and t.text not in (".", "of"):  # "Superintendent of Police Anil Chauhan"
                    break
                nxt += [t] if t.pos_ == "PROPN" else []
            if nxt:
                subject = nxt[-1] if len(nxt) == 1 or nxt[1].i == nxt[0].i + 1 else nxt[0]
    subject = document_of_part(subject)  # "the central passage of the letter reads:": the letter
    np = noun_phrase(subject)
    head = subject.lemma_.lower()
    office = ROLE_SYNONYMS.get(head, head)  # the role a title names ("spokesman" -> "spokesperson")
    # "Valdoria's Varga": Varga, in full (the parser hangs the possessor as poss, nmod or compound)
    marks = [t.i for t in np if t.dep_ == "case" and t.lower_ in ("'s", "’s") and t.i < subject.i]
    if subject.pos_ == "PROPN" and marks and subject.doc[marks[-1] - 1].pos_ == "PROPN":
        np = subject.doc[marks[-1] + 1 : subject.i + 1]
    role, org = appos_role(subject)
    # "Stratavault's chief executive, Miriam Ashdown, said": the appositive names the speaker; also after a
    # role the tagger took for a name ("the company's CEO, Matthew Prince") and a name the parser hung on the
    # organisation in the role's phrase ("The spokesperson for Brightmoor, Dana Holt"): a person is never
    # the apposition of a firm or a place
    role_word = (
        subject.pos_ == "NOUN"
        or (subject.lower_ in PERSON_NOUNS and not subject.ent_type_)
        or (
            subject.pos_ == "ADJ" and any(c.dep_ == "compound" for c in subject.children)
        )  # "secretary-general"
    )
    hung = [
        c
        for p in subject.children
        if p.dep_ == "prep"
        for o in p.children
        if o.dep_ == "pobj" and o.pos_ == "PROPN" and o.ent_type_ != "PERSON"
        for c in o.children
        if c.dep_ == "appos" and c.ent_type_ == "PERSON"
    ]
    for child in [*subject.children, *hung]:
        appos = child.dep_ == "appos" or (child.dep_ == "npadvmod" and child.i > subject.i)  # left unattached
        if appos and (child.ent_type_ == "PERSON" or child.pos_ == "PROPN") and role_word:
            ent = entity_in(noun_phrase(child), ("PERSON",))
            name = idx.canonical(clean_name(ent.text if ent is not None else noun_phrase(child).text))
            org = next((e.text for e in np.ents if e.label_ == "ORG"), None)
            return Speaker(name, clean_name(np.text) if np.text else None, org, True)
    # "one of the major Anonymous Twitter accounts", "members of Null Sector": the group speaks
    if subject.lower_ in ("one", "some", "many", "member", "members"):
        for child in subject.children:
            if child.dep_ == "prep" and child.lower_ in ("of", "from"):
                pobj = next((c for c in child.children if c.dep_ == "pobj"), None)
                inner = entity_in(noun_phrase(pobj), ("PERSON", "ORG", "NORP")) if pobj is not None else None
                if inner is not None:
                    name = clean_name(inner.text)
                    whole = subject.doc[subject.left_edge.i : subject.right_edge.i + 1]
                    return Speaker(name, role=whole.text, org=name, is_person=False)
    if (
        subject.lower_ in SOLE_TITLES
        and [c.lower_ for c in subject.children] == ["the"]
        and office not in idx.roles
    ):
        # "Rosa Ruiz sent an email in which the CEO claims": a title one person holds is the one just named
        m = idx.person_before(pos)
        if m is not None and len(m.name.split()) >= 2:
            return Speaker(m.name, subject.text, None, True)
    # "a Brightmoor spokesman", "an official at the host", "one user on Twitter": a description, kept as written
    if (
        subject.pos_ == "NOUN"
        and (subject.lemma_.lower() in DESCRIBED_NOUNS or subject.lower_ in SPOKES_NOUNS)
        and subject.lemma_.lower()
        not in ("account", "poster")  # "the Null Sector accounts": the group speaks
        and not any(t.dep_ == "poss" for t in subject.lefts)  # "the firm's counsel": resolved below
    ):
        desc = description(subject)
        # a person named in the phrase's head ("Palace spokesman Oren Tal") is the speaker, resolved
        # below; a name after it ("an official at Kestrel Pay") is part of the description
        if desc is not None and entity_in(subject.doc[desc.start : subject.i + 1], ("PERSON",)) is None:
            org = entity_in(desc, ("ORG", "NORP", "GPE"))
            the = any(c.dep_ == "det" and c.lower_ == "the" for c in subject.children)
            if office in idx.roles and the and (org is None or clean_name(org.text) == idx.roles[office][2]):
                return Speaker(*idx.roles[office], True)  # "the head of the watchdog": whom it gave that role
            return Speaker(as_written(desc.text), subject.text, clean_name(org.text) if org else None, True)
    # "Palace spokesman Oren Tal": the person; the one the subject word is in ("Founder and CEO Ilse
    # Varga" with "Founder" tagged a person too)
    own = (
        next((e for e in subject.doc.ents if e.start <= subject.i < e.end), None)
        if subject.ent_type_ == "PERSON"
        else None
    )
    ent = own or entity_in(np, ("PERSON",)) or entity_in(np, ("ORG",))
    if ent is not None and ent.end + 1 < len(np.doc) and np.doc[ent.end + 1].lower_ == "based":
        ent = None  # "the Linz-based company": a place, and the company is the one in view
    if ent is not None and ent.label_ == "ORG" and subject.pos_ == "PROPN" and ent.end <= subject.i:
        if ent.text.isupper() and len(ent.text) <= 5:  # "CSP Ibrahim Garba-Lawal": a rank, not the speaker
            np, ent = subject.doc[ent.end : subject.i + 1], None
    if ent is not None and ent.text.lower() in TECH_TERMS:
        if ent.start <= subject.i < ent.end:
            return Speaker(None)  # "the IP said": the parser picked the wrong word
        ent = None  # "the DNS provider": a description, resolved below
    if ent is None and subject.ent_type_ == "NORP":
        ent = entity_in(np, ("NORP",))  # "the Valdorians said", not "the Valdorian reseller said"
    if ent is not None and ent.label_ == "PERSON":
        name = idx.canonical(without_possessor(clean_name(ent.text)))
        title = [t.text for t in np if t.i < ent.start and t.pos_ in ("NOUN", "PROPN") and not t.ent_type_]
        return with_role(Speaker(name, role or (" ".join(title) or None), org, True), idx)
    if ent is not None:
        commas = [t.i for t in ent if t.text == "," and t.i < subject.i]
        if commas:  # "In a statement to the Review, Bastionline said": the recogniser ran over the comma
            ent = subject.doc[commas[-1] + 1 : ent.end]
        name = clean_name(ent.text)
        if name.split()[0].lower().strip(".") in TITLES:
            name = " ".join(name.split()[1:]) or name
        full = idx.canonical(name)
        if full != name and len(name.split()) == 1:  # a surname the tagger took for an organisation
            return with_role(Speaker(full, role, org, True), idx)
        name = idx.acronyms.get(name, name) if name.isupper() else name
        return Speaker(name, role, org or name, False)
    if office in idx.roles and subject.lower_ in PERSON_NOUNS:
        name, r, o = idx.roles[office]  # "the CEO", tagged as a name
        return Speaker(name, r, o, True)
    if all(_is_name_token(t) for t in np if t.dep_ != "det") and subject.pos_ == "PROPN":
        name = idx.canonical(clean_name(np.text))
        if any(c.dep_ == "appos" and c.lemma_.lower() in COMPANY_NOUNS for c in subject.children):
            return Speaker(name, None, name, False)  # "Palisade Relay, a Denver-based company": a firm
        return with_role(Speaker(name, role, org, True), idx)
    if head in DOCUMENT_NOUNS or subject.lower_ in DOCUMENT_NOUNS:
        # "a statement from Kestrel said": the issuer speaks; "the email stated": the email's named before
        who = issuer(subject)
        before = subject.doc[subject.i - 1] if subject.i else subject
        if who is None and any(c.lower_ in ("the", "this", "that") for c in [*subject.children, before]):
            same = [(p, t) for p, t, _ in idx.documents.get(head, []) if p < pos]
            # else the one named just before under another word ("published a notice ... The statement read:")
            earlier = same[-1] if same else document_just_before(subject, idx, pos)
            if earlier is not None:  # resolved where the document was named: "the company" there, not here
                return resolve(earlier[1], idx, earlier[0])
        if who is not None:
            return resolve(who, idx, pos)
        # "the statement said": whoever was last reported speaking nearby; else the one the phrase names ("an
        # email sent to Brightmoor users said"); else nobody, and the quote may inherit its neighbour's speaker
        m = idx.recent_speaker(pos)
        if m is not None:
            return Speaker(m.name, None, None, m.is_person)
        named = [
            t for t in subject.subtree if t.pos_ == "PROPN" and t.ent_type_ not in ("PERSON", "GPE", "DATE")
        ]
        run = " ".join(t.text for k, t in enumerate(named) if t.i == named[0].i + k)  # "Kestrel Networks"
        return Speaker(run, None, run, False) if named else Speaker(None)
    # "the groups", "the groups, which include ...": a description the article gave before
    if subject.tag_ == "NNS" and all(
        (t.dep_ == "det" and t.lower_ == "the") or (t.i > subject.i and t.dep_ in ("relcl", "punct", "appos"))
        for t in subject.children
    ):
        m = idx.description_before(head, pos)  # "the lawmakers": "a bipartisan coalition of lawmakers"
        if m is None and head in GROUP_NOUNS | {"group", "organization", "organisation"}:
            # "the groups": "a coalition of 35 organisations"
            ms = [x for g in GROUP_NOUNS if (x := idx.description_before(g, pos)) is not None]
            m = max(ms, key=lambda x: x.pos) if ms else None
        if m is not None:
            return Speaker(m.name, None, None, True)
    if office in idx.roles:  # "the company's CEO" -> whom the article gave that role
        name, r, o = idx.roles[office]
        return Speaker(name, r, o, True)
    if (
        head in ROLE_NOUNS  # "the government" is the organisation named, resolved below
        and all(t.dep_ == "det" and t.lower_ == "the" for t in subject.children)
    ):
        m = idx.description_before(head, pos)  # "the engineer": "a senior engineer at Corrigan Pay"
        if m is not None:
            return Speaker(m.name, subject.text, None, True)
    poss = next((t for t in subject.lefts if t.dep_ == "poss"), None)
    if (
        poss is not None
        and subject.pos_ == "NOUN"
        and (poss.ent_type_ == "ORG" or poss.lemma_.lower() in ORG_NOUNS)
    ):
        # "the firm’s general counsel" -> "Kestrel general counsel": the office, named by its organisation
        owner = (
            clean_name(poss.text)
            if poss.ent_type_ == "ORG"
            else (idx.org_before(pos) or Mention(0, "", False)).name
        )
        if owner:
            title = " ".join(t.text for t in np if t.i > poss.i and t.dep_ != "case")
            return Speaker(f"{owner} {title}".strip(), title or None, owner, True)
    if (head in ORG_NOUNS or subject.lower_ in ORG_NOUNS) and (subject.tag_ != "NNS" or head in GROUP_NOUNS):
        # one organisation for "the company"; "the telcos" are several, and stay as written
        poss = next((t for t in subject.lefts if t.dep_ == "poss"), None)
        # "As for Halvorsen, the company said", "In Corvane’s case, the company said": the one its sentence names
        # (never the agent of "obtained by The Washington Post": the outlet that relays it)
        fronted = subject.doc[subject.sent.start : subject.left_edge.i]
        relayed = {x.i for a in fronted if a.dep_ == "agent" for x in a.subtree}
        relayed |= {t.i for t in fronted if inside_quote(t)}  # "“… Lanternhall …,” the company said": not it
        relayed |= {t.i for t in fronted if t.ent_type_ == "TIME"}  # nor a time's words ("2 p.m. Eastern")
        same = [e.text for e in fronted.ents if e.label_ == "ORG" and e.root.i not in relayed]
        if not same and fronted and fronted[-1].text == ",":
            same = [
                t.text
                for t in fronted
                if t.pos_ == "PROPN" and t.ent_type_ not in ("PERSON", "GPE", "DATE") and t.i not in relayed
            ]
        if poss is None and head not in GROUP_NOUNS and same and same[-1].lower() not in TECH_TERMS:
            name = clean_name(same[-1])
            return Speaker(name, None, name, False)
        if poss is None or poss.lower_ in ("its", "their"):
            m = (
                idx.group_before(pos)
                if head in GROUP_NOUNS
                else idx.org_before(pos, company=head in COMPANY_NOUNS)
            )
            if m is not None:
                return Speaker(m.name, None, m.name, False)
    if head in INANIMATE_NOUNS:
        return Speaker(None)  # "the move", "the reason": the parser picked the wrong word
    if head in SPOKES_NOUNS and all(t.dep_ == "det" for t in subject.children):
        # "a spokesperson said", "an official said": one speaking for the organisation in view
        m = idx.org_before(pos)
        if m is not None:
            return Speaker(f"{m.name} {subject.text}", subject.text, m.name, True)
    text = clean_name(np.text)
    return Speaker(text or None, role, org, head in PERSON_NOUNS or subject.lower_ in PERSON_NOUNS)


def with_role(sp: Speaker, idx: NameIndex) -> Speaker:
    """The speaker with the role the article gave that name, when it has none of its own."""
    if sp.name and not sp.role:
        for name, role, org in idx.roles.values():
            if name == sp.name:
                return Speaker(sp.name, role, sp.org or org, sp.is_person)
    return sp
