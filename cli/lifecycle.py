"""`pedkb exp stage ID STAGE --evidence ...` and `pedkb exp history ID`: an experience's lifecycle."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
from typing import Any

from index.kb.lifecycle import TransitionRequest, history, record_transition
from ingest.knowledge import EVIDENCE_KINDS
from pedkb.errors import InputError, ValidationError

ACTIONS = ("stage", "history")


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of `exp stage` (on the `exp` parser)."""
    group = parser.add_argument_group("exp stage ID STAGE")
    group.add_argument("--evidence-kind", choices=EVIDENCE_KINDS, help="what the transition rests on")
    group.add_argument("--evidence", help="the report, seminar or publication: title, place, reference")
    group.add_argument("--by", help="the methodist recording it (default: the login name)")
    group.add_argument("--date", help="YYYY-MM-DD the transition happened (default: today)")
    group.add_argument("--document", help="id of a document in the bank that holds the evidence")
    group.add_argument("--reason", help="why a stage is skipped or an experience goes back")


def run(args: argparse.Namespace, kb: Any) -> int:
    """Record a transition (`stage`) or print the history (`history`)."""
    if not args.id:
        raise InputError(f"exp {args.action}: an experience id is required")
    if args.action == "history":
        steps = [step.model_dump(mode="json") for step in history(kb.bank, args.id)]
        if args.json:
            print(json.dumps(steps, ensure_ascii=False, indent=2))
        elif not steps:
            print(f"{args.id}: no transitions recorded (stage {kb.bank.get(args.id).stage})")
        for step in [] if args.json else steps:
            print(f"{step['date']}  {step['previous'] or '-'} -> {step['stage']}  by {step['by']}  "
                  f"[{step['evidence_kind']}] {step['evidence']}"
                  + (f"  document {step['document']}" if step["document"] else "")
                  + (f"  (reason: {step['reason']})" if step["reason"] else ""))
        return 0
    stage = args.file
    if not stage:
        raise InputError("exp stage: the new stage is required (exp stage ID STAGE)")
    if not args.evidence_kind or not args.evidence:
        raise ValidationError("--evidence-kind/--evidence", "a transition needs its evidence")
    request = TransitionRequest(stage=stage, by=args.by or getpass.getuser(), evidence_kind=args.evidence_kind,
                                evidence=args.evidence, date=_date(args.date), document=args.document,
                                reason=args.reason)
    exp = record_transition(kb.bank, args.id, request)
    last = exp.history[-1]
    print(f"{exp.id}: {last.previous} -> {last.stage} on {last.date} by {last.by}")
    return 0


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError("--date", f"{text!r} is not a date YYYY-MM-DD") from None
