"""Batch scoring at scale: quotestance-score end to end against textacy's quote extraction, in one run.

usage: python benchmarks/scale_bench.py [--n 300] [--n-process 1] [--memory | --memory-only] [--spark [--spark-n 2000]] [--model-uri URI]
                                       [--write docs/benchmarks.md]

Makes N synthetic articles from the shipped corpus (article i is corpus article i mod 115 with its paragraphs
shuffled, under a new id), as a folder of .md files, then in child processes, each timed from its start
(interpreter, imports and model loads included) with the peak resident memory of its process tree sampled:
  ours:    `quotestance-score` over the folder: extraction, speakers and stance, tables written;
  textacy: textacy 0.13's direct_quotations over the same articles, spaCy loaded as its docs load it
           (every component) with the same n_process; an article it raises ValueError on (odd quote marks)
           is run again paragraph by paragraph, as extract_vs_textacy.py does, so that it extracts what it can.
The last line is `ratio_vs_textacy: X.XX` (our articles/s / textacy's); the line before it compares with textacy
run once per article, its raised articles dropped (faster, and it loses their quotes). --memory also scores 1,000 and 5,000
articles (ours only) and prints both peaks and their ratio (it takes about half an hour on 2 cores). --spark
scores --spark-n articles (2,000) with the local engine and with score.engine=spark (local[2]), the inference
path forced to fp32 (int8 quantises activations per batch, and the engines batch differently), and prints `spark_rows_equal: True` when the quote rows are the
same (quote ids, labels, probabilities within 1e-5).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from score_bench import run_with_peak
from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
LINES: list[str] = []


def emit(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def make_articles(n: int, folder: Path, seed: int = 0) -> None:
    """N articles from the corpus, paragraphs shuffled, new ids, as .md files with front matter."""
    from quotestance.extract.ingest import read_articles
    from quotestance.extract.quotes import paragraphs
    from quotestance.records import Article

    corpus = [a for a in read_articles(ROOT / "data/corpus") if isinstance(a, Article)]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        src = corpus[i % len(corpus)]
        paras = [src.text[s:e] for s, e in paragraphs(src.text)]
        rng.shuffle(paras)
        body = "\n\n".join(paras)
        title = (src.title or "").replace('"', "'")
        (folder / f"syn-{i:05d}.md").write_text(
            f'---\nid: syn-{i:05d}\ntitle: "{title}"\n---\n{body}\n', encoding="utf-8"
        )


def textacy_worker(folder: str, n_process: int, spacy_model: str, rerun: bool) -> None:
    """Run textacy's direct_quotations over every article; print `quotes=Q raised=R articles=N` to stderr."""
    import spacy
    from textacy.extract.triples import direct_quotations

    from quotestance.extract.ingest import read_articles
    from quotestance.extract.quotes import paragraphs
    from quotestance.records import Article

    nlp = spacy.load(spacy_model)
    arts = [a for a in read_articles(folder) if isinstance(a, Article)]
    quotes = raised = 0
    for art, doc in zip(arts, nlp.pipe((a.text for a in arts), n_process=n_process), strict=True):
        try:
            quotes += sum(1 for _ in direct_quotations(doc))
        except ValueError:
            raised += 1
            if not rerun:
                continue
            texts = [art.text[s:e] for s, e in paragraphs(art.text)]
            for para in nlp.pipe(texts):
                try:
                    quotes += sum(1 for _ in direct_quotations(para))
                except ValueError:
                    continue
    print(f"quotes={quotes} raised={raised} articles={len(arts)}", file=sys.stderr)


def ours(folder: Path, out: Path, a, *extra: str) -> tuple[float, float, dict]:
    """(seconds, peak MiB, the summary line's fields) of quotestance-score over the folder."""
    proc, seconds, peak = run_with_peak(
        [
            str(Path(sys.executable).with_name("quotestance-score")),
            f"input={folder}",
            f"output={out}",
            f"score.model_uri={a.model_uri}",
            f"extract.n_process={a.n_process}",
            *extra,
        ]
    )
    if proc.returncode not in (0, 3):
        sys.exit(f"quotestance-score failed ({proc.returncode}): {proc.stderr[-3000:]}")
    line = next(x for x in proc.stderr.splitlines()[::-1] if x.startswith("articles="))
    return seconds, peak, dict(kv.split("=", 1) for kv in line.split())


