"""The knowledge-base vocabulary (technologies, classifications, regions, subjects) and experience records.

The records' pydantic models live in `ingest.knowledge_schema` and are re-exported here; this module loads and
cross-checks the vocabulary, reads and writes experience files (JSONL, CSV) and builds the texts to embed.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Container, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from ingest.knowledge_schema import (
    CLASSIFICATION_KINDS,
    EVIDENCE_KINDS,
    INNOVATION_KINDS,
    LANGUAGES,
    Classification,
    Classifications,
    Experience,
    Labels,
    Language,
    Region,
    Slug,
    StageTransition,
    Subject,
    Technology,
    TechnologyGroup,
    Text,
)
from ingest.lifecycle import history_problems
from pedkb.errors import Problem, UnsupportedFormatError, ValidationError

__all__ = [  # the schema names callers import from here, beside this module's own
    "CLASSIFICATION_KINDS", "CSV_COLUMNS", "EVIDENCE_KINDS", "INNOVATION_KINDS", "LANGUAGES", "LIST_SEPARATOR",
    "NEW_ID", "Classification", "Classifications", "Experience", "Labels", "Language", "Region", "Slug",
    "StageTransition", "Subject", "Technology", "TechnologyGroup", "Text", "Vocabulary", "dump_experiences",
    "experience_problems", "experience_text", "load_corpus_experiences", "load_experiences", "load_vocabulary",
    "parse_experience", "technology_text",
]  # fmt: skip

log = logging.getLogger(__name__)

LIST_SEPARATOR = ";"


class Vocabulary:
    """The loaded knowledge-base vocabularies, with the checks an experience must pass."""

    def __init__(
        self,
        groups: list[TechnologyGroup],
        technologies: list[Technology],
        classifications: Classifications,
        regions: list[Region],
        subjects: list[Subject],
    ) -> None:
        self.groups = {group.id: group for group in sorted(groups, key=lambda g: g.order)}
        self.technologies = {tech.id: tech for tech in technologies}
        self.classifications = classifications
        self.regions = {region.id: region for region in regions}
        self.subjects = {subject.id: subject for subject in subjects}

    def group_of(self, technology_id: str) -> TechnologyGroup:
        """The group a technology belongs to."""
        return self.groups[self.technologies[technology_id].group]

    def technologies_in(self, group_id: str) -> list[Technology]:
        """The technologies of one group, in file order."""
        return [tech for tech in self.technologies.values() if tech.group == group_id]

    def stage_order(self) -> list[str]:
        """The lifecycle stages in the guide's order (the `stage` classification's values)."""
        return [value.id for value in self.classifications.get("stage").values]

    def problems(self, exp: Experience) -> Iterator[tuple[str, str]]:
        """Yield (field, reason) for each id in `exp` the vocabulary does not know and each repeated item."""
        for problem in self.reference_problems(exp.model_dump(mode="json")):
            yield problem.field, problem.reason
        yield from history_problems(self.stage_order(), exp.stage, exp.history)

    def reference_problems(self, record: Mapping[str, Any]) -> Iterator[Problem]:
        """The unknown ids and repeated items of a raw record; fields of the wrong type are left to the schema."""
        values = {kind: self.classifications.get(kind).ids() for kind in CLASSIFICATION_KINDS}
        raw_innovation = record.get("innovation")
        innovation: Mapping[str, Any] = raw_innovation if isinstance(raw_innovation, dict) else {}
        # each check: (field, value, allowed ids, what the value is called in the message)
        refs: list[tuple[str, object, Container[str], str]] = [
            ("region", record.get("region"), self.regions, "region id"),
            ("subject", record.get("subject"), self.subjects, "subject id"),
            ("experience_kind", record.get("experience_kind"), values["experience_kind"], "experience kind"),
            ("stage", record.get("stage"), values["stage"], "stage"),
            *((f"innovation.{k}", innovation.get(k), values[k], f"{k} value") for k in INNOVATION_KINDS),
            *((f"technologies[{i}]", t, self.technologies, "technology id")
              for i, t in enumerate(_as_list(record.get("technologies")))),
            *((f"dissemination[{i}]", d, values["dissemination"], "dissemination form")
              for i, d in enumerate(_as_list(record.get("dissemination")))),
        ]  # fmt: skip
        for field, value, allowed, what in refs:
            if isinstance(value, str) and value.strip() and value not in allowed:
                yield Problem(field, f"unknown {what} {value!r}", "unknown_value", {"value": value})
        for name in ("technologies", "dissemination", "grades"):
            items = _as_list(record.get(name))
            for i, item in enumerate(items):
                if isinstance(item, str | int) and item in items[:i]:
                    yield Problem(f"{name}[{i}]", f"{item!r} is listed twice", "invalid_value")


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


_M = TypeVar("_M", bound=BaseModel)


def _loc(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as `technologies[1]` or `innovation.scale`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "record"


def _validate(model: type[_M], data: Any, where: str) -> _M:
    """Validate `data` as `model`; the first problem becomes a ValidationError naming `where` and a field."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        reason = first["msg"][0].lower() + first["msg"][1:]
        if first["type"] not in ("missing", "extra_forbidden") and "input" in first:
            reason += f" (got {first['input']!r})"
        raise ValidationError(f"{where}: {_loc(tuple(first['loc']))}", reason) from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}:{exc.lineno}", f"malformed JSON: {exc.msg}") from None


