"""Every primary config composes and converts to its dataclass schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from quotestance.config import EvalExtractApp, ExtractApp, register

CONF = Path(__file__).resolve().parents[1] / "conf"
register()


@pytest.mark.parametrize("name,schema", [("extract_app", ExtractApp), ("eval_extract", EvalExtractApp)])
def test_config_composes(name, schema):
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(config_name=name)
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, schema)


def test_unknown_override_is_rejected():
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        with pytest.raises(Exception, match="nosuchkey"):
            compose(config_name="extract_app", overrides=["extract.nosuchkey=1"])
