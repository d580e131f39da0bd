"""Whether a PDF page's text layer is usable, or the page must be OCR'd (no text, or garbage from a bad font map)."""

from __future__ import annotations

import unicodedata

# A page with fewer letters than this has no real text layer (a page number, a scanner's stamp).
MIN_LETTERS = 20
# Shares of the visible characters above which the text layer is garbage.
MAX_BROKEN_SHARE = 0.05  # U+FFFD, private-use glyphs, control characters
MIN_LETTER_SHARE = 0.5  # prose is mostly letters; a wrong font map gives digits and symbols
MAX_LATIN1_SHARE = 0.3  # Cyrillic read through a Latin-1 font map: Ñîçäàíèå ïðîåêòà


def text_layer_problem(text: str, *, has_images: bool) -> str | None:
    """Why the text layer of a page cannot be used ("no text", "garbage: ..."), or None when it is fine.

    A page with little or no text counts as unusable only when it carries an image (a blank page needs no OCR).
    """
    visible = [ch for ch in text if not ch.isspace()]
    letters = [ch for ch in visible if ch.isalpha()]
    if len(letters) < MIN_LETTERS:
        return "no text" if has_images else None
    broken = sum(1 for ch in visible if ch == "\ufffd" or unicodedata.category(ch) in {"Co", "Cc", "Cs"})
    if broken > MAX_BROKEN_SHARE * len(visible):
        return "garbage: replacement or private-use characters"
    if len(letters) < MIN_LETTER_SHARE * len(visible):
        return "garbage: mostly non-letters"
    latin1 = sum(1 for ch in letters if "\u00c0" <= ch <= "\u00ff")
    if latin1 > MAX_LATIN1_SHARE * len(letters):
        return "garbage: wrong font map (Latin-1 letters in place of Cyrillic)"
    return None
