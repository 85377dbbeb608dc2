"""Weak labels for quotes nobody labelled: labelling functions + a prototype labeller, combined by vote.

The label model is a weighted vote with abstain: each labelling function that fires adds `rule_weight` to
its label; the prototype labeller (cosine similarity of the quote's sentence embedding to each label's
prototype: its description plus the gold training examples) adds `prototype_weight` times its softmax
distribution. The label with the largest share of the vote wins; that share is `label_confidence`, and a
label below `min_confidence` abstains (the quote stays unlabelled).

scikit-learn conventions: `fit` stores learned state in trailing-underscore attributes and returns self;
`classes_` holds the labels; `predict_proba` columns follow `classes_`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from quotestance.embed import embed


@dataclass(frozen=True)
class Row:
    """What a labelling function may look at."""

    text: str
    speaker: str | None = None
    speaker_role: str | None = None
    speaker_org: str | None = None
    cue: str | None = None


def _pattern(label: str, regex: str, field: str = "text") -> Callable[[Row], str | None]:
    rx = re.compile(regex, re.I)

    def lf(row: Row) -> str | None:
        value = getattr(row, field) or ""
        return label if rx.search(value) else None

    lf.__name__ = f"lf_{label}_{field}"
    return lf


# Patterns per class: what a demand, a neutrality argument or a deference sounds like. They fire on the
# quote itself; the speaker's kind (hackers, rights groups, police) is a second, weaker signal.
LABELLING_FUNCTIONS: list[Callable[[Row], str | None]] = [
    _pattern(
        "demand_takedown",
        r"\b(take (it|them|the \w+|\w+) (down|offline)|taken down|take down|drop (them|it|the (site|forum|"
        r"customer|domain|account)s?)|cut (them|it) off|shut (it|them|the \w+) down|pull the plug|"
        r"(should|must|has to|have to|needs? to) (drop|remove|stop|cut|terminate|ban|block|suspend|"
        r"kick|pull)|stop (serving|protecting|hosting|helping)|kick (them|it) off|no place on|"
        r"we will do it for you|or we will|(we|they) (have )?(terminated|suspended|removed|dropped|"
        r"banned|pulled)|the right (call|decision|thing to do) to (drop|remove|cut|pull))\b",
    ),
    _pattern(
        "neutral_infrastructure",
        r"\b(censor\w*|free (speech|expression)|slippery slope|content[- ]neutral|neutral (pipe|"
        r"infrastructure|utility)|(not|never) (be )?(the|our|a) (job|role|place|business) (of|to) "
        r"(police|judge|decide|read)|police (the )?content|judge (the )?content|arbiter|gatekeeper|"
        r"(just|a|the) (pipe|plumbing|utility|phone company)|who (gets|is allowed) to speak|"
        r"should(n't| not) (decide|be the (judge|one))|power to decide)\b",
    ),
    _pattern(
        "law_enforcement_deference",
        r"\b(court order|(valid|lawful|legal) (order|request|process)|law enforcement|subpoena|warrant|"
        r"due process|when (a|the) (court|judge|police)|unless (a|the) (court|judge|police)|"
        r"(follow|obey|comply with|complied with|respect) (the )?(law|order|judgement|judgment|ruling|"
        r"courts?)|(a|the) (matter|job|decision|question) for (the )?(police|courts|prosecutors|"
        r"investigators|judges?)|check with|ask(ed)? (the )?(police|authorities)|(police|courts|"
        r"judges?|prosecutors) (should|must|to) (decide|tell|act))\b",
    ),
    _pattern("other", r"^\W*(\w+\W+){0,3}\w*\W*$"),  # a fragment of four words or fewer
    _pattern(
        "other",
        r"\b(\d[\d,.]*\s*(million|billion|percent|%|sites|users|customers|accounts|requests)|"
        r"revenue|quarter|shares|stock|fined?|lawsuit|filed|hearing is (set|scheduled))\b",
    ),
    _pattern("demand_takedown", r"\b(hack\w*|anonymous|collective)\b", "speaker_role"),
    _pattern(
        "neutral_infrastructure",
        r"\b(civil[- ]libert\w*|digital[- ]rights|free[- ]speech|"
        r"electronic frontier)\b",
        "speaker_org",
    ),
]


def label_prototypes(descriptions: dict[str, str]) -> dict[str, str]:
    return {k: f"{k.replace('_', ' ')}: {v}" for k, v in descriptions.items()}


class WeakLabeller:
    """Labelling functions and a prototype labeller, combined by weighted vote."""

    def __init__(
        self,
        labels: Sequence[str],
        descriptions: dict[str, str],
        model: str,
        rule_weight: float = 0.5,
        prototype_weight: float = 1.0,
        temperature: float = 20.0,
        k: int = 25,
        functions: Sequence[Callable[[Row], str | None]] = tuple(LABELLING_FUNCTIONS),
    ):
        self.labels = list(labels)
        self.descriptions = descriptions
        self.model = model
        self.rule_weight = rule_weight  # votes per labelling function that fires
        self.prototype_weight = prototype_weight  # vote mass of the prototype labeller
        self.temperature = temperature  # softmax sharpness over cosine similarities
        self.k = k  # gold neighbours that vote
        self.functions = list(functions)

    def fit(self, rows: Sequence[Row], labels: Sequence[str]) -> WeakLabeller:
        """Embed the label descriptions and the gold examples (the prototypes each quote is compared to)."""
        self.classes_ = np.array(self.labels)
        desc = label_prototypes(self.descriptions)
        self.description_vectors_ = embed([desc[k] for k in self.labels], self.model)
        self.example_vectors_ = embed([r.text for r in rows], self.model) if rows else None
        self.example_labels_ = np.array([self.labels.index(y) for y in labels], dtype=int)
        return self

    def _prototype_proba(self, x: np.ndarray) -> np.ndarray:
        """Half from the label descriptions (softmax of similarities), half from the k most similar gold
        examples (similarity-weighted vote); descriptions alone when there are no examples."""
        sims = x @ self.description_vectors_.T * self.temperature
        p = np.exp(sims - sims.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        if self.example_vectors_ is None or not len(self.example_vectors_):
            return p
        s = x @ self.example_vectors_.T
        k = min(self.k, s.shape[1])
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        knn = np.zeros_like(p)
        for i in range(len(x)):
            w = np.exp(self.temperature * (s[i, top[i]] - s[i, top[i]].max()))
            np.add.at(knn[i], self.example_labels_[top[i]], w)
        knn /= knn.sum(1, keepdims=True)
        return 0.5 * p + 0.5 * knn

    def votes(self, rows: Sequence[Row]) -> np.ndarray:
        """Vote mass per row and label (columns follow classes_)."""
        v = self.prototype_weight * self._prototype_proba(embed([r.text for r in rows], self.model))
        col = {k: i for i, k in enumerate(self.labels)}
        for i, r in enumerate(rows):
            for lf in self.functions:
                hit = lf(r)
                if hit in col:
                    v[i, col[hit]] += self.rule_weight
        return v

    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray:
        v = self.votes(rows)
        return v / v.sum(1, keepdims=True)

    def predict(self, rows: Sequence[Row], min_confidence: float = 0.0) -> list[tuple[str | None, float]]:
        """(label or None when the vote is below min_confidence, confidence) per row."""
        p = self.predict_proba(rows)
        best = p.argmax(1)
        return [
            (self.labels[b] if p[i, b] >= min_confidence else None, float(p[i, b]))
            for i, b in enumerate(best)
        ]
