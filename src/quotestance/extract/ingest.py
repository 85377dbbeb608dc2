"""Read articles from .txt/.md (optional YAML front matter), .html and .jsonl files.

Offsets downstream index into `Article.text` exactly as read here: bytes decoded (UTF-8, BOM dropped),
line ends translated to "\\n" the way Python's text mode does, front matter removed, nothing else touched.
Every input that yields no article yields a `Skip` with its reason instead; nothing raises.
"""

from __future__ import annotations

import glob
import json
import re
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


def iter_sources(spec: str | Path) -> list[Path]:
    """Files named by a file, a directory (searched recursively) or a glob, sorted; only known suffixes."""
    p = Path(spec)
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
    hits = sorted(Path(f) for f in glob.glob(str(spec), recursive=True))
    return [f for f in hits if f.is_file()]


def decode(raw: bytes) -> tuple[str | None, str | None]:
    """(text, note): UTF-8 first; cp1252 then latin-1 as a recorded fallback; (None, reason) for binary."""
    if b"\x00" in raw[:8192]:
        return None, "binary file (NUL bytes)"
    note = None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        try:
            text, note = raw.decode("cp1252"), f"not UTF-8 ({e.reason} at byte {e.start}); decoded as cp1252"
        except UnicodeDecodeError:
            text, note = raw.decode("latin-1"), f"not UTF-8 ({e.reason} at byte {e.start}); decoded as latin-1"
    controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > 0.05 * max(1, min(len(text), 8192)):
        return None, "binary file (control characters)"
    # the same translation Python's text mode applies, so offsets agree with open(..).read()
    return text.replace("\r\n", "\n").replace("\r", "\n"), note


def split_front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter (if any) and the body after it."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, text  # not front matter after all: keep the text whole
    return (meta if isinstance(meta, dict) else {}), text[m.end():]


def make_article(aid: str, text: str, meta: dict, source: str) -> Article | Skip:
    if not text.strip():
        return Skip(source=source, reason="empty article (no text)", article_id=aid)
    known = {k: (None if meta.get(k) in (None, "") else str(meta[k])) for k in _META_KEYS}
    extra = {k: v for k, v in meta.items() if k not in (*_META_KEYS, "id", "text")}
    return Article(id=aid, text=text, source=source, meta=extra, **known)


def _html_article(path: Path, html: str) -> Article | Skip:
    import trafilatura  # imported here: only HTML inputs pay for it

    doc = trafilatura.bare_extraction(html, include_comments=False, include_tables=False, with_metadata=True)
    text = (getattr(doc, "text", None) if doc is not None else None) or ""
    if not text.strip():
        return Skip(source=str(path), reason="HTML holds no main text (only scripts, navigation or boilerplate)",
                    article_id=path.stem)
    meta = {"title": getattr(doc, "title", None), "date": getattr(doc, "date", None), "url": getattr(doc, "url", None)}
    return make_article(path.stem, text, meta, str(path))


def read_file(path: Path) -> Iterator[Article | Skip]:
    """Articles (or skips) from one file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        yield Skip(source=str(path), reason=f"cannot read file: {e.strerror}")
        return
    text, note = decode(raw)
    if text is None:
        yield Skip(source=str(path), reason=note or "undecodable", article_id=path.stem)
        return
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl_articles(path, text)
    elif suffix in HTML_SUFFIXES:
        yield _html_article(path, text)
    else:
        meta, body = split_front_matter(text)
        if note:
            meta = {**meta, "encoding_note": note}
        yield make_article(str(meta.get("id") or path.stem), body, meta, str(path))


def _jsonl_articles(path: Path, text: str) -> Iterator[Article | Skip]:
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield Skip(source=where, reason=f"line is not JSON ({e.msg})")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            yield Skip(source=where, reason="JSONL row has no string field 'text'")
            continue
        aid = row.get("id") or row.get("article_id") or f"{path.stem}-{n}"
        meta = {**(row.get("metadata") or {}), **{k: v for k, v in row.items() if k != "metadata"}}
        yield make_article(str(aid), row["text"], meta, where)


def read_articles(spec: str | Path) -> Iterator[Article | Skip]:
    """Every article (or skip) named by a file, a directory or a glob.

    >>> list(read_articles("/nonexistent/*.txt"))
    []
    """
    for path in iter_sources(spec):
        yield from read_file(path)
