"""The knowledge base: ingest files into a backend, search them, list, delete and re-embed.

This is the one object the CLI and the API talk to; it joins ingest/ (text), the embedder and the backend.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.base import Backend
from index.embedder import Embedder, load_embedder
from index.factory import open_backend
from index.ranking import dense_ranking
from index.records import DocumentRecord, NewChunk, SearchFilters, SearchHit
from ingest import SUPPORTED_SUFFIXES, prepare_document
from ingest.document import PreparedDocument
from pedkb.errors import ModelMismatchError, NotFoundError, PedkbError, ReadError, ValidationError
from pedkb.settings import Settings

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 4000
MAX_K = 200
MAX_OFFSET = 1000
SEARCH_MODES = ("dense",)

Progress = Callable[[str, int], None]


@dataclass
class FileResult:
    """What happened to one input file."""

    path: str
    status: str  # added | updated | unchanged | failed
    doc_id: str | None = None
    chunks: int = 0
    tokens: int = 0
    reason: str | None = None


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
        """One line: added/updated/unchanged/failed counts."""
        return (f"{self.count('added')} added, {self.count('updated')} updated, {self.count('unchanged')} unchanged, "
                f"{self.count('failed')} failed ({self.embedded_chunks} chunks embedded in {self.seconds:.1f} s)")


def document_id(source: str) -> str:
    """A stable id for a source (an absolute path or an upload name)."""
    return "d" + hashlib.sha1(source.encode("utf-8")).hexdigest()[:15]


def vector_key(model: str, text: str) -> str:
    """The embedding-cache key of a passage under a model."""
    return hashlib.sha1(f"{model}\0passage\0{text}".encode()).hexdigest()


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


class KnowledgeBase:
    """Documents and their chunks, embedded and searchable."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None,
                 backend: Backend | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self.backend = backend if backend is not None else open_backend(settings)

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the embedding space --------------------------------------------------------------------------------
    def check_model(self) -> None:
        """Refuse a model other than the one the index was built with."""
        stored = self.backend.get_meta("model")
        if stored is None:
            return
        dim = int(self.backend.get_meta("dim") or 0)
        if stored != self.embedder.name or dim != self.embedder.dim:
            raise ModelMismatchError(
                f"the index in {self.settings.data} was built with {stored} ({dim} dims) but the configured model is "
                f"{self.embedder.name} ({self.embedder.dim} dims); run `pedkb reindex` to re-embed it with the new "
                f"model, or set PEDKB_MODEL={stored}"
            )

    def _claim_space(self) -> None:
        if self.backend.get_meta("model") is None:
            self.backend.set_meta("model", self.embedder.name)
            self.backend.set_meta("dim", str(self.embedder.dim))
        self.check_model()

    def _chunking_signature(self) -> str:
        return f"{self.embedder.name}|{self.settings.chunk_tokens}|{self.settings.chunk_overlap}"

    def _embed_passages(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """Vectors for passages, taken from the cache where possible."""
        name = self.embedder.name
        keys = [vector_key(name, t) for t in texts]
        cached = self.backend.cached_vectors(keys)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        vectors = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        if missing:
            fresh = self.embedder.embed_passages([texts[i] for i in missing])
            for row, i in enumerate(missing):
                vectors[i] = fresh[row]
                cached[keys[i]] = fresh[row]
        for i, key in enumerate(keys):
            vectors[i] = cached[key]
        return keys, vectors

    # --- ingest ------------------------------------------------------------------------------------------------
    def prepare(self, path: Path) -> PreparedDocument:
        """Read, repair and chunk one file (no embedding)."""
        return prepare_document(
            path,
            max_bytes=self.settings.max_file_bytes,
            count_tokens=self.embedder.count_tokens,
            max_tokens=self.settings.chunk_tokens,
            overlap_tokens=self.settings.chunk_overlap,
        )

    def ingest_file(self, path: Path, *, source: str | None = None, force: bool = False,
                    kind: str = "document", meta: dict[str, object] | None = None) -> FileResult:
        """Ingest one file; the document id derives from `source` (default: the absolute path)."""
        source = source or str(path.resolve())
        doc_id = document_id(source)
        try:
            size = path.stat().st_size
            if size > self.settings.max_file_bytes:
                return FileResult(str(path), "failed", reason=(
                    f"file is {size / 2**20:.1f} MB, over the {self.settings.max_file_mb:g} MB limit "
                    "(PEDKB_MAX_FILE_MB)"))
            data_hash = _file_sha256(path)
        except OSError as exc:
            return FileResult(str(path), "failed", reason=f"cannot read: {exc.strerror or exc}")
        existing = self.backend.get_document(doc_id)
        signature = self._chunking_signature()
        if (existing is not None and not force and existing.sha256 == data_hash
                and existing.meta.get("chunking") == signature):
            return FileResult(str(path), "unchanged", doc_id, existing.n_chunks)
        try:
            prepared = self.prepare(path)
        except ReadError as exc:
            return FileResult(str(path), "failed", reason=exc.reason)
        texts = [c.text for c in prepared.chunks]
        keys, vectors = self._embed_passages(texts)
        record = DocumentRecord(
            doc_id=doc_id, source=source, title=prepared.title, fmt=prepared.fmt, sha256=data_hash,
            size=size, kind=kind, languages=prepared.languages,
            meta={**(meta or {}), "chunking": signature, "encoding": prepared.encoding},
        )
        new_chunks = [
            NewChunk(c.ordinal, c.text, c.lang, c.page, c.start, c.end, c.n_tokens, keys[i], vectors[i])
            for i, c in enumerate(prepared.chunks)
        ]
        self.backend.put_document(record, new_chunks)
        status = "added" if existing is None else "updated"
        return FileResult(str(path), status, doc_id, len(new_chunks), sum(c.n_tokens for c in new_chunks))

    def ingest(self, paths: Sequence[Path], *, force: bool = False,
               on_file: Callable[[FileResult], None] | None = None) -> IngestReport:
        """Ingest files and folders; one failing file never stops the batch."""
        started = time.perf_counter()
        files, failures = collect_files(paths)
        report = IngestReport(files=list(failures))
        self._claim_space()
        with self.backend.writing():
            for path in files:
                try:
                    result = self.ingest_file(path, force=force)
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

    def planned_files(self, paths: Sequence[Path]) -> int:
        """How many files an ingest of these paths will look at (for a progress bar)."""
        files, failures = collect_files(paths)
        return len(files) + len(failures)

    # --- reading ------------------------------------------------------------------------------------------------
    def search(self, query: str, *, k: int = 10, offset: int = 0, filters: SearchFilters | None = None,
               mode: str = "dense", langs: Sequence[str] | None = None,
               kinds: Sequence[str] | None = None) -> list[SearchHit]:
        """Passages most similar to the query, in any language unless filtered; `offset` pages through them."""
        query = " ".join(query.split())
        if not query:
            raise ValidationError("query", "must not be empty")
        if len(query) > MAX_QUERY_CHARS:
            raise ValidationError("query", f"longer than {MAX_QUERY_CHARS} characters")
        if not 1 <= k <= MAX_K:
            raise ValidationError("k", f"must be between 1 and {MAX_K}")
        if not 0 <= offset <= MAX_OFFSET:
            raise ValidationError("offset", f"must be between 0 and {MAX_OFFSET}")
        if mode not in SEARCH_MODES:
            raise ValidationError("mode", f"must be one of {', '.join(SEARCH_MODES)}")
        if langs or kinds:
            filters = replace(filters or SearchFilters(), langs=tuple(langs) if langs else None,
                              kinds=tuple(kinds) if kinds else None)
        if self.backend.get_meta("model") is None:
            return []
        self.check_model()
        vector = self.embedder.embed_queries([query])[0]
        ranked = dense_ranking(self.backend, vector, offset + k, filters, self.settings.lang_centering)
        return self._hits([(cid, score) for cid, score, _ in ranked[offset:offset + k]])

    def _hits(self, pairs: Sequence[tuple[int, float]]) -> list[SearchHit]:
        chunks = self.backend.get_chunks([cid for cid, _ in pairs])
        docs = self.backend.get_documents([c.doc_id for c in chunks.values()])
        hits = []
        for cid, score in pairs:
            chunk = chunks.get(cid)
            doc = docs.get(chunk.doc_id) if chunk is not None else None
            if chunk is not None and doc is not None:
                hits.append(SearchHit(chunk, doc, score))
        return hits

    def documents(self, kind: str | None = None) -> list[DocumentRecord]:
        """All documents."""
        return self.backend.list_documents(kind)

    def document(self, doc_id: str) -> DocumentRecord:
        """One document, or NotFoundError."""
        doc = self.backend.get_document(doc_id)
        if doc is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return doc

    def delete(self, doc_id: str) -> None:
        """Delete a document and its vectors."""
        if not self.backend.delete_document(doc_id):
            raise NotFoundError(f"no document with id {doc_id!r}")

    # --- re-embedding ---------------------------------------------------------------------------------------------
    def reindex(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Re-embed every chunk with the configured model; atomic: the old index serves until the switch."""
        embedder = self.embedder
        assignments: list[tuple[int, str]] = []
        for batch in self.backend.iter_chunks(batch=256):
            texts = [c.text for c in batch]
            keys, vectors = self._embed_passages(texts)
            self.backend.store_vectors(list(zip(keys, vectors, strict=True)))
            assignments.extend((c.chunk_id, key) for c, key in zip(batch, keys, strict=True))
            if on_batch is not None:
                on_batch(len(batch))
        self.backend.switch_model(embedder.name, embedder.dim, assignments)
        return len(assignments)

    def stats(self) -> dict[str, object]:
        """Store statistics plus the model in use."""
        out = self.backend.stats()
        out["model"] = self.backend.get_meta("model")
        out["dim"] = int(self.backend.get_meta("dim") or 0) or None
        return out


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
