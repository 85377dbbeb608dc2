"""Signs of progress on long work: bars and a ticking clock in a terminal, plain lines everywhere.

A newcomer watching `make pipeline` should never wait long without a sign of life, and a log file should stay
clean. So: each stage prints one line when it starts and one when it ends (with its seconds), training one line
per epoch, always; bars (steps with a rate and an ETA) and the ticking clock of a step with no steps of its
own (`stage(..., tick=True)`) appear only when stderr is a terminal. `QUOTESTANCE_PROGRESS=0|1` forces
either way (1: bars even into a pipe, for checking them; 0: lines only).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "QUOTESTANCE_PROGRESS"


def interactive() -> bool:
    """Whether to draw bars: a terminal on stderr, unless QUOTESTANCE_PROGRESS says otherwise."""
    forced = os.environ.get(ENV)
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr.isatty()


def quiet_libraries() -> None:
    """transformers' and datasets' own bars (loading weights, saving shards) only where ours are drawn."""
    if interactive():
        return
    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()


def say(line: str) -> None:
    """A line for the person watching and for the log; it does not break a bar being drawn."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def bar(
    iterable: Iterable[T] | None = None,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    show: bool = True,
    **kw: Any,
):
    """A tqdm bar on stderr (rate and ETA), drawn only when `show` and `interactive()`; it leaves no line."""
    from tqdm import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not (show and interactive()),
        leave=False,
        dynamic_ncols=True,
        mininterval=0.5,
        **kw,
    )


@contextmanager
def stage(name: str, tick: bool = False) -> Iterator[None]:
    """`▶ name` ... `✓ name (12.3 s)` (or `✗` when it raises). With tick=True, for a step that draws nothing
    itself, a terminal also shows the seconds so far, redrawn every second."""
    say(f"▶ {name}")
    t0 = time.perf_counter()
    done = threading.Event()
    ticker = None
    if tick and interactive():

        def run() -> None:
            while not done.wait(1.0):
                sys.stderr.write(f"\r  {name} … {time.perf_counter() - t0:.0f} s")
                sys.stderr.flush()
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

        ticker = threading.Thread(target=run, daemon=True)
        ticker.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        done.set()
        if ticker:
            ticker.join()
        say(f"{'✓' if ok else '✗'} {name} ({time.perf_counter() - t0:.1f} s)")
