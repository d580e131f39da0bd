"""OCR of a file's scanned pages: cached pages first, the rest in a process pool with a per-page time limit."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import pytesseract
from PIL import Image

from ingest.ocr.cache import OcrCache
from ingest.ocr.engine import engine_version, read_page
from ingest.ocr.images import PageImages
from ingest.ocr.options import OcrOptions, OcrProgress, PageOcr

logger = logging.getLogger(__name__)


def _single_threaded() -> None:
    """Pool initializer: one OpenMP thread per Tesseract, since the pool already fills the cores."""
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _read_or_fail(image: Image.Image, timeout: float, tesseract_cmd: str) -> PageOcr:
    """read_page, with a time-out or a Tesseract failure turned into a failed result rather than an exception."""
    try:
        return read_page(image, timeout=timeout, tesseract_cmd=tesseract_cmd)
    except pytesseract.TesseractError as exc:
        return PageOcr("", 0.0, "", error=f"Tesseract failed ({exc.message or exc.status})")
    except RuntimeError as exc:  # pytesseract reports its time limit as RuntimeError("Tesseract process timeout")
        return PageOcr("", 0.0, "", error=f"OCR gave up after {timeout:g} s ({exc})")


def _recognised(images: PageImages, numbers: Sequence[int], options: OcrOptions) -> Iterator[tuple[int, PageOcr]]:
    """(number, result) of each page in `numbers`, in completion order."""
    rendered = images.render(numbers, options.dpi)
    workers = min(options.workers, len(numbers))
    if workers <= 1:
        previous = os.environ.get("OMP_THREAD_LIMIT")
        _single_threaded()
        try:
            for number, image in rendered:
                yield number, _read_or_fail(image, options.page_timeout, options.tesseract_cmd)
        finally:
            if previous is None:
                os.environ.pop("OMP_THREAD_LIMIT", None)
            else:
                os.environ["OMP_THREAD_LIMIT"] = previous
        return
    # forkserver: the pool must not fork a parent that holds threads (the API server, a loaded model).
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_single_threaded) as pool:
        pending: dict[Future[PageOcr], int] = {}
        for number, image in rendered:
            try:
                pending[pool.submit(_read_or_fail, image, options.page_timeout, options.tesseract_cmd)] = number
            except BrokenProcessPool as exc:
                yield number, PageOcr("", 0.0, "", error=f"the OCR worker process died ({exc})")
                continue
            while len(pending) >= 2 * workers:  # at most two rendered pages queued per worker
                yield from _collect(pending)
        while pending:
            yield from _collect(pending)


def _collect(pending: dict[Future[PageOcr], int]) -> Iterator[tuple[int, PageOcr]]:
    """Results of the pages finished next; a worker that died (out of memory, killed) fails its page only."""
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        number = pending.pop(future)
        try:
            yield number, future.result()
        except BrokenProcessPool as exc:
            yield number, PageOcr("", 0.0, "", error=f"the OCR worker process died ({exc})")


def ocr_pages(images: PageImages, numbers: Sequence[int], options: OcrOptions, *, source: str) -> dict[int, PageOcr]:
    """OCR results of pages `numbers` of `images`; TesseractMissingError, before any work, when it cannot run."""
    engine = engine_version(options.tesseract_cmd)
    dpi = images.resolution(options.dpi)
    cache = OcrCache(options.cache_dir, images.sha256, dpi, engine) if options.cache_dir else None
    results: dict[int, PageOcr] = {}

    def finished(number: int, result: PageOcr, cached: bool) -> None:
        results[number] = result
        if options.on_page is not None:
            options.on_page(OcrProgress(source, number, len(results), len(numbers), cached, result))

    todo = []
    for number in numbers:
        hit = cache.get(number) if cache else None
        if hit is None:
            todo.append(number)
        else:
            finished(number, hit, cached=True)
    if todo:
        logger.info("%s: OCR of %d page(s) (%d cached) with %s", source, len(todo), len(numbers) - len(todo), engine)
    for number, result in _recognised(images, todo, options):
        if cache is not None and result.error is None:
            cache.put(number, result)
        finished(number, result, cached=False)
    return results
