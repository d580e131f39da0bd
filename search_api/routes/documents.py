"""Documents: upload (multipart, one or several files), list, get with chunks, delete."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.records import DocumentRecord
from pedkb.errors import NotFoundError
from pedkb.limits import MAX_LIST
from search_api.deps import GuardedRoute, KbDep, SettingsDep, UploaderDep, WriterDep
from search_api.errors import ApiError
from search_api.i18n import message, pick_language
from search_api.query import shown_source
from search_api.schemas import (
    ChunkOut,
    DocumentDetail,
    DocumentPage,
    DocumentSummary,
    ErrorResponse,
    FileOutcome,
    Kind,
    UploadReport,
)
from search_api.uploads import StoredFile

router = APIRouter(prefix="/documents", tags=["documents"], route_class=GuardedRoute)

DocId = Annotated[str, Path(min_length=1, max_length=200, description="document id, e.g. d6ad3df920e5cd18")]
WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "no API key"},
    403: {"model": ErrorResponse, "description": "the API key is wrong"},
}
UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                 "description": "PDF, DOCX, TXT/MD or HTML files"}},
    }}},
}


def summary(doc: DocumentRecord, corpus: pathlib.Path) -> DocumentSummary:
    """The list view of a document (a server path shown relative to the corpus folder, or as a file name)."""
    return DocumentSummary(doc_id=doc.doc_id, source=shown_source(doc.source, corpus.resolve()), title=doc.title,
                           type=doc.kind, format=doc.fmt,
                           languages=list(doc.languages), chunks=doc.n_chunks, size=doc.size,
                           created=doc.created, updated=doc.updated)


def _outcome(stored: StoredFile, lang: str) -> FileOutcome:
    if stored.status == "failed":
        text = (message(stored.kind, lang, **(stored.values or {})) if stored.kind
                else message("file_failed", lang, reason=stored.reason))
    else:
        text = message(f"file_{stored.status}", lang, chunks=stored.chunks)
    return FileOutcome(filename=stored.filename, source=stored.source, status=stored.status,  # type: ignore[arg-type]
                       doc_id=stored.doc_id, chunks=stored.chunks, reason=stored.reason, message=text)


@router.post("", response_model=UploadReport, dependencies=[WriterDep], openapi_extra={"requestBody": UPLOAD_BODY},
             responses={**WRITE_ERRORS, 413: {"model": ErrorResponse}, 415: {"model": ErrorResponse},
                        422: {"model": ErrorResponse}})
async def upload(request: Request, settings: SettingsDep, uploader: UploaderDep) -> UploadReport:
    """Upload files as multipart `files` fields; each is ingested like `pedkb ingest` and reported.

    When every file fails the answer is 422 `nothing_ingested` naming each file and its reason.

    A file is stored as `DATA/uploads/<sanitised name>` with the source `upload/<sanitised name>`: uploading the
    same name again replaces that document. One failing file does not stop the others; the files are ingested side
    by side in worker threads (a scan's OCR does not hold up the others), so searches are answered meanwhile.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", got=content_type.split(";")[0] or "none",
                       expected="multipart/form-data")
    try:
        form = await request.form(max_files=settings.max_upload_files, max_fields=20)
    except StarletteHTTPException as exc:
        if "Too many files" in str(exc.detail):
            raise ApiError(422, "too_many_files", field="files", limit=settings.max_upload_files) from exc
        raise ApiError(400, "bad_request", reason=str(exc.detail)) from exc
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not files:
            raise ApiError(422, "no_files", field="files")
        lang = pick_language(request.headers.get("accept-language"))
        # The files of one request are ingested side by side (each in a worker thread; writes still take the
        # store's writer lock one at a time), so a scan being read by OCR does not hold up the text files beside it.
        stored_files = await asyncio.gather(*(run_in_threadpool(uploader.store, item.filename, item.file, item.size)
                                              for item in files))
        outcomes = [_outcome(stored, lang) for stored in stored_files]
    finally:
        await form.close()
    counts = {status: sum(1 for o in outcomes if o.status == status)
              for status in ("added", "updated", "unchanged", "failed")}
    if counts["failed"] == len(outcomes):
        reasons = "; ".join(f"{o.filename}: {o.message}" for o in outcomes)
        raise ApiError(422, "nothing_ingested", field="files", reasons=reasons)
    return UploadReport(**counts, files=outcomes)


@router.get("", response_model=DocumentPage)
def list_documents(
    kb: KbDep,
    type: Annotated[Kind, Query(description="which kind of item")] = "document",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> DocumentPage:
    """Documents (or experiences/technologies as indexed items), oldest first."""
    docs = kb.documents(type)
    return DocumentPage(total=len(docs), offset=offset, limit=limit,
                        items=[summary(d, kb.settings.corpus) for d in docs[offset:offset + limit]])


@router.get("/{doc_id}", response_model=DocumentDetail, responses={404: {"model": ErrorResponse}})
def get_document(kb: KbDep, doc_id: DocId) -> DocumentDetail:
    """A document's metadata and its chunks in order."""
    try:
        doc = kb.document(doc_id)
    except NotFoundError as exc:
        raise ApiError(404, "document_not_found", id=doc_id) from exc
    chunks = [ChunkOut(chunk_id=c.chunk_id, ordinal=c.ordinal, lang=c.lang, page=c.page, text=c.text,
                       tokens=c.n_tokens) for c in kb.backend.document_chunks(doc_id)]
    return DocumentDetail(**summary(doc, kb.settings.corpus).model_dump(), chunk_list=chunks)


@router.delete("/{doc_id}", status_code=204, dependencies=[WriterDep],
               responses={**WRITE_ERRORS, 404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}})
def delete_document(kb: KbDep, uploader: UploaderDep, doc_id: DocId) -> Response:
    """Delete a document, its chunks and vectors (and the kept copy of an uploaded file)."""
    try:
        doc = kb.document(doc_id)
    except NotFoundError as exc:
        raise ApiError(404, "document_not_found", id=doc_id) from exc
    if doc.kind != "document":
        raise ApiError(409, "conflict", reason=f"{doc_id} is an indexed {doc.kind}; change it through /{doc.kind}s")
    try:
        uploader.delete(doc_id, doc.source)
    except NotFoundError as exc:  # deleted by someone else meanwhile
        raise ApiError(404, "document_not_found", id=doc_id) from exc
    return Response(status_code=204)
