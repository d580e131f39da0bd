"""Tests of the readers: formats, encodings, titles, and the error raised for every kind of bad file."""

from __future__ import annotations

import codecs
import os
import random
import shutil
from pathlib import Path

import pytest

from ingest import SUPPORTED_SUFFIXES, prepare_document, read_document
from pedkb.errors import (
    CorruptFileError,
    EmptyFileError,
    EncodingError,
    EncryptedFileError,
    FileTooLargeError,
    NoTextLayerError,
    ReadError,
    UnsupportedFormatError,
)

DATA = Path(__file__).parent / "data"
LIMIT = 1_000_000
RU_PLAIN = (DATA / "ru_plain.txt").read_text(encoding="utf-8")
BILINGUAL = (DATA / "kk_ru_bilingual.txt").read_text(encoding="utf-8")
KY_NARROW = (DATA / "ky_narrow.txt").read_text(encoding="utf-8")
_RNG = random.Random(3)
NOISE = bytes(_RNG.randrange(0x20, 256) for _ in range(200))  # no NUL, and no code page makes sense of it


def count_words(text: str) -> int:
    """A whitespace tokenizer."""
    return len(text.split())


@pytest.mark.parametrize(
    ("name", "encoding", "text"),
    [
        ("ru_plain.txt", "utf-8", RU_PLAIN),
        ("ru_cp1251.txt", "cp1251", RU_PLAIN),
        ("ru_koi8r.txt", "koi8-r", RU_PLAIN),
        ("ru_short_cp1251.txt", "cp1251", "Методический кабинет\n"),
        ("ru_short_koi8r.txt", "koi8-r", "Методический кабинет\n"),
        ("kk_kz1048.txt", "kz1048", "Әдістемелік кабинет мұғалімдердің озық тәжірибесін жинақтайды.\n"),
        ("kk_ru_utf16le_bom.txt", "utf-16-le", BILINGUAL),
        ("kk_ru_utf16be.txt", "utf-16-be", BILINGUAL),  # no BOM
        ("ky_utf8_bom.txt", "utf-8-sig", KY_NARROW),
        ("ru_double_utf8.txt", "utf-8", "Методический кабинет собирает опыт учителей района.\n"),
    ],
)
def test_text_encodings_are_detected(name: str, encoding: str, text: str) -> None:
    document = read_document(DATA / name, max_bytes=LIMIT)
    assert (document.fmt, document.encoding) == ("txt", encoding)
    assert [page.number for page in document.pages] == [None]
    assert document.pages[0].text == text


def test_markdown_syntax_is_removed() -> None:
    document = read_document(DATA / "notes.md", max_bytes=LIMIT)
    assert document.pages[0].text == (
        "Тәжірибе банкі\n\nБанкке озық тәжірибе сипаттамалары енгізіледі. Толығырақ сайтта жазылған.\n\n"
        "• бірінші кезең: анықтау;\n• екінші кезең: зерделеу.\n"
    )


def test_pdf_pages_numbers_and_title() -> None:
    document = read_document(DATA / "three_pages.pdf", max_bytes=LIMIT)
    assert document.fmt == "pdf"
    assert document.title == "Әдістемелік хабаршы"
    assert [page.number for page in document.pages] == [1, 2, 3]
    assert document.pages[0].text.splitlines()[:2] == [
        "Әдістемелік хабаршы · №3",
        "Озық тәжірибені жинақтау әдіскердің күнделікті жұмысының бір бөлігі.",
    ]
    assert document.pages[2].text.splitlines()[-1] == "3"


