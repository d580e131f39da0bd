"""Uploaded files: safe names under DATA/uploads/, ingested by the CLI's pipeline, nothing half-written.

A file is copied to `DATA/uploads/.incoming/<random>/<name>`, ingested from there (the document's source is
`upload/<name>`, so re-uploading a name replaces that document), and renamed to `DATA/uploads/<name>` only after
the ingest committed; a failed file is removed. Each upload is ingested in its request's worker thread; uploads of
the same name wait for each other (`NameLocks`), others run side by side, PARALLEL_INGESTS at most (a scan's OCR
does not hold up the upload of a text file; the store's writer lock serialises the commits), and searches are
answered meanwhile. A file whose name leaves nothing once made safe
(``, `.`, `..`, `???`) fails with `filename_missing` instead of being given a made-up name that the next such file
would overwrite.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from index.knowledge_base import KnowledgeBase
from pedkb.errors import PedkbError
from pedkb.settings import Settings
from search_api.errors import hide_paths

log = logging.getLogger(__name__)

SOURCE_PREFIX = "upload/"
INCOMING = ".incoming"
PARALLEL_INGESTS = 3  # uploaded files read at once per server process (each read takes a parser process)
STALE_UPLOAD_S = 3600.0  # an upload folder this old at start-up was left by a killed server
MAX_NAME_BYTES = 150
_UNSAFE = re.compile(r"[^\w.\-() ]+", re.UNICODE)
_RUNS = re.compile(r"[ _]{2,}")


@dataclass
class StoredFile:
    """The outcome of one uploaded file (status as the CLI reports it)."""

    filename: str
    source: str | None
    status: str  # added | updated | unchanged | failed
    doc_id: str | None = None
    chunks: int = 0
    reason: str | None = None
    kind: str | None = None  # an i18n kind for failures the API itself detects
    values: dict[str, object] | None = None


def sanitise_filename(name: str | None) -> str:
    """A name that is one plain path component: no folders, no leading dots, no control characters ('' if none)."""
    text = (name or "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = unicodedata.normalize("NFC", text).replace("\\", "/").rsplit("/", 1)[-1]
    text = _RUNS.sub("_", _UNSAFE.sub("_", text)).strip(" ._-")
    if not text:
        return ""
    stem, dot, suffix = text.rpartition(".")
    if not dot:
        stem, suffix = text, ""
    suffix = suffix[:16]
    stem = stem.rstrip(" .") or "file"
    budget = MAX_NAME_BYTES - len(suffix.encode()) - 1
    while len(stem.encode("utf-8")) > budget:
        stem = stem[:-1]
    return f"{stem}.{suffix}" if suffix else stem


def upload_folder(settings: Settings) -> Path:
    """DATA/uploads."""
    return Path(settings.data) / "uploads"


def stored_path(settings: Settings, safe_name: str) -> Path:
    """Where a sanitised name is kept; refuses anything that would land outside DATA/uploads."""
    folder = upload_folder(settings).resolve()
    path = (folder / safe_name).resolve()
    if path.parent != folder:
        raise ValueError(f"{safe_name!r} is not a plain file name")
    return path


class NameLocks:
    """One lock per upload name, alive while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """Hold the lock of `name` for a block."""
        with self._guard:
            lock, users = self._locks.get(name, (threading.Lock(), 0))
            self._locks[name] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[name]
                if users == 1:
                    del self._locks[name]
                else:
                    self._locks[name] = (lock, users - 1)


