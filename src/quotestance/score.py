"""Score stage: new articles -> quotes -> stance, with the champion (or any model URI), resumable.

Articles are taken in a fixed order and cut into parts of `part_size`. Each finished part is written
atomically (`parts/part-00000.parquet`), so a run killed at any moment and restarted with the same arguments
skips the parts already done and finishes with no duplicated and no missing rows. The manifest records the
inputs and settings; a restart with different ones stops with a clear error instead of mixing runs. It also
records the inference path the model chose on this machine (precision and int8 margin), and a restart
forces the same one, so resumed parts are scored exactly as the first ones were.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from quotestance.config import ExtractConfig, MlflowConfig, ScoreApp, ScoreConfig
from quotestance.extract.ingest import iter_sources, read_articles
from quotestance.io import atomic_writer
from quotestance.records import EXIT_SKIPPED, Article, Skip


class ScoreError(ValueError):
    """Scoring cannot start, with the reason."""


@dataclass(frozen=True)
class ScoreSummary:
    articles: int
    quotes: int
    skipped: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds in load, extract and model
    precision: str = ""  # the inference path the model scored with

    def line(self) -> str:
        rate = self.quotes / self.seconds if self.seconds else 0.0
        return (
            f"articles={self.articles} quotes={self.quotes} skipped={self.skipped} "
            f"seconds={self.seconds:.1f} quotes/s={rate:.1f} precision={self.precision or 'none'} "
            + " ".join(f"{k}_seconds={v:.1f}" for k, v in self.timings.items())
        )


def model_identity(model_uri: str) -> dict[str, str | None]:
    """Registered name, version and alias behind a model URI (None where the URI names no registry model)."""
    from mlflow import MlflowClient

    name = version = alias = None
    if model_uri.startswith("models:/"):
        ref = model_uri[len("models:/") :]
        client = MlflowClient()
        if "@" in ref:
            name, alias = ref.split("@", 1)
            version = str(client.get_model_version_by_alias(name, alias).version)
        elif "/" in ref:
            name, version = ref.split("/", 1)
            if version.lower() == "latest":  # recorded as the version it means now, or a resume could mix two
                found = client.search_model_versions(f"name='{name}'")
                if not found:
                    raise ScoreError(f"{model_uri}: the registry has no version of {name}")
                version = str(max(int(v.version) for v in found))
    return {"model_uri": model_uri, "model_name": name, "model_version": version, "model_alias": alias}


def checked_identity(model_uri: str, mlflow_cfg: MlflowConfig) -> dict[str, str | None]:
    """model_identity, after checking that the MLflow store a registry or run URI needs exists (ScoreError)."""
    from quotestance.tracking import StoreMissing, setup

    if model_uri.startswith(("models:/", "runs:/")):  # the registry or a run: the store must exist
        try:
            setup(mlflow_cfg, create=False)
        except StoreMissing as e:
            raise ScoreError(str(e)) from None
    return model_identity(model_uri)


@contextmanager
def _output_lock(out: Path):
    """One run at a time per output folder: a second one is refused rather than interleaved."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScoreError(
                f"another quotestance-score is writing to {out}: wait for it to finish, or use "
                "another output folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    with atomic_writer(path, "wb") as fh:
        df.to_parquet(fh, index=False)


def score(app: ScoreApp) -> int:
    """Score app.input into app.output; exit code 0, EXIT_SKIPPED when inputs were skipped, 2 on error."""
    from quotestance.progress import quiet_libraries

    quiet_libraries()
    try:
        summary = score_articles(app.input, app.output, app.score, app.extract, app.mlflow)
    except ScoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary.line(), file=sys.stderr)
    return EXIT_SKIPPED if summary.skipped else 0


def score_articles(
    input_spec: str, output: str, cfg: ScoreConfig, extract_cfg: ExtractConfig, mlflow_cfg: MlflowConfig
) -> ScoreSummary:
    """Score every article named by input_spec into output/ (quotes, articles, speakers tables).

    One run at a time per output folder (a second is refused with ScoreError).
    """
    if cfg.engine not in ("local", "spark"):
        raise ScoreError(f"score.engine={cfg.engine!r}: local or spark")
    with _output_lock(Path(output)):
        if cfg.engine == "spark":
            from quotestance.score_spark import score_on_spark

            return score_on_spark(input_spec, output, cfg, extract_cfg, mlflow_cfg)
        return _score(input_spec, output, cfg, extract_cfg, mlflow_cfg)


