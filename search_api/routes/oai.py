"""The OAI-PMH 2.0 endpoint at /oai (GET, or POST with a form body), outside the versioned JSON API."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response

from search_api.deps import KbDep, SettingsDep
from search_api.oai.protocol import Provider

router = APIRouter(tags=["harvesting"], include_in_schema=False)  # a protocol of its own: docs/harvesting.md
XML = "text/xml; charset=utf-8"


def _answer(request: Request, kb: KbDep, settings: SettingsDep, args: dict[str, list[str]]) -> Response:
    site = str(request.base_url)
    provider = Provider(kb, settings, f"{site.rstrip('/')}/oai", site)
    return Response(provider.respond(args), media_type=XML)


@router.get("/oai", response_class=Response, responses={200: {"content": {"text/xml": {}}}})
def oai_get(request: Request, kb: KbDep, settings: SettingsDep) -> Response:
    """OAI-PMH 2.0: Identify, ListMetadataFormats, ListSets, ListIdentifiers, ListRecords, GetRecord (oai_dc;
    sets type:, lang:, tech:; resumption tokens; deleted records). Errors are OAI error codes inside a 200."""
    return _answer(request, kb, settings, parse_qs(request.url.query, keep_blank_values=True))


@router.post("/oai", response_class=Response, responses={200: {"content": {"text/xml": {}}}})
async def oai_post(request: Request, kb: KbDep, settings: SettingsDep) -> Response:
    """The same request as a form body (application/x-www-form-urlencoded)."""
    body = (await request.body()).decode("utf-8", "replace")
    return _answer(request, kb, settings, parse_qs(body, keep_blank_values=True))
