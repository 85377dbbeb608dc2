"""The TF-IDF model: the same probabilities after a save and a load (arrays and terms, nothing pickled), row
weights honoured, two-class training, and calibrated mixing weights."""

from __future__ import annotations

import numpy as np
import pytest

from quotestance.baseline import TfidfBaseline

LABELS = ["demand_takedown", "neutral_infrastructure", "law_enforcement_deference", "other"]
ROWS = [
    {"quote": "Take the forum offline today, the host has no excuse left.", "label": "demand_takedown"},
    {"quote": "Pull the plug on these sites and stop protecting them.", "label": "demand_takedown"},
    {"quote": "The registrar must suspend the domain at once.", "label": "demand_takedown"},
    {"quote": "We are a network, not a censor; we do not judge content.", "label": "neutral_infrastructure"},
    {"quote": "Pipes should stay neutral whatever flows through them.", "label": "neutral_infrastructure"},
    {"quote": "It is not our place to decide what people may read.", "label": "neutral_infrastructure"},
    {
        "quote": "We act when a court orders us to, and we work with police.",
        "label": "law_enforcement_deference",
    },
    {"quote": "That is a matter for law enforcement and the courts.", "label": "law_enforcement_deference"},
    {"quote": "We follow valid legal process from the authorities.", "label": "law_enforcement_deference"},
    {"quote": "The outage lasted two hours on Tuesday.", "label": "other"},
    {"quote": "Our revenue grew in the third quarter.", "label": "other"},
    {"quote": "The conference starts next week in Lisbon.", "label": "other"},
]


def test_a_saved_model_loads_to_the_same_probabilities(tmp_path):
    model = TfidfBaseline(LABELS).fit(ROWS)
    model.mix = {"transformer": 0.5, "tfidf": 0.9}
    model.save(tmp_path / "p")
    back = TfidfBaseline.load(tmp_path / "p")
    probe = [{"quote": "the courts decide, and we defer to police"}, {"quote": "shut it down"}]
    assert np.allclose(back.predict_proba(probe), model.predict_proba(probe))
    assert back.mix == model.mix and back.labels == LABELS
    assert np.allclose(model.predict_proba(probe).sum(1), 1.0)


def test_load_refuses_files_that_disagree(tmp_path):
    import json

    TfidfBaseline(LABELS).fit(ROWS).save(tmp_path / "p")
    meta = json.loads((tmp_path / "p/tfidf.json").read_text())
    meta["terms"]["words"] = meta["terms"]["words"][:-3]
    (tmp_path / "p/tfidf.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="p: not a TF-IDF partner"):
        TfidfBaseline.load(tmp_path / "p")
    (tmp_path / "p/tfidf.npz").unlink()
    with pytest.raises(ValueError, match="p: not a TF-IDF partner"):
        TfidfBaseline.load(tmp_path / "p")


def test_row_weights_move_the_model():
    """Two rows say opposite things in the same words: the heavier one wins."""
    probe = [{"quote": "the host decides"}]
    a, b = LABELS.index("other"), LABELS.index("demand_takedown")
    for heavy, light in ((a, b), (b, a)):
        pair = [
            {"quote": "the host decides", "label": LABELS[heavy], "weight": 10.0},
            {"quote": "the host decides", "label": LABELS[light]},
        ]
        p = TfidfBaseline(LABELS).fit(ROWS + pair).predict_proba(probe)[0]
        assert p[heavy] > p[light]


def test_a_label_never_trained_on_gets_no_probability():
    two = [r for r in ROWS if r["label"] in LABELS[:2]]
    p = TfidfBaseline(LABELS).fit(two).predict_proba([{"quote": "take the forum offline"}])[0]
    assert p[2] == p[3] == 0.0 and p[0] > p[1] and np.isclose(p.sum(), 1.0)


def test_fit_mix_weighs_each_expert_by_its_calibration():
    model = TfidfBaseline(LABELS).fit(ROWS)
    y = np.array([LABELS.index(r["label"]) for r in ROWS])
    said = y.copy()
    said[::3] = (said[::3] + 1) % 4  # a third wrong, every answer made with near certainty
    overconfident = np.eye(4)[said] * 40.0
    model.fit_mix(overconfident, ROWS)
    assert model.mix["transformer"] < 1.0  # its logits are scaled down
    assert TfidfBaseline(LABELS).fit(ROWS).fit_mix(overconfident, []).mix == {
        "transformer": 1.0,
        "tfidf": 1.0,
    }


def test_fit_tfidf_reuses_the_last_fit_only_for_the_same_rows_and_settings():
    """The pipeline's partner and baseline share one fit; anything different is fitted anew, and each caller's
    calibration stays its own."""
    from quotestance.baseline import fit_tfidf

    first = fit_tfidf(LABELS, ROWS)
    first.fit_mix(np.eye(4)[[LABELS.index(r["label"]) for r in ROWS]] * 40.0, ROWS)
    again = fit_tfidf(LABELS, [dict(r) for r in ROWS])
    assert again.coef_ is first.coef_ and again.mix == {"transformer": 1.0, "tfidf": 1.0} != first.mix
    np.testing.assert_allclose(again.log_proba(ROWS), TfidfBaseline(LABELS).fit(ROWS).log_proba(ROWS))
    heavier = [{**ROWS[0], "weight": 3.0}] + ROWS[1:]
    for other in (
        fit_tfidf(LABELS, heavier),
        fit_tfidf(LABELS, ROWS, template="{quote}!"),
        fit_tfidf(LABELS, ROWS, seed=1),
    ):
        assert other.coef_ is not first.coef_
