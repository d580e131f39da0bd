"""The versioned REST API: every resource router under `API_PREFIX`, mounted once by the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from search_api.deps import RATE_LIMITED, SearchLimit
from search_api.routes import (
    API_PREFIX,
    access,
    analysis,
    documents,
    experiences,
    gaps,
    health,
    lifecycle,
    search,
    technologies,
)

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(search.router, dependencies=[SearchLimit], responses=RATE_LIMITED)
for _module in (health, documents, experiences, lifecycle, technologies, analysis, access, gaps):
    api_router.include_router(_module.router)
