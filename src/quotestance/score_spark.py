"""score.engine=spark: the score stage on a Spark cluster, every article read, parsed and scored in executors.

The driver only lists the input (paths, or a parquet table of articles), loads the model once to learn the
inference path it takes on this machine (the executors are told to take the same one), ships the model's
files to the executors (SparkContext.addFile), and collects small things: the errors and the speakers table.
Each executor reads its articles, extracts quotes with spaCy and scores them with the model it loaded once
per Python worker, in the same functions as the local engine, so the rows are the same.

Output, in `output`:
  quotes.parquet/bucket=K/   quote rows, partitioned by a hash of the article id (K < score.spark_buckets)
  articles.parquet/bucket=K/ one row per article read: metadata, status, quote counts per label
  speakers.parquet           who took which stance (a small table, written by the driver)
  errors.jsonl               every input skipped or failed, with the reason
  manifest.json              the inputs and settings
`pandas.read_parquet(output / "quotes.parquet")` reads either engine's quotes.

Differences from the local engine: there is no resume by part (Spark retries a failed task itself; a rerun
overwrites the output), and two files whose names give the same id (`a/x.txt`, `b/x.txt`) are one article
and a recorded duplicate here, where the local engine renames the second.

What each executor needs: this package and its spaCy pipeline installed in the Python that Spark runs
(`spark.pyspark.python`), Java 17, and read access to the input paths (a shared filesystem, HDFS or object
store mounted the same way on every node) unless the input is a parquet table Spark reads itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from quotestance.config import ExtractConfig, MlflowConfig, ScoreConfig
from quotestance.score import ScoreError, ScoreSummary

_WORKER: dict = {}  # per Python worker: the spaCy pipeline and the model, loaded once

# every column a stage-B row may carry (quotes, articles and errors share one schema, told apart by row_kind)
_ARTICLE_META = ["title", "date", "outlet", "url", "event", "source"]


def _quote_schema(probs: list[str]) -> list[tuple[str, str]]:
    from quotestance.score_tables import QUOTE_COLUMNS, TAIL_COLUMNS

    types = {"char_start": "bigint", "char_end": "bigint", "confidence": "double", "to_review": "boolean"}
    cols = [*QUOTE_COLUMNS, *probs, *TAIL_COLUMNS]
    return [(c, "double" if c.startswith("prob_") else types.get(c, "string")) for c in cols]


def _ddl(fields: list[tuple[str, str]]) -> str:
    return ", ".join(f"`{n}` {t}" for n, t in fields)


_ARTICLE_FIELDS = [
    ("article_id", "string"),
    ("text", "string"),
    *[(c, "string") for c in _ARTICLE_META],
    ("src_order", "bigint"),
    ("src_seq", "bigint"),
    ("skip_reason", "string"),
]


def _typed(df: pd.DataFrame, fields: list[tuple[str, str]]) -> pd.DataFrame:
    """df with exactly `fields`' columns, in dtypes PySpark's Arrow conversion takes: whole numbers nullable
    (an article row has no char_start), text and flags as Python objects with None (an absent column would be
    all-NaN floats, and pandas 3's Arrow-backed strings arrive as chunked arrays, both refused)."""
    df = df.reindex(columns=[n for n, _ in fields])
    for name, kind in fields:
        col = df[name]
        if kind in ("bigint", "int"):
            df[name] = col.astype("Int64")
        elif kind == "double":
            df[name] = col.astype(float)
        else:
            df[name] = col.astype(object).where(col.notna(), None)
    return df


def _read_sources(batches, max_chars: int):
    """Executor side: (order, path) rows -> one row per article or skip read from each file."""
    from quotestance.extract.ingest import read_file
    from quotestance.records import Article

    for pdf in batches:
        out = []
        for order, path in zip(pdf["src_order"], pdf["path"], strict=True):
            for seq, item in enumerate(read_file(Path(path))):
                row = {"src_order": int(order), "src_seq": seq, "text": None, "skip_reason": None}
                if isinstance(item, Article):
                    row |= {"article_id": item.id, "text": item.text, "source": item.source}
                    row |= {c: getattr(item, c) for c in _ARTICLE_META if c != "source"}
                    if len(item.text) > max_chars:
                        row["skip_reason"] = (
                            f"article has {len(item.text):,} characters, over extract.max_chars"
                        )
                else:
                    row |= {"article_id": item.article_id, "source": item.source, "skip_reason": item.reason}
                out.append(row)
        yield _typed(pd.DataFrame(out), _ARTICLE_FIELDS)


def _process(
    batches,
    model_file: str,
    extract: dict,
    request_rows: int,
    ident: dict,
    inference: dict,
    labels: list[str],
    fields: list[tuple[str, str]],
):
    """Executor side: articles -> quote rows (scored) and one article row each, in one schema."""
    from pyspark import SparkFiles

    from quotestance.extract.batch import extract_many, load_nlp
    from quotestance.records import Article
    from quotestance.score import chunked, scored_rows

    cfg = ExtractConfig(**extract)
    if "nlp" not in _WORKER:
        import mlflow

        _WORKER["nlp"] = load_nlp(cfg.spacy_model)
        _WORKER["predict"] = chunked(mlflow.pyfunc.load_model(SparkFiles.get(model_file)), request_rows)
    for pdf in batches:
        arts = [
            Article(id=r["article_id"], text=r["text"], **{c: r[c] for c in _ARTICLE_META})
            for r in pdf.to_dict("records")
        ]
        buckets = dict(zip(pdf["article_id"], pdf["bucket"], strict=True))
        rows, meta = [], []
        for art, result in extract_many(
            arts,
            _WORKER["nlp"],
            n_process=1,  # a task is one CPU: Spark runs as many tasks as the cluster has
            batch_size=cfg.batch_size,
            max_seconds=cfg.max_seconds_per_article,
            select=cfg.select,
        ):
            m = {"row_kind": "article", "article_id": art.id, "status": "scored", "n_quotes": 0}
            m |= {c: getattr(art, c) for c in _ARTICLE_META}
            if isinstance(result, Exception):
                m |= {"status": "failed", "reason": f"extraction failed: {result}"}
            else:
                rows += [q.to_dict() | {"_order": n} for n, q in enumerate(result)]
            meta.append(m)
        quotes = scored_rows(rows, _WORKER["predict"], ident, inference)
        if len(quotes):
            counts = quotes.groupby(["article_id", "label"]).size()
            totals = quotes.groupby("article_id").size()
            for m in meta:
                m["n_quotes"] = int(totals.get(m["article_id"], 0))
                for lab in labels:
                    m[f"n_{lab}"] = int(counts.get((m["article_id"], lab), 0))
            quotes = quotes.assign(row_kind="quote")
        out = (
            pd.concat([quotes, pd.DataFrame(meta)], ignore_index=True) if len(quotes) else pd.DataFrame(meta)
        )
        out["bucket"] = out["article_id"].map(buckets)
        yield _typed(out, fields)


def _session(cfg: ScoreConfig, inference: dict):
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ScoreError("score.engine=spark needs pyspark: pip install -e '.[spark]'") from None
    from quotestance.infer import MARGIN_ENV, PRECISION_ENV
    from quotestance.score import forced_inference

    # a task runs torch with as many threads as CPUs it holds; workers use this interpreter unless the
    # cluster names its own
    os.environ["OMP_NUM_THREADS"] = str(cfg.spark_task_cpus)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # executors score in the path chosen here: a local JVM started now inherits the variables, and
    # executorEnv carries them to a cluster's executors
    with forced_inference(inference):
        return (
            SparkSession.builder.master(cfg.spark_master)
            .appName("quotestance-score")
            .config("spark.task.cpus", str(cfg.spark_task_cpus))
            .config("spark.executorEnv.OMP_NUM_THREADS", str(cfg.spark_task_cpus))
            .config(f"spark.executorEnv.{PRECISION_ENV}", os.environ.get(PRECISION_ENV, ""))
            .config(f"spark.executorEnv.{MARGIN_ENV}", os.environ.get(MARGIN_ENV, ""))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.spark_articles_per_batch))
            .getOrCreate()
        )


