"""The OAI-PMH provider on every backend: a real harvester (sickle) against a running server counts every item once
over many resumption tokens, sets filter, deletions are reported; the protocol's errors and response structure."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import BadResumptionToken, IdDoesNotExist, NoRecordsMatch

from index.knowledge_base import KnowledgeBase
from index.store.factory import open_backend
from index.store.transfer import copy_store
from pedkb.settings import Settings
from search_api.app import create_app
from tests.conftest import REPO
from tests.support.server import serve_pedkb

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
PAGE = 7
GONE = "exp-ky-003"  # deleted before the harvest
NS = "oai:pedkb.local:"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class CountingSickle(Sickle):  # type: ignore[misc]
    """A harvester that counts its HTTP requests and keeps the tokens it was given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[dict[str, str]] = []

    def harvest(self, **kwargs: Any) -> Any:
        self.requests.append(dict(kwargs))
        return super().harvest(**kwargs)


@pytest.fixture
def bank(kb: KnowledgeBase) -> KnowledgeBase:
    kb.bank.load_corpus(REPO / "corpus")
    report = kb.ingest([REPO / "corpus" / "documents"])
    assert report.count("failed") == 0
    kb.bank.delete(GONE)
    return kb


@pytest.fixture
def server(bank: KnowledgeBase) -> Iterator[str]:
    settings = bank.settings
    env = {**os.environ, "PEDKB_MODEL": "hashing:256", "PEDKB_CHUNK_TOKENS": "64", "PEDKB_CHUNK_OVERLAP": "8",
           "PEDKB_BACKEND": settings.backend, "PEDKB_OAI_PAGE_SIZE": str(PAGE)}
    with serve_pedkb(Path(settings.data), env) as url:
        yield url


def live_ids(kb: KnowledgeBase, kind: str) -> set[str]:
    return {d.doc_id for d in kb.backend.list_documents(kind)}


def oai(url: str, **params: str) -> etree._Element:
    response = httpx.get(f"{url}/oai", params=params, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    check_envelope(root, url, params)
    return root


def check_envelope(root: etree._Element, url: str, params: dict[str, str]) -> None:
    """The parts every OAI-PMH response has, in the schema's order."""
    assert root.tag == f"{OAI}OAI-PMH"
    children = list(root)
    assert [c.tag for c in children[:2]] == [f"{OAI}responseDate", f"{OAI}request"] and len(children) >= 3
    assert STAMP.match(children[0].text or "")
    assert children[1].text == f"{url}/oai"
    error = children[2].tag == f"{OAI}error"
    assert all(c.tag == f"{OAI}error" for c in children[2:]) if error else len(children) == 3
    if not error:
        assert children[2].tag == f"{OAI}{params['verb']}" and children[1].get("verb") == params["verb"]


def error_code(root: etree._Element) -> str | None:
    error = root.find(f"{OAI}error")
    return None if error is None else error.get("code")


def test_a_harvest_over_many_tokens_counts_every_item_once(bank: KnowledgeBase, server: str) -> None:
    harvester = CountingSickle(f"{server}/oai")
    records = list(harvester.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    ids = Counter(r.header.identifier.removeprefix(NS) for r in records)
    experiences, documents = live_ids(bank, "experience"), live_ids(bank, "document")
    assert len(experiences) == 71 and len(documents) == 6
    assert set(ids) == experiences | documents | {GONE} and set(ids.values()) == {1}
    assert len(harvester.requests) == -(-len(ids) // PAGE) >= 10  # one request per page, tokens in between
    assert sum("resumptionToken" in r for r in harvester.requests) == len(harvester.requests) - 1
    deleted = [r for r in records if r.deleted]
    assert [r.header.identifier for r in deleted] == [NS + GONE] and deleted[0].xml.find(f"{OAI}metadata") is None
    one = next(r for r in records if r.header.identifier == NS + "exp-ru-001")
    exp = bank.bank.get("exp-ru-001")
    assert one.metadata["title"] == [exp.title] and one.metadata["language"] == ["ru"]
    assert one.metadata["identifier"] == [f"{server}/#/experience/exp-ru-001"]
    assert "type:experience" in one.header.setSpecs and "lang:ru" in one.header.setSpecs
    assert {f"tech:{t}" for t in exp.technologies} <= set(one.header.setSpecs)
    assert len(one.metadata["subject"]) == len(exp.technologies)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("type:experience", lambda kb: live_ids(kb, "experience") | {GONE}),
        ("type:document", lambda kb: live_ids(kb, "document")),
        ("lang:kk", lambda kb: {d.doc_id for k in ("experience", "document") for d in kb.backend.list_documents(k)
                                if "kk" in d.languages}),
        ("tech:project-method", lambda kb: {d.doc_id for k in ("experience", "document")
                                            for d in kb.backend.list_documents(k)
                                            if "project-method" in d.facets.get("technology", [])}),
    ],
)
def test_sets_select_exactly_their_items(bank: KnowledgeBase, server: str, spec: str, expected: Any) -> None:
    harvester = Sickle(f"{server}/oai")
    headers = list(harvester.ListIdentifiers(metadataPrefix="oai_dc", set=spec, ignore_deleted=False))
    got = [h.identifier.removeprefix(NS) for h in headers]
    want = expected(bank)
    assert len(want) > 1 and len(got) == len(set(got)) and set(got) == want
    assert all(spec in h.setSpecs for h in headers)


def test_deleted_record_and_dates(bank: KnowledgeBase, server: str) -> None:
    harvester = Sickle(f"{server}/oai")
    gone = harvester.GetRecord(identifier=NS + GONE, metadataPrefix="oai_dc")
    assert gone.deleted and gone.header.deleted and "type:experience" in gone.header.setSpecs
    identify = oai(server, verb="Identify").find(f"{OAI}Identify")
    assert identify.findtext(f"{OAI}deletedRecord") == "persistent"
    assert identify.findtext(f"{OAI}granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext(f"{OAI}protocolVersion") == "2.0"
    with pytest.raises(NoRecordsMatch):
        list(harvester.ListIdentifiers(metadataPrefix="oai_dc", **{"from": "2099-01-01"}))
    stamps = sorted(h.datestamp for h in harvester.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False))
    middle = stamps[len(stamps) // 2]
    later = list(harvester.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False, **{"from": middle}))
    assert later and all(h.datestamp >= middle for h in later)
    assert len(later) == sum(s >= middle for s in stamps)
    earlier = list(harvester.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False, until=middle))
    assert len(earlier) + len(later) - sum(s == middle for s in stamps) == len(stamps)
    with pytest.raises(IdDoesNotExist):
        harvester.GetRecord(identifier=NS + "exp-none", metadataPrefix="oai_dc")
    with pytest.raises(BadResumptionToken):
        list(harvester.ListRecords(resumptionToken="not-a-token"))


