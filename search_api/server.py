"""Serving under uvicorn: the HTTP/1.1 protocol (httptools' C parser) answers requests it cannot parse with the
API's JSON errors and refuses request heads over HEAD_LIMIT_BYTES."""

from __future__ import annotations

import json
import os
import sys

import httptools
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from pedkb.settings import Settings
from search_api.app import create_app
from search_api.i18n import message
from search_api.limits import human_size

PROTOCOL = "search_api.server:JsonErrorProtocol"  # for `uvicorn --http`
HEAD_LIMIT_BYTES = 16 << 10  # a request line, or a request line and headers, longer than this are refused
LINGER_SECONDS = 2.0  # how long a refused client may go on sending before the connection is closed
LINGER_BYTES = 4 << 20  # or how much


class HeadTooLargeError(Exception):
    """Raised in a parser callback: the head passed HEAD_LIMIT_BYTES (the parser then stops with an error)."""


class JsonErrorProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a request it refuses gets `{"error", "detail"}` instead of plain text.

    llhttp sets no limit on a request's head, so one is counted here as the URL and the headers arrive: a request
    line longer than HEAD_LIMIT_BYTES is 414 `uri_too_long`, longer headers 431 `headers_too_large`, anything
    the parser refuses 400 `bad_request`. The connection is then closed gently: closing it at once while the
    client still sends the rest of a long request resets it, and the client loses the answer.
    """

    lingering = False
    discarded = 0
    in_head = False  # a request's head has begun and is not complete
    messages = 0  # requests begun on this connection
    head_bytes = 0  # of the head being parsed: its URL and the headers read whole
    head_pending = 0  # of the head being parsed: the bytes of whole reads that did not complete it
    refusal: tuple[int, str, dict[str, object]] | None = None

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does; after a refusal, discard what the client still sends.

        httptools hands a header over only once its value is whole, so a head still incomplete after a read is
        also counted by the read: a client sending one endless header is refused once it passes the limit.
        """
        if self.lingering:
            self.discarded += len(data)
            if self.discarded > LINGER_BYTES:
                self.transport.close()
            return
        began, messages = self.in_head, self.messages
        super().data_received(data)
        if began and self.in_head and messages == self.messages and not self.lingering:
            self.head_pending += len(data)
            if self.head_pending > HEAD_LIMIT_BYTES:
                self.refusal = _head_refusal(431, "headers_too_large")
                self.send_400_response("headers too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.messages += 1
        self.in_head = True
        self.head_bytes = self.head_pending = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 414, "uri_too_long")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 431, "headers_too_large")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()

    def _count(self, size: int, status: int, kind: str) -> None:
        self.head_bytes += size
        if self.head_bytes > HEAD_LIMIT_BYTES:
            self.refusal = _head_refusal(status, kind)
            raise HeadTooLargeError(kind)

    def send_400_response(self, msg: str) -> None:
        """Answer a refused request in the API's error shape (English: its headers were not read). uvicorn calls
        this while it handles the parser's error, which names what was wrong."""
        status, kind, values = self.refusal or (400, "bad_request", {"reason": _parser_reason(msg)})
        body = json.dumps({"error": kind, "detail": message(kind, "en", **values)}).encode()
        self.transport.write(b"".join([
            STATUS_LINE[status], b"content-type: application/json\r\n", b"content-language: en\r\n",
            b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n", body]))
        self.lingering = True  # stop sending, read on until the client closes or the linger ends
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _head_refusal(status: int, kind: str) -> tuple[int, str, dict[str, object]]:
    return status, kind, {"limit": human_size(HEAD_LIMIT_BYTES)}


def _parser_reason(fallback: str) -> str:
    """The parser's own words for the error being handled ("invalid header token"), else uvicorn's message."""
    error = sys.exc_info()[1]
    if isinstance(error, httptools.HttpParserError) and str(error):
        return str(error).rstrip(".").lower()
    return fallback.rstrip(".").lower()


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
        uvicorn.run(create_app(settings), host=host, port=port, http=JsonErrorProtocol, log_level="info")
        return
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run("search_api.server:worker_app", factory=True, host=host, port=port, workers=workers,
                http=JsonErrorProtocol, log_level="info")


def worker_app() -> FastAPI:
    """The app of one worker process, with the settings `serve` was given."""
    return create_app(Settings.model_validate_json(os.environ[SETTINGS_ENV]))
