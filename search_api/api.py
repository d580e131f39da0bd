"""The versioned REST API: every resource router under `API_PREFIX`, mounted once by the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from search_api.routes import API_PREFIX, analysis, documents, experiences, health, search, technologies

api_router = APIRouter(prefix=API_PREFIX)
for _module in (health, search, documents, experiences, technologies, analysis):
    api_router.include_router(_module.router)
