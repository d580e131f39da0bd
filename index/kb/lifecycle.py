"""An experience's lifecycle as a history: record a transition (validated by `ingest.lifecycle`) and read it.

The history lives in the experience's record (`Experience.history`), so the current stage (the `stage` field and
facet that filters use) and its history change in one write, and export, import and `pedkb migrate` carry it.
A transition replaces only the version it was checked against: two methodists recording at once cannot both
pass the check (the second gets a ConflictError and tries again on the new state).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from index.kb.bank import EXPERIENCE, ExperienceBank
from ingest.knowledge import EVIDENCE_KINDS, Experience, StageTransition, parse_experience
from ingest.lifecycle import transition_problem
from pedkb.errors import NotFoundError, ValidationError

log = logging.getLogger(__name__)

DOCUMENT = "document"  # the kind of item a transition's document link points at


@dataclass(frozen=True)
class TransitionRequest:
    """What a methodist records: the stage reached and the evidence for it."""

    stage: str
    by: str
    evidence_kind: str
    evidence: str
    date: dt.date | None = None  # default: today (UTC)
    document: str | None = None
    reason: str | None = None


def history(bank: ExperienceBank, exp_id: str) -> list[StageTransition]:
    """An experience's recorded transitions, oldest first (NotFoundError when there is no such experience)."""
    return list(bank.get(exp_id).history)


def record_transition(bank: ExperienceBank, exp_id: str, request: TransitionRequest) -> Experience:
    """Move an experience to a new stage with its evidence; returns the experience as stored.

    Refused with a ValidationError naming the field: an unknown stage or evidence kind, a skipped stage or a step
    back without a reason, a date in the future or before the last transition, a document link to no document.
    """
    doc = bank.backend.get_document(exp_id)
    if doc is None or doc.kind != EXPERIENCE:
        raise NotFoundError(f"no experience with id {exp_id!r}")
    exp = Experience.model_validate(doc.meta["record"])
    step = _transition(bank, exp, request)
    record = exp.model_dump(mode="json")
    record.update(stage=step.stage, history=[*record["history"], step.model_dump(mode="json")])
    updated = parse_experience(record, bank.vocabulary, "experience")
    bank.put(updated, must_exist=True, expect_sha256=doc.sha256)
    log.info("experience %s: %s -> %s by %s", exp_id, step.previous, step.stage, step.by)
    return updated


def _transition(bank: ExperienceBank, exp: Experience, request: TransitionRequest) -> StageTransition:
    """The checked transition from the experience's current stage."""
    if request.evidence_kind not in EVIDENCE_KINDS:
        raise ValidationError("evidence_kind", f"unknown evidence kind {request.evidence_kind!r} "
                                               f"(one of {', '.join(EVIDENCE_KINDS)})")
    problem = transition_problem(bank.vocabulary.stage_order(), exp.stage, request.stage, request.reason)
    if problem is not None:
        raise ValidationError("stage", problem)
    today = dt.datetime.now(dt.UTC).date()
    date = request.date or today
    if date > today:
        raise ValidationError("date", f"{date} is in the future")
    if exp.history and date < exp.history[-1].date:
        raise ValidationError("date", f"{date} is before the last transition ({exp.history[-1].date})")
    if request.document is not None:
        linked = bank.backend.get_document(request.document)
        if linked is None or linked.kind != DOCUMENT:
            raise ValidationError("document", f"no document with id {request.document!r}")
    for name in ("by", "evidence"):
        if not getattr(request, name).strip():
            raise ValidationError(name, "must not be empty")
    return StageTransition(stage=request.stage, previous=exp.stage, date=date, by=request.by.strip(),
                           evidence_kind=request.evidence_kind,  # type: ignore[arg-type]
                           evidence=request.evidence.strip(), document=request.document,
                           reason=(request.reason or "").strip() or None)
