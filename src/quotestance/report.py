"""Report stage: one self-contained HTML page for analysts from a scores folder (quotestance-score output).

Charts are PNGs embedded as data URIs, so the page is a single file that opens anywhere, offline.
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

import pandas as pd

from quotestance.config import ReportApp
from quotestance.io import atomic_writer

LABELS = ("demand_takedown", "neutral_infrastructure", "law_enforcement_deference", "other")
COLOURS = {
    "demand_takedown": "#c0392b",
    "neutral_infrastructure": "#2980b9",
    "law_enforcement_deference": "#8e44ad",
    "other": "#95a5a6",
}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def stance_counts(df: pd.DataFrame, by: str, top: int = 15, chronological: bool = False) -> pd.DataFrame:
    """Quotes per group and stance: the largest `top` groups first, or every group in time order
    (chronological=True, for "YYYY-MM" months, which sort as text in date order).

    >>> d = pd.DataFrame({"month": ["2024-03", "2023-11", "2024-03"], "label": ["other"] * 3})
    >>> stance_counts(d, "month", chronological=True).index.tolist()
    ['2023-11', '2024-03']
    """
    d = df[df[by].notna() & (df[by].astype(str) != "")]
    counts = d.groupby([by, "label"]).size().unstack(fill_value=0)
    if chronological:
        return counts.sort_index()
    return counts.loc[counts.sum(axis=1).sort_values(ascending=False).index[:top]]


def stance_bars(
    df: pd.DataFrame, by: str, title: str, top: int = 15, chronological: bool = False
) -> str | None:
    """A stacked bar per group: how many quotes took each stance. Groups ranked by size read top-down as
    horizontal bars; a time series reads left to right as columns, in date order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = stance_counts(df, by, top, chronological)
    if counts.empty:
        return None
    if chronological:  # columns left to right in date order
        fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(counts) + 2), 4))
        draw, stack, names = ax.bar, "bottom", [str(i) for i in counts.index]
        ax.set_ylabel("quotes")
        ax.tick_params(axis="x", labelrotation=60)
    else:  # bars top-down by size (barh draws bottom-up)
        counts = counts.iloc[::-1]
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(counts) + 1.2))
        draw, stack, names = ax.barh, "left", [str(i)[:40] for i in counts.index]
        ax.set_xlabel("quotes")
    base = pd.Series(0, index=counts.index)
    for lab in (x for x in LABELS if x in counts):
        draw(names, counts[lab], color=COLOURS[lab], label=lab.replace("_", " "), **{stack: base})
        base = base + counts[lab]
    ax.set_title(title)
    ax.legend(loc="upper left" if chronological else "lower right", fontsize=8)
    url = _png(fig)
    plt.close(fig)
    return url


def _quote_table(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "<p>none</p>"
    body = "".join(
        f"<tr><td>{escape(str(r.speaker or '(unattributed)'))}</td><td>{escape(str(r.text))}</td>"
        f"<td><span class='tag' style='background:{COLOURS.get(r.label, '#777')}'>{escape(r.label)}</span></td>"
        f"<td>{r.confidence:.2f}</td><td>{escape(str(r.article_id))}</td></tr>"
        for r in rows.itertuples()
    )
    return (
        "<table><tr><th>speaker</th><th>quote</th><th>stance</th><th>confidence</th><th>article</th></tr>"
        f"{body}</table>"
    )


def build_report(scores_dir: str, output: str, top: int = 5, review: int = 25) -> str:
    """Write the HTML report for a scores folder; returns its path."""
    d = Path(scores_dir)
    if not (d / "quotes.parquet").exists():
        raise FileNotFoundError(f"{d} has no quotes.parquet: run `quotestance-score output={d}` first")
    q = pd.read_parquet(d / "quotes.parquet")
    arts = pd.read_parquet(d / "articles.parquet") if (d / "articles.parquet").exists() else pd.DataFrame()
    if len(arts) and len(q):
        q = q.merge(
            arts[[c for c in ("article_id", "event", "outlet", "date") if c in arts]],
            on="article_id",
            how="left",
        )
    # organisations only: a person's name is no organisation, and quotes whose speaker has none are left out
    # ("the Open Wire Coalition" and "Open Wire Coalition" are one bar)
    q = q.assign(
        organisation=q["speaker_org"].str.replace(r"^[Tt]he\s+", "", regex=True)
        if "speaker_org" in q
        else None
    )
    if "date" in q:
        q["month"] = pd.to_datetime(q["date"], errors="coerce").dt.strftime("%Y-%m")
    doubtful = (
        q["to_review"].fillna(False).astype(bool)
        if "to_review" in q and q["to_review"].notna().any()
        else None
    )
    charts = []
    for col, t in (
        ("organisation", "Stance by speaker organisation (top 15; quotes with a known organisation)"),
        ("event", "Stance by event"),
        ("outlet", "Stance by outlet"),
        ("month", "Stance by month"),
    ):
        if col not in q:
            continue
        shown = q[col].notna() & (q[col].astype(str) != "")
        if doubtful is not None:  # how much of what the chart shows the model was not sure enough of
            t += f" ({int((doubtful & shown).sum())} of {int(shown.sum())} quotes to review)"
        charts.append((t, stance_bars(q, col, t, chronological=col == "month")))
    counts = q["label"].value_counts() if len(q) else pd.Series(dtype=int)
    summary = " · ".join(f"<b>{counts.get(k, 0)}</b> {k.replace('_', ' ')}" for k in LABELS)
    sections = "".join(f"<h2>{escape(t)}</h2><img alt='{escape(t)}' src='{u}'>" for t, u in charts if u)
    confident = "".join(
        f"<h3>{escape(lab.replace('_', ' '))}</h3>"
        + _quote_table(q[q["label"] == lab].sort_values("confidence", ascending=False).head(top))
        for lab in LABELS
    )
    flagged = q[doubtful] if doubtful is not None else None
    low = _quote_table((flagged if flagged is not None else q).sort_values("confidence").head(review))
    review_note = (
        f"{len(flagged)} of {len(q)} quotes are below the model's review threshold (the confidence that keeps the "
        "precision asked for, score.review_precision, on validation): a person should read them. The least sure "
        f"{min(review, len(flagged))} are listed."
        if flagged is not None
        else f"The {review} quotes the model was least sure of: a person should read these."
    )
    model = ""
    if len(q) and "model_name" in q:
        r = q.iloc[0]
        model = (
            f"Model: {escape(str(r.get('model_name')))} v{escape(str(r.get('model_version')))} "
            f"(@{escape(str(r.get('model_alias')))}) · extractor {escape(str(r.get('extractor_version')))}"
        )
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>quotestance report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}
table{{border-collapse:collapse;width:100%;font-size:90%}}td,th{{border-bottom:1px solid #ddd;padding:4px 6px;
text-align:left;vertical-align:top}}.tag{{color:#fff;padding:1px 6px;border-radius:3px;font-size:85%}}
img{{max-width:100%}}.muted{{color:#666}}</style></head><body>
<h1>Who took which stance</h1>
<p>{len(arts)} articles · {len(q)} quotes: {summary}</p><p class="muted">{model}</p>
{sections}
<h2>Most confident quotes per stance</h2>{confident}
<h2>Low-confidence quotes to review</h2>
<p class="muted">{escape(review_note)}</p>{low}
</body></html>"""
    with atomic_writer(output) as fh:
        fh.write(html)
    return output


def report(app: ReportApp) -> int:
    """Write the analysts' HTML report for a scores folder (output defaults to <input>/report.html)."""
    import sys

    try:
        print(build_report(app.input, app.output or str(Path(app.input) / "report.html")))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
