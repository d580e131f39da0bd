"""Routes of the web front end: the page at `/`, the iframe embed, the widget script, static files, the vocabulary.

Everything is plain HTML, CSS and ES modules from `static/`; nothing is built and nothing comes from another site.
The page forbids being framed (it takes an API key); `/embed` may be framed by any portal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from search_api.deps import KbDep
from search_api.errors import ApiError

STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor"  # third-party files as published, with their licences (docs/analytics.md)
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(js|css|svg)$")
SAFE_VENDOR_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9]+)*\.(js|css)$")
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": f"{CSP}; frame-ancestors 'none'", "X-Frame-Options": "DENY",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-cache"}
EMBED_HEADERS = {"Content-Security-Policy": f"{CSP}; frame-ancestors *", "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "same-origin", "Cache-Control": "no-cache"}
ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


def _file(name: str, headers: dict[str, str], folder: Path = STATIC) -> FileResponse:
    path = folder / name
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


@router.get("/")
def page() -> FileResponse:
    """The search page for teachers and methodists."""
    return _file("index.html", PAGE_HEADERS)


@router.get("/embed")
def embed() -> FileResponse:
    """The search box alone, for an `<iframe>` on another site (`?lang=ru&type=experience&region=...`)."""
    return _file("embed.html", EMBED_HEADERS)


@router.get("/widget.js")
def widget() -> FileResponse:
    """The script a portal adds to embed the search box (a `<pedkb-search>` element in a shadow root)."""
    return _file("widget.js", ASSET_HEADERS)


@router.get("/ui/vocabulary.json")
def vocabulary(kb: KbDep) -> JSONResponse:
    """Regions, subjects and classifications with their labels, to show ids as names and offer them as filters."""
    vocab: Any = kb.vocabulary
    body = {
        "regions": [r.model_dump() for r in vocab.regions.values()],
        "subjects": [s.model_dump() for s in vocab.subjects.values()],
        "classifications": [c.model_dump() for c in vocab.classifications.classifications],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-cache"})


@router.get("/ui/{name}")
def asset(name: str) -> FileResponse:
    """A static file of the page or the widget (scripts, styles, icons); nothing outside `static/`."""
    if not SAFE_NAME.match(name) or not (STATIC / name).is_file():
        raise ApiError(404, "route_not_found", path=f"/ui/{name}")
    return _file(name, ASSET_HEADERS)


@router.get("/ui/vendor/{name}")
def vendored(name: str) -> FileResponse:
    """A vendored library file (the gaps page's chart, uPlot); nothing outside `static/vendor/`."""
    if not SAFE_VENDOR_NAME.match(name) or not (VENDOR / name).is_file():
        raise ApiError(404, "route_not_found", path=f"/ui/vendor/{name}")
    return _file(name, ASSET_HEADERS, VENDOR)
