"""The FastAPI application factory: routers, CORS and the mapping of pedkb errors to JSON answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse

from index.knowledge_base import KnowledgeBase
from pedkb import __version__
from pedkb.errors import InputError, ModelError, NotFoundError, PedkbError, ValidationError
from pedkb.settings import Settings
from search_api.routes import documents, health, search

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    """Build the app; `kb` may be given (tests), otherwise it is opened from the settings."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = kb is None
        app.state.kb = kb if kb is not None else KnowledgeBase(settings)
        app.state.settings = settings
        try:
            yield
        finally:
            if own:
                app.state.kb.close()

    app = FastAPI(title="pedkb", version=__version__, lifespan=lifespan,
                  description="Search over pedagogical innovation material in Kazakh, Russian and Kyrgyz.")
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                       allow_headers=["*"])
    for router in (health.router, search.router, documents.router):
        app.include_router(router)

    @app.exception_handler(PedkbError)
    async def pedkb_error(_: Request, exc: PedkbError) -> JSONResponse:
        status = 500
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, InputError):
            status = 422
        elif isinstance(exc, ModelError):
            status = 503
        if status == 500:
            log.error("store error: %s", exc)
        body = {"error": type(exc).__name__, "detail": str(exc)}
        if isinstance(exc, ValidationError):
            body["field"] = exc.field
        return JSONResponse(body, status_code=status)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
