"""OCR of a file's scanned pages: cached pages first, the rest in parallel, each under a per-page time limit.

Pages run in parallel as Tesseract processes, `workers` at a time, each driven by a thread of this process (the
parser process, in the sandbox): the CPU work is Tesseract's, in its own process, while deskew and binarisation are
NumPy and PIL calls that release the GIL. A pool of Python processes would fork the parser process (or start a
server beside it) and import the OCR stack once more per process under the parser's memory cap, for no speed gain.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager

import pytesseract
from PIL import Image

from ingest.ocr.cache import OcrCache
from ingest.ocr.engine import engine_version, read_page
from ingest.ocr.images import PageImages
from ingest.ocr.options import OcrOptions, OcrProgress, PageOcr

logger = logging.getLogger(__name__)


@contextmanager
def _single_threaded_tesseract() -> Iterator[None]:
    """One OpenMP thread per Tesseract process while pages run (the pages in parallel already fill the cores)."""
    previous = os.environ.get("OMP_THREAD_LIMIT")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = previous


def _read_or_fail(image: Image.Image, timeout: float, tesseract_cmd: str) -> PageOcr:
    """read_page, with a time-out or a Tesseract failure turned into a failed result rather than an exception."""
    try:
        return read_page(image, timeout=timeout, tesseract_cmd=tesseract_cmd)
    except pytesseract.TesseractError as exc:
        return PageOcr("", 0.0, "", error=f"Tesseract failed ({exc.message or exc.status})")
    except RuntimeError as exc:  # pytesseract reports its time limit as RuntimeError("Tesseract process timeout")
        return PageOcr("", 0.0, "", error=f"OCR gave up after {timeout:g} s ({exc})")
    except OSError as exc:  # Tesseract could not be started (out of memory, no process left)
        return PageOcr("", 0.0, "", error=f"Tesseract could not run ({exc})")


def _recognised(images: PageImages, numbers: Sequence[int], options: OcrOptions) -> Iterator[tuple[int, PageOcr]]:
    """(number, result) of each page in `numbers`, in completion order; pages are rendered one at a time."""
    rendered = images.render(numbers, options.dpi)
    workers = max(1, min(options.workers, len(numbers)))
    with _single_threaded_tesseract(), ThreadPoolExecutor(workers, thread_name_prefix="ocr") as pool:
        pending: dict[Future[PageOcr], int] = {}
        try:
            for number, image in rendered:
                pending[pool.submit(_read_or_fail, image, options.page_timeout, options.tesseract_cmd)] = number
                while len(pending) >= 2 * workers:  # at most two rendered pages waiting per worker
                    yield from _collect(pending)
            while pending:
                yield from _collect(pending)
        except BaseException:  # the caller stopped (an interrupted ingest): pages not started are dropped
            for future in pending:
                future.cancel()
            raise


def _collect(pending: dict[Future[PageOcr], int]) -> Iterator[tuple[int, PageOcr]]:
    """Results of the pages finished next."""
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        yield pending.pop(future), future.result()


def ocr_pages(images: PageImages, numbers: Sequence[int], options: OcrOptions, *, source: str) -> dict[int, PageOcr]:
    """OCR results of pages `numbers` of `images`; TesseractMissingError, before any work, when it cannot run."""
    engine = engine_version(options.tesseract_cmd)
    dpi = images.resolution(options.dpi)
    cache = OcrCache(options.cache_dir, images.sha256, dpi, engine) if options.cache_dir else None
    results: dict[int, PageOcr] = {}

    def report(number: int | None, result: PageOcr | None, cached: bool) -> None:
        if options.on_page is not None:
            options.on_page(OcrProgress(source, number, len(results), len(numbers), cached,
                                        result.confidence if result and not result.error else None,
                                        result.error if result else None))

    def finished(number: int, result: PageOcr, cached: bool) -> None:
        results[number] = result
        report(number, result, cached)

    report(None, None, False)
    todo = []
    for number in numbers:
        hit = cache.get(number) if cache else None
        if hit is None:
            todo.append(number)
        else:
            finished(number, hit, cached=True)
    if not todo:
        return results
    logger.info("%s: OCR of %d page(s) (%d cached) with %s", source, len(todo), len(numbers) - len(todo), engine)
    for number, result in _recognised(images, todo, options):
        if cache is not None and result.error is None:
            cache.put(number, result)
        finished(number, result, cached=False)
    return results
