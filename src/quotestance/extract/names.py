"""The article's name index: every person and organisation it names, the fullest form of each name, and the
roles it gives them ("Matthew Prince, the company's CEO"), so that a later "Prince" or "the CEO" resolves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span, Token

from quotestance.extract.gender import gender_cue, untagged_people
from quotestance.extract.lexicon import (
    NOT_NAME_START,
    PEOPLE_NOUNS,
    ROLE_SYNONYMS,
    TECH_TERMS,
    TITLE_NOUNS,
    TITLES,
)
from quotestance.extract.namestr import clean_name, entity_label, is_firm_name, is_org_name, without_possessor
from quotestance.extract.parse import dateline_name, dateline_place, doc_text, headline_lines


@dataclass
class Mention:
    pos: int  # character offset in the article
    name: str  # canonical
    is_person: bool


@dataclass
class NameIndex:
    """The article's people and organisations, built once per article."""

    full_names: dict[str, str] = field(default_factory=dict)  # lowercased token -> full canonical name
    orgs: list[Mention] = field(default_factory=list)
    people: list[Mention] = field(default_factory=list)
    roles: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)  # head -> (name, role, org)
    acronyms: dict[str, str] = field(default_factory=dict)  # "EFF" -> "Electronic Frontier Foundation"
    speakers: list[Mention] = field(default_factory=list)  # resolved speakers, in text order
    subjects: list[Mention] = field(default_factory=list)  # people named as the subject of a clause
    # descriptions of speakers ("a bipartisan coalition of lawmakers"), by each person noun in them, so that a
    # later "the lawmakers" is the description the article gave; the offsets of those that were a subject
    descriptions: dict[str, list[Mention]] = field(default_factory=dict)
    subject_descriptions: set[int] = field(default_factory=set)
    # evidence of each person's gender (lowercased name -> +1 per masculine, -1 per feminine cue), so that "she
    # said" skips the husband named just before her
    gender_votes: dict[str, int] = field(default_factory=dict)
    # documents whose issuer the text names ("an email from Cloudflare's legal department"), by lemma: (article
    # offset, the issuer's token, whether the document was its sentence's subject), so that a later "the email
    # stated" (or "it read", after "The post ... is reproduced here") is the issuer's
    documents: dict[str, list[tuple[int, Token, bool]]] = field(default_factory=dict)

    def description_before(self, noun: str, pos: int, window: int = 2000) -> Mention | None:
        """The latest description before pos that contains `noun` (a lemma), the latest that was a subject
        first ("a coalition of lawmakers condemned …, joined by four other lawmakers": "the lawmakers" is the
        coalition); a bisection, since mentions are registered in text order."""
        from bisect import bisect_left

        ms = self.descriptions.get(noun, [])
        k = bisect_left(ms, pos, key=lambda m: m.pos)
        near = [m for m in ms[max(0, k - 8) : k] if pos - window <= m.pos]
        return next(
            (m for m in reversed(near) if m.pos in self.subject_descriptions), near[-1] if near else None
        )

    def canonical(self, name: str) -> str:
        """The fullest form the article gives of a person's name."""
        # "Valdoria’s Varga": the country is not in the name the article gives ("People’s Courier" is)
        rest = without_possessor(name)
        if rest != name:
            if self.canonical(rest) != rest or rest.lower() in self.full_names or rest in self.org_names():
                return self.canonical(rest)
        toks = [t for t in name.split() if t.lower().strip(".") not in TITLES]
        if not toks:
            return name
        key = " ".join(toks).lower()
        if len(toks) == 1:
            return self.full_names.get(key, " ".join(toks))
        # a longer registered name that ends with this one ("Prince" -> "Matthew Prince")
        best = self.full_names.get(toks[-1].lower())
        if best and best.lower().endswith(key) and len(best) > len(key):
            return best
        return " ".join(toks)

    def org_names(self) -> set[str]:
        return {m.name for m in self.orgs}

    def recent_speaker(self, pos: int, window: int = 600) -> Mention | None:
        """The latest speaker within `window` characters before pos."""
        near = [m for m in self.speakers if pos - window <= m.pos < pos]
        return max(near, key=lambda m: m.pos) if near else None

    def group_before(self, pos: int, window: int = 600) -> Mention | None:
        """The closest earlier speaker that is not a person's full name, else the last organisation."""
        near = [m for m in self.speakers if pos - window <= m.pos < pos]
        if near:
            last = max(near, key=lambda m: m.pos)
            if not (last.is_person and len(last.name.split()) >= 2):
                return last
        return self.last_before(pos, False)

    def last_before(self, pos: int, person: bool | None) -> Mention | None:
        """The closest earlier speaker or subject mention of the wanted kind ("he" -> the last person
        who spoke or did something), else the closest mention of that kind."""
        for pool in (self.speakers + self.subjects, self.people + self.orgs):
            cands = [m for m in pool if m.pos < pos and (person is None or m.is_person == person)]
            if cands:
                return max(cands, key=lambda m: m.pos)
        return None

    def gender(self, name: str) -> str | None:
        """'m', 'f' or None (no cue, or cues that disagree) for a person the article names."""
        v = self.gender_votes.get(name.lower(), 0)
        return "m" if v > 0 else "f" if v < 0 else None

    def person_before(self, pos: int, window: int = 1500, pronoun: str | None = None) -> Mention | None:
        """'he'/'she': the closest earlier named person who spoke or acted; full names (two words or more)
        first, since a one-word "person" is often a site or group the tagger took for one. A person whose
        gender the article marks the other way is passed over ("she said" after "her husband, Musa")."""
        pool = [
            m
            for m in self.speakers + self.subjects + self.people
            if m.pos < pos and m.is_person and m.name[:1].isupper() and not is_org_name(m.name)
        ]
        unlike = {"he": "f", "him": "f", "she": "m", "her": "m"}.get(pronoun or "")
        if unlike:
            pool = [m for m in pool if self.gender(m.name) != unlike] or pool
        # membership as a set of values, once per call ("m in self.speakers" per candidate was quadratic)
        spoke = {(m.pos, m.name, m.is_person) for m in self.speakers + self.subjects}
        # who spoke or acted in the last sentence or two ("Varga said ... “...,” she said"): a full name, or a
        # surname whose gender the text marks (a one-word "person" is often a company or place mis-tagged)
        near = [
            m
            for m in pool
            if pos - m.pos <= 200
            and (m.pos, m.name, m.is_person) in spoke
            and (len(m.name.split()) >= 2 or self.gender(m.name))
        ]
        if near:
            return max(near, key=lambda m: m.pos)
        # a full name, not a description ("DIA official", "Halvorsen spokesperson") that also has two words
        named = [m for m in pool if len(m.name.split()) >= 2 and m.name.split()[-1][:1].isupper()]
        full = [m for m in named if pos - m.pos <= window]
        cands = full or pool
        return (
            max(cands, key=lambda m: ((m.pos, m.name, m.is_person) in spoke, m.pos))
            if cands and full
            else (max(cands, key=lambda m: m.pos) if cands else None)
        )

    def org_before(self, pos: int, window: int = 1500, company: bool = False) -> Mention | None:
        """'the company': the last organisation that spoke nearby, else (`company`: the head noun names a firm)
        the last one nearby whose name says it is a company ("Corallo Hosting", not the "Tallyboard" it hosts),
        else the last one named twice or more."""
        near = [m for m in self.speakers if not m.is_person and pos - window <= m.pos < pos]
        if company:  # "the company" is never a group of people that spoke ("a bipartisan coalition")
            near = [m for m in near if m.name.split()[-1].lower().rstrip("s") not in PEOPLE_NOUNS]
        if near:
            return max(near, key=lambda m: m.pos)
        if company:
            firms = [m for m in self.orgs if pos - window <= m.pos < pos and is_firm_name(m.name)]
            if firms:
                return max(firms, key=lambda m: m.pos)
        counts: dict[str, int] = {}
        for m in self.orgs:
            counts[m.name] = counts.get(m.name, 0) + 1
        cands = [m for m in self.orgs if m.pos < pos and counts[m.name] >= 2] or [
            m for m in self.orgs if m.pos < pos
        ]
        return max(cands, key=lambda m: m.pos) if cands else None