def _unique(items: Iterable[Any], where: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            raise ValidationError(f"{where}[{i}].id", f"duplicate id {item.id!r}")
        seen.add(item.id)


def _load_list(path: Path, key: str, model: type[_M], raw: Any = None) -> list[_M]:
    """Validate the list under `key` of a JSON file as `model` items with unique ids."""
    raw = _read_json(path) if raw is None else raw
    if not isinstance(raw, dict) or not isinstance(raw.get(key), list):
        raise ValidationError(f"{path}: {key}", "expected a JSON object with a list under this key")
    items = [_validate(model, item, f"{path}: {key}[{i}]") for i, item in enumerate(raw[key])]
    _unique(items, f"{path}: {key}")
    return items


def load_vocabulary(corpus_dir: Path) -> Vocabulary:
    """Load technologies, classifications, regions and subjects from `corpus_dir` and cross-check them."""
    corpus_dir = Path(corpus_dir)
    tech_path = corpus_dir / "technologies.json"
    raw = _read_json(tech_path)
    groups = _load_list(tech_path, "groups", TechnologyGroup, raw)
    techs = _load_list(tech_path, "technologies", Technology, raw)
    for i, tech in enumerate(techs):
        if tech.group not in {group.id for group in groups}:
            raise ValidationError(f"{tech_path}: technologies[{i}].group", f"unknown group id {tech.group!r}")

    cls_path = corpus_dir / "classifications.json"
    classifications = Classifications(classifications=_load_list(cls_path, "classifications", Classification))
    for i, classification in enumerate(classifications.classifications):
        _unique(classification.values, f"{cls_path}: classifications[{i}].values")
    missing = set(CLASSIFICATION_KINDS) - {c.id for c in classifications.classifications}
    if missing:
        raise ValidationError(f"{cls_path}: classifications", f"missing {', '.join(sorted(missing))}")

    regions = _load_list(corpus_dir / "regions.json", "regions", Region)
    subjects = _load_list(corpus_dir / "subjects.json", "subjects", Subject)
    log.debug("vocabulary: %d groups, %d technologies, %d regions", len(groups), len(techs), len(regions))
    return Vocabulary(groups, techs, classifications, regions, subjects)


def empty_vocabulary() -> Vocabulary:
    """A vocabulary with no technologies (classification off), for a corpus folder without technologies.json."""
    return Vocabulary([], [], Classifications(classifications=[]), [], [])


def parse_experience(data: Any, vocabulary: Vocabulary, where: str) -> Experience:
    """Validate one raw record against the model and the vocabulary; every problem is reported at once, each
    naming its field (ValidationError.problems), the message names `where`."""
    if not isinstance(data, dict):
        raise ValidationError(where, "a record must be a JSON object")
    problems = experience_problems(data, vocabulary)
    if problems:
        raise ValidationError.of(problems, where)
    return Experience.model_validate(data)


NEW_ID = "new"  # stands for the id while a record that has none yet (the server assigns it) is validated
ID_HINT = "use lowercase Latin letters a-z, digits and single hyphens, e.g. exp-kk-syni-oylau"
_SCHEMA_KINDS = {"missing": "missing_field", "extra_forbidden": "unknown_field", "string_too_short": "empty_value",
                 "too_short": "empty_value", "greater_than_equal": "too_small", "less_than_equal": "too_large"}


def _schema_problem(error: Mapping[str, Any]) -> Problem:
    """A pydantic error as a Problem with a sentence a person understands (never a raw regular expression)."""
    field = _loc(tuple(error["loc"]))
    kind = _SCHEMA_KINDS.get(error["type"], "invalid_value")
    got = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing_field":
        return Problem(field, "is required", kind)
    if kind == "unknown_field":
        return Problem(field, "is not a field of an experience", kind)
    if kind == "empty_value" or (error["type"] == "string_pattern_mismatch" and got == ""):
        return Problem(field, "must not be empty", "empty_value")
    if kind in ("too_small", "too_large"):
        limit = ctx.get("ge", ctx.get("le"))
        word = "at least" if kind == "too_small" else "at most"
        return Problem(field, f"must be {word} {limit} (got {got!r})", kind, {"limit": limit, "value": got})
    if error["type"] == "string_pattern_mismatch":
        if field == "id":
            return Problem(field, f"{got!r} is not a valid id: {ID_HINT}", "invalid_id", {"value": got})
        return Problem(field, f"{got!r} is not an id: lowercase Latin letters, digits and hyphens", "invalid_value",
                       {"value": got})
    reason = error["msg"][0].lower() + error["msg"][1:]
    if got is not None and not isinstance(got, dict | list):
        reason += f" (got {got!r})"
    return Problem(field, reason, kind)


def experience_problems(data: Mapping[str, Any], vocabulary: Vocabulary) -> list[Problem]:
    """Every problem of a raw experience record at once: schema errors (missing, wrong type, bad id), then the
    ids the vocabulary does not know; an empty list means the record is valid. The CLI and the API both use it."""
    try:
        exp = Experience.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [_schema_problem(e) for e in exc.errors()]
        wrong = {p.field for p in problems}
        return problems + [p for p in vocabulary.reference_problems(data) if p.field not in wrong]
    return [*vocabulary.reference_problems(exp.model_dump(mode="json")),
            *(Problem(field, reason) for field, reason in
              history_problems(vocabulary.stage_order(), exp.stage, exp.history))]


# ---- files: JSONL and CSV ----

_LIST_FIELDS = ("stages", "dissemination", "grades", "technologies")
_JSON_FIELD = "history"  # a list of objects: one JSON array in its CSV cell
CSV_COLUMNS: tuple[str, ...] = tuple(
    name
    for field in Experience.model_fields
    for name in ([f"innovation.{k}" for k in INNOVATION_KINDS] if field == "innovation" else [field])
)


def _json_cell(cell: str, where: str) -> Any:
    """A cell holding JSON (the lifecycle history); an empty cell is an empty list."""
    if not cell.strip():
        return []
    try:
        return json.loads(cell)
    except json.JSONDecodeError as exc:
        raise ValidationError(where, f"malformed JSON: {exc.msg}") from None


def _join_list(items: Iterable[object]) -> str:
    """Join list items with `;`, escaping backslashes and semicolons inside items."""
    return LIST_SEPARATOR.join(str(item).replace("\\", "\\\\").replace(";", "\\;") for item in items)


def _split_list(cell: str) -> list[str]:
    """Split a `;`-separated cell, honouring `\\;` and `\\\\` escapes; an empty cell is an empty list."""
    items: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, "\\"))
        elif ch == LIST_SEPARATOR:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return [] if items == [""] else items


