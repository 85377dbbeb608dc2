"""How many speakers changed from right to wrong (and wrong to right) between two extraction runs on one gold
set: the check that a speaker fix is general, not a trade of one set's quotes for another's.

    .venv/bin/quotestance-extract input=../shared/data/realdev/passages output=new.jsonl
    python benchmarks/speaker_changes.py old.jsonl new.jsonl ../shared/data/realdev/quotes.jsonl \\
        ../shared/data/realdev/passages

A gold quote counts when both runs match it (direct at overlap >= 0.8, indirect at >= 0.5, as
../shared/tools/eval_extract.py); its speaker is right when `speaker_ok` says so. Prints the counts, then each
right-to-wrong change (gold row, old speaker, new speaker, gold speaker).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quotestance.extract.evaluation import speaker_ok
from quotestance.extract.spans import match_span, strip_marks
from quotestance.io import read_gold, read_jsonl


def speaker_status(
    pred_path: str, gold: list[dict], texts: dict[str, str]
) -> dict[int, tuple[bool, str | None]]:
    """Gold row -> (speaker right?, predicted speaker) for every gold quote the run matched."""
    by: dict[tuple[str, str], list[dict]] = {}
    for p in read_jsonl(pred_path):
        by.setdefault((p["article_id"], p["kind"]), []).append(p)
    out = {}
    for i, g in enumerate(gold):
        text = texts.get(g["article_id"], "")
        cands = [
            (p, strip_marks((p["char_start"], p["char_end"]), text))
            for p in by.get((g["article_id"], g["kind"]), [])
        ]
        best = match_span(
            strip_marks((g["char_start"], g["char_end"]), text), cands, 0.8 if g["kind"] == "direct" else 0.5
        )
        if best is not None:
            out[i] = (speaker_ok(best["speaker"], g["speaker"]), best["speaker"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("gold")
    ap.add_argument("texts", help="folder of <article_id>.txt, or one file for a single-article gold set")
    ap.add_argument("--default-article", default="article", help="article id for gold rows that name none")
    a = ap.parse_args()
    gold = read_gold(a.gold, a.default_article)
    t = Path(a.texts)
    texts = (
        {p.stem: p.read_text(encoding="utf-8") for p in t.glob("*.txt")}
        if t.is_dir()
        else {a.default_article: t.read_text(encoding="utf-8")}
    )
    old, new = speaker_status(a.old, gold, texts), speaker_status(a.new, gold, texts)
    both = sorted(set(old) & set(new))
    worse = [i for i in both if old[i][0] and not new[i][0]]
    better = [i for i in both if not old[i][0] and new[i][0]]
    print(f"right->wrong {len(worse)}  wrong->right {len(better)}  (matched in both: {len(both)})")
    for i in worse:
        print(f"  row {i}: {old[i][1]!r} -> {new[i][1]!r} (gold {gold[i]['speaker']!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
