"""Who said it: the speaker phrase next to a speech verb, resolved to the article's canonical name.

"Prince", "he" and "the company's CEO" all become "Matthew Prince" when the article names him in full
anywhere; an organisation's nickname ("the company", "the group") becomes the organisation last named.
Nothing is guessed: a phrase that resolves to nobody is kept as written (without its article).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span, Token


def doc_text(doc: Doc) -> str:
    """`doc.text`, joined once per doc: spaCy rebuilds it from every token on each access, and the extractor
    asks for it inside loops over tokens and words (a cost quadratic in the article's length)."""
    text = doc.user_data.get("quotestance_text")
    if text is None:
        text = doc.user_data["quotestance_text"] = doc.text
    return text

# Verbs that attribute speech in news text (lemmas). Kept broad: they only fire next to a quote or
# with a clausal complement.
SPEECH_VERBS = frozenset("""
say tell add tweet write post argue claim warn insist explain note state declare announce stress
emphasise emphasize contend maintain acknowledge admit concede allege assert report confirm deny reply
respond answer ask urge demand continue recall predict suggest complain vow threaten promise pledge
observe remark conclude testify caution counter retort quip joke lament boast accuse charge agree
argue blog text email message posit reiterate repeat underline mention describe call told says
reference dub brand label term quote read rule
""".split())
PRONOUNS = {"he", "she", "they", "it", "we", "i", "him", "her", "them"}
PERSON_PRONOUNS = {"he", "she", "him", "her", "i"}
# head nouns that name an organisation by its kind ("the company said")
ORG_NOUNS = {
    "company", "firm", "group", "collective", "organisation", "organization", "registrar", "host", "provider",
    "service", "platform", "app", "network", "startup", "business", "agency", "ministry", "department",
    "court", "police", "government", "campaign", "charity", "foundation", "coalition", "association",
    "hackers", "hacktivists", "activists", "site", "forum", "board", "operator", "developer", "company's",
}
# titles that name the same office ("its creator" is the founder the article introduced)
ROLE_SYNONYMS = {"creator": "founder", "cofounder": "founder", "co-founder": "founder", "boss": "ceo",
                 "spokesman": "spokesperson", "spokeswoman": "spokesperson", "attorney": "lawyer",
                 "counsel": "lawyer", "chairwoman": "chairman", "chair": "chairman", "head": "director"}
# collectives are often tagged as people ("Anonymous"): "the group" is the last speaker that is no full name
GROUP_NOUNS = {"group", "collective", "hackers", "hacktivists", "activists", "campaign", "coalition", "movement"}
# nouns that can speak for themselves; any other common noun as a subject ("the move", "the reason")
# is the parser picking the wrong word, and resolves to nobody
PERSON_NOUNS = set("""
person people source sources official officials spokesperson spokesman spokeswoman spokespeople representative
lawyer lawyers attorney attorneys counsel founder cofounder co-founder executive executives chief ceo president
chairman chairwoman chair minister secretary officer officers police detective investigator investigators
prosecutor prosecutors judge judges justice commissioner director head manager owner owners operator operators
administrator administrators admin creator editor writer author publisher developer developers engineer
researcher researchers expert experts analyst analysts activist activists campaigner campaigners advocate
advocates critic critics supporter supporters user users member members resident residents victim victims
family families mother father parent parents sister brother son daughter widow survivor survivors witness
student students professor scholar academic lawmaker lawmakers senator congressman congresswoman mp mps
legislator legislators politician politicians mayor governor leader leaders hacker hackers moderator moderators
employee employees worker workers staff insider aide adviser advisor consultant economist specialist scientist
journalist journalists reporter reporters blogger commentator poster account accounts gunman shooter suspect
attacker man woman men women friend fan fans founder trustee regulator regulators authorities authority
plaintiff plaintiffs complainant complainants defendant defendants petitioner petitioners claimant appellant
ally allies follower followers group groups campaign organizer organiser organizers organisers volunteer
court government ministry agency police company firm
""".split())
INANIMATE_NOUNS = set("""
move reason decision step action case issue problem question fact result change news idea point plan policy
law rule bill act measure situation thing way time day week year list number figure video footage content
material site's evidence process system approach effect attack shooting violence riot ban block removal
""".split())
# documents that speak for whoever issued them ("a statement from the company said")
DOCUMENT_NOUNS = {"statement", "email", "letter", "post", "blog", "tweet", "message", "release", "note",
                  "notice", "memo", "filing", "complaint", "ruling", "order", "judgment", "judgement", "report",
                  "announcement", "update", "thread", "video", "website", "page", "lawsuit", "suit"}
TITLES = {"mr", "mrs", "ms", "dr", "prof", "sir", "dame", "sgt", "lt", "col", "gen", "capt", "det", "insp", "supt",
          "cmdr", "gov", "sen", "rep", "rev", "fr", "hon"}
_PLATFORM_TAIL = re.compile(
    r"(?:\s+(?:twitter|facebook|telegram|instagram|youtube|tiktok|x|mastodon|reddit|blog|channel|account|"
    r"accounts|feed|page|handle|website|site|spokesperson|spokesman|spokeswoman))+$", re.I)
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")


def clean_name(text: str) -> str:
    """'Matthew Prince’s' -> 'Matthew Prince'; 'Anonymous Twitter' -> 'Anonymous'; 'the group' -> 'group'."""
    t = " ".join(text.split())
    t = re.split(r"(?<=[a-z])\.\s+", t)[-1]  # an entity run across a sentence end: "Monday. Under NameHarbor"
    t = re.sub(r"^(?:Under|Inside|In|At|For|From|With|By|On|After|Before|Whatever|Even)\s+", "", t)
    t = _POSSESSIVE.sub("", t)
    t = re.sub(r"^(?:the|a|an)\s+", "", t, flags=re.I)
    stripped = _PLATFORM_TAIL.sub("", t)
    return stripped if stripped else t


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
    org_names: dict[str, str] = field(default_factory=dict)  # first word -> full organisation name
    speakers: list[Mention] = field(default_factory=list)  # resolved speakers, in text order
    subjects: list[Mention] = field(default_factory=list)  # people named as the subject of a clause

    def canonical(self, name: str) -> str:
        """The fullest form the article gives of a person's name."""
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

    def recent_speaker(self, pos: int, window: int = 600) -> Mention | None:
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

    def person_before(self, pos: int, window: int = 1500) -> Mention | None:
        """'he'/'she': the closest earlier named person who spoke or acted; full names (two words or more)
        first, since a one-word "person" is often a site or group the tagger took for one."""
        pool = [m for m in self.speakers + self.subjects + self.people
                if m.pos < pos and m.is_person and m.name[:1].isupper()]
        full = [m for m in pool if len(m.name.split()) >= 2 and pos - m.pos <= window]
        cands = full or pool
        # membership as a set of values, once per call ("m in self.speakers" per candidate was quadratic)
        spoke = {(m.pos, m.name, m.is_person) for m in self.speakers + self.subjects}
        return max(cands, key=lambda m: ((m.pos, m.name, m.is_person) in spoke, m.pos)) if cands and full \
            else (max(cands, key=lambda m: m.pos) if cands else None)

    def org_before(self, pos: int, window: int = 1500) -> Mention | None:
        """'the company': the last organisation that spoke nearby, else the last one named twice or more."""
        near = [m for m in self.speakers if not m.is_person and pos - window <= m.pos < pos]
        if near:
            return max(near, key=lambda m: m.pos)
        counts: dict[str, int] = {}
        for m in self.orgs:
            counts[m.name] = counts.get(m.name, 0) + 1
        cands = [m for m in self.orgs if m.pos < pos and counts[m.name] >= 2] or \
            [m for m in self.orgs if m.pos < pos]
        return max(cands, key=lambda m: m.pos) if cands else None


def _is_name_token(t: Token) -> bool:
    return t.pos_ == "PROPN" and t.text[:1].isupper()


def finish_index(idx: NameIndex) -> None:
    """Once every chunk is registered: mentions of a surname become the full name ("Anglin" -> "Andrew Anglin")."""
    for m in idx.people + idx.subjects:
        if len(m.name.split()) == 1:
            m.name = idx.canonical(m.name)


def build_index(doc: Doc, offset: int = 0, index: NameIndex | None = None) -> NameIndex:
    """Register every PERSON and ORG the parser found (`offset` shifts chunk offsets to the article)."""
    idx = index or NameIndex()
    for ent in doc.ents:
        if ent.label_ == "PERSON":
            name = clean_name(ent.text)
            toks = [t for t in name.split() if t.lower().strip(".") not in TITLES]
            if not toks:
                continue
            full = " ".join(toks)
            if len(toks) >= 2:
                for key in (toks[-1].lower(), full.lower()):
                    if len(full) > len(idx.full_names.get(key, "")):
                        idx.full_names[key] = full
                idx.full_names.setdefault(toks[0].lower(), full)
            idx.people.append(Mention(ent.start_char + offset, full, True))
            root = ent.root
            if root.dep_ in ("nsubj", "nsubjpass") or (root.dep_ == "appos" and root.head.dep_.startswith("nsubj")):
                idx.subjects.append(Mention(ent.start_char + offset, full, True))
            _register_role(idx, ent, full)
        elif ent.label_ in ("ORG", "NORP") and ent.text[:1].isupper():
            name = clean_name(ent.text)
            idx.orgs.append(Mention(ent.start_char + offset, name, False))
            if ent.label_ == "ORG" and len(name.split()) >= 2:  # "Vantry" -> "Vantry Systems"
                idx.org_names.setdefault(name.split()[0].lower(), name)
    # names the tagger missed: "Helen Okafor-Lind" as capitalised words still expands a later "Okafor-Lind";
    # every word after the first counts as a surname ("Rosario Guzmán Leyva" -> "Guzmán")
    text = doc_text(doc)
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    run: list[str] = []
    for k, (w, s, e) in enumerate(words + [("", 0, 0)]):
        adjacent = run and k > 0 and text[words[k - 1][2]:s] == " "
        if w[:1].isupper() and w.lower().strip(".") not in _NOT_FIRST and (adjacent or not run):
            run.append(w)
            continue
        _register_run(idx, run)
        run = [w] if w[:1].isupper() and w.lower().strip(".") not in _NOT_FIRST else []
    return idx


def _register_run(idx: NameIndex, run: list[str]) -> None:
    names = [w for w in run if w.lower().strip(".") not in TITLES]
    if 2 <= len(names) <= 3:
        full = " ".join(names)
        for w in names[1:]:
            idx.full_names.setdefault(w.lower(), full)


_WORD = re.compile(r"[^\W\d_][\w'’-]*\.?")
_NOT_FIRST = {"the", "a", "an", "in", "on", "at", "for", "but", "and", "when", "after", "before", "if", "as",
              "since", "while", "with", "by", "from", "to", "of", "this", "that", "last", "next", "every",
              "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
              "february", "march", "april", "may", "june", "july", "august", "september", "october",
              "november", "december", "mr", "mrs", "ms", "dr"}


def _register_role(idx: NameIndex, ent: Span, name: str) -> None:
    """'Matthew Prince, the company's CEO' and 'CEO Matthew Prince' give a role the article can refer back to."""
    role_span = None
    for child in ent.root.children:
        if child.dep_ == "appos" and child.i > ent.end - 1:
            role_span = ent.doc[child.left_edge.i: child.right_edge.i + 1]
            break
    if role_span is None:
        left = [t for t in ent.root.lefts if t.dep_ == "compound" and t.i < ent.start and not t.ent_type_]
        if left:
            role_span = ent.doc[left[0].i: ent.start]
    if role_span is None or len(role_span) > 12:
        return
    role = role_span.text.strip(" ,")
    org = next((e.text for e in role_span.ents if e.label_ == "ORG"), None)
    head = role_span.root.lemma_.lower()
    idx.roles[ROLE_SYNONYMS.get(head, head)] = (name, role, org)


def noun_phrase(tok: Token) -> Span:
    """The phrase a subject token heads, without relative clauses, appositions or trailing prepositions,
    except 'one of X' / 'spokesperson for X' where the organisation is the point."""
    doc = tok.doc
    left = min([tok.i] + [t.i for t in tok.lefts if t.dep_ in ("compound", "amod", "det", "poss", "nmod", "case")
                          or t.dep_ == "poss"])
    for t in tok.lefts:
        if t.dep_ == "poss":
            left = min(left, t.left_edge.i)
    return doc[left: tok.i + 1]


def entity_in(span: Span, labels: tuple[str, ...] = ("PERSON", "ORG", "NORP", "GPE")) -> Span | None:
    for e in span.doc.ents:
        if e.label_ in labels and e.start < span.end and e.end > span.start:
            return e
    return None


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
        if low in ("i", "we"):
            return Speaker(None)  # first person inside the quote's own frame: not an attribution
        if low in PERSON_PRONOUNS:
            m = idx.person_before(pos)
        else:  # "it" and "they" speak for organisations and groups
            m = idx.org_before(pos) or idx.last_before(pos, None)
        return _with_role(Speaker(m.name, is_person=m.is_person), idx) if m else Speaker(None)

    if subject.lower_.strip(".") in TITLES:  # "Sgt. Ray Dillard" parsed with the title as the subject
        if subject.head.pos_ == "PROPN" and subject.head.i != subject.i:
            subject = subject.head
        else:
            nxt = [t for t in subject.doc[subject.i + 1: subject.i + 5] if t.pos_ == "PROPN"]
            if nxt:
                subject = nxt[-1] if len(nxt) == 1 or nxt[1].i == nxt[0].i + 1 else nxt[0]
    np = noun_phrase(subject)
    role, org = _appos_role(subject)
    # "Stratavault's chief executive, Miriam Ashdown, said": the appositive names the speaker
    for child in subject.children:
        if child.dep_ == "appos" and (child.ent_type_ == "PERSON" or child.pos_ == "PROPN") \
                and subject.pos_ == "NOUN":
            ent = entity_in(noun_phrase(child), ("PERSON",))
            name = idx.canonical(clean_name(ent.text if ent is not None else noun_phrase(child).text))
            org = next((e.text for e in np.ents if e.label_ == "ORG"), None)
            return Speaker(name, clean_name(np.text) if np.text else None, org, True)
    # "one of the major Anonymous Twitter accounts", "a spokesperson for Kestrel": the named part speaks
    if subject.lower_ in ("one", "some", "many", "spokesperson", "spokesman", "spokeswoman", "representative",
                          "member", "members", "spokespeople", "official", "officials", "lawyer", "lawyers"):
        for child in subject.children:
            if child.dep_ == "prep" and child.lower_ in ("of", "for", "from", "at"):
                pobj = next((c for c in child.children if c.dep_ == "pobj"), None)
                if pobj is not None:
                    inner = entity_in(noun_phrase(pobj), ("PERSON", "ORG", "NORP"))
                    if inner is not None:
                        name = clean_name(inner.text)
                        if subject.lower_ in ("one", "some", "many", "member", "members"):
                            whole = subject.doc[subject.left_edge.i: subject.right_edge.i + 1]
                            return Speaker(name, role=whole.text, org=name, is_person=False)
                        return Speaker(name, role=subject.text, org=name, is_person=False)
    ent = entity_in(np, ("PERSON", "ORG"))
    if ent is None and subject.ent_type_ == "NORP":
        ent = entity_in(np, ("NORP",))  # "the Russians said", not "the Russian reseller said"
    if ent is not None and ent.label_ == "PERSON":
        name = idx.canonical(clean_name(ent.text))
        title = [t.text for t in np if t.i < ent.start and t.pos_ in ("NOUN", "PROPN") and not t.ent_type_]
        return _with_role(Speaker(name, role or (" ".join(title) or None), org, True), idx)
    if ent is not None:
        name = clean_name(ent.text)
        if name.split()[0].lower().strip(".") in TITLES:
            name = " ".join(name.split()[1:]) or name
        full = idx.canonical(name)
        if full != name and len(name.split()) == 1:  # a surname the tagger took for an organisation
            return _with_role(Speaker(full, role, org, True), idx)
        name = idx.org_names.get(name.lower(), name) if len(name.split()) == 1 else name
        return Speaker(name, role, org or name, False)
    if all(_is_name_token(t) for t in np if t.dep_ != "det") and subject.pos_ == "PROPN":
        name = idx.canonical(clean_name(np.text))
        return _with_role(Speaker(name, role, org, True), idx)
    head = subject.lemma_.lower()
    if head in DOCUMENT_NOUNS or subject.lower_ in DOCUMENT_NOUNS:
        # "a statement from Kestrel said", "Kestrel's statement said": the issuer speaks
        for child in subject.children:
            if child.dep_ == "poss" or (child.dep_ == "prep" and child.lower_ in ("from", "by", "of")):
                target = child if child.dep_ == "poss" else next((c for c in child.children if c.dep_ == "pobj"), None)
                if target is not None and target.lower_ not in ("its", "their", "his", "her"):
                    return resolve(target, idx, pos)
        m = idx.recent_speaker(pos)  # "the statement said": whoever was last reported speaking nearby
        return Speaker(m.name, None, None, m.is_person) if m else Speaker(None)
    if ROLE_SYNONYMS.get(head, head) in idx.roles:  # "the company's CEO" -> whom the article gave that role
        name, r, o = idx.roles[ROLE_SYNONYMS.get(head, head)]
        return Speaker(name, r, o, True)
    poss = next((t for t in subject.lefts if t.dep_ == "poss"), None)
    if poss is not None and subject.pos_ == "NOUN" and (poss.ent_type_ == "ORG" or poss.lemma_.lower() in ORG_NOUNS):
        # "the firm’s general counsel" -> "Kestrel general counsel": the office, named by its organisation
        owner = clean_name(poss.text) if poss.ent_type_ == "ORG" else (idx.org_before(pos) or Mention(0, "", False)).name
        if owner:
            title = " ".join(t.text for t in np if t.i > poss.i and t.dep_ != "case")
            return Speaker(f"{owner} {title}".strip(), title or None, owner, True)
    if head in ORG_NOUNS or subject.lower_ in ORG_NOUNS:
        poss = next((t for t in subject.lefts if t.dep_ == "poss"), None)
        if poss is None or poss.lower_ in ("its", "their"):
            m = idx.group_before(pos) if head in GROUP_NOUNS else idx.org_before(pos)
            if m is not None:
                return Speaker(m.name, None, m.name, False)
    if head in INANIMATE_NOUNS:
        return Speaker(None)  # "the move", "the reason": the parser picked the wrong word
    text = clean_name(np.text)
    return Speaker(text or None, role, org, head in PERSON_NOUNS or subject.lower_ in PERSON_NOUNS)


def _appos_role(subject: Token) -> tuple[str | None, str | None]:
    for child in subject.children:
        if child.dep_ == "appos":
            span = subject.doc[child.left_edge.i: child.right_edge.i + 1]
            org = next((e.text for e in span.ents if e.label_ == "ORG"), None)
            return span.text.strip(" ,"), org
    return None, None


def _with_role(sp: Speaker, idx: NameIndex) -> Speaker:
    if sp.name and not sp.role:
        for name, role, org in idx.roles.values():
            if name == sp.name:
                return Speaker(sp.name, role, sp.org or org, sp.is_person)
    return sp
