"""Copy one store into another without re-embedding (e.g. an embedded installation into PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from index.records import SearchFilters
from index.store.base import WEIGHTS_META, Backend
from pedkb.errors import ModelMismatchError

log = logging.getLogger(__name__)


def copy_store(source: Backend, target: Backend, on_document: Callable[[str], None] | None = None) -> dict[str, int]:
    """Copy every document with its chunks, vectors and facets, and the deletions remembered for harvesters;
    returns document and chunk counts.

    The target must be empty or built with the same model. Re-running is safe: documents are replaced by id.
    An empty target is filled in `bulk_loading()` (on PostgreSQL: COPY, the vector index built once at the end).
    """
    model, dim, weights = (source.get_meta(key) for key in ("model", "dim", WEIGHTS_META))
    target_model, target_weights = target.get_meta("model"), target.get_meta(WEIGHTS_META)
    if target_model is not None and (target_model, target.get_meta("dim")) != (model, dim):
        raise ModelMismatchError(f"the target holds vectors of {target_model}, the source of {model}; "
                                 "copy into an empty database or re-embed with `pedkb reindex`")
    if target_weights is not None and weights is not None and target_weights != weights:
        raise ModelMismatchError(f"the target holds vectors of {target_model} with weights {target_weights}, the "
                                 f"source with weights {weights}; copy into an empty database or re-embed with "
                                 "`pedkb reindex`")
    if model is not None and dim is not None:
        target.set_meta("model", model)
        target.set_meta("dim", dim)
        if weights is not None:
            target.set_meta(WEIGHTS_META, weights)
    documents = chunks = 0
    empty = target.filter_documents(SearchFilters(), limit=1)[1] == 0
    with target.bulk_loading() if empty else target.writing():
        for doc in source.list_documents():
            exported = source.export_document(doc.doc_id)
            if exported is None:  # deleted while copying
                continue
            record, doc_chunks = exported
            target.put_document(record, doc_chunks)
            documents += 1
            chunks += len(doc_chunks)
            if on_document is not None:
                on_document(doc.doc_id)
        target.restore_deletions(source.deletions())  # what harvesters were told was deleted stays deleted
    log.info("copied %d documents, %d chunks", documents, chunks)
    return {"documents": documents, "chunks": chunks}
