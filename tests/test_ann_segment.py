"""The embedded backend's ANN segment: chosen above the threshold, writes that touch no index file, deletes by
tombstone, merges, a merge killed half-way, `pedkb check` and `--repair`. Real usearch and SQLite files on disk."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from index.records import DocumentRecord, NewChunk, SearchFilters
from index.store.embedded import backend as backend_module
from index.store.embedded import segments
from index.store.embedded.backend import FaissBackend

DIM = 32
PER_DOC = 50
LANGS = ("kk", "ru", "ky")
ROOT = Path(__file__).resolve().parents[1]


def vectors(n: int, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((8, DIM))
    out = centers[rng.integers(0, 8, n)] + 0.7 * rng.standard_normal((n, DIM))
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def put(backend: FaissBackend, vecs: np.ndarray, first_doc: int) -> None:
    """Documents of PER_DOC chunks in one write batch; document d is in LANGS[d % 3]."""
    with backend.writing():
        for n in range(len(vecs) // PER_DOC):
            d = first_doc + n
            lang = LANGS[d % 3]
            doc = DocumentRecord(doc_id=f"d{d:04d}", source=f"s/{d}", title=None, fmt="txt", sha256="0", size=0,
                                 languages=[lang])
            part = vecs[n * PER_DOC:(n + 1) * PER_DOC]
            backend.put_document(doc, [NewChunk(i, f"chunk {d} {i}", lang, None, 0, 1, 1, f"k{d}-{i}", part[i])
                                       for i in range(PER_DOC)])


def open_backend(folder: Path, threshold: int = 300) -> FaissBackend:
    backend = FaissBackend(folder, ann_threshold=threshold, background_merge=False)
    backend.set_meta("model", "synthetic")
    backend.set_meta("dim", str(DIM))
    return backend


def by_text(backend: FaissBackend, results: list[tuple[int, float]]) -> list[str]:
    chunks = backend.get_chunks([cid for cid, _ in results])
    return [chunks[cid].text for cid, _ in results]


def exact(backend: FaissBackend, query: np.ndarray, k: int, lang: str | None = None) -> list[int]:
    """The exact top k chunk ids, computed from the stored vectors."""
    ids = [c.chunk_id for batch in backend.iter_chunks() for c in batch if lang is None or c.lang == lang]
    got, vecs = backend.store.chunk_vectors(ids, DIM)
    order = np.argsort(-(vecs @ query), kind="stable")[:k]
    return got[order].tolist()


def files(folder: Path) -> dict[str, tuple[int, int]]:
    """Vector files and segment files: name -> (inode, mtime_ns)."""
    found = [*folder.glob("vectors-*"), *folder.glob("ann-*/*"), *folder.glob(".ann-*")]
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


def test_small_store_stays_flat_and_moves_to_a_segment_above_the_threshold(tmp_path: Path) -> None:
    backend = open_backend(tmp_path)
    vecs = vectors(600)
    put(backend, vecs[:250], 0)
    assert backend.stats()["vector_index"] == "flat"
    assert list(tmp_path.glob("vectors-*.faiss")) and not list(tmp_path.glob("ann-*"))
    put(backend, vecs[250:], 5)  # 600 chunks: the save at the end of the batch builds the segment
    assert backend.stats()["vector_index"] == "ann"
    assert len(list(tmp_path.glob("ann-*"))) == 1 and not list(tmp_path.glob("vectors-*.faiss"))
    assert backend.stats()["vectors"] == 600
    queries = vectors(20, seed=1)
    hits = sum(len(set(exact(backend, q, 10)) & {cid for cid, _ in backend.search(q, 10)}) for q in queries)
    assert hits / 200 >= 0.95
    for q in queries[:5]:  # the language filter: only that language, and the same top 10 as exact
        found = backend.search(q, 10, SearchFilters(langs=("ru",)))
        assert {c.lang for c in backend.get_chunks([cid for cid, _ in found]).values()} == {"ru"}
        assert len({cid for cid, _ in found} & set(exact(backend, q, 10, "ru"))) >= 9
    scores = [s for _, s in backend.search(queries[0], 5)]
    assert scores == sorted(scores, reverse=True)
    top = backend.search(queries[0], 1)[0]
    assert top[1] == pytest.approx(float(backend.store.chunk_vectors([top[0]], DIM)[1][0] @ queries[0]), abs=1e-5)
    backend.close()


def test_writes_and_deletes_after_the_segment_touch_no_index_file(tmp_path: Path) -> None:
    backend = open_backend(tmp_path)
    vecs = vectors(900)
    put(backend, vecs[:600], 0)
    before = files(tmp_path)
    put(backend, vecs[600:700], 12)  # two documents into the delta
    assert backend.delete_document("d0001")  # a document of the segment: tombstones
    assert files(tmp_path) == before
    assert backend.stats()["vectors"] == 600 + 100 - PER_DOC
    new = backend.search(vecs[650], 1)
    assert by_text(backend, new) == [f"chunk 13 {650 - 600 - PER_DOC}"]
    deleted = vecs[PER_DOC:2 * PER_DOC]
    for v in deleted[:10]:
        assert not any(text.startswith("chunk 1 ") for text in by_text(backend, backend.search(v, 20)))
    other = FaissBackend(tmp_path, ann_threshold=300)  # a second worker opening the folder sees the same store
    assert other.stats()["vectors"] == 650 and other.stats()["vector_index"] == "ann"
    assert by_text(other, other.search(vecs[650], 1)) == [f"chunk 13 {650 - 600 - PER_DOC}"]
    assert backend.delete_document("d0013")  # a delta document, deleted by the first: the second follows
    assert other.stats()["vectors"] == 600
    assert backend.check().ok and other.check().ok
    other.close()
    backend.close()


def test_a_grown_delta_is_merged_into_a_new_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "DELTA_MIN", 100)
    backend = open_backend(tmp_path)
    vecs = vectors(900)
    put(backend, vecs[:600], 0)
    (first,) = tmp_path.glob("ann-*")
    assert backend.delete_document("d0000")
    put(backend, vecs[600:750], 12)  # 150 in the delta, past DELTA_MIN: merged at the end of the batch
    (second,) = tmp_path.glob("ann-*")
    assert second != first
    assert backend.stats()["vectors"] == 700  # the next sync opens the new segment with an empty delta
    assert backend._index is not None and backend._index.ntotal == 0 and not backend._tombstones
    segment = segments.open_segment(second, int(second.name.rsplit("-", 1)[1]), DIM)
    assert len(segment) == 700 and segment.ids.tolist() == sorted(backend.store.chunk_ids().tolist())
    segment.close()
    assert by_text(backend, backend.search(vecs[700], 1)) == ["chunk 14 0"]
    report = backend.check()
    assert report.ok and report.counts["segment_vectors"] == 700 and report.counts["segment_delta"] == 0
    backend.close()


def test_a_merge_killed_half_way_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = open_backend(tmp_path)
    vecs = vectors(900)
    put(backend, vecs[:600], 0)
    put(backend, vecs[600:800], 12)
    assert backend.delete_document("d0002")
    backend.close()
    (segment,) = tmp_path.glob("ann-*")
    child = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from usearch.index import Index
        from index.store.embedded.backend import FaissBackend

        def die(self, path, *args, **kwargs):  # the graph half-written, then the process is killed
            with open(path, "wb") as handle:
                handle.write(b"half a graph")
            os._exit(9)

        Index.save = die
        backend = FaissBackend(sys.argv[1], ann_threshold=300, background_merge=False)
        backend.merge()
    """)
    result = subprocess.run([sys.executable, "-c", child, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 9, result.stderr
    assert list(tmp_path.glob(".ann-*.tmp")) and list(tmp_path.glob("ann-*")) == [segment]
    backend = open_backend(tmp_path)
    assert backend.stats()["vectors"] == 750
    for row in (0, 90, 599, 650, 799):  # segment and delta chunks are all found; the deleted ones are not
        assert by_text(backend, backend.search(vecs[row], 1)) == [f"chunk {row // PER_DOC} {row % PER_DOC}"]
    assert not any(t.startswith("chunk 2 ") for t in by_text(backend, backend.search(vecs[110], 30)))
    assert backend.check().ok
    assert backend.merge()  # the next merge clears the unfinished one and publishes
    assert not list(tmp_path.glob(".ann-*.tmp")) and list(tmp_path.glob("ann-*")) != [segment]
    assert by_text(backend, backend.search(vecs[650], 1)) == ["chunk 13 0"]
    backend.close()


def test_an_existing_flat_store_opens_as_before_and_migrates_on_its_next_write(tmp_path: Path) -> None:
    old = open_backend(tmp_path, threshold=0)  # a folder of a pedkb without segments (flat file only)
    vecs = vectors(700)
    put(old, vecs[:600], 0)
    old.close()
    assert list(tmp_path.glob("vectors-*.faiss"))
    backend = open_backend(tmp_path)
    assert backend.stats()["vector_index"] == "flat"
    assert by_text(backend, backend.search(vecs[5], 1)) == ["chunk 0 5"]
    put(backend, vecs[600:650], 12)
    assert backend.stats()["vector_index"] == "ann" and backend.stats()["vectors"] == 650
    assert by_text(backend, backend.search(vecs[620], 1)) == ["chunk 12 20"]
    backend.close()


def test_check_finds_a_damaged_segment_and_repair_rebuilds_it(tmp_path: Path) -> None:
    backend = open_backend(tmp_path)
    vecs = vectors(600)
    put(backend, vecs, 0)
    backend.close()
    (segment,) = tmp_path.glob("ann-*")
    ids = np.load(segment / segments.IDS)
    ids[1] = ids[0]
    np.save(segment / segments.IDS, ids)
    backend = open_backend(tmp_path)
    report = backend.check()
    assert "segment_duplicates" in {p.name for p in report.problems}
    backend.close()
    (segment / segments.GRAPH).write_bytes(b"not a graph")
    backend = open_backend(tmp_path)
    report = backend.check(quick=True)
    assert any("unreadable ANN segment" in note for note in report.notes)
    assert by_text(backend, backend.search(vecs[3], 1)) == ["chunk 0 3"]  # served flat from the rows meanwhile
    report = backend.check(repair=True)
    assert report.repaired
    assert backend.check().ok and backend.stats()["vector_index"] == "ann"
    (rebuilt,) = tmp_path.glob("ann-*")
    assert segments.open_segment(rebuilt, int(rebuilt.name.rsplit("-", 1)[1]), DIM).ids.size == 600
    backend.close()


def test_a_selective_filter_falls_back_to_exact_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "FILTER_CAP", 64)
    backend = open_backend(tmp_path)
    vecs = vectors(600)
    put(backend, vecs, 0)
    query = vectors(1, seed=5)[0]
    found = backend.search(query, 10, SearchFilters(doc_ids=("d0007",)))
    assert {c.doc_id for c in backend.get_chunks([cid for cid, _ in found]).values()} == {"d0007"}
    chunk_ids = [c.chunk_id for c in backend.document_chunks("d0007")]
    ids, vecs7 = backend.store.chunk_vectors(chunk_ids, DIM)
    assert [cid for cid, _ in found] == ids[np.argsort(-(vecs7 @ query), kind="stable")[:10]].tolist()
    backend.close()


def test_the_chunks_a_filter_passes_are_kept_until_the_next_write(tmp_path: Path) -> None:
    """A filter's passing chunk ids are read once per store state: searches with it agree with exact search, and a
    write (a new document of that language in the delta, a deleted one of the segment) is seen by the next."""
    backend = open_backend(tmp_path)
    vecs = vectors(900)
    put(backend, vecs[:600], 0)
    assert backend.stats()["vector_index"] == "ann"
    only_ky = SearchFilters(langs=("ky",))
    query = vectors(1, seed=7)[0]
    for _ in range(2):  # read, then kept
        found = [cid for cid, _ in backend.search(query, 10, only_ky)]
        assert len(set(found) & set(exact(backend, query, 10, "ky"))) >= 9
    assert backend.store.passing.hits >= 1
    put(backend, np.repeat(query[None, :], PER_DOC, axis=0), 14)  # d0014: ky, the query's own vector
    assert backend.stats()["vector_index"] == "ann"
    new = {c.chunk_id for c in backend.document_chunks("d0014")}
    found = [cid for cid, _ in backend.search(query, 10, only_ky)]
    assert set(found) <= new and len(found) == 10
    gone = new | {c.chunk_id for c in backend.document_chunks("d0002")}  # d0002: ky, in the segment
    assert backend.delete_document("d0014") and backend.delete_document("d0002")
    found = [cid for cid, _ in backend.search(query, 400, only_ky)]
    assert found and not set(found) & gone
    assert {c.lang for c in backend.get_chunks(found).values()} == {"ky"}
    assert len(set(found[:10]) & set(exact(backend, query, 10, "ky"))) >= 9
    backend.close()


def test_a_filtered_search_rescores_only_the_chunks_it_passes(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    backend = open_backend(tmp_path)
    put(backend, vectors(600), 0)
    rescored: list[np.ndarray] = []
    rescore = segments.Segment.rescore

    def spy(self: segments.Segment, query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rescored.append(keys)
        return rescore(self, query, keys)

    monkeypatch.setattr(segments.Segment, "rescore", spy)
    passing = {c.chunk_id for batch in backend.iter_chunks() for c in batch if c.lang != "ky"}  # more than checked
    for query in vectors(5, seed=3):
        found = [cid for cid, _ in backend.search(query, 10, SearchFilters(langs=("kk", "ru")))]
        best = [cid for cid in exact(backend, query, 60) if cid in passing][:10]
        assert set(found) <= passing and len(set(found) & set(best)) >= 9
    assert rescored and all(set(keys.tolist()) <= passing for keys in rescored)
    backend.close()


def test_two_processes_share_the_segment_pages(tmp_path: Path) -> None:
    """The segment files are mapped read-only: a second process's mapping of them is file-backed (shared)."""
    backend = open_backend(tmp_path)
    put(backend, vectors(600), 0)
    backend.close()
    child = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import numpy as np
        from index.store.embedded.backend import FaissBackend
        backend = FaissBackend(sys.argv[1], ann_threshold=300)
        backend.search(np.ones({DIM}, dtype=np.float32) / {DIM} ** 0.5, 5)
        maps = open("/proc/self/maps").read()
        print(sum(1 for line in maps.splitlines() if "/ann-" in line and "w" not in line.split()[1]),
              sum(1 for line in maps.splitlines() if "/ann-" in line and "w" in line.split()[1]))
    """)
    out = subprocess.run([sys.executable, "-c", child, str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ}, check=True).stdout
    read_only, writable = map(int, out.split())
    assert read_only >= 2 and writable == 0  # vectors.npy, ids.npy and the graph, mapped read-only


def test_searches_read_the_rescored_rows_without_keeping_their_pages(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Above MAPPED_ROWS_BYTES, re-scoring reads rows with pread: the same vectors as the file's, and none of
    vectors.npy's pages stays in the searching process's RSS (a 1M segment's 1.5 GB of vectors once did after enough
    searches)."""
    monkeypatch.setattr(segments, "MAPPED_ROWS_BYTES", 0)
    backend = open_backend(tmp_path)
    put(backend, vectors(600), 0)
    backend.close()
    backend = open_backend(tmp_path)
    backend.search(vectors(1)[0], 5)  # loads the segment
    segment = backend._segment
    assert segment is not None and segment.reader is not None
    rows = np.array([0, 1, 2, 7, 8, 100, 599])  # runs and single rows, the last row included
    assert np.array_equal(segment.reader.rows(rows), np.load(segment.path / segments.VECTORS)[rows])
    assert segment.reader.rows(np.array([], dtype=np.int64)).shape == (0, DIM)
    backend.close()
    child = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import numpy as np
        from index.store.embedded import segments
        from index.store.embedded.backend import FaissBackend
        segments.MAPPED_ROWS_BYTES = 0
        backend = FaissBackend(sys.argv[1], ann_threshold=300)
        rng = np.random.default_rng(1)
        for _ in range(50):
            query = rng.standard_normal({DIM}).astype(np.float32)
            backend.search(query / np.linalg.norm(query), 200)
        rss, mapping = {{}}, None
        for line in open("/proc/self/smaps"):
            if "-" in line.split()[0]:  # a mapping's first line: range, perms, offset, device, inode[, path]
                mapping = line.split()[5] if len(line.split()) >= 6 else None
            elif line.startswith("Rss:") and mapping:
                rss[mapping.rsplit("/", 1)[-1]] = rss.get(mapping.rsplit("/", 1)[-1], 0) + int(line.split()[1])
        print(rss.get("vectors.npy", -1), rss.get("graph.usearch", -1))
    """)
    out = subprocess.run([sys.executable, "-c", child, str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ}, check=True).stdout
    vectors_kb, graph_kb = map(int, out.split())
    assert vectors_kb == 0 and graph_kb > 0  # mapped (for merges) but never touched; the graph is walked


def test_a_small_segment_is_rescored_through_its_mapping_with_the_same_answers(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to MAPPED_ROWS_BYTES the rows are read through the mapping (no pread per row): the same ids and scores,
    in the same order, as pread gives."""
    backend = open_backend(tmp_path)
    put(backend, vectors(600), 0)
    backend.close()
    queries = vectors(20, seed=7)
    answers = {}
    for limit in (1 << 40, 0):
        monkeypatch.setattr(segments, "MAPPED_ROWS_BYTES", limit)
        backend = open_backend(tmp_path)
        answers[limit] = [backend.search(q, 50) for q in queries]
        segment = backend._segment
        assert segment is not None and (segment.reader is None) == (limit > 0)
        backend.close()
    assert answers[1 << 40] == answers[0] and all(len(a) == 50 for a in answers[0])


def test_two_writer_processes_with_background_merges_keep_the_store_whole(tmp_path: Path) -> None:
    backend = open_backend(tmp_path)
    put(backend, vectors(600), 0)  # a segment to start from
    backend.close()
    (start,) = tmp_path.glob("ann-*")
    child = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from index.store.embedded import backend as backend_module
        from index.store.embedded.backend import FaissBackend
        import test_ann_segment as t
        backend_module.DELTA_MIN = 60  # a merge after nearly every batch, in the background
        first = int(sys.argv[2])
        backend = FaissBackend(sys.argv[1], ann_threshold=300)
        vecs = t.vectors(400, seed=first)
        for n in range(4):
            t.put(backend, vecs[n * 100:(n + 1) * 100], first + 2 * n)
            backend.delete_document(f"d{{first + 2 * n:04d}}")  # delete half of what it wrote
        backend.close()  # waits for a merge under way
    """)
    procs = [subprocess.Popen([sys.executable, "-c", child, str(tmp_path), str(first)], stderr=subprocess.PIPE,
                              text=True) for first in (100, 200)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    backend = open_backend(tmp_path)
    assert backend.stats()["vectors"] == 600 + 2 * 4 * PER_DOC
    assert backend.check().ok
    (merged,) = tmp_path.glob("ann-*")
    assert merged != start  # the writers merged
    for first in (100, 200):
        vecs = vectors(400, seed=first)
        for n in range(4):
            kept, deleted = vecs[n * 100 + PER_DOC], vecs[n * 100]
            assert by_text(backend, backend.search(kept, 1)) == [f"chunk {first + 2 * n + 1} 0"]
            assert f"chunk {first + 2 * n} 0" not in by_text(backend, backend.search(deleted, 5))
    backend.close()


def test_a_store_above_the_threshold_without_a_segment_gets_one_when_maintained(tmp_path: Path) -> None:
    backend = open_backend(tmp_path, threshold=0)  # 0: never merge (a process that ended before its merge did)
    put(backend, vectors(400), 0)
    backend.close()
    backend = open_backend(tmp_path)  # threshold 300: a segment is due, and no write comes to start it
    assert backend.stats()["vector_index"] == "flat"
    assert backend.maintain()
    assert backend.stats()["vector_index"] == "ann" and backend.stats()["vectors"] == 400
    assert not backend.maintain()  # nothing more is due
    backend.close()


def test_a_filtered_search_finds_the_delta_chunks_it_passes_behind_many_it_does_not(tmp_path: Path) -> None:
    """The flat delta is searched with the filter, not filtered after its nearest: 450 new chunks of another
    language right on the query must not hide the 10 new ones the filter passes."""
    backend = open_backend(tmp_path)
    put(backend, vectors(600), 0)  # the segment; d0000-d0011, kk/ru/ky in turn
    query = vectors(1, seed=11)[0]
    near = query + 0.15 * np.random.default_rng(2).standard_normal((10, DIM)).astype(np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    with backend.writing():
        for d, lang, vecs in (("new-ru", "ru", np.repeat(query[None, :], 450, axis=0)), ("new-kk", "kk", near)):
            doc = DocumentRecord(doc_id=d, source=d, title=None, fmt="txt", sha256="0", size=0, languages=[lang])
            backend.put_document(doc, [NewChunk(i, f"{d} {i}", lang, None, 0, 1, 1, f"{d}-{i}", v)
                                       for i, v in enumerate(vecs)])
    assert backend.stats()["vector_index"] == "ann"
    new_kk = {c.chunk_id for c in backend.document_chunks("new-kk")}
    found = [cid for cid, _ in backend.search(query, 10, SearchFilters(langs=("kk", "ky")))]
    assert set(found) == new_kk
    backend.close()
