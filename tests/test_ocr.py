"""OCR of scanned pages: Kazakh, Kyrgyz and Russian scans (clean and degraded), garbage text layers, images, resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

import ingest.ocr.run
from ingest import OcrOptions, OcrProgress, PreparedDocument, prepare_document, read_document
from ingest.limits import ReadLimits
from ingest.ocr import PageOcr, text_layer_problem
from ingest.ocr.deskew import binarise, estimate_skew
from ingest.ocr.engine import probe_band
from pedkb.errors import LimitExceededError, OcrUnavailableError
from tests.support.scans import degrade, image_bytes, render_page, sample_text, scanned_pdf

LIMIT = 50_000_000
LANGUAGES = ("kk", "ky", "ru")
SHORT_PAGE = (8.27, 4.0)  # inches: a third of an A4 page keeps the single-page tests fast
# Cyrillic text read through a Latin-1 font map, as some old PDFs carry it.
MOJIBAKE = "Ðàáîòà â ãðóïïàõ ó÷èò äåòåé ñëóøàòü äðóã äðóãà è îáîñíîâûâàòü ñâî¸ ìíåíèå."


def count_words(text: str) -> int:
    return len(text.split())


def cer(recognised: str, reference: str) -> float:
    """Character error rate after collapsing whitespace."""
    return Levenshtein.normalized_distance(" ".join(recognised.split()), " ".join(reference.split()))


def prepare(path: Path, **options: object) -> PreparedDocument:
    return prepare_document(path, max_bytes=LIMIT, count_tokens=count_words, ocr=OcrOptions(**options))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def clean_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], Path, list[OcrProgress]]:
    """A three-page image-only PDF (kk, ky, ru) read once with a cache: (pdf, reference texts, cache, progress)."""
    folder = tmp_path_factory.mktemp("clean")
    rendered = [render_page(sample_text(lang), inches=SHORT_PAGE, margin=0.5) for lang in LANGUAGES]
    pdf = folder / "scan.pdf"
    pdf.write_bytes(scanned_pdf([image for image, _ in rendered]))
    events: list[OcrProgress] = []
    cache = folder / "ocr-cache"
    prepared = prepare(pdf, cache_dir=cache, on_page=events.append)
    pdf.with_suffix(".prepared").write_text("\f".join(page.text for page in prepared.pages), encoding="utf-8")
    return pdf, [text for _, text in rendered], cache, events


def test_clean_scans_are_read_within_two_percent_per_language(clean_scan) -> None:  # type: ignore[no-untyped-def]
    pdf, references, _, events = clean_scan
    texts = pdf.with_suffix(".prepared").read_text(encoding="utf-8").split("\f")
    for lang, text, reference in zip(LANGUAGES, texts, references, strict=True):
        assert cer(text, reference) <= 0.02, (lang, text)
    assert any(letter in texts[0] for letter in "әғқңөұүһі") and "ң" in texts[1] and "ө" in texts[1]
    assert events[0].page is None and events[0].done == 0  # OCR starts
    assert sorted(event.page for event in events[1:]) == [1, 2, 3]  # type: ignore[type-var]
    assert [event.done for event in events] == [0, 1, 2, 3] and {event.total for event in events} == {3}
    assert not any(event.cached for event in events)
    assert all(event.confidence and event.confidence > 0.8 for event in events[1:])


def test_ocr_pages_and_their_chunks_are_flagged_with_the_confidence(tmp_path: Path, clean_scan) -> None:  # type: ignore[no-untyped-def]
    pdf, _, cache, _ = clean_scan
    prepared = prepare(pdf, cache_dir=cache)  # from the cache: no recognition
    assert [page.ocr for page in prepared.pages] == [True, True, True]
    for page in prepared.pages:
        assert page.ocr_confidence is not None and 0.8 < page.ocr_confidence <= 1 and not page.low_confidence
    assert prepared.chunks and all(chunk.ocr and chunk.ocr_confidence for chunk in prepared.chunks)
    assert [chunk.lang for chunk in prepared.chunks] == list(LANGUAGES)


def test_a_second_run_resumes_from_the_cache(clean_scan, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    pdf, references, cache, _ = clean_scan
    entries = sorted(cache.rglob("*.json"))
    assert len(entries) == 3 and not list(cache.rglob(".tmp-*"))
    calls: list[int] = []
    real_read_page = ingest.ocr.run.read_page

    def counting_read_page(image: Image.Image, **kwargs: object) -> PageOcr:
        calls.append(1)
        return real_read_page(image, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest.ocr.run, "read_page", counting_read_page)
    events: list[OcrProgress] = []
    prepare(pdf, cache_dir=cache, workers=1, on_page=events.append)
    assert calls == [] and all(event.cached for event in events[1:]) and len(events) == 4

    entries[0].unlink()  # as if the run had been interrupted before that page was written
    events.clear()
    prepared = prepare(pdf, cache_dir=cache, workers=1, on_page=events.append)
    assert len(calls) == 1 and sum(not event.cached for event in events[1:]) == 1
    for text, page in zip(references, prepared.pages, strict=True):
        assert cer(page.text, text) <= 0.02


def test_text_recognised_by_ocr_counts_against_the_text_limit(clean_scan) -> None:  # type: ignore[no-untyped-def]
    pdf, _, cache, _ = clean_scan
    limits = replace(ReadLimits.defaults(), max_text_chars_per_file=1000)  # the three pages hold ~2,100
    with pytest.raises(LimitExceededError, match=r"characters of text, more than the limit of 1000"):
        prepare_document(pdf, max_bytes=LIMIT, count_tokens=count_words, limits=limits,
                         ocr=OcrOptions(cache_dir=cache))


def test_degraded_scans_are_deskewed_and_read_within_five_percent(tmp_path: Path) -> None:
    pages, references = [], []
    for seed, lang in enumerate(LANGUAGES):
        image, reference = render_page(sample_text(lang), inches=SHORT_PAGE, margin=0.5)
        pages.append(degrade(image, angle=1.5, dpi_from=300, dpi_to=200, seed=seed, jpeg_quality=60))
        references.append(reference)
    pdf = tmp_path / "degraded.pdf"
    pdf.write_bytes(scanned_pdf(pages))
    prepared = prepare(pdf)
    for lang, page, reference in zip(LANGUAGES, prepared.pages, references, strict=True):
        assert cer(page.text, reference) <= 0.05, (lang, page.text)


def test_skew_is_measured_by_the_projection_profile() -> None:
    image, _ = render_page(sample_text("ru"), inches=SHORT_PAGE, margin=0.5)
    for angle in (-3.0, 1.5, 4.2):
        tilted = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        assert estimate_skew(tilted) == pytest.approx(-angle, abs=0.2)
    assert estimate_skew(Image.new("L", (400, 300), 255)) == 0.0


def test_garbage_text_layers_are_detected() -> None:
    assert text_layer_problem(sample_text("kk"), has_images=True) is None
    assert text_layer_problem("", has_images=True) == "no text"
    assert text_layer_problem("  12  ", has_images=False) is None
    assert text_layer_problem(MOJIBAKE, has_images=True).startswith("garbage: wrong font map")  # type: ignore[union-attr]
    assert text_layer_problem("\ufffd" * 30 + " текст " * 10, has_images=True).startswith("garbage")  # type: ignore[union-attr]
    assert text_layer_problem("!#$%&'()*+ 0123456789 ,-./:;<=>? абвгд " * 5, has_images=True) == (
        "garbage: mostly non-letters"
    )


@pytest.fixture()
def mixed_pdf(tmp_path: Path) -> tuple[Path, str]:
    """Page 1: a scan of Russian text under a garbage text layer; page 2: an ordinary Kazakh text page."""
    image, reference = render_page(sample_text("ru"), inches=SHORT_PAGE, margin=0.5)
    pdf = tmp_path / "mixed.pdf"
    pdf.write_bytes(scanned_pdf([image], text_layers={0: MOJIBAKE}, text_pages={1: sample_text("kk")}))
    return pdf, reference


def test_a_page_with_a_garbage_text_layer_is_ocrd(mixed_pdf: tuple[Path, str]) -> None:
    pdf, reference = mixed_pdf
    assert read_document(pdf, max_bytes=LIMIT).needs_ocr == [1]
    prepared = prepare(pdf)
    scanned, typed = prepared.pages
    assert scanned.ocr and cer(scanned.text, reference) <= 0.02 and "Ð" not in scanned.text
    assert not typed.ocr and typed.ocr_confidence is None and "Мұғалім" in typed.text
    assert prepared.warnings == []


def test_missing_tesseract_names_the_install_command_and_text_pages_still_ingest(
    mixed_pdf: tuple[Path, str], tmp_path: Path
) -> None:
    pdf, _ = mixed_pdf
    prepared = prepare(pdf, tesseract_cmd="/nonexistent/tesseract")
    assert "Мұғалім" in prepared.pages[1].text and prepared.pages[0].text == ""
    assert {chunk.page for chunk in prepared.chunks} == {2}
    (warning,) = prepared.warnings
    assert "page(s) 1 need OCR" in warning
    assert "apt-get install tesseract-ocr tesseract-ocr-kaz tesseract-ocr-kir tesseract-ocr-rus" in warning

    image, _ = render_page("Бет", inches=(2, 1))
    png = tmp_path / "scan.png"
    png.write_bytes(image_bytes(image))
    with pytest.raises(OcrUnavailableError, match="apt-get install tesseract-ocr tesseract-ocr-kaz") as caught:
        prepare(png, tesseract_cmd="/nonexistent/tesseract")
    assert caught.value.path == str(png)


def test_a_page_over_the_time_limit_is_left_out_with_a_warning(mixed_pdf: tuple[Path, str]) -> None:
    pdf, _ = mixed_pdf
    prepared = prepare(pdf, page_timeout=0.01)
    assert prepared.pages[0].text == "" and "Мұғалім" in prepared.pages[1].text
    (warning,) = prepared.warnings
    assert "page 1 left out: OCR gave up after 0.01 s" in warning
    assert not prepared.pages[0].ocr and prepared.pages[0].ocr_confidence is None


def test_an_image_file_is_ingested_through_ocr(tmp_path: Path) -> None:
    image, reference = render_page(sample_text("ky"), inches=SHORT_PAGE, margin=0.5)
    png = tmp_path / "scan.png"
    png.write_bytes(image_bytes(image))
    prepared = prepare(png)
    assert prepared.fmt == "image" and prepared.pages[0].number == 1 and prepared.pages[0].ocr
    assert cer(prepared.pages[0].text, reference) <= 0.02
    assert prepared.chunks[0].lang == "ky" and prepared.chunks[0].ocr

    tiff = tmp_path / "two.tiff"
    image.save(tiff, "TIFF", save_all=True, append_images=[image])
    document = read_document(tiff, max_bytes=LIMIT)
    assert document.fmt == "image" and document.needs_ocr == [1, 2] and len(document.pages) == 2


def test_the_language_probe_reads_the_first_lines_of_a_full_page_only() -> None:
    full, _ = render_page(" ".join([sample_text("kk")] * 6))
    band = probe_band(binarise(full))
    assert band is not None and band.width == full.width and 400 <= band.height < full.height // 3
    short, _ = render_page(sample_text("kk"), inches=SHORT_PAGE, margin=0.5)
    assert probe_band(binarise(short)) is None


def test_a_missing_language_model_is_named_with_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))  # a tessdata folder without kaz, kir, rus
    image, _ = render_page("Бет", inches=(2, 1))
    png = tmp_path / "scan.png"
    png.write_bytes(image_bytes(image))
    with pytest.raises(OcrUnavailableError) as caught:
        prepare(png)
    assert "no kaz, kir, rus language model" in caught.value.reason
    assert "apt-get install tesseract-ocr-kaz tesseract-ocr-kir tesseract-ocr-rus" in caught.value.reason