ERRORS = [
    ({}, "badVerb"),
    ({"verb": "Harvest"}, "badVerb"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "colour": "red"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-13-01"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2025-01-02", "until": "2025-01-01"},
     "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2025-01-01",
      "until": "2025-01-02T00:00:00Z"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "tech:no-such-tech"}, "noRecordsMatch"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}, "badArgument"),
    ({"verb": "ListIdentifiers", "resumptionToken": "eyJwIjoxfQ"}, "badResumptionToken"),
    ({"verb": "GetRecord", "identifier": "oai:elsewhere:exp-ru-001", "metadataPrefix": "oai_dc"},
     "idDoesNotExist"),
    ({"verb": "ListMetadataFormats", "identifier": NS + "nothing"}, "idDoesNotExist"),
    ({"verb": "ListSets", "resumptionToken": "abc"}, "badResumptionToken"),
]


@pytest.mark.parametrize("backend_url", ["faiss"], indirect=True)
def test_errors_carry_their_oai_codes(bank: KnowledgeBase) -> None:
    with TestClient(create_app(bank.settings, kb=bank)) as client:
        for params, code in ERRORS:
            response = client.get("/oai", params=params)
            root = etree.fromstring(response.content)
            check_envelope(root, "http://testserver", params)
            assert error_code(root) == code, (params, response.text)
            if code in ("badVerb", "badArgument"):
                assert not root.find(f"{OAI}request").attrib  # no arguments echoed
        repeated = client.get("/oai?verb=Identify&verb=Identify")
        assert error_code(etree.fromstring(repeated.content)) == "badVerb"
        posted = client.post("/oai", content="verb=Identify",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert posted.status_code == 200 and etree.fromstring(posted.content).find(f"{OAI}Identify") is not None


def test_list_structure_and_token_attributes(bank: KnowledgeBase, server: str) -> None:
    root = oai(server, verb="ListRecords", metadataPrefix="oai_dc")
    records = root.find(f"{OAI}ListRecords")
    assert len(records.findall(f"{OAI}record")) == PAGE
    token = records.find(f"{OAI}resumptionToken")
    assert token is not None and token.get("cursor") == "0" and token.get("completeListSize") == "78"
    first = records.find(f"{OAI}record")
    header, metadata = list(first)
    assert header.tag == f"{OAI}header" and metadata.tag == f"{OAI}metadata"
    assert [c.tag for c in header][:2] == [f"{OAI}identifier", f"{OAI}datestamp"]
    assert all(c.tag == f"{OAI}setSpec" for c in list(header)[2:])
    dc = metadata[0]
    assert dc.tag == "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
    assert all(c.tag.startswith(DC) and c.text for c in dc)
    second = oai(server, verb="ListRecords", resumptionToken=token.text or "").find(f"{OAI}ListRecords")
    assert second.find(f"{OAI}resumptionToken").get("cursor") == str(PAGE)
    sets = oai(server, verb="ListSets").find(f"{OAI}ListSets")
    specs = [s.findtext(f"{OAI}setSpec") for s in sets]
    assert {"type", "lang", "tech", "type:experience", "lang:ky"} <= set(specs)
    assert len(specs) == len(set(specs)) and f"tech:{next(iter(bank.vocabulary.technologies))}" in specs
    formats = oai(server, verb="ListMetadataFormats", identifier=NS + "exp-ru-001")
    assert formats.findtext(f"{OAI}ListMetadataFormats/{OAI}metadataFormat/{OAI}metadataPrefix") == "oai_dc"


def test_deletions_are_remembered_copied_and_forgotten_on_return(bank: KnowledgeBase, tmp_path: Path,
                                                                 pg_server: object) -> None:
    from tests.conftest import fresh_database

    [gone] = bank.backend.deletions("experience")
    assert gone.doc_id == GONE and "ky" in gone.facets["lang"] and gone.facets["technology"]
    target_url = fresh_database(pg_server) if bank.settings.backend == "faiss" else "faiss"  # type: ignore[arg-type]
    with open_backend(Settings(data=tmp_path / "copy", backend=target_url)) as target:
        copy_store(bank.backend, target)
        assert [d.doc_id for d in target.deletions()] == [GONE]
    record = next(r for r in (REPO / "corpus" / "experiences" / "ky.jsonl").read_text().splitlines()
                  if f'"{GONE}"' in r)
    bank.bank.create(json.loads(record))
    assert bank.backend.deletions() == []


@pytest.mark.parametrize("backend_url", ["faiss"], indirect=True)
def test_a_store_from_before_deletions_gets_the_table(settings: Settings) -> None:
    import sqlite3

    from index.records import DocumentRecord, NewChunk

    backend = open_backend(settings)
    for doc_id in ("d1", "d2"):
        record = DocumentRecord(doc_id=doc_id, source=f"/{doc_id}.txt", title=None, fmt="txt", sha256="0", size=1,
                                languages=["ru"])
        backend.put_document(record, [NewChunk(0, f"текст {doc_id}", "ru", None, 0, 8, 2, doc_id,
                                               np.ones(8, np.float32))])
    backend.close()
    with sqlite3.connect(Path(settings.data) / "pedkb.sqlite3") as db:  # as schema 3 left it
        db.execute("DROP TABLE deletions")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with open_backend(settings) as backend:
        assert backend.get_meta("schema_version") == "4"
        assert backend.delete_document("d1")
        assert [(d.doc_id, d.kind, d.facets["lang"]) for d in backend.deletions()] == [("d1", "document", ["ru"])]


def test_a_postgresql_database_from_before_deletions_is_migrated(pg_server: Any, tmp_path: Path) -> None:
    import psycopg

    from index.store.postgres.schema import MIGRATIONS
    from tests.conftest import fresh_database

    url = fresh_database(pg_server)
    with psycopg.connect(url, autocommit=True) as conn:  # the database as migrations 1-3 left it
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
                     "applied timestamptz NOT NULL DEFAULT now())")
        for version, sql in MIGRATIONS[:3]:
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        conn.execute("INSERT INTO documents (doc_id, source, fmt, sha256, size, kind, created, updated) "
                     "VALUES ('e1', 'experience:e1', 'record', '0', 1, 'experience', 0, 0)")
        conn.execute("INSERT INTO facets (doc_id, facet, value) VALUES ('e1', 'lang', 'kk'), "
                     "('e1', 'technology', 'b'), ('e1', 'technology', 'a')")
    with open_backend(Settings(data=tmp_path / "data", backend=url)) as backend:
        assert backend.delete_document("e1")
        [gone] = backend.deletions("experience")
        assert gone.doc_id == "e1" and gone.facets == {"lang": ["kk"], "technology": ["a", "b"]}
        assert backend.deletions("document") == []
