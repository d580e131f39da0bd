"""Search results one per item: passages grouped by their item, items paged stably, totals and facet counts.

A search ranks passages (`ranking.py`); a teacher reads items: a document, an experience, a technology. `group`
keeps each item once, at the rank of its best passage, with every other passage of it that matched (in rank
order); items are ordered by their best passage's score, ties by id, so one ranked list always gives the same
order and paging with offsets never shows an item twice. `facet_counts` counts the matching items per type,
language, technology, region, subject and grade.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from index.records import DocumentRecord
from index.records import Ranked as Passage  # one matched passage of an item: its chunk and raw score

# facet name in the answer -> where an item's values come from ("kind" and "lang" are not stored facets)
FACET_NAMES: tuple[str, ...] = ("type", "lang", "technology", "region", "subject", "grade")


@dataclass
class ItemGroup:
    """One item of a search: its id and its matched passages, best first."""

    doc_id: str
    passages: list[Passage] = field(default_factory=list)

    @property
    def best(self) -> Passage:
        """The passage that ranks the item."""
        return self.passages[0]

    @property
    def langs(self) -> list[str]:
        """The languages of the matched passages, in order of first appearance."""
        return list(dict.fromkeys(p.lang for p in self.passages))


def group(passages: Iterable[Passage]) -> list[ItemGroup]:
    """Passages in rank order -> the items in order of their best passage, each with all of its passages."""
    by_item: dict[str, ItemGroup] = {}
    for passage in passages:
        doc_id = passage.chunk.doc_id
        item = by_item.get(doc_id)
        if item is None:
            by_item[doc_id] = ItemGroup(doc_id, [passage])
        else:
            item.passages.append(passage)
    items = list(by_item.values())
    items.sort(key=lambda item: (-item.passages[0].score, item.doc_id))  # `best.raw`, read without two properties
    return items


def facet_counts(items: Sequence[ItemGroup], documents: Mapping[str, DocumentRecord]) -> dict[str, dict[str, int]]:
    """facet -> value -> number of items with that value, most frequent first (ties by value). An item counts once
    under each value it has: its type, the languages it matched in, and its stored facets (as text)."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACET_NAMES}
    stored = [(name, counts[name]) for name in FACET_NAMES[2:]]
    kinds, langs = counts["type"], counts["lang"]
    for item in items:  # counted in place: a search counts some 300 items
        document = documents.get(item.doc_id)
        if document is None:
            continue
        kinds[document.kind] += 1
        langs.update({p.lang for p in item.passages})
        for name, counter in stored:
            values = document.facets.get(name)
            if values:
                counter.update({str(v) for v in values})
    return {name: dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))) for name, counter in counts.items()}
