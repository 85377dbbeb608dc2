"""Benchmark output in docs, one section per CPU family: a run on one CPU never overwrites another's table.

Sections sit between `<!-- NAME:families:begin -->` and `<!-- NAME:families:end -->`, each between its own
markers `<!-- NAME:<family>:begin/end -->`; a family measured for the first time gets a new section.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path


def section_name() -> str:
    """This CPU's family, marked as a stand-in when QUOTESTANCE_CPU_FLAGS hides flags of a larger CPU (and with
    the inference path when QUOTESTANCE_PRECISION forces one)."""
    from quotestance.cpu import OVERRIDE_ENV, cpu_features, cpu_model, family
    from quotestance.infer import PRECISION_ENV

    name = family(cpu_features())
    if os.environ.get(OVERRIDE_ENV):
        name += f" (stand-in: {OVERRIDE_ENV}={os.environ[OVERRIDE_ENV]} on {cpu_model()})"
    if os.environ.get(PRECISION_ENV):
        name += f", {PRECISION_ENV}={os.environ[PRECISION_ENV]}"
    return name


def write_section(path: Path, name: str, lines: list[str]) -> None:
    """Put `lines` in this CPU family's section of `path` under NAME's markers (atomically)."""
    text = path.read_text(encoding="utf-8")
    fam = section_name()
    slug = re.sub(r"[^a-z0-9]+", "-", fam.lower()).strip("-")
    begin, end = f"<!-- {name}:{slug}:begin -->", f"<!-- {name}:{slug}:end -->"
    outer = f"<!-- {name}:families:end -->"
    script = Path(sys.argv[0]).name
    cmd = f"python benchmarks/{script} " + " ".join(sys.argv[1:])
    block = (
        f"{begin}\n#### CPU family: {fam}\n\n<!-- written by `{cmd}` on {time.strftime('%Y-%m-%d')} -->\n\n"
        + "\n".join(lines)
        + f"\n\n{end}"
    )
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL)
    elif outer in text:
        text = text.replace(outer, f"{block}\n\n{outer}")
    else:
        sys.exit(f"error: {path} has no {outer} marker to add the {fam} section before")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_block(path: Path, name: str, lines: list[str]) -> None:
    """Put `lines` between `<!-- NAME:begin -->` and `<!-- NAME:end -->` of `path` (atomically)."""
    text = path.read_text(encoding="utf-8")
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"error: {path} has no {begin} ... {end} markers")
    cmd = f"python benchmarks/{Path(sys.argv[0]).name} " + " ".join(sys.argv[1:])
    block = (
        f"{begin}\n<!-- written by `{cmd}` on {time.strftime('%Y-%m-%d')} -->\n\n"
        + "\n".join(lines)
        + f"\n\n{end}"
    )
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
