"""The OpenAPI schema, completed with what the models cannot know: configured limits, vocabulary ids, errors.

The request models carry only hard ceilings and id patterns; here the schema gets the configured limits, the ids
the vocabulary knows (so `/docs` offers them and a schema-valid request is a valid one), and one error shape for
every 4xx answer in place of FastAPI's default validation error.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from pedkb.settings import Settings
from search_api.routes import API_PREFIX

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
LIMITED_BODIES = ("SearchQuery", "TextQuery", "SimilarQuery", "ClassifyQuery")
FILTER_PARAMS = ("technology", "group", "region", "subject", "experience_kind", "stage")


def build_openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The app's OpenAPI schema with limits, vocabulary enums and the error shape filled in (cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)
    _limits(schema, settings)
    kb = getattr(app.state, "kb", None)
    ids = _vocabulary_ids(kb) if kb is not None else {}
    if ids:
        _enums(schema, ids)
    _errors(schema)
    _upload(schema, settings)
    app.openapi_schema = schema
    return schema


def _limits(schema: dict[str, Any], settings: Settings) -> None:
    bounds = {"k": ("maximum", settings.max_k), "offset": ("maximum", settings.max_offset),
              "q": ("maxLength", settings.max_query_chars), "text": ("maxLength", settings.max_text_chars)}
    for path, operations in schema.get("paths", {}).items():
        if path != f"{API_PREFIX}/search" and not path.endswith("/similar"):
            continue
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param.get("in") == "query" and param.get("name") in bounds:
                    key, value = bounds[param["name"]]
                    param["schema"][key] = min(param["schema"].get(key, value), value)
    components = schema.get("components", {}).get("schemas", {})
    for name in LIMITED_BODIES:
        for prop, spec in components.get(name, {}).get("properties", {}).items():
            if prop in bounds:
                key, value = bounds[prop]
                spec[key] = min(spec.get(key, value), value)


def _vocabulary_ids(kb: Any) -> dict[str, list[str]]:
    """Known ids per filter name; empty when the knowledge base has no vocabulary."""
    vocabulary = kb.vocabulary
    if not vocabulary.technologies:
        return {}
    kinds = {c.id: sorted(c.ids()) for c in vocabulary.classifications.classifications}
    return {
        "technology": sorted(vocabulary.technologies), "group": list(vocabulary.groups),
        "region": sorted(vocabulary.regions), "subject": sorted(vocabulary.subjects),
        "experience_kind": kinds.get("experience_kind", []), "stage": kinds.get("stage", []),
        "dissemination": kinds.get("dissemination", []),
        **{kind: kinds.get(kind, []) for kind in ("scale", "significance", "origin", "novelty")},
    }


def _enum(spec: dict[str, Any], values: list[str]) -> None:
    if values:
        spec.pop("pattern", None)
        spec["enum"] = values


def _enums(schema: dict[str, Any], ids: dict[str, list[str]]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param.get("in") == "query" and param.get("name") in FILTER_PARAMS:
                    _enum(param["schema"].get("items", param["schema"]), ids[param["name"]])
    components = schema.get("components", {}).get("schemas", {})
    for name, model in components.items():
        props = model.get("properties", {})
        if name in LIMITED_BODIES or name == "Filters":
            for prop in FILTER_PARAMS:
                if prop in props:
                    _enum(props[prop].get("items", props[prop]), ids[prop])
        if name.split("-")[0] in ("Experience", "ExperienceIn", "ExperienceUpdate"):
            _not_blank(props)
            for prop in ("region", "subject", "experience_kind", "stage"):
                _enum(props[prop].get("anyOf", [props[prop]])[0], ids[prop])
            for prop, vocab in (("technologies", "technology"), ("dissemination", "dissemination")):
                _enum(props[prop]["items"], ids[vocab])
                props[prop]["uniqueItems"] = True
            props["grades"]["uniqueItems"] = True
        if name == "Innovation":
            for prop in ("scale", "significance", "origin", "novelty"):
                _enum(props[prop], ids[prop])


def _not_blank(props: dict[str, Any]) -> None:
    """Texts the model strips and requires non-empty must have a non-space character."""
    for spec in props.values():
        for target in (spec, spec.get("items", {})):
            if target.get("type") == "string" and target.get("minLength") == 1 and "pattern" not in target:
                target["pattern"] = r"\S"


def _errors(schema: dict[str, Any]) -> None:
    error = {"description": "the request was refused; see `error` and `detail`",
             "content": {"application/json": {"schema": ERROR_REF}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith("4"):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
            responses.setdefault("4XX", error)
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def _upload(schema: dict[str, Any], settings: Settings) -> None:
    operation = schema.get("paths", {}).get(f"{API_PREFIX}/documents", {}).get("post")
    if operation is None:
        return
    files = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["files"]
    files["minItems"] = 1
    files["maxItems"] = settings.max_upload_files
    get = schema["paths"].get(f"{API_PREFIX}/documents/{{doc_id}}", {}).get("get")
    if get is not None:
        operation["responses"]["200"]["links"] = {"FirstDocument": {
            "operationId": get["operationId"], "parameters": {"doc_id": "$response.body#/files/0/doc_id"},
            "description": "the document made from the first file (when that file was ingested)"}}