def finish_index(idx: NameIndex) -> None:
    """Once every chunk is registered: mentions of a surname become the full name ("Varga" -> "Ilse Varga");
    subjects in text order (a chunk registers its tagged names before its untagged ones)."""
    idx.subjects.sort(key=lambda m: m.pos)
    firms = {o.name.split()[0]: o.name for o in idx.orgs if is_firm_name(o.name) and len(o.name.split()) > 1}
    # "Schanzwerk" tagged as a person where "Schanzwerk Networks" is a company the article names: the company
    idx.people = [m for m in idx.people if m.name not in firms]
    idx.subjects = [m for m in idx.subjects if m.name not in firms]
    for m in idx.people + idx.subjects:
        if len(m.name.split()) == 1:
            m.name = idx.canonical(m.name)
    for name, v in list(idx.gender_votes.items()):  # "Musa" voted before "Musa Danjuma" was named in full
        full = idx.canonical(name).lower()
        if len(name.split()) == 1 and full != name:
            idx.gender_votes[full] = idx.gender_votes.get(full, 0) + v


def build_index(doc: Doc, offset: int = 0, index: NameIndex | None = None) -> NameIndex:
    """Register every PERSON and ORG the parser found (`offset` shifts chunk offsets to the article)."""
    idx = index or NameIndex()
    text = doc_text(doc)
    headlines = headline_lines(text)
    for ent in doc.ents:
        if "\n" in ent.text:  # glued across lines ("... View Comments\n\nKestrel Networks"): its last line
            ent = doc.char_span(ent.start_char + ent.text.rindex("\n") + 1, ent.end_char, ent.label_) or ent
        if (tail := dateline_name(ent)) and is_firm_name(tail[1]):  # "June 28 - Corvane Payments, the ..."
            idx.orgs.append(Mention(tail[0] + offset, clean_name(tail[1]), False))
        if any(a <= ent.start_char < b for a, b in headlines) or dateline_place(ent):
            continue  # a headline's capitalised words are not names ("Amazon Cites Terms of Use ..."), nor a
            # dateline's place ("MELBOURNE, June 14 (SCW) -")
        label = entity_label(ent)
        if label == "PERSON":
            name = without_possessor(clean_name(ent.text))
            toks = [t for t in name.split() if t.lower().strip(".") not in TITLES]
            if not toks or {"that", "which", "who", "whose"} & set(toks):  # "app Vesper that Schanzwerk": two
                continue
            full = " ".join(toks)
            if len(toks) >= 2:
                _register_full(idx, full)
                idx.full_names.setdefault(toks[0].lower(), full)
            idx.people.append(Mention(ent.start_char + offset, full, True))
            vote = gender_cue(ent)
            if vote:
                idx.gender_votes[full.lower()] = idx.gender_votes.get(full.lower(), 0) + vote
            root = ent.root
            if root.dep_ in ("nsubj", "nsubjpass") or (
                root.dep_ == "appos" and root.head.dep_.startswith("nsubj")
            ):
                idx.subjects.append(Mention(ent.start_char + offset, full, True))
            _register_role(idx, ent, full)
            title = next((w.lower().strip(".") for w in name.split() if w.lower().strip(".") in TITLES), None)
            if title:  # "Senator Ana Reyes" tagged whole: a later "the Senator"
                idx.roles[TITLE_NOUNS.get(title, title)] = (full, title, None)
        elif (
            label in ("ORG", "NORP")
            and ent.text[:1].isupper()
            and ent.text.lower() not in TECH_TERMS
            and not re.match(r"[-–]based", text[ent.end_char : ent.end_char + 6])  # "Linz-based": a place
            and ent.root.pos_ != "ADJ"  # "Austrian": a nationality, not an organisation
        ):
            name = clean_name(ent.text)
            idx.orgs.append(Mention(ent.start_char + offset, name, False))
            if ent.label_ == "ORG" and len(name.split()) >= 2:
                # an acronym the article defines or that spells the name: "the EFF" -> "Electronic Frontier
                # Foundation"; a one-word short name ("Amazon") stays as written
                after = re.match(r"\s*\(([A-Z][A-Za-z&]{1,9})\)", text[ent.end_char : ent.end_char + 14])
                initials = "".join(w[0] for w in name.split() if w[:1].isupper())
                for short in {after.group(1) if after else "", initials if len(initials) >= 2 else ""} - {""}:
                    idx.acronyms.setdefault(short, name)
    for start, full, vote in untagged_people(doc, headlines):
        _register_full(idx, full)
        idx.people.append(Mention(start + offset, full, True))
        idx.subjects.append(Mention(start + offset, full, True))
        idx.gender_votes[full.lower()] = idx.gender_votes.get(full.lower(), 0) + vote
    people = {m.name for m in idx.people}
    for tok in doc:  # a surname the tagger missed, as a clause's subject ("Marchand-Oduya finds ..."): theirs
        if tok.dep_ in ("nsubj", "nsubjpass") and tok.pos_ == "PROPN" and tok.ent_type_ in ("", "ORG"):
            first = min((t.i for t in tok.lefts if t.dep_ == "compound"), default=tok.i)
            full = idx.full_names.get(doc[first : tok.i + 1].text.lower(), "")
            if len(full.split()) >= 2 and full in people:
                idx.subjects.append(Mention(doc[first].idx + offset, full, True))
    # names the tagger missed: "Helen Okafor-Lind" as capitalised words still expands a later "Okafor-Lind";
    # every word after the first counts as a surname ("Rosario Guzmán Leyva" -> "Guzmán")
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    run: list[str] = []
    for k, (w, s, _e) in enumerate(words + [("", 0, 0)]):
        if any(a <= s < b for a, b in headlines):
            w = ""  # nothing in a headline line starts or extends a name
        adjacent = run and k > 0 and text[words[k - 1][2] : s] == " "
        possessor = w.endswith(("’s", "'s")) and _name_word(w[:-2])
        if possessor and (adjacent or not run):  # "Rosario Guzmán Leyva's office": the name ends here
            _register_run(idx, run + [w[:-2]])
            run = []
            continue
        if _name_word(w) and (adjacent or not run):
            run.append(w)
            if _ends_sentence(w):  # "Nordvik. Brightmoor": two sentences, not one name
                _register_run(idx, run)
                run = []
            continue
        _register_run(idx, run)
        run = [w] if _name_word(w) else []
    return idx


