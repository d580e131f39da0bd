"""The limits contract, declared once: search modes, result and text ceilings. The CLI, the API schemas, the
knowledge base and both backends take them from here; the configurable API limits (`Settings.max_k` ...) may be
lower, never higher."""

from __future__ import annotations

SEARCH_MODES = ("hybrid", "dense", "lexical")  # the first is the default (docs/retrieval.md: why)
DEFAULT_SEARCH_MODE = SEARCH_MODES[0]

MAX_K = 200  # results one search or similar-items request may ask for
MAX_OFFSET = 1000  # deepest result offset
MAX_QUERY_CHARS = 4000  # longest search query
MAX_TEXT_CHARS = 50_000  # longest text to classify or to find similar items for
MAX_CLASSIFY_K = 50  # technologies one classification may return
MAX_LIST = 500  # items one listing page may hold
SUGGESTED_TAGS = 3  # technologies suggested for each stored item
