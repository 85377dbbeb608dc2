"""The score stage's final tables, merged from its parts one part at a time.

Memory stays bounded by a part, whatever the number of parts: quote rows are streamed into quotes.parquet
(one row group per part) and into the CSV/JSONL copies; the articles table holds one small row per article
(no text) and the speakers table one row per (speaker, organisation, label), summed part by part.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from quotestance.io import atomic_writer

# the columns of quotes.parquet, in order; prob_<label> columns follow "not_scored", model columns follow them
QUOTE_COLUMNS = [
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
TAIL_COLUMNS = [
    "model_uri",
    "model_name",
    "model_version",
    "model_alias",
    "inference_precision",
    "extractor_version",
    "group_id",
    "context",
]
ARTICLE_COLUMNS = ["article_id", "title", "date", "outlet", "url", "event", "source", "status"]
_TYPES = {
    "char_start": pa.int64(),
    "char_end": pa.int64(),
    "confidence": pa.float64(),
    "to_review": pa.bool_(),
}


def _schema(columns: list[str]) -> pa.Schema:
    """Fixed types, so that a part whose column is all empty (no speaker_org anywhere in it) still writes
    the same schema as the others."""
    return pa.schema(
        [(c, pa.float64() if c.startswith("prob_") else _TYPES.get(c, pa.string())) for c in columns]
    )


def _speaker_sums(quotes: pd.DataFrame) -> pd.DataFrame:
    """Per (speaker, organisation, label): quotes, and the sum and count of confidences (summable by part)."""
    q = quotes.assign(
        speaker=quotes["speaker"].fillna("(unattributed)"),
        speaker_org=quotes["speaker_org"].fillna(""),
        _conf=quotes["confidence"].astype(float),
    )
    return (
        q.groupby(["speaker", "speaker_org", "label"], dropna=False)
        .agg(quotes=("quote_id", "count"), conf_sum=("_conf", "sum"), conf_n=("_conf", "count"))
        .reset_index()
    )


def _speakers_from_sums(sums: pd.DataFrame) -> pd.DataFrame:
    if not len(sums):
        return pd.DataFrame(columns=["speaker", "speaker_org", "label", "quotes", "mean_confidence"])
    g = sums.groupby(["speaker", "speaker_org", "label"], dropna=False)[["quotes", "conf_sum", "conf_n"]]
    g = g.sum().reset_index()
    g["mean_confidence"] = g["conf_sum"] / g["conf_n"].where(g["conf_n"] > 0)
    g = g.drop(columns=["conf_sum", "conf_n"])
    return g.sort_values(["quotes", "speaker"], ascending=[False, True], ignore_index=True)


def speaker_table(quotes: pd.DataFrame) -> pd.DataFrame:
    """Which speakers and organisations took which stance: counts and mean confidence per label."""
    if not len(quotes):
        return _speakers_from_sums(pd.DataFrame())
    return _speakers_from_sums(_speaker_sums(quotes))


class _Copies:
    """The CSV and JSONL copies of one table, appended part by part (each file written atomically)."""

    def __init__(self, stack: ExitStack, out: Path, name: str, formats: list[str]):
        self.files = {f: stack.enter_context(atomic_writer(out / f"{name}.{f}")) for f in formats}
        self.header = True

    def add(self, df: pd.DataFrame) -> None:
        for fmt, fh in self.files.items():
            if fmt == "csv":
                df.to_csv(fh, index=False, header=self.header)
            elif fmt == "jsonl" and len(df):
                text = df.to_json(orient="records", lines=True, force_ascii=False)
                fh.write(text if text.endswith("\n") else text + "\n")  # pandas < 2 left off the last one
        self.header = False


def _write_table(out: Path, name: str, df: pd.DataFrame, formats: list[str]) -> None:
    with ExitStack() as stack:
        copies = _Copies(stack, out, name, formats)
        with atomic_writer(out / f"{name}.parquet", "wb") as fh:
            df.to_parquet(fh, index=False)
        copies.add(df)


def merge_parts(out: Path, n_parts: int, formats: list[str]):
    """Write quotes, articles and speakers tables and errors.jsonl from parts 0..n_parts-1 (each written
    atomically); the ScoreSummary of the whole run (its seconds left to the caller)."""
    from quotestance.score import ScoreSummary

    unknown = [f for f in formats if f not in ("csv", "jsonl")]
    if unknown:
        raise ValueError(f"score.formats: {unknown} (csv, jsonl)")
    articles: list[dict] = []
    errors: list[dict] = []
    counts: list[pd.DataFrame] = []
    sums: list[pd.DataFrame] = []
    n_quotes = 0
    with ExitStack() as stack:
        copies = _Copies(stack, out, "quotes", formats)
        qfile = stack.enter_context(atomic_writer(out / "quotes.parquet", "wb"))
        writer = columns = None
        for k in range(n_parts):
            record = json.loads((out / "parts" / f"part-{k:05d}.json").read_text(encoding="utf-8"))
            articles += [{c: a.get(c) for c in ARTICLE_COLUMNS} for a in record["articles"]]
            errors += record["errors"]
            q = pd.read_parquet(out / "parts" / f"part-{k:05d}.parquet")
            if not len(q):
                continue
            if columns is None:
                probs = sorted(c for c in q.columns if c.startswith("prob_"))
                columns = [c for c in [*QUOTE_COLUMNS, *probs, *TAIL_COLUMNS] if c in q.columns]
                writer = stack.enter_context(pq.ParquetWriter(qfile, _schema(columns)))
            q = q.reindex(columns=columns)
            writer.write_table(pa.Table.from_pandas(q, schema=_schema(columns), preserve_index=False))
            copies.add(q)
            n_quotes += len(q)
            counts.append(q.groupby(["article_id", "label"]).size().rename("n").reset_index())
            counts.append(q.groupby("article_id").size().rename("n").reset_index().assign(label="quotes"))
            sums.append(_speaker_sums(q))
        if writer is None:  # no part holds a quote: an empty table with the key columns
            empty = pd.DataFrame(columns=["article_id", "quote_id", "label", "confidence"])
            empty.to_parquet(qfile, index=False)
            copies.add(empty)
    arts = pd.DataFrame(articles, columns=ARTICLE_COLUMNS)
    if counts:
        wide = pd.concat(counts).pivot_table(
            index="article_id", columns="label", values="n", aggfunc="sum", fill_value=0
        )
        wide = wide[[c for c in wide.columns if c != "quotes"] + ["quotes"]].add_prefix("n_").reset_index()
        arts = arts.merge(wide, on="article_id", how="left")
    else:
        arts["n_quotes"] = 0
    n_cols = [c for c in arts.columns if c.startswith("n_")]
    arts[n_cols] = arts[n_cols].fillna(0).astype(int)
    _write_table(out, "articles", arts, formats)
    speakers = _speakers_from_sums(pd.concat(sums, ignore_index=True) if sums else pd.DataFrame())
    _write_table(out, "speakers", speakers, formats)
    with atomic_writer(out / "errors.jsonl") as fh:
        for e in errors:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    return ScoreSummary(len(articles), n_quotes, len(errors), 0.0)
