"""The message catalogue: every language has every message with the same placeholders; Accept-Language picks one."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from search_api.i18n import LANGUAGES, MESSAGES, message, pick_language


def placeholders(template: str) -> set[str]:
    """The names of a template's `{placeholders}`."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_message_has_every_language_with_the_same_placeholders() -> None:
    assert set(LANGUAGES) == {"en", "ru", "kk", "ky"}
    for kind, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), f"{kind}: {sorted(texts)}"
        expected = placeholders(texts["en"])
        for lang, text in texts.items():
            assert text.strip(), f"{kind}/{lang} is empty"
            assert placeholders(text) == expected, f"{kind}/{lang}: {placeholders(text)} != {expected}"


def test_kyrgyz_messages_use_no_kazakh_only_letters() -> None:
    for kind, texts in MESSAGES.items():
        assert not set(texts["ky"]) & set("әғқұһіӘҒҚҰҺІ"), f"{kind}: {texts['ky']}"


def test_message_fills_values_and_keeps_unknown_placeholders() -> None:
    assert message("document_not_found", "ky", id="d1") == "«d1» документи табылган жок"
    assert message("too_large", "ky", field="k", limit=100) == "k эң көбү 100 болушу керек (берилгени: {value})"
    assert message("file_unchanged", "xx") == "unchanged"


@pytest.mark.parametrize(("header", "lang"), [
    (None, "en"),
    ("", "en"),
    ("ky", "ky"),
    ("ky-KG", "ky"),
    ("KY-kg", "ky"),
    ("ky-KG,ru;q=0.8", "ky"),
    ("ru;q=0.9, ky;q=0.5", "ru"),
    ("kk-KZ, ky;q=0.9", "kk"),
    ("ky;q=0, ru;q=0.1", "ru"),
    ("de, fr;q=0.5", "en"),
])  # fmt: skip
def test_pick_language(header: str | None, lang: str) -> None:
    assert pick_language(header) == lang


# ---- the page's interface strings (search_api/web/static/strings*.js) ----

STATIC = Path(__file__).resolve().parents[1] / "search_api" / "web" / "static"
PAGE_LANGS = ("kk", "ru", "ky")  # the interface in the languages of the content
UI_LANGS = (*PAGE_LANGS, "en")  # and in English
KAZAKH_ONLY = set("әғқұһіӘҒҚҰҺІ")  # letters of Kazakh that Kyrgyz and Russian do not have
KYRGYZ_AND_KAZAKH = set("ңөүҢӨҮ")  # letters both have and Russian does not
# Latin words an interface may keep in any language: format and standard names, and the product's name.
LATIN_ALLOWED = {"API", "PDF", "DOCX", "TXT", "MD", "HTML", "OCR", "CSV", "RIS", "JSON", "pedkb", "Lesson", "Study"}
SLUG_EXAMPLE = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)+\b")  # an example id such as kitap-kluby-2025
# Keys whose kk or ky text may equal the Russian one: the same word in all three (a loanword, a format list).
SAME_AS_RUSSIAN = {"type_technology", "filter_technology", "technology", "document", "file", "upload_files",
                   "field_id", "key_label", "footer_api", "interface_language", "filters_active", "filter_grade",
                   "tree_count", "page_n", "stats_line", "filters", "country_kg", "evidence_seminar"}


def js_tables(path: Path) -> dict[str, dict[str, str]]:
    """The `lang: { key: "text", ... }` tables of a strings file, every line accounted for (no silent skips)."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    entry = re.compile(r'^\s+(\w+): ("(?:[^"\\]|\\.)*"),$')
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if match := re.match(r"^  (\w\w): \{$", line):
            current = tables.setdefault(match.group(1), {})
        elif current is not None and line.startswith("  },"):
            current = None
        elif current is not None and line.strip():
            found = entry.match(line)
            assert found, f"{path.name}:{lineno}: not a `key: \"text\",` line: {line!r}"
            assert found.group(1) not in current, f"{path.name}:{lineno}: {found.group(1)} twice"
            current[found.group(1)] = json.loads(found.group(2))
    return tables


def page_strings() -> dict[str, dict[str, str]]:
    """Every interface string of the page and the widget, per language, as strings.js merges them."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(STATIC.glob("strings*.js")):
        for lang, table in js_tables(path).items():
            overlap = set(merged.get(lang, {})) & set(table)
            assert not overlap, f"{path.name}: {sorted(overlap)} also in another strings file"
            merged.setdefault(lang, {}).update(table)
    return merged


