"""Score extracted quotes against gold: span P/R/F1 by character overlap, and speaker accuracy.

The same definition as the reference scorer (../shared/tools/eval_extract.py): spans are compared without
their quotation marks, each gold quote takes its best-overlapping unused prediction, overlap is
|intersection| / |union|, and a speaker matches when the normalised names are equal or a name of two or
more words stands inside the other (never a bare surname).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_MARKS = "\"'“”‘’ \n"


def norm_name(s: str | None) -> str:
    s = re.sub(r"\([^)]*\)", " ", (s or "")).lower()
    s = re.sub(r"[^\w\s@#]", " ", s)
    return " ".join(t for t in s.split() if t not in {"the", "a", "an"})


def speaker_ok(pred: str | None, gold: str | None) -> bool:
    p, g = norm_name(pred), norm_name(gold)
    if not p or not g:
        return False
    if p == g:
        return True
    short, long_ = sorted((p, g), key=len)
    return len(short.split()) >= 2 and f" {short} " in f" {long_} "


def overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def strip_marks(span: tuple[int, int], text: str) -> tuple[int, int]:
    s, e = span
    while s < e and text[s] in _MARKS:
        s += 1
    while e > s and text[e - 1] in _MARKS:
        e -= 1
    return s, e


@dataclass(frozen=True)
class SpanScore:
    gold: int
    pred: int
    matched: int
    speaker_correct: int

    @property
    def precision(self) -> float:
        return self.matched / self.pred if self.pred else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def speaker_accuracy(self) -> float:
        return self.speaker_correct / self.matched if self.matched else 0.0


def score_spans(pred: list[dict[str, Any]], gold: list[dict[str, Any]], texts: dict[str, str],
                min_overlap: float = 0.8, kind: str | None = None, exact: bool = False) -> SpanScore:
    """Rows need article_id (gold: passage_id or article_id), char_start, char_end, speaker, kind.

    exact=True counts a match only when the mark-stripped spans are identical.
    """
    if kind:
        gold = [g for g in gold if g.get("kind") == kind]
        pred = [p for p in pred if p.get("kind") == kind]
    by_article: dict[str, list[int]] = {}
    for i, p in enumerate(pred):
        by_article.setdefault(str(p["article_id"]), []).append(i)
    used: set[int] = set()
    matched = correct = 0
    for g in gold:
        aid = str(g.get("passage_id") or g.get("article_id"))
        text = texts.get(aid, "")
        gs = strip_marks((g["char_start"], g["char_end"]), text)
        best, bi = 0.0, None
        for i in by_article.get(aid, []):
            if i in used:
                continue
            ps = strip_marks((int(pred[i]["char_start"]), int(pred[i]["char_end"])), text)
            o = (1.0 if ps == gs else 0.0) if exact else overlap(gs, ps)
            if o > best:
                best, bi = o, i
        if bi is not None and best >= min_overlap:
            used.add(bi)
            matched += 1
            correct += speaker_ok(pred[bi].get("speaker"), g.get("speaker"))
    return SpanScore(len(gold), len(pred), matched, correct)


@dataclass(frozen=True)
class GoldSetResult:
    name: str
    rows: list[tuple[str, str, SpanScore]]  # (kind, match rule, score)
    articles: int
    seconds: float
    note: str = ""


def evaluate_goldset(name: str, gold_path: str, texts_spec: str, nlp: Any,
                     default_article: str | None = None) -> GoldSetResult:
    """Extract quotes from a gold set's texts and score them, direct and indirect, at several match rules."""
    import time
    from pathlib import Path

    from quotestance.extract.extractor import extract_many
    from quotestance.extract.ingest import read_articles
    from quotestance.io import read_jsonl
    from quotestance.records import Article

    if not Path(gold_path).exists():
        return GoldSetResult(name, [], 0, 0.0, note=f"skipped: {gold_path} not found")
    gold = read_jsonl(gold_path)
    for g in gold:
        g.setdefault("article_id", g.get("passage_id") or default_article)
    articles = [a for a in read_articles(texts_spec) if isinstance(a, Article)]
    t0 = time.perf_counter()
    pred = [q.to_dict() for _, qs in extract_many(articles, nlp) if not isinstance(qs, Exception) for q in qs]
    seconds = time.perf_counter() - t0
    texts = {a.id: a.text for a in articles}
    rows = []
    for kind in ("direct", "indirect"):
        rules = [("overlap>=0.8", 0.8, False), ("exact", 1.0, True)]
        if kind == "indirect":
            rules.insert(1, ("overlap>=0.5", 0.5, False))
        for label, thr, exact in rules:
            rows.append((kind, label, score_spans(pred, gold, texts, thr, kind, exact)))
    return GoldSetResult(name, rows, len(articles), seconds)


def format_table(results: list[GoldSetResult]) -> str:
    """A Markdown table of every gold set's scores."""
    lines = ["| gold set | kind | match | gold | pred | matched | P | R | F1 | speaker acc |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.note:
            lines.append(f"| {r.name} | | {r.note} | | | | | | | |")
        for kind, rule, s in r.rows:
            lines.append(f"| {r.name} | {kind} | {rule} | {s.gold} | {s.pred} | {s.matched} | {s.precision:.3f} | "
                         f"{s.recall:.3f} | {s.f1:.3f} | {s.speaker_accuracy:.3f} |")
    return "\n".join(lines)
