"""Swagger UI at `/docs` and ReDoc at `/redoc` built from files installed with pedkb, so they work with no network.

The JavaScript and CSS come from the `fastapi-offline` wheel (Swagger UI 5 and ReDoc 2 standalone bundles), served
under a path that names the wheel's version, so a CDN or a browser may keep them for a year. A Content-Security-Policy
keeps both pages on this server: nothing is fetched from another host even when one is reachable.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import os
import re
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

ASSETS_PACKAGE = "fastapi-offline"
ASSETS_URL = f"/static/docs-assets/{version(ASSETS_PACKAGE)}"
FAVICON_URL = "/ui/icon.svg"
ASSET_CACHE = "public, max-age=31536000, immutable"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# Swagger UI and ReDoc set inline styles; ReDoc runs its search in a worker made from a blob.
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
            "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; script-src {scripts}")
# Swagger UI's validator badge would send the schema to validator.swagger.io.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def assets_dir() -> Path:
    """The folder of Swagger UI and ReDoc files inside the installed `fastapi-offline` package."""
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


class DocsAssets(StaticFiles):
    """The docs' static files; versioned URLs, so they are cacheable for long (ETag and 304 come from Starlette)."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        """Starlette's file response (ETag, Last-Modified, 304) with a long Cache-Control."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = ASSET_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a CSP allowing only its own inline scripts (by hash) and files from this server."""
    body = bytes(page.body).decode("utf-8")
    scripts = ["'self'", *(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                           for s in INLINE_SCRIPT.findall(body))]
    return HTMLResponse(body, headers={"Content-Security-Policy": DOCS_CSP.format(scripts=" ".join(scripts)),
                                       "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                                       "Cache-Control": "no-cache"})


def install_offline_docs(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their assets from the package (create the app with docs_url=redoc_url=None)."""
    app.mount(ASSETS_URL, DocsAssets(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} {app.version}"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        """Swagger UI: try the API from the browser."""
        return _with_policy(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title}: Swagger UI", swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css", swagger_favicon_url=FAVICON_URL,
            swagger_ui_parameters=SWAGGER_PARAMETERS))

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        """ReDoc: the API reference on one page."""
        return _with_policy(get_redoc_html(
            openapi_url=openapi_url, title=f"{title}: ReDoc", redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=FAVICON_URL, with_google_fonts=False))
