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
