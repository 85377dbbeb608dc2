"""Extraction stage: articles in, quotes with speakers out."""

from quotestance.extract.assemble import extract_quotes, extractor_version
from quotestance.extract.batch import extract_many
from quotestance.extract.ingest import read_articles

__all__ = ["extract_quotes", "extract_many", "extractor_version", "read_articles"]