def _csv_row_to_record(row: dict[str, str], where: str) -> dict[str, Any]:
    """One CSV row as a raw record: list cells split, `innovation.*` columns gathered into one object."""
    record: dict[str, Any] = {"innovation": {}}
    for key, value in row.items():
        if key not in CSV_COLUMNS:
            raise ValidationError(f"{where}: {key}", "unknown column")
        if key.startswith("innovation."):
            record["innovation"][key.removeprefix("innovation.")] = value
        elif key == _JSON_FIELD:
            record[key] = _json_cell(value, f"{where}: {key}")
        else:
            record[key] = _split_list(value) if key in _LIST_FIELDS else value
    return record


def _csv_row(exp: Experience) -> dict[str, str]:
    """One experience as CSV cells: lists `;`-joined, innovation split into `innovation.*` columns."""
    row: dict[str, str] = {}
    for field, value in exp.model_dump(mode="json").items():
        if field == "innovation":
            row.update({f"innovation.{kind}": v for kind, v in value.items()})
        elif field in _LIST_FIELDS:
            row[field] = _join_list(value)
        elif field == _JSON_FIELD:
            row[field] = json.dumps(value, ensure_ascii=False) if value else ""
        else:
            row[field] = str(value).lower() if isinstance(value, bool) else str(value)
    return row


