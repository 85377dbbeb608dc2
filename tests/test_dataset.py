"""The dataset stage on a small slice of our corpus: deterministic, leak-free, weak labels in train only,
clear errors on bad input, and its inputs recorded in MLflow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from quotestance.config import CONF_DIR as CONF
from quotestance.config import DatasetConfig, ExtractConfig, LabelsConfig, LabelSpec, MlflowConfig, WeakConfig
from quotestance.dataset import DatasetError, build_dataset, normalise

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ("ev01", "ev05", "ev09", "ev13", "ev17", "ev21")


@pytest.fixture(scope="module")
def labels() -> LabelsConfig:
    import yaml

    raw = yaml.safe_load((CONF / "labels/default.yaml").read_text(encoding="utf-8"))
    return LabelsConfig([LabelSpec(**x) for x in raw["labels"]], raw["stance"])


@pytest.fixture(scope="module")
def slice_dir(tmp_path_factory) -> Path:
    """Two articles of each of six events, with their gold rows."""
    d = tmp_path_factory.mktemp("slice")
    (d / "corpus").mkdir()
    keep = {f"{e}-0{k}" for e in EVENTS for k in (1, 2)}
    for aid in keep:
        shutil.copy(ROOT / f"data/corpus/{aid}.md", d / "corpus")
    gold = [
        x
        for x in (ROOT / "data/annotations/gold.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(x)["article_id"] in keep
    ]
    (d / "gold.jsonl").write_text("\n".join(gold) + "\n", encoding="utf-8")
    return d


def cfg_for(d: Path, out: str, **kw) -> DatasetConfig:
    base = dict(
        sources=[str(d / "corpus")],
        gold=[str(d / "gold.jsonl")],
        output=str(d / out),
        seed=7,
        test_fraction=0.34,
        validation_fraction=0.17,
        weak=WeakConfig(min_confidence=0.0),
        frozen_splits=None,  # a slice of six events: assign its own split
    )
    base.update(kw)
    return DatasetConfig(**base)


@pytest.fixture(scope="module")
def built(slice_dir, labels):
    from datasets import load_from_disk

    rep_a = build_dataset(cfg_for(slice_dir, "a"), labels, ExtractConfig())
    rep_b = build_dataset(cfg_for(slice_dir, "b"), labels, ExtractConfig())
    return (
        rep_a,
        rep_b,
        load_from_disk(str(slice_dir / "a/dataset")),
        load_from_disk(str(slice_dir / "b/dataset")),
    )


def test_same_config_gives_identical_splits(built):
    rep_a, rep_b, a, b = built
    assert rep_a.digests == rep_b.digests
    for split in ("train", "validation", "test"):
        assert a[split].to_list() == b[split].to_list()
        assert len(a[split]) > 0


def test_no_event_and_no_quote_group_spans_two_splits(built):
    _, _, dd, _ = built
    seen_event, seen_group = {}, {}
    for split in dd:
        for r in dd[split]:
            assert seen_event.setdefault(r["event"], split) == split
            assert seen_group.setdefault(normalise(r["text"]), split) == split


def test_weak_labels_only_in_train(built):
    _, _, dd, _ = built
    assert any(r["label_source"] == "weak" for r in dd["train"])  # min_confidence 0 keeps every weak vote
    for split in ("validation", "test"):
        assert {r["label_source"] for r in dd[split]} == {"gold"}


def test_card_shows_counts_and_unjoined_gold_is_reported(built, slice_dir):
    rep, _, dd, _ = built
    card = (slice_dir / "a/README.md").read_text(encoding="utf-8")
    for split in ("train", "validation", "test"):
        assert f"| {split} | {len(dd[split])} |" in card
    unjoined = (slice_dir / "a/unjoined_gold.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(unjoined) == len(rep.unjoined_gold)
    gold_ids = {json.loads(x)["quote_id"] for x in (slice_dir / "gold.jsonl").read_text().splitlines()}
    rows = sum(1 for s in dd for r in dd[s] if r["label_source"] == "gold")
    assert rows == len(gold_ids)  # every gold row is in the dataset, joined or not


def _bad_gold(slice_dir: Path, tmp_path: Path, change) -> Path:
    rows = [json.loads(x) for x in (slice_dir / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    change(rows)
    p = tmp_path / "bad.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda rows: rows[0].update(stance="maybe"), "not in the taxonomy"),
        (lambda rows: rows[1].update(quote_id=rows[0]["quote_id"]), "duplicate quote_id"),
        (lambda rows: rows[0].update(article_id="no-such-article"), "not among the sources"),
        (lambda rows: rows[0].update(char_start=10**7, char_end=10**7 + 5), "not in the article"),
    ],
)
def test_bad_gold_gives_one_clear_error_naming_the_row(slice_dir, labels, tmp_path, change, message):
    bad = _bad_gold(slice_dir, tmp_path, change)
    before = bad.read_bytes()
    with pytest.raises(DatasetError, match=message):
        build_dataset(cfg_for(slice_dir, "x", gold=[str(bad)]), labels, ExtractConfig())
    assert bad.read_bytes() == before  # the user's file is never modified


def test_empty_source_is_a_clear_error(slice_dir, labels, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no readable article"):
        build_dataset(cfg_for(slice_dir, "x", sources=[str(tmp_path / "empty")]), labels, ExtractConfig())


def test_mlflow_run_lists_the_dataset_inputs(slice_dir, labels, tmp_path, mlflow_uri):
    import mlflow

    from quotestance.dataset import log_dataset

    cfg = MlflowConfig(tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="t")
    build_dataset(cfg_for(slice_dir, "m"), labels, ExtractConfig(), tracking=log_dataset(cfg, {"seed": 7}))
    run = mlflow.search_runs(experiment_names=["t"], output_format="list")[0]
    names = sorted(i.dataset.name for i in run.inputs.dataset_inputs)
    assert names == ["quotestance-test", "quotestance-train", "quotestance-validation"]


def test_skipped_inputs_and_duplicate_ids_are_reported(slice_dir, labels, tmp_path):
    """Nothing is dropped unseen: unreadable inputs and a second source's copy of an id are listed."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "empty.txt").write_text("", encoding="utf-8")
    (extra / "blob.txt").write_bytes(bytes(range(256)) * 10)
    shutil.copy(slice_dir / "corpus" / "ev01-01.md", extra / "ev01-01.md")  # the same id from a second source
    cfg = cfg_for(slice_dir, "with-extra", sources=[str(slice_dir / "corpus"), str(extra)])
    rep = build_dataset(cfg, labels, ExtractConfig())
    reasons = {Path(s["source"]).name: s["reason"] for s in rep.skipped}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["blob.txt"]
    assert "duplicate article id" in reasons["ev01-01.md"]
    written = [json.loads(x) for x in (slice_dir / "with-extra/errors.jsonl").read_text().splitlines()]
    assert len(written) == len(rep.skipped) == 3
    assert "Inputs left out" in (slice_dir / "with-extra/README.md").read_text()


