"""The words attribution decides by: speech verbs, pronouns, and the nouns that name people, organisations,
collectives and documents. Lists of lemmas (lowercase), one block of words each."""

from __future__ import annotations

# Verbs that attribute speech in news text (lemmas). Kept broad: they only fire next to a quote or
# with a clausal complement.
SPEECH_VERBS = frozenset(
    """
say tell add tweet write post argue claim warn insist explain note state declare announce stress
emphasise emphasize contend maintain acknowledge admit concede allege assert report confirm deny reply
respond answer ask urge demand continue recall predict suggest complain vow threaten promise pledge
observe remark conclude testify caution counter retort quip joke lament boast accuse charge agree
argue blog text email message posit reiterate repeat underline mention describe call told says
reference dub brand label term quote read rule elaborate clarify begin
""".split()
)
PRONOUNS = {"he", "she", "they", "it", "we", "i", "him", "her", "them"}
PERSON_PRONOUNS = {"he", "she", "him", "her", "i"}
# head nouns that name an organisation by its kind ("the company said")
ORG_NOUNS = set(
    """
company firm group collective organisation organization registrar host provider service platform app
network startup business agency ministry department court police government campaign charity foundation
coalition association hackers hacktivists activists site forum board operator developer company's
newspaper paper bank telco carrier registry watchdog broadcaster
""".split()
)
# organisations by their trade: "the Arizona-based company" is the company the article named, while "digital
# rights groups" or "the district police" are descriptions, kept as written
COMPANY_NOUNS = set(
    "company firm startup business provider registrar host operator platform service developer".split()
)
# collectives are often tagged as people ("Anonymous"): "the group" is the last speaker that is no full name
GROUP_NOUNS = set(
    """
group collective hackers hacktivists activists campaign coalition movement
""".split()
)
# nouns that can speak for themselves; any other common noun as a subject ("the move", "the reason")
# is the parser picking the wrong word, and resolves to nobody
PERSON_NOUNS = set(
    """
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
court government ministry agency police company firm media
""".split()
)
# bare titles that speak for an organisation ("a spokesperson said" in a story about one company)
# titles one person holds in an organisation: "the CEO" with no name refers back to the person in view
SOLE_TITLES = {
    "ceo",
    "founder",
    "cofounder",
    "co-founder",
    "president",
    "chairman",
    "chairwoman",
    "chair",
    "boss",
}
# records that hold speech without speaking: "according to audio and chat logs" names no speaker
RECORD_NOUNS = {
    "audio",
    "recording",
    "recordings",
    "log",
    "logs",
    "record",
    "records",
    "footage",
    "data",
    "document",
    "documents",
}
SPOKES_NOUNS = {"spokesperson", "spokesman", "spokeswoman", "spox", "representative", "official", "officials"}
INANIMATE_NOUNS = set(
    """
move reason decision step action case issue problem question fact result change news idea point plan policy
law rule bill act measure situation thing way time day week year list number figure video footage content
material site's evidence process system approach effect attack shooting violence riot ban block removal
screenshot version wording
""".split()
)
# documents that speak for whoever issued them ("a statement from the company said")
DOCUMENT_NOUNS = set(
    """
statement email letter post blog tweet message release note notice memo filing complaint ruling order
judgment judgement report announcement update thread video website page lawsuit suit essay analysis article
study paper column survey terms guidelines policy rules editorial application submission affidavit transcript
""".split()
)
# parts of a document, which speak for it ("the central passage of the letter reads:")
PART_NOUNS = {"passage", "section", "part", "paragraph", "excerpt", "portion", "line", "lines"}

# combinations the hot paths ask about, built once
SPEAKING_NOUNS = PERSON_NOUNS | ORG_NOUNS  # nouns that can take a stand ("the company condemned ...")
PEOPLE_NOUNS = PERSON_NOUNS | GROUP_NOUNS  # heads of descriptions of people ("26 rights groups")
# kept as a description ("a Brightmoor spokesman"), not the company
DESCRIBED_NOUNS = PERSON_NOUNS - COMPANY_NOUNS
ROLE_NOUNS = (
    PERSON_NOUNS - ORG_NOUNS
)  # "the engineer" refers back to a description; "the government" to a name

# reporting verbs that take a clausal complement ("X argued that ...")
INDIRECT_VERBS = frozenset(
    """
say tell add argue claim warn insist explain note state declare stress emphasise emphasize contend
maintain acknowledge admit concede allege assert report confirm deny reply respond suggest complain vow
threaten promise pledge predict write tweet post testify caution counter reiterate repeat point stand
believe accuse charge reveal advise remark underline specify disclose indicate object observe assure
inform notify hint opine signal retort lament boast
""".split()
)
# every verb that reports speech, with a quote beside it or a clause after it
INDIRECT_VERBS_ALL = SPEECH_VERBS | INDIRECT_VERBS
# marks of an adverbial clause ("after the company inked ..."): such a clause is never the report
ADVERBIAL_MARKS = set(
    """
after before because since while when as although though until once unless whereas
""".split()
)
# reporting verbs whose report may be the rest of the sentence when the parser attached no clause
REPORT_FALLBACK = set(
    """
say tell argue claim insist warn contend maintain acknowledge admit suggest stress explain note predict
conclude allege assert concede confirm state reiterate
""".split()
)
# technical terms the recogniser tags as organisations ("at the level of the DNS"): never a speaker
TECH_TERMS = frozenset(
    """
dns ip pdf vpn vpns url urls http https ssl tls api cdn ddos tld tlds cctld sms isp isps it ai ios
""".split()
)

