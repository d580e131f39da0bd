"""Request dependencies as Annotated aliases: the knowledge base, the settings, the warm-up and write access."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from index.knowledge_base import KnowledgeBase
from pedkb.settings import Settings
from search_api.errors import ApiError
from search_api.uploads import Uploader
from search_api.warmup import Warmup

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="A key from PEDKB_API_KEYS; needed to upload, create, update, delete.")
bearer = HTTPBearer(auto_error=False, description="The same key as `Authorization: Bearer <key>`.")


def get_kb(request: Request) -> KnowledgeBase:
    """The application's knowledge base."""
    return request.app.state.kb


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    return request.app.state.settings


def get_uploader(request: Request) -> Uploader:
    """The application's upload store."""
    return request.app.state.uploader


def get_warmup(request: Request) -> Warmup:
    """The state of the model warm-up started at start-up."""
    return request.app.state.warmup


KbDep = Annotated[KnowledgeBase, Depends(get_kb)]
WarmupDep = Annotated[Warmup, Depends(get_warmup)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
UploaderDep = Annotated[Uploader, Depends(get_uploader)]


def key_is_valid(given: str, keys: list[str]) -> bool:
    """Compare a key with every configured key in constant time."""
    given_bytes = given.encode("utf-8", "replace")
    matches = [hmac.compare_digest(given_bytes, key.encode("utf-8")) for key in keys]
    return any(matches)


def check_write_access(given: str | None, settings: Settings) -> None:
    """Allow a write only with a configured key: none given is 401, a wrong one (or none configured) is 403."""
    if not given:
        raise ApiError(401, "api_key_required", headers={"WWW-Authenticate": 'Bearer realm="pedkb"'})
    if not settings.api_keys:
        raise ApiError(403, "writes_disabled")
    if not key_is_valid(given, settings.api_keys):
        raise ApiError(403, "api_key_invalid")


def given_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer`."""
    if x_api_key:
        return x_api_key
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def require_writer(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> None:
    """Write access (documented in OpenAPI as the two security schemes)."""
    check_write_access(x_api_key or (credentials.credentials if credentials else None), settings)


WriterDep = Depends(require_writer)


class GuardedRoute(APIRoute):
    """A route that checks write access before FastAPI reads the body, so a refused write reads nothing."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The normal handler, preceded by the key check on routes that depend on `require_writer`."""
        handler = super().get_route_handler()
        if not any(dep.call is require_writer for dep in self.dependant.dependencies):
            return handler

        async def guarded(request: Request) -> Response:
            key = given_key(request.headers.get("x-api-key"), request.headers.get("authorization"))
            check_write_access(key, request.app.state.settings)
            return await handler(request)

        return guarded