def test_user_gold_goes_to_train_only_with_its_weight(built, slice_dir, labels, tmp_path):
    """dataset.user_gold rows (as `quotestance-label import` writes them) join train with dataset.user_weight;
    validation and test, and so their digests and the promotion gate, stay the corpus's (unless a user
    validation share is asked for: then whole user events join validation, never test); a user quote that is
    also a held-out corpus quote is skipped with the reason, never trained on."""
    from datasets import load_from_disk

    rep_a, _, ds_a, _ = built
    held = ds_a["test"][0]
    user = tmp_path / "mine.jsonl"
    rows = [
        {
            "quote_id": "u1",
            "article_id": "news-1",
            "quote": "Pull the plug on them today.",
            "stance": "demand_takedown",
            "speaker": "A. Reader",
            "context": "Pull the plug on them today, a reader said.",
            "incident": "inc-1",
        },
        {
            "quote_id": "u2",
            "article_id": "news-2",
            "quote": "We serve everyone lawful.",
            "stance": "neutral_infrastructure",
        },
        {"quote_id": "u3", "article_id": "news-3", "quote": held["text"], "stance": held["label"]},
    ]
    user.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rep = build_dataset(
        cfg_for(slice_dir, "u", user_gold=[str(user)], user_weight=3.0), labels, ExtractConfig()
    )
    ds = load_from_disk(str(slice_dir / "u/dataset"))
    mine = [r for r in ds["train"] if r["label_source"] == "user"]
    assert sorted(r["quote_id"] for r in mine) == ["user:u1", "user:u2"] and {r["weight"] for r in mine} == {
        3.0
    }
    assert mine[0]["context"].startswith("Pull the plug") and mine[0]["event"] == "user:inc-1"
    assert {r["weight"] for r in ds["train"] if r["label_source"] != "user"} == {1.0}
    assert (
        rep.digests["test"] == rep_a.digests["test"]
        and rep.digests["validation"] == rep_a.digests["validation"]
    )
    assert rep.rows["train"] == rep_a.rows["train"] + 2
    assert any("held-out corpus quote" in s["reason"] for s in rep.skipped)
    assert "| user |" in (slice_dir / "u/README.md").read_text(encoding="utf-8")
    # asked for a user validation split: whole user events go to validation, still never to test
    rep_v = build_dataset(
        cfg_for(slice_dir, "uv", user_gold=[str(user)], user_validation=0.5), labels, ExtractConfig()
    )
    ds_v = load_from_disk(str(slice_dir / "uv/dataset"))
    val_user = [r["quote_id"] for r in ds_v["validation"] if r["label_source"] == "user"]
    train_user = [r["quote_id"] for r in ds_v["train"] if r["label_source"] == "user"]
    assert len(val_user) == 1 and len(train_user) == 1 and not set(val_user) & set(train_user)
    assert (
        rep_v.digests["test"] == rep_a.digests["test"]
        and rep_v.digests["validation"] != rep_a.digests["validation"]
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"quote": "x y", "stance": "maybe"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="stance 'maybe' is not in the taxonomy"):
        build_dataset(cfg_for(slice_dir, "x", user_gold=[str(bad)]), labels, ExtractConfig())


