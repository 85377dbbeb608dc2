"""Extraction time on adversarial article shapes: it must stay linear in the article's size.

usage: python benchmarks/hostile_bench.py [--sizes 100000 1000000] [--shapes prose singles cues spans] [--write docs/benchmarks.md]

Each shape is an article built to stress one part of the extractor, at each size: `prose` (corpus
articles' paragraphs, repeated), `singles` (unpaired single-quote openers), `cues` (runs of attribution
cues with no quote), `spans` (many short quotes, each with a speaker). Prints seconds per 100 KB for each
size and the ratio of the largest size's figure to the smallest's (linear: about 1; the bar is 1.5), with
the whole extractor (spaCy's parse included) in one process.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shape(name: str, size: int) -> str:
    """An article of about `size` characters of the named shape, in paragraphs as news has them."""
    if name == "prose":
        from quotestance.extract.ingest import read_articles
        from quotestance.records import Article

        paras = [
            p
            for a in read_articles(ROOT / "data/corpus")
            if isinstance(a, Article)
            for p in a.text.split("\n\n")
            if p.strip()
        ]
        unit = "\n\n".join(paras[:40]) + "\n\n"
    elif name == "singles":
        unit = " 'ab" * 150 + "\n\n"
    elif name == "cues":
        unit = (
            "He said, she told reporters, according to officials, they argued, the company said in a "
            "statement, as one official put it, "
        ) * 4 + "\n\n"
    elif name == "spans":
        unit = "".join(f'"We act on order {k}," said Dana Whitfield. ' for k in range(12)) + "\n\n"
    else:
        raise SystemExit(f"unknown shape {name!r}")
    return (unit * (size // len(unit) + 1))[:size]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--shapes", nargs="+", default=["prose", "singles", "cues", "spans"])
    ap.add_argument(
        "--write", help="also put the table between the hostile_bench markers of this markdown file"
    )
    a = ap.parse_args()
    from quotestance.config import ExtractConfig
    from quotestance.cpu import describe
    from quotestance.extract.batch import extract_many, load_nlp
    from quotestance.records import Article

    nlp = load_nlp(ExtractConfig().spacy_model)
    lines = [
        f"CPU: {describe()}",
        "",
        "| shape | " + " | ".join(f"s per 100 KB at {s // 1000} KB" for s in a.sizes) + " | ratio |",
        "|---|" + "---:|" * (len(a.sizes) + 1),
    ]
    print("\n".join(lines))
    for name in a.shapes:
        per = []
        for size in a.sizes:
            art = Article(id=f"{name}-{size}", text=shape(name, size))
            t = time.perf_counter()
            ((_, result),) = list(extract_many([art], nlp))
            if isinstance(result, Exception):
                raise SystemExit(f"{name} at {size}: {result!r}")
            per.append((time.perf_counter() - t) / (size / 100_000))
        lines.append(f"| {name} | " + " | ".join(f"{p:.2f}" for p in per) + f" | {per[-1] / per[0]:.2f} |")
        print(lines[-1], flush=True)
    if a.write:
        from sections import write_block

        write_block(Path(a.write), "hostile_bench", lines)


if __name__ == "__main__":
    main()
