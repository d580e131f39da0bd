"""Knowledge-base commands of `pedkb`: load the corpus, manage experiences, technologies, classify, similar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cli import lifecycle as cli_lifecycle
from cli.output import print_json, say, shorten, table
from index.records import SearchFilters
from pedkb.errors import InputError, NotFoundError
from pedkb.limits import MAX_LIST


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `search` and `exp list`."""
    parser.add_argument("--technology", action="append", help="technology id (repeatable)")
    parser.add_argument("--group", action="append", help="technology group id (repeatable)")
    parser.add_argument("--region", action="append")
    parser.add_argument("--subject", action="append")
    parser.add_argument("--grade", action="append", type=int)
    parser.add_argument("--experience-kind", action="append", dest="experience_kind")
    parser.add_argument("--stage", action="append")
    parser.add_argument("--year-from", type=int, dest="year_from")
    parser.add_argument("--year-to", type=int, dest="year_to")
    parser.add_argument("--ocr", choices=("true", "false"), help="true: passages read by OCR from scans only; "
                                                                  "false: born-digital text only")


def filters_from(args: argparse.Namespace) -> SearchFilters:
    """SearchFilters from parsed options."""
    def tup(name: str) -> tuple[Any, ...] | None:
        values = getattr(args, name, None)
        return tuple(values) if values else None

    lang = getattr(args, "lang", None)
    kinds = getattr(args, "type", None)
    return SearchFilters(
        langs=(lang,) if lang else None, kinds=tuple(kinds) if kinds else None,
        technologies=tup("technology"), groups=tup("group"), regions=tup("region"), subjects=tup("subject"),
        grades=tup("grade"), experience_kinds=tup("experience_kind"), stages=tup("stage"),
        year_min=getattr(args, "year_from", None), year_max=getattr(args, "year_to", None),
        ocr=None if getattr(args, "ocr", None) is None else args.ocr == "true",
    )


def _read_record(path: str) -> dict[str, Any]:
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        record = json.loads(raw)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected one JSON object (an experience record)")
    return record


def cmd_kb_load(args: argparse.Namespace, kb: Any) -> int:
    """Index the technology classification and sample experiences of a corpus folder."""
    corpus = Path(args.corpus) if args.corpus else kb.settings.corpus
    counts = kb.bank.load_corpus(corpus)
    if args.json:
        print_json(counts)
        return 0
    table(("", "added", "updated", "unchanged"),
          [(name, *(by_status.get(s, 0) for s in ("added", "updated", "unchanged"))) for name, by_status in
           counts.items()], numeric=("added", "updated", "unchanged"))
    return 0


def experience_template(lang: str) -> dict[str, Any]:
    """A filled example experience in `lang` (the API documentation's example), without an id: `exp add` takes it
    as it is and makes the id from the title."""
    from search_api.examples import EXPERIENCE_BODY

    return {k: v for k, v in EXPERIENCE_BODY[lang]["value"].items() if k != "id"}


def cmd_exp(args: argparse.Namespace, kb: Any) -> int:
    """Experiences: list, show, add, edit, delete, import, export."""
    bank = kb.bank
    action = args.action
    if action == "list":
        filters = filters_from(args)
        records = bank.select(filters, offset=args.offset, limit=args.limit)
        total = bank.count(filters)
        if args.json:
            print_json({"total": total, "items": [r.model_dump(mode="json") for r in records]})
            return 0
        table(("id", "lang", "year", "region", "subject", "title"),
              [(r.id, r.language, r.year, r.region, r.subject, shorten(r.title, 70)) for r in records])
        say(f"{len(records)} of {total} experiences" + (f" (from {args.offset + 1})" if args.offset else ""))
    elif action == "show":
        exp = bank.get(args.id)
        record = exp.model_dump(mode="json")
        record["suggested_technologies"] = bank.suggested(args.id)
        if args.json:
            print_json(record)
            return 0
        _show_experience(record)
    elif action in ("add", "edit"):
        record = _read_record(args.file)
        exp = bank.create(record) if action == "add" else bank.update(args.id, record)
        if args.json:
            print_json(exp.model_dump(mode="json"))
        else:
            say(f"{'added' if action == 'add' else 'updated'} {exp.id}")
    elif action == "delete":
        bank.delete(args.id)
        say(f"deleted {args.id}")
    elif action == "import":
        counts = bank.import_file(Path(args.file))
        print_json(counts) if args.json else say(", ".join(f"{n} {status}" for status, n in counts.items()))
    elif action == "export":
        count = bank.export(Path(args.file))
        print_json({"exported": count, "file": args.file}) if args.json else say(
            f"exported {count} experiences to {args.file}")
    return 0


