"""Dataset stage: articles + gold annotations -> validated, event-grouped splits as a Hugging Face dataset.

Quotes come from the extraction stage (what scoring will see); gold labels join them by span overlap, so
small offset shifts (whitespace, quote marks, a trailing comma) do not matter. Gold rows that join no
extracted quote keep their own span and are listed in the report, never dropped. Quotes without gold get
weak labels, in the train split only. Near-identical quotes form one group, and events joined by a group
are kept together, so no event and no quote group is ever on both sides of a split.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from quotestance.config import DatasetApp, DatasetConfig, LabelsConfig, MlflowConfig
from quotestance.extract import read_articles
from quotestance.extract.batch import extract_cached
from quotestance.extract.spans import match_span, strip_marks
from quotestance.io import atomic_writer, read_gold, read_jsonl, write_jsonl
from quotestance.progress import bar, say
from quotestance.records import EXIT_SKIPPED, LABELLED_COLUMNS, Article, LabelledQuote, Skip
from quotestance.tracking import tracked_run

SPLITS = ("train", "validation", "test")
COLUMNS = LABELLED_COLUMNS  # what each split holds, in this order


class DatasetError(ValueError):
    """Bad input, with every offending row named."""


@dataclass
class DatasetReport:
    rows: dict[str, int]
    label_counts: dict[str, dict[str, int]]
    source_counts: dict[str, dict[str, int]]
    event_splits: dict[str, str]
    unjoined_gold: list[str]
    unlabelled_dropped: int
    weak_accuracy: dict[str, float] = field(default_factory=dict)
    kappa: float | None = None
    seconds: float = 0.0
    digests: dict[str, str] = field(default_factory=dict)
    skipped: list[dict[str, str | None]] = field(
        default_factory=list
    )  # inputs left out, each with its reason


def normalise(text: str) -> str:
    """The key that makes near-identical quotes (case, punctuation, quote marks, spacing) one group."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def load_gold(paths: list[str], labels: list[str]) -> list[dict[str, Any]]:
    """Gold rows from every file; a label outside the taxonomy or a duplicate id is an error naming the rows."""
    rows, problems, seen = [], [], set()
    for path in paths:
        if not Path(path).exists():
            raise DatasetError(f"gold file not found: {path}")
        for n, r in enumerate(read_gold(path, default_article=""), 1):
            r["quote_id"] = str(r.get("quote_id") or f"{Path(path).stem}:{n}")
            where = f"{path}:{n} ({r['quote_id']})"
            if r.get("stance") not in labels:
                problems.append(f"{where}: stance {r.get('stance')!r} is not in the taxonomy {labels}")
            if r["quote_id"] in seen:
                problems.append(f"{where}: duplicate quote_id")
            if not isinstance(r.get("char_start"), int) or not isinstance(r.get("char_end"), int):
                problems.append(f"{where}: char_start/char_end missing")
            seen.add(r["quote_id"])
            rows.append(r)
    if problems:
        raise DatasetError("bad gold rows:\n" + "\n".join(problems))
    return rows


