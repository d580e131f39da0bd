"""What harvesters see: experiences and documents (live or deleted) with datestamps and sets, selected by set and
dates and paged by stateless resumption tokens.

Items are ordered by (datestamp, id); a token carries the request's prefix, set and dates and the position of the
last item sent, so any server process can answer it and a harvest of an unchanged bank returns every item once.
An item changed during a harvest moves behind the cursor and comes again, as OAI-PMH allows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from index.knowledge_base import KnowledgeBase
from index.records import DocumentRecord

HARVESTED_KINDS = ("experience", "document")
SET_KINDS = ("type", "lang", "tech")  # set hierarchy roots: type:experience, lang:kk, tech:project-method


class OaiArgumentError(Exception):
    """A request the protocol refuses; `code` is the OAI-PMH error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class OaiItem:
    """One harvestable item: its id, kind, datestamp (epoch seconds), sets and record (None once deleted)."""

    doc_id: str
    kind: str
    stamp: float
    sets: tuple[str, ...]
    doc: DocumentRecord | None

    @property
    def key(self) -> tuple[float, str]:
        """Its place in the harvest order."""
        return (self.stamp, self.doc_id)

    def in_set(self, spec: str) -> bool:
        """True when the item is in the set or below it in the hierarchy (`tech` holds every `tech:...`)."""
        return any(s == spec or s.startswith(f"{spec}:") for s in self.sets)


@dataclass(frozen=True)
class Selection:
    """A list request: metadata prefix, set, from/until (inclusive, epoch seconds) and the position reached."""

    prefix: str
    set_spec: str | None = None
    start: int | None = None
    end: int | None = None
    after: tuple[float, str] | None = None

    def matches(self, item: OaiItem) -> bool:
        """True when the item is in the selection (ignoring the position)."""
        second = int(item.stamp)
        return ((self.set_spec is None or item.in_set(self.set_spec))
                and (self.start is None or second >= self.start) and (self.end is None or second <= self.end))


@dataclass(frozen=True)
class Page:
    """One response's items, the list size, how many came before, and the token for the rest (None at the end)."""

    items: list[OaiItem]
    total: int
    cursor: int
    token: str | None


def item_sets(kind: str, facets: dict[str, list[str]]) -> tuple[str, ...]:
    """The sets an item of this kind with these stored facets belongs to."""
    return (f"type:{kind}", *(f"lang:{lang}" for lang in facets.get("lang", [])),
            *(f"tech:{tech}" for tech in facets.get("technology", [])))


def all_items(kb: KnowledgeBase) -> list[OaiItem]:
    """Every harvestable item, live and deleted, in harvest order."""
    items: list[OaiItem] = []
    for kind in HARVESTED_KINDS:
        items += [OaiItem(d.doc_id, kind, d.updated, item_sets(kind, d.stored_facets()), d)
                  for d in kb.backend.list_documents(kind)]
        items += [OaiItem(d.doc_id, kind, d.deleted, item_sets(kind, d.facets), None)
                  for d in kb.backend.deletions(kind)]
    return sorted(items, key=lambda item: item.key)


def page(items: list[OaiItem], selection: Selection, size: int) -> Page:
    """The next page of the selection after its position, with the token for the one after."""
    chosen = [item for item in items if selection.matches(item)]
    done = 0 if selection.after is None else sum(1 for item in chosen if item.key <= selection.after)
    rest = chosen[done:]
    part = rest[:size]
    token = encode_token(selection, part[-1].key, done + len(part)) if len(rest) > size else None
    return Page(part, len(chosen), done, token)


def datestamp(stamp: float) -> str:
    """An OAI datestamp at seconds granularity (UTC)."""
    return dt.datetime.fromtimestamp(int(stamp), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datestamp(value: str, name: str, *, end: bool) -> tuple[int, str]:
    """(epoch seconds, granularity) of a from/until argument; a day's until is its last second."""
    try:
        if len(value) == 10:
            day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return int(day.timestamp()) + (86_399 if end else 0), "day"
        moment = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise OaiArgumentError("badArgument", f"{name}: {value!r} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ") from None
    return int(moment.timestamp()), "seconds"


def encode_token(selection: Selection, after: tuple[float, str], cursor: int) -> str:
    """A resumption token: the selection and the position after the page just sent."""
    state = {"p": selection.prefix, "s": selection.set_spec, "f": selection.start, "u": selection.end,
             "t": after[0], "i": after[1], "c": cursor}
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> Selection:
    """The selection a token continues; anything else is badResumptionToken."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
        after = (float(state["t"]), state["i"])
        selection = Selection(prefix=state["p"], set_spec=state["s"], start=state["f"], end=state["u"], after=after)
        valid = (isinstance(selection.prefix, str) and isinstance(after[1], str)
                 and (selection.set_spec is None or isinstance(selection.set_spec, str))
                 and all(v is None or isinstance(v, int) for v in (selection.start, selection.end)))
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise OaiArgumentError("badResumptionToken", f"{token[:80]!r} is not a resumption token of this server")
    return selection
