"""Label Studio round trip: tasks out (most uncertain first), annotations back in as validated gold."""

from __future__ import annotations

import json

import pytest

from quotestance.label import from_export, label_config, main, to_tasks
from quotestance.records import LABELS as RECORD_LABELS

LABELS = list(RECORD_LABELS)
QUOTES = [
    {
        "quote_id": f"a:{i}-{i + 5}",
        "article_id": "a",
        "char_start": i,
        "char_end": i + 5,
        "kind": "direct",
        "speaker": "Dana Whitfield",
        "text": f"quote {i}",
        "context": "ctx",
    }
    for i in range(3)
]


def annotated(tasks, choices):
    out = []
    for k, (t, c) in enumerate(zip(tasks, choices)):
        anns = (
            []
            if c is None
            else [
                {
                    "result": [
                        {
                            "from_name": "stance",
                            "to_name": "quote",
                            "type": "choices",
                            "value": {"choices": [c]},
                        }
                    ],
                    "completed_by": 7,
                    "updated_at": "2026-11-28T10:00:00",
                }
            ]
        )
        out.append({**t, "id": k, "annotations": anns})
    return out


def test_tasks_are_sorted_most_uncertain_first_with_predictions():
    tasks = to_tasks(QUOTES, [("other", 0.9), ("demand_takedown", 0.3), ("other", 0.6)], "weak:v1")
    assert [t["predictions"][0]["score"] for t in tasks] == [0.3, 0.6, 0.9]
    assert tasks[0]["data"]["quote"] == "quote 1" and tasks[0]["predictions"][0]["model_version"] == "weak:v1"
    assert '<Choices name="stance" toName="quote"' in label_config(LABELS, {})


def test_import_round_trip_reports_conflicts_and_skips():
    tasks = to_tasks(QUOTES, [("other", 0.5)] * 3, "weak:v1")
    export = annotated(tasks, ["demand_takedown", None, "other"])
    existing = [{"article_id": "a", "quote_id": "gold-1", "char_start": 0, "char_end": 5, "stance": "other"}]
    rows, rep = from_export(export, LABELS, existing)
    assert [r["stance"] for r in rows] == ["demand_takedown", "other"]
    assert rows[0]["char_start"] == 0 and rows[0]["quote"] == "quote 0"
    assert rep.conflicts == [{"quote_id": "a:0-5", "existing": "other", "imported": "demand_takedown"}]
    assert len(rep.skipped) == 1 and "not annotated" in rep.skipped[0]


@pytest.mark.parametrize(
    "export,message", [({"tasks": []}, "expected a list"), ([{"id": 1, "data": {}}], "no data.quote_id")]
)
def test_corrupt_exports_raise_clear_errors(export, message):
    with pytest.raises(ValueError, match=message):
        from_export(export, LABELS, [])


def test_label_outside_taxonomy_is_an_error():
    export = annotated(to_tasks(QUOTES[:1], [("other", 0.5)], "v"), ["maybe"])
    with pytest.raises(ValueError, match="not in the taxonomy"):
        from_export(export, LABELS, [])