def test_prepared_pdf_loses_header_page_numbers_and_hyphens() -> None:
    prepared = prepare_document(DATA / "three_pages.pdf", max_bytes=LIMIT, count_tokens=count_words)
    assert prepared.pages[0].text == (
        "Озық тәжірибені жинақтау әдіскердің күнделікті жұмысының бір бөлігі. Әдіскер мектептегі сабақтарға "
        "қатысып, мұғалімнің педагогикалық шеберлігін бағалайды және оның жұмыс жүйесін сипаттайды. "
        "Сипаттама оқу-әдістемелік кеңесте талқыланады.\n\n"
        "Кеңес шешімімен тәжірибе облыстық банкке ұсынылады."
    )
    assert all("хабаршы" not in page.text for page in prepared.pages)
    assert [(chunk.page, chunk.lang) for chunk in prepared.chunks] == [(1, "kk"), (2, "kk"), (3, "ru")]
    assert prepared.languages == ["kk", "ru"]


def test_docx_paragraphs_and_table_in_document_order() -> None:
    document = read_document(DATA / "guide.docx", max_bytes=LIMIT)
    assert document.fmt == "docx"
    assert document.title == "Тәжірибе банкіне нұсқаулық"
    assert document.pages[0].text == (
        "Кіріспе\n\n"
        "Бұл нұсқаулық тәжірибе банкіне жазба енгізу тәртібін сипаттайды.\n\n"
        "Кезең | Мазмұны | Жауапты\n\n"
        "Анықтау | Мектептердегі тәжірибені іздеу | Әдіскер\n\n"
        "Тарату | Семинар және шебер-сынып\n\n"
        "Таблица показывает этапы работы с опытом учителей."
    )


def test_html_main_text_only() -> None:
    document = read_document(DATA / "page.html", max_bytes=LIMIT)
    assert (document.fmt, document.title, document.encoding) == ("html", "Озық тәжірибе банкі", "utf-8")
    assert document.pages[0].text == (
        "Тәжірибе банкі туралы\n\n"
        "Банкте мұғалімдердің озық тәжірибесі сақталады. Әр жазбаның авторы көрсетіледі.\n\n"
        "Жұмыс кезеңдері\n\n"
        "Тәжірибені анықтау\n\n"
        "Тәжірибені зерделеу және жинақтау\n\n"
        "Кезең | Жауапты\n\n"
        "Анықтау | Әдіскер\n\n"
        "Сұрақтар болса, кабинетке хабарласыңыз."
    )
    for dropped in (
        "bannerText",
        "font-family",
        "Басты бет",
        "Облыстық әдістемелік",
        "Жарнама",
        "Іздеу",
        "©",
    ):
        assert dropped not in document.pages[0].text


def test_html_with_a_declared_code_page() -> None:
    document = read_document(DATA / "page_cp1251.html", max_bytes=LIMIT)
    assert (document.title, document.encoding) == ("Методический кабинет", "windows-1251")
    assert document.pages[0].text == "Новости\n\nОткрытые уроки пройдут в мае."


