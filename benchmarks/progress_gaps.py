"""How long a person watching a command in a terminal waits without a sign of progress.

usage: python benchmarks/progress_gaps.py [--top 5] [--log FILE] [--write docs/benchmarks.md] -- make pipeline

Runs the command under a pseudo-terminal (so it draws what it would draw for a person: bars, ticking
clocks), records when each piece of output arrives, and prints the longest silences with the line that
preceded each, then `longest_silence_seconds: X`. Everything the command prints goes to --log. --write
also puts, in this CPU family's section of the file, the command's own summary lines (the CPU, each stage's
and each epoch's seconds, the metrics table) with the silences and the wall time.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def watch(cmd: list[str], log_path: str | None) -> tuple[int, list[tuple[float, float, str]], float]:
    """(exit code, [(silence seconds, at second, last text before it)], total seconds)."""
    master, slave = pty.openpty()
    # a terminal of a usual size: a fresh pty is 0 x 0, and bars that size themselves would draw nothing
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    gaps, last_t, tail = [], t0, ""
    seen: list[str] = []  # every line shown, for --write
    log = open(log_path, "wb") if log_path else None
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                now = time.perf_counter()
                gaps.append((now - last_t, last_t - t0, tail))
                last_t = now
                if log:
                    log.write(data)
                text = ANSI.sub("", data.decode("utf-8", "replace")).replace("\r", "\n")
                lines = [x.strip() for x in text.split("\n") if x.strip()]
                tail = lines[-1][:100] if lines else tail
                seen.extend(lines)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if log:
            log.close()
    rc = proc.wait()
    end = time.perf_counter()
    gaps.append((end - last_t, last_t - t0, tail))
    SEEN[:] = seen
    return rc, gaps, end - t0


SEEN: list[str] = []
# the command's own summary lines worth keeping in the docs: the CPU, stage and epoch lines, metrics
KEEP = re.compile(
    r"^(CPU: |seconds |epoch \d+/\d+: |training \S+ in |✓ |\| (metric|test_stance|external_|"
    r"validation_stance|run_id)|\|---|quote-stance v)"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--log", help="write the command's raw output here")
    ap.add_argument("--write", help="also put the results in this CPU family's section of this markdown file")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        sys.exit("usage: progress_gaps.py [--top N] [--log FILE] -- COMMAND ...")
    rc, gaps, total = watch(cmd, a.log)
    print(f"command: {' '.join(cmd)} (exit {rc}, {total:.0f} s, {len(gaps)} pieces of output)")
    print("| silence (s) | from second | last thing shown before it |")
    print("|---:|---:|---|")
    for gap, at, tail in sorted(gaps, reverse=True)[: a.top]:
        print(f"| {gap:.1f} | {at:.0f} | {tail.replace('|', '/')} |")
    print(f"longest_silence_seconds: {max(g for g, _, _ in gaps):.1f}")
    if a.write:
        from sections import write_section

        kept = [x for x in SEEN if KEEP.match(x) and "%|" not in x]
        silences = sorted(gaps, reverse=True)[: a.top]
        write_section(
            Path(a.write),
            "pipeline",
            [
                f"`{' '.join(cmd)}` in a terminal: exit {rc}, {total:.0f} s of wall time; the longest waits without "
                "a sign of progress:",
                "",
                "| silence (s) | from second | last thing shown before it |",
                "|---:|---:|---|",
                *[f"| {g:.1f} | {at:.0f} | {t.replace('|', '/')} |" for g, at, t in silences],
                "",
                f"longest_silence_seconds: {max(g for g, _, _ in gaps):.1f}",
                "",
                "What it printed (summary lines):",
                "",
                "```",
                *kept,
                "```",
            ],
        )
    sys.exit(rc)


if __name__ == "__main__":
    main()
