"""Gender cues for pronoun speakers: "she said" should not resolve to the husband named just before her.

Only what the text itself marks counts: a kinship noun or honorific in the name's own phrase, or the gendered
pronouns of a sentence that names that one person and quotes no one. No list of first names, which would
guess wrong across languages and cultures.
"""

from __future__ import annotations

from spacy.tokens import Doc, Span

from quotestance.extract.lexicon import ROLE_NOUNS

MASCULINE = {"he", "him", "his", "himself"}
FEMININE = {"she", "her", "hers", "herself"}
_GENDER_NOUNS = {
    **dict.fromkeys("husband father son brother man boy uncle nephew grandfather mr widower".split(), 1),
    **dict.fromkeys(
        "wife mother daughter sister woman girl aunt niece grandmother mrs ms miss widow".split(), -1
    ),
}


def gender_cue(ent: Span) -> int:
    """+1 (masculine), -1 (feminine) or 0 for a person mention, from its own phrase ("Her husband, Musa",
    "Mrs Ortiz", "Simran Athwal, his wife") or, in a sentence that names no one else and quotes no one, the
    gendered pronouns in it ("Hauwa Danjuma slept with her phone under her pillow")."""
    doc = ent.doc
    near = [t for t in ent.root.children if t.dep_ == "appos"] + [
        doc[i] for i in range(max(ent.start - 2, 0), ent.start)
    ]
    if ent.root.dep_ == "appos":
        near.append(ent.root.head)
    for t in near:
        if t.lower_.strip(".") in _GENDER_NOUNS:
            return _GENDER_NOUNS[t.lower_.strip(".")]
    if not doc.has_annotation("SENT_START"):  # a paragraph given the entity recogniser alone (extract.select)
        return 0
    sent = ent.sent
    if any(c in sent.text for c in '"“”') or sum(e.label_ == "PERSON" for e in sent.ents) != 1:
        return 0
    m = sum(t.lower_ in MASCULINE for t in sent)
    f = sum(t.lower_ in FEMININE for t in sent)
    return (m > 0) - (f > 0)


def untagged_people(doc: Doc, headlines: list[tuple[int, int]]) -> list[tuple[int, str, int]]:
    """People the tagger missed or took for an organisation, as (start, name, gender vote): a two- or
    three-word proper name that is the subject of a sentence whose gendered pronoun can only be theirs
    ("Emeka Obi keeps his shop open late"; an organisation would keep "its")."""
    found: list[tuple[int, str, int]] = []
    if not doc.has_annotation("DEP"):
        return found
    for tok in doc:
        if tok.dep_ not in ("nsubj", "nsubjpass") or tok.pos_ != "PROPN" or tok.ent_type_ not in ("", "ORG"):
            continue
        words = [t for t in tok.lefts if t.dep_ == "compound" and t.pos_ == "PROPN"] + [tok]
        # hyphens join a double surname: "Ines Marchand-Oduya" is three words and a hyphen, one name
        hyphens = sum(t.text == "-" and not t.whitespace_ for t in tok.doc[words[0].i : tok.i])
        if not 2 <= len(words) <= 3 or words[-1].i - words[0].i != len(words) + hyphens - 1:
            continue
        if not all(w.text[:1].isupper() for w in words) or any(a <= words[0].idx < b for a, b in headlines):
            continue
        sent = tok.sent
        if any(c in sent.text for c in '"“”') or any(e.label_ == "PERSON" for e in sent.ents):
            continue
        vote = (any(t.lower_ in MASCULINE for t in sent)) - (any(t.lower_ in FEMININE for t in sent))
        # or a role in apposition: "Amara Lwanga-Holt, the company's head of public policy, said ..."
        if vote or any(c.dep_ == "appos" and c.lower_ in ROLE_NOUNS for c in tok.children):
            found.append((words[0].idx, tok.doc[words[0].i : tok.i + 1].text, vote))
    return found