def spark_rows(tmp: Path, a) -> None:
    """Both engines over the same --spark-n articles, the inference path forced to fp32: print whether the quote
    rows are the same (labels equal, probabilities within 1e-5)."""
    import os

    import pandas as pd

    from quotestance.infer import PRECISION_ENV

    folder = tmp / "articles-spark"
    make_articles(a.spark_n, folder)
    # fp32 on both sides: int8's activations are quantised per batch, so a quote's int8 scores depend on which
    # quotes share its batch, and the engines batch differently; fp32 is the path that can be compared
    os.environ[PRECISION_ENV] = "fp32"
    try:
        for engine in ("local", "spark"):
            s, peak, stats = ours(folder, tmp / f"{engine}-engine", a, f"score.engine={engine}")
            where = "score.engine=spark on local[2]" if engine == "spark" else "local engine"
            mem = f"{peak:.0f}" + (" (driver and JVM)" if engine == "spark" else "")
            emit(
                f"| quotestance-score, {where} (fp32, forced) | {stats['articles']} | {stats['quotes']} | "
                f"{s:.1f} | {int(stats['articles']) / s:.2f} | {mem} |"
            )
    finally:
        os.environ.pop(PRECISION_ENV)
    x = pd.read_parquet(tmp / "local-engine/quotes.parquet").sort_values("quote_id", ignore_index=True)
    y = pd.read_parquet(tmp / "spark-engine/quotes.parquet").drop(columns="bucket")
    y = y.sort_values("quote_id", ignore_index=True)
    probs = [c for c in x.columns if c.startswith("prob_")]
    same_rows = len(x) == len(y) and (x["quote_id"] == y["quote_id"]).all()
    labels = same_rows and (x["label"].fillna("") == y["label"].fillna("")).all()
    diff = float((x[probs] - y[probs]).abs().max().max()) if same_rows else float("nan")
    emit()
    emit(
        f"spark_vs_local: rows {len(y)} vs {len(x)}, same quote ids {same_rows}, labels equal {labels}, "
        f"max probability difference {diff:.2e}"
    )
    emit(f"spark_rows_equal: {bool(same_rows and labels and diff <= 1e-5)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--n-process", type=int, default=1, help="extract.n_process, and textacy's n_process")
    ap.add_argument("--model-uri", default="models:/quote-stance@champion")
    ap.add_argument("--memory", action="store_true", help="also peaks at 1,000 and 5,000 articles")
    ap.add_argument(
        "--memory-only",
        action="store_true",
        help="only the peaks at 1,000 and 5,000 articles (no timing against textacy: memory is what it measures, "
        "so it may run beside other work)",
    )
    ap.add_argument(
        "--spark", action="store_true", help="also both engines on --spark-n articles, rows compared"
    )
    ap.add_argument("--spark-n", type=int, default=2000)
    ap.add_argument("--write", default=None, help="put the output in this CPU's section of a markdown file")
    ap.add_argument("--section", default="scale_bench", help="the markers to write between (NAME:families)")
    ap.add_argument("--textacy-worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-rerun", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    from quotestance.config import ExtractConfig
    from quotestance.cpu import describe

    model = ExtractConfig().spacy_model
    if a.textacy_worker:
        textacy_worker(a.textacy_worker, a.n_process, model, rerun=not a.no_rerun)
        return
    emit(f"cpu: {describe()}")
    if a.memory_only:
        emit(f"n_process={a.n_process}, spaCy {model}")
        emit()
        emit("| run | articles | quotes | seconds | articles/s | peak memory MiB |")
        emit("|---|---:|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as tmp:
            memory_runs(Path(tmp), a)
        if a.write:
            write_section(Path(a.write), a.section, LINES)
        return
    emit(f"{a.n} synthetic articles, n_process={a.n_process}, spaCy {model}")
    emit()
    emit("| run | articles | quotes | seconds | articles/s | peak memory MiB |")
    emit("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        make_articles(a.n, folder)
        s, peak, stats = ours(folder, Path(tmp) / "scored", a)
        ours_rate = int(stats["articles"]) / s
        emit(
            f"| quotestance-score (extraction, speakers, stance; precision {stats.get('precision')}; seconds in "
            f"load {stats['load_seconds']}, extract {stats['extract_seconds']}, model {stats['model_seconds']}) | "
            f"{stats['articles']} | {stats['quotes']} | {s:.1f} | {ours_rate:.2f} | {peak:.0f} |"
        )
        rates = {}
        for rerun in (True, False):
            cmd = [sys.executable, __file__, "--textacy-worker", str(folder), "--n-process", str(a.n_process)]
            proc, ts, tpeak = run_with_peak(cmd + ([] if rerun else ["--no-rerun"]))
            if proc.returncode:
                sys.exit(f"textacy failed: {proc.stderr[-3000:]}")
            last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
            tstats = dict(kv.split("=", 1) for kv in last.split() if "=" in kv)
            rates[rerun] = a.n / ts
            how = "rerun per paragraph" if rerun else "their quotes lost: one parse per article"
            emit(
                f"| textacy 0.13 direct_quotations ({tstats.get('raised', '?')} articles raised, {how}) | "
                f"{a.n} | {tstats.get('quotes', '?')} | {ts:.1f} | {rates[rerun]:.2f} | {tpeak:.0f} |"
            )
        tx_rate = rates[True]
        if a.spark:
            spark_rows(Path(tmp), a)
        if a.memory:
            memory_runs(Path(tmp), a)
    emit()
    emit(
        f"ratio_vs_textacy_parse_once: {ours_rate / rates[False]:.2f}  (textacy losing the articles it raises on)"
    )
    emit(f"ratio_vs_textacy: {ours_rate / tx_rate:.2f}")
    if a.write:
        write_section(Path(a.write), a.section, LINES)


def memory_runs(tmp: Path, a: argparse.Namespace) -> None:
    """Score 1,000 and 5,000 articles (ours only); print both peaks and their ratio."""
    peaks = {}
    for n in (1000, 5000):
        more = tmp / f"articles-{n}"
        make_articles(n, more)
        s, peaks[n], stats = ours(more, tmp / f"scored-{n}", a)
        emit(
            f"| quotestance-score, memory run | {stats['articles']} | {stats['quotes']} | {s:.1f} | "
            f"{int(stats['articles']) / s:.2f} | {peaks[n]:.0f} |"
        )
    emit()
    emit(f"peak_memory_ratio_5000_vs_1000: {peaks[5000] / peaks[1000]:.3f}")


if __name__ == "__main__":
    main()