@dataclass
class _Part:
    """Up to part_size articles read in a row, with the inputs skipped among them: the unit of resume."""

    k: int
    articles: list[Article]
    skips: list[Skip]
    results: list[tuple[Article, list | Exception]] = field(default_factory=list)


def _read_parts(input_spec: str, part_size: int, max_chars: int) -> Iterator[_Part]:
    """The input read lazily, part by part: only the part being filled is held in memory.

    A part closes when the next article arrives, so skips read after its last article stay with it; the same
    input always cuts into the same parts, which is what lets a restart skip the parts already written.
    """
    seen: dict[str, str] = {}  # id -> where it was read (ids only, not texts)
    k, arts, skips = 0, [], []
    for item in read_articles(input_spec):
        if isinstance(item, Skip):
            skips.append(item)
            continue
        where = item.source or item.id
        if len(item.text) > max_chars:
            skips.append(
                Skip(where, f"article has {len(item.text):,} characters, over extract.max_chars", item.id)
            )
            continue
        if item.id in seen:  # scored once: a second article under the same id would double rows and counts
            skips.append(
                Skip(where, f"duplicate article id {item.id!r}: already read from {seen[item.id]}", None)
            )
            continue
        seen[item.id] = where
        if len(arts) == part_size:
            yield _Part(k, arts, skips)
            k, arts, skips = k + 1, [], []
        arts.append(item)
    if arts or skips:
        yield _Part(k, arts, skips)


def _digest(a: Article) -> str:
    return hashlib.sha256(a.text.encode()).hexdigest()[:16]


def _part_paths(out: Path, k: int) -> tuple[Path, Path]:
    """(its record: articles and errors, its rows): the rows are written last and mark the part done."""
    return out / "parts" / f"part-{k:05d}.json", out / "parts" / f"part-{k:05d}.parquet"


def _check_done(out: Path, part: _Part) -> bool:
    """Whether the part was written by an earlier attempt at this run; ScoreError when its articles changed
    since (an article edited under the same id must not keep its old rows)."""
    record, rows = _part_paths(out, part.k)
    if not (rows.exists() and record.exists()):
        return False
    then = [(a["article_id"], a["sha"]) for a in json.loads(record.read_text(encoding="utf-8"))["articles"]]
    now = [(a.id, _digest(a)) for a in part.articles]
    if then != now:
        raise ScoreError(
            f"{out} holds a run with other inputs or settings: the articles of part {part.k} changed since it "
            "was written; use a new output folder or delete it"
        )
    return True