class Uploader:
    """Stores and ingests uploaded files: one at a time per name, at most PARALLEL_INGESTS at once (a scan being
    OCR'd holds one slot, the files beside it go through the others)."""

    def __init__(self, kb: KnowledgeBase, settings: Settings) -> None:
        self.kb = kb
        self.settings = settings
        self.names = NameLocks()
        self.slots = threading.BoundedSemaphore(PARALLEL_INGESTS)
        self.folder = upload_folder(settings)
        _remove_stale(self.folder / INCOMING)

    def store(self, filename: str | None, data: BinaryIO, size: int | None) -> StoredFile:
        """Copy, ingest and keep one file, or remove every trace of it when it fails."""
        safe = sanitise_filename(filename)
        shown = filename or safe
        if not safe:
            return StoredFile(filename or "", None, "failed", reason="the file has no usable name",
                              kind="filename_missing", values={"name": filename or ""})
        source = SOURCE_PREFIX + safe
        limit = self.settings.max_file_bytes
        if size is not None and size > limit:
            return self._too_large(shown, source, size)
        final = stored_path(self.settings, safe)
        workdir = _new_workdir(self.folder / INCOMING)
        incoming = workdir / safe
        try:
            copied = _copy_limited(data, incoming, limit)
            if copied > limit:
                return self._too_large(shown, source, copied)
            with self.slots, self.names.hold(safe):
                outcome = self._ingest(shown, source, incoming)
                if outcome.status != "failed":
                    incoming.replace(final)
            return outcome
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            with contextlib.suppress(OSError):  # still in use by another upload
                workdir.parent.rmdir()

    def _ingest(self, shown: str, source: str, path: Path) -> StoredFile:
        try:
            result = self.kb.ingest_file(path, source=source)
        except PedkbError as exc:
            return StoredFile(shown, source, "failed", reason=hide_paths(str(exc).replace(str(path), shown),
                                                                          self.settings))
        except Exception as exc:  # noqa: BLE001 - one broken file must not fail the request
            log.exception("unexpected error while ingesting upload %s", shown)
            return StoredFile(shown, source, "failed", reason=f"internal error: {type(exc).__name__}")
        shown_reason = hide_paths(result.reason.replace(str(path), shown), self.settings) if result.reason else None
        return StoredFile(shown, source, result.status, result.doc_id, result.chunks, shown_reason)

    def _too_large(self, shown: str, source: str, size: int) -> StoredFile:
        limit_mb = f"{self.settings.max_file_mb:g} MB"
        return StoredFile(shown, source, "failed", reason=(
            f"file is {size / 2**20:.1f} MB, over the {limit_mb} limit (PEDKB_MAX_FILE_MB)"),
            kind="file_too_large", values={"size": f"{size / 2**20:.1f} MB", "limit": limit_mb})

    def delete(self, doc_id: str, source: str) -> None:
        """Delete a document and, for an uploaded one, its kept copy (NotFoundError when it is gone)."""
        name = source.removeprefix(SOURCE_PREFIX) if source.startswith(SOURCE_PREFIX) else None
        with self.names.hold(name) if name is not None else contextlib.nullcontext():
            self.kb.delete(doc_id)
            if name is not None:
                try:
                    stored_path(self.settings, name).unlink(missing_ok=True)
                except ValueError:
                    pass


def _new_workdir(incoming: Path) -> Path:
    """A new empty folder in `incoming`; another upload finishing may remove `incoming` between our two mkdirs."""
    workdir = incoming / uuid.uuid4().hex
    for _ in range(10):
        try:
            workdir.mkdir(parents=True)
            return workdir
        except FileNotFoundError:
            continue
    workdir.mkdir(parents=True)
    return workdir


def _remove_stale(incoming: Path) -> None:
    """Remove the upload folders a killed server left; those of live uploads (another worker's) are young."""
    now = time.time()
    with contextlib.suppress(FileNotFoundError):
        for workdir in incoming.iterdir():
            with contextlib.suppress(OSError):
                if now - workdir.stat().st_mtime > STALE_UPLOAD_S:
                    shutil.rmtree(workdir, ignore_errors=True)
    with contextlib.suppress(OSError):
        incoming.rmdir()


def _copy_limited(data: BinaryIO, target: Path, limit: int) -> int:
    """Copy a stream to a file, stopping once it passes `limit` bytes; the number of bytes seen."""
    copied = 0
    with open(target, "wb") as out:
        while block := data.read(1 << 20):
            copied += len(block)
            if copied > limit:
                break
            out.write(block)
    return copied
