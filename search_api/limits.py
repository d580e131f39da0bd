"""Request body limits, enforced while the body streams in (a declared or a chunked body alike), and body types."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, params
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute
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


class UnsupportedBody(HTTPException):
    """Raised from `receive` when a JSON route is sent another content type; the error handlers answer 415."""

    def __init__(self, got: str) -> None:
        super().__init__(status_code=415, detail="unsupported content type")
        self.values = {"got": got, "expected": "application/json"}


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


def is_json_type(content_type: str) -> bool:
    """Whether a Content-Type names JSON (`application/json`, `application/<x>+json`, any parameters)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def reads_json_body(route: BaseRoute | None) -> bool:
    """Whether a route declares a JSON body (a pydantic body, not a form)."""
    body = route.body_field if isinstance(route, APIRoute) else None
    return body is not None and not isinstance(body.field_info, params.Form)


class JsonBodyMiddleware:
    """Answer 415 when a route that reads a JSON body is sent another type (or a body with no type).

    The check runs when the route first asks for the body, once routing has chosen the route, and reads nothing;
    the answer names the type sent and never repeats the body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        sent = headers.get(b"content-type", b"").decode("latin-1")
        has_body = headers.get(b"content-length", b"0").strip() not in (b"", b"0") or b"transfer-encoding" in headers
        if scope["type"] != "http" or is_json_type(sent) or not (sent or has_body):
            await self.app(scope, receive, send)
            return

        async def checked_receive() -> Message:
            if reads_json_body(scope.get("route")):
                raise UnsupportedBody(sent.split(";", 1)[0].strip()[:80] or "none")
            return await receive()

        await self.app(scope, checked_receive, send)
