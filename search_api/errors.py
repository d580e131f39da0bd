"""Every error the API answers with is one JSON shape, {"error", "detail", "field"?, "problems"?}, `detail` localised.

A 422 about a request or record also carries `problems`: every wrong field found at once, each
{"field", "error", "detail"}; the top-level fields are the first problem's (what clients read before the list).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pedkb import errors as pedkb_errors
from pedkb.settings import Settings
from search_api.i18n import message, pick_language
from search_api.routes import API_PREFIX

log = logging.getLogger(__name__)

_PYDANTIC_KINDS = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "string_too_short": "empty_value",
    "too_short": "empty_value",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "greater_than_equal": "too_small",
    "greater_than": "too_small",
    "less_than_equal": "too_large",
    "less_than": "too_large",
    "json_invalid": "invalid_json",
    "string_pattern_mismatch": "invalid_value",
}
NOT_BLANK = r"\S"  # the pattern of texts that must not be blank (schemas.NOT_BLANK)
_HTTP_KINDS = {400: "bad_request", 404: "route_not_found", 405: "method_not_allowed", 413: "body_too_large",
               415: "unsupported_media_type"}
QUERY_FIELDS = ("q", "text")  # fields whose length limit is reported as "query too long"
_PEDKB_ERRORS: tuple[tuple[type[pedkb_errors.PedkbError], int, str], ...] = (
    (pedkb_errors.NotFoundError, 404, "not_found"), (pedkb_errors.ConflictError, 409, "conflict"),
    (pedkb_errors.ReadError, 422, "input_error"), (pedkb_errors.InputError, 422, "input_error"),
    (pedkb_errors.ModelError, 503, "model_unavailable"), (pedkb_errors.StoreError, 503, "store_unavailable"),
)
_FOLDERS = re.compile(r"(?<![\w.:/~])/(?:[^\s/:'\"()]+/)+")  # the folders of an absolute path (not of a URL)


class ApiError(Exception):
    """An answer other than success: HTTP status, error kind (a key of the message catalogue), values, field."""

    def __init__(self, status: int, kind: str, *, field: str | None = None,
                 headers: Mapping[str, str] | None = None, problems: Sequence[ApiError] = (),
                 **values: object) -> None:
        self.status = status
        self.kind = kind
        self.field = field
        self.headers = dict(headers or {})
        self.values = {"field": field, **values}
        self.problems = list(problems)
        super().__init__(message(kind, **self.values))

    def body(self, lang: str, *, listed: bool = True) -> dict[str, object]:
        """The JSON body in `lang`: error, detail, field (when known) and, on a 422 naming a field, `problems`
        (every wrong field; the error itself when it is the only one)."""
        body: dict[str, object] = {"error": self.kind, "detail": message(self.kind, lang, **self.values)}
        if self.field is not None:
            body["field"] = self.field
        if listed and (self.problems or (self.status == 422 and self.field is not None)):
            body["problems"] = [problem.body(lang, listed=False) for problem in self.problems or [self]]
        return body


BodyCheck = Callable[[Request, Any], Sequence[pedkb_errors.Problem]]
_BODY_CHECKS: dict[Callable[..., Any], BodyCheck] = {}


def checks_body(check: BodyCheck) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare on an endpoint the full check of its raw JSON body, run when the schema refuses the body, so that
    the answer lists every problem at once (the schema's and, say, unknown vocabulary ids)."""
    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        _BODY_CHECKS[endpoint] = check
        return endpoint

    return register


