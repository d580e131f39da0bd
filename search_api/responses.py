"""JSON responses: the app's default class, and a model sent as it without FastAPI's response round trip."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class SafeJSONResponse(JSONResponse):
    """JSON as UTF-8; text that cannot be UTF-8 (an unpaired surrogate) is escaped instead of failing."""

    def render(self, content: Any) -> bytes:
        """Compact UTF-8 JSON, falling back to ASCII escapes."""
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def model_response(model: BaseModel) -> SafeJSONResponse:
    """A model as the JSON FastAPI would send for a route declaring its class as `response_model` (the same
    dump, the same bytes). A sync route returning the model itself has FastAPI check it again on a worker thread,
    a second thread hop per request; a model built by its own constructors needs no second check."""
    return SafeJSONResponse(model.model_dump(mode="json", by_alias=True))
