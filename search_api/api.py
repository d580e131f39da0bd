"""The versioned REST API: every resource router under `API_PREFIX`, mounted once by the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from search_api.deps import RATE_LIMITED, STARTING, ReadyDep, SearchLimit
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
api_router.include_router(search.router, dependencies=[ReadyDep, SearchLimit], responses={**RATE_LIMITED, **STARTING})
api_router.include_router(analysis.router, dependencies=[ReadyDep], responses=STARTING)  # they embed text
for _module in (health, documents, experiences, lifecycle, technologies, access, gaps):
    api_router.include_router(_module.router)
