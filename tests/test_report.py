"""The analysts' HTML report: one self-contained page with charts and the quotes to review."""

from __future__ import annotations

import pandas as pd
import pytest

from quotestance.report import build_report, stance_counts


def test_report_is_self_contained_with_charts_and_review_list(tmp_path):
    labels = ["demand_takedown", "neutral_infrastructure", "law_enforcement_deference", "other"]
    q = pd.DataFrame(
        [
            {
                "article_id": f"a{i % 3}",
                "quote_id": f"q{i}",
                "text": f"Quote number {i} <b>",
                "speaker": f"Speaker {i % 4}",
                "speaker_org": ["Kestrel", None][i % 2],
                "label": labels[i % 4],
                "confidence": (i % 10) / 10 + 0.05,
                "model_name": "quote-stance",
                "model_version": "2",
                "model_alias": "champion",
                "extractor_version": "x",
            }
            for i in range(40)
        ]
    )
    a = pd.DataFrame(
        [
            {"article_id": f"a{i}", "event": f"ev{i}", "outlet": "Wire", "date": f"2024-0{i + 1}-02"}
            for i in range(3)
        ]
    )
    q["to_review"] = q["confidence"] < 0.5
    q.to_parquet(tmp_path / "quotes.parquet")
    a.to_parquet(tmp_path / "articles.parquet")
    html = open(build_report(str(tmp_path), str(tmp_path / "r.html")), encoding="utf-8").read()
    assert html.count("data:image/png;base64,") == 4  # organisation, event, outlet, month
    assert "Low-confidence quotes to review" in html and "Quote number 0 &lt;b&gt;" in html
    assert (
        "Stance by event (20 of 40 quotes to review)" in html
    )  # every chart says what is below the threshold
    assert "20 of 40 quotes are below the model" in html
    assert "quote-stance v2 (@champion)" in html and "http" not in html.replace("https://", "")


def test_report_needs_a_scores_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="quotestance-score"):
        build_report(str(tmp_path), str(tmp_path / "r.html"))


def test_months_read_in_date_order_and_people_are_no_organisation():
    q = pd.DataFrame(
        {
            "month": ["2024-02", "2023-12", "2024-02", "2024-01", "2024-02"],
            "organisation": ["Kestrel", None, "Kestrel", "Bluefern Registry", None],
            "label": ["other", "demand_takedown", "other", "other", "other"],
        }
    )
    assert stance_counts(q, "month", chronological=True).index.tolist() == ["2023-12", "2024-01", "2024-02"]
    assert stance_counts(q, "month").index.tolist()[0] == "2024-02"  # by size otherwise
    assert stance_counts(q, "organisation").index.tolist() == ["Kestrel", "Bluefern Registry"]
