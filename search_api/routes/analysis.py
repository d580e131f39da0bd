"""Free-text analysis: items similar to a text or to an uploaded file (read, not stored), and the technologies a
text describes."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.limits import ReadLimits
from ingest.ocr import OcrOptions
from ingest.sandbox import read_isolated
from pedkb.errors import ValidationError
from pedkb.limits import MAX_K
from pedkb.settings import Settings
from search_api.deps import RATE_LIMITED, AnalysisLimit, KbDep, SettingsDep
from search_api.errors import ApiError
from search_api.examples import CLASSIFY_BODY, SIMILAR_BODY
from search_api.query import check_page, check_text, clean_text, has_letters
from search_api.schemas import (
    SIMILAR_KINDS,
    ClassifyQuery,
    ErrorResponse,
    SimilarItem,
    SimilarQuery,
    TechnologySuggestion,
)
from search_api.uploads import sanitise_filename

FILE_BODY: dict[str, Any] = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "PDF, DOCX, TXT, MD or HTML"}},
}}}}

router = APIRouter(tags=["analysis"], dependencies=[AnalysisLimit],
                   responses={422: {"model": ErrorResponse, "description": "a field is wrong"}, **RATE_LIMITED})


@router.post("/similar", response_model=list[SimilarItem])
def similar(
    kb: KbDep, settings: SettingsDep, body: Annotated[SimilarQuery, Body(openapi_examples=SIMILAR_BODY)]
) -> list[SimilarItem]:
    """Experiences and documents close to a free text (e.g. a draft description of one's own practice)."""
    text = check_text(body.text, settings.max_text_chars, field="text")
    check_page(body.k, 0, settings)
    if not has_letters(text):
        return []
    try:
        items = kb.similar(text=text, k=body.k, kinds=tuple(dict.fromkeys(body.kinds)))
    except ValidationError as exc:
        if exc.field != "text":
            raise
        return []  # nothing in the text to compare (no words after chunking)
    return [SimilarItem.of(item) for item in items]


@router.post("/classify", response_model=list[TechnologySuggestion])
def classify(
    kb: KbDep, settings: SettingsDep, body: Annotated[ClassifyQuery, Body(openapi_examples=CLASSIFY_BODY)]
) -> list[TechnologySuggestion]:
    """The teaching technologies a text most likely describes, best first, with labels in kk/ru/ky/en."""
    text = check_text(body.text, settings.max_text_chars, field="text")
    if not has_letters(text):
        return []
    try:
        suggestions = kb.classify(text, k=body.k)
    except ValidationError as exc:
        if exc.field != "text":
            raise
        return []
    return [TechnologySuggestion.model_validate(s.to_dict()) for s in suggestions]


class FileAnalysis(BaseModel):
    """What an uploaded file (read, never stored) is close to: the same answer as /similar and /classify."""

    filename: str = Field(description="the file's name as sent")
    title: str | None = Field(description="the title the reader found (metadata or first heading), if any")
    chars: int = Field(description="characters of text compared (at most PEDKB_MAX_TEXT_CHARS)")
    truncated: bool = Field(description="whether the text was longer and only its beginning was compared")
    similar: list[SimilarItem]
    technologies: list[TechnologySuggestion]


def _read_upload(settings: Settings, filename: str | None, data: BinaryIO, size: int | None) -> tuple[str, str | None]:
    """The text and title of an uploaded file, read by the sandboxed reader from a temporary copy deleted after."""
    safe = sanitise_filename(filename)
    if not safe:
        raise ApiError(422, "filename_missing", field="file", name=filename or "")
    limit = settings.max_file_bytes
    too_large = ApiError(422, "file_too_large", field="file", size=f"{(size or 0) / 2**20:.1f} MB",
                         limit=f"{settings.max_file_mb:g} MB")
    if size is not None and size > limit:
        raise too_large
    with tempfile.TemporaryDirectory(prefix="pedkb-similar-") as folder:
        path = Path(folder) / safe
        with open(path, "wb") as out:
            copied = 0
            while block := data.read(1 << 20):
                copied += len(block)
                if copied > limit:
                    raise too_large
                out.write(block)
        ocr = replace(OcrOptions.from_settings(settings), cache_dir=None)  # nothing of the file is kept
        document = read_isolated(path, max_bytes=limit, limits=ReadLimits.from_settings(settings),
                                 isolate=settings.isolate_parsing, ocr=ocr)
    text = "\n\n".join(page.text for page in document.pages if page.text.strip())
    return text, document.title


@router.post("/similar/file", response_model=FileAnalysis, openapi_extra={"requestBody": FILE_BODY},
             responses={413: {"model": ErrorResponse}, 415: {"model": ErrorResponse}})
async def similar_to_file(request: Request, kb: KbDep, settings: SettingsDep,
                          k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> FileAnalysis:
    """Experiences and documents close to an uploaded file (PDF, DOCX, TXT, ...), and the technologies it describes.

    The file (multipart field `file`) is read by the same sandboxed reader as an upload, from a temporary copy that is
    deleted at once: nothing is stored. Only the first PEDKB_MAX_TEXT_CHARS characters are compared. To add the file
    to the knowledge base, upload it to `POST /documents` (needs the API key).
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", got=content_type.split(";")[0] or "none",
                       expected="multipart/form-data")
    check_page(k, 0, settings)
    try:
        form = await request.form(max_files=1, max_fields=5)
    except StarletteHTTPException as exc:
        if "Too many files" in str(exc.detail):
            raise ApiError(422, "too_many_files", field="file", limit=1) from exc
        raise ApiError(400, "bad_request", reason=str(exc.detail)) from exc
    try:
        upload = next((value for _, value in form.multi_items() if isinstance(value, UploadFile)), None)
        if upload is None:
            raise ApiError(422, "no_files", field="file")
        filename = upload.filename or ""
        text, title = await run_in_threadpool(_read_upload, settings, upload.filename, upload.file, upload.size)
    finally:
        await form.close()
    limit = settings.max_text_chars
    compared = clean_text(text[:limit])
    similar: list[SimilarItem] = []
    technologies: list[TechnologySuggestion] = []
    if has_letters(compared):
        try:
            found = await run_in_threadpool(kb.similar, text=compared, k=k, kinds=SIMILAR_KINDS)
            suggestions = await run_in_threadpool(kb.classify, compared, k=5)
        except ValidationError as exc:
            if exc.field != "text":
                raise
        else:
            similar = [SimilarItem.of(item) for item in found]
            technologies = [TechnologySuggestion.model_validate(s.to_dict()) for s in suggestions]
    return FileAnalysis(filename=filename, title=title, chars=len(compared), truncated=len(text) > limit,
                        similar=similar, technologies=technologies)