def join_gold(
    articles: dict[str, Article], quotes: dict[str, list[dict]], gold: list[dict], min_overlap: float
) -> tuple[list[dict], list[dict], list[str]]:
    """(gold-labelled rows, extracted rows without gold, gold ids that joined no extracted quote)."""
    problems = [
        f"{g['quote_id']}: article {g['article_id']!r} is not among the sources"
        for g in gold
        if g["article_id"] not in articles
    ]
    for g in gold:
        art = articles.get(g["article_id"])
        if art is not None and not 0 <= g["char_start"] < g["char_end"] <= len(art.text):
            problems.append(f"{g['quote_id']}: span {g['char_start']}-{g['char_end']} is not in the article")
    if problems:
        raise DatasetError("gold rows that match no article:\n" + "\n".join(problems))
    used: set[tuple[str, int]] = set()
    labelled, unjoined = [], []
    for g in gold:
        text = articles[g["article_id"]].text
        gs = strip_marks((g["char_start"], g["char_end"]), text)
        bi = match_span(
            gs,
            (
                (i, strip_marks((q["char_start"], q["char_end"]), text))
                for i, q in enumerate(quotes.get(g["article_id"], []))
                if (g["article_id"], i) not in used
            ),
            min_overlap,
        )
        if bi is not None:
            used.add((g["article_id"], bi))
            q = quotes[g["article_id"]][bi]
            labelled.append(
                {
                    **q,
                    "label": g["stance"],
                    "label_source": "gold",
                    "label_confidence": 1.0,
                    "extracted": True,
                }
            )
        else:
            unjoined.append(g["quote_id"])
            labelled.append(
                {
                    "quote_id": g["quote_id"],
                    "article_id": g["article_id"],
                    "text": text[g["char_start"] : g["char_end"]],
                    "speaker": g.get("speaker"),
                    "speaker_role": g.get("speaker_role"),
                    "speaker_org": g.get("speaker_org"),
                    "kind": g.get("kind", "direct"),
                    "context": line_around(text, g["char_start"], g["char_end"]),
                    "char_start": g["char_start"],
                    "char_end": g["char_end"],
                    "label": g["stance"],
                    "label_source": "gold",
                    "label_confidence": 1.0,
                    "extracted": False,
                }
            )
    rest = [
        {**q, "extracted": True}
        for aid, qs in quotes.items()
        for i, q in enumerate(qs)
        if (aid, i) not in used
    ]
    return labelled, rest, unjoined


