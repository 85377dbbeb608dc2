"""Shared file helpers: a generated block lands between its markers or nowhere."""

from __future__ import annotations

import pytest

from quotestance.io import replace_block


def test_replace_block_swaps_only_what_is_between_the_markers(tmp_path):
    f = tmp_path / "doc.md"
    f.write_text("# Title\n<!-- x:begin -->\nold table\n<!-- x:end -->\nafter\n", encoding="utf-8")
    replace_block(f, "<!-- x:begin -->", "<!-- x:end -->", "| new | table |")
    assert (
        f.read_text(encoding="utf-8") == "# Title\n<!-- x:begin -->\n| new | table |\n<!-- x:end -->\nafter\n"
    )
    f.write_text("no markers here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no <!-- x:begin -->"):
        replace_block(f, "<!-- x:begin -->", "<!-- x:end -->", "lost")
    assert f.read_text(encoding="utf-8") == "no markers here\n"  # untouched
