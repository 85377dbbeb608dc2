"""Every command's root composes with every option of every group it uses and every experiment, converts to
its own dataclass, and the YAML defaults agree with the dataclass defaults (one set of values, checked)."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from quotestance import config
from quotestance.config import CONF_DIR

config.register()
ROOTS = {p.stem: p for p in sorted(CONF_DIR.glob("*_app.yaml"))}
GROUPS = {d.name: sorted(p.stem for p in d.glob("*.yaml")) for d in sorted(CONF_DIR.iterdir()) if d.is_dir()}
SCHEMAS = {
    "extract_app": config.ExtractApp,
    "eval_extract_app": config.EvalExtractApp,
    "dataset_app": config.DatasetApp,
    "train_app": config.TrainApp,
    "pipeline_app": config.PipelineApp,
    "evaluate_app": config.EvaluateApp,
    "register_app": config.RegisterApp,
    "serve_app": config.ServeApp,
    "score_app": config.ScoreApp,
    "report_app": config.ReportApp,
}


def _compose(name: str, overrides: list[str] | None = None):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose(config_name=name, overrides=overrides or [])


def _groups_of(root: str) -> list[str]:
    """The config groups a root's defaults list names (experiment included where it is offered)."""
    entries = yaml.safe_load(ROOTS[root].read_text(encoding="utf-8"))["defaults"]
    return [next(iter(e)) for e in entries if isinstance(e, dict) and next(iter(e)) in GROUPS]


def test_every_command_has_a_root_and_a_schema():
    assert set(ROOTS) == set(SCHEMAS)


STUDIES = {f"experiment={s}" for s in ("cv", "adapt", "hpo")}
CASES = [(root, None) for root in SCHEMAS] + [
    (root, f"{group}={option}") for root in SCHEMAS for group in _groups_of(root) for option in GROUPS[group]
]


@pytest.mark.parametrize("root,override", CASES, ids=[f"{r}:{o or 'defaults'}" for r, o in CASES])
def test_root_composes_with_every_group_option(root, override):
    if root == "pipeline_app" and override in STUDIES:  # a study runs through quotestance-train only
        with pytest.raises(Exception, match="mode"):
            _compose(root, [override])
        return
    cfg = _compose(root, [override] if override else [])
    obj = OmegaConf.to_object(cfg)
    assert type(obj) is SCHEMAS[root]
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


def test_every_group_option_is_reachable():
    used = {g for root in SCHEMAS for g in _groups_of(root)} | {"paths"}  # paths: every root, through base
    assert used == set(GROUPS), set(GROUPS) - used


@pytest.mark.parametrize("group", [g for g, opts in GROUPS.items() if "default" in opts])
def test_yaml_defaults_agree_with_the_dataclass_defaults(group):
    """A value the YAML sets and the dataclass also defaults must be the same value (interpolations aside)."""
    app = {
        "paths": config.ExtractApp,
        "extract": config.ExtractApp,
        "labels": config.DatasetApp,
        "dataset": config.DatasetApp,
        "mlflow": config.DatasetApp,
        "train": config.TrainApp,
        "evaluate": config.TrainApp,
        "register": config.RegisterApp,
        "score": config.ScoreApp,
        "serve": config.ServeApp,
    }[group]
    schema = next(f for f in dataclasses.fields(app) if f.name == group).default_factory()
    raw = yaml.safe_load((CONF_DIR / group / "default.yaml").read_text(encoding="utf-8"))

    def walk(yaml_value, default, where):
        if isinstance(yaml_value, dict) and dataclasses.is_dataclass(default):
            for k, v in yaml_value.items():
                walk(v, getattr(default, k), f"{where}.{k}")
        elif isinstance(yaml_value, str) and "${" in yaml_value:
            return  # an interpolation: only the YAML can say it
        elif dataclasses.is_dataclass(default) or (
            isinstance(default, (dict, list)) and not default and yaml_value
        ):
            return  # the dataclass leaves it to the YAML (the taxonomy, the external sets)
        else:
            assert yaml_value == default, f"{where}: YAML {yaml_value!r} != dataclass {default!r}"

    walk(raw, schema, group)


def test_unknown_override_is_rejected():
    with pytest.raises(Exception, match="nosuchkey"):
        _compose("extract_app", ["extract.nosuchkey=1"])


def test_no_command_carries_another_commands_settings():
    assert "serve" not in _compose("train_app") and "register" not in _compose("train_app")
    assert "mode" not in _compose("pipeline_app") and "train" not in _compose("score_app")


def test_debug_experiment_overlays_the_tiny_model():
    for root in ("train_app", "pipeline_app"):
        app = OmegaConf.to_object(_compose(root, ["experiment=debug"]))
        assert app.model.name == "tiny" and app.model.path is None and app.train.epochs == 1