def _register_full(idx: NameIndex, full: str) -> None:
    """A later surname alone, or the name itself, resolves to the longest full name seen for it."""
    for key in (full.split()[-1].lower(), full.lower()):
        if len(full) > len(idx.full_names.get(key, "")):
            idx.full_names[key] = full


def _name_word(word: str) -> bool:
    """A word that can be part of a name: capitalised, not a function word ("Both", "Under"), not an
    adjective like "US-based", not a possessor ("Corvane’s" in "Corvane’s forum" names another thing)."""
    return (
        word[:1].isupper()
        and word.lower().strip(".") not in NOT_NAME_START
        and not re.search(r"-[a-z]", word)
        and not word.endswith(("’s", "'s"))
    )


def _ends_sentence(word: str) -> bool:
    """A word with a full stop that is no initial ("F.") or title ("Dr.")."""
    core = word.rstrip(".")
    return word.endswith(".") and len(core) > 1 and core.lower() not in TITLES


def _register_run(idx: NameIndex, run: list[str]) -> None:
    names = [w.rstrip(".") if _ends_sentence(w) else w for w in run if w.lower().strip(".") not in TITLES]
    if 2 <= len(names) <= 3:
        full = " ".join(names)
        for w in names[1:]:
            idx.full_names.setdefault(w.lower(), full)