def test_every_interface_string_exists_in_every_language_with_the_same_placeholders() -> None:
    tables = page_strings()
    assert set(tables) == set(UI_LANGS)
    keys = set(tables["ru"])
    assert len(keys) > 150
    for lang in UI_LANGS:
        assert set(tables[lang]) == keys, f"{lang}: missing {sorted(keys - set(tables[lang]))}, " \
                                          f"extra {sorted(set(tables[lang]) - keys)}"
    for lang, table in tables.items():
        for key, text in table.items():
            assert text.strip(), f"{lang}/{key} is empty"
            assert placeholders(text) == placeholders(tables["ru"][key]), f"{lang}/{key}"


def test_page_keys_are_used_and_used_keys_exist() -> None:
    keys = set(page_strings()["ru"])
    code = "\n".join(p.read_text(encoding="utf-8") for p in STATIC.glob("*.js") if not p.name.startswith("strings"))
    code += (STATIC / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r"""\bt\((?:lang|this\.lang|L|app\.lang), ["'](\w+)["']""", code))
    used |= set(re.findall(r"""app\.t\(["'](\w+)["']""", code))
    used |= set(re.findall(r"""data-i18n(?:-label)?="(\w+)\"""", code))
    assert used - keys == set(), f"used but not defined: {sorted(used - keys)}"


def latin_words(text: str) -> set[str]:
    """Latin words left once placeholders, allowed names and example ids are taken out."""
    text = SLUG_EXAMPLE.sub(" ", re.sub(r"\{\w+\}", " ", text))
    return {w for w in re.findall(r"[A-Za-z]+", text) if w not in LATIN_ALLOWED}


@pytest.mark.parametrize("lang", PAGE_LANGS)
def test_interface_strings_are_in_their_own_script(lang: str) -> None:
    """No English left in kk/ru/ky, no Kazakh letters in ky or ru, no Kazakh/Kyrgyz letters in ru, and a kk or ky
    text identical to the Russian one only where the word is the same in both (SAME_AS_RUSSIAN)."""
    tables = page_strings()
    for key, text in tables[lang].items():
        assert not latin_words(text), f"{lang}/{key}: Latin words {latin_words(text)} in {text!r}"
        letters = set(text)
        if lang == "ky":
            assert not letters & KAZAKH_ONLY, f"ky/{key}: Kazakh letters {letters & KAZAKH_ONLY} in {text!r}"
        if lang == "ru":
            assert not letters & (KAZAKH_ONLY | KYRGYZ_AND_KAZAKH), f"ru/{key}: {text!r}"
        if lang != "ru" and key not in SAME_AS_RUSSIAN and len(text) > 3:
            assert text != tables["ru"][key], f"{lang}/{key} is the Russian text: {text!r}"


def test_english_strings_have_no_cyrillic() -> None:
    for key, text in page_strings()["en"].items():
        assert not re.search(r"[\u0400-\u04ff]", text), f"en/{key}: {text!r}"


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The script checks would fail on an English word, a Kazakh letter in Kyrgyz, or a Russian text copied."""
    assert latin_words("Файлды таңдау: Choose file {name}") == {"Choose", "file"}
    assert latin_words("мисалы: kitep-klubu-2025, API, PDF") == set()
    broken = tmp_path / "strings.js"
    broken.write_text('export const X = {\n  ky: {\n    a: "x",\n    oops\n  },\n};\n', encoding="utf-8")
    with pytest.raises(AssertionError, match="not a `key"):
        js_tables(broken)
