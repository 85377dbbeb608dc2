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
import json
import sys
import time
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
    with _output_lock(Path(output)):
        return _score(input_spec, output, cfg, extract_cfg, mlflow_cfg)


def _score(
    input_spec: str, output: str, cfg: ScoreConfig, extract_cfg: ExtractConfig, mlflow_cfg: MlflowConfig
) -> ScoreSummary:
    from quotestance.extract.batch import extract_many, load_nlp
    from quotestance.progress import bar as progress_bar
    from quotestance.tracking import StoreMissing, setup

    t0 = time.perf_counter()
    sources = iter_sources(input_spec)
    if not sources:
        raise ScoreError(f"no input files match {input_spec!r}")
    items = list(read_articles(input_spec))
    skips = [s for s in items if isinstance(s, Skip)]
    articles, seen = [], {}
    for a in (x for x in items if isinstance(x, Article)):
        if len(a.text) > extract_cfg.max_chars:
            skips.append(
                Skip(
                    a.source or a.id, f"article has {len(a.text):,} characters, over extract.max_chars", a.id
                )
            )
        elif a.id in seen:  # scored once: a second article under the same id would double rows and counts
            skips.append(
                Skip(a.source or a.id, f"duplicate article id {a.id!r}: already read from {seen[a.id]}", None)
            )
        else:
            seen[a.id] = a.source or a.id
            articles.append(a)
    out = Path(output)
    if cfg.model_uri.startswith(("models:/", "runs:/")):  # the registry or a run: the store must exist
        try:
            setup(mlflow_cfg, create=False)
        except StoreMissing as e:
            raise ScoreError(str(e)) from None
    ident = model_identity(cfg.model_uri)
    # articles by id *and content*: an article edited under the same id must not reuse an old part
    manifest = {
        "input": str(input_spec),
        "part_size": cfg.part_size,
        "model": ident,
        "review_precision": cfg.review_precision,
        "articles": [[a.id, hashlib.sha256(a.text.encode()).hexdigest()[:16]] for a in articles],
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
    parts = [articles[i : i + cfg.part_size] for i in range(0, len(articles), cfg.part_size)]
    for stale in (out / "parts").glob(".*.tmp"):  # a killed run's half-written temporary files
        stale.unlink(missing_ok=True)
    todo = [k for k in range(len(parts)) if not (out / "parts" / f"part-{k:05d}.parquet").exists()]
    clock = {"load": time.perf_counter(), "extract": 0.0, "model": 0.0}
    inference = (old or {}).get("inference")
    predict = None
    if todo:
        with forced_inference(inference):  # a resumed run scores in the path its first parts were scored in
            predict, inference = make_predictor(cfg)
    if old is None or "inference" not in old:
        with atomic_writer(mpath) as fh:
            json.dump({**manifest, "key": key, "inference": inference}, fh, indent=1)
    nlp = load_nlp(extract_cfg.spacy_model) if todo else None
    clock["load"] = time.perf_counter() - clock["load"]
    bar = progress_bar(
        total=len(articles),
        desc="scoring",
        unit="article",
        show=len(articles) >= 20,
        initial=sum(len(parts[k]) for k in range(len(parts)) if k not in todo),
    )
    # one stream over every part still to do: nlp.pipe's workers (extract.n_process) start once, not per part
    stream = (
        extract_many(
            (a for k in todo for a in parts[k]),
            nlp,
            n_process=extract_cfg.n_process,
            max_seconds=extract_cfg.max_seconds_per_article,
        )
        if todo
        else iter(())
    )
    for k in todo:
        rows, failed = [], []
        t = time.perf_counter()
        for _ in parts[k]:  # extract_many yields each article once, in input order
            art, result = next(stream)
            if isinstance(result, Exception):
                failed.append(
                    {"source": art.source, "article_id": art.id, "reason": f"extraction failed: {result}"}
                )
                continue
            rows += [q.to_dict() | {"_order": n} for n, q in enumerate(result)]
        df = pd.DataFrame(rows)
        clock["extract"] += time.perf_counter() - t
        if len(df):
            t = time.perf_counter()
            df = df.reset_index(drop=True)
            df = pd.concat([df, _scored(df, predict)], axis=1)
            clock["model"] += time.perf_counter() - t
            for f, v in ident.items():
                df[f] = v
            df["inference_precision"] = (inference or {}).get("precision")
            threshold = (inference or {}).get("review_threshold")
            # below the threshold, the model is not sure enough for the analyst's precision: a person reads it
            df["to_review"] = (
                (df["confidence"].isna() | (df["confidence"] < threshold)) if threshold is not None else None
            )
        # errors first, rows last: the parquet marks the part done, so a kill between the two redoes the part
        # rather than losing its failures
        errors_file = out / "parts" / f"part-{k:05d}.errors.json"
        if failed:
            with atomic_writer(errors_file) as fh:
                json.dump(failed, fh)
        else:
            errors_file.unlink(missing_ok=True)  # left by an earlier, killed attempt at this part
        _write_parquet(df, out / "parts" / f"part-{k:05d}.parquet")
        bar.update(len(parts[k]))
    bar.close()
    return replace(
        _finish(out, parts, articles, skips, cfg, t0),
        timings=clock,
        precision=(inference or {}).get("precision", ""),
    )


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


def make_predictor(cfg: ScoreConfig):
    """(quotes DataFrame -> predictions DataFrame, the inference path chosen), on this process (local) or on
    Spark via spark_udf."""
    import mlflow

    if cfg.engine not in ("local", "spark"):
        raise ScoreError(f"score.engine={cfg.engine!r}: local or spark")
    # loaded here for Spark too: its choice of path is made (or read from the cache) once, and the executors
    # are told to use the same one
    model = mlflow.pyfunc.load_model(cfg.model_uri)
    choice = _choice_of(model) | {"review_threshold": _review_threshold_of(model, cfg.review_precision)}
    if cfg.engine == "local":

        def local(df: pd.DataFrame) -> pd.DataFrame:
            n = cfg.request_rows
            return pd.concat(
                [model.predict(df.iloc[i : i + n]) for i in range(0, len(df), n)], ignore_index=True
            )

        return local, choice
    model = None  # the executors load their own; the driver's copy only told us the path
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F
    except ImportError:
        raise ScoreError("score.engine=spark needs pyspark: pip install -e '.[spark]'") from None
    import os

    from quotestance.infer import MARGIN_ENV, PRECISION_ENV

    # each Spark task runs torch with as many threads as CPUs the task holds; workers use this interpreter
    os.environ["OMP_NUM_THREADS"] = str(cfg.spark_task_cpus)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # executors score in the path chosen here: the JVM started now inherits the variables (local[N]), and
    # executorEnv carries them to a cluster's executors
    with forced_inference(choice):
        spark = (
            SparkSession.builder.master(cfg.spark_master)
            .appName("quotestance-score")
            .config("spark.task.cpus", str(cfg.spark_task_cpus))
            .config("spark.executorEnv.OMP_NUM_THREADS", str(cfg.spark_task_cpus))
            .config(f"spark.executorEnv.{PRECISION_ENV}", os.environ.get(PRECISION_ENV, ""))
            .config(f"spark.executorEnv.{MARGIN_ENV}", os.environ.get(MARGIN_ENV, ""))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.request_rows))
            .getOrCreate()
        )
    schema = mlflow.models.get_model_info(cfg.model_uri).signature.outputs
    from mlflow.types import DataType

    ddl = ", ".join(
        f"`{c.name}` {'string' if c.type == DataType.string else 'double'}" for c in schema.inputs
    )
    udf = mlflow.pyfunc.spark_udf(spark, cfg.model_uri, result_type=ddl, env_manager="local")

    def predict(df: pd.DataFrame) -> pd.DataFrame:
        sdf = spark.createDataFrame(
            df.assign(_row=range(len(df))).astype({"speaker": "object", "context": "object"})
        )
        out = sdf.select("_row", udf(F.struct("quote", "speaker", "context")).alias("p")).select(
            "_row", "p.*"
        )
        return out.toPandas().sort_values("_row").drop(columns="_row").reset_index(drop=True)

    return predict, choice


