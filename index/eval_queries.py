"""The judged-query file of `pedkb eval` (corpus/eval/queries.jsonl): judgements, their parsing and how a
search result is matched against them (see `evaluation.py` for the counting rules)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from index.records import SearchHit
from pedkb.errors import ValidationError

LANGUAGES: tuple[str, ...] = ("kk", "ru", "ky")
GRADES = range(1, 4)
TECH_PREFIX = "tech:"
_EXPERIENCE_ID = re.compile(r"^exp-(kk|ru|ky)-\d+$")


class Result(Protocol):
    """What the evaluator reads from one search result."""

    @property
    def doc_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def lang(self) -> str: ...
    @property
    def type(self) -> str: ...




@dataclass(frozen=True)
class SearchResult:
    """A plain search result (what `result_from_hit` makes of a knowledge-base hit)."""

    doc_id: str
    source: str
    text: str
    lang: str
    type: str = "document"


def result_from_hit(hit: SearchHit) -> SearchResult:
    """The evaluator's view of a knowledge-base search hit."""
    return SearchResult(hit.document.doc_id, hit.document.source, hit.chunk.text, hit.chunk.lang,
                        hit.document.kind)


# ---- normalisation and judgements ----------------------------------------------------------------------------

_FOLD = str.maketrans({"ə": "ә", "ё": "е", "\u00ad": None, "\u2010": "-", "\u2011": "-", "\u2012": "-",
                       "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2500": "-", "\u2212": "-"})
_HYPHEN_SPACE = re.compile(r"(?<=\w)(?:-\s*|\s+-)(?=\w)")


def normalise_passage(text: str) -> str:
    """Text as phrases are matched: NFC, case-folded, ə→ә, ё→е, dashes unified, whitespace collapsed, and
    hyphens inside words dropped together with the spaces that extraction leaves beside them."""
    text = " ".join(unicodedata.normalize("NFC", text).casefold().translate(_FOLD).split())
    return _HYPHEN_SPACE.sub("", text)


def file_name(source: str) -> str:
    """The last path component of a source (a path, an upload name or an item source)."""
    return source.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Judgement:
    """One relevant answer: an item id, or a seed file prefix with a phrase of the relevant passage."""

    grade: int
    lang: str | None  # the answer's language; None: the item exists in every language
    item: str | None = None
    seed: str | None = None
    phrase: str | None = None
    needle: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.phrase is not None:
            object.__setattr__(self, "needle", normalise_passage(self.phrase))

    @property
    def label(self) -> str:
        """A short human-readable name: `exp-ru-001` or `002:«phrase»`."""
        return self.item if self.item is not None else f"{self.seed}:«{self.phrase}»"

    def matches(self, doc_id: str, name: str, normalised_text: str) -> bool:
        """True when a chunk (its document id, file name and normalised text) is this answer."""
        if self.item is not None:
            return doc_id == self.item
        return name.startswith(self.seed or "") and self.needle in normalised_text


@dataclass(frozen=True)
class EvalQuery:
    """A query as a user would type it, its language and its graded judgements."""

    id: str
    text: str
    lang: str
    judgements: tuple[Judgement, ...]
    names: tuple[str, ...] = ()  # the technologies the query names (`tech:<id>`), each also judged

    def answer_lang(self, judgement: Judgement) -> str:
        """The language a judgement answers in (an every-language item answers in the query's)."""
        return judgement.lang or self.lang

    @property
    def cross_lingual(self) -> bool:
        """True when every best-graded answer is in another language than the query."""
        top = max(j.grade for j in self.judgements)
        return all(self.answer_lang(j) != self.lang for j in self.judgements if j.grade == top)


def _item_lang(item: str) -> str | None:
    if match := _EXPERIENCE_ID.match(item):
        return match.group(1)
    if not item.startswith(TECH_PREFIX):
        raise ValueError(f"unknown item id {item!r} (expected exp-<lang>-NNN or tech:<id>)")
    return None


def _parse_judgement(raw: Any) -> Judgement:
    if not isinstance(raw, dict):
        raise ValueError("a judgement must be a JSON object")
    unknown = set(raw) - {"grade", "lang", "item", "seed", "phrase"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    grade = raw.get("grade")
    if not isinstance(grade, int) or grade not in GRADES:
        raise ValueError(f"grade must be 1, 2 or 3 (got {grade!r})")
    lang = raw.get("lang")
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)} (got {lang!r})")
    item, seed, phrase = raw.get("item"), raw.get("seed"), raw.get("phrase")
    if item is not None:
        if seed is not None or phrase is not None:
            raise ValueError("give either item or seed + phrase, not both")
        return Judgement(grade, lang or _item_lang(str(item)), item=str(item))
    if not seed or not phrase or not normalise_passage(str(phrase)):
        raise ValueError("a judgement needs item, or seed and a non-empty phrase")
    if lang is None:
        raise ValueError("a seed judgement needs the lang of its passage")
    return Judgement(grade, lang, seed=str(seed), phrase=str(phrase))


def parse_query(raw: Any) -> EvalQuery:
    """Validate one qrels record (ValueError naming the field on a problem)."""
    if not isinstance(raw, dict):
        raise ValueError("a query must be a JSON object")
    for key in ("id", "lang", "text"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ValueError(f"{key}: must be a non-empty string")
    if raw["lang"] not in LANGUAGES:
        raise ValueError(f"lang: must be one of {', '.join(LANGUAGES)}")
    raw_judgements = raw.get("judgements")
    if not isinstance(raw_judgements, list) or not raw_judgements:
        raise ValueError("judgements: must be a non-empty list")
    judgements = []
    for i, item in enumerate(raw_judgements):
        try:
            judgements.append(_parse_judgement(item))
        except ValueError as exc:
            raise ValueError(f"judgements[{i}]: {exc}") from None
    names = raw.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n.startswith(TECH_PREFIX) for n in names):
        raise ValueError(f"names: must be a list of {TECH_PREFIX}<id> technology ids")
    unjudged = set(names) - {j.item for j in judgements}
    if unjudged:
        raise ValueError(f"names: {', '.join(sorted(unjudged))} named but not judged")
    return EvalQuery(raw["id"], raw["text"], raw["lang"], tuple(judgements), tuple(names))


def load_queries(path: Path) -> list[EvalQuery]:
    """Read a qrels JSONL file (one query a line); a bad line raises ValidationError naming line and field."""
    path = Path(path)
    queries: list[EvalQuery] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                query = parse_query(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}:{lineno}", f"malformed JSON: {exc.msg}") from None
            except ValueError as exc:
                raise ValidationError(f"{path}:{lineno}", str(exc)) from None
            if query.id in seen:
                raise ValidationError(f"{path}:{lineno}", f"id: duplicate query id {query.id!r}")
            seen.add(query.id)
            queries.append(query)
    return queries


# ---- metrics -------------------------------------------------------------------------------------------------