def _articles(spark, input_spec: str, max_chars: int, partitions: int):
    """The input as a DataFrame of _ARTICLE_FIELDS: a parquet table read by Spark, or files read by executors."""
    from pyspark.sql import functions as F

    from quotestance.extract.ingest import iter_sources

    p = Path(input_spec)
    if p.suffix == ".parquet" or (p.is_dir() and any(p.glob("*.parquet"))):
        df = spark.read.parquet(input_spec)
        if "text" not in df.columns or not {"id", "article_id"} & set(df.columns):
            raise ScoreError(f"{input_spec}: a parquet input needs columns text and id (or article_id)")
        idcol = "article_id" if "article_id" in df.columns else "id"
        return df.select(
            F.col(idcol).cast("string").alias("article_id"),
            F.col("text"),
            *[
                (F.col(c).cast("string") if c in df.columns else F.lit(None).cast("string")).alias(c)
                for c in _ARTICLE_META
                if c != "source"
            ],
            F.lit(input_spec).alias("source"),
            F.lit(0).cast("bigint").alias("src_order"),
            F.monotonically_increasing_id().alias("src_seq"),
            F.when(F.length("text") > max_chars, F.lit("article has over extract.max_chars characters"))
            .when(F.col("text").isNull() | (F.trim("text") == ""), F.lit("empty article (no text)"))
            .alias("skip_reason"),
        )
    sources = iter_sources(input_spec)
    if not sources:
        raise ScoreError(f"no input files match {input_spec!r}")
    paths = spark.createDataFrame(
        [(i, str(s)) for i, s in enumerate(sources)], "src_order bigint, path string"
    )
    return paths.repartition(min(partitions, len(sources))).mapInPandas(
        lambda b: _read_sources(b, max_chars), _ddl(_ARTICLE_FIELDS)
    )