def _score(
    input_spec: str, output: str, cfg: ScoreConfig, extract_cfg: ExtractConfig, mlflow_cfg: MlflowConfig
) -> ScoreSummary:
    from quotestance.extract.batch import extract_many, load_nlp
    from quotestance.progress import bar as progress_bar
    from quotestance.score_tables import merge_parts

    t0 = time.perf_counter()
    # the listing is sorted (the order parts are cut in must not change between attempts) but only paths are
    # held; articles are read part by part below
    sources = iter_sources(input_spec)
    if not sources:
        raise ScoreError(f"no input files match {input_spec!r}")
    out = Path(output)
    ident = checked_identity(cfg.model_uri, mlflow_cfg)
    # each part records its articles by id *and content* (checked on resume); the manifest keys the rest
    manifest = {
        "input": str(input_spec),
        "sources": [str(s) for s in sources],
        "part_size": cfg.part_size,
        "model": ident,
        "review_precision": cfg.review_precision,
        "extractor": asdict(extract_cfg),
    }
    key = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    mpath = out / "manifest.json"
    old = json.loads(mpath.read_text(encoding="utf-8")) if mpath.exists() else None
    if old is not None and old.get("key") != key:
        raise ScoreError(
            f"{out} holds a run with other inputs or settings (manifest {old.get('key')} != {key}); "
            "use a new output folder or delete it"
        )
    for stale in (out / "parts").glob(".*.tmp"):  # a killed run's half-written temporary files
        stale.unlink(missing_ok=True)
    clock = {"load": 0.0, "extract": 0.0, "model": 0.0}
    inference = (old or {}).get("inference")
    known = len(sources) if not any(s.suffix.lower() == ".jsonl" for s in sources) else None
    bar = progress_bar(total=known, desc="scoring", unit="article", show=known is None or known >= 20)
    plan: deque[_Part] = deque()  # parts read and not yet written, in order
    n_parts = 0

    def todo() -> Iterator[Article]:
        nonlocal n_parts
        for part in _read_parts(input_spec, cfg.part_size, extract_cfg.max_chars):
            n_parts = part.k + 1
            if _check_done(out, part):
                bar.update(len(part.articles))
                continue
            plan.append(part)
            yield from part.articles

    articles = todo()
    head = list(itertools.islice(articles, 1))  # reads (and checks) up to the first part still to do
    predict = None
    if plan:
        t = time.perf_counter()
        with forced_inference(inference):  # a resumed run scores in the path its first parts were scored in
            predict, inference = make_predictor(cfg)
        nlp = load_nlp(extract_cfg.spacy_model)
        clock["load"] = time.perf_counter() - t
    if old is None or "inference" not in old:
        with atomic_writer(mpath) as fh:
            json.dump({**manifest, "key": key, "inference": inference}, fh, indent=1)
    # one stream over every part still to do: nlp.pipe's workers (extract.n_process) start once, not per part
    results = (
        extract_many(
            itertools.chain(head, articles),
            nlp,
            n_process=extract_cfg.n_process,
            batch_size=extract_cfg.batch_size,
            max_seconds=extract_cfg.max_seconds_per_article,
            select=extract_cfg.select,
        )
        if plan
        else iter(())
    )

    # a finished part is scored and written on a second thread while the parser goes on with the next one:
    # the model's matrix work and the parser overlap on two cores. One part at a time waits for it (memory
    # stays bounded by two parts), and parts are written in order; an error there surfaces here.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-writer")
    pending: tuple[Future, int] | None = None  # the part being written, and its number of articles

    def wait_for_writer() -> None:
        nonlocal pending
        if pending is not None:
            pending[0].result()
            bar.update(pending[1])
            pending = None

    def write_complete_parts() -> None:
        nonlocal pending
        while plan and len(plan[0].results) == len(plan[0].articles):
            part = plan.popleft()
            wait_for_writer()
            pending = (
                writer.submit(_write_part, out, part, predict, ident, inference, clock),
                len(part.articles),
            )

    try:
        t = time.perf_counter()
        for art, result in results:  # extract_many yields each article once, in input order
            clock["extract"] += time.perf_counter() - t
            write_complete_parts()  # parts that hold only skips
            plan[0].results.append((art, result))
            write_complete_parts()
            t = time.perf_counter()
        write_complete_parts()
        wait_for_writer()
    finally:
        writer.shutdown(wait=True, cancel_futures=True)
    bar.close()
    summary = merge_parts(out, n_parts, cfg.formats)
    return replace(
        summary,
        seconds=time.perf_counter() - t0,
        timings=clock,
        precision=(inference or {}).get("precision", ""),
    )


def scored_rows(rows: list[dict], predict, ident: dict, inference: dict | None) -> pd.DataFrame:
    """Extracted quote rows with the model's columns, the model's identity and the review flag."""
    df = pd.DataFrame(rows)
    if not len(df):
        return df
    df = pd.concat([df, _scored(df, predict)], axis=1)
    for f, v in ident.items():
        df[f] = v
    df["inference_precision"] = (inference or {}).get("precision")
    threshold = (inference or {}).get("review_threshold")
    # below the threshold, the model is not sure enough for the analyst's precision: a person reads it
    df["to_review"] = (
        (df["confidence"].isna() | (df["confidence"] < threshold)) if threshold is not None else None
    )
    return df


def _write_part(out: Path, part: _Part, predict, ident: dict, inference: dict | None, clock: dict) -> None:
    """Score a part's extracted quotes and write it: its record (articles, errors) first, its rows last."""
    rows, failed = [], set()
    errors = [{"source": s.source, "article_id": s.article_id, "reason": s.reason} for s in part.skips]
    for art, result in part.results:
        if isinstance(result, Exception):
            failed.add(art.id)
            errors.append(
                {"source": art.source, "article_id": art.id, "reason": f"extraction failed: {result}"}
            )
        else:
            rows += [q.to_dict() | {"_order": n} for n, q in enumerate(result)]
    t = time.perf_counter()
    df = scored_rows(rows, predict, ident, inference)
    clock["model"] += time.perf_counter() - t
    record = {
        "articles": [
            {
                "article_id": a.id,
                "sha": _digest(a),
                "title": a.title,
                "date": a.date,
                "outlet": a.outlet,
                "url": a.url,
                "event": a.event,
                "source": a.source,
                "status": "failed" if a.id in failed else "scored",
            }
            for a in part.articles
        ],
        "errors": errors,
    }
    # the record first, rows last: the parquet marks the part done, so a kill between the two redoes the part
    # rather than losing its failures
    record_path, rows_path = _part_paths(out, part.k)
    with atomic_writer(record_path) as fh:
        json.dump(record, fh, ensure_ascii=False)
    _write_parquet(df, rows_path)
    _release_freed_memory()


