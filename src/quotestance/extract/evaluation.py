"""Score extracted quotes against gold: span P/R/F1 by character overlap, and speaker accuracy.

The same definition as the reference scorer (../shared/tools/eval_extract.py): spans are compared without
their quotation marks, each gold quote takes its best-overlapping unused prediction, overlap is
|intersection| / |union|, and a speaker matches when the normalised names are equal, when a name of two or
more words stands inside the other, or when a one-word prediction begins the gold's longer name ("Amazon"
for "Amazon Web Services"; never a bare surname, never extra words after a one-word gold name). Mixed quotes,
a quoted fragment lying inside a gold reported-speech span, are neutral when direct quotes are scored: gold
sets annotate them either way, so an unmatched one is neither a miss nor a false positive (strict=True
counts them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from quotestance.config import EvalExtractApp
from quotestance.extract.spans import match_span, strip_marks


def norm_name(s: str | None) -> str:
    """A name lowercased, without parentheses, punctuation or articles, for comparison."""
    s = re.sub(r"\([^)]*\)", " ", (s or "")).lower()
    s = re.sub(r"[^\w\s@#]", " ", s)
    return " ".join(t for t in s.split() if t not in {"the", "a", "an"})


def speaker_ok(pred: str | None, gold: str | None) -> bool:
    """Whether a predicted speaker matches the gold one (see the module's note)."""
    p, g = norm_name(pred), norm_name(gold)
    if not p or not g:
        return False
    if p == g:
        return True
    short, long_ = sorted((p, g), key=len)
    if len(short.split()) == 1:
        return short == p and long_.startswith(short + " ")
    return f" {short} " in f" {long_} "


@dataclass(frozen=True)
class SpanScore:
    gold: int
    pred: int
    matched: int
    speaker_correct: int
    speaker_exact: int = 0  # matched quotes whose normalised speaker equals the gold's exactly
    mixed_neutral: int = 0  # mixed quotes left out of gold and pred (see the module's note)

    @property
    def precision(self) -> float:
        """Matched over predicted."""
        return self.matched / self.pred if self.pred else 0.0

    @property
    def recall(self) -> float:
        """Matched over gold."""
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def speaker_accuracy(self) -> float:
        """Matched quotes whose speaker matches, over matched quotes."""
        return self.speaker_correct / self.matched if self.matched else 0.0

    @property
    def speaker_exact_accuracy(self) -> float:
        """Matched quotes whose normalised speaker is the gold's exactly, over matched quotes."""
        return self.speaker_exact / self.matched if self.matched else 0.0


def _gold_article(g: dict[str, Any]) -> str:
    return str(g.get("article_id") or g.get("passage_id"))  # rows from io.read_gold carry article_id


def score_spans(
    pred: list[dict[str, Any]],
    gold: list[dict[str, Any]],
    texts: dict[str, str],
    min_overlap: float = 0.8,
    kind: str | None = None,
    exact: bool = False,
    strict: bool = False,
) -> SpanScore:
    """Rows need article_id (gold: passage_id or article_id), char_start, char_end, speaker, kind.

    exact=True counts a match only when the mark-stripped spans are identical.
    """
    reported: dict[str, list[tuple[int, int]]] = {}
    for g in gold:
        if g.get("kind") == "indirect":
            reported.setdefault(_gold_article(g), []).append((g["char_start"], g["char_end"]))

    def mixed(aid: str, s: int, e: int) -> bool:  # 90 % of the span inside gold reported speech
        n = max(1, e - s)
        return any(min(e, re_) - max(s, rs) >= 0.9 * n for rs, re_ in reported.get(aid, ()))

    if kind:
        gold = [g for g in gold if g.get("kind") == kind]
        pred = [p for p in pred if p.get("kind") == kind]
    by_article: dict[str, list[int]] = {}
    for i, p in enumerate(pred):
        by_article.setdefault(str(p["article_id"]), []).append(i)
    used: set[int] = set()
    matched = correct = same = 0
    unmatched_gold = []
    for g in gold:
        aid = _gold_article(g)
        text = texts.get(aid, "")
        gs = strip_marks((g["char_start"], g["char_end"]), text)
        bi = match_span(
            gs,
            (
                (i, strip_marks((int(pred[i]["char_start"]), int(pred[i]["char_end"])), text))
                for i in by_article.get(aid, [])
                if i not in used
            ),
            min_overlap,
            exact=exact,
        )
        if bi is not None:
            used.add(bi)
            matched += 1
            ok = speaker_ok(pred[bi].get("speaker"), g.get("speaker"))
            correct += ok
            same += ok and norm_name(pred[bi].get("speaker")) == norm_name(g.get("speaker"))
        else:
            unmatched_gold.append(g)
    neutral_pred = neutral_gold = 0
    if not strict and kind != "indirect":
        neutral_pred = sum(
            1
            for i, p in enumerate(pred)
            if i not in used
            and p.get("kind", "direct") == "direct"
            and mixed(str(p["article_id"]), int(p["char_start"]), int(p["char_end"]))
        )
        neutral_gold = sum(
            1
            for g in unmatched_gold
            if g.get("kind") == "direct" and mixed(_gold_article(g), g["char_start"], g["char_end"])
        )
    return SpanScore(
        len(gold) - neutral_gold,
        len(pred) - neutral_pred,
        matched,
        correct,
        same,
        neutral_pred + neutral_gold,
    )


@dataclass(frozen=True)
class GoldSetResult:
    name: str
    rows: list[tuple[str, str, SpanScore]]  # (kind, match rule, score)
    articles: int
    seconds: float
    note: str = ""
    failed: tuple[str, ...] = ()  # articles whose extraction raised: scored as finding nothing


def evaluate_goldset(
    name: str,
    gold_path: str,
    texts_spec: str,
    nlp: Any,
    default_article: str | None = None,
    select: bool = True,
    cache_dir: str | None = None,
    n_process: int = 1,
) -> GoldSetResult:
    """Extract quotes from a gold set's texts and score them, direct and indirect, at several match rules."""
    import time
    from pathlib import Path

    from quotestance.extract.batch import extract_cached
    from quotestance.extract.ingest import read_articles
    from quotestance.io import read_gold
    from quotestance.records import Article

    if not Path(gold_path).exists():
        return GoldSetResult(name, [], 0, 0.0, note=f"skipped: {gold_path} not found")
    gold = read_gold(gold_path, default_article)
    articles = [a for a in read_articles(texts_spec) if isinstance(a, Article)]
    t0 = time.perf_counter()
    from quotestance.progress import bar, say

    stream = bar(
        extract_cached(articles, nlp, cache_dir, n_process=n_process, select=select),
        total=len(articles),
        desc=f"extracting {name}",
        unit="article",
    )
    pred, failed = [], []
    for art, qs in stream:  # an article whose extraction failed counts as finding nothing, and is named
        if isinstance(qs, Exception):
            failed.append(art.id)
            say(f"warning: extraction failed on {name} article {art.id}: {type(qs).__name__}: {qs}")
        else:
            pred += [q.to_dict() for q in qs]
    seconds = time.perf_counter() - t0
    texts = {a.id: a.text for a in articles}
    rows = []
    for kind in ("direct", "indirect"):
        rules = [("overlap>=0.8", 0.8, False), ("exact", 1.0, True)]
        if kind == "indirect":
            rules.insert(1, ("overlap>=0.5", 0.5, False))
        for label, thr, exact in rules:
            rows.append((kind, label, score_spans(pred, gold, texts, thr, kind, exact)))
    return GoldSetResult(name, rows, len(articles), seconds, failed=tuple(failed))


def pooled(name: str, results: list[GoldSetResult]) -> GoldSetResult:
    """Several gold sets scored as one (their counts summed), e.g. every real-news set together."""
    rows = []
    for kind, rule, _ in results[0].rows if results else []:
        parts = [s for r in results for k, u, s in r.rows if (k, u) == (kind, rule)]
        rows.append(
            (
                kind,
                rule,
                SpanScore(*(sum(getattr(s, f) for s in parts) for f in SpanScore.__dataclass_fields__)),
            )
        )
    return GoldSetResult(
        name,
        rows,
        sum(r.articles for r in results),
        sum(r.seconds for r in results),
        failed=tuple(f for r in results for f in r.failed),
    )


def format_table(results: list[GoldSetResult]) -> str:
    """A Markdown table of every gold set's scores; `speaker exact` counts only a normalised exact match (the
    scorer's `speaker acc` forgives extra words around a multi-word name)."""
    lines = [
        "| gold set | kind | match | gold | pred | matched | P | R | F1 | speaker acc | speaker exact |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.note:
            lines.append(f"| {r.name} | | {r.note} | | | | | | | | |")
        for kind, rule, s in r.rows:
            lines.append(
                f"| {r.name} | {kind} | {rule} | {s.gold} | {s.pred} | {s.matched} | {s.precision:.3f} | "
                f"{s.recall:.3f} | {s.f1:.3f} | {s.speaker_accuracy:.3f} | {s.speaker_exact_accuracy:.3f} |"
            )
        if r.failed:
            ids = ", ".join(r.failed[:5]) + (" …" if len(r.failed) > 5 else "")
            lines.append(
                f"| {r.name} | | extraction failed on {len(r.failed)} articles ({ids}): found nothing | |"
                " | | | | | | |"
            )
    return "\n".join(lines)


def eval_extract(app: EvalExtractApp) -> int:
    """Score extraction on every configured gold set (or app.only); print the table, and write it to app.output."""
    from quotestance.extract import extractor_version
    from quotestance.extract.batch import load_nlp
    from quotestance.io import atomic_writer

    nlp = load_nlp(app.extract.spacy_model)
    names = app.only or list(app.goldsets)
    results = [
        evaluate_goldset(
            n,
            g.gold,
            g.texts,
            nlp,
            g.default_article,
            app.extract.select,
            app.extract.cache_dir,
            app.extract.n_process,
        )
        for n, g in app.goldsets.items()
        if n in names
    ]
    by_name = {r.name: r for r in results if not r.note}
    for name, members in app.pool.items():
        if all(m in by_name for m in members):
            results.append(pooled(name, [by_name[m] for m in members]))
    table = format_table(results)
    print(table)
    if app.output:
        with atomic_writer(app.output) as fh:
            fh.write(
                "# Extraction scores on the gold sets\n\nProduced by `make eval-extract` "
                f"(`quotestance-eval-extract output={app.output}`); extractor "
                f"`{extractor_version(nlp)}`. Span P/R/F1 by character overlap (quotation marks "
                "stripped), speaker accuracy on matched quotes; definitions as in "
                "`../shared/tools/eval_extract.py`.\n\n" + table + "\n"
            )
    return 0
