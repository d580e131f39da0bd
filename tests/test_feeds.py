"""Atom feeds of new and updated experiences on every backend: valid Atom (feedparser and strict XML checks),
newest first, filtered by technology, region and language, linking to the experience's page."""

from __future__ import annotations

import re
import time

import feedparser
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from index.knowledge_base import KnowledgeBase
from index.records import SearchFilters
from search_api.app import create_app
from tests.conftest import REPO

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def client(kb: KnowledgeBase) -> TestClient:
    kb.bank.load_corpus(REPO / "corpus")
    return TestClient(create_app(kb.settings, kb=kb), raise_server_exceptions=False)


def feed(client: TestClient, **params: str) -> tuple[etree._Element, feedparser.FeedParserDict]:
    response = client.get("/feeds/experiences.atom", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(response.content)
    strict_atom(root)
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return root, parsed


def strict_atom(root: etree._Element) -> None:
    """RFC 4287's must-haves: feed id, title, updated, an author (feed or every entry); per entry id, title,
    updated, an alternate link; dates in RFC 3339; ids unique."""
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert RFC3339.match(root.findtext(f"{ATOM}updated") or "")
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert RFC3339.match(entry.findtext(f"{ATOM}updated") or "")
        assert entry.find(f"{ATOM}link[@rel='alternate'][@type='text/html']") is not None
        ids.append(entry.findtext(f"{ATOM}id"))
    assert len(ids) == len(set(ids))


def ids_of(parsed: feedparser.FeedParserDict) -> list[str]:
    return [e.link.rsplit("/", 1)[1] for e in parsed.entries]


def test_the_whole_feed_is_newest_first_with_links(client: TestClient, kb: KnowledgeBase) -> None:
    time.sleep(1.1)  # the change below gets a later second than the load
    record = kb.bank.get("exp-ky-010").model_dump(mode="json")
    kb.bank.update("exp-ky-010", {**record, "summary": record["summary"] + " Жаңыртылды."})
    _, parsed = feed(client, limit="200")
    assert len(parsed.entries) == kb.bank.count() == 72
    assert ids_of(parsed)[0] == "exp-ky-010"
    stamps = [e.updated_parsed for e in parsed.entries]
    assert stamps == sorted(stamps, reverse=True)
    first = parsed.entries[0]
    assert first.link == "http://testserver/#/experience/exp-ky-010" and first.title == record["title"]
    assert first.author == record["author"] and "Жаңыртылды" in first.summary
    assert {f"tech:{t}" for t in record["technologies"]} <= {t.term for t in first.tags}
    assert len(feed(client)[1].entries) == 50  # the default page of a feed


@pytest.mark.parametrize(
    ("params", "filters"),
    [
        ({"tech": "project-method"}, SearchFilters(technologies=("project-method",))),
        ({"region": "kz-almaty-city"}, SearchFilters(regions=("kz-almaty-city",))),
        ({"lang": "ky"}, SearchFilters(langs=("ky",))),
        ({"lang": "ru", "tech": "critical-thinking"},
         SearchFilters(langs=("ru",), technologies=("critical-thinking",))),
    ],
)
def test_feeds_per_technology_region_and_language(client: TestClient, kb: KnowledgeBase, params: dict[str, str],
                                                  filters: SearchFilters) -> None:
    root, parsed = feed(client, limit="200", **params)
    want = {e.id for e in kb.bank.select(filters, limit=500)}
    assert want and set(ids_of(parsed)) == want and len(parsed.entries) == len(want)
    assert all(f"{k}={v}" in root.findtext(f"{ATOM}id", "") for k, v in params.items())


@pytest.mark.parametrize("backend_url", ["faiss"], indirect=True)
def test_bad_filters_are_named_and_an_empty_feed_is_valid(client: TestClient, kb: KnowledgeBase) -> None:
    for params, field in (({"tech": "astrology"}, "tech"), ({"region": "mars"}, "region"), ({"lang": "en"}, "lang")):
        response = client.get("/feeds/experiences.atom", params=params)
        assert response.status_code == 422 and response.json()["field"] == field, response.text
    for exp in kb.bank.select(SearchFilters(langs=("ky",), regions=("kg-bishkek",)), limit=500):
        kb.bank.delete(exp.id)
    _, parsed = feed(client, lang="ky", region="kg-bishkek")
    assert parsed.entries == []