def _release_freed_memory() -> None:
    """Hand memory freed by the part just written back to the system (glibc's malloc_trim; elsewhere nothing).

    Parts are built on one thread and freed on another, and glibc keeps what each thread freed in that
    thread's arena: without this, a long run's resident memory crept up part after part although nothing was
    kept (benchmarks/scale_bench.py --memory)."""
    import ctypes
    import ctypes.util

    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None


@contextmanager
def forced_inference(recorded: dict | None):
    """QUOTESTANCE_PRECISION and QUOTESTANCE_INT8_MARGIN set to a recorded choice while the model loads."""
    import os

    from quotestance.infer import MARGIN_ENV, PRECISION_ENV

    if not recorded or not recorded.get("precision"):
        yield
        return
    saved = {k: os.environ.get(k) for k in (PRECISION_ENV, MARGIN_ENV)}
    os.environ[PRECISION_ENV] = recorded["precision"]
    os.environ[MARGIN_ENV] = str(recorded.get("int8_margin", ""))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _choice_of(model) -> dict:
    """The precision record of a loaded pyfunc model (quotestance.infer.choose); {} for another kind of model."""
    predictor = getattr(model.unwrap_python_model(), "predictor", None)
    c = getattr(predictor, "choice", None) or {}
    return {k: c[k] for k in ("precision", "int8_margin", "reason") if k in c}


def _review_threshold_of(model, precision: float) -> float | None:
    """The confidence below which a quote goes to review: where the model's validation quotes keep
    `precision` (metrics.review_threshold); None for a model that carries no validation curve."""
    import numpy as np

    from quotestance.metrics import review_threshold

    curve = getattr(model.unwrap_python_model(), "review_curve", None)
    if not curve:
        return None
    conf, correct = np.array(curve, dtype=float).T
    return review_threshold(conf, correct, precision)


def _scored(df: pd.DataFrame, predict) -> pd.DataFrame:
    from quotestance.infer import MAX_CONTEXT_CHARS, MAX_QUOTE_CHARS, MAX_SPEAKER_CHARS

    """The model's columns for each extracted quote. What the model refuses is kept, not sent: a speaker or
    context past its cap is cut to it, and an empty or over-long quote gets no label and a `not_scored`
    reason instead of failing its whole part."""
    text = df["text"].fillna("").astype(str)
    ok = text.str.strip().str.len().gt(0) & text.str.len().le(MAX_QUOTE_CHARS)

    def capped(col: str, cap: int) -> pd.Series:
        return df[col].where(df[col].isna(), df[col].astype(str).str[:cap])

    req = pd.DataFrame(
        {
            "quote": text,
            "speaker": capped("speaker", MAX_SPEAKER_CHARS),
            "context": capped("context", MAX_CONTEXT_CHARS),
        }
    )[ok]
    pred = predict(req.reset_index(drop=True)) if len(req) else pd.DataFrame()
    pred.index = req.index
    out = pred.reindex(df.index)
    out["not_scored"] = None
    out.loc[~ok, "not_scored"] = [
        "empty quote" if not t.strip() else f"quote over {MAX_QUOTE_CHARS:,} characters" for t in text[~ok]
    ]
    return out


def chunked(model, rows: int):
    """quotes DataFrame -> predictions DataFrame, at most `rows` quotes per model call."""

    def predict(df: pd.DataFrame) -> pd.DataFrame:
        return pd.concat(
            [model.predict(df.iloc[i : i + rows]) for i in range(0, len(df), rows)], ignore_index=True
        )

    return predict


def model_choice(model, cfg: ScoreConfig) -> dict:
    """The inference path a loaded model chose on this machine, and the review threshold it implies."""
    return _choice_of(model) | {"review_threshold": _review_threshold_of(model, cfg.review_precision)}


def make_predictor(cfg: ScoreConfig):
    """(quotes DataFrame -> predictions DataFrame, the inference path chosen) in this process."""
    import mlflow

    model = mlflow.pyfunc.load_model(cfg.model_uri)
    return chunked(model, cfg.request_rows), model_choice(model, cfg)
