"""Batch scoring: tables out, skips recorded, and a run killed with SIGKILL resumes to the same result."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCORE = [sys.executable, "-c", "from quotestance.cli import score_main; score_main()"]


@pytest.fixture()
def champion(tmp_path, mlflow_uri, fake_run, labels):
    from quotestance.config import MlflowConfig, RegisterConfig
    from quotestance.register import register_run
    from quotestance.tracking import setup

    mcfg = MlflowConfig(
        tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
    )
    setup(mcfg)
    (tmp_path / "m").mkdir()
    # a model that takes 16 rows per call, as one that takes 1000 does: parts hold more quotes than that
    register_run(RegisterConfig(run_id=fake_run(tmp_path / "m", 0.6, 0.6, "d", max_rows=16)), mcfg, labels)
    src = tmp_path / "in"
    src.mkdir()
    for p in sorted((ROOT / "data/corpus").glob("ev0[12]-*.md"))[:8]:
        shutil.copy(p, src)
    (src / "empty.txt").write_text("", encoding="utf-8")
    return src


def run(args, cwd, **kw):
    return subprocess.run([*SCORE, *args], cwd=cwd, capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.slow
def test_score_tables_skips_and_kill_resume(champion, tmp_path, labels):
    common = [
        f"input={champion}",
        "score.part_size=2",
        "score.request_rows=16",
        f"mlflow.artifact_location={tmp_path / 'art'}",
    ]
    clean = run([*common, f"output={tmp_path / 'clean'}", "score.formats=[csv]"], tmp_path)
    assert clean.returncode == 3, clean.stderr[-2000:]  # finished, one input skipped
    assert "articles=8 " in clean.stderr and "skipped=1" in clean.stderr
    q = pd.read_parquet(tmp_path / "clean/quotes.parquet")
    assert len(q) > 50 and q["quote_id"].is_unique
    assert {"label", "confidence", "model_name", "model_version", "model_alias", "speaker"} <= set(q.columns)
    assert (q["model_name"] == "quote-stance").all() and (q["model_alias"] == "champion").all()
    assert set(q["label"]) <= set(labels)
    arts = pd.read_parquet(tmp_path / "clean/articles.parquet")
    assert len(arts) == 8 and arts["n_quotes"].sum() == len(q)
    assert len(pd.read_parquet(tmp_path / "clean/speakers.parquet")) > 0
    assert (tmp_path / "clean/quotes.csv").exists()
    assert "empty" in (tmp_path / "clean/errors.jsonl").read_text()

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*SCORE, *common, f"output={out}"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not (out / "parts/part-00001.parquet").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "quotes.parquet").exists()  # it really died mid-run
    again = run([*common, f"output={out}"], tmp_path)
    assert again.returncode == 3, again.stderr[-2000:]
    r = pd.read_parquet(out / "quotes.parquet")
    cols = ["quote_id", "label", "confidence"]
    pd.testing.assert_frame_equal(
        r[cols].sort_values("quote_id", ignore_index=True), q[cols].sort_values("quote_id", ignore_index=True)
    )

    other = run([f"input={champion}", "score.part_size=3", f"output={out}"], tmp_path)
    assert other.returncode == 2 and "other inputs or settings" in other.stderr


@pytest.mark.slow
def test_a_resumed_run_scores_in_the_path_it_started_in(champion, tmp_path, mlflow_uri, monkeypatch):
    """The path is recorded in the manifest and forced on resume, whatever this load would choose."""
    import json

    from quotestance.config import ExtractConfig, MlflowConfig, ScoreConfig
    from quotestance.infer import MARGIN_ENV, PRECISION_ENV
    from quotestance.score import score_articles

    mcfg = MlflowConfig(
        tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
    )
    cfg = ScoreConfig(part_size=2, request_rows=16)
    out = tmp_path / "out"
    monkeypatch.setenv(PRECISION_ENV, "bf16")  # a path auto never takes for this model (no parity rows)
    monkeypatch.setenv(MARGIN_ENV, "0.01")
    first = score_articles(str(champion), str(out), cfg, ExtractConfig(), mcfg)
    assert first.precision == "bf16"
    assert json.loads((out / "manifest.json").read_text())["inference"]["precision"] == "bf16"
    monkeypatch.delenv(PRECISION_ENV)
    monkeypatch.delenv(MARGIN_ENV)
    (out / "parts/part-00001.parquet").unlink()  # as if killed before this part was written
    again = score_articles(str(champion), str(out), cfg, ExtractConfig(), mcfg)
    assert again.precision == "bf16" and os.environ.get(PRECISION_ENV) is None
    q = pd.read_parquet(out / "quotes.parquet")
    assert (q["inference_precision"] == "bf16").all() and len(q) == first.quotes
    fresh = score_articles(str(champion), str(tmp_path / "fresh"), cfg, ExtractConfig(), mcfg)
    assert fresh.precision == "fp32"  # what this model gets when nothing is recorded or forced
    scored = pd.read_parquet(tmp_path / "fresh/quotes.parquet")
    # an untrained model is never 0.8 sure: every quote goes to review, at the threshold validation gave
    assert (
        scored["to_review"].all()
        and json.loads((tmp_path / "fresh/manifest.json").read_text())["inference"]["review_threshold"] == 0.8
    )


@pytest.mark.slow
def test_spark_engine_equals_local_engine(champion, tmp_path, mlflow_uri, monkeypatch):
    """~50 articles read, parsed and scored in Spark's executors give the local engine's rows, precision forced
    to one path: the same quotes and speakers, labels equal, probabilities within 1e-5; skips recorded alike."""
    pytest.importorskip("pyspark", reason="pyspark is the optional extra .[spark]")
    import json

    from quotestance.config import ExtractConfig, MlflowConfig, ScoreConfig
    from quotestance.infer import PRECISION_ENV
    from quotestance.score import score_articles

    monkeypatch.setenv(PRECISION_ENV, "fp32")
    mcfg = MlflowConfig(
        tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
    )
    src = tmp_path / "many"
    src.mkdir()
    for p in sorted((ROOT / "data/corpus").glob("ev*.md"))[:50]:
        shutil.copy(p, src)
    (src / "empty.txt").write_text("", encoding="utf-8")
    local = score_articles(
        str(src), str(tmp_path / "local"), ScoreConfig(engine="local", request_rows=16), ExtractConfig(), mcfg
    )
    spark = score_articles(
        str(src),
        str(tmp_path / "spark"),
        ScoreConfig(engine="spark", spark_master="local[2]", request_rows=16, spark_buckets=4),
        ExtractConfig(),
        mcfg,
    )
    assert (local.articles, local.quotes, local.skipped) == (spark.articles, spark.quotes, spark.skipped)
    assert local.quotes > 500 and spark.precision == local.precision == "fp32"
    a = pd.read_parquet(tmp_path / "local/quotes.parquet").sort_values("quote_id", ignore_index=True)
    b = pd.read_parquet(tmp_path / "spark/quotes.parquet")  # a folder partitioned by bucket
    assert b["bucket"].nunique() > 1
    b = b.drop(columns="bucket").sort_values("quote_id", ignore_index=True)[list(a.columns)]
    floats = ["confidence", *[c for c in a.columns if c.startswith("prob_")]]
    pd.testing.assert_frame_equal(
        a.drop(columns=floats).astype(object), b.drop(columns=floats).astype(object), check_dtype=False
    )
    pd.testing.assert_frame_equal(a[floats], b[floats], atol=1e-5, check_dtype=False)
    errors = [json.loads(x) for x in (tmp_path / "spark/errors.jsonl").read_text().splitlines()]
    assert [e["reason"] for e in errors] == ["empty article (no text)"]
    arts = pd.read_parquet(tmp_path / "spark/articles.parquet")
    assert len(arts) == 50 and arts["n_quotes"].sum() == len(b)


def test_scoring_never_creates_an_empty_store(tmp_path, monkeypatch):
    from quotestance.config import ExtractConfig, MlflowConfig, ScoreConfig
    from quotestance.score import ScoreError, score_articles

    missing = tmp_path / "nowhere" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    one = sorted((ROOT / "data/corpus").glob("ev01-*.md"))[0]
    with pytest.raises(ScoreError, match="no MLflow store at"):
        score_articles(str(one), str(tmp_path / "out"), ScoreConfig(), ExtractConfig(), MlflowConfig())
    assert not missing.exists()


@pytest.mark.slow
def test_resume_keys_locks_duplicates_and_modes(champion, tmp_path, mlflow_uri):
    """An edited article is not a resume; two runs never share a folder; a duplicate id is scored once and
    recorded; outputs follow the umask, not the temporary file's 0600."""
    import json

    from quotestance.config import ExtractConfig, MlflowConfig, ScoreConfig
    from quotestance.score import ScoreError, _output_lock, score_articles

    mcfg = MlflowConfig(
        tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
    )
    cfg = ScoreConfig(part_size=2, request_rows=16)
    src = tmp_path / "arts.jsonl"
    texts = [p.read_text(encoding="utf-8").split("---", 2)[-1] for p in sorted(champion.glob("*.md"))[:2]]
    rows = [{"id": "a", "text": texts[0]}, {"id": "b", "text": texts[1]}, {"id": "a", "text": texts[1]}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        first = score_articles(str(src), str(out), cfg, ExtractConfig(), mcfg)
    finally:
        os.umask(old)
    assert first.articles == 2 and first.skipped == 1
    q = pd.read_parquet(out / "quotes.parquet")
    assert q["quote_id"].is_unique and set(q["article_id"]) == {"a", "b"}
    errors = [json.loads(x) for x in (out / "errors.jsonl").read_text().splitlines()]
    assert any("duplicate article id 'a'" in e["reason"] for e in errors)
    arts = pd.read_parquet(out / "articles.parquet")
    assert list(arts["status"]) == ["scored", "scored"]  # the duplicate's record does not fail the first
    for name in ("quotes.parquet", "articles.parquet", "errors.jsonl", "manifest.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    rows[1]["text"] = texts[1].replace(".", "!", 1)  # the same ids, other content
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(ScoreError, match="other inputs or settings"):
        score_articles(str(src), str(out), cfg, ExtractConfig(), mcfg)
    with _output_lock(tmp_path / "busy"), pytest.raises(ScoreError, match="another quotestance-score"):
        score_articles(str(src), str(tmp_path / "busy"), cfg, ExtractConfig(), mcfg)


@pytest.mark.slow
def test_a_kill_between_a_parts_errors_and_rows_loses_no_failure(champion, tmp_path, mlflow_uri, monkeypatch):
    """Errors are written before the part's parquet (which marks it done): a kill between the two redoes the
    part on resume, and its failure is reported once, never lost."""
    import json

    import quotestance.extract.batch as extractor
    import quotestance.score as score
    from quotestance.config import ExtractConfig, MlflowConfig, ScoreConfig

    real_many, real_write = extractor.extract_many, score._write_parquet
    victim = sorted(p.stem for p in champion.glob("ev*.md"))[2]  # in part 1 (parts of 2)

    def failing_many(articles, *a, **kw):  # one article's extraction fails, every time it is tried
        for art, result in real_many(articles, *a, **kw):
            yield art, (RuntimeError("boom") if art.id == victim else result)

    class Killed(BaseException):
        pass

    def killed_write(df, path):  # the kill lands after the errors, before the rows
        if path.name == "part-00001.parquet":
            assert (path.parent / "part-00001.json").exists()
            raise Killed
        real_write(df, path)

    monkeypatch.setattr(extractor, "extract_many", failing_many)
    monkeypatch.setattr(score, "_write_parquet", killed_write)
    mcfg = MlflowConfig(
        tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
    )
    cfg = ScoreConfig(part_size=2, request_rows=16)
    out = tmp_path / "out"
    with pytest.raises(Killed):
        score.score_articles(str(champion), str(out), cfg, ExtractConfig(), mcfg)
    assert not (out / "parts/part-00001.parquet").exists()
    monkeypatch.setattr(score, "_write_parquet", real_write)
    done = score.score_articles(str(champion), str(out), cfg, ExtractConfig(), mcfg)
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [e["article_id"] for e in errors if "boom" in e["reason"]] == [victim]
    assert done.skipped == len(errors) == 2  # the failure and empty.txt, each once
    assert victim not in set(pd.read_parquet(out / "articles.parquet").query("n_quotes > 0")["article_id"])


def test_parts_are_read_lazily_and_keep_their_skips(monkeypatch):
    """Memory is bounded by a part: the reader is never more than one article ahead of the part it yields."""
    import quotestance.score as score
    from quotestance.records import Article, Skip

    produced = []

    def fake_read(_spec):
        for i in range(10):
            produced.append(i)
            yield Article(id=f"a{i}", text="x" * (5 if i != 3 else 50))
            if i == 5:
                yield Skip("f", "unreadable")
        yield Article(id="a1", text="dup")

    monkeypatch.setattr(score, "read_articles", fake_read)
    parts = score._read_parts("in", part_size=2, max_chars=10)
    first = next(parts)
    assert [a.id for a in first.articles] == ["a0", "a1"] and len(produced) == 3
    rest = list(parts)
    assert [[a.id for a in p.articles] for p in rest] == [["a2", "a4"], ["a5", "a6"], ["a7", "a8"], ["a9"]]
    assert [s.reason[:9] for s in rest[0].skips] == ["article h"]  # a3: over max_chars
    assert [s.reason for s in rest[1].skips] == ["unreadable"]
    assert "duplicate article id 'a1'" in rest[-1].skips[0].reason


def test_merge_streams_parts_with_differing_empties(tmp_path):
    """Parts merge one at a time into one schema: a part with no organisation anywhere, a part with no quote,
    and CSV/JSONL copies that hold every row once."""
    import json

    from quotestance.score_tables import merge_parts

    parts = tmp_path / "parts"
    parts.mkdir()

    def part(k, rows, arts, errors=()):
        (parts / f"part-{k:05d}.json").write_text(
            json.dumps(
                {"articles": [{"article_id": a, "status": "scored"} for a in arts], "errors": list(errors)}
            )
        )
        pd.DataFrame(rows).to_parquet(parts / f"part-{k:05d}.parquet")

    def row(a, n, org, label, conf):
        return {
            "article_id": a,
            "quote_id": f"{a}-{n}",
            "text": "t",
            "char_start": 0,
            "char_end": 1,
            "speaker": "S",
            "speaker_org": org,
            "label": label,
            "confidence": conf,
            "prob_x": conf,
        }

    part(0, [row("a", 0, None, "x", 0.5), row("a", 1, None, "y", 0.7)], ["a"])
    part(1, [], ["b"], [{"source": "f", "article_id": None, "reason": "bad"}])
    part(2, [row("c", 0, "Org", "x", 0.9)], ["c"])
    summary = merge_parts(tmp_path, 3, ["csv", "jsonl"])
    assert (summary.articles, summary.quotes, summary.skipped) == (3, 3, 1)
    q = pd.read_parquet(tmp_path / "quotes.parquet")
    assert list(q["quote_id"]) == ["a-0", "a-1", "c-0"] and q["speaker_org"].isna().tolist() == [
        True,
        True,
        False,
    ]
    assert len(pd.read_csv(tmp_path / "quotes.csv")) == 3
    assert len((tmp_path / "quotes.jsonl").read_text().splitlines()) == 3
    arts = pd.read_parquet(tmp_path / "articles.parquet").set_index("article_id")
    assert arts["n_quotes"].to_dict() == {"a": 2, "b": 0, "c": 1} and arts.loc["a", "n_x"] == 1
    spk = pd.read_parquet(tmp_path / "speakers.parquet")
    assert spk.query("label == 'x' and speaker_org == ''")["mean_confidence"].item() == 0.5
