"""File I/O at the edges: JSONL read/write with atomic replacement."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    """The process's umask, read without changing it (Linux shows it in /proc; elsewhere set and restore)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(path: str | Path) -> None:
    """Make a rename in `path` durable (a crash right after it cannot bring back the old name)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path`, then rename over it: readers never see half a file.

    The file gets the mode any tool's output gets (0666 less the umask), not the temporary file's 0600,
    so a team's shared output folder stays readable; the rename is made durable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write rows as JSONL (atomically; `-` writes to stdout). Returns the number of rows."""
    n = 0
    if str(path) == "-":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        sys.stdout.flush()
        return n
    with atomic_writer(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a JSONL file; a bad line raises ValueError naming the file and line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return rows


def write_json(path: str | Path, obj: Any) -> None:
    """One JSON document, atomically."""
    with atomic_writer(path) as fh:
        json.dump(obj, fh, indent=1)


def replace_block(path: str | Path, begin: str, end: str, body: str) -> None:
    """Put `body` between the `begin` and `end` marker lines of a text file (atomically); ValueError when the
    file lacks them, so a figure never lands in the wrong place or silently nowhere."""
    text = Path(path).read_text(encoding="utf-8")
    if begin not in text or end not in text.split(begin, 1)[1]:
        raise ValueError(f"{path} has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with atomic_writer(path) as fh:
        fh.write(f"{head}{begin}\n{body}\n{end}{tail}")


def read_gold(path: str | Path, default_article: str | None = None) -> list[dict[str, Any]]:
    """Gold quote rows in either format (our gold.jsonl names `article_id`, the realdev sets `passage_id`),
    each with `article_id` as a string; the seed set names none and takes `default_article`.
    The one place the two spellings meet; a bad line raises ValueError naming the file and line.
    """
    rows = read_jsonl(path)
    for r in rows:
        aid = r.get("article_id")
        aid = r.get("passage_id") if aid in (None, "") else aid
        r["article_id"] = str(default_article if aid in (None, "") else aid)
    return rows
