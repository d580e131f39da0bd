"""Health and statistics of the service."""

from __future__ import annotations

from fastapi import APIRouter

from pedkb import __version__
from search_api.deps import KbDep, WarmupDep
from search_api.errors import ApiError
from search_api.schemas import Health, Stats, Status

router = APIRouter(tags=["health"])


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


@router.get("/health", response_model=Health)
def health(kb: KbDep, warmup: WarmupDep) -> Health:
    """Liveness, readiness, the model and the number of items and chunks."""
    stats = kb.stats()
    docs = stats.get("documents")
    return Health(status="ok", ready=warmup.ready.is_set(), version=__version__, model=_str(stats.get("model")),
                  documents=sum(docs.values()) if isinstance(docs, dict) else 0,
                  chunks=_int(stats.get("chunks")) or 0)


@router.get("/health/live", response_model=Status)
def live() -> Status:
    """Liveness: the process answers (the model may still be loading)."""
    return Status(status="ok")


@router.get("/health/ready", response_model=Status,
            responses={503: {"description": "still loading the model (with Retry-After) or it failed to load"}})
def ready(warmup: WarmupDep) -> Status:
    """Readiness: the model is loaded and answers queries; 503 while it loads or if loading failed."""
    if warmup.ready.is_set():
        return Status(status="ok")
    if warmup.error is not None:
        raise ApiError(503, "not_ready", reason=warmup.error)
    raise ApiError(503, "starting", headers={"Retry-After": "1"})


@router.get("/stats", response_model=Stats)
def stats(kb: KbDep) -> Stats:
    """Items per type, chunks per language, the model and the size of the index and the store."""
    raw = kb.stats()
    docs = raw.get("documents")
    langs = raw.get("chunk_languages")
    return Stats(
        documents=dict(docs) if isinstance(docs, dict) else {},
        chunks=_int(raw.get("chunks")) or 0,
        chunk_languages=dict(langs) if isinstance(langs, dict) else {},
        experiences=kb.bank.count(),
        model=_str(raw.get("model")), dim=_int(raw.get("dim")), backend=_str(raw.get("backend")),
        vectors=_int(raw.get("vectors")), index_bytes=_int(raw.get("index_bytes")),
        store_bytes=_int(raw.get("store_bytes")),
    )


def _str(value: object) -> str | None:
    return None if value is None else str(value)
