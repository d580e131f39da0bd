"""The FastAPI application factory: routers under /api/v1, CORS, body limits, errors and the OpenAPI schema."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Scope

from index.knowledge_base import KnowledgeBase
from index.searchlog import open_search_log
from pedkb import __version__
from pedkb.settings import Settings
from search_api.api import api_router
from search_api.caching import install_http_caching
from search_api.docs_offline import install_offline_docs
from search_api.errors import install_error_handlers
from search_api.limits import BodyLimitMiddleware, JsonBodyMiddleware
from search_api.openapi import build_openapi
from search_api.ratelimit import RateLimits
from search_api.responses import SafeJSONResponse
from search_api.routes import API_PREFIX, feeds, oai
from search_api.uploads import Uploader
from search_api.warmup import Warmup
from search_api.web import router as web_router
from search_api.worker import WorkerHeaderMiddleware

log = logging.getLogger(__name__)

UPLOAD_PATHS = (f"{API_PREFIX}/documents", f"{API_PREFIX}/documents/", f"{API_PREFIX}/similar/file")
DESCRIPTION = """Search and browse pedagogical innovation material in Kazakh, Russian and Kyrgyz.

* **Reading is open.** Upload, create, update and delete need a key from `PEDKB_API_KEYS`, sent as
  `X-API-Key: <key>` or `Authorization: Bearer <key>`: no key is 401, a wrong key 403, and nothing changes.
* **Errors** are `{"error": kind, "detail": text, "field": name?}`; `detail` follows `Accept-Language`
  (`en`, `ru`, `kk`; default `en`).
* **Limits** (configurable): query length, `k`, `offset`, JSON body size, upload size and file count; searches,
  `/classify` and `/similar` are rate-limited per client address, and more generously per valid key: past a limit
  the answer is 429 with `Retry-After` (seconds).
"""


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    """Build the app; `kb` may be given (tests), otherwise it is opened from the settings at start-up."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = kb is None
        if own:
            opened = KnowledgeBase(settings)
            try:
                opened.refuse_inconsistent()  # a store `pedkb check` finds wrong is not served
            except BaseException:
                opened.close()
                raise
            _attach(app, opened, settings)
        app.state.warmup.start(app.state.kb)  # live at once, ready once the model has answered a query
        try:
            yield
        finally:
            app.state.warmup.stop()  # its search must not run on a closed store
            app.state.search_log.close()  # what is still buffered is written
            if own:
                app.state.kb.close()

    app = FastAPI(title="pedkb", version=__version__, lifespan=lifespan, description=DESCRIPTION,
                  default_response_class=SafeJSONResponse, docs_url=None, redoc_url=None)
    app.state.warmup = Warmup()
    app.state.rate_limits = RateLimits(settings)
    if kb is not None:
        _attach(app, kb, settings)

    def body_limit(scope: Scope) -> int:
        if scope.get("method") == "POST" and scope.get("path") in UPLOAD_PATHS:
            return settings.max_upload_bytes
        return settings.max_request_bytes

    app.add_middleware(JsonBodyMiddleware)  # 415 before the body is read
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    install_http_caching(app)  # gzip and ETags inside CORS, outside the body limit
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                       allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                       allow_headers=["X-API-Key", "Authorization", "Content-Type", "Accept-Language"],
                       expose_headers=["Content-Language", "Location"], max_age=600)
    app.add_middleware(WorkerHeaderMiddleware)  # outermost: also on CORS preflights and errors
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(oai.router)  # /oai: OAI-PMH for harvesters (docs/harvesting.md)
    app.include_router(feeds.router)  # /feeds/experiences.atom
    app.include_router(web_router)  # the page at /, /embed, /widget.js (before the /docs redirect)
    install_offline_docs(app)  # /docs and /redoc with their assets served from the package

    app.openapi = lambda: build_openapi(app, settings)  # type: ignore[method-assign]
    return app


def _attach(app: FastAPI, kb: KnowledgeBase, settings: Settings) -> None:
    app.state.kb = kb
    app.state.settings = settings
    app.state.uploader = Uploader(kb, settings)
    app.state.search_log = open_search_log(settings)
