"""A folder of hostile inputs mixed with good articles, through extract, dataset and score.

usage: python benchmarks/hostile_folder.py [--good 10] [--flood-kb 200]
needs: a champion in the registry (`make pipeline`), for the score step.

Builds, in a temporary folder, `--good` corpus articles beside: an empty file, a binary file, a UTF-8 file with
a bad byte, a 4 GiB sparse file, deep and aliased YAML front matter, JSONL rows with non-object metadata, a
single-quote flood, two files of one name in two folders, a device file, a named pipe and a symlink loop.
Runs `quotestance-extract`, `quotestance-dataset` and `quotestance-score` on it, each as its own process, and
prints per command: seconds (the bar: 2 minutes on 2 cores), whether every quote of the good articles is
there (against the good articles extracted alone) and every bad input is listed with a reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD = {  # file name -> a word its recorded reason must contain
    "empty.txt": "empty",
    "blob.txt": "binary",
    "giant.txt": "over",
    "deep.md": "deep",
    "bomb.md": "alias",
    "dev.txt": "regular file",
    "pipe.txt": "regular file",
}


def build(d: Path, good: int, flood_kb: int) -> list[Path]:
    corpus = sorted((ROOT / "data/corpus").glob("ev*.md"))[:good]
    (d / "good").mkdir(parents=True)
    for p in corpus:
        shutil.copy(p, d / "good")
    (d / "empty.txt").write_text("", encoding="utf-8")
    (d / "blob.txt").write_bytes(bytes(range(256)) * 40)
    (d / "badbyte.txt").write_bytes(
        "“We act on court orders,” said Dana Whitfield, naïvely. ".encode() + b"\xff"
    )
    with open(d / "giant.txt", "wb") as fh:
        fh.truncate(4 * 2**30)
    (d / "deep.md").write_text("---\na: " + "[" * 20000 + "]" * 20000 + "\n---\nBody.\n", encoding="utf-8")
    (d / "bomb.md").write_text(
        "---\na: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n---\nBody.\n", encoding="utf-8"
    )
    (d / "rows.jsonl").write_text(
        json.dumps({"id": "m1", "text": "Fine text.", "metadata": "x"}) + "\n", encoding="utf-8"
    )
    (d / "flood.txt").write_text(" 'ab" * (flood_kb * 1000 // 4), encoding="utf-8")
    for sub in ("one", "two"):
        (d / sub).mkdir()
        (d / sub / "same.txt").write_text(f'"We follow the law in {sub}," said Kim Osei.\n', encoding="utf-8")
    (d / "dev.txt").symlink_to("/dev/zero")
    os.mkfifo(d / "pipe.txt")
    (d / "one" / "loop").symlink_to(d / "one")
    return corpus


def run(cmd: list[str]) -> tuple[int, float, str]:
    t = time.perf_counter()
    p = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "QUOTESTANCE_PROGRESS": "0"},
    )
    return p.returncode, time.perf_counter() - t, p.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--good", type=int, default=10)
    ap.add_argument("--flood-kb", type=int, default=200)
    a = ap.parse_args()
    bin_ = Path(sys.executable).parent
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "in"
        build(d, a.good, a.flood_kb)
        out = Path(tmp) / "out"
        rc, _, err = run(
            [str(bin_ / "quotestance-extract"), f"input={d / 'good'}", f"output={out / 'alone.jsonl'}"]
        )
        alone = {
            (r["article_id"], r["char_start"], r["char_end"])
            for r in map(json.loads, (out / "alone.jsonl").read_text().splitlines())
        }
        print(f"good articles alone: {len(alone)} quotes")
        steps = {
            "quotestance-extract": [f"input={d}", f"output={out / 'quotes.jsonl'}"],
            "quotestance-dataset": [
                f"dataset.sources=[{ROOT / 'data/corpus'},{d}]",
                f"dataset.output={out / 'dataset'}",
                "dataset.weak.enabled=false",
            ],
            "quotestance-score": [f"input={d}", f"output={out / 'scores'}"],
        }
        for name, args in steps.items():
            rc, secs, err = run([str(bin_ / name), *args])
            if name == "quotestance-extract":
                rows = [json.loads(x) for x in (out / "quotes.jsonl").read_text().splitlines()]
                errors = [json.loads(x) for x in (out / "quotes.errors.jsonl").read_text().splitlines()]
            elif name == "quotestance-dataset":
                rows = None  # its rows are joined with gold; what must hold is the record of every bad input
                errors = [json.loads(x) for x in (out / "dataset/errors.jsonl").read_text().splitlines()]
            else:
                import pandas as pd

                q = pd.read_parquet(out / "scores/quotes.parquet")
                rows = q.to_dict("records")
                errors = [json.loads(x) for x in (out / "scores/errors.jsonl").read_text().splitlines()]
            got = (
                {(r["article_id"], r["char_start"], r["char_end"]) for r in rows}
                if rows is not None
                else alone
            )
            listed = {
                b: any(
                    Path(str(e.get("source", ""))).name.split(":")[0] == b and w in e["reason"]
                    for e in errors
                )
                for b, w in BAD.items()
            }
            good_kept = alone <= got
            passed = rc in (0, 3) and secs < 120 and good_kept and all(listed.values())
            ok &= passed
            kept = "n/a (its rows are the corpus's, joined with gold)" if rows is None else good_kept
            print(
                f"{name}: exit {rc}, {secs:.1f} s, good quotes kept: {kept}, "
                f"bad inputs listed: {sum(listed.values())}/{len(listed)}"
                + ("" if all(listed.values()) else f" (missing: {[b for b, v in listed.items() if not v]})")
                + ("" if rc in (0, 3) else f"\n{err[-1500:]}")
            )
    print(f"hostile_folder: {'OK' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
