"""Ingest → index → search end to end with the hashing embedder: statuses, cache, replace, delete, model checks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from ingest.files import document_id
from pedkb.errors import ModelMismatchError, NotFoundError, ValidationError
from pedkb.settings import Settings
from tests.conftest import CountingEmbedder, fresh_database
from tests.support import hostile

RU = ("Работа в парах помогает ученикам спорить аргументированно. Учитель даёт каждой паре тезис, "
      "ученики готовят доводы за и против, затем меняются ролями.")
KK = ("Жобалық әдіс оқушылардың зерттеу дағдысын дамытады. Оқушылар топпен жоба тақырыбын таңдап, "
      "ақпарат жинап, нәтижесін сынып алдында қорғайды.")
KY = ("Сабак изилдөө (Lesson Study) мугалимдердин биргелешип сабакты пландоосу. Мугалимдер бир сабакты "
      "байкап, окуучулардын үйрөнүүсүн талдашат жана сабакты жакшыртышат.")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "pairs.txt").write_text(RU, encoding="utf-8")
    (root / "project.txt").write_text(KK, encoding="utf-8")
    (root / "sub" / "lesson.txt").write_text(KY, encoding="utf-8")
    (root / "notes.bin").write_bytes(b"\x00\x01")  # unsupported suffix inside a folder: not picked up
    return root


def test_ingest_folder_recursively_then_search(kb: KnowledgeBase, folder: Path) -> None:
    report = kb.ingest([folder])
    assert (report.count("added"), report.count("failed")) == (3, 0)
    langs = {Path(d.source).name: d.languages for d in kb.documents()}
    assert langs == {"pairs.txt": ["ru"], "project.txt": ["kk"], "lesson.txt": ["ky"]}
    hits = kb.search("ученики спорить в парах", k=3)
    assert Path(hits[0].document.source).name == "pairs.txt"
    assert hits[0].to_dict().keys() >= {"doc_id", "chunk_id", "source", "title", "lang", "page", "text", "score"}
    assert kb.search("ученики спорить", k=3, langs=["ky"])[0].chunk.lang == "ky"


def test_unchanged_files_cost_nothing_and_changed_files_replace(kb: KnowledgeBase, folder: Path,
                                                               embedder: CountingEmbedder) -> None:
    kb.ingest([folder])
    embedded = embedder.embedded
    again = kb.ingest([folder])
    assert again.count("unchanged") == 3 and embedder.embedded == embedded
    doc_id = document_id(str((folder / "pairs.txt").resolve()))
    (folder / "pairs.txt").write_text(RU + " Итог урока подводят сами ученики.", encoding="utf-8")
    changed = kb.ingest([folder])
    assert changed.count("updated") == 1 and changed.count("unchanged") == 2
    assert kb.document(doc_id).doc_id == doc_id
    assert "Итог урока" in " ".join(c.text for c in kb.backend.document_chunks(doc_id))
    assert len(kb.documents()) == 3


def test_failures_are_named_and_do_not_stop_the_batch(kb: KnowledgeBase, folder: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"\x00\xff\x13garbage" * 50)
    report = kb.ingest([empty, junk, tmp_path / "missing.txt", folder])
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert set(failed) == {"empty.txt", "junk.pdf", "missing.txt"}
    assert all(failed.values())
    assert report.count("added") == 3


def test_size_limit_is_reported(tmp_path: Path, embedder: CountingEmbedder) -> None:
    big = tmp_path / "big.txt"
    big.write_text(RU * 2000, encoding="utf-8")
    settings = Settings(data=tmp_path / "d", model="hashing:256", max_file_mb=0.1)
    with KnowledgeBase(settings, embedder=embedder) as kb:
        report = kb.ingest([big])
    assert report.failed[0].reason is not None and "limit" in report.failed[0].reason


def test_first_writes_at_once_claim_the_empty_store_whole(settings: Settings, tmp_path: Path,
                                                         request: pytest.FixtureRequest) -> None:
    # the files of one upload are ingested in threads, and each first write claims the store's model: a claim
    # seen half-recorded once failed one of them with "built with ... (0 dims)"
    files = []
    for i in range(6):
        files.append(tmp_path / f"f{i}.txt")
        files[-1].write_text(f"{RU} ({i})", encoding="utf-8")
    for attempt in range(3):
        backend = "faiss" if settings.backend == "faiss" else fresh_database(request.getfixturevalue("pg_server"))
        fresh = settings.model_copy(update={"data": tmp_path / f"data{attempt}", "backend": backend})
        with KnowledgeBase(fresh, embedder=CountingEmbedder(256)) as base:
            start = threading.Barrier(len(files))

            def claim_then_ingest(path: Path, base: KnowledgeBase = base, start: threading.Barrier = start) -> str:
                start.wait()
                base.writer.space.claim()
                return base.ingest_file(path, source=f"upload/{path.name}").status

            with ThreadPoolExecutor(len(files)) as pool:
                statuses = list(pool.map(claim_then_ingest, files))
            assert statuses == ["added"] * len(files)
            assert base.stats()["dim"] == 256


def test_delete_and_not_found(kb: KnowledgeBase, folder: Path) -> None:
    kb.ingest([folder])
    doc = next(d for d in kb.documents() if d.source.endswith("pairs.txt"))
    kb.delete(doc.doc_id)
    assert all(h.document.doc_id != doc.doc_id for h in kb.search("ученики спорить в парах", k=5))
    with pytest.raises(NotFoundError, match=doc.doc_id):
        kb.delete(doc.doc_id)


def test_bad_queries_are_refused(kb: KnowledgeBase, folder: Path) -> None:
    kb.ingest([folder])
    with pytest.raises(ValidationError, match="query"):
        kb.search("   ")
    with pytest.raises(ValidationError, match="k"):
        kb.search("парах", k=0)


def test_model_mismatch_points_to_reindex_and_reindex_fixes_it(settings: Settings, folder: Path) -> None:
    with KnowledgeBase(settings, embedder=HashingEmbedder(256)) as kb:
        kb.ingest([folder])
    with KnowledgeBase(settings, embedder=HashingEmbedder(128)) as kb:
        with pytest.raises(ModelMismatchError, match="reindex"):
            kb.search("парах")
        assert kb.reindex() == sum(d.n_chunks for d in kb.documents())
        assert kb.stats()["dim"] == 128
        assert Path(kb.search("ученики спорить в парах")[0].document.source).name == "pairs.txt"


class _FixedQueryEmbedder(HashingEmbedder):
    """Embeds any query as one fixed vector (a Russian query about topic A, with a strong 'Russian' pull)."""

    def __init__(self) -> None:
        super().__init__(6)

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        import numpy as np

        q = np.array([[1.0, 0, 0, 0, 1.5, 0]], dtype=np.float32)
        return np.repeat(q / np.linalg.norm(q), len(texts), axis=0)  # one row per text (the technology router
        # embeds the technology names as queries too)


@pytest.mark.parametrize(("alpha", "winner"), [(0.0, "ru"), (1.0, "kk")])
def test_language_centering_lets_the_answer_in_another_language_win(tmp_path: Path, alpha: float,
                                                                    winner: str) -> None:
    import numpy as np

    from index.records import DocumentRecord, NewChunk

    def unit(*values: float) -> np.ndarray:
        v = np.array(values, dtype=np.float32)
        return v / np.linalg.norm(v)

    settings = Settings(data=tmp_path / "d", model="hashing:6", lang_centering=alpha)
    embedder = _FixedQueryEmbedder()
    with KnowledgeBase(settings, embedder=embedder) as kb:
        kb.backend.set_meta("model", embedder.name)
        kb.backend.set_meta("dim", "6")
        # axes: 0-2 topics A, B, C; 4 = "Russian-ness", 5 = "Kazakh-ness" of the encoder's space
        ru = [unit(0, 1, 0, 0, 1, 0) if i % 2 else unit(0, 0, 1, 0, 1, 0) for i in range(30)]
        kk = [unit(1, 0, 0, 0, 0, 1)] + [unit(0, 1, 0, 0, 0, 1) if i % 2 else unit(0, 0, 1, 0, 0, 1)
                                          for i in range(29)]
        for lang, vectors in (("ru", ru), ("kk", kk)):
            for i, vec in enumerate(vectors):
                doc = DocumentRecord(doc_id=f"{lang}{i}", source=f"{lang}{i}.txt", title=None, fmt="txt",
                                     sha256="0", size=1, languages=[lang])
                kb.backend.put_document(doc, [NewChunk(0, f"{lang} {i}", lang, None, 0, 4, 2, f"{lang}{i}", vec)])
        top = kb.search("любой запрос", k=1)[0]
    assert top.chunk.lang == winner
    if winner == "kk":
        assert top.document.doc_id == "kk0"


def test_ingest_reads_files_within_the_parsing_limits(kb: KnowledgeBase, folder: Path, tmp_path: Path) -> None:
    """A decompression bomb in a batch is refused by name and reason; the files beside it are still stored."""
    bomb = hostile.docx_bomb(tmp_path / "bomb.docx", unpacked_mb=300)
    report = kb.ingest([bomb, folder])
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert set(failed) == {"bomb.docx"} and "PEDKB_MAX_DECOMPRESSED_MB" in failed["bomb.docx"]
    assert report.count("added") == 3
    assert kb.settings.isolate_parsing  # the default: read in the resource-limited parser process
