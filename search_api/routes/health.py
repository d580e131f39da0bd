"""GET /api/v1/health."""

from __future__ import annotations

from fastapi import APIRouter

from search_api.deps import KbDep
from search_api.schemas import Health

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/health", response_model=Health)
def health(kb: KbDep) -> Health:
    """Liveness with the model and the number of documents and chunks."""
    stats = kb.stats()
    docs = stats.get("documents") or {}
    return Health(status="ok", model=stats.get("model"),  # type: ignore[arg-type]
                  documents=sum(docs.values()) if isinstance(docs, dict) else 0,
                  chunks=int(stats.get("chunks") or 0))  # type: ignore[call-overload]
