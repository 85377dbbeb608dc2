"""Extraction over many files: quotes to JSONL, every skipped input to an errors file with its reason."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from quotestance.config import ExtractApp, ExtractConfig
from quotestance.extract.assemble import extract_from_parse, extractor_version
from quotestance.extract.ingest import iter_sources, read_articles
from quotestance.extract.parse import Parsed, plan_chunks
from quotestance.extract.quotes import paragraphs
from quotestance.extract.select import parse_plan
from quotestance.io import atomic_writer, write_jsonl
from quotestance.progress import bar as progress_bar
from quotestance.progress import say
from quotestance.records import Article, Quote, Skip


class ExtractionTimeout(TimeoutError):
    """An article's extraction ran past `extract.max_seconds_per_article`."""


@contextmanager
def _time_budget(seconds: float):
    """Raise ExtractionTimeout in this block after `seconds` (a SIGALRM timer: main thread only, else none).

    Extraction is linear in the article by design; this is the last guard should some input still find a
    slow path, so that one article costs a recorded skip and never the batch's time.
    """
    import signal
    import threading

    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise ExtractionTimeout(f"extraction took over {seconds:g} s (extract.max_seconds_per_article)")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def extract_many(
    articles: Iterable[Article],
    nlp: Language,
    n_process: int = 1,
    batch_size: int = 16,
    max_seconds: float = 0.0,
    select: bool = True,
) -> Iterator[tuple[Article, list[Quote] | Exception]]:
    """(article, quotes) for a stream of articles, parsing with nlp.pipe (n_process workers).

    With `select`, only the paragraphs that can hold a quote or an attribution get the whole pipeline; the
    rest get the entity recogniser alone, here (extract.select). An article whose extraction fails, or runs
    past `max_seconds` (0: no limit), yields the exception instead of quotes, so a batch never dies.
    """
    version = extractor_version(nlp)
    ner = nlp.get_pipe("ner") if select and "ner" in nlp.pipe_names else None
    pending: dict[int, tuple[Article, list[tuple[Doc, int] | None], list[tuple[Doc, int]]]] = {}

    def pieces() -> Iterator[tuple[str, tuple[int, int, int]]]:
        for k, art in enumerate(articles):
            paras = paragraphs(art.text)
            full = parse_plan(art.text, paras) if ner is not None else None
            chunks, rest = plan_chunks(art.text, full, paras)
            names = (
                [(doc, off) for doc, (_, off) in zip(ner.pipe(nlp.make_doc(t) for t, _ in rest), rest)]
                if rest
                else []
            )
            pending[k] = (art, [None] * len(chunks), names)
            for c, (t, off) in enumerate(chunks):
                yield t, (k, c, off)

    for doc, (k, c, off) in nlp.pipe(pieces(), as_tuples=True, n_process=n_process, batch_size=batch_size):
        art, parts, names = pending[k]
        parts[c] = (doc, off)
        if all(p is not None for p in parts):
            del pending[k]
            try:
                with _time_budget(max_seconds):
                    quotes = extract_from_parse(art, Parsed(parts, names), version)  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001 - recorded as a skip by the caller, never lost
                yield art, e
            else:
                yield art, quotes


