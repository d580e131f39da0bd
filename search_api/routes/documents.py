"""Documents: list and get."""

from __future__ import annotations

from fastapi import APIRouter

from search_api.deps import KbDep
from search_api.schemas import DocumentSummary

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])


@router.get("", response_model=list[DocumentSummary])
def list_documents(kb: KbDep) -> list[DocumentSummary]:
    """All documents, oldest first."""
    return [
        DocumentSummary(doc_id=d.doc_id, source=d.source, title=d.title, type=d.kind, languages=d.languages,
                        chunks=d.n_chunks)
        for d in kb.documents()
    ]
