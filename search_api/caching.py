"""Compression and HTTP caching: gzip, ETags answered with 304, and Cache-Control a portal's CDN can act on.

Catalogue reads (the technology tree, one technology) may be kept five minutes by any cache. Items (an experience, a
document) carry `no-cache` with an ETag, so an edit shows at once while an unchanged item costs a 304. Their ETag is
a hash of the bytes sent, taken after gzip, so the plain and the compressed answer each have their own strong ETag.
Files with an ETag of their own (the page, its scripts, the docs' assets) are answered 304 on a match as well.
Writes are `no-store`; a read sent with an API key is `private`.
"""

from __future__ import annotations

import hashlib

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.routes import API_PREFIX

GZIP_MIN_BYTES = 1024
# zlib's fastest level (nginx's default): a 23 KB page of 10 results is 4.3 KB in 0.11 ms, at level 6 3.5 KB in
# 0.30 ms (docs/benchmarks.md, session 16)
GZIP_LEVEL = 1
CATALOGUE = "public, max-age=300"
ITEM = "no-cache"
KEYED_READ = "private, no-cache"
WRITE = "no-store"
# Route templates of the API (as declared on the resource routers, below API_PREFIX) whose 200 answers get a body
# ETag and this Cache-Control.
CACHED_ROUTES = {
    "/technologies": CATALOGUE,
    "/technologies/{tech_id}": CATALOGUE,
    "/experiences/{exp_id}": ITEM,
    "/documents/{doc_id}": ITEM,
}
# What a 304 keeps of the 200 it stands for (RFC 9110, 15.4.5).
NOT_MODIFIED_KEEPS = ("cache-control", "content-location", "etag", "expires", "last-modified", "vary")
KEY_HEADERS = ("authorization", "x-api-key")


def body_etag(body: bytes) -> str:
    """A strong ETag for exactly these bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names `etag` (the weak comparison RFC 9110 asks for here)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return etag.removeprefix("W/") in (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))


class HttpCachingMiddleware:
    """ETags and 304 for selected GET routes and for files, Cache-Control by route, `no-store` on writes."""

    def __init__(self, app: ASGIApp, routes: dict[str, str] | None = None) -> None:
        self.app = app
        self.routes = CACHED_ROUTES if routes is None else routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, _ConditionalSend(send, scope, self.routes))
        else:
            await self.app(scope, receive, _write_send(send))


def _write_send(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            MutableHeaders(scope=message).setdefault("cache-control", WRITE)
        await send(message)

    return wrapped


class _ConditionalSend:
    """The send side of one GET or HEAD: buffers a selected route's answer to hash it, turns a match into a 304."""

    def __init__(self, send: Send, scope: Scope, routes: dict[str, str]) -> None:
        self.send = send
        self.scope = scope
        self.routes = routes
        request = Headers(scope=scope)
        self.if_none_match = request.get("if-none-match")
        self.keyed = any(name in request for name in KEY_HEADERS)
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.mode = "pass"  # "pass" through, "hash" the buffered body, or "drop" the body after a 304

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body" and self.mode == "hash":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish_hashed()
        elif message["type"] == "http.response.body" and self.mode == "drop":
            if not message.get("more_body", False):
                await self.send({"type": "http.response.body", "body": b""})
        else:
            await self.send(message)

    def _cache_control(self) -> str | None:
        route = self.scope.get("route")
        if self.scope["method"] != "GET" or not isinstance(route, APIRoute):
            return None
        if not self.scope["path"].startswith(API_PREFIX + "/"):
            return None
        return self.routes.get(route.path.removeprefix(API_PREFIX))

    async def _start(self, message: Message) -> None:
        message.setdefault("headers", [])
        headers = MutableHeaders(scope=message)
        cache_control = self._cache_control() if message["status"] == 200 else None
        if cache_control is not None:
            headers["cache-control"] = KEYED_READ if self.keyed else cache_control
            self.start, self.mode = message, "hash"
        elif message["status"] == 200 and "etag" in headers and etag_matches(self.if_none_match, headers["etag"]):
            self.mode = "drop"
            await self.send(_not_modified(message))
        else:
            await self.send(message)

    async def _finish_hashed(self) -> None:
        assert self.start is not None
        body = b"".join(self.chunks)
        headers = MutableHeaders(scope=self.start)
        headers["etag"] = body_etag(body)
        if etag_matches(self.if_none_match, headers["etag"]):
            await self.send(_not_modified(self.start))
            body = b""
        else:
            await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body})


def _not_modified(start: Message) -> Message:
    kept = [(k, v) for k, v in start["headers"] if k.decode("latin-1").lower() in NOT_MODIFIED_KEEPS]
    return {"type": "http.response.start", "status": 304, "headers": kept}


def install_http_caching(app: FastAPI) -> None:
    """Gzip answers from 1 KB, with the caching middleware around it (call before adding CORS, which goes outside)."""
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
    app.add_middleware(HttpCachingMiddleware)
