"""Reading articles: formats, offsets as read, and every kind of bad input giving a reasoned skip."""

from __future__ import annotations

import json

from quotestance.extract.ingest import read_articles
from quotestance.records import Article, Skip


def items(path):
    return list(read_articles(path))


def test_markdown_front_matter_sets_id_and_metadata(tmp_path):
    f = tmp_path / "story.md"
    f.write_text(
        "---\nid: a-1\ntitle: 'Hosts: a primer'\noutlet: The Ledger\nevent: ev9\n---\nBody text here.\n",
        encoding="utf-8",
    )
    (a,) = items(f)
    assert isinstance(a, Article)
    assert (a.id, a.title, a.outlet, a.event) == ("a-1", "Hosts: a primer", "The Ledger", "ev9")
    assert a.text == "Body text here.\n"


def test_id_falls_back_to_file_stem_and_bom_crlf_are_handled(tmp_path):
    f = tmp_path / "plain.txt"
    f.write_bytes("\ufeffLine one.\r\nLine two.\r\n".encode("utf-8"))
    (a,) = items(f)
    assert a.id == "plain"
    assert a.text == "Line one.\nLine two.\n"  # what open(...).read() gives in text mode


def test_invalid_utf8_decodes_with_a_recorded_note(tmp_path):
    f = tmp_path / "latin.txt"
    f.write_bytes("Caf\xe9 owners said the site was down.".encode("latin-1"))
    (a,) = items(f)
    assert isinstance(a, Article) and "Café" in a.text
    assert "not UTF-8" in a.meta["encoding_note"]


def test_empty_and_binary_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 10)
    got = {s.article_id: s.reason for s in items(tmp_path) if isinstance(s, Skip)}
    assert "empty" in got["empty"]
    assert "binary" in got["blob"]


def test_html_main_text_and_script_only_html(tmp_path):
    body = " ".join(["The registrar suspended the domain on Monday after a court order."] * 8)
    (tmp_path / "page.html").write_text(
        f"<html><head><title>Registrar acts</title><script>var x = 1;</script></head><body>"
        f"<nav>Home | News | Sport</nav><article><h1>Registrar acts</h1><p>{body}</p>"
        f"<p>“We follow court orders,” said Dana Whitfield, the company's counsel.</p></article></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "scripts.html").write_text(
        "<html><head><script>alert(1)</script></head><body><script>var a = 2;</script></body></html>",
        encoding="utf-8",
    )
    got = {getattr(x, "id", None) or x.article_id: x for x in items(tmp_path)}
    page = got["page"]
    assert isinstance(page, Article) and "We follow court orders" in page.text and "var x" not in page.text
    assert isinstance(got["scripts"], Skip) and "no main text" in got["scripts"].reason


def test_jsonl_bad_line_is_skipped_and_the_rest_read(tmp_path):
    f = tmp_path / "batch.jsonl"
    f.write_text(
        json.dumps({"id": "j1", "text": "First article.", "metadata": {"outlet": "Wire"}})
        + "\n"
        + "{not json\n"
        + json.dumps({"id": "j2", "text": "Second article."})
        + "\n"
        + json.dumps({"id": "j3"})
        + "\n",
        encoding="utf-8",
    )
    got = items(f)
    arts = [x for x in got if isinstance(x, Article)]
    skips = [x for x in got if isinstance(x, Skip)]
    assert [a.id for a in arts] == ["j1", "j2"] and arts[0].outlet == "Wire"
    assert len(skips) == 2 and "batch.jsonl:2" in skips[0].source and "not JSON" in skips[0].reason
    assert "text" in skips[1].reason


def _one(tmp_path, name, data: bytes):
    f = tmp_path / name
    f.write_bytes(data)
    return items(f)


def test_front_matter_values_stay_strings_as_written(tmp_path):
    (a,) = _one(tmp_path, "s.md", b"---\nid: 0123\ntitle: yes\ndate: 12:30:00\n---\nBody.\n")
    assert (a.id, a.title, a.date) == ("0123", "yes", "12:30:00")


