"""Request body limits, enforced while the body streams in (a declared or a chunked body alike)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.errors import ApiError, error_response


def human_size(n_bytes: int) -> str:
    """A byte count as `256 KB` or `100 MB`."""
    if n_bytes >= 1 << 20:
        return f"{n_bytes / (1 << 20):g} MB"
    return f"{n_bytes / 1024:g} KB"


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when the body passes its limit; the error handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail="request body too large")
        self.limit = human_size(limit)


class BodyLimitMiddleware:
    """Refuse bodies over the limit that `limit_for(scope)` gives: at once by Content-Length, else when passed."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            error = (ApiError(413, "body_too_large", limit=human_size(limit)) if declared.strip().isdigit()
                     else ApiError(400, "bad_request", reason="Content-Length is not a number"))
            await error_response(Request(scope), error)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # escaped the app's handlers (e.g. read outside a route)
            if started:
                raise
            error = ApiError(413, "body_too_large", limit=exc.limit)
            await error_response(Request(scope), error)(scope, receive, send)
