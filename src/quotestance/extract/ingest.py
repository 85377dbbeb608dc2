"""Read articles from .txt/.md (optional YAML front matter), .html and .jsonl files.

Offsets downstream index into `Article.text` exactly as read here: bytes decoded (UTF-8, BOM dropped),
line ends translated to "\\n" the way Python's text mode does, front matter removed, nothing else touched.
Every input that yields no article yields a `Skip` with its reason instead; nothing raises. Hostile inputs
cost bounded time and memory: files are sized before they are read (`MAX_BYTES`; device files, pipes and
sparse giants are never read), front matter is capped, parsed with every value a string as written (no
`0123` -> 83, no `yes` -> True) and no YAML aliases (no expansion bombs), and every file is read once even
through symlink loops. Ids stay as they are unless two inputs collide; then the later ones take their path.
"""

from __future__ import annotations

import glob
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import yaml

from quotestance.records import Article, Skip

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_META_KEYS = ("title", "date", "outlet", "url", "event")
MAX_BYTES = (
    16 * 2**20
)  # a text or HTML file over this is skipped unread (4x extract.max_chars' default in UTF-8)
MAX_LINE_BYTES = 16 * 2**20  # one JSONL row
MAX_FRONT_CHARS = 64 * 2**10  # front matter holds a few fields, never a document


def iter_sources(spec: str | Path) -> list[Path]:
    """Inputs named by a file, a directory (searched recursively) or a glob, sorted; only known suffixes.

    Each file once: names that resolve to the same file (a symlink loop, a link beside its target) count
    once. Entries that are not regular files (devices, pipes) are kept, so `read_file` records why they
    are skipped rather than dropping them unseen.
    """
    p = Path(spec)
    if p.is_dir():
        found = sorted(f for f in p.rglob("*") if f.suffix.lower() in SUFFIXES and not f.is_dir())
    elif p.exists():
        found = [p]
    else:
        found = sorted(Path(f) for f in glob.glob(str(spec), recursive=True) if not Path(f).is_dir())
    best: dict[str, Path] = {}  # each file under its shortest name (not b/loop/loop/x.txt for b/x.txt)
    for f in sorted(found, key=lambda f: (len(f.parts), str(f))):
        try:
            real = os.path.realpath(f)
        except (OSError, RuntimeError):  # a link that loops on itself
            real = str(f)
        best.setdefault(real, f)
    return sorted(best.values())


