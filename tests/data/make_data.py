"""Generate the binary and re-encoded test documents in tests/data (run from anywhere; outputs are committed).

The UTF-8 texts (kk_ru_bilingual.txt, ky_narrow.txt, kk_latin_letters.txt, ru_plain.txt, notes.md,
page.html) are written by hand; this script derives the other encodings from them and builds the PDF, DOCX
and junk files.
"""

from __future__ import annotations

import codecs
import datetime as dt
import logging
import random
from pathlib import Path

import docx
import pymupdf

HERE = Path(__file__).resolve().parent
logger = logging.getLogger("make_data")

HEADER = "Әдістемелік хабаршы · №3"
PDF_PAGES = [
    [
        "Озық тәжірибені жинақтау әдіскердің күнделікті жұмысының бір бөлігі.",
        "Әдіскер мектептегі сабақтарға қатысып, мұғалімнің педагогика-",
        "лық шеберлігін бағалайды және оның жұмыс жүйесін сипаттайды.",
        "Сипаттама оқу-",
        "әдістемелік кеңесте талқыланады.",
        "Кеңес шешімімен тәжірибе облыстық банкке ұсынылады.",
    ],
    [
        "Банктегі әр жазбада автордың аты, мектебі, пәні және",
        "тәжірибенің қысқаша мазмұны болады. Педагогикалық қауымдастық",
        "бұл жазбаларды іздеп, өз сабақтарында пайдалана алады.",
        "Жыл соңында әдіскерлер банктің толықтырылуы туралы есеп береді.",
    ],
    [
        "Опыт, включённый в банк, распространяется через семинары,",
        "мастер-классы и открытые уроки. Методисты района следят за тем,",
        "как учителя применяют описанные приёмы на практике.",
        "Результаты обсуждаются на заседании методического совета.",
    ],
]
FIXED_DATE = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def _font() -> pymupdf.Font:
    # MuPDF's built-in Helvetica (Nimbus Sans) has Cyrillic glyphs; TextWriter embeds it with Unicode maps.
    return pymupdf.Font("helv")


def _text_pdf() -> pymupdf.Document:
    document = pymupdf.open()
    font = _font()
    for number, lines in enumerate(PDF_PAGES, start=1):
        page = document.new_page(width=420, height=420)
        writer = pymupdf.TextWriter(page.rect)
        writer.append((40, 40), HEADER, font=font, fontsize=9)
        for row, line in enumerate(lines):
            writer.append((40, 80 + 16 * row), line, font=font, fontsize=10)
        writer.append((205, 395), str(number), font=font, fontsize=9)
        writer.write_text(page)
    document.set_metadata(
        {"title": "Әдістемелік хабаршы", "author": "pedkb tests", "creationDate": "D:20240501120000Z"}
    )
    document.subset_fonts()
    return document


def make_pdfs() -> None:
    """three_pages.pdf, encrypted.pdf, scanned.pdf (image only) and truncated.pdf."""
    document = _text_pdf()
    data = document.tobytes(garbage=4, deflate=True, no_new_id=True)
    (HERE / "three_pages.pdf").write_bytes(data)
    (HERE / "truncated.pdf").write_bytes(data[: len(data) // 2])
    document.save(
        str(HERE / "encrypted.pdf"),
        garbage=4,
        deflate=True,
        encryption=pymupdf.PDF_ENCRYPT_AES_256,  # type: ignore[attr-defined]
        owner_pw="owner-secret",
        user_pw="user-secret",
    )
    scanned = pymupdf.open()
    page = scanned.new_page(width=300, height=200)
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 40, 20), False)
    pixmap.clear_with(200)
    page.insert_image(pymupdf.Rect(20, 20, 280, 150), pixmap=pixmap)
    (HERE / "scanned.pdf").write_bytes(scanned.tobytes(garbage=4, deflate=True, no_new_id=True))


def make_docx() -> None:
    """guide.docx: a heading, paragraphs in Kazakh and Russian, a table with a merged cell in between."""
    document = docx.Document()
    core = document.core_properties
    core.title = "Тәжірибе банкіне нұсқаулық"
    core.author = "pedkb tests"
    core.created = core.modified = FIXED_DATE.replace(tzinfo=None)
    document.add_heading("Кіріспе", level=1)
    document.add_paragraph("Бұл нұсқаулық тәжірибе банкіне жазба енгізу тәртібін сипаттайды.")
    table = document.add_table(rows=3, cols=3)
    rows = [
        ("Кезең", "Мазмұны", "Жауапты"),
        ("Анықтау", "Мектептердегі тәжірибені іздеу", "Әдіскер"),
        ("Тарату", "Семинар және шебер-сынып", "Әдіскер"),
    ]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    table.cell(2, 1).merge(table.cell(2, 2)).text = "Семинар және шебер-сынып"
    document.add_paragraph("Таблица показывает этапы работы с опытом учителей.")
    document.save(str(HERE / "guide.docx"))


def make_encodings() -> None:
    """The texts in cp1251, koi8-r, kz1048, UTF-16 (with and without BOM), UTF-8 with BOM, double UTF-8."""
    ru = (HERE / "ru_plain.txt").read_text(encoding="utf-8")
    (HERE / "ru_cp1251.txt").write_bytes(ru.encode("cp1251"))
    (HERE / "ru_koi8r.txt").write_bytes(ru.encode("koi8-r"))
    (HERE / "ru_short_koi8r.txt").write_bytes("Методический кабинет\n".encode("koi8-r"))
    (HERE / "ru_short_cp1251.txt").write_bytes("Методический кабинет\n".encode("cp1251"))
    # UTF-8 once read as cp1251 and saved again as UTF-8 ("РњРµС‚РѕРґ...")
    doubled = "Методический кабинет собирает опыт учителей района.\n"
    (HERE / "ru_double_utf8.txt").write_bytes(doubled.encode("utf-8").decode("cp1251").encode("utf-8"))
    bilingual = (HERE / "kk_ru_bilingual.txt").read_text(encoding="utf-8")
    (HERE / "kk_ru_utf16le_bom.txt").write_bytes(codecs.BOM_UTF16_LE + bilingual.encode("utf-16-le"))
    (HERE / "kk_ru_utf16be.txt").write_bytes(bilingual.encode("utf-16-be"))
    ky = (HERE / "ky_narrow.txt").read_text(encoding="utf-8")
    (HERE / "ky_utf8_bom.txt").write_bytes(codecs.BOM_UTF8 + ky.encode("utf-8"))
    kk = "Әдістемелік кабинет мұғалімдердің озық тәжірибесін жинақтайды.\n"
    (HERE / "kk_kz1048.txt").write_bytes(kk.encode("kz1048"))
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        "<title>Методический кабинет</title></head><body><h1>Новости</h1>"
        "<p>Открытые уроки пройдут в мае.</p></body></html>\n"
    )
    (HERE / "page_cp1251.html").write_bytes(html.encode("cp1251"))


def make_junk() -> None:
    """Random bytes with NULs under .pdf and .txt names."""
    rng = random.Random(20240501)
    junk = bytes(rng.randrange(256) for _ in range(600)) + b"\x00\x00\x01"
    (HERE / "junk.pdf").write_bytes(junk)
    (HERE / "junk.txt").write_bytes(junk)
    (HERE / "empty.txt").write_bytes(b"")


def main() -> None:
    """Write every generated file next to this script."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    make_pdfs()
    make_docx()
    make_encodings()
    make_junk()
    for path in sorted(HERE.iterdir()):
        logger.info("%8d  %s", path.stat().st_size, path.name)


if __name__ == "__main__":
    main()