@functools.cache
def code_digest() -> str:
    """sha256 of the extractor's source (this package and records.py): part of every cache key, so that any
    change to a rule makes the cached quotes of older code unreachable."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for f in sorted(here.glob("*.py")) + [here.parent / "records.py"]:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def extract_cached(
    articles: Iterable[Article],
    nlp: Language,
    cache_dir: str | None,
    n_process: int = 1,
    max_seconds: float = 0.0,
    select: bool = True,
) -> Iterator[tuple[Article, list[Quote] | Exception]]:
    """extract_many, with each article's quotes kept under cache_dir (None: no cache).

    `make pipeline` extracts the corpus twice, to score extraction and to build the dataset; the second reads
    the first's quotes. The key is the article (every field), the extractor's source and spaCy pipeline, and
    `select`; failures are never cached. Cached articles come first, then the rest as extract_many yields them.
    """
    if not cache_dir:
        yield from extract_many(articles, nlp, n_process=n_process, max_seconds=max_seconds, select=select)
        return
    import dataclasses

    root = Path(cache_dir)
    stamp = f"{code_digest()}|{extractor_version(nlp)}|select={select}"

    def path_of(art: Article) -> Path:
        key = hashlib.sha256(
            (stamp + json.dumps(dataclasses.asdict(art), sort_keys=True, default=str)).encode()
        ).hexdigest()
        return root / key[:2] / f"{key}.json"

    misses: dict[str, Path] = {}  # article id -> where its quotes go once extracted
    pending: list[Article] = []
    for art in articles:
        path = path_of(art)
        try:
            quotes = [Quote.from_dict(r) for r in json.loads(path.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError, AttributeError):  # absent or damaged: extracted afresh
            misses[art.id] = path
            pending.append(art)
            continue
        yield art, quotes
    writable = True
    for art, result in extract_many(
        pending, nlp, n_process=n_process, max_seconds=max_seconds, select=select
    ):
        if writable and not isinstance(result, Exception):
            path = misses[art.id]
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_writer(path) as fh:
                    json.dump([q.to_dict() for q in result], fh, ensure_ascii=False)
            except OSError as e:  # a full or read-only disk costs the saving, never the quotes
                say(f"extraction cache not written ({e.__class__.__name__}: {e}); going on without it")
                writable = False
        yield art, result


@dataclass(frozen=True)
class ExtractSummary:
    articles: int
    quotes: int
    skipped: int
    seconds: float

    def line(self) -> str:
        """The summary as one key=value line."""
        return (
            f"articles={self.articles} quotes={self.quotes} skipped={self.skipped} seconds={self.seconds:.1f}"
        )


def load_nlp(name: str) -> spacy.language.Language:
    """The spaCy pipeline by package name or folder, with a clear error when it is not installed; its
    attribute ruler swapped for the equivalent, faster one (extract.fastpipe); line breaks made sentence
    starts before the parser runs (parse.line_breaks)."""
    from quotestance.extract.fastpipe import speed_up
    from quotestance.extract.parse import LINE_BREAKS

    try:
        nlp = speed_up(spacy.load(name))
    except OSError as e:
        raise SystemExit(
            f"error: spaCy pipeline {name!r} is not installed ({e.__class__.__name__}); "
            "run `make setup` or set extract.spacy_model"
        ) from None
    if "parser" in nlp.pipe_names and LINE_BREAKS not in nlp.pipe_names:
        nlp.add_pipe(LINE_BREAKS, before="parser")
    return nlp


def errors_path(output: str) -> Path:
    """Where skipped inputs are recorded: beside `output` as <stem>.errors.jsonl."""
    out = Path(output)
    return Path("extract.errors.jsonl") if output == "-" else out.with_name(out.stem + ".errors.jsonl")


def extract_files(input_spec: str, output: str, errors: str | None, cfg: ExtractConfig) -> ExtractSummary:
    """Extract every article named by `input_spec` to `output` (JSONL, written atomically, or "-")."""
    t0 = time.perf_counter()
    if not iter_sources(input_spec):
        raise SystemExit(f"error: no input files match {input_spec!r} (.txt, .md, .html, .jsonl)")
    articles: list[Article] = []
    skips: list[Skip] = []
    warnings: list[dict] = []
    for item in read_articles(input_spec):
        if isinstance(item, Skip):
            skips.append(item)
        elif len(item.text) > cfg.max_chars:
            skips.append(
                Skip(
                    source=item.source or item.id,
                    article_id=item.id,
                    reason=f"article has {len(item.text):,} characters, over extract.max_chars="
                    f"{cfg.max_chars:,} (raise it to process the article)",
                )
            )
        else:
            articles.append(item)
            if item.meta.get("encoding_note"):
                warnings.append(
                    {
                        "source": item.source,
                        "article_id": item.id,
                        "level": "warning",
                        "reason": item.meta["encoding_note"],
                    }
                )
    nlp = load_nlp(cfg.spacy_model)
    n_quotes = 0
    bar = progress_bar(
        total=len(articles),
        desc="extracting",
        unit="article",
        show=len(articles) >= cfg.progress_min_articles,
    )

    def rows():
        nonlocal n_quotes
        for art, result in extract_many(
            articles,
            nlp,
            n_process=cfg.n_process,
            batch_size=cfg.batch_size,
            max_seconds=cfg.max_seconds_per_article,
            select=cfg.select,
        ):
            bar.update(1)
            if isinstance(result, Exception):
                skips.append(
                    Skip(
                        source=art.source or art.id,
                        article_id=art.id,
                        reason=f"extraction failed: {result.__class__.__name__}: {result}",
                    )
                )
                continue
            for q in result:
                n_quotes += 1
                yield q.to_dict()

    write_jsonl(rows(), output)
    bar.close()
    err = Path(errors) if errors else errors_path(output)
    if skips or warnings or err.exists():
        with atomic_writer(err) as fh:  # rewritten every run so it never describes an older one
            for s in skips:
                fh.write(
                    json.dumps(
                        {
                            "source": s.source,
                            "article_id": s.article_id,
                            "level": "skipped",
                            "reason": s.reason,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
            for w in warnings:
                fh.write(json.dumps(w, ensure_ascii=False) + "\n")
    return ExtractSummary(len(articles), n_quotes, len(skips), time.perf_counter() - t0)


def extract(app: ExtractApp) -> int:
    """The extract stage: app.input's articles to app.output's quotes. Exit code (EXIT_SKIPPED: some skipped)."""
    import sys

    from quotestance.records import EXIT_SKIPPED

    summary = extract_files(app.input, app.output, app.errors, app.extract)
    print(summary.line(), file=sys.stderr)
    return EXIT_SKIPPED if summary.skipped else 0
