"""CPU detection and the QUOTESTANCE_CPU_FLAGS override: the fast paths are chosen from injected flag sets, so
these outcomes are the same on every machine."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys

import pytest

import quotestance.cpu
import quotestance.infer
import quotestance.train
from quotestance.cpu import OVERRIDE_ENV, cpu_features, describe, family, native
from quotestance.train import TrainError, train_precision


def test_doctests_of_the_choosing_code():
    for mod in (quotestance.cpu, quotestance.train, quotestance.infer):
        assert doctest.testmod(mod).failed == 0, mod.__name__


def test_the_override_only_takes_flags_away(monkeypatch):
    monkeypatch.delenv(OVERRIDE_ENV, raising=False)
    real = cpu_features()
    monkeypatch.setenv(OVERRIDE_ENV, "avx2")
    assert cpu_features() == real & {"avx2"}
    assert not native("bf16", cpu_features()) and not native("int8", cpu_features())
    monkeypatch.setenv(OVERRIDE_ENV, "avx2, avx512f,avx512_bf16,amx_bf16")
    assert cpu_features() <= real  # naming a flag the CPU lacks does not make it native
    assert OVERRIDE_ENV in describe()


@pytest.mark.parametrize(
    "flags, bf16, int8, fam",
    [
        ({"avx2"}, False, False, "avx2"),
        ({"avx2", "avx_vnni"}, False, True, "avx2-vnni"),
        ({"avx2", "avx512f", "avx512_vnni"}, False, True, "avx512-vnni"),
        ({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}, True, True, "avx512-bf16-vnni"),
        (
            {"avx2", "avx512f", "amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni"},
            True,
            True,
            "avx512-amx-bf16-vnni",
        ),
        (set(), False, False, "baseline"),
    ],
)
def test_native_paths_per_cpu_family(flags, bf16, int8, fam):
    assert (native("bf16", flags), native("int8", flags), family(flags)) == (bf16, int8, fam)
    assert native("fp32", flags)


def test_training_precision_is_chosen_per_cpu():
    assert train_precision("auto", {"avx2"})[0] == "fp32"
    assert "no native bf16" in train_precision("auto", {"avx2"})[1]
    assert train_precision("auto", {"avx512f", "avx512_bf16"})[0] == "bf16"
    assert train_precision("auto", {"amx_bf16"})[0] == "bf16"
    # the old boolean overrides keep working, whatever the CPU (OmegaConf turns them into "True"/"False")
    for old, new in ((True, "bf16"), ("True", "bf16"), ("true", "bf16"), (False, "fp32"), ("False", "fp32")):
        assert train_precision(old, {"avx2"})[0] == new
    assert train_precision("bf16", {"avx2"})[0] == "bf16"
    with pytest.raises(TrainError, match="auto, bf16 or fp32"):
        train_precision("fp16", {"avx2"})


def test_the_override_caps_torch_kernels_too():
    """Under QUOTESTANCE_CPU_FLAGS=avx2 torch itself runs its AVX2 kernels (so bf16 is really emulated)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
    code = "import quotestance, torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env | {OVERRIDE_ENV: "avx2"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out in ("AVX2", "DEFAULT")
