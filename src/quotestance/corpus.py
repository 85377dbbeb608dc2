"""The project's own news corpus: resolve annotation parts into gold rows with exact offsets.

Annotators write quotes as text (what they see), never as character offsets: offsets are derived here
from the article body exactly as `quotestance.extract.ingest` reads it, so they can never drift.

A *part* row (data/annotations/parts/*.jsonl) holds: article_id, quote (exact substring of the body),
optional occurrence (1-based, when the same text appears more than once), kind, speaker, speaker_role,
speaker_org, stance, confidence, rationale. `build_gold` turns all parts into data/annotations/gold.jsonl.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from quotestance.extract.ingest import decode, split_front_matter
from quotestance.io import read_jsonl

LABELS = ("demand_takedown", "neutral_infrastructure", "law_enforcement_deference", "other")
KINDS = ("direct", "indirect")
CONFIDENCES = ("clear", "ambiguous")


def read_body(path: Path) -> tuple[dict, str]:
    """Front matter (every value a string) and body of a corpus article, read as the extraction stage reads it.

    The body is what gold offsets index into, so it comes from ingest's own decoding and front-matter parser:
    one parser, and offsets that cannot drift from the extracted quotes'. Undecodable files raise ValueError,
    hostile front matter FrontMatterError (a ValueError).
    """
    text, note = decode(path.read_bytes())
    if text is None:
        raise ValueError(f"{path}: {note}")
    return split_front_matter(text)


def resolve_row(row: dict, body: str) -> tuple[int, int]:
    """Character span of row['quote'] in the body; ValueError when it is absent or ambiguous."""
    quote = row["quote"]
    starts = [m.start() for m in re.finditer(re.escape(quote), body)]
    if not starts:
        raise ValueError(f"quote not found in article {row['article_id']}: {quote[:70]!r}")
    occ = int(row.get("occurrence") or 1)
    if occ > len(starts):
        raise ValueError(f"occurrence {occ} > {len(starts)} matches for {quote[:70]!r}")
    if len(starts) > 1 and not row.get("occurrence"):
        raise ValueError(f"quote occurs {len(starts)} times, give 'occurrence': {quote[:70]!r}")
    return starts[occ - 1], starts[occ - 1] + len(quote)


def check_row(row: dict) -> list[str]:
    """Problems with one part row's fields (not its span)."""
    problems = []
    for key in ("article_id", "quote", "kind", "stance", "confidence"):
        if not row.get(key):
            problems.append(f"missing {key}")
    if row.get("kind") not in KINDS:
        problems.append(f"kind {row.get('kind')!r} not in {KINDS}")
    if row.get("stance") not in LABELS:
        problems.append(f"stance {row.get('stance')!r} not in {LABELS}")
    if row.get("confidence") not in CONFIDENCES:
        problems.append(f"confidence {row.get('confidence')!r} not in {CONFIDENCES}")
    q = row.get("quote") or ""
    if q != q.strip():
        problems.append("quote has leading/trailing whitespace")
    if q and (q[0] in '"“”' or q[-1] in '"“”'):
        problems.append("quote includes quotation marks; give the text inside them")
    return problems


