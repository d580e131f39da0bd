"""Request dependencies as Annotated aliases: knowledge base, settings, warm-up, write access and rate limits."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from index.knowledge_base import KnowledgeBase
from index.searchlog import SearchLog
from pedkb.settings import Settings
from search_api.errors import ApiError
from search_api.ratelimit import RateLimits
from search_api.schemas import ErrorResponse
from search_api.uploads import Uploader
from search_api.warmup import Warmup

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="A key from PEDKB_API_KEYS; needed to upload, create, update, delete.")
bearer = HTTPBearer(auto_error=False, description="The same key as `Authorization: Bearer <key>`.")


async def get_kb(request: Request) -> KnowledgeBase:
    """The application's knowledge base."""
    return request.app.state.kb


async def get_settings(request: Request) -> Settings:
    """The application's settings."""
    return request.app.state.settings


async def get_uploader(request: Request) -> Uploader:
    """The application's upload store."""
    return request.app.state.uploader


async def get_warmup(request: Request) -> Warmup:
    """The state of the model warm-up started at start-up."""
    return request.app.state.warmup


async def get_search_log(request: Request) -> SearchLog:
    """The application's search log (docs/analytics.md)."""
    return request.app.state.search_log


async def wait_until_ready(warmup: Annotated[Warmup, Depends(get_warmup)]) -> None:
    """A search sent to a worker still loading its model (the others of `serve --workers N` may be ready, so
    the page's readiness check passed) waits READY_WAIT_S at most, then is answered 503 starting with
    Retry-After, for the client to send it again, instead of hanging for the whole model load. A ready worker
    answers at once on the event loop; only the wait goes to a thread."""
    if warmup.is_ready() or await run_in_threadpool(warmup.wait):
        return
    if warmup.error is not None:
        raise ApiError(503, "not_ready", reason=warmup.error)
    raise ApiError(503, "starting", headers={"Retry-After": "1"})


KbDep = Annotated[KnowledgeBase, Depends(get_kb)]
SearchLogDep = Annotated[SearchLog, Depends(get_search_log)]
WarmupDep = Annotated[Warmup, Depends(get_warmup)]
ReadyDep = Depends(wait_until_ready)
STARTING: dict[int | str, dict[str, object]] = {503: {
    "description": "this worker is still loading the model (starting, with Retry-After) or failed to load it"}}
SettingsDep = Annotated[Settings, Depends(get_settings)]
UploaderDep = Annotated[Uploader, Depends(get_uploader)]


def key_is_valid(given: str, keys: list[str]) -> bool:
    """Compare a key with every configured key in constant time."""
    given_bytes = given.encode("utf-8", "replace")
    matches = [hmac.compare_digest(given_bytes, key.encode("utf-8")) for key in keys]
    return any(matches)


def check_write_access(request: Request, given: str | None) -> None:
    """Allow a write only with a configured key: none given is 401, a wrong one (or none configured) is 403.

    Wrong keys count against the client address's `rate_limit_key_failures`; past it the answer is 429.
    """
    settings: Settings = request.app.state.settings
    if not given:
        raise ApiError(401, "api_key_required", headers={"WWW-Authenticate": 'Bearer realm="pedkb"'})
    if not settings.api_keys:
        raise ApiError(403, "writes_disabled")
    if not key_is_valid(given, settings.api_keys):
        request.app.state.rate_limits.check("key_failures", client_address(request))
        raise ApiError(403, "api_key_invalid")


def client_address(request: Request) -> str:
    """The client's IP address as the server sees it (behind a proxy: run uvicorn with --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def given_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer`."""
    if x_api_key:
        return x_api_key
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def require_writer(
    request: Request,
    x_api_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> None:
    """Write access (documented in OpenAPI as the two security schemes)."""
    check_write_access(request, x_api_key or (credentials.credentials if credentials else None))


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
            check_write_access(request, key)
            return await handler(request)

        return guarded


def rate_limited(scope: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency counting a request against the `scope` limits of its valid key, or else of its address."""

    async def count(request: Request) -> None:
        # On the event loop: the counts are in memory, and `ratelimit.WindowStorage` starts no thread (the limits
        # library's own store started a timer thread per request, whose start waited for the GIL on the loop).
        limits: RateLimits = request.app.state.rate_limits
        key = given_key(request.headers.get("x-api-key"), request.headers.get("authorization"))
        keys = request.app.state.settings.api_keys
        limits.check(scope, client_address(request), key if key and key_is_valid(key, keys) else None)

    return count


SearchLimit = Depends(rate_limited("search"))
AnalysisLimit = Depends(rate_limited("analysis"))
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "too many requests from this address or key; see Retry-After"},
}