def assign_splits(rows: list[dict], cfg: DatasetConfig) -> tuple[dict[str, str], dict[str, str]]:
    """(event -> split, normalised text -> group id). Events that share a quote group move together."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    groups: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        groups[normalise(r["text"])].add(r["event"])
        find(r["event"])
    for evs in groups.values():
        first, *others = sorted(evs)
        for e in others:
            parent[find(e)] = find(first)
    components: dict[str, list[str]] = defaultdict(list)
    for e in sorted(parent):
        components[find(e)].append(e)
    comps = sorted(components.values())
    group_id = {k: "g" + hashlib.sha1(k.encode()).hexdigest()[:10] for k in groups}
    frozen = frozen_splits(cfg.frozen_splits)
    if frozen:
        return _keep_frozen(comps, frozen), group_id
    random.Random(cfg.seed).shuffle(comps)
    n_events = sum(len(c) for c in comps)
    split_of: dict[str, str] = {}
    quota = {"test": cfg.test_fraction * n_events, "validation": cfg.validation_fraction * n_events}
    taken = {"test": 0, "validation": 0}
    for comp in comps:
        target = next(
            (
                s
                for s in ("test", "validation")
                if taken[s] + len(comp) / 2 <= quota[s] and taken[s] < quota[s]
            ),
            "train",
        )
        if target != "train":
            taken[target] += len(comp)
        for e in comp:
            split_of[e] = target
    return split_of, group_id


def frozen_splits(path: str | None) -> dict[str, str]:
    """event -> split from dataset.frozen_splits (a folds.json this stage wrote, or a JSON {event: split}); {}
    when unset. A named file that is missing or malformed is an error, not a silent reshuffle."""
    if not path:
        return {}
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"dataset.frozen_splits {path} not found (set it to null to assign splits afresh)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DatasetError(f"dataset.frozen_splits {path} is not JSON: {e}") from None
    data = data.get("splits", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not all(v in SPLITS for v in data.values()):
        raise DatasetError(f"dataset.frozen_splits {path} must map events to one of {SPLITS}")
    return data


def _keep_frozen(comps: list[list[str]], frozen: dict[str, str]) -> dict[str, str]:
    """Every event keeps its frozen split; an event added since goes to train, unless a shared quote group joins
    it to frozen held-out events (then it follows them: test before validation before train)."""
    split_of: dict[str, str] = {}
    for comp in comps:
        known = {frozen[e] for e in comp if e in frozen}
        target = next((s for s in ("test", "validation", "train") if s in known), "train")
        for e in comp:
            split_of[e] = target
    return split_of


def loeo_folds(events: list[str]) -> dict[str, int]:
    """Leave-one-event-out cross-validation: fold k holds out the k-th event (sorted)."""
    return {e: k for k, e in enumerate(sorted(events))}


def dataset(app: DatasetApp, params: dict[str, Any]) -> int:
    """Build the dataset (logged as an MLflow run). Exit code: 0, EXIT_SKIPPED when inputs were skipped
    (listed in <output>/errors.jsonl), 2 on error."""
    import sys

    from quotestance.progress import quiet_libraries

    quiet_libraries()
    try:
        rep = build_dataset(app.dataset, app.labels, app.extract, tracking=log_dataset(app.mlflow, params))
    except (DatasetError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = app.dataset.output
    print(
        f"dataset: train={rep.rows['train']} validation={rep.rows['validation']} test={rep.rows['test']} "
        f"unjoined_gold={len(rep.unjoined_gold)} skipped={len(rep.skipped)} seconds={rep.seconds:.1f} -> "
        f"{out}" + (f" (skipped inputs: {out}/errors.jsonl)" if rep.skipped else ""),
        file=sys.stderr,
    )
    return EXIT_SKIPPED if rep.skipped else 0


def build_dataset(
    cfg: DatasetConfig, labels: LabelsConfig, extract_cfg, tracking: Any = None
) -> DatasetReport:
    """Build the dataset under cfg.output (DatasetDict + card + reports) and return what was built."""
    from datasets import Dataset, DatasetDict

    from quotestance.extract.batch import load_nlp

    t0 = time.perf_counter()
    names = [lab.name for lab in labels.labels]
    gold = load_gold(list(cfg.gold), names)
    articles: dict[str, Article] = {}
    skipped: list[dict[str, str | None]] = []  # written to errors.jsonl and counted: never dropped unseen
    for src in cfg.sources:
        items = list(read_articles(src))
        found = [a for a in items if isinstance(a, Article)]
        if not found:
            raise DatasetError(f"source {src!r} holds no readable article")
        skipped += [
            {"source": s.source, "article_id": s.article_id, "reason": s.reason}
            for s in items
            if isinstance(s, Skip)
        ]
        for a in found:
            if a.id in articles:  # two sources with one id: the first is kept, the other reported
                skipped.append(
                    {
                        "source": a.source,
                        "article_id": a.id,
                        "reason": f"duplicate article id: already read from {articles[a.id].source}",
                    }
                )
                continue
            articles[a.id] = a
    nlp = load_nlp(extract_cfg.spacy_model)
    quotes: dict[str, list[dict]] = {}
    for art, qs in bar(
        extract_cached(
            list(articles.values()),
            nlp,
            extract_cfg.cache_dir,
            n_process=extract_cfg.n_process,
            max_seconds=extract_cfg.max_seconds_per_article,
            select=extract_cfg.select,
        ),
        total=len(articles),
        desc="extracting quotes",
        unit="article",
    ):
        if isinstance(qs, Exception):
            skipped.append(
                {
                    "source": art.source,
                    "article_id": art.id,
                    "reason": f"extraction failed: {type(qs).__name__}: {qs}",
                }
            )
        quotes[art.id] = [] if isinstance(qs, Exception) else [q.to_dict() for q in qs]
    labelled, unlabelled, unjoined = join_gold(articles, quotes, gold, cfg.min_join_overlap)
    for r in labelled + unlabelled:
        art = articles[r["article_id"]]
        r["event"] = art.event or art.id  # an article without an event is its own event
        r["article_length"] = len(art.text)
    split_of, group_id = assign_splits(labelled + unlabelled, cfg)

    weak_acc: dict[str, float] = {}
    weak_rows: list[dict] = []
    pool = [r for r in unlabelled if split_of[r["event"]] == "train"]
    if cfg.weak.enabled:
        say(f"weak labels for {len(pool)} unlabelled train quotes")
        weak_rows, weak_acc = _weak_labels(cfg, labels, labelled, pool, split_of)
    dropped = len(unlabelled) - len(weak_rows)

    rows = labelled + weak_rows
    for r in rows:
        r["group_id"] = group_id[normalise(r["text"])]
        r["label_confidence"] = round(float(r["label_confidence"]), 4)
    held_out = {normalise(r["text"]) for r in rows if split_of[r["event"]] != "train"}
    users = _user_rows(cfg, names, held_out, skipped)
    user_val = user_validation_events(users, cfg.user_validation, cfg.seed)
    for r in users:
        split_of[r["event"]] = "validation" if r["event"] in user_val else "train"
    rows += users
    validate(rows, names)
    splits = {
        s: sorted((r for r in rows if split_of[r["event"]] == s), key=lambda r: r["quote_id"]) for s in SPLITS
    }
    if not splits["train"]:
        raise DatasetError("the train split is empty: add sources or lower test/validation fractions")
    # `weight` is what a row counts for in the training loss (dataset.user_weight for the user's rows); it is
    # not in the digests, so a dataset with user rows keeps the corpus's test digest and its promotion gate
    dd = DatasetDict(
        {
            s: Dataset.from_list(
                [{c: r.get(c) for c in COLUMNS} | {"weight": r.get("weight", 1.0)} for r in splits[s]]
            )
            for s in SPLITS
        }
    )
    out = Path(cfg.output)
    _save_atomically(dd, out / "dataset")
    events = sorted({r["event"] for r in rows})
    with atomic_writer(out / "folds.json") as fh:
        json.dump(
            {"leave_one_event_out": loeo_folds(events), "splits": {e: split_of[e] for e in events}},
            fh,
            indent=1,
        )
    write_jsonl(({"quote_id": q} for q in unjoined), out / "unjoined_gold.jsonl")
    write_jsonl(skipped, out / "errors.jsonl")
    report = DatasetReport(
        rows={s: len(v) for s, v in splits.items()},
        label_counts={s: dict(Counter(r["label"] for r in v)) for s, v in splits.items()},
        source_counts={s: dict(Counter(r["label_source"] for r in v)) for s, v in splits.items()},
        event_splits={e: split_of[e] for e in events},
        unjoined_gold=unjoined,
        unlabelled_dropped=dropped,
        weak_accuracy=weak_acc,
        kappa=_kappa(gold),
        seconds=time.perf_counter() - t0,
        digests={s: _digest(v) for s, v in splits.items()},
        skipped=skipped,
    )
    card = dataset_card(report, cfg, labels, splits)
    with atomic_writer(out / "README.md") as fh:
        fh.write(card)
    if tracking is not None:
        tracking(report, splits, out)
    return report


def user_validation_events(users: list[dict], share: float, seed: int) -> set[str]:
    """The user's events (whole) held out as validation (dataset.user_validation): in a seeded hash order, each
    event that still fits within `share` of the user's rows; at least one, never all (some must train).

    >>> rows = [{"event": e} for e in "aabbbc"]
    >>> sorted(user_validation_events(rows, 0.3, 13)), user_validation_events(rows, 0.0, 13)
    (['c'], set())
    """
    sizes = Counter(r["event"] for r in users)
    if share <= 0 or len(sizes) < 2:
        return set()
    order = sorted(sizes, key=lambda e: hashlib.sha1(f"{seed}:{e}".encode()).hexdigest())
    held: set[str] = set()
    rows = 0
    for e in order[:-1]:  # the last event always trains
        if rows + sizes[e] <= share * len(users):
            held.add(e)
            rows += sizes[e]
    return held or {order[0]}  # asked for some: at least one event


def _user_rows(cfg: DatasetConfig, labels: list[str], held_out: set[str], skipped: list[dict]) -> list[dict]:
    """The user's own labelled quotes (dataset.user_gold, as `quotestance-label import` writes them) as train
    rows of weight dataset.user_weight (or, for dataset.user_validation's share of their events, validation
    rows). They never reach test: the corpus's test split, and so the promotion gate, stay what they were. A row whose quote is also a held-out corpus quote is skipped
    (it would leak), with the reason in errors.jsonl."""
    rows, problems, seen = [], [], set()
    for path in cfg.user_gold:
        if not Path(path).exists():
            raise DatasetError(f"dataset.user_gold: {path} not found")
        for n, g in enumerate(read_gold(path, default_article=""), 1):
            qid = f"user:{g.get('quote_id') or f'{Path(path).stem}:{n}'}"
            text = str(g.get("quote") or g.get("text") or "")
            where = f"{path}:{n} ({qid})"
            if g.get("stance") not in labels:
                problems.append(f"{where}: stance {g.get('stance')!r} is not in the taxonomy {labels}")
                continue
            if not text.strip() or qid in seen:
                problems.append(f"{where}: {'empty quote' if not text.strip() else 'duplicate quote_id'}")
                continue
            seen.add(qid)
            if normalise(text) in held_out:
                skipped.append(
                    {
                        "source": where,
                        "article_id": g.get("article_id"),
                        "reason": "user quote is a held-out corpus quote: not trained on",
                    }
                )
                continue
            article = str(g.get("article_id") or Path(path).stem)
            start = g.get("char_start") if isinstance(g.get("char_start"), int) else 0
            end = g.get("char_end") if isinstance(g.get("char_end"), int) else start + len(text)
            rows.append(
                {
                    "quote_id": qid,
                    "article_id": article,
                    "event": f"user:{g.get('incident') or g.get('event') or article}",
                    "text": text,
                    "speaker": g.get("speaker"),
                    "speaker_role": g.get("speaker_role"),
                    "speaker_org": g.get("speaker_org"),
                    "kind": g.get("kind") or "direct",
                    "context": str(g.get("context") or text),
                    "char_start": start,
                    "char_end": end,
                    "label": g["stance"],
                    "label_source": "user",
                    "label_confidence": 1.0,
                    "group_id": qid,
                    "extracted": False,
                    "article_length": max(end, int(g.get("article_length") or 0)),
                    "weight": float(cfg.user_weight),
                }
            )
    if problems:
        raise DatasetError("bad user gold rows:\n" + "\n".join(problems))
    return rows


def validate(rows: list[dict], labels: list[str]) -> None:
    """Every row against the schema; one error listing every bad row."""
    problems = []
    seen: Counter = Counter(r.get("quote_id") for r in rows)
    for r in rows:
        try:
            LabelledQuote(**{k: r.get(k) for k in LabelledQuote.model_fields})
        except ValidationError as e:
            problems.append(
                f"{r.get('quote_id')}: "
                + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            )
        if r.get("label") not in labels:
            problems.append(f"{r.get('quote_id')}: label {r.get('label')!r} not in the taxonomy")
        if seen[r.get("quote_id")] > 1:
            problems.append(f"{r.get('quote_id')}: quote_id is not unique")
    if problems:
        raise DatasetError(f"{len(problems)} invalid dataset rows:\n" + "\n".join(sorted(set(problems))))


def _weak_labels(
    cfg: DatasetConfig, labels: LabelsConfig, labelled: list[dict], pool: list[dict], split_of: dict[str, str]
) -> tuple[list[dict], dict[str, float]]:
    """Weak labels for the train pool; the labeller's accuracy on validation gold, which it never saw (and
    realdev). Not on the test events: nothing chosen from these figures may have looked at them, and the
    labeller embeds every quote it is measured on (the test events were about a sixth of the quotes it embedded)."""
    from quotestance.weak_labels import Row, WeakLabeller

    def row(r: dict) -> Row:
        return Row(r["text"], r.get("speaker"), r.get("speaker_role"), r.get("speaker_org"), r.get("cue"))

    names = [lab.name for lab in labels.labels]
    desc = {lab.name: lab.description for lab in labels.labels}
    train_gold = [r for r in labelled if split_of[r["event"]] == "train"]
    val_gold = [r for r in labelled if split_of[r["event"]] == "validation"]
    wl = WeakLabeller(
        names,
        desc,
        cfg.weak.model,
        rule_weight=cfg.weak.rule_weight,
        prototype_weight=cfg.weak.prototype_weight,
    )
    wl.fit([row(r) for r in train_gold], [r["label"] for r in train_gold])
    acc: dict[str, float] = {}
    for name, rows in (("validation_gold", val_gold), ("realdev", _realdev_rows(cfg))):
        if rows:
            pred = wl.predict([row(r) for r in rows])
            acc[f"{name}_accuracy"] = sum(p == r["label"] for (p, _), r in zip(pred, rows)) / len(rows)
            kept = [(p, r) for (p, c), r in zip(pred, rows) if c >= cfg.weak.min_confidence]
            acc[f"{name}_coverage_at_min_confidence"] = len(kept) / len(rows)
            acc[f"{name}_accuracy_at_min_confidence"] = (
                sum(p == r["label"] for p, r in kept) / len(kept) if kept else 0.0
            )
    out = []
    if pool:
        for r, (label, conf) in zip(pool, wl.predict([row(r) for r in pool], cfg.weak.min_confidence)):
            if label is not None:
                out.append({**r, "label": label, "label_source": "weak", "label_confidence": conf})
    return out, acc


def _realdev_rows(cfg: DatasetConfig) -> list[dict]:
    """realdev's gold quotes, for measuring the weak labeller only (never for training)."""
    path = Path(cfg.realdev) / "quotes.jsonl" if cfg.realdev else None
    if path is None or not path.exists():
        return []
    return [
        {
            "text": r["quote"],
            "speaker": r.get("speaker"),
            "speaker_role": r.get("speaker_role"),
            "label": r["stance"],
        }
        for r in read_jsonl(path)
    ]