def test_html_title_falls_back_to_h1_and_utf16(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    html = (
        "<html><body><nav>Мәзір</nav><h1>Жаңалықтар</h1><p>Семинар <i>сәрсенбіде</i> өтеді.</p></body></html>"
    )
    path.write_bytes(codecs.BOM_UTF16_LE + html.encode("utf-16-le"))
    document = read_document(path, max_bytes=LIMIT)
    assert (document.fmt, document.title) == ("html", "Жаңалықтар")
    assert document.pages[0].text == "Жаңалықтар\n\nСеминар сәрсенбіде өтеді."


def test_format_comes_from_magic_bytes_before_the_extension(tmp_path: Path) -> None:
    pdf_named_txt = tmp_path / "report.txt"
    shutil.copy(DATA / "three_pages.pdf", pdf_named_txt)
    assert read_document(pdf_named_txt, max_bytes=LIMIT).fmt == "pdf"
    html_named_txt = tmp_path / "saved.txt"
    shutil.copy(DATA / "page.html", html_named_txt)
    assert read_document(html_named_txt, max_bytes=LIMIT).fmt == "html"
    no_suffix = tmp_path / "README"
    no_suffix.write_text("Мәтін файлы.", encoding="utf-8")
    assert read_document(no_suffix, max_bytes=LIMIT).fmt == "txt"


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("empty.txt", EmptyFileError, "empty"),
        ("encrypted.pdf", EncryptedFileError, "password"),
        ("truncated.pdf", CorruptFileError, "truncated"),
        ("junk.pdf", CorruptFileError, "not a PDF"),
        ("junk.txt", CorruptFileError, "binary data"),
    ],
)
def test_bad_files_raise_the_right_error_naming_the_file(
    name: str, error: type[ReadError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        read_document(DATA / name, max_bytes=LIMIT)
    assert type(caught.value) is error
    assert caught.value.path == str(DATA / name)
    assert str(caught.value).startswith(f"{DATA / name}: ")
    assert reason in caught.value.reason


def test_scanned_pdf_is_marked_for_ocr_and_a_blank_scan_has_no_text_layer() -> None:
    document = read_document(DATA / "scanned.pdf", max_bytes=LIMIT)
    assert document.needs_ocr == [1] and document.scans is not None
    with pytest.raises(NoTextLayerError, match="no text layer, and OCR found no text on its 1 scanned page"):
        prepare_document(DATA / "scanned.pdf", max_bytes=LIMIT, count_tokens=count_words)


def test_too_large_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    with pytest.raises(
        FileTooLargeError, match="three_pages.pdf: the file has \\d+ bytes, more than the limit of 1000"
    ):
        read_document(DATA / "three_pages.pdf", max_bytes=1000)


def test_missing_file_directory_and_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ReadError, match="nothing.pdf: no such file"):
        read_document(tmp_path / "nothing.pdf", max_bytes=LIMIT)
    with pytest.raises(ReadError, match="is a directory") as caught:
        read_document(tmp_path, max_bytes=LIMIT)
    assert caught.value.path == str(tmp_path)

    locked = tmp_path / "locked.txt"
    locked.write_text("Құпия мәтін.", encoding="utf-8")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(ReadError, match="locked.txt: permission denied"):
        read_document(locked, max_bytes=LIMIT)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_file_without_read_permission(tmp_path: Path) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("Құпия мәтін.", encoding="utf-8")
    locked.chmod(0)
    with pytest.raises(ReadError, match="permission denied"):
        read_document(locked, max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("name", "content", "error", "reason"),
    [
        ("table.xyz", "мәтін".encode(), UnsupportedFormatError, "unsupported format '.xyz'"),
        (
            "old.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
            UnsupportedFormatError,
            "legacy Office",
        ),
        ("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, CorruptFileError, "damaged image"),
        ("anim.gif", b"GIF89a" + b"\x00" * 32, UnsupportedFormatError, "GIF image"),
        ("scan.tiff", "мәтін".encode(), CorruptFileError, "not a PNG, JPEG or TIFF image"),
        ("broken.docx", "бұл docx емес".encode(), CorruptFileError, "not a DOCX"),
        ("noise.txt", NOISE, EncodingError, "encoding could not be determined"),
    ],
)
def test_unsupported_and_broken_formats(
    tmp_path: Path, name: str, content: bytes, error: type[ReadError], reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as caught:
        read_document(path, max_bytes=LIMIT)
    assert type(caught.value) is error
    assert str(caught.value).startswith(f"{path}: ")
    assert reason in caught.value.reason


def test_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "мәтін")
    with pytest.raises(CorruptFileError, match="archive.docx: damaged DOCX"):
        read_document(path, max_bytes=LIMIT)


def test_document_with_no_text_after_repair(tmp_path: Path) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text("12\n\n13\n\n___\n", encoding="utf-8")
    with pytest.raises(EmptyFileError, match="numbers.txt: no text left"):
        prepare_document(path, max_bytes=LIMIT, count_tokens=count_words)


def test_supported_suffixes() -> None:
    assert {".pdf", ".docx", ".txt", ".md", ".html", ".htm"} <= set(SUPPORTED_SUFFIXES)
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in SUPPORTED_SUFFIXES)