def test_frozen_splits_keep_events_in_place_and_send_new_events_to_train(tmp_path):
    from quotestance.dataset import assign_splits

    frozen = tmp_path / "splits.json"
    frozen.write_text(json.dumps({"a": "test", "b": "validation", "c": "train"}), encoding="utf-8")
    rows = [{"event": e, "text": f"quote of {e}"} for e in "abcdn"]
    rows.append(
        {"event": "e", "text": "quote of a"}
    )  # e shares a quote group with test event a: it follows a
    split_of, _ = assign_splits(rows, DatasetConfig(frozen_splits=str(frozen)))
    assert split_of == {"a": "test", "b": "validation", "c": "train", "d": "train", "n": "train", "e": "test"}
    with pytest.raises(DatasetError, match="not found"):
        assign_splits(rows, DatasetConfig(frozen_splits=str(tmp_path / "missing.json")))
    frozen.write_text(json.dumps({"a": "holdout"}), encoding="utf-8")
    with pytest.raises(DatasetError, match="must map events"):
        assign_splits(rows, DatasetConfig(frozen_splits=str(frozen)))


def test_shipped_frozen_splits_are_the_split_the_corpus_was_built_with():
    """The shipped dataset config pins the corpus's split (data/annotations/splits.json), so adding articles
    never moves an event between splits: the test digest and the promotion gate stay comparable."""
    import yaml

    from quotestance.dataset import frozen_splits

    conf = yaml.safe_load((CONF / "dataset/default.yaml").read_text(encoding="utf-8"))
    pinned = frozen_splits(str(ROOT / conf["frozen_splits"]))
    events = {p.stem[:4] for p in (ROOT / "data/corpus").glob("*.md")}
    assert {"test", "validation"} <= set(pinned.values()) and set(pinned) <= events