def score_on_spark(
    input_spec: str, output: str, cfg: ScoreConfig, extract_cfg: ExtractConfig, mlflow_cfg: MlflowConfig
) -> ScoreSummary:
    """Score input_spec into output on Spark (see the module's docstring for the layout)."""
    import mlflow
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from quotestance.io import atomic_writer
    from quotestance.score import checked_identity, model_choice
    from quotestance.score_tables import _speakers_from_sums

    t0 = time.perf_counter()
    out = Path(output)
    ident = checked_identity(cfg.model_uri, mlflow_cfg)
    manifest = {
        "input": str(input_spec),
        "engine": "spark",
        "model": ident,
        "review_precision": cfg.review_precision,
        "extractor": asdict(extract_cfg),
        "buckets": cfg.spark_buckets,
    }
    mpath = out / "manifest.json"
    if mpath.exists() and json.loads(mpath.read_text(encoding="utf-8")).get("engine") != "spark":
        raise ScoreError(f"{out} holds a run of the local engine; use a new output folder or delete it")
    # the driver learns the path this model takes here; the executors are told to take the same one
    model_dir = mlflow.artifacts.download_artifacts(artifact_uri=cfg.model_uri)
    model = mlflow.pyfunc.load_model(model_dir)
    inference = model_choice(model, cfg)
    labels = [
        c.name[len("prob_") :]
        for c in model.metadata.get_output_schema().inputs
        if c.name.startswith("prob_")
    ]
    del model
    spark = _session(cfg, inference)
    spark.sparkContext.addFile(model_dir, recursive=True)
    # tasks of a few articles each, so that a slow article holds back little; 2 per core unless set
    partitions = cfg.spark_partitions or 2 * max(1, spark.sparkContext.defaultParallelism)
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    arts = _articles(spark, input_spec, extract_cfg.max_chars, partitions)
    # one article per id: the first read (input order) is scored, later ones are recorded, as locally
    first = Window.partitionBy("article_id").orderBy("src_order", "src_seq")
    arts = arts.withColumn(
        "_rank", F.when(F.col("article_id").isNull(), 1).otherwise(F.row_number().over(first))
    )
    arts = arts.withColumn(
        "skip_reason",
        F.coalesce(
            "skip_reason",
            F.when(F.col("_rank") > 1, F.concat(F.lit("duplicate article id '"), "article_id", F.lit("'"))),
        ),
    ).withColumn("bucket", F.pmod(F.xxhash64("article_id"), F.lit(cfg.spark_buckets)).cast("int"))
    stage = out / "_staging"
    shutil.rmtree(stage, ignore_errors=True)
    arts.cache()
    skipped = arts.where(F.col("skip_reason").isNotNull()).select(
        "source", "article_id", F.col("skip_reason").alias("reason")
    )
    todo = arts.where(F.col("skip_reason").isNull()).repartition(partitions, "bucket")
    qfields = _quote_schema([f"prob_{lab}" for lab in labels])
    afields = [(c, "string") for c in _ARTICLE_META] + [("status", "string"), ("reason", "string")]
    afields += [(f"n_{lab}", "bigint") for lab in labels] + [("n_quotes", "bigint")]
    fields = [("row_kind", "string"), *qfields, *[f for f in afields if f[0] not in dict(qfields)]]
    fields.append(("bucket", "int"))
    rows = todo.mapInPandas(
        lambda b: _process(
            b, Path(model_dir).name, asdict(extract_cfg), cfg.request_rows, ident, inference, labels, fields
        ),
        _ddl(fields),
    )
    rows.write.mode("overwrite").parquet(str(stage))  # parsed and scored once, read back for each table
    rows = spark.read.parquet(str(stage))
    quotes = rows.where(F.col("row_kind") == "quote").select(*[n for n, _ in qfields], "bucket")
    quotes.write.mode("overwrite").partitionBy("bucket").parquet(str(out / "quotes.parquet"))
    articles = rows.where(F.col("row_kind") == "article").select(
        "article_id", *_ARTICLE_META, "status", *[f"n_{lab}" for lab in labels], "n_quotes", "bucket"
    )
    articles.write.mode("overwrite").partitionBy("bucket").parquet(str(out / "articles.parquet"))
    sums = (
        quotes.fillna({"speaker": "(unattributed)", "speaker_org": ""})
        .groupBy("speaker", "speaker_org", "label")
        .agg(
            F.count("quote_id").alias("quotes"),
            F.sum("confidence").alias("conf_sum"),
            F.count("confidence").alias("conf_n"),
        )
        .toPandas()
    )
    with atomic_writer(out / "speakers.parquet", "wb") as fh:
        _speakers_from_sums(sums).to_parquet(fh, index=False)
    failed = rows.where((F.col("row_kind") == "article") & (F.col("status") == "failed")).select(
        "source", "article_id", "reason"
    )
    errors = [r.asDict() for r in skipped.orderBy("source").collect()] + [
        r.asDict() for r in failed.collect()
    ]
    with atomic_writer(out / "errors.jsonl") as fh:
        for e in errors:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    n_articles = articles.count()
    n_quotes = quotes.count()
    arts.unpersist()
    shutil.rmtree(stage, ignore_errors=True)
    with atomic_writer(mpath) as fh:
        json.dump({**manifest, "inference": inference}, fh, indent=1)
    return ScoreSummary(
        n_articles,
        n_quotes,
        len(errors),
        time.perf_counter() - t0,
        precision=inference.get("precision") or "",
    )
