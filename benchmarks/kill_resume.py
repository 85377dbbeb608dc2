"""Kill -9 `quotestance-score` at random moments and restart it: the end must equal an uninterrupted run.

usage: python benchmarks/kill_resume.py [--kills 10] [--input data/corpus] [--seed 0]
needs: a champion in the registry (`make pipeline`).

Runs `quotestance-score` once uninterrupted into one folder, then into another with --kills SIGKILLs to its
whole process group at random moments (each within the time a run takes), restarting it with the same
arguments after each, and once more to the end. Each kill waits for 0, 1 or 2 more parts to land (at random),
then a random fraction of a second more, so kills fall in start-up, mid-part and just after a part's write,
while the run still moves forward between them. Compares the final quotes (id, label, confidence and every
probability), articles and errors with the uninterrupted run's, and prints `kill_resume: OK (N kills)` or
the first difference. The precision is forced to fp32 so both runs score in the same path (int8's
probabilities depend a little on which quotes share a batch).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def score(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).with_name("quotestance-score")), *args, "score.part_size=5"]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def tables(out: Path):
    import pandas as pd

    q = pd.read_parquet(out / "quotes.parquet")
    cols = ["quote_id", "label", "confidence", *sorted(c for c in q.columns if c.startswith("prob_"))]
    q = q[cols].sort_values("quote_id", ignore_index=True)
    a = pd.read_parquet(out / "articles.parquet").sort_values("article_id", ignore_index=True)
    errors = sorted((out / "errors.jsonl").read_text(encoding="utf-8").splitlines())
    return q, a, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--input", default=str(ROOT / "data/corpus"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    env = {**os.environ, "QUOTESTANCE_PRECISION": "fp32", "QUOTESTANCE_PROGRESS": "0"}
    rnd = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        clean, killed = Path(tmp) / "clean", Path(tmp) / "killed"
        p = score([f"input={a.input}", f"output={clean}"], env)
        _, err = p.communicate()
        if p.returncode not in (0, 3):
            sys.exit(f"error: the uninterrupted run failed ({p.returncode}): {err.decode()[-2000:]}")
        done, finished = 0, False

        def parts() -> int:
            return len(list((killed / "parts").glob("part-*.parquet")))

        while done < a.kills and not finished:
            target = parts() + rnd.choice((0, 1, 2))
            p = score([f"input={a.input}", f"output={killed}"], env)
            while parts() < target and p.poll() is None:
                time.sleep(0.02)
            time.sleep(rnd.uniform(0.0, 1.0))
            if p.poll() is not None:  # it finished before the kill: nothing was interrupted this time
                finished = True
                break
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            done += 1
            print(
                f"kill {done}: {len(list((killed / 'parts').glob('part-*.parquet')))} parts on disk",
                flush=True,
            )
        p = score([f"input={a.input}", f"output={killed}"], env)
        _, err = p.communicate()
        if p.returncode not in (0, 3):
            sys.exit(f"error: the resumed run failed ({p.returncode}): {err.decode()[-2000:]}")
        (q1, a1, e1), (q2, a2, e2) = tables(clean), tables(killed)
        import pandas as pd

        pd.testing.assert_frame_equal(q1, q2, check_exact=True)
        pd.testing.assert_frame_equal(a1, a2, check_exact=True)
        if e1 != e2:
            sys.exit(f"kill_resume: errors differ:\n{json.dumps(e1)}\n{json.dumps(e2)}")
        print(f"kill_resume: OK ({done} kills; {len(q1)} quotes, {len(a1)} articles, {len(e1)} errors)")


if __name__ == "__main__":
    main()
