"""A per-page OCR cache on disk, so an interrupted ingest resumes without redoing finished pages."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from ingest.ocr.options import PageOcr

logger = logging.getLogger(__name__)


class OcrCache:
    """OCR results of one file's pages, keyed by (file SHA-256, page number, dpi, engine version)."""

    def __init__(self, folder: Path, file_sha256: str, dpi: int, engine: str) -> None:
        self.folder = Path(folder)
        self.file_sha256, self.dpi, self.engine = file_sha256, dpi, engine

    def path(self, number: int) -> Path:
        """Where the result of page `number` is kept."""
        key = hashlib.sha256(f"{self.file_sha256}:{number}:{self.dpi}:{self.engine}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.json"

    def get(self, number: int) -> PageOcr | None:
        """The stored result of page `number`, or None (missing or unreadable entries are a miss)."""
        path = self.path(number)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return PageOcr(**record["result"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("OCR cache entry %s is unreadable (%s); the page is recognised again", path, exc)
            return None

    def put(self, number: int, result: PageOcr) -> None:
        """Store the result of page `number` atomically (a temporary file renamed into place)."""
        path = self.path(number)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"file_sha256": self.file_sha256, "page": number, "dpi": self.dpi, "engine": self.engine,
                  "result": asdict(result)}
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, before the rename
            "w", encoding="utf-8", dir=path.parent, prefix=".tmp-", suffix=".json", delete=False
        )
        try:
            with handle:
                json.dump(record, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