_WORD = re.compile(r"[^\W\d_][\w'’-]*\.?")


def _register_role(idx: NameIndex, ent: Span, name: str) -> None:
    """'Matthew Prince, the company's CEO' and 'CEO Matthew Prince' give a role the article can refer back to."""
    spans = [
        ent.doc[child.left_edge.i : child.right_edge.i + 1]
        for child in ent.root.children
        if child.dep_ == "appos" and child.i > ent.end - 1
    ][:1]
    left = [t for t in ent.root.lefts if t.dep_ == "compound" and t.i < ent.start and not t.ent_type_]
    if left:  # "chief executive", not "executive"; kept beside an apposition ("US Senator Ana Reyes –
        # chairman of the committee –" is both a later "the Senator" and "the chairman")
        spans.append(ent.doc[left[0].left_edge.i : ent.start])
    for role_span in spans:
        if len(role_span) <= 12:
            _register_role_span(idx, role_span, name)


def _register_role_span(idx: NameIndex, role_span: Span, name: str) -> None:
    """One role phrase of a person, under its head noun (and the synonym a later reference may use)."""
    role = role_span.text.strip(" ,")
    org = next((e.text for e in role_span.ents if e.label_ == "ORG"), None)
    head = role_span.root.lemma_.lower().strip(".")
    head = TITLE_NOUNS.get(head, head)  # "Sen. Ana Reyes": a later "the Senator"
    if re.search(r"\bchief executive\b", role, re.I):
        head = "ceo"  # a later "the CEO" or "the company's boss" means this person
    idx.roles[ROLE_SYNONYMS.get(head, head)] = (name, role, org)
