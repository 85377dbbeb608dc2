"""What this CPU runs natively, and `QUOTESTANCE_CPU_FLAGS`, which lets anyone run as a smaller CPU would.

Machines of this project's kind come with different CPUs (AVX-512 with BF16 and VNNI on some, AVX2 alone on
others), and users' machines differ more, so nothing may assume a flag: the fast paths are chosen here, per
machine. `QUOTESTANCE_CPU_FLAGS=avx2` (a comma- or space-separated list of /proc/cpuinfo flags) hides every
other flag from quotestance *and* from torch: `clamp_torch_isa` (called when the package is imported, before
torch is) caps PyTorch's ATen kernels and oneDNN at that level, so bf16 autocast is emulated as it is on a
real AVX2 machine. It can only take flags away: naming a flag the CPU lacks does not make it native.
ONNX Runtime has no such cap; its int8 kernels are measured on this CPU as they are (see infer.choose).
"""

from __future__ import annotations

import os
from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path

OVERRIDE_ENV = "QUOTESTANCE_CPU_FLAGS"
# the flags that decide a fast path; everything else in /proc/cpuinfo is left out of records and keys
RELEVANT = frozenset({"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "amx_bf16"})


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    """(model name, every flag) from Linux's /proc/cpuinfo; ("unknown", {}) elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown", frozenset()
    model, flags = "unknown", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return model, flags


def _override() -> frozenset[str] | None:
    raw = os.environ.get(OVERRIDE_ENV, "").replace(",", " ").split()
    return frozenset(f.lower() for f in raw) if raw else None


def cpu_features() -> frozenset[str]:
    """The fast-path flags of this CPU, less any that QUOTESTANCE_CPU_FLAGS hides.

    Read on every call (the file is read once): tests and benchmarks change the override at run time.
    """
    flags = _cpuinfo()[1] & RELEVANT
    allowed = _override()
    return flags if allowed is None else flags & allowed


def cpu_model() -> str:
    return _cpuinfo()[0]


def native(precision: str, features: AbstractSet[str]) -> bool:
    """Whether the CPU runs this precision in hardware.

    bf16 without AVX-512 BF16 or AMX is emulated by torch, several times slower than fp32. int8 without VNNI
    or AMX still runs on real int8 instructions (AVX2's multiply-add), slower and with other rounding, so it
    is not "native" here but it is still measured (infer.choose) rather than ruled out.
    """
    return {
        "fp32": True,
        "bf16": bool(features & {"avx512_bf16", "amx_bf16"}),
        "int8": bool(features & {"avx512_vnni", "avx_vnni", "amx_int8"}),
    }[precision]


def family(features: AbstractSet[str] | None = None) -> str:
    """A short name for the class of CPU that decides which paths are fast, for tables and records.

    >>> family({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"})
    'avx512-bf16-vnni'
    >>> family({"avx2"})
    'avx2'
    """
    f = cpu_features() if features is None else features
    if "avx512f" in f:
        extra = [
            n
            for n, flags in (
                ("amx", {"amx_int8", "amx_bf16"}),
                ("bf16", {"avx512_bf16"}),
                ("vnni", {"avx512_vnni"}),
            )
            if f & flags
        ]
        return "-".join(["avx512", *extra])
    return "avx2" + ("-vnni" if "avx_vnni" in f else "") if "avx2" in f else "baseline"


def describe() -> str:
    """One line naming the CPU and what it runs natively, for logs, benchmarks and run tags."""
    f = cpu_features()
    hidden = f" ({OVERRIDE_ENV}={os.environ[OVERRIDE_ENV]})" if _override() is not None else ""
    return f"{cpu_model()}, {os.cpu_count()} cores, {family(f)}: {' '.join(sorted(f)) or 'none'}{hidden}"


def clamp_torch_isa() -> None:
    """Cap torch's kernels at what QUOTESTANCE_CPU_FLAGS leaves, so a smaller CPU is really emulated.

    Must run before torch is imported (both libraries read these variables once); explicit settings of
    ATEN_CPU_CAPABILITY or ONEDNN_MAX_CPU_ISA are kept.
    """
    allowed = _override()
    if allowed is None or "avx512f" in allowed:
        return
    level = "avx2" if "avx2" in allowed else "default"
    os.environ.setdefault("ATEN_CPU_CAPABILITY", level)
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2" if level == "avx2" else "SSE41")
