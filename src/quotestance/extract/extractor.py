"""The extractor's former single module, kept so that `quotestance.extract.extractor` imports keep working.

The extractor now lives in one module per job: quotes.py (quote-mark spans), parse.py (the chunked spaCy
parse), names.py and speakers.py (who a name or phrase refers to), attribution.py (who said a direct quote),
reported.py (reported speech) and assemble.py (Quote records, extract_quotes, extract_many). Code in this
project imports from those; a test that monkeypatches the extractor patches assemble.py, where the names are
looked up.
"""

from quotestance.extract.assemble import (
    ExtractionTimeout,
    extract_from_parse,
    extract_many,
    extract_quotes,
    extractor_version,
)
from quotestance.extract.attribution import Attribution
from quotestance.extract.parse import MAX_CHUNK_CHARS, Parsed, chunk_text
from quotestance.extract.reported import ACT_PHRASES, ACT_VERBS, INDIRECT_VERBS, REPORT_FALLBACK

__all__ = ["ACT_PHRASES", "ACT_VERBS", "INDIRECT_VERBS", "MAX_CHUNK_CHARS", "REPORT_FALLBACK", "Attribution",
           "ExtractionTimeout", "Parsed", "chunk_text", "extract_from_parse", "extract_many", "extract_quotes",
           "extractor_version"]
