"""Files into the index: read, repair and chunk a file (ingest/), then store it through the one write path."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from index.items import ItemWriter
from index.records import DocumentRecord
from ingest import chunk_document
from ingest.document import PreparedDocument
from ingest.files import FileResult, IngestReport, collect_files, document_id, file_sha256
from ingest.limits import ReadLimits
from ingest.ocr import OcrOptions, OcrProgress
from ingest.sandbox import read_isolated
from pedkb.errors import PedkbError, ReadError
from pedkb.limits import SUGGESTED_TAGS
from pedkb.settings import Settings

log = logging.getLogger(__name__)


class DocumentIngester:
    """Ingests files and folders as items of kind "document"; one failing file never stops a batch."""

    def __init__(self, writer: ItemWriter, settings: Settings) -> None:
        self.writer, self.settings = writer, settings

    def prepare(self, path: Path, on_page: Callable[[OcrProgress], None] | None = None) -> PreparedDocument:
        """Read, OCR (scanned pages, progress to `on_page`) and repair one file within the parsing limits (in a
        resource-limited parser process unless PEDKB_ISOLATE_PARSING is off), then chunk it here with the model's
        tokenizer (no embedding)."""
        settings = self.settings
        repaired = read_isolated(path, max_bytes=settings.max_file_bytes, limits=ReadLimits.from_settings(settings),
                                 isolate=settings.isolate_parsing, ocr=OcrOptions.from_settings(settings, on_page))
        return chunk_document(repaired, count_tokens=self.writer.space.embedder.count_tokens,
                              max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap)

    def ingest_file(self, path: Path, *, source: str | None = None, force: bool = False,
                    on_page: Callable[[OcrProgress], None] | None = None) -> FileResult:
        """Ingest one file; the document id derives from `source` (default: the absolute path); `on_page` follows
        the OCR of its scanned pages."""
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
        try:
            prepared = self.prepare(path, on_page)
        except ReadError as exc:
            return FileResult(str(path), "failed", reason=exc.reason)
        record = DocumentRecord(
            doc_id=doc_id, source=source, title=prepared.title, fmt=prepared.fmt, sha256=data_hash,
            size=size, kind="document", languages=prepared.languages,
            meta={"chunking": signature, "encoding": prepared.encoding},
        )
        tokens = self.writer.store(record, prepared.chunks, suggest=SUGGESTED_TAGS)
        status = "added" if existing is None else "updated"
        return FileResult(str(path), status, doc_id, len(prepared.chunks), tokens, warnings=prepared.warnings,
                          ocr_pages=sum(page.ocr for page in prepared.pages))

    def ingest(self, paths: Sequence[Path], *, force: bool = False, on_file: Callable[[FileResult], None] | None = None,
               on_page: Callable[[OcrProgress], None] | None = None) -> IngestReport:
        """Ingest files and folders; one failing file never stops the batch; `on_page` follows OCR page by page."""
        started = time.perf_counter()
        files, failures = collect_files(paths)
        report = IngestReport(files=list(failures))
        self.writer.space.claim()
        with self.writer.backend.writing():
            for path in files:
                try:
                    result = self.ingest_file(path, force=force, on_page=on_page)
                except PedkbError as exc:
                    result = FileResult(str(path), "failed", reason=str(exc))
                except Exception as exc:  # noqa: BLE001 - one broken file must not stop the batch
                    log.exception("unexpected error while ingesting %s", path)
                    result = FileResult(str(path), "failed", reason=f"internal error: {type(exc).__name__}: {exc}")
                if result.status in ("added", "updated"):
                    report.embedded_chunks += result.chunks
                    report.embedded_tokens += result.tokens
                report.files.append(result)
                if on_file is not None:
                    on_file(result)
        report.seconds = time.perf_counter() - started
        return report

    @staticmethod
    def planned_files(paths: Sequence[Path]) -> int:
        """How many files an ingest of these paths will look at (for a progress bar)."""
        files, failures = collect_files(paths)
        return len(files) + len(failures)
