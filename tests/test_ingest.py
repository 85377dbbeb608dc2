"""Reading articles: formats, offsets as read, and every kind of bad input giving a reasoned skip."""

from __future__ import annotations

import json

from quotestance.extract.ingest import read_articles
from quotestance.records import Article, Skip


def items(path):
    return list(read_articles(path))


def test_markdown_front_matter_sets_id_and_metadata(tmp_path):
    f = tmp_path / "story.md"
    f.write_text("---\nid: a-1\ntitle: 'Hosts: a primer'\noutlet: The Ledger\nevent: ev9\n---\nBody text here.\n",
                 encoding="utf-8")
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
        encoding="utf-8")
    (tmp_path / "scripts.html").write_text("<html><head><script>alert(1)</script></head><body>"
                                           "<script>var a = 2;</script></body></html>", encoding="utf-8")
    got = {getattr(x, "id", None) or x.article_id: x for x in items(tmp_path)}
    page = got["page"]
    assert isinstance(page, Article) and "We follow court orders" in page.text and "var x" not in page.text
    assert isinstance(got["scripts"], Skip) and "no main text" in got["scripts"].reason


def test_jsonl_bad_line_is_skipped_and_the_rest_read(tmp_path):
    f = tmp_path / "batch.jsonl"
    f.write_text(json.dumps({"id": "j1", "text": "First article.", "metadata": {"outlet": "Wire"}}) + "\n"
                 + "{not json\n" + json.dumps({"id": "j2", "text": "Second article."}) + "\n"
                 + json.dumps({"id": "j3"}) + "\n", encoding="utf-8")
    got = items(f)
    arts = [x for x in got if isinstance(x, Article)]
    skips = [x for x in got if isinstance(x, Skip)]
    assert [a.id for a in arts] == ["j1", "j2"] and arts[0].outlet == "Wire"
    assert len(skips) == 2 and "batch.jsonl:2" in skips[0].source and "not JSON" in skips[0].reason
    assert "text" in skips[1].reason
