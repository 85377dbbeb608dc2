"""Every primary config composes and converts to its dataclass schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from quotestance.config import DatasetApp, EvalExtractApp, ExtractApp, TrainApp, register

CONF = Path(__file__).resolve().parents[1] / "conf"
register()


@pytest.mark.parametrize("name,schema", [("extract_app", ExtractApp), ("eval_extract", EvalExtractApp),
                                         ("dataset_app", DatasetApp), ("train_app", TrainApp)])
def test_config_composes(name, schema):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name=name)
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, schema)


def test_unknown_override_is_rejected():
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        with pytest.raises(Exception, match="nosuchkey"):
            compose(config_name="extract_app", overrides=["extract.nosuchkey=1"])


def test_debug_experiment_overlays_the_tiny_model():
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name="train_app", overrides=["experiment=debug"])
    app = OmegaConf.to_object(cfg)
    assert app.model.name == "tiny" and app.model.path is None and app.train.epochs == 1
