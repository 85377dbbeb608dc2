"""Records passed between stages: small frozen dataclasses that round-trip through JSONL."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pydantic import BaseModel, field_validator, model_validator

#: The label taxonomy. The first three are the stance labels of the headline metric.
LABELS: tuple[str, ...] = ("demand_takedown", "neutral_infrastructure", "law_enforcement_deference", "other")
STANCE_LABELS: tuple[str, ...] = LABELS[:3]
#: Exit code of a command that finished but skipped some inputs (each listed, with its reason, in an errors file).
EXIT_SKIPPED = 3


@dataclass(frozen=True)
class Article:
    """One article as read. `text` is what every character offset indexes into.

    >>> Article(id="a1", text="Hello.").id
    'a1'
    """

    id: str
    text: str
    title: str | None = None
    date: str | None = None
    outlet: str | None = None
    url: str | None = None
    event: str | None = None
    source: str | None = None  # the file (and line, for JSONL) it came from
    meta: dict[str, Any] = field(default_factory=dict)  # any other front-matter / JSONL fields


@dataclass(frozen=True)
class Quote:
    """One quote: a direct quote segment or a reported (indirect) statement, with its speaker."""

    article_id: str
    quote_id: str
    text: str
    char_start: int
    char_end: int
    kind: str  # direct | indirect
    group_id: str  # segments of one split or multi-paragraph quote share it
    speaker: str | None
    speaker_role: str | None
    speaker_org: str | None
    cue: str | None  # the speech verb or phrase that attributes it ("said", "according to")
    context: str  # the sentence(s) around the quote
    extractor_version: str
    flags: tuple[str, ...] = ()  # e.g. "unclosed" when a quote mark had no partner

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quote:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["flags"] = tuple(kw.get("flags") or ())
        return cls(**kw)


@dataclass(frozen=True)
class Skip:
    """An input that produced no article, and why (written to the errors file, never dropped silently)."""

    source: str
    reason: str
    article_id: str | None = None


class LabelledQuote(BaseModel):
    """One labelled quote, as the dataset stage writes it into a split (train reads it back): a `Quote`'s
    fields with a `label` and where it came from (gold or weak). Every row passes this schema before
    anything is written; `article_length` is checked against, not stored.
    """

    quote_id: str
    article_id: str
    event: str
    text: str
    speaker: str | None
    speaker_role: str | None
    speaker_org: str | None
    kind: str
    context: str
    char_start: int
    char_end: int
    label: str
    label_source: str
    label_confidence: float
    group_id: str
    extracted: bool
    article_length: int

    @field_validator("text", "quote_id", "article_id")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> LabelledQuote:
        if not 0 <= self.char_start < self.char_end <= self.article_length:
            raise ValueError(
                f"offsets {self.char_start}-{self.char_end} outside the article "
                f"(length {self.article_length})"
            )
        if self.label_source not in ("gold", "weak", "user"):
            raise ValueError(f"label_source {self.label_source!r} is not gold, weak or user")
        if self.kind not in ("direct", "indirect"):
            raise ValueError(f"kind {self.kind!r} is not direct or indirect")
        return self


#: The columns of a dataset split, in order (LabelledQuote's fields but article_length).
LABELLED_COLUMNS: tuple[str, ...] = tuple(f for f in LabelledQuote.model_fields if f != "article_length")


def stance_columns(labels: list[str] | tuple[str, ...]) -> list[str]:
    """The columns of a stance score, as the served model answers (one row per quote) and score writes.

    >>> stance_columns(["a", "b"])
    ['label', 'confidence', 'prob_a', 'prob_b']
    """
    return ["label", "confidence", *(f"prob_{lab}" for lab in labels)]
