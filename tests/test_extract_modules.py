"""The extract package's module boundaries, the one span matcher and the one front-matter parser."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import pytest

import quotestance.extract.spans as spans
from quotestance.corpus import read_body
from quotestance.extract.ingest import FrontMatterError, read_file
from quotestance.extract.spans import match_span
from quotestance.records import Article

EXTRACT = Path(__file__).resolve().parents[1] / "src/quotestance/extract"


def test_spans_doctests():
    assert doctest.testmod(spans).failed == 0


def test_match_span_best_first_exact_and_ties():
    cands = [(0, (0, 12)), (1, (11, 20)), (2, (10, 21))]
    assert match_span((10, 20), cands, 0.8) == 2
    assert match_span((10, 20), cands, 0.8, first=True) == 1
    assert match_span((10, 20), cands, 0.95) is None
    assert match_span((10, 20), [], 0.0) is None
    assert match_span((10, 20), [("x", (30, 40))], 0.0) is None  # no overlap is never a match
    assert match_span((10, 20), [("a", (10, 20)), ("b", (10, 20))], 1.0) == "a"  # the earliest of equals
    assert match_span((10, 20), [("a", (10, 21)), ("b", (10, 20))], 0.5, exact=True) == "b"


def test_match_span_reads_candidates_lazily_with_first():
    seen = []

    def cands():
        for k, s in enumerate([(0, 10), (0, 9), (50, 60)]):
            seen.append(k)
            yield k, s

    assert match_span((0, 10), cands(), 0.5, first=True) == 0 and seen == [0]


def test_corpus_and_ingest_read_the_same_body_and_front_matter(tmp_path):
    raw = "\ufeff---\r\nid: 0123\r\ndate: 2016-11-17\r\nflag: yes\r\n---\r\nBody “one”.\r\n\r\nTwo.\r\n"
    path = tmp_path / "a.md"
    path.write_bytes(raw.encode("utf-8"))
    meta, body = read_body(path)
    (art,) = list(read_file(path))
    assert isinstance(art, Article) and art.text == body == "Body “one”.\n\nTwo.\n"
    assert meta == {"id": "0123", "date": "2016-11-17", "flag": "yes"} and art.id == "0123"


def test_corpus_refuses_hostile_front_matter(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("---\na: &x [1, 2]\nb: *x\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(FrontMatterError):
        read_body(path)


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in EXTRACT.glob("*.py")}


def test_no_module_imports_a_siblings_private_names():
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("quotestance"):
                private = [
                    a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")
                ]
                assert not private, f"{name}.py imports {private} from {node.module}"
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "spk"
            ):
                raise AssertionError(f"{name}.py reaches into speakers as spk.{node.attr}")


def test_no_extract_module_is_over_350_lines():
    for p in EXTRACT.glob("*.py"):
        assert len(p.read_text(encoding="utf-8").splitlines()) <= 350, p.name


def test_the_package_exports_the_stage():
    import quotestance.extract as pkg
    import quotestance.extract.batch as batch

    for name in ("extract_many", "extract_quotes", "extractor_version", "read_articles"):
        assert callable(getattr(pkg, name))
    assert pkg.extract_many is batch.extract_many
