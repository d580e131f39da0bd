"""An experience's lifecycle history on every backend: transitions validated, stored with the stage the filters use,
kept by updates, export/import and migration, refused under a race; the CLI and the API on top."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_cli import pedkb

from index.knowledge_base import KnowledgeBase, TransitionRequest
from index.records import SearchFilters
from index.store.factory import open_backend
from index.store.transfer import copy_store
from pedkb.errors import ConflictError, ValidationError
from pedkb.settings import Settings
from search_api.app import create_app
from tests.conftest import REPO

CORPUS = REPO / "corpus"
FRESH = "exp-kk-017"  # a sample experience at stage "identified"
KEY = "lifecycle-key"
TODAY = dt.datetime.now(dt.UTC).date()


def step(stage: str, **changes: object) -> TransitionRequest:
    values: dict[str, object] = dict(stage=stage, by="Әсел Нұрланқызы", evidence_kind="seminar",
                                     evidence="Аудандық семинар, хаттама №3", date=TODAY)
    values.update(changes)
    return TransitionRequest(**values)  # type: ignore[arg-type]


@pytest.fixture
def loaded(kb: KnowledgeBase) -> KnowledgeBase:
    kb.bank.load_corpus(CORPUS)
    assert kb.bank.get(FRESH).stage == "identified"
    return kb


def stage_ids(kb: KnowledgeBase, stage: str) -> set[str]:
    return {e.id for e in kb.bank.select(SearchFilters(stages=(stage,)), limit=500)}


def test_transitions_build_a_history_and_move_the_stage_facet(loaded: KnowledgeBase) -> None:
    doc = loaded.ingest_file(REPO / "corpus" / "documents" / "kk-criteria-based-assessment.txt")
    loaded.record_transition(FRESH, step("studied", date=TODAY - dt.timedelta(days=30)))
    exp = loaded.record_transition(FRESH, step("generalised", evidence_kind="publication", document=doc.doc_id,
                                               evidence="«Қазақстан мектебі» журналы, 2025, №4"))
    assert exp.stage == "generalised"
    history = loaded.stage_history(FRESH)
    assert [(h.previous, h.stage) for h in history] == [("identified", "studied"), ("studied", "generalised")]
    assert history[1].document == doc.doc_id and history[1].evidence_kind == "publication"
    assert history[0].date == TODAY - dt.timedelta(days=30) and history[0].by == "Әсел Нұрланқызы"
    assert FRESH in stage_ids(loaded, "generalised") and FRESH not in stage_ids(loaded, "identified")
    assert loaded.bank.get(FRESH).history == history  # read back from the store


@pytest.mark.parametrize(
    ("request_", "field", "words"),
    [
        (step("generalised"), "stage", "skips studied"),
        (step("identified"), "stage", "already"),
        (step("retired"), "stage", "unknown stage"),
        (step("studied", evidence_kind="rumour"), "evidence_kind", "unknown evidence kind"),
        (step("studied", date=TODAY + dt.timedelta(days=2)), "date", "future"),
        (step("studied", document="d-not-there"), "document", "no document"),
        (step("studied", evidence="   "), "evidence", "empty"),
    ],
)
def test_refused_transitions_name_the_field_and_change_nothing(loaded: KnowledgeBase, request_: TransitionRequest,
                                                               field: str, words: str) -> None:
    before = loaded.bank.get(FRESH)
    with pytest.raises(ValidationError) as caught:
        loaded.record_transition(FRESH, request_)
    assert caught.value.field == field and words in str(caught.value)
    assert loaded.bank.get(FRESH) == before


def test_skip_or_step_back_with_a_reason_and_dates_in_order(loaded: KnowledgeBase) -> None:
    loaded.record_transition(FRESH, step("generalised", reason="изучен и обобщён одним приказом",
                                         date=TODAY - dt.timedelta(days=10)))
    with pytest.raises(ValidationError, match="back"):
        loaded.record_transition(FRESH, step("studied"))
    with pytest.raises(ValidationError, match="before the last"):
        loaded.record_transition(FRESH, step("disseminated", date=TODAY - dt.timedelta(days=11)))
    exp = loaded.record_transition(FRESH, step("studied", reason="повторная экспертиза"))
    assert [h.stage for h in exp.history] == ["generalised", "studied"] and exp.stage == "studied"


def test_update_keeps_the_history_and_refuses_a_stage_outside_it(loaded: KnowledgeBase) -> None:
    loaded.record_transition(FRESH, step("studied"))
    record = loaded.bank.get(FRESH).model_dump(mode="json")
    record.pop("history")
    record["title"] = "Жаңа атау"
    assert loaded.bank.update(FRESH, record).history == loaded.stage_history(FRESH)
    assert len(loaded.stage_history(FRESH)) == 1 and loaded.bank.get(FRESH).title == "Жаңа атау"
    with pytest.raises(ValidationError, match="last stage of the history"):
        loaded.bank.update(FRESH, {**record, "stage": "disseminated"})
    assert loaded.bank.get(FRESH).stage == "studied"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_export_and_import_keep_the_history(loaded: KnowledgeBase, tmp_path: Path, suffix: str) -> None:
    loaded.record_transition(FRESH, step("studied", date=TODAY - dt.timedelta(days=3)))
    loaded.record_transition(FRESH, step("generalised", evidence_kind="report", evidence="Есеп; «тоқсан», 2-бөлім"))
    history = loaded.stage_history(FRESH)
    path = tmp_path / f"bank{suffix}"
    loaded.bank.export(path)
    loaded.bank.delete(FRESH)
    assert loaded.bank.import_file(path)["added"] == 1
    assert loaded.stage_history(FRESH) == history and loaded.bank.get(FRESH).stage == "generalised"


def test_import_refuses_a_broken_history(loaded: KnowledgeBase, tmp_path: Path) -> None:
    record = loaded.bank.get(FRESH).model_dump(mode="json")
    skipping = {"stage": "disseminated", "previous": "identified", "date": "2025-01-10", "by": "A",
                "evidence_kind": "report", "evidence": "report"}
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({**record, "stage": "disseminated", "history": [skipping]}) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"history\[0\]\.stage.*skips studied, generalised"):
        loaded.bank.import_file(path)
    path.write_text(json.dumps({**record, "stage": "studied", "history": [{**skipping, "stage": "generalised",
                                                                          "reason": "r"}]}) + "\n")
    with pytest.raises(ValidationError, match="not the last stage"):
        loaded.bank.import_file(path)
    assert loaded.bank.get(FRESH).history == []


def test_two_methodists_at_once_record_one_transition(loaded: KnowledgeBase) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def record(name: str) -> None:
        barrier.wait()
        try:
            loaded.record_transition(FRESH, step("studied", by=name))
            outcomes.append("ok")
        except (ConflictError, ValidationError) as exc:  # changed meanwhile, or at "studied" already
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=record, args=(name,)) for name in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "ok" and outcomes.count("ok") == 1, outcomes
    assert len(loaded.stage_history(FRESH)) == 1


def test_a_stale_version_is_refused_by_the_store(loaded: KnowledgeBase) -> None:
    doc = loaded.backend.get_document(FRESH)
    assert doc is not None
    exported = loaded.backend.export_document(FRESH)
    assert exported is not None
    with pytest.raises(ConflictError, match="another writer"):
        loaded.backend.put_document(exported[0], exported[1], expect_sha256="0" * 64)
    loaded.backend.put_document(exported[0], exported[1], expect_sha256=doc.sha256)


def test_migrate_carries_the_history(loaded: KnowledgeBase, tmp_path: Path, pg_server: object) -> None:
    from tests.conftest import fresh_database

    loaded.record_transition(FRESH, step("studied"))
    target_url = fresh_database(pg_server) if loaded.settings.backend == "faiss" else "faiss"  # type: ignore[arg-type]
    with open_backend(Settings(data=tmp_path / "copy", backend=target_url)) as target:
        copy_store(loaded.backend, target)
        copied = target.get_document(FRESH)
    assert copied is not None and copied.meta["record"]["history"] == loaded.bank.get(FRESH).model_dump(
        mode="json")["history"]


def test_api_records_a_transition_behind_the_key(loaded: KnowledgeBase) -> None:
    settings = loaded.settings.model_copy(update={"api_keys": [KEY]})
    body = {"stage": "studied", "evidence_kind": "seminar", "evidence": "Семинар методистов", "by": "Айгүл"}
    with TestClient(create_app(settings, kb=loaded), raise_server_exceptions=False) as client:
        url = f"/api/v1/experiences/{FRESH}"
        assert client.post(f"{url}/stage", json=body).status_code == 401
        assert client.post(f"{url}/stage", json=body, headers={"X-API-Key": "wrong"}).status_code == 403
        skipped = client.post(f"{url}/stage", json={**body, "stage": "disseminated"}, headers={"X-API-Key": KEY})
        assert skipped.status_code == 422 and skipped.json()["field"] == "stage", skipped.text
        done = client.post(f"{url}/stage", json=body, headers={"X-API-Key": KEY})
        assert done.status_code == 200 and done.json()["stage"] == "studied", done.text
        history = client.get(f"{url}/history").json()
        assert [(h["previous"], h["stage"], h["by"]) for h in history] == [("identified", "studied", "Айгүл")]
        assert history[0]["date"] == TODAY.isoformat()
        assert client.get("/api/v1/experiences/exp-none/history").status_code == 404
        listed = client.get("/api/v1/experiences", params={"stage": "studied", "limit": 200}).json()
        assert FRESH in {e["id"] for e in listed["items"]}


@pytest.mark.parametrize("backend_url", ["faiss"], indirect=True)
def test_cli_records_and_prints_the_history(loaded: KnowledgeBase) -> None:
    data = Path(loaded.settings.data)
    loaded.close()
    out = pedkb("exp", "stage", FRESH, "studied", "--evidence-kind", "report", "--evidence", "Есеп 2025",
                "--by", "Методист А", "--date", "2025-03-01", data=data)
    assert out.returncode == 0 and "identified -> studied" in out.stdout, out.stderr
    out = pedkb("exp", "stage", FRESH, "disseminated", "--evidence-kind", "report", "--evidence", "x", data=data)
    assert out.returncode == 1 and "stage" in out.stderr and "skips generalised" in out.stderr
    out = pedkb("exp", "history", FRESH, "--json", data=data)
    assert out.returncode == 0, out.stderr
    assert [(h["stage"], h["by"], h["date"]) for h in json.loads(out.stdout)] == [
        ("studied", "Методист А", "2025-03-01")]
