"""The message catalogue: every language has every message with the same placeholders; Accept-Language picks one."""

from __future__ import annotations

import string

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
