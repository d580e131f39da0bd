"""Readable, URL-safe ids for new experiences: `exp-<language>-<title transliterated to Latin>`, `-2`, `-3`, ...

The same title always gives the same id (the suffix only depends on which ids are taken). Cyrillic Kazakh, Kyrgyz
and Russian letters are transliterated by anyascii (ә → a, қ → q, ң → ng, ө → o, ү → u, ы → y, ж → zh, ...).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from anyascii import anyascii

MAX_WORDS_CHARS = 48  # of the title part; a whole word is never cut
MAX_SUFFIX = 9999
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug_words(text: str, limit: int = MAX_WORDS_CHARS) -> str:
    """Lowercase Latin words of `text` joined by hyphens, at most `limit` characters, cut between words."""
    latin = anyascii(text).lower().replace("'", "").replace('"', "")  # ь and ъ become ' and "
    words = _NOT_SLUG.sub("-", latin).strip("-")
    if len(words) <= limit:
        return words
    cut = words[: limit + 1].rsplit("-", 1)[0]
    return cut if cut else words[:limit]


def experience_slug(language: str, title: str) -> str:
    """The id an experience gets from its language and title (a short digest when the title has no letters)."""
    words = slug_words(title) or hashlib.sha256(title.encode()).hexdigest()[:8]
    return f"exp-{slug_words(language, 8) or 'xx'}-{words}"


def candidates(base: str) -> Iterator[str]:
    """`base`, then `base-2`, `base-3`, ... (the ids tried in order until a free one is stored)."""
    yield base
    for n in range(2, MAX_SUFFIX + 1):
        yield f"{base}-{n}"
