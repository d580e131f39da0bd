"""Untrusted files are read within limits: bombs, huge page trees, deep HTML, disguised files, crashing parsers.

Every hostile file is refused (or read by its real format) with an error naming the file and the reason, in under
5 s and under 300 MB of extra peak RSS in this process, and a good file read right after it still parses.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from ingest import PreparedDocument, ReadLimits, chunk_document, prepare_document
from ingest.sandbox import Extractor, default_pool, read_isolated
from pedkb.errors import CorruptFileError, LimitExceededError, ParserCrashError, ReadError
from pedkb.settings import Settings
from tests.support import hostile

DATA = Path(__file__).parent / "data"
MAX_BYTES = 50 * hostile.MB
LIMITS = ReadLimits.defaults()
EMPTY_ZIP = b"PK\x05\x06" + b"\0" * 18
GOOD_TEXT = "Бұл жақсы құжат. Оқушылар жобалық әдіспен жұмыс істейді."
# (file name, builder, expected error, words the reason must contain)
HOSTILE: list[tuple[str, Callable[[Path], object], type[ReadError], str]] = [
    ("bomb.docx", hostile.docx_bomb, LimitExceededError,
     "decompressed size 500 MB exceeds the 200 MB limit (PEDKB_MAX_DECOMPRESSED_MB)"),
    ("lying-bomb.docx", lambda p: hostile.docx_bomb(p, 500, declared_mb=1), CorruptFileError,
     "word/document.xml unpacks to more than the 1048576 bytes its ZIP directory declares"),
    ("dense.docx", lambda p: hostile.docx_bomb(p, 20), LimitExceededError, "(PEDKB_MAX_COMPRESSION_RATIO)"),
    ("zip-in-zip.docx", lambda p: hostile.small_docx(p, "x", [hostile.stored("word/inner.zip", EMPTY_ZIP)]),
     LimitExceededError, "holds another archive (word/inner.zip)"),
    ("hidden-zip.docx", lambda p: hostile.small_docx(p, "x", [hostile.deflated("word/media/image1.png",
                                                                               EMPTY_ZIP)]),
     LimitExceededError, "holds another archive (word/media/image1.png)"),
    ("zip-of-docx.docx", lambda p: hostile.write_zip(p, [hostile.stored("inner.docx", EMPTY_ZIP)]),
     CorruptFileError, "no word/document.xml"),
    ("pages.pdf", lambda p: hostile.many_pages_pdf(p, 100_000), LimitExceededError,
     "the PDF has 100000 pages, more than the limit of 5000 (PEDKB_MAX_PDF_PAGES)"),
    ("count.pdf", lambda p: hostile.lying_count_pdf(p, 10**9), CorruptFileError, "the page tree cannot be read"),
    ("deep.html", lambda p: hostile.deep_html(p, 100_000), LimitExceededError, "nested too deeply"),
    ("huge-node.html", lambda p: p.write_bytes(b"<html><body><p>" + b"a" * 12 * hostile.MB + b"</p></body></html>"),
     LimitExceededError, "too large to parse (Resource limit exceeded: Buffer size limit exceeded"),
    ("text.pdf", lambda p: p.write_text(GOOD_TEXT, encoding="utf-8"), CorruptFileError, "not a PDF"),
    ("garbage.docx", lambda p: p.write_bytes(random.Random(1).randbytes(4096)), CorruptFileError, "not a DOCX"),
]


def count_words(text: str) -> int:
    """A whitespace tokenizer."""
    return len(text.split())


@contextmanager
def within_budget(seconds: float = 5.0, extra_rss_mb: float = 300.0) -> Iterator[None]:
    """Fail if the block takes longer than `seconds` or raises this process's peak RSS by more than `extra_rss_mb`."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    extra_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert extra_mb < extra_rss_mb, f"peak RSS grew by {extra_mb:.0f} MB"