def _read_records(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, raw record) from a JSONL or CSV file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValidationError(f"{path}:{lineno}", f"malformed JSON: {exc.msg}") from None
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            start = 2
            for row in reader:
                if None in row:
                    raise ValidationError(f"{path}:{start}", "more cells than header columns")
                yield start, _csv_row_to_record(row, f"{path}:{start}")
                start = reader.line_num + 1
    else:
        raise UnsupportedFormatError(path, "experiences are read from .jsonl or .csv files")


def load_experiences(path: Path, vocabulary: Vocabulary) -> list[Experience]:
    """Read and validate experiences from JSONL (one record a line) or CSV (list cells `;`-separated)."""
    path = Path(path)
    records: list[Experience] = []
    seen: dict[str, int] = {}
    for lineno, data in _read_records(path):
        where = f"{path}:{lineno}"
        if not isinstance(data, dict):
            raise ValidationError(where, "a record must be a JSON object")
        exp = parse_experience(data, vocabulary, where)
        if exp.id in seen:
            raise ValidationError(f"{where}: id", f"duplicate id {exp.id!r} (first on line {seen[exp.id]})")
        seen[exp.id] = lineno
        records.append(exp)
    log.debug("loaded %d experiences from %s", len(records), path)
    return records


def load_corpus_experiences(corpus_dir: Path, vocabulary: Vocabulary) -> list[Experience]:
    """Load every `experiences/*.jsonl` file under `corpus_dir`, refusing ids repeated across files."""
    records: list[Experience] = []
    owner: dict[str, Path] = {}
    for path in sorted((Path(corpus_dir) / "experiences").glob("*.jsonl")):
        for exp in load_experiences(path, vocabulary):
            if exp.id in owner:
                raise ValidationError(f"{path}: id", f"experience id {exp.id!r} is also in {owner[exp.id]}")
            owner[exp.id] = path
            records.append(exp)
    return records


def dump_experiences(records: Iterable[Experience], path: Path) -> None:
    """Write experiences to `path` as JSONL or CSV (by suffix); loading the file gives them back."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for exp in records:
                record = exp.model_dump(mode="json")
                if not record["history"]:  # a record without a lifecycle history reads as before it existed
                    del record["history"]
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS))
            writer.writeheader()
            writer.writerows(_csv_row(exp) for exp in records)
    else:
        raise UnsupportedFormatError(path, "experiences are written to .jsonl or .csv files")


# ---- texts to embed ----


def experience_text(exp: Experience) -> str:
    """The text embedded for an experience: title, summary, problem, goal, method, stages and results."""
    stages = "\n".join(f"{i}. {stage}" for i, stage in enumerate(exp.stages, start=1))
    parts = [exp.title, exp.summary, exp.problem, exp.goal, exp.method, stages, exp.results]
    return "\n\n".join(part for part in parts if part)


def technology_text(tech: Technology, lang: str) -> str:
    """The text embedded for a technology in one language: its name, other names and description."""
    if lang not in LANGUAGES:
        raise ValidationError("lang", f"expected one of {', '.join(LANGUAGES)}, got {lang!r}")
    label = getattr(tech.labels, lang)
    aliases = [alias for alias in getattr(tech.aliases, lang) if alias != label]
    head = f"{label} ({', '.join(aliases)})" if aliases else label
    return f"{head}.\n{getattr(tech.descriptions, lang)}"
