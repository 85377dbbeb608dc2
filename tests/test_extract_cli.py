"""quotestance-extract end to end: a batch with every kind of bad input completes, records skips, exits 3."""

from __future__ import annotations

import json
import subprocess
import sys

BIN = [sys.executable, "-c", "from quotestance.cli import extract_main; extract_main()"]


def run(*args, cwd):
    return subprocess.run([*BIN, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_batch_with_bad_inputs_completes_and_records_every_skip(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.txt").write_text(
        "Dana Whitfield runs the legal team at Bastionwall.\n\n"
        "“We act on court orders, not on campaigns,” Whitfield said.\n",
        encoding="utf-8",
    )
    (src / "empty.txt").write_text("", encoding="utf-8")
    (src / "binary.txt").write_bytes(b"\x00\x01\x02" * 1000)
    (src / "latin1.txt").write_bytes(
        "“Caf\xe9 owners are not our concern,” the spokesman said.".encode("cp1252")
    )
    (src / "scripts.html").write_text("<html><script>x()</script></html>", encoding="utf-8")
    (src / "marks.txt").write_text("“" * 101 + "The forum stayed up, the registrar said.", encoding="utf-8")
    (src / "big.txt").write_text("word " * 250_000, encoding="utf-8")  # 1.25 M characters
    (src / "lines.jsonl").write_text(
        '{"id": "ok", "text": "Nothing quoted here."}\nnot json\n', encoding="utf-8"
    )
    out = tmp_path / "out" / "quotes.jsonl"
    r = run(f"input={src}", f"output={out}", cwd=tmp_path)
    assert r.returncode == 3, r.stderr  # completed, with skips
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    good = [q for q in rows if q["article_id"] == "good"]
    assert good and good[0]["speaker"] == "Dana Whitfield" and good[0]["kind"] == "direct"
    errors = [
        json.loads(x) for x in (out.parent / "quotes.errors.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    skipped = {e["article_id"] or e["source"]: e["reason"] for e in errors if e["level"] == "skipped"}
    assert set(skipped) >= {"empty", "binary", "scripts", "big"}
    assert any("lines.jsonl:2" in k for k in skipped)
    assert any(e["level"] == "warning" and e["article_id"] == "latin1" for e in errors)
    assert "articles=4 " in r.stderr and "skipped=5" in r.stderr  # good, latin1, marks, ok


def test_stdout_output_and_clean_exit(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text(
        "“Hosts are not judges,” said Priya Raman, chief executive of Lanternhost.", encoding="utf-8"
    )
    r = run(f"input={f}", "output=-", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (row,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert row["speaker"] == "Priya Raman" and row["text"] == "Hosts are not judges,"


def test_missing_input_is_a_clear_error(tmp_path):
    r = run(f"input={tmp_path}/nothing-here/*.txt", f"output={tmp_path}/q.jsonl", cwd=tmp_path)
    assert r.returncode != 0 and "no input files" in r.stderr


def test_the_extraction_cache_returns_what_extraction_gave_and_misses_on_any_change(
    nlp, tmp_path, monkeypatch
):
    from quotestance.extract import batch
    from quotestance.records import Article

    arts = [
        Article(id="a", text='"We will not take it down," said Mara Quill, the firm\'s chief executive.'),
        Article(id="b", text="No quotes here."),
    ]
    cache = tmp_path / "cache"
    first = {a.id: [q.to_dict() for q in qs] for a, qs in batch.extract_cached(arts, nlp, str(cache))}
    assert first["a"] and first["a"][0]["speaker"] == "Mara Quill" and first["b"] == []
    assert len(list(cache.rglob("*.json"))) == 2

    calls: list[list[str]] = []
    real = batch.extract_many

    def counting(articles, nlp, **kw):
        calls.append([a.id for a in articles])
        return real(articles, nlp, **kw)

    monkeypatch.setattr(batch, "extract_many", counting)
    again = {a.id: [q.to_dict() for q in qs] for a, qs in batch.extract_cached(arts, nlp, str(cache))}
    assert again == first and calls == [[]]  # both read back, nothing parsed

    # an edited article, a damaged cache file and another `select` are extracted afresh
    edited = Article(id="a", text=arts[0].text.replace("Mara", "Mira"))
    damaged = next(p for p in cache.rglob("*.json") if p.read_text() == "[]")
    damaged.write_text("{not json")
    out = {a.id: qs for a, qs in batch.extract_cached([edited, arts[1]], nlp, str(cache))}
    assert calls[-1] == ["a", "b"] and out["a"][0].speaker == "Mira Quill" and out["b"] == []
    list(batch.extract_cached(arts, nlp, str(cache), select=False))
    assert calls[-1] == ["a", "b"]


def test_an_unwritable_extraction_cache_costs_the_saving_not_the_quotes(nlp, tmp_path):
    from quotestance.extract.batch import extract_cached
    from quotestance.records import Article

    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    arts = [Article(id=f"a{i}", text=f'"Item {i} stays up," said Mara Quill.') for i in range(3)]
    got = list(extract_cached(arts, nlp, str(blocker)))
    assert [len(qs) for _, qs in got] == [1, 1, 1]
