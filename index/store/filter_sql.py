"""SQL for search filters, shared by the SQL backends: a WHERE clause over `documents d` (and `chunks c`).

Facets live in a `facets(doc_id, facet, value)` table; each restricted facet becomes one `IN (subquery)`.
"""

from __future__ import annotations

from index.records import SearchFilters


def filter_clause(filters: SearchFilters, *, chunk_level: bool, mark: str = "?") -> tuple[str, list[object]]:
    """(" AND "-joined conditions, parameters); languages apply to chunks when chunk_level, else to documents."""
    where: list[str] = []
    params: list[object] = []

    def marks(values: tuple[object, ...]) -> str:
        params.extend(values)
        return ",".join([mark] * len(values))

    if filters.langs is not None:
        if chunk_level:
            where.append(f"c.lang IN ({marks(filters.langs)})")
        else:
            params.append("lang")
            where.append(f"d.doc_id IN (SELECT doc_id FROM facets WHERE facet = {mark} "
                         f"AND value IN ({marks(filters.langs)}))")
    if filters.kinds is not None:
        where.append(f"d.kind IN ({marks(filters.kinds)})")
    if filters.doc_ids is not None:
        where.append(f"d.doc_id IN ({marks(filters.doc_ids)})")
    for facet, values in filters.facets().items():
        params.append(facet)
        where.append(f"d.doc_id IN (SELECT doc_id FROM facets WHERE facet = {mark} AND value IN ({marks(values)}))")
    if filters.ocr is not None:
        if chunk_level:
            params.append(filters.ocr)
            where.append(f"c.ocr = {mark}")
        else:  # an item with any passage read by OCR, or (False) with none
            where.append(f"d.doc_id {'' if filters.ocr else 'NOT '}IN (SELECT doc_id FROM chunks WHERE ocr)")
    if filters.year_min is not None or filters.year_max is not None:
        params.extend(["year", filters.year_min if filters.year_min is not None else -10**9,
                       filters.year_max if filters.year_max is not None else 10**9])
        where.append(f"d.doc_id IN (SELECT doc_id FROM facets WHERE facet = {mark} "
                     f"AND CAST(value AS INTEGER) BETWEEN {mark} AND {mark})")
    return " AND ".join(where), params