def _kappa(gold: list[dict]) -> float | None:
    from quotestance.corpus import cohen_kappa

    paired = [g for g in gold if g.get("first_stance") and g.get("second_stance")]
    return (
        round(cohen_kappa([g["first_stance"] for g in paired], [g["second_stance"] for g in paired]), 3)
        if paired
        else None
    )


def _digest(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps({c: r.get(c) for c in COLUMNS}, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def _save_atomically(dd, target: Path) -> None:
    """save_to_disk into a temporary folder beside the target, then swap it in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        dd.save_to_disk(str(tmp / "d"))
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            target.rename(old)
        (tmp / "d").rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def dataset_card(
    rep: DatasetReport, cfg: DatasetConfig, labels: LabelsConfig, splits: dict[str, list[dict]]
) -> str:
    names = [lab.name for lab in labels.labels]
    lines = [
        "# quotestance dataset",
        "",
        "Built by `quotestance-dataset` (Hydra app; config group `src/quotestance/conf/dataset/`, taxonomy `src/quotestance/conf/labels/`) "
        f"from sources {list(cfg.sources)} and gold files {list(cfg.gold)}; seed {cfg.seed}. Quotes come "
        "from the extraction stage; gold labels join them by span overlap "
        f">= {cfg.min_join_overlap}; quotes without gold get weak labels in train only. Splits hold whole "
        "events, and events that share a near-identical quote stay together.",
        "",
        "## Counts",
        "",
        "| split | rows | " + " | ".join(names) + " | gold | weak | user | events |",
        "|---|---:|" + "---:|" * (len(names) + 4),
    ]
    for s in SPLITS:
        ev = sorted({r["event"] for r in splits[s]})
        lines.append(
            f"| {s} | {rep.rows[s]} | "
            + " | ".join(str(rep.label_counts[s].get(n, 0)) for n in names)
            + f" | {rep.source_counts[s].get('gold', 0)} | {rep.source_counts[s].get('weak', 0)} | "
            f"{rep.source_counts[s].get('user', 0)} | {len(ev)} |"
        )
    lines += ["", "| event | split | rows |", "|---|---|---:|"]
    per_event = Counter(r["event"] for s in SPLITS for r in splits[s])
    lines += [f"| {e} | {rep.event_splits[e]} | {per_event[e]} |" for e in sorted(rep.event_splits)]
    lines += [
        "",
        "## Labels and their sources",
        "",
        f"- Gold rows that joined no extracted quote (kept with their gold span): {len(rep.unjoined_gold)}"
        " (ids in `unjoined_gold.jsonl`).",
        f"- Inputs left out (unreadable, empty, duplicate id, extraction failed): {len(rep.skipped)} (each "
        "with its reason in `errors.jsonl`).",
        f"- Extracted quotes without gold left unlabelled (validation/test, or weak vote below "
        f"{cfg.weak.min_confidence}): {rep.unlabelled_dropped}.",
    ]
    if rep.kappa is not None:
        lines.append(
            f"- Corpus inter-annotator agreement (first vs second pass): Cohen's kappa {rep.kappa:.2f}."
        )
    if rep.weak_accuracy:
        lines += [
            "",
            "Weak labeller (labelling functions + prototype labeller, weighted vote), measured on gold "
            "it never saw (the validation events; the test events are left unseen by every choice) and on realdev "
            "(measurement only):",
            "",
            "| metric | value |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {v:.3f} |" for k, v in sorted(rep.weak_accuracy.items())]
    lines += [
        "",
        "## Files",
        "",
        "- `dataset/`: `datasets.DatasetDict` (`load_from_disk`), columns "
        + ", ".join(f"`{c}`" for c in COLUMNS)
        + ".",
        "- `folds.json`: leave-one-event-out folds and the event -> split map.",
        "- Split digests (sha256 of the rows, first 16 hex): "
        + ", ".join(f"{s} `{d}`" for s, d in rep.digests.items())
        + ".",
        f"- Built in {rep.seconds:.1f} s.",
        "",
    ]
    return "\n".join(lines)


def log_dataset(cfg: MlflowConfig, params: dict[str, Any]):
    """A callback for build_dataset: one MLflow run with the params, each split as a dataset input, the card."""

    def log(report, splits: dict[str, list[dict]], out: Path) -> None:
        import warnings

        import mlflow
        import pandas as pd

        with tracked_run(cfg, "dataset", "dataset", params), warnings.catch_warnings():
            # a folder source is ambiguous to MLflow's registry and integer columns draw a schema hint: both benign
            warnings.simplefilter("ignore", UserWarning)
            for split, rows in splits.items():
                df = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=list(COLUMNS))
                ds = mlflow.data.from_pandas(
                    df,
                    source=str((out / "dataset" / split).resolve()),
                    targets="label",
                    name=f"quotestance-{split}",
                    digest=report.digests[split],
                )
                mlflow.log_input(ds, context=split)
                mlflow.log_metric(f"rows_{split}", len(rows))
            for k, v in report.weak_accuracy.items():
                mlflow.log_metric(f"weak_{k}", v)
            mlflow.log_metric("unjoined_gold", len(report.unjoined_gold))
            mlflow.log_artifact(str(out / "README.md"))
            mlflow.log_artifact(str(out / "folds.json"))

    return log


def line_around(text: str, start: int, end: int | None = None) -> str:
    """The line (paragraph) of `text` that holds [start, end): a quote's context when no parse is at hand."""
    a = max(text.rfind("\n", 0, start), 0)
    b = text.find("\n", start if end is None else end)
    return text[a : b if b != -1 else len(text)].strip()


def external_rows(quotes_path: str, texts_dir: str) -> list[dict[str, Any]]:
    """A measurement set in the gold-quote format (realdev), with the sentence around each quote as context."""
    texts = (
        {p.stem: p.read_text(encoding="utf-8") for p in Path(texts_dir).glob("*.txt")} if texts_dir else {}
    )
    rows = []
    for q in read_gold(quotes_path):
        t = texts.get(q["article_id"], "")
        rows.append(
            {
                "quote_id": q.get("quote_id"),
                "event": q.get("event"),
                "text": q["quote"],
                "speaker": q.get("speaker"),
                # the line around it in its text; else the context the row carries (quotestance-label import)
                "context": line_around(t, q.get("char_start", 0), q.get("char_end"))
                if t
                else q.get("context") or "",
                "label": q["stance"],
            }
        )
    return rows


def load_splits(output: str, labels: LabelsConfig) -> dict[str, list[dict[str, Any]]]:
    """The splits quotestance-dataset wrote under `output`, their labels checked against the configured set."""
    from datasets import load_from_disk

    path = Path(output) / "dataset"
    if not path.exists():
        raise DatasetError(f"no dataset at {path}: run `quotestance-dataset` first")
    dd = load_from_disk(str(path))
    splits = {s: dd[s].to_list() for s in SPLITS}
    names = labels.names
    found = sorted({r["label"] for rows in splits.values() for r in rows} - set(names))
    if found:
        raise DatasetError(f"dataset labels {found} are not in the configured label set {names}")
    if not set(labels.stance) <= set(names):
        raise DatasetError(f"labels.stance {labels.stance} must be a subset of {names}")
    return splits