def prepare(path: Path, limits: ReadLimits = LIMITS) -> PreparedDocument:
    """The isolated path the index uses."""
    return chunk_document(read_isolated(path, max_bytes=MAX_BYTES, limits=limits), count_tokens=count_words)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile files and a good one, built in a temporary folder."""
    folder = tmp_path_factory.mktemp("hostile")
    for name, build, _, _ in HOSTILE:
        build(folder / name)
    hostile.small_docx(folder / "good.docx", GOOD_TEXT)
    return folder


@pytest.fixture(scope="module", autouse=True)
def warm_pool() -> None:
    """A first worker started outside the timed tests (a fresh interpreter takes about a second)."""
    read_isolated(DATA / "ru_plain.txt", max_bytes=MAX_BYTES)


@pytest.mark.parametrize(("name", "error", "reason"), [(n, e, r) for n, _, e, r in HOSTILE],
                         ids=[name for name, *_ in HOSTILE])
def test_hostile_file_refused_and_next_file_read(corpus: Path, name: str, error: type[ReadError], reason: str) -> None:
    with within_budget():
        with pytest.raises(error) as caught:
            prepare(corpus / name)
        assert reason in caught.value.reason
        assert str(caught.value).startswith(f"{corpus / name}: ")
        good = prepare(corpus / "good.docx")
    assert good.pages[0].text == GOOD_TEXT and good.chunks[0].lang == "kk"


def test_refused_in_process_too(corpus: Path) -> None:
    """The size checks run in the reader itself: without isolation the bomb is refused before python-docx."""
    with within_budget():
        with pytest.raises(LimitExceededError, match="PEDKB_MAX_DECOMPRESSED_MB"):
            prepare_document(corpus / "bomb.docx", max_bytes=MAX_BYTES, count_tokens=count_words)


def test_bomb_within_the_size_limits_hits_the_memory_cap(corpus: Path) -> None:
    """With the ZIP checks let through, the parser process runs out of memory, not this one."""
    loose = replace(LIMITS, max_decompressed_mb=10_000, max_compression_ratio=10**6, parse_memory_mb=256)
    with within_budget(seconds=20):
        with pytest.raises(LimitExceededError, match=r"parser ran out of memory \(limit 256 MB, PEDKB_PARSE_MEMORY"):
            prepare(corpus / "bomb.docx", loose)
        assert prepare(corpus / "good.docx").pages[0].text == GOOD_TEXT


@pytest.mark.parametrize(("source", "name", "fmt"), [
    ("guide.docx", "guide.pdf", "docx"),
    ("three_pages.pdf", "three_pages.txt", "pdf"),
    ("page.html", "page.txt", "html"),
])
def test_file_read_by_its_real_format(tmp_path: Path, source: str, name: str, fmt: str) -> None:
    shutil.copyfile(DATA / source, tmp_path / name)
    assert prepare(tmp_path / name).fmt == fmt


def test_text_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text(GOOD_TEXT * 100, encoding="utf-8")
    with pytest.raises(LimitExceededError, match=r"more than the limit of 1000 \(PEDKB_MAX_TEXT_CHARS_PER_FILE\)"):
        prepare(path, replace(LIMITS, max_text_chars_per_file=1000))


def test_invalid_utf8_file_names(tmp_path: Path) -> None:
    """A name with bytes that are not UTF-8 is read, and an error about it shows those bytes escaped."""
    folder = os.fsencode(tmp_path)
    good = Path(os.fsdecode(folder + b"/\xff\xfe-good.txt"))
    good.write_text(GOOD_TEXT, encoding="utf-8")
    assert prepare(good).pages[0].text == GOOD_TEXT
    bad = Path(os.fsdecode(folder + b"/bad-\xe9t\xe9.pdf"))
    bad.write_text("not a pdf", encoding="utf-8")
    with pytest.raises(CorruptFileError) as caught:
        prepare(bad)
    message = str(caught.value)
    assert message.endswith("bad-\\xe9t\\xe9.pdf: not a PDF: the file does not start with %PDF")
    message.encode("utf-8")  # printable and loggable as it is
    assert caught.value.path == str(bad)  # the real name, to open the file again


@pytest.mark.parametrize(("reader", "limits", "error", "reason"), [
    (hostile.crashing_reader, LIMITS, ParserCrashError, r"the parser process crashed \(signal 11, SIGSEGV\)"),
    (hostile.hanging_reader, replace(LIMITS, parse_timeout_s=1), LimitExceededError,
     r"parsing took longer than 1 s \(PEDKB_PARSE_TIMEOUT_S\)"),
    (hostile.hungry_reader, replace(LIMITS, parse_memory_mb=256), LimitExceededError,
     r"parser ran out of memory \(limit 256 MB, PEDKB_PARSE_MEMORY_MB\)"),
], ids=["crash", "hang", "memory"])
def test_failing_parser_process_is_replaced(corpus: Path, reader: Extractor, limits: ReadLimits,
                                            error: type[ReadError], reason: str) -> None:
    """A parser that segfaults, hangs or eats memory costs one file; the next file is read by a fresh process."""
    with within_budget():
        with pytest.raises(error, match=reason):
            default_pool().read(corpus / "good.docx", max_bytes=MAX_BYTES, limits=limits, extract=reader)
        assert prepare(corpus / "good.docx").pages[0].text == GOOD_TEXT


def test_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEDKB_MAX_PDF_PAGES", "2")
    monkeypatch.setenv("PEDKB_PARSE_TIMEOUT_S", "5")
    settings = Settings()
    limits = ReadLimits.from_settings(settings)
    assert (limits.max_pdf_pages, limits.parse_timeout_s, settings.isolate_parsing) == (2, 5.0, True)
    with pytest.raises(LimitExceededError, match="the PDF has 3 pages, more than the limit of 2"):
        prepare(DATA / "three_pages.pdf", limits)
