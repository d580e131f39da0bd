"""Input files of an ingest run: expanding folders, their ids and hashes, and the per-file report."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest import SUPPORTED_SUFFIXES


@dataclass
class FileResult:
    """What happened to one input file."""

    path: str
    status: str  # added | updated | unchanged | failed
    doc_id: str | None = None
    chunks: int = 0
    tokens: int = 0
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)  # pages left out (OCR missing, too slow), the rest stored
    ocr_pages: int = 0  # pages whose text came from OCR
    ocr_cached_pages: int = 0  # of those, pages taken from the OCR resume cache instead of recognised again


@dataclass
class IngestReport:
    """The outcome of one ingest run."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    embedded_chunks: int = 0
    embedded_tokens: int = 0

    def count(self, status: str) -> int:
        """How many files ended with this status."""
        return sum(1 for f in self.files if f.status == status)

    @property
    def failed(self) -> list[FileResult]:
        """The files that failed."""
        return [f for f in self.files if f.status == "failed"]

    def summary(self) -> str:
        """One line: added/updated/unchanged/failed counts, and the OCR pages when there were any."""
        ocr_pages = sum(f.ocr_pages for f in self.files)
        cached = sum(f.ocr_cached_pages for f in self.files)
        ocr = f", {ocr_pages} page(s) read by OCR ({cached} from the resume cache)" if ocr_pages else ""
        return (f"{self.count('added')} added, {self.count('updated')} updated, {self.count('unchanged')} unchanged, "
                f"{self.count('failed')} failed ({self.embedded_chunks} chunks embedded in {self.seconds:.1f} s"
                f"{ocr})")


def document_id(source: str) -> str:
    """A stable id for a source (an absolute path or an upload name)."""
    return "d" + hashlib.sha1(source.encode("utf-8")).hexdigest()[:15]


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[FileResult]]:
    """Expand folders (recursively, supported suffixes, no hidden files); unreadable paths become failures."""
    files: list[Path] = []
    failures: list[FileResult] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    candidate = Path(root) / name
                    if not name.startswith(".") and candidate.suffix.lower() in SUPPORTED_SUFFIXES:
                        files.append(candidate)
        elif path.exists():
            files.append(path)
        else:
            failures.append(FileResult(str(path), "failed", reason="no such file or folder"))
    return files, failures


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