def _show_experience(record: dict[str, Any]) -> None:
    """One experience as a two-column summary."""
    innovation = record.get("innovation", {})
    rows = [(name, record[name]) for name in ("id", "language", "title", "author", "organisation", "region",
                                               "subject", "year", "experience_kind", "stage")]
    rows += [("grades", ", ".join(map(str, record["grades"]))), ("technologies", ", ".join(record["technologies"])),
             ("innovation", ", ".join(f"{k}={v}" for k, v in innovation.items())),
             ("suggested", ", ".join(str(s.get("technology_id")) for s in record["suggested_technologies"]))]
    rows += [(name, shorten(record[name], 300)) for name in ("summary", "problem", "goal", "method", "results")]
    rows += [("stages", " → ".join(record["stages"]))]
    table(("field", "value"), rows)


def cmd_tech(args: argparse.Namespace, kb: Any) -> int:
    """The technology classification as a tree, or one technology with its experiences."""
    vocab = kb.vocabulary
    lang = args.lang
    if args.action == "tree":
        tree = [{"id": g.id, "label": getattr(g.labels, lang),
                 "technologies": [{"id": t.id, "label": getattr(t.labels, lang)} for t in vocab.technologies_in(g.id)]}
                for g in vocab.groups.values()]
        if args.json:
            print_json(tree)
            return 0
        for group in tree:
            table(("id", "technology"), [(t["id"], t["label"]) for t in group["technologies"]],
                  title=f"{group['label']} ({group['id']})")
        return 0
    if not args.id:
        raise InputError("tech show: a technology id is required")
    if args.id not in vocab.technologies:
        raise NotFoundError(f"no technology with id {args.id!r}")
    tech = vocab.technologies[args.id]
    payload = tech.model_dump(mode="json")
    experiences = kb.bank.for_technology(args.id)
    payload["experiences"] = [e.id for e in experiences]
    if args.json:
        print_json(payload)
        return 0
    labels = tech.labels.model_dump()
    group = getattr(vocab.group_of(tech.id).labels, lang)
    table(("field", "value"), [("id", tech.id), ("group", f"{tech.group}: {group}"),
                               *((f"name ({code})", labels[code]) for code in ("kk", "ru", "ky", "en")),
                               ("description", shorten(tech.descriptions.model_dump().get(lang, ""), 300))])
    table(("experience", "lang", "title"), [(e.id, e.language, shorten(e.title, 80)) for e in experiences])
    return 0


def cmd_classify(args: argparse.Namespace, kb: Any) -> int:
    """Suggest technologies for a text."""
    suggestions = kb.classify(" ".join(args.text), k=args.k)
    if args.json:
        print_json([s.to_dict() for s in suggestions])
        return 0
    table(("score", "technology", "group", "name"),
          [(f"{s.score:.3f}", s.technology_id, s.group_id, s.labels.get(args.lang, "")) for s in suggestions],
          numeric=("score",))
    return 0


def cmd_classify_eval(args: argparse.Namespace, kb: Any) -> int:
    """Accuracy of the classifier on the experiences in the bank (their first technology is the label)."""
    from index.kb.classify import evaluate_classifier

    experiences = kb.bank.select(limit=MAX_LIST)
    if not experiences:
        raise InputError("the bank has no experiences: run `pedkb kb load` first")
    vectors = [kb.text_vector("\n".join(c.text for c in kb.backend.document_chunks(e.id))) for e in experiences]
    report = evaluate_classifier(kb.classifier, experiences, np.stack(vectors))
    print(report.table())
    return 0


