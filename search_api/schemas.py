"""Request and response models of the API (experiences use `ingest.knowledge.Experience` itself)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from pedkb import limits
from search_api.examples import QUERIES


class NoBooleanNumbers(BaseModel):
    """Refuses true/false where a number (or a list of numbers) is expected; pydantic would read 1/0."""

    @model_validator(mode="before")
    @classmethod
    def _no_booleans(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if field is None or field.annotation is bool or "bool" in str(field.annotation).lower():
                    continue
                if any(isinstance(v, bool) for v in (value if isinstance(value, list) else [value])):
                    raise ValueError(f"{name}: expected a number, not true/false")
        return data
SearchMode = Literal[limits.SEARCH_MODES]  # type: ignore[valid-type]
Kind = Literal["document", "experience", "technology"]
Lang = Literal["kk", "ru", "ky", "en"]
SimilarKind = Literal["experience", "document"]
SIMILAR_KINDS: tuple[SimilarKind, ...] = ("experience", "document")
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
Grade = Annotated[int, Field(ge=0, le=11)]
Year = Annotated[int, Field(ge=1900, le=2100)]
MAX_VALUES = 50  # values of one filter
NOT_BLANK = r"\S"  # a text with at least one character that is not a space
QueryText = Annotated[str, Field(min_length=1, max_length=limits.MAX_QUERY_CHARS, pattern=NOT_BLANK)]


class Filters(NoBooleanNumbers):
    """Restrictions on a search or a listing: several values of one filter mean any of them."""

    model_config = ConfigDict(extra="forbid")

    lang: list[Lang] = Field(default_factory=list, max_length=MAX_VALUES, description="passage language")
    technology: list[Slug] = Field(default_factory=list, max_length=MAX_VALUES, description="technology id")
    group: list[Slug] = Field(default_factory=list, max_length=MAX_VALUES, description="technology group id")
    region: list[Slug] = Field(default_factory=list, max_length=MAX_VALUES, description="region id")
    subject: list[Slug] = Field(default_factory=list, max_length=MAX_VALUES, description="subject id")
    grade: list[Grade] = Field(default_factory=list, max_length=MAX_VALUES, description="0 = preschool, 1-11")
    experience_kind: list[Slug] = Field(default_factory=list, max_length=MAX_VALUES)
    stage: list[Slug] = Field(default_factory=list, max_length=MAX_VALUES, description="lifecycle stage id")
    year_min: Year | None = None
    year_max: Year | None = None
    ocr: bool | None = Field(default=None, description="true: only passages read by OCR from scans; false: only "
                                                        "born-digital text")


class _SearchHead(NoBooleanNumbers):
    """The query, how many results from where, and the mode (first in the documentation)."""

    q: QueryText = Field(description="the query, in kk, ru or ky (any language finds all three)",
                         examples=list(QUERIES.values()))
    k: int = Field(default=10, ge=1, le=limits.MAX_K, description="results per page")
    offset: int = Field(default=0, ge=0, le=limits.MAX_OFFSET, description="results to skip (pagination)")
    mode: SearchMode = Field(default=limits.DEFAULT_SEARCH_MODE,
                             description="hybrid = embeddings fused with word matches (the default), "
                                         "dense = embeddings only, lexical = word matches only")
    type: list[Kind] = Field(default_factory=list, max_length=3, description="document, experience, technology")
    group_by: Literal["item", "passage"] = Field(
        default="item", description="item = one result per document, experience or technology (its best passage; "
                                    "paging counts items); passage = every matching passage, as before")
    expand: list[Literal["passages"]] = Field(
        default_factory=list, max_length=1, description="passages: list each item's other matching passages")
    explain: bool = Field(default=False, description="add per result the dense and word-match evidence, the "
                                                     "matched terms, the fusion ranks and the score calibration")
    min_score: float | None = Field(default=None, ge=0.0, le=1.0,
                                    description="items scoring below this are not shown or counted (default: "
                                                "the calibrated floor; 0 shows every item found)")


class SearchQuery(Filters, _SearchHead):
    """A search: the query, how many results from where, the mode and the filters."""

    ui_lang: Lang | None = Field(default=None, description="language of the results' `title` where the data has "
                                                           "several (technologies); else Accept-Language, then ru, "
                                                           "kk, ky, en")


class SearchPageQuery(SearchQuery):
    """A search by GET, which can also answer with the page as a file."""

    format: Literal["json", "csv", "ris"] = Field(
        default="json", description="json (default); csv = the page as a table (UTF-8 with BOM, for Excel); "
                                    "ris = the page as references (Zotero, Mendeley, EndNote), as an attachment")


class MatchedPassage(BaseModel):
    """Another passage of an item that matched the query (`expand=passages`)."""

    chunk_id: int
    lang: str
    page: int | None
    score: float
    snippet: str
    highlights: list[tuple[int, int]]
    snippet_html: str


class SearchResult(BaseModel):
    """One result: an item and its best passage (group_by=item), or one passage (group_by=passage)."""

    type: str = Field(description="document | experience | technology")
    doc_id: str
    chunk_id: int
    title: str | None = Field(description="the title in the reader's language (`ui_lang`, Accept-Language) where "
                                          "`titles` has it")
    titles: dict[str, str] = Field(default_factory=dict, description="language → title, where the item has "
                                                                     "titles in several (technologies) or one known")
    lang: str
    page: int | None
    score: float
    technologies: list[str] = Field(description="technology ids the item is tagged with")
    source: str
    snippet: str = Field(description="the part of the passage around the query's words")
    highlights: list[tuple[int, int]] = Field(description="[start, end) of the matching words in `snippet`")
    snippet_html: str = Field(description="`snippet` HTML-escaped with the matching words in <mark>")
    text: str = Field(description="the whole passage")
    ocr: bool = Field(default=False, description="the passage was read by OCR from a scan")
    ocr_confidence: float | None = Field(default=None, description="OCR engine's mean word confidence (0-1) of the "
                                                                   "passage's page; below 0.6 the page is flagged")
    matched_passages: int = Field(default=0, description="how many other passages of the item matched")
    passages: list[MatchedPassage] | None = Field(default=None, description="those passages (expand=passages)")
    explain: dict[str, Any] | None = Field(default=None, description="why the result is here (explain=true)")


class SearchResponse(BaseModel):
    """Results of a search, best first; `next_offset` asks for the next page, null when there is none.

    With group_by=item: `total` matching items (`total_is_estimate` when more may match beyond the ranked pool),
    `facets` (facet -> value -> items), and `no_close_match` when nothing is close enough to show.
    """

    query: str
    mode: str
    group_by: str = "item"
    k: int
    offset: int
    results: list[SearchResult]
    next_offset: int | None
    total: int | None = Field(default=None, description="matching items (group_by=item)")
    total_is_estimate: bool = False
    facets: dict[str, dict[str, int]] = Field(default_factory=dict,
                                              description="type, lang, technology, region, subject, grade")
    no_close_match: bool = Field(default=False, description="nothing answers the query closely: no results")
    close_match: float | None = Field(default=None, description="the calibrated chance of a close match")
    min_score: float | None = Field(default=None, description="the score below which items were left out")
    did_you_mean: str | None = Field(default=None, description="a spelling of the query that the corpus knows")
    search_id: str | None = Field(default=None, description="this answer in the search log: POST "
                                                            "/search-log/{search_id}/open when a result is opened")


class DocumentSummary(BaseModel):
    """A document without its chunks."""

    doc_id: str
    source: str
    title: str | None
    type: str
    format: str
    languages: list[str]
    chunks: int
    size: int
    created: float
    updated: float


class DocumentPage(BaseModel):
    """A page of documents."""

    total: int
    offset: int
    limit: int
    items: list[DocumentSummary]


class ChunkOut(BaseModel):
    """One chunk of a document."""

    chunk_id: int
    ordinal: int
    lang: str
    page: int | None
    text: str
    tokens: int


class DocumentDetail(DocumentSummary):
    """A document with its chunks in order."""

    chunk_list: list[ChunkOut]


class FileOutcome(BaseModel):
    """What happened to one uploaded file."""

    filename: str = Field(description="the name as sent")
    source: str | None = Field(description="upload/<sanitised name>: re-uploading that name replaces it")
    status: Literal["added", "updated", "unchanged", "failed"]
    doc_id: str | None
    chunks: int
    reason: str | None = Field(description="why it failed, as the CLI reports it (English)")
    message: str = Field(description="the outcome for a person, in the Accept-Language language")


class UploadReport(BaseModel):
    """The outcome of an upload: counts and one entry per file, in the order sent."""

    added: int
    updated: int
    unchanged: int
    failed: int
    files: list[FileOutcome]


class FieldError(BaseModel):
    """One invalid field of a request."""

    error: str
    detail: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx answer."""

    error: str = Field(description="machine-readable kind of error", examples=["not_found"])
    detail: str = Field(description="what was wrong, for a person (Accept-Language: en, ru, kk)")
    field: str | None = Field(default=None, description="the parameter or body field at fault")
    problems: list[FieldError] | None = Field(
        default=None, description="on a 422 naming a field: every wrong field of the request at once (the first "
                                  "included), each with its own error, detail and field")


