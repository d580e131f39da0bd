"""Files into the index: read, repair and chunk a file (ingest/), then store it through the one write path."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from index.items import ItemWriter
from index.records import DocumentRecord
from ingest import chunk_document
from ingest.document import PreparedDocument
from ingest.files import FileResult, IngestReport, collect_files, document_id, file_sha256
from ingest.limits import ReadLimits
from ingest.ocr import OcrDeferred, OcrOptions, OcrProgress
from ingest.ocr.lane import LaneOutcome, OcrLane
from ingest.sandbox import ParserPool, read_isolated
from pedkb.errors import ParserCrashError, PedkbError, ReadError, printable_path
from pedkb.limits import SUGGESTED_TAGS
from pedkb.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Found:
    """A file to read and store (neither unchanged nor unreadable), with what storing it needs."""

    path: Path
    source: str
    doc_id: str
    size: int
    sha256: str
    existing: DocumentRecord | None
    signature: str


_Scan = tuple[PreparedDocument, int]  # a scan read by the OCR lane, and how many of its pages were cached
_Lane = OcrLane[_Found, _Scan]


class DocumentIngester:
    """Ingests files and folders as items of kind "document"; one failing file never stops a batch."""

    def __init__(self, writer: ItemWriter, settings: Settings) -> None:
        self.writer, self.settings = writer, settings

    def prepare(self, path: Path, on_page: Callable[[OcrProgress], None] | None = None, *, defer_ocr: bool = False,
                pool: ParserPool | None = None) -> PreparedDocument:
        """Read, OCR (scanned pages, progress to `on_page`; `defer_ocr`: raise OcrDeferred instead) and repair one
        file within the parsing limits (in a resource-limited parser process of `pool` unless PEDKB_ISOLATE_PARSING
        is off), then chunk it here with the model's tokenizer (no embedding)."""
        settings = self.settings
        ocr = replace(OcrOptions.from_settings(settings, on_page), defer=defer_ocr)
        repaired = read_isolated(path, max_bytes=settings.max_file_bytes, limits=ReadLimits.from_settings(settings),
                                 isolate=settings.isolate_parsing, ocr=ocr, pool=pool)
        return chunk_document(repaired, count_tokens=self.writer.space.embedder.count_tokens,
                              max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap)

    def ingest_file(self, path: Path, *, source: str | None = None, force: bool = False,
                    on_page: Callable[[OcrProgress], None] | None = None) -> FileResult:
        """Ingest one file; the document id derives from `source` (default: the absolute path); `on_page` follows
        the OCR of its scanned pages."""
        found = self._find(path, source, force)
        if isinstance(found, FileResult):
            return found
        try:
            prepared = self.prepare(path, on_page)
        except ReadError as exc:
            return FileResult(str(path), "failed", reason=exc.reason)
        return self._store(found, prepared)

    def _find(self, path: Path, source: str | None, force: bool) -> _Found | FileResult:
        """What storing `path` needs, or its result when it is unchanged or cannot be read."""
        source = source or str(path.resolve())
        doc_id = document_id(source)
        try:
            size = path.stat().st_size
            if size > self.settings.max_file_bytes:
                return FileResult(str(path), "failed", reason=(
                    f"file is {size / 2**20:.1f} MB, over the {self.settings.max_file_mb:g} MB limit "
                    "(PEDKB_MAX_FILE_MB)"))
            data_hash = file_sha256(path)
        except OSError as exc:
            return FileResult(str(path), "failed", reason=f"cannot read: {exc.strerror or exc}")
        existing = self.writer.backend.get_document(doc_id)
        signature = self.writer.signature()
        if (existing is not None and not force and existing.sha256 == data_hash
                and existing.meta.get("chunking") == signature):
            return FileResult(str(path), "unchanged", doc_id, existing.n_chunks)
        return _Found(path, source, doc_id, size, data_hash, existing, signature)

    def _store(self, found: _Found, prepared: PreparedDocument, ocr_cached_pages: int = 0) -> FileResult:
        """Embed and store a prepared file (one transaction)."""
        record = DocumentRecord(
            doc_id=found.doc_id, source=found.source, title=prepared.title, fmt=prepared.fmt, sha256=found.sha256,
            size=found.size, kind="document", languages=prepared.languages,
            meta={"chunking": found.signature, "encoding": prepared.encoding},
        )
        tokens = self.writer.store(record, prepared.chunks, suggest=SUGGESTED_TAGS)
        status = "added" if found.existing is None else "updated"
        log.info("%s: %s, %d chunk(s)", printable_path(found.path), status, len(prepared.chunks))
        return FileResult(str(found.path), status, found.doc_id, len(prepared.chunks), tokens,
                          warnings=prepared.warnings, ocr_pages=sum(page.ocr for page in prepared.pages),
                          ocr_cached_pages=ocr_cached_pages)

    def ingest(self, paths: Sequence[Path], *, force: bool = False, on_file: Callable[[FileResult], None] | None = None,
               on_page: Callable[[OcrProgress], None] | None = None) -> IngestReport:
        """Ingest files and folders; one failing file never stops the batch; `on_page` follows OCR page by page.

        Files with pages to OCR go to the batch's OCR lane (ingest/ocr/lane.py): read there in the background, one
        at a time, while the other files are read and stored here; each scan is stored here as soon as the file in
        hand is done, so the order of `on_file` calls is the order of commits, not of `paths`. The callbacks are
        called from one thread at a time. An interruption (KeyboardInterrupt, SystemExit) kills the lane's parser
        processes; what was stored stays stored and the OCR pages finished are in the resume cache.
        """
        started = time.perf_counter()
        files, failures = collect_files(paths)
        report = IngestReport(files=list(failures))
        callbacks = threading.Lock()

        def finish(result: FileResult | None) -> None:
            if result is None:  # handed to the OCR lane
                return
            if result.status in ("added", "updated"):
                report.embedded_chunks += result.chunks
                report.embedded_tokens += result.tokens
            report.files.append(result)
            if on_file is not None:
                with callbacks:
                    on_file(result)

        def store_scans(wait: bool) -> None:
            for outcome in lane.collect(wait=wait):
                finish(_attempt(outcome.job.path, partial(self._stored_scan, outcome)))

        lane: _Lane = OcrLane(lambda found, pool: self._read_scan(found, pool, lane, on_page, callbacks))
        self.writer.space.claim()
        interrupted = True
        try:
            with self.writer.backend.writing():
                for path in files:
                    finish(_attempt(path, partial(self._first_pass, path, force, lane)))
                    store_scans(wait=False)
                store_scans(wait=True)
            interrupted = False
        finally:
            lane.close(abort=interrupted)
        report.seconds = time.perf_counter() - started
        return report

    def _first_pass(self, path: Path, force: bool, lane: _Lane) -> FileResult | None:
        """Read and store a born-digital file; a file with pages to OCR goes to the lane (None)."""
        found = self._find(path, None, force)
        if isinstance(found, FileResult):
            return found
        try:
            prepared = self.prepare(path, defer_ocr=True)
        except OcrDeferred as deferred:
            log.info("%s: %d page(s) to OCR, read in the background", printable_path(path), deferred.pages)
            lane.submit(found)
            return None
        except ReadError as exc:
            return FileResult(str(path), "failed", reason=exc.reason)
        return self._store(found, prepared)

    def _read_scan(self, found: _Found, pool: ParserPool, lane: _Lane,
                   on_page: Callable[[OcrProgress], None] | None, callbacks: threading.Lock,
                   ) -> _Scan:
        """(In the lane's thread) read a file with its OCR; the document and how many pages came from the cache."""
        cached = 0

        def progress(report: OcrProgress) -> None:
            nonlocal cached
            if lane.cancelled:  # reading in this process (isolation off): stop at the next page
                raise ParserCrashError(found.path, "the ingest was interrupted")
            cached += report.cached and report.page is not None
            if on_page is not None:
                with callbacks:
                    on_page(report)

        prepared = self.prepare(found.path, progress, pool=pool)
        log.info("%s: OCR done", printable_path(found.path))
        return prepared, cached

    def _stored_scan(self, outcome: LaneOutcome[_Found, _Scan]) -> FileResult:
        """Store a scan the lane read, or report why it could not be read."""
        if isinstance(outcome.error, ReadError):
            return FileResult(str(outcome.job.path), "failed", reason=outcome.error.reason)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.result is not None
        prepared, cached = outcome.result
        return self._store(outcome.job, prepared, cached)

    @staticmethod
    def planned_files(paths: Sequence[Path]) -> int:
        """How many files an ingest of these paths will look at (for a progress bar)."""
        files, failures = collect_files(paths)
        return len(files) + len(failures)


def _attempt(path: Path, step: Callable[[], FileResult | None]) -> FileResult | None:
    """`step()`, with an error turned into a failed result for `path` (one broken file must not stop a batch)."""
    try:
        return step()
    except PedkbError as exc:
        return FileResult(str(path), "failed", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop the batch
        log.exception("unexpected error while ingesting %s", path)
        return FileResult(str(path), "failed", reason=f"internal error: {type(exc).__name__}: {exc}")