def error_response(request: Request, error: ApiError) -> JSONResponse:
    """The JSON body of an error, in the language the client asked for."""
    lang = pick_language(request.headers.get("accept-language"))
    body = error.body(lang)
    headers = {"Content-Language": lang, "Vary": "Accept-Language", **error.headers}
    return JSONResponse(body, status_code=error.status, headers=headers)


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic location without its source (`query`, `body`) as `filters.lang[0]`."""
    parts = list(loc[1:]) if loc and loc[0] in ("query", "body", "path", "header", "cookie") else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or (str(loc[0]) if loc else "request")


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def from_validation(first: Mapping[str, Any], limits: Mapping[str, int] | None = None) -> ApiError:
    """The first problem pydantic found in a request, as an ApiError naming the field.

    `limits` are the configured limits of some fields, reported instead of the schema's hard ceilings.
    """
    field = field_path(first.get("loc", ()))
    kind = _PYDANTIC_KINDS.get(str(first.get("type")), "invalid_value")
    ctx = first.get("ctx") or {}
    value = first.get("input")
    configured = (limits or {}).get(field)
    if kind == "too_long":
        limit = min(ctx.get("max_length") or configured or 0, configured or ctx.get("max_length") or 0)
        if field in QUERY_FIELDS and isinstance(value, str):
            return ApiError(422, "query_too_long", field=field, length=len(value), limit=limit)
        return ApiError(422, "too_long", field=field, limit=limit)
    if kind in ("too_small", "too_large"):
        limit = next((ctx[key] for key in ("ge", "gt", "le", "lt") if key in ctx), "?")
        if kind == "too_large" and configured is not None and isinstance(limit, int | float):
            limit = min(limit, configured)
        return ApiError(422, kind, field=field, limit=limit, value=_short(value))
    if first.get("type") == "string_pattern_mismatch" and (ctx.get("pattern") == NOT_BLANK or value == ""):
        return ApiError(422, "empty_value", field=field)
    if kind == "invalid_json":
        return ApiError(422, kind, field="body", reason=str(ctx.get("error") or first.get("msg")))
    reason = str(first.get("msg", "invalid"))
    if kind == "invalid_value" and value is not None and not isinstance(value, dict | list):
        reason += f" (got {_short(value)!r})"
    return ApiError(422, kind, field=field, reason=reason)


def hide_paths(text: str, settings: Settings | None) -> str:
    """A message without the server's folders: the data folder shown as DATA, other absolute folders as `…/`
    (no settings: the text as it is, for the command line, whose user owns the folders)."""
    if settings is None:
        return text
    for folder, label in ((settings.data, "DATA"), (settings.model_cache, "MODELS"), (settings.corpus, "CORPUS")):
        for form in sorted({str(Path(folder).resolve()), str(Path(folder).absolute())}, key=len, reverse=True):
            text = text.replace(form, label)
    return _FOLDERS.sub("…/", text)


_PROBLEM_KINDS = {"too_small", "too_large", "unknown_value", "invalid_id", "missing_field", "unknown_field",
                  "empty_value"}  # kinds of pedkb.errors.Problem the catalogue translates


def from_problem(problem: pedkb_errors.Problem, settings: Settings | None) -> ApiError:
    """One wrong field as an ApiError: a translated message where the catalogue has its kind, else the English
    reason inside the translated "invalid value" sentence."""
    if problem.kind in _PROBLEM_KINDS:
        return ApiError(422, problem.kind, field=problem.field, limit=_short(problem.values.get("limit", "?")),
                        value=_short(problem.values.get("value", "?")))
    return ApiError(422, "invalid_value", field=problem.field, reason=hide_paths(problem.reason, settings))


def from_pedkb(exc: pedkb_errors.PedkbError, settings: Settings | None) -> ApiError:
    """A pedkb error as an ApiError: its English detail, without server paths, inside a translated sentence."""
    if isinstance(exc, pedkb_errors.ValidationError):
        field = exc.field.rsplit(": ", 1)[-1]
        field = "q" if field == "query" else field
        problems = [from_problem(replace(p, field=p.field.rsplit(": ", 1)[-1]), settings) for p in exc.problems]
        if len(problems) == 1 and problems[0].kind == "invalid_value":
            problems[0].field = field
        return ApiError(422, "invalid_value", field=field, reason=hide_paths(exc.reason, settings), problems=problems)
    reason = hide_paths(exc.reason if isinstance(exc, pedkb_errors.ReadError) else str(exc), settings)
    for kind, status, name in _PEDKB_ERRORS:  # ReadError before InputError, its parent
        if isinstance(exc, kind):
            return ApiError(status, name, reason=reason)
    return ApiError(500, "internal_error")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at the request's path (for the Allow header of a 405)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Map ApiError, pedkb errors, request validation, HTTP errors and anything unexpected to the one shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(pedkb_errors.PedkbError)
    async def pedkb_error(request: Request, exc: pedkb_errors.PedkbError) -> JSONResponse:
        error = from_pedkb(exc, request.app.state.settings)
        if error.status >= 500:
            log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        return error_response(request, error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        first = problems[0] if problems else {"loc": ("request",), "msg": "invalid request"}
        settings = request.app.state.settings
        path = request.url.path
        limited = path == f"{API_PREFIX}/search" or path.endswith(("/similar", "/classify"))
        limits = {"k": settings.max_k, "offset": settings.max_offset, "q": settings.max_query_chars,
                  "text": settings.max_text_chars} if limited else None
        listed = [from_validation(problem, limits) for problem in problems]
        check = _BODY_CHECKS.get(request.scope.get("endpoint"))  # type: ignore[arg-type]
        if check is not None and isinstance(exc.body, dict):
            found = [from_problem(p, settings) for p in check(request, exc.body)]
            named = {p.field for p in found}
            listed = found + [p for p in listed if p.field not in named]
        error = listed[0] if listed else from_validation(first, limits)  # the top level is the first listed
        error.problems = listed
        return error_response(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_KINDS.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        values = {"limit": getattr(exc, "limit", "?"), "got": "?", "expected": "?", **getattr(exc, "values", {})}
        error = ApiError(exc.status_code, kind, headers=headers, reason=exc.detail, path=request.url.path,
                         method=request.method, **values)
        return error_response(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, ApiError(500, "internal_error"))