def test_cli_import_never_overwrites_existing_gold(tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps({"article_id": "a", "quote_id": "g", "char_start": 0, "char_end": 5, "stance": "other"})
        + "\n",
        encoding="utf-8",
    )
    before = gold.read_bytes()
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps(
            annotated(to_tasks(QUOTES, [("other", 0.5)] * 3, "v"), ["other", "other", "demand_takedown"])
        ),
        encoding="utf-8",
    )
    assert main(["import", str(export), str(gold), "--gold", str(gold)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    out = tmp_path / "new.jsonl"
    assert main(["import", str(export), str(out), "--gold", str(gold)]) == 0
    assert len(out.read_text().splitlines()) == 3 and gold.read_bytes() == before
    (tmp_path / "broken.json").write_text("{nope", encoding="utf-8")
    assert main(["import", str(tmp_path / "broken.json"), str(tmp_path / "x.jsonl")]) == 2


def _one(**task):
    base = annotated(to_tasks(QUOTES[:1], [("other", 0.5)], "v"), ["other"])[0]
    return [base | task]


@pytest.mark.parametrize(
    "export,message",
    [
        (_one(annotations="x"), "annotations is str, not a list"),
        (_one(annotations=[1]), "an annotation is int"),
        ([1], "task 0: is int, not an object"),
        (_one(data={"quote_id": ["a", "list"], "quote": "q"}), "no data.quote_id"),
        (_one(annotations=[{"result": "x"}]), "annotation result is str"),
        (_one(annotations=[{"result": [{"value": {"choices": "other"}}]}]), "value.choices is str"),
        (_one(annotations=[{"result": [{"value": {"choices": [{"x": 1}]}}]}]), "other than strings"),
    ],
)
def test_valid_json_of_the_wrong_shape_is_a_clear_error(export, message):
    with pytest.raises(ValueError, match=message):
        from_export(export, LABELS, [])


def test_mixed_timestamp_types_and_a_list_id_do_not_crash():
    task = _one()[0]
    older = {
        **task["annotations"][0],
        "updated_at": 5,
        "result": [{"from_name": "stance", "value": {"choices": ["demand_takedown"]}}],
    }
    task = task | {"id": ["odd"], "annotations": [older, task["annotations"][0]]}
    rows, _ = from_export([task], LABELS, [])
    assert [r["stance"] for r in rows] == ["other"]  # the ISO-dated annotation sorts after the number


def test_cli_import_never_replaces_an_existing_file_unless_asked(tmp_path, capsys):
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps(annotated(to_tasks(QUOTES, [("other", 0.5)] * 3, "v"), ["other"] * 3)), encoding="utf-8"
    )
    project_gold = tmp_path / "gold.jsonl"  # the project's gold, not named in --gold this time
    project_gold.write_text("{}\n", encoding="utf-8")
    assert main(["import", str(export), str(project_gold), "--gold"]) == 2
    assert "exists" in capsys.readouterr().err and project_gold.read_text() == "{}\n"
    assert main(["import", str(export), str(project_gold), "--gold", "--overwrite"]) == 0
    assert len(project_gold.read_text().splitlines()) == 3


@pytest.mark.slow
def test_export_ranks_by_the_champions_uncertainty(tmp_path, mlflow_uri, fake_run, labels, capsys):
    """Tasks come out least confident first by the model analysts score with, not by the weak labeller; with no
    champion, a clear error names the ways out."""
    import json

    import mlflow
    import pandas as pd

    from quotestance.config import MlflowConfig, RegisterConfig
    from quotestance.register import register_run
    from quotestance.tracking import setup

    quotes = tmp_path / "quotes.jsonl"
    texts = [
        "We take sites down when a court orders it.",
        "Cut them off now.",
        "Sunny today.",
        "",
        "We host.",
    ]
    quotes.write_text(
        "".join(
            json.dumps({"quote_id": f"q{i}", "article_id": "a", "text": t, "speaker": "Dana", "context": t})
            + "\n"
            for i, t in enumerate(texts)
        )
    )
    out = tmp_path / "tasks.json"
    assert main(["export", str(quotes), str(out)]) == 2
    assert "--ranker weak" in capsys.readouterr().err
    mcfg = MlflowConfig(
        tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="quotestance"
    )
    setup(mcfg)
    (tmp_path / "m").mkdir()
    register_run(RegisterConfig(run_id=fake_run(tmp_path / "m", 0.6, 0.6, "d")), mcfg, labels)
    assert main(["export", str(quotes), str(out)]) == 0
    tasks = json.loads(out.read_text())
    scores = [t["predictions"][0]["score"] for t in tasks]
    assert scores == sorted(scores) and {t["predictions"][0]["model_version"] for t in tasks} == {
        "quote-stance v1"
    }
    assert (
        tasks[0]["data"]["quote_id"] == "q3" and scores[0] == 0.0
    )  # the empty quote: the model cannot take it
    model = mlflow.pyfunc.load_model("models:/quote-stance@champion")
    direct = model.predict(pd.DataFrame({"quote": [texts[1]], "speaker": ["Dana"], "context": [texts[1]]}))
    by_id = {t["data"]["quote_id"]: t["predictions"][0] for t in tasks}
    assert by_id["q1"]["score"] == round(float(direct["confidence"][0]), 4)
    assert by_id["q1"]["result"][0]["value"]["choices"] == [direct["label"][0]]