def _finish(out: Path, parts, articles, skips, cfg: ScoreConfig, t0: float) -> ScoreSummary:
    """Merge the parts into the final tables (atomically) and the errors file."""
    frames = [pd.read_parquet(out / "parts" / f"part-{k:05d}.parquet") for k in range(len(parts))]
    quotes = (
        pd.concat([f for f in frames if len(f)], ignore_index=True)
        if any(len(f) for f in frames)
        else pd.DataFrame(columns=["article_id", "quote_id", "label", "confidence"])
    )
    errors = [{"source": s.source, "article_id": s.article_id, "reason": s.reason} for s in skips]
    failed = []
    for k in range(len(parts)):
        e = out / "parts" / f"part-{k:05d}.errors.json"
        if e.exists():
            failed += json.loads(e.read_text())
    errors += failed
    failed_ids = {e["article_id"] for e in failed}
    keep = (
        [
            "article_id",
            "quote_id",
            "text",
            "char_start",
            "char_end",
            "kind",
            "speaker",
            "speaker_role",
            "speaker_org",
            "cue",
            "label",
            "confidence",
            "to_review",
            "not_scored",
        ]
        + [c for c in quotes.columns if c.startswith("prob_")]
        + [
            "model_uri",
            "model_name",
            "model_version",
            "model_alias",
            "inference_precision",
            "extractor_version",
            "group_id",
            "context",
        ]
    )
    quotes = quotes[[c for c in keep if c in quotes.columns]]
    arts = pd.DataFrame(
        [
            {
                "article_id": a.id,
                "title": a.title,
                "date": a.date,
                "outlet": a.outlet,
                "url": a.url,
                "event": a.event,
                "source": a.source,
                "status": "failed" if a.id in failed_ids else "scored",
            }
            for a in articles
        ]
    )
    if len(quotes) and len(arts):
        counts = (
            quotes.pivot_table(
                index="article_id", columns="label", values="quote_id", aggfunc="count", fill_value=0
            )
            .add_prefix("n_")
            .reset_index()
        )
        arts = arts.merge(counts, on="article_id", how="left").fillna(
            {c: 0 for c in counts.columns if c != "article_id"}
        )
        arts["n_quotes"] = arts[[c for c in counts.columns if c != "article_id"]].sum(axis=1).astype(int)
    speakers = speaker_table(quotes)
    for name, df in (("quotes", quotes), ("articles", arts), ("speakers", speakers)):
        _write_parquet(df, out / f"{name}.parquet")
        for fmt in cfg.formats:
            if fmt == "csv":
                with atomic_writer(out / f"{name}.csv") as fh:
                    df.to_csv(fh, index=False)
            elif fmt == "jsonl":
                with atomic_writer(out / f"{name}.jsonl") as fh:
                    df.to_json(fh, orient="records", lines=True, force_ascii=False)
    with atomic_writer(out / "errors.jsonl") as fh:
        for e in errors:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    return ScoreSummary(len(articles), len(quotes), len(errors), time.perf_counter() - t0)


def speaker_table(quotes: pd.DataFrame) -> pd.DataFrame:
    """Which speakers and organisations took which stance: counts and mean confidence per label."""
    if not len(quotes):
        return pd.DataFrame(columns=["speaker", "speaker_org", "label", "quotes", "mean_confidence"])
    q = quotes.assign(
        speaker=quotes["speaker"].fillna("(unattributed)"), speaker_org=quotes["speaker_org"].fillna("")
    )
    g = (
        q.groupby(["speaker", "speaker_org", "label"], dropna=False)
        .agg(quotes=("quote_id", "count"), mean_confidence=("confidence", "mean"))
        .reset_index()
    )
    return g.sort_values(["quotes", "speaker"], ascending=[False, True], ignore_index=True)