class Health(BaseModel):
    """Liveness, readiness (the model is loaded), the model in use and the size of the store."""

    status: str
    ready: bool = Field(description="the model is loaded and answers queries (see /health/ready)")
    version: str
    model: str | None
    documents: int
    chunks: int


class Status(BaseModel):
    """A bare status answer."""

    status: str


class Stats(BaseModel):
    """Counts per type and language, the model and the index size."""

    documents: dict[str, int] = Field(description="items per type")
    chunks: int
    chunk_languages: dict[str, int] = Field(description="chunks per language")
    experiences: int | None
    model: str | None
    dim: int | None
    backend: str | None
    vectors: int | None
    index_bytes: int | None
    store_bytes: int | None


class TextQuery(NoBooleanNumbers):
    """A free text to compare with the knowledge base."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=limits.MAX_TEXT_CHARS, pattern=NOT_BLANK)]
    k: int = Field(default=10, ge=1, le=limits.MAX_K)


class ClassifyQuery(TextQuery):
    """A free text and how many technology suggestions to return."""

    k: int = Field(default=5, ge=1, le=limits.MAX_CLASSIFY_K)


class SimilarQuery(TextQuery):
    """A free text and which kinds of items to return."""

    kinds: list[SimilarKind] = Field(default_factory=lambda: list(SIMILAR_KINDS), min_length=1, max_length=2)


class SimilarItem(BaseModel):
    """An experience or document close to the given one, and why."""

    doc_id: str = Field(description="the experience id, or the document id")
    type: str = Field(description="experience | document")
    title: str | None
    lang: str | None
    score: float
    shared_technologies: list[str]
    passage: str = Field(description="the closest passage")
    reason: str

    @classmethod
    def of(cls, item: Any) -> SimilarItem:
        """From the knowledge base's SimilarItem."""
        return cls(doc_id=item.doc_id, type=item.kind, title=item.title, lang=item.lang,
                   score=round(float(item.score), 6), shared_technologies=list(item.shared_technologies),
                   passage=item.passage, reason=item.reason)


class TechnologySuggestion(BaseModel):
    """A technology a text seems to describe."""

    technology_id: str
    group_id: str
    score: float
    labels: dict[str, str]
