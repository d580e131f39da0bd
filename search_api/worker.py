"""Which worker process answered: `X-Pedkb-Worker`, a random token per process (never its pid), on every answer.

With `serve --workers N` the processes share the port; the header lets an operator (and the tests) see which one
answered, e.g. a slow answer from a worker still warming up.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_HEADER = "X-Pedkb-Worker"
WORKER_ID = uuid.uuid4().hex[:12]  # drawn once per process; a forked worker imports afresh (spawn)


class WorkerHeaderMiddleware:
    """Add `X-Pedkb-Worker: <token>` to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (WORKER_HEADER.lower().encode(), WORKER_ID.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)
