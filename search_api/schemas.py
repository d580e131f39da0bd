"""Response and request models of the API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchResult(BaseModel):
    """One passage found by a search."""

    doc_id: str
    chunk_id: int
    type: str = Field(description="document | experience | technology")
    source: str
    title: str | None
    lang: str
    page: int | None
    text: str
    score: float


class SearchResponse(BaseModel):
    """Results of a search, best first."""

    query: str
    results: list[SearchResult]


class DocumentSummary(BaseModel):
    """A document without its chunks."""

    doc_id: str
    source: str
    title: str | None
    type: str
    languages: list[str]
    chunks: int


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx answer."""

    error: str = Field(description="machine-readable kind of error")
    detail: str = Field(description="what was wrong, for a person")
    field: str | None = None


class Health(BaseModel):
    """Liveness and the model in use."""

    status: str
    model: str | None
    documents: int
    chunks: int