def test_front_matter_with_an_unquoted_colon_is_still_front_matter(tmp_path):
    """`title: Explainer: ...` is not YAML, but a writer means key: value lines: the metadata is kept, and the
    front matter never leaks into the text (where its quoted words would be extracted as quotes)."""
    raw = '---\nid: x-2\ntitle: Explainer: why one resolver says "no"\nevent: ev9\n---\nBody.\n'
    (a,) = _one(tmp_path, "s.md", raw.encode())
    assert (a.id, a.title, a.event, a.text) == (
        "x-2",
        'Explainer: why one resolver says "no"',
        "ev9",
        "Body.\n",
    )
    (b,) = _one(tmp_path, "t.md", b"---\nsome words: [unclosed\n---\nBody.\n")
    assert b.text.startswith("---")  # not front matter at all: the text is kept whole


def test_hostile_front_matter_is_a_recorded_skip(tmp_path):
    bomb = (
        "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n---\nBody.\n"
    )
    (s,) = _one(tmp_path, "bomb.md", bomb.encode())
    assert isinstance(s, Skip) and "alias" in s.reason
    (s,) = _one(tmp_path, "deep.md", ("---\na: " + "[" * 20000 + "]" * 20000 + "\n---\nBody.\n").encode())
    assert isinstance(s, Skip) and "deep" in s.reason
    (s,) = _one(tmp_path, "big.md", ("---\n" + "k: v\n" * 20000 + "---\nBody.\n").encode())
    assert isinstance(s, Skip) and "front matter over" in s.reason


def test_jsonl_rows_of_the_wrong_shape_are_skipped(tmp_path):
    rows = [
        {"id": "m1", "text": "x", "metadata": "x"},
        {"id": "m2", "text": "x", "metadata": [1]},
        {"id": ["a"], "text": "x"},
        {"id": "ok", "text": "Fine.", "metadata": {"outlet": "W"}},
    ]
    got = _one(tmp_path, "rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    assert [type(x).__name__ for x in got] == ["Skip", "Skip", "Skip", "Article"]
    assert "metadata" in got[0].reason and "metadata" in got[1].reason and "id is list" in got[2].reason


def test_giant_sparse_and_device_files_are_never_read(tmp_path):
    import os
    import time

    sparse = tmp_path / "giant.txt"
    with open(sparse, "wb") as fh:
        fh.truncate(4 * 2**30)  # 4 GiB that take no disk: reading it would take minutes and the memory
    (tmp_path / "dev.txt").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.txt")  # opening a pipe for reading would block for ever
    t = time.perf_counter()
    got = {x.source.rsplit("/", 1)[-1]: x for x in items(tmp_path)}
    assert time.perf_counter() - t < 5
    assert "over" in got["giant.txt"].reason
    assert "not a regular file" in got["dev.txt"].reason and "not a regular file" in got["pipe.txt"].reason


def test_every_file_once_and_colliding_ids_made_unique(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a/x.txt").write_text("First.", encoding="utf-8")
    (tmp_path / "b/x.txt").write_text("Second.", encoding="utf-8")
    (tmp_path / "b/loop").symlink_to(tmp_path / "b")  # a glob through it would see b/x.txt again and again
    arts = items(str(tmp_path / "**/*.txt"))
    assert [(a.id, a.text) for a in arts] == [("x", "First."), ("b/x", "Second.")]
    assert [a.id for a in items(tmp_path)] == ["x", "b/x"]


def test_one_bad_byte_keeps_a_utf8_file_utf8(tmp_path):
    (a,) = _one(
        tmp_path, "mostly.txt", "Café owners and naïve users said “no”. ".encode() + b"\xff" + b" End."
    )
    assert "Café" in a.text and "naïve" in a.text and "“no”" in a.text and "\ufffd" in a.text
    assert "kept as UTF-8" in a.meta["encoding_note"]


def test_a_page_trafilatura_cannot_parse_is_a_skip(tmp_path, monkeypatch):
    import trafilatura

    def boom(*a, **k):
        raise ValueError("parser exploded")

    monkeypatch.setattr(trafilatura, "bare_extraction", boom)
    (s,) = _one(tmp_path, "p.html", b"<html><body><p>Hi</p></body></html>")
    assert isinstance(s, Skip) and "HTML extraction failed" in s.reason


def test_an_id_named_twice_is_the_same_article_read_once(tmp_path):
    f = tmp_path / "batch.jsonl"
    f.write_text(
        json.dumps({"id": "a", "text": "One."}) + "\n" + json.dumps({"id": "a", "text": "Again."}) + "\n",
        encoding="utf-8",
    )
    got = items(f)
    assert [type(x).__name__ for x in got] == ["Article", "Skip"]
    assert "duplicate article id 'a'" in got[1].reason and "batch.jsonl:1" in got[1].reason
