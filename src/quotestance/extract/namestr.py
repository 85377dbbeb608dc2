"""Name strings: what the recogniser tagged, cleaned into the name the article means ("Matthew Prince’s" ->
"Matthew Prince"), and whether a name says it is a company."""

from __future__ import annotations

import re

from spacy.tokens import Span

from quotestance.extract.lexicon import COMPANY_WORDS, INSTITUTION_WORDS, ROLE_NOUNS

_PLATFORM_TAIL = re.compile(
    r"(?:\s+(?:twitter|facebook|telegram|instagram|youtube|tiktok|x|mastodon|reddit|blog|channel|account|"
    r"accounts|feed|page|handle|website|site|spokesperson|spokesman|spokeswoman))+$",
    re.I,
)
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")


def clean_name(text: str) -> str:
    """'Matthew Prince’s' -> 'Matthew Prince'; 'Anonymous Twitter' -> 'Anonymous'; 'the group' -> 'group'."""
    t = " ".join(text.split()).lstrip("•·*>–—-| @")  # a bullet, a block quote's mark, a handle's @: no name
    t = re.sub(r"(?<=\w) - (?=\w)", "-", t)  # "Delgado - Finch" rebuilt from tokens: "Delgado-Finch"
    t = re.split(r"(?<=[a-z])\.\s+", t)[-1]  # an entity run across a sentence end: "Monday. Under NameHarbor"
    t = re.sub(r"^(?:Under|Inside|In|At|For|From|With|By|On|After|Before|Whatever|Even)\s+", "", t)
    t = _POSSESSIVE.sub("", t)
    t = re.sub(r"^(?:the|a|an)\s+", "", t, flags=re.I)
    # words before the name that are not part of it: "Both Halvorsen", "US-based Brightmoor", "talkie app Chirrup"
    t = re.sub(r"^(?:(?:Both|All|Each|Fellow|Rival)\s+|\S+-based\s+)", "", t)
    if re.fullmatch(
        r"(?:[a-z][\w-]*\s+)+(?:[A-Z][\w.'’&-]*\s*)+", t
    ):  # "talkie app Chirrup", not a description
        t = re.sub(r"^(?:[a-z][\w-]*\s+)+", "", t)
    stripped = _PLATFORM_TAIL.sub("", t)
    return stripped if stripped else t


_POSSESSOR = re.compile(r"^\w+['’]s\s+(?=\S)")


def without_possessor(name: str) -> str:
    """A person's name without a possessor the recogniser took in: "Valdoria’s Varga" -> "Varga"."""
    return _POSSESSOR.sub("", name)


def is_firm_name(name: str) -> bool:
    """A name whose last word says it is a company ("Tallgrass Hosting", "Kestrel Networks")."""
    return name.split()[-1].lower() in COMPANY_WORDS


def is_org_name(name: str) -> bool:
    """A name whose last word says it is a company or an institution ("Lattice Rights Foundation")."""
    return is_firm_name(name) or name.split()[-1].lower() in INSTITUTION_WORDS


def entity_label(ent: Span) -> str:
    """The recogniser's label, corrected where the text says otherwise."""
    if ent.label_ == "PERSON" and is_org_name(ent.text):
        return "ORG"  # "Tallgrass Hosting" tagged as a person: a company's or an institution's name
    if ent.label_ != "ORG" or len(ent) not in (2, 3):
        return ent.label_
    if ent.start and ent.doc[ent.start - 1].lower_ in ROLE_NOUNS:
        return "PERSON"  # "chief executive Konstantin Wailand" tagged as an organisation: a person
    if (
        all(t.pos_ == "PROPN" and t.text[:1].isupper() for t in ent)
        and not is_org_name(ent.text)
        and any(c.dep_ == "appos" and c.lemma_.lower() in ROLE_NOUNS for c in ent.root.children)
    ):
        return "PERSON"  # "Ilse Varga, the head of the watchdog": a role in apposition, a person
    return ent.label_
