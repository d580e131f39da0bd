"""`pedkb gaps`: what people search for and do not find, grouped by meaning; `pedkb gaps purge` deletes the log."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pedkb.settings import Settings

if TYPE_CHECKING:
    from index.gaps import GapReport
    from index.searchlog import SearchLog


def add_parser(sub: Any, open_kb: Callable[[argparse.Namespace], Any],
               settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register `pedkb gaps`."""
    p = sub.add_parser("gaps", help="unmet searches grouped by meaning (purge: delete the search log)",
                       description="The most frequent searches with no close match or no opened result, grouped "
                                   "by meaning (docs/analytics.md). `pedkb gaps purge` deletes the whole log.")
    p.add_argument("action", nargs="?", choices=["report", "purge"], default="report")
    p.add_argument("--since", default=None, help="from this date on (YYYY-MM-DD, UTC)")
    p.add_argument("--lang", choices=["kk", "ru", "ky", "en"], default=None, help="only queries in this language")
    p.add_argument("--limit", type=int, default=20, help="groups printed as text (default 20)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="the whole report as JSON")
    shape.add_argument("--csv", action="store_true", help="one row per group as CSV")

    def run(args: argparse.Namespace) -> int:
        from index.searchlog import open_search_log  # loaded by this command only: `pedkb lang` stays fast

        search_log = open_search_log(settings_of(args))
        try:
            if args.action == "purge":
                print(f"search log deleted: {search_log.purge()} searches")
                return 0
            return _report(args, open_kb, search_log)
        finally:
            search_log.close()

    p.set_defaults(func=run)


def _report(args: argparse.Namespace, open_kb: Callable[[argparse.Namespace], Any], search_log: SearchLog) -> int:
    from index.gaps import report_for  # scikit-learn and the model are loaded by this command only

    with open_kb(args) as kb:
        report = report_for(kb, search_log, since=args.since, lang=args.lang)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif args.csv:
        sys.stdout.write(report.to_csv())
    else:
        print(_text(report, args.limit))
    return 0


def _text(report: GapReport, limit: int) -> str:
    lines = [f"{report.searches} searches, {report.unmet} unmet (no close match or nothing opened), "
             f"{len(report.groups)} groups"]
    for rank, group in enumerate(report.groups[:limit], 1):
        langs = " ".join(f"{lang}:{n}" for lang, n in group.languages.items())
        regions = " ".join(f"{region or '-'}:{n}" for region, n in group.regions.items())
        techs = ", ".join(str(t["id"]) for t in group.technologies) or "-"
        lines.append(f"{rank:>3}. {group.searches} searches ({group.no_close_match} no close match)  "
                     f"languages {langs}  regions {regions}  nearest {techs}")
        lines.extend(f"       {text!r} x{n}" for text, n in group.examples)
    return "\n".join(lines)
