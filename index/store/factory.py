"""Pick the storage backend from the settings: `faiss` (embedded, default) or a PostgreSQL URL."""

from __future__ import annotations

from index.store.base import Backend
from pedkb.errors import StoreError
from pedkb.settings import Settings


def open_backend(settings: Settings) -> Backend:
    """Open the configured backend."""
    name = settings.backend
    if name == "faiss":
        from index.store.embedded.backend import FaissBackend

        return FaissBackend(settings.data, ann_threshold=settings.ann_threshold)
    if name.startswith(("postgresql://", "postgres://")):
        from index.store.postgres.backend import PgBackend

        return PgBackend(name, read_url=settings.read_backend, index_memory=settings.pg_index_memory,
                         index_workers=settings.pg_index_workers)
    raise StoreError(f"backend: unknown backend {name!r} (expected 'faiss' or a postgresql:// URL)")
