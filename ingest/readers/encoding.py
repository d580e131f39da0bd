"""Decode the bytes of a text file: BOMs, UTF-8, UTF-16 without BOM, and Cyrillic single-byte code pages.

Short Cyrillic texts fool generic detectors (cp1251 and koi8-r decode each other's bytes into valid
letters), so each candidate decoding is scored by how plausible its Cyrillic is: letter frequencies, no case
changes inside words, vowels in every word, no pseudo-graphics or control characters.
"""

from __future__ import annotations

import codecs
import math
import re
from pathlib import Path

from pedkb.errors import CorruptFileError, EncodingError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Single-byte code pages tried in order; on a tie the earlier wins.
SINGLE_BYTE_CANDIDATES = ("cp1251", "koi8-r", "kz1048", "cp866", "cp1252")

# Relative frequencies of Russian letters (per cent), with the Kazakh/Kyrgyz letters at typical Kazakh rates.
_LETTER_FREQ = {
    "о": 10.97, "е": 8.45, "а": 8.01, "и": 7.35, "н": 6.70, "т": 6.26, "с": 5.47, "р": 4.73, "в": 4.54,
    "л": 4.40, "к": 3.49, "м": 3.21, "д": 2.98, "п": 2.81, "у": 2.62, "я": 2.01, "ы": 1.90, "ь": 1.74,
    "г": 1.70, "з": 1.65, "б": 1.59, "ч": 1.44, "й": 1.21, "х": 0.97, "ж": 0.94, "ш": 0.73, "ю": 0.64,
    "ц": 0.48, "щ": 0.36, "э": 0.32, "ф": 0.26, "ъ": 0.04, "ё": 0.04,
    "і": 3.0, "ә": 1.5, "қ": 1.5, "ғ": 0.8, "ң": 1.0, "ө": 0.6, "ұ": 0.6, "ү": 0.8, "һ": 0.05,
}  # fmt: skip
_RARE_LETTER = -9.0  # Ђ Љ Њ Џ ...: Cyrillic letters none of our languages uses
_LETTER_LOGP = {ch: math.log(p / 100) for ch, p in _LETTER_FREQ.items()}
_WORD = re.compile(r"[^\W\d_]+")
_VOWELS = frozenset("аеёиоуыэюяіәөүұaeiouy")
# A small prior for code pages seldom met in Kazakhstan and Kyrgyzstan, so that ties go to the common ones.
_PRIOR = {"koi8-r": -0.1, "kz1048": -0.05, "cp866": -0.2}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def plausibility(text: str) -> float:
    """How much `text` looks like real Kazakh/Kyrgyz/Russian or Latin-script text; higher is better."""
    total = 0.0
    n_high = 0
    for i, ch in enumerate(text):
        if ord(ch) <= 127 or ch.isalpha():
            continue
        n_high += 1
        code = ord(ch)
        if 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha():
            total -= 12  # a symbol inside a word: "н…“", "Н•в"
        elif 0x2500 <= code <= 0x259F or 0xE000 <= code <= 0xF8FF or 0x80 <= code <= 0x9F:
            total -= 12  # box drawing, private use, C1 controls: a wrong code page
        elif ch in "„“”‘’":
            total -= 5
        elif ch not in "«»–—…№•·°":
            total -= 8
    bad_words = 0.0
    n_words = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word.isascii():
            continue
        n_words += 1
        ascii_letters = sum(1 for ch in word if ch.isascii())
        cyrillic = [ch for ch in word if _is_cyrillic(ch)]
        others = len(word) - ascii_letters - len(cyrillic)
        n_high += len(word) - ascii_letters
        total += sum(_LETTER_LOGP.get(ch.lower(), _RARE_LETTER) for ch in cyrillic)
        # accented Latin letters belong inside mostly-ASCII words ("café"), not alone ("Ïðèâåò")
        total += others * (-4.0 if ascii_letters > others else -9.0)
        if cyrillic and (ascii_letters or others):
            bad_words += 1  # a word in two scripts
        elif len(word) > 1 and not (word.islower() or word.isupper() or word.istitle()):
            bad_words += 1  # "пРИВЕТ": koi8-r read as cp1251 swaps the case
        elif cyrillic and len(word) >= 3 and not any(ch in _VOWELS for ch in word.lower()):
            bad_words += 0.7
    if not n_high:
        return 0.0
    return total / n_high - 3.0 * bad_words / max(1, n_words)


def _looks_utf16(data: bytes) -> str | None:
    """The UTF-16 byte order of BOM-less `data`, judged by where the high (0x00/0x04) bytes fall."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    high = b"\x00\x04"

    def share(column: bytes) -> float:
        return sum(1 for b in column if b in high) / len(column)

    if share(odd) > 0.7 and share(even) < 0.3:
        return "utf-16-le"
    if share(even) > 0.7 and share(odd) < 0.3:
        return "utf-16-be"
    return None


def _fix_double_encoding(text: str) -> str:
    """Undo UTF-8 that was once read as cp1251 or latin-1 and saved again ("РџСЂРёРІРµС‚", "ÐŸÑ€Ð¸")."""
    for wrong in ("cp1251", "latin-1", "cp1252"):
        if len(re.findall(r"[РСÐÑ][\u0400-\u045f\u0080-\u00ff]", text)) < max(3, len(text) // 20):
            continue
        try:
            fixed = text.encode(wrong).decode("utf-8")
        except UnicodeError:
            continue
        if plausibility(fixed) > plausibility(text):
            return fixed
    return text


def decode_text(data: bytes, path: str | Path) -> tuple[str, str]:
    """Decode `data` read from `path` to text and name the encoding; binary data raises a ReadError."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(name), name + ("-sig" if name == "utf-8" else "")
            except UnicodeDecodeError as exc:
                raise EncodingError(
                    path, f"bytes invalid for the {name} its BOM announces ({exc.reason})"
                ) from exc
    order = _looks_utf16(data)
    if order:
        try:
            return data.decode(order), order
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise CorruptFileError(path, "binary data (NUL bytes) where text was expected")
    try:
        return _fix_double_encoding(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    best: tuple[float, str, str] | None = None
    for name in SINGLE_BYTE_CANDIDATES:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        score = plausibility(text) + _PRIOR.get(name, 0.0)
        if best is None or score > best[0]:
            best = (score, name, text)
    if best is None or best[0] < -6.5 or len(_CONTROL.findall(best[2])) > max(2, len(best[2]) // 100):
        raise EncodingError(
            path, "the text encoding could not be determined (not UTF-8, UTF-16 or a Cyrillic code page)"
        )
    return best[2], best[1]