# titles that name the same office ("its creator" is the founder the article introduced)
ROLE_SYNONYMS = {
    "creator": "founder",
    "cofounder": "founder",
    "co-founder": "founder",
    "boss": "ceo",
    "spokesman": "spokesperson",
    "spokeswoman": "spokesperson",
    "attorney": "lawyer",
    "counsel": "lawyer",
    "chairwoman": "chairman",
    "chair": "chairman",
    "head": "director",
    "executive": "ceo",
}
TITLES = set(
    """
mr mrs ms dr prof sir dame sgt lt col gen capt det insp supt cmdr gov sen rep rev fr hon superintendent
inspector commissioner professor judge senator minister sergeant detective constable chancellor
""".split()
)

# (announcing or ordering an action reports an event, not speech; "announced it would drop the site" is news)
ACT_VERBS = {"urge", "demand", "call", "press", "pressure", "ask", "implore", "beg", "petition", "request"}
# speech acts whose content is an object or a prepositional phrase: lemma -> (dependency, word or None)
ACT_PHRASES = {
    "accuse": ("dobj", None),
    "welcome": ("dobj", None),
    "blame": ("dobj", None),
    "claim": ("xcomp", None),
    "join": ("dobj", "calls"),
    "testify": ("prep", "in"),
}
# speech acts that take a stand on their object ("condemned the blocking", "denied both claims"), reported only
# when a speaker does it (a person, an organisation, a pronoun); verbs with a physical sense as common as the
# spoken one ("defend", "express") only on the objects in OBJECT_ACTS
STANCE_ACTS = frozenset(
    """
condemn deny criticise criticize praise blast slam applaud cheer reject hail decry denounce lambast
lambaste rebuke dispute refute cite downplay
""".split()
)
ACT_PHRASES.update({v: ("dobj", None) for v in STANCE_ACTS if v not in ACT_PHRASES})
# verbs with a physical sense too, speech acts only on these objects ("defended its decision", "expressed concern")
OBJECT_ACTS = {
    "defend": {
        "decision",
        "move",
        "choice",
        "policy",
        "action",
        "ban",
        "block",
        "removal",
        "stance",
        "position",
    },
    "express": {
        "concern",
        "reservation",
        "support",
        "regret",
        "disappointment",
        "outrage",
        "solidarity",
        "doubt",
    },
}
ACT_PHRASES.update({v: ("dobj", None) for v in OBJECT_ACTS})
# abbreviated titles, as the noun a later reference uses ("Sen. Ana Reyes" ... "the Senator")
TITLE_NOUNS = {
    "sen": "senator",
    "sens": "senator",
    "rep": "representative",
    "reps": "representative",
    "gov": "governor",
    "supt": "superintendent",
    "insp": "inspector",
    "prof": "professor",
}
# last words of company names, never of a person's ("Tallgrass Hosting", "Kestrel Networks")
COMPANY_WORDS = frozenset(
    """
hosting networks network cloud technologies technology inc ltd llc gmbh group media systems telecom
communications labs digital domains security solutions services holdings corp corporation registry payments
""".split()
)
# last words of an institution's name ("North American Acquirers Forum"): an organisation, never a person
INSTITUTION_WORDS = frozenset(
    """
forum association foundation council commission authority coalition alliance institute centre center union
society committee agency ministry board bureau trust federation league network networks consortium
""".split()
)
# words that never start a name, though capitalised at a sentence's start ("Inside Tallgrass, ...")
NOT_NAME_START = set(
    """
the a an in on at for but and when after before if as since while with by from to of this that last next
every monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december mr mrs ms dr both all each every another some many most
several given despite although though because unless until once then now still yet also meanwhile however
instead like unlike amid among against without within through during following including according inside
outside across under over beyond behind toward towards throughout one
""".split()
)
# adverbs that open a sentence before a speech verb whose subject follows ("Later said the minister ..."); any
# other capitalised "adverb" there is a name the tagger did not know (attribution._name_as_adverb)
SENTENCE_ADVERBS = set(
    """
also later earlier then still however meanwhile instead separately further again once now so thus yet
""".split()
)

# Sentence openers that turn an argument against what came before. The labelling guide splits a long quote
# "at the sentence where its stance turns"; a quoted sentence opening with one of these starts a new segment.
# "But", "Still" and "Yet" are left out: in quotes they more often continue a point than turn it.
TURN_OPENERS = (
    "However",
    "Nevertheless",
    "Nonetheless",
    "That said",
    "Having said that",
    "Even so",
    "On the other hand",
)
