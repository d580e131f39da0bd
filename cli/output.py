"""What the `pedkb` command prints: rich tables and short summaries for a person, JSON for scripts (`--json`), and
errors in the API's wording (`search_api.errors`, one catalogue) in the language of $LANG.

Colours and styles are used only on a terminal; a pipe or a file gets plain text without escape codes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TypeVar

import pydantic
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table

from index.records import SearchHit
from pedkb.errors import PedkbError, Problem, ValidationError
from search_api.errors import field_path, from_pedkb
from search_api.i18n import message
from search_api.titles import asked_language as api_asked_language
from search_api.titles import pick_title, title_order

M = TypeVar("M", bound=BaseModel)
PIPE_WIDTH = 160  # columns of a table written to a pipe or file (a terminal uses its own width)


def console(stream: object = None) -> Console:
    """A console on stdout (or `stream`): styled on a terminal, plain and wide enough elsewhere."""
    out = stream or sys.stdout
    terminal = bool(getattr(out, "isatty", lambda: False)())
    return Console(file=out, highlight=False, soft_wrap=False, emoji=False,  # type: ignore[arg-type]
                   no_color=not terminal or "NO_COLOR" in os.environ, force_terminal=terminal or None,
                   width=None if terminal else PIPE_WIDTH)


def print_json(payload: object) -> None:
    """Pretty JSON on stdout, non-ASCII letters kept."""
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, title: str | None = None,
          numeric: Sequence[str] = ()) -> None:
    """Print rows under column headers; `numeric` columns are right-aligned."""
    grid = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, title_justify="left", pad_edge=False)
    for name in columns:
        grid.add_column(name, justify="right" if name in numeric else "left", overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    out = console()
    if out.is_terminal:
        out.print(grid)
        return
    with out.capture() as captured:  # a pipe or a file: the same table without the padding at the line ends
        out.print(grid)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def say(text: str) -> None:
    """A line of summary (markup-free: square brackets in data are printed as they are)."""
    console().print(text, markup=False)


def shorten(text: str | None, limit: int = 120) -> str:
    """A text on one line, cut with an ellipsis."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def validated(model: type[M], data: object) -> M:
    """`data` validated as `model`, every problem a ValidationError naming its field (not a pydantic error, which
    the command reports as bad configuration)."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [Problem(field_path(e["loc"]) or "request", e["msg"]) for e in exc.errors()]
        raise ValidationError.of(problems) from None


def title_of(hit: SearchHit) -> str | None:
    """A result's title; a technology's in the language of $LANG (then ru, kk, ky, en), as the API chooses it."""
    tech = hit.document.meta.get("technology")
    labels = tech.get("labels") if isinstance(tech, dict) else None
    if isinstance(labels, dict):
        return pick_title(labels, title_order(asked_language()), hit.document.title)
    return hit.document.title


def asked_language() -> str | None:
    """The language of $LC_ALL, $LC_MESSAGES or $LANG (ru_RU.UTF-8 → ru) when it is kk, ru, ky or en, else None."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return api_asked_language(value.split(".")[0].replace("_", "-"))
    return None


def reader_language() -> str:
    """The language of error messages: the locale's (`asked_language`), else English."""
    return asked_language() or "en"


def error_lines(exc: PedkbError, lang: str | None = None) -> list[str]:
    """A pedkb error as the API words it (same catalogue, same kinds), one line per wrong field; file paths kept."""
    lang = lang or reader_language()
    error = from_pedkb(exc, None)
    if not isinstance(exc, ValidationError):
        return [message(error.kind, lang, **error.values)]
    lines = [message(p.kind, lang, **p.values) for p in error.problems]
    where = f"{exc.where}: " if exc.where else ""
    if len(lines) == 1:
        return [where + lines[0]]
    count = len(lines)
    head = {"en": f"{count} problems", "ru": f"ошибок: {count}", "kk": f"қателер: {count}", "ky": f"каталар: {count}"}
    return [f"{where}{head.get(lang, head['en'])}", *(f"  {line}" for line in lines)]