def build_gold(corpus_dir: Path, parts: list[Path]) -> tuple[list[dict], list[str]]:
    """Gold rows (sorted, with quote ids and offsets) and a list of every problem found."""
    bodies = {p.stem: read_body(p) for p in sorted(corpus_dir.glob("*.md"))}
    rows, errors = [], []
    for part in parts:
        for n, line in enumerate(part.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{part.name}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: not JSON ({e})")
                continue
            problems = check_row(row)
            aid = row.get("article_id")
            if aid not in bodies:
                problems.append(f"no article {aid!r} in {corpus_dir}")
            if problems:
                errors.append(f"{where}: " + "; ".join(problems))
                continue
            try:
                start, end = resolve_row(row, bodies[aid][1])
            except ValueError as e:
                errors.append(f"{where}: {e}")
                continue
            rows.append({**row, "char_start": start, "char_end": end})
    rows.sort(key=lambda r: (r["article_id"], r["char_start"], r["char_end"]))
    seen: Counter = Counter()
    out = []
    for r in rows:
        seen[r["article_id"]] += 1
        if out and out[-1]["article_id"] == r["article_id"] and out[-1]["char_start"] == r["char_start"]:
            errors.append(f"{r['article_id']}: two rows start at {r['char_start']}: {r['quote'][:50]!r}")
        out.append(
            {
                "article_id": r["article_id"],
                "quote_id": f"{r['article_id']}-q{seen[r['article_id']]:02d}",
                "char_start": r["char_start"],
                "char_end": r["char_end"],
                "quote": r["quote"],
                "kind": r["kind"],
                "speaker": r.get("speaker"),
                "speaker_role": r.get("speaker_role"),
                "speaker_org": r.get("speaker_org"),
                "stance": r["stance"],
                "confidence": r["confidence"],
                "rationale": r.get("rationale", ""),
            }
        )
    return out, errors


def write_gold(corpus_dir: Path, parts_dir: Path, out: Path, second: Path | None = None) -> list[dict]:
    """Resolve every part into `out` (atomically); adds the second pass and adjudication when present."""
    from quotestance.io import write_jsonl

    rows, errors = build_gold(corpus_dir, sorted(parts_dir.glob("*.jsonl")))
    if errors:
        raise SystemExit("error: annotation parts have problems:\n" + "\n".join(errors))
    if second is not None and second.exists():
        extra = {r["quote_id"]: r for r in read_jsonl(second)}
        for r in rows:
            e = extra.get(r["quote_id"])
            if e is None:
                continue
            r["second_stance"] = e["second_stance"]
            r["first_stance"] = r["stance"]
            if e.get("adjudicated_stance"):
                r["stance"] = e["adjudicated_stance"]
                r["adjudication_note"] = e.get("note", "")
    write_jsonl(rows, out)
    return rows


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two label sequences (1.0 = perfect agreement, 0 = chance)."""
    n = len(a)
    if n == 0:
        return float("nan")
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def stats(gold_path: Path, corpus_dir: Path) -> str:
    """Counts per event, label, kind and confidence, and the agreement of the two labelling passes."""
    rows = read_jsonl(gold_path)
    events = {p.stem: (read_body(p)[0].get("event") or "?") for p in corpus_dir.glob("*.md")}
    n_articles = len(events)
    out = [f"articles: {n_articles}", f"events: {len(set(events.values()))}", f"gold quotes: {len(rows)}"]
    lab = Counter(r["stance"] for r in rows)
    stance_n = sum(v for k, v in lab.items() if k != "other")
    out.append("\n| label | quotes | share of all | share of stance-bearing |\n|---|---:|---:|---:|")
    for k in LABELS:
        share_st = f"{lab[k] / stance_n:.1%}" if k != "other" else ""
        out.append(f"| {k} | {lab[k]} | {lab[k] / len(rows):.1%} | {share_st} |")
    for field in ("kind", "confidence"):
        c = Counter(r[field] for r in rows)
        out.append(f"\n{field}: " + ", ".join(f"{k} {v} ({v / len(rows):.0%})" for k, v in sorted(c.items())))
    per_event = Counter(events.get(r["article_id"], "?") for r in rows)
    arts = Counter(events.values())
    out.append("\n| event | articles | quotes |\n|---|---:|---:|")
    out += [f"| {e} | {arts[e]} | {per_event[e]} |" for e in sorted(arts)]
    paired = [r for r in rows if r.get("second_stance")]
    if paired:
        a = [r["first_stance"] for r in paired]
        b = [r["second_stance"] for r in paired]
        out.append(
            f"\nCohen's kappa: {cohen_kappa(a, b):.2f} (first vs second pass, {len(paired)} quotes, "
            f"raw agreement {sum(x == y for x, y in zip(a, b)) / len(a):.1%})"
        )
        out.append("\n| label | kappa (one vs rest) |\n|---|---:|")
        for k in LABELS:
            out.append(f"| {k} | {cohen_kappa([x == k for x in a], [y == k for y in b]):.2f} |")
        out.append("\nconfusion (rows: first pass, columns: second pass)\n")
        out.append("| first \\ second | " + " | ".join(LABELS) + " |\n|---|" + "---:|" * len(LABELS))
        for k in LABELS:
            out.append(
                f"| {k} | "
                + " | ".join(str(sum(1 for x, y in zip(a, b) if x == k and y == m)) for m in LABELS)
                + " |"
            )
        adj = sum(1 for r in paired if r.get("adjudication_note"))
        out.append(f"\nadjudicated disagreements: {adj} of {sum(x != y for x, y in zip(a, b))}")
    return "\n".join(out)


CARD_BEGIN = "<!-- stats:begin (written by `quotestance-corpus card`; do not edit by hand) -->"
CARD_END = "<!-- stats:end -->"


def write_card(card: Path, figures: str) -> None:
    """Replace the generated section of the data card with `figures` (atomically)."""
    from quotestance.io import atomic_writer

    text = card.read_text(encoding="utf-8")
    head, rest = text.split(CARD_BEGIN, 1)
    _, tail = rest.split(CARD_END, 1)
    with atomic_writer(card) as fh:
        fh.write(f"{head}{CARD_BEGIN}\n{figures}\n{CARD_END}{tail}")


def card_section(card: Path) -> str:
    """The generated stats section of the data card, as it stands."""
    text = card.read_text(encoding="utf-8")
    return text.split(CARD_BEGIN, 1)[1].split(CARD_END, 1)[0].strip("\n")


def main(argv: list[str] | None = None) -> int:
    """quotestance-corpus check PART | build | stats | card"""
    import argparse

    ap = argparse.ArgumentParser(prog="quotestance-corpus", description="Maintain the project's own corpus.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="check one annotation part against the corpus")
    c.add_argument("part")
    c.add_argument("corpus", nargs="?", default="data/corpus")
    b = sub.add_parser("build", help="resolve all parts into data/annotations/gold.jsonl")
    s = sub.add_parser("stats", help="print counts and agreement from the gold file")
    k = sub.add_parser("card", help="write the stats into the data card (data/README.md)")
    k.add_argument("--card", default="data/README.md")
    for p in (b, s, k):
        p.add_argument("--corpus", default="data/corpus")
        p.add_argument("--gold", default="data/annotations/gold.jsonl")
    b.add_argument("--parts", default="data/annotations/parts")
    b.add_argument("--second", default="data/annotations/second_pass.jsonl")
    a = ap.parse_args(argv)
    if a.cmd == "check":
        return _check_main([a.part, a.corpus])
    if a.cmd == "build":
        rows = write_gold(Path(a.corpus), Path(a.parts), Path(a.gold), Path(a.second))
        print(f"{len(rows)} gold quotes written to {a.gold}")
        return 0
    figures = stats(Path(a.gold), Path(a.corpus))
    if a.cmd == "card":
        write_card(Path(a.card), figures)
        print(f"figures written to {a.card}")
        return 0
    print(figures)
    return 0


def _check_main(argv: list[str]) -> int:
    """`python -m quotestance.corpus check PART.jsonl [CORPUS_DIR]`: print problems and label counts."""
    part = Path(argv[0])
    corpus = Path(argv[1]) if len(argv) > 1 else Path("data/corpus")
    rows, errors = build_gold(corpus, [part])
    for e in errors:
        print("ERROR", e)
    ids = {r["article_id"] for r in rows}
    for aid in sorted(ids):
        meta, body = read_body(corpus / f"{aid}.md")
        words = len(body.split())
        flag = "" if 350 <= words <= 1000 else "  <-- length out of 350-1000"
        print(f"{aid}: {words} words, {sum(r['article_id'] == aid for r in rows)} quotes{flag}")
    print("stance:", dict(Counter(r["stance"] for r in rows)))
    print("kind:", dict(Counter(r["kind"] for r in rows)))
    print(f"{len(rows)} rows ok, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
