"""Registry: the first model becomes @champion, a better one replaces it, a worse one is refused, a model
scored on another test set is not comparable, rollback restores the previous champion, export loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from quotestance.config import MlflowConfig, RegisterConfig
from quotestance.register import RegisterError, export_champion, register_run, rollback


@pytest.mark.slow
def test_gated_promotion_refusal_and_rollback(tmp_path, mlflow_uri, fake_run, labels):
    from mlflow import MlflowClient

    mcfg = MlflowConfig(tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="reg")
    from quotestance.tracking import setup

    setup(mcfg)
    runs = {}
    for name, f1, rec, dig in (
        ("a", 0.60, 0.60, "d1"),
        ("b", 0.65, 0.62, "d1"),
        ("c", 0.50, 0.60, "d1"),
        ("d", 0.70, 0.70, "d2"),
        ("e", 0.66, 0.40, "d1"),
    ):
        (tmp_path / name).mkdir()
        runs[name] = fake_run(tmp_path / name, f1, rec, dig)
    reg = lambda r: register_run(RegisterConfig(run_id=runs[r]), mcfg, labels)  # noqa: E731
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
    assert [model.config.id2label[i] for i in range(4)] == labels
    card = (Path(out) / "README.md").read_text()
    assert "quote-stance v1 (@champion)" in card and "| test (our corpus" in card


def _registry(tmp_path, mlflow_uri, runs: dict[str, tuple], fake_run) -> tuple[MlflowConfig, dict[str, str]]:
    from quotestance.tracking import setup

    mcfg = MlflowConfig(tracking_uri=mlflow_uri, artifact_location=str(tmp_path / "art"), experiment="reg")
    setup(mcfg)
    ids = {}
    for name, args in runs.items():
        (tmp_path / name).mkdir()
        ids[name] = fake_run(tmp_path / name, *args)
    return mcfg, ids


def test_an_unreadable_registry_is_never_no_champion():
    """Only a registry that truly has no champion skips the gate; any other error stops the register."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST

    from quotestance.register import champion_version

    class Registry:  # answers get_model_version_by_alias with a given error, as a broken store would
        def __init__(self, error):
            self.error = error

        def get_model_version_by_alias(self, name, alias):
            raise self.error

    missing_model = MlflowException("Registered Model with name=m not found", RESOURCE_DOES_NOT_EXIST)
    missing_alias = MlflowException("Registered model alias champion not found.", INVALID_PARAMETER_VALUE)
    assert champion_version(Registry(missing_model), "m") is None
    assert champion_version(Registry(missing_alias), "m") is None
    for error in (
        MlflowException("(sqlite3.OperationalError) database is locked", INTERNAL_ERROR),
        MlflowException("API request failed with error code 503", INTERNAL_ERROR),
        ConnectionError("connection refused"),
    ):
        with pytest.raises(RegisterError, match="nothing was promoted"):
            champion_version(Registry(error), "m")


def test_the_gate_refuses_what_it_cannot_compare(labels):
    from quotestance.register import gate

    m = "test_stance_macro_f1"
    good = {m: 0.7, **{f"test_recall_{k}": 0.6 for k in labels}}
    assert gate(good, {**good, m: 0.6}, labels, m, 0.05) == []
    assert gate({**good, m: float("nan")}, good, labels, m, 0.05)  # NaN is not "as good"
    assert gate({k: v for k, v in good.items() if k != m}, good, labels, m, 0.05)
    assert gate(good, {k: v for k, v in good.items() if k != m}, labels, m, 0.05)
    assert gate({k: v for k, v in good.items() if k != "test_recall_other"}, good, labels, m, 0.05)
    assert gate(
        {**good, "test_ece": 0.09}, {**good, "test_ece": 0.05}, labels, "test_ece", 0.05
    )  # lower wins
    assert gate({**good, "test_ece": 0.04}, {**good, "test_ece": 0.05}, labels, "test_ece", 0.05) == []


@pytest.mark.slow
def test_runs_without_a_test_digest_are_not_comparable(tmp_path, mlflow_uri, labels, fake_run):
    mcfg, ids = _registry(tmp_path, mlflow_uri, {"a": (0.6, 0.6, None), "b": (0.9, 0.9, None)}, fake_run)
    assert register_run(RegisterConfig(run_id=ids["a"]), mcfg, labels).promoted  # no champion yet
    b = register_run(RegisterConfig(run_id=ids["b"]), mcfg, labels)
    assert not b.promoted and "digest is unknown" in b.reasons[0]


@pytest.mark.slow
def test_the_alias_moves_only_after_the_rollback_tags(tmp_path, mlflow_uri, monkeypatch, labels, fake_run):
    from mlflow import MlflowClient

    mcfg, ids = _registry(tmp_path, mlflow_uri, {"a": (0.6, 0.6, "d"), "b": (0.7, 0.7, "d")}, fake_run)
    register_run(RegisterConfig(run_id=ids["a"]), mcfg, labels)
    real = MlflowClient.set_model_version_tag

    def failing(self, name, version, key, value):
        if key == "previous_champion":
            raise ConnectionError("the store went away")
        return real(self, name, version, key, value)

    monkeypatch.setattr(MlflowClient, "set_model_version_tag", failing)
    with pytest.raises(ConnectionError):
        register_run(RegisterConfig(run_id=ids["b"]), mcfg, labels)
    assert str(MlflowClient().get_model_version_by_alias("quote-stance", "champion").version) == "1"


@pytest.mark.slow
def test_registers_are_serialised(tmp_path, mlflow_uri, labels, fake_run):
    import threading

    from quotestance.register import _registry_lock

    mcfg, ids = _registry(tmp_path, mlflow_uri, {"a": (0.6, 0.6, "d"), "b": (0.7, 0.7, "d")}, fake_run)
    register_run(RegisterConfig(run_id=ids["a"]), mcfg, labels)
    done = []
    with _registry_lock(mcfg):  # another register holds the registry
        t = threading.Thread(
            target=lambda: done.append(register_run(RegisterConfig(run_id=ids["b"]), mcfg, labels))
        )
        t.start()
        t.join(2.0)
        assert not done  # it waits rather than reading a champion that is about to change
    t.join(60)
    assert done and done[0].promoted and done[0].compared_to == "1"


def test_read_only_commands_never_create_an_empty_store(tmp_path, monkeypatch, labels):
    missing = tmp_path / "nowhere" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    mcfg = MlflowConfig(tracking_uri=f"sqlite:///{missing}", artifact_location=str(tmp_path / "art"))
    for call in (
        lambda: register_run(RegisterConfig(), mcfg, labels),
        lambda: rollback(RegisterConfig(), mcfg),
        lambda: export_champion(RegisterConfig(export_dir=str(tmp_path / "x")), mcfg),
    ):
        with pytest.raises(RegisterError, match="no MLflow store at"):
            call()
    assert not missing.exists() and not missing.parent.exists()