def decode(raw: bytes) -> tuple[str | None, str | None]:
    """(text, note): UTF-8 first; (None, reason) for binary. A UTF-8 file with a few bad bytes stays UTF-8
    (each bad byte becomes U+FFFD, counted in the note): one stray byte must not turn every accent of the
    file into cp1252 mojibake. Text with no valid UTF-8 sequence at all is a legacy encoding: cp1252 (then
    latin-1), recorded in the note."""
    if b"\x00" in raw[:8192]:
        return None, "binary file (NUL bytes)"
    note = None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        loose = raw.decode("utf-8-sig", errors="replace")
        bad = loose.count("\ufffd") - raw.decode("utf-8-sig", errors="ignore").count("\ufffd")
        valid_multibyte = sum(1 for c in loose if ord(c) > 0x7F and c != "\ufffd")
        if valid_multibyte and bad <= max(3, valid_multibyte // 10):
            text, note = (
                loose,
                f"not valid UTF-8 ({bad} bad byte sequence(s), first at byte {e.start}); "
                "kept as UTF-8 with U+FFFD in their place",
            )
        else:
            try:
                text, note = (
                    raw.decode("cp1252"),
                    f"not UTF-8 ({e.reason} at byte {e.start}); decoded as cp1252",
                )
            except UnicodeDecodeError:
                text, note = (
                    raw.decode("latin-1"),
                    f"not UTF-8 ({e.reason} at byte {e.start}); decoded as latin-1",
                )
    controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > 0.05 * max(1, min(len(text), 8192)):
        return None, "binary file (control characters)"
    # the same translation Python's text mode applies, so offsets agree with open(..).read()
    return text.replace("\r\n", "\n").replace("\r", "\n"), note


class FrontMatterError(ValueError):
    """Front matter that is YAML but hostile: too large, too deep, or using aliases."""


class _FrontLoader(yaml.BaseLoader):
    """Every scalar a string as written (ids keep their zeros); aliases refused (no expansion bombs)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise FrontMatterError("front matter uses a YAML alias (*name): not allowed")
        return super().compose_node(parent, index)


def split_front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter (if any) and the body after it; FrontMatterError for hostile front matter."""
    if not text.startswith("---"):
        return {}, text
    m = _FRONT.match(text[: MAX_FRONT_CHARS + 16])
    if not m:
        if _FRONT.match(text):
            raise FrontMatterError(f"front matter over {MAX_FRONT_CHARS:,} characters")
        return {}, text
    try:
        meta = yaml.load(m.group(1), Loader=_FrontLoader)  # noqa: S506 - a BaseLoader: strings only, no objects
    except RecursionError:
        raise FrontMatterError("front matter nested too deep") from None
    except yaml.YAMLError:
        # the usual hand-written slip, `title: Explainer: why ...` (an unquoted colon), is not YAML but is plainly
        # key: value lines; anything else is not front matter after all: keep the text whole
        meta = _plain_front_matter(m.group(1))
        return (meta, text[m.end() :]) if meta else ({}, text)
    return (meta if isinstance(meta, dict) else {}), text[m.end() :]


_PLAIN_LINE = re.compile(r"([A-Za-z_][\w-]*):(?:\s+(.*))?")


def _plain_front_matter(block: str) -> dict[str, str]:
    r"""Front matter read as `key: value` lines, split at the first colon; {} unless every line is one.

    >>> _plain_front_matter('id: a1\ntitle: Explainer: what "DNS blocking" means\nurl: ""')
    {'id': 'a1', 'title': 'Explainer: what "DNS blocking" means', 'url': ''}
    >>> _plain_front_matter("id: a1\n- a list item")
    {}
    """
    meta = {}
    for line in block.splitlines():
        if not line.strip():
            continue
        m = _PLAIN_LINE.fullmatch(line.rstrip())
        if not m:
            return {}
        value = (m.group(2) or "").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        meta[m.group(1)] = value
    return meta


def make_article(aid: str, text: str, meta: dict, source: str) -> Article | Skip:
    """An Article from text and metadata, or a Skip when the text is empty."""
    if not text.strip():
        return Skip(source=source, reason="empty article (no text)", article_id=aid)
    known = {k: (None if meta.get(k) in (None, "") else str(meta[k])) for k in _META_KEYS}
    extra = {k: v for k, v in meta.items() if k not in (*_META_KEYS, "id", "text")}
    return Article(id=aid, text=text, source=source, meta=extra, **known)


def _html_article(path: Path, html: str) -> Article | Skip:
    import trafilatura  # imported here: only HTML inputs pay for it

    try:
        doc = trafilatura.bare_extraction(
            html, include_comments=False, include_tables=False, with_metadata=True
        )
    except Exception as e:  # noqa: BLE001 - a page trafilatura cannot parse is one skipped input, not a dead batch
        return Skip(
            source=str(path),
            reason=f"HTML extraction failed: {type(e).__name__}: {e}"[:300],
            article_id=path.stem,
        )
    text = (getattr(doc, "text", None) if doc is not None else None) or ""
    if not text.strip():
        return Skip(
            source=str(path),
            reason="HTML holds no main text (only scripts, navigation or boilerplate)",
            article_id=path.stem,
        )
    meta = {
        "title": getattr(doc, "title", None),
        "date": getattr(doc, "date", None),
        "url": getattr(doc, "url", None),
    }
    return make_article(path.stem, text, meta, str(path))


def read_file(path: Path) -> Iterator[Article | Skip]:
    """Articles (or skips) from one file; its size is checked before a byte is read."""
    try:
        st = path.stat()
    except (OSError, RuntimeError) as e:  # missing, unreadable, or a symlink loop
        yield Skip(source=str(path), reason=f"cannot read file: {getattr(e, 'strerror', None) or e}")
        return
    if not stat.S_ISREG(st.st_mode):
        yield Skip(source=str(path), reason="not a regular file (a device, pipe or socket): not read")
        return
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl_articles(path)
        return
    if st.st_size > MAX_BYTES:
        yield Skip(
            source=str(path),
            reason=f"file is {st.st_size:,} bytes, over {MAX_BYTES:,}: not read",
            article_id=path.stem,
        )
        return
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # the file may have grown since stat
    except OSError as e:
        yield Skip(source=str(path), reason=f"cannot read file: {e.strerror}")
        return
    if len(raw) > MAX_BYTES:
        yield Skip(
            source=str(path), reason=f"file is over {MAX_BYTES:,} bytes: not read", article_id=path.stem
        )
        return
    text, note = decode(raw)
    if text is None:
        yield Skip(source=str(path), reason=note or "undecodable", article_id=path.stem)
        return
    if suffix in HTML_SUFFIXES:
        yield _html_article(path, text)
        return
    try:
        meta, body = split_front_matter(text)
    except FrontMatterError as e:
        yield Skip(source=str(path), reason=str(e), article_id=path.stem)
        return
    if note:
        meta = {**meta, "encoding_note": note}
    yield make_article(str(meta.get("id") or path.stem), body, meta, str(path))


def _jsonl_articles(path: Path) -> Iterator[Article | Skip]:
    """One article per line, read line by line (a batch file may be large; one row is capped)."""
    try:
        fh = open(path, "rb")
    except OSError as e:
        yield Skip(source=str(path), reason=f"cannot read file: {e.strerror}")
        return
    with fh:
        n = 0
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            n += 1
            where = f"{path}:{n}"
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # the rest of the oversized line, unkept
                    raw = fh.readline(MAX_LINE_BYTES)
                yield Skip(source=where, reason=f"JSONL line over {MAX_LINE_BYTES:,} bytes: not read")
                continue
            line, note = decode(raw)
            if line is None or not line.strip():
                if line is None:
                    yield Skip(source=where, reason=note or "undecodable")
                continue
            yield _jsonl_row(line, where, path.stem, n)


def _jsonl_row(line: str, where: str, stem: str, n: int) -> Article | Skip:
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as e:
        return Skip(source=where, reason=f"line is not JSON ({getattr(e, 'msg', 'nested too deep')})")
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        return Skip(source=where, reason="JSONL row has no string field 'text'")
    metadata = row.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return Skip(
            source=where, reason=f"JSONL row's 'metadata' is {type(metadata).__name__}, not an object"
        )
    aid = row.get("id") if row.get("id") not in (None, "") else row.get("article_id")
    if aid is not None and not isinstance(aid, (str, int)):
        return Skip(source=where, reason=f"JSONL row's id is {type(aid).__name__}, not a string")
    meta = {**(metadata or {}), **{k: v for k, v in row.items() if k != "metadata"}}
    return make_article(str(aid) if aid not in (None, "") else f"{stem}-{n}", row["text"], meta, where)


def read_articles(spec: str | Path) -> Iterator[Article | Skip]:
    """Every article (or skip) named by a file, a directory or a glob.

    >>> list(read_articles("/nonexistent/*.txt"))
    []
    """
    sources = iter_sources(spec)
    base = Path(os.path.commonpath([str(s.parent) for s in sources])) if sources else Path(".")
    seen: dict[str, str] = {}  # id -> where it was read
    for path in sources:
        for item in read_file(path):
            if isinstance(item, Article):
                item = _unique(item, path, base, seen)
                if isinstance(item, Article):
                    seen[item.id] = item.source or item.id
            yield item


def _unique(art: Article, path: Path, base: Path, seen: dict[str, str]) -> Article | Skip:
    """The article as read unless its id was taken by an earlier input. An id the input named itself (front
    matter `id`, a JSONL row's `id`) is the same article again: recorded as a skip, never scored twice. An
    id taken from a file name is a coincidence (two `x.txt` in two folders): the later file takes its path
    below the inputs' common folder (JSONL rows: with the line), then a counter. Deterministic: inputs are
    read in sorted order."""
    if art.id not in seen:
        return art
    from dataclasses import replace

    line = art.source[len(str(path)) :] if art.source and art.source.startswith(f"{path}:") else ""
    implicit = art.id == path.stem or (line and art.id == f"{path.stem}-{line[1:]}")
    if not implicit:
        return Skip(
            source=art.source or str(path),
            article_id=None,
            reason=f"duplicate article id {art.id!r}: already read from {seen[art.id]}",
        )
    rel = path.relative_to(base).with_suffix("").as_posix() if path.is_relative_to(base) else path.stem
    new = rel + line
    k, candidate = 1, new
    while candidate in seen:
        k += 1
        candidate = f"{new}#{k}"
    return replace(art, id=candidate, meta={**art.meta, "id_note": f"id {art.id!r} was taken; renamed"})
