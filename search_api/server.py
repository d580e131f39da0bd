"""Serving under uvicorn: the HTTP/1.1 protocol answers requests it cannot parse with the API's JSON errors."""

from __future__ import annotations

import json
import os

import h11
import uvicorn
from fastapi import FastAPI
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

from pedkb.settings import Settings
from search_api.app import create_app
from search_api.i18n import message
from search_api.limits import human_size

PROTOCOL = "search_api.server:JsonErrorH11Protocol"  # for `uvicorn --http`
LINGER_SECONDS = 2.0  # how long a refused client may go on sending before the connection is closed
LINGER_BYTES = 4 << 20  # or how much


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol; a request it refuses gets `{"error", "detail"}` instead of plain text.

    A request line longer than the head limit is 414 `uri_too_long`, longer headers 431 `headers_too_large`,
    anything else unparseable 400 `bad_request`. The head limit is uvicorn's `h11_max_incomplete_event_size`
    (16 KB by default). The connection is then closed gently: closing it at once while the client still sends the
    rest of a long request resets it, and the client loses the answer.
    """

    lingering = False
    discarded = 0

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does; after a refusal, discard what the client still sends."""
        if not self.lingering:
            super().data_received(data)
            return
        self.discarded += len(data)
        if self.discarded > LINGER_BYTES:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """Answer an unparseable request in the API's error shape (English: its headers were not read)."""
        status, kind, values = self._refusal(msg)
        body = json.dumps({"error": kind, "detail": message(kind, "en", **values)}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-language", b"en"), (b"connection", b"close")]
        for event in (h11.Response(status_code=status, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event) or b"")
        self.lingering = True  # stop sending, read on until the client closes or the linger ends
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _refusal(self, msg: str) -> tuple[int, str, dict[str, object]]:
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        pending = self.conn.trailing_data[0]
        if len(pending) > limit:
            shown = human_size(limit)
            if b"\r\n" not in pending[:limit]:  # the request line alone passes the limit
                return 414, "uri_too_long", {"limit": shown}
            return 431, "headers_too_large", {"limit": shown}
        return 400, "bad_request", {"reason": msg.rstrip(".").lower()}


SETTINGS_ENV = "PEDKB_SERVE_SETTINGS"  # the settings `serve` hands to its worker processes (JSON)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Run the API and the web page under uvicorn with the JSON-error protocol, in `workers` processes.

    Workers share nothing but the data folder: each opens the store and loads the model. Writes are serialised
    across processes by the store's writer lock; a worker sees the others' writes at its next search (the
    embedded backend brings its index up to the store's generation before searching).
    """
    if workers < 1:
        raise ValueError("workers: must be at least 1")
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, http=JsonErrorH11Protocol, log_level="info")
        return
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run("search_api.server:worker_app", factory=True, host=host, port=port, workers=workers,
                http=JsonErrorH11Protocol, log_level="info")


def worker_app() -> FastAPI:
    """The app of one worker process, with the settings `serve` was given."""
    return create_app(Settings.model_validate_json(os.environ[SETTINGS_ENV]))