def cmd_similar(args: argparse.Namespace, kb: Any) -> int:
    """Experiences and documents similar to an experience or a description."""
    text = " ".join(args.text) if args.text else None
    items = kb.similar(exp_id=args.id, text=text, k=args.k, kinds=tuple(args.type or ("experience", "document")))
    if args.json:
        print_json([i.to_dict() for i in items])
        return 0
    table(("#", "score", "lang", "type", "id", "title", "why"),
          [(rank, f"{item.score:.3f}", item.lang, item.kind, item.doc_id, shorten(item.title, 60),
            shorten(item.reason, 120)) for rank, item in enumerate(items, 1)], numeric=("#", "score"))
    return 0


def register(sub: argparse._SubParsersAction, run: Any) -> None:
    """Add the knowledge-base commands; `run` wraps a handler so it gets an open knowledge base."""
    p = sub.add_parser("kb", help="load the technology classification and sample experiences")
    p.add_argument("action", choices=["load"])
    p.add_argument("corpus", nargs="?", default=None, help="corpus folder (default: the shipped corpus/)")
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    p.set_defaults(func=run(cmd_kb_load))

    p = sub.add_parser("exp", help="experiences: list, show, add, edit, delete, import, export, template, stage, "
                                   "history")
    p.add_argument("action", choices=["list", "show", "add", "edit", "delete", "import", "export", "template",
                                      *cli_lifecycle.ACTIONS])
    p.add_argument("id", nargs="?", help="experience id (show, edit, delete, stage, history)")
    p.add_argument("file", nargs="?", help="JSON record (add, edit; - for stdin) or .jsonl/.csv (import, export); "
                                           "the new stage (stage)")
    p.add_argument("--lang", choices=["kk", "ru", "ky"], help="list: only this language; template: its language "
                                                              "(default kk)")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    add_filter_options(p)
    cli_lifecycle.add_options(p)
    with_kb = run(_exp_args(cmd_exp))
    p.set_defaults(func=lambda args: cmd_exp_template(args) if args.action == "template" else with_kb(args))

    p = sub.add_parser("tech", help="the technology classification")
    p.add_argument("action", choices=["tree", "show"])
    p.add_argument("id", nargs="?")
    p.add_argument("--lang", choices=["kk", "ru", "ky", "en"], default="ru")
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    p.set_defaults(func=run(cmd_tech))

    p = sub.add_parser("classify", help="suggest technologies for a text")
    p.add_argument("text", nargs="+")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--lang", choices=["kk", "ru", "ky", "en"], default="ru", help="label language")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(cmd_classify))

    p = sub.add_parser("classify-eval", help="classification accuracy on the experiences in the bank")
    p.set_defaults(func=run(cmd_classify_eval))

    p = sub.add_parser("similar", help="similar experiences and documents")
    p.add_argument("text", nargs="*", help="a project description (or use --id)")
    p.add_argument("--id", help="an experience id")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--type", action="append", choices=["experience", "document", "technology"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(cmd_similar))


def cmd_exp_template(args: argparse.Namespace) -> int:
    """Print a filled example experience (JSON) to edit and give to `pedkb exp add`; needs no store."""
    print_json(experience_template(args.lang or "kk"))
    return 0


def _exp_args(handler: Any) -> Any:
    """Let `exp add FILE`, `exp import FILE` and `exp export FILE` take the file as their first argument."""
    def wrapped(args: argparse.Namespace, kb: Any) -> int:
        if args.action in cli_lifecycle.ACTIONS:
            return cli_lifecycle.run(args, kb)
        if args.action in ("add", "import", "export") and args.file is None:
            args.file = args.id
        if args.action in ("show", "edit", "delete") and not args.id:
            raise InputError(f"exp {args.action}: an experience id is required")
        if args.action in ("add", "edit", "import", "export") and not args.file:
            raise InputError(f"exp {args.action}: a file is required")
        return int(handler(args, kb))

    return wrapped
