"""The embedded store's approximate (ANN) main segment: an immutable, memory-mapped folder per generation.

A segment `ann-<space>-<generation>/` holds the chunks of the store at that generation:
- `graph.usearch`: a usearch HNSW graph over int8-quantised vectors, keyed by chunk id, opened as a read-only
  memory-mapped view (`Index.restore(view=True)`), so every process serving the folder shares its pages;
- `ids.npy`: the chunk ids, sorted; `vectors.npy`: their float32 vectors in the same order, memory-mapped for merges
  and checks. Searches read the rows they re-score through the mapping while the file is at most MAPPED_ROWS_BYTES
  (0.1 ms for 400 rows), and with pread above it (`VectorReader`, 1 ms for 400 rows: a read per row, but the rows
  a search reads do not stay in its RSS, which mapped reads of a 1M segment's 1.5 GB would fill).
The graph proposes candidates; their exact inner products are recomputed from `vectors.npy` (int8 alone loses
about a quarter of the true top 10 on clustered vectors; re-scoring a few dozen candidates brings recall@10 to 0.99).
Chunks written after the segment (the delta) and chunks deleted since (tombstones) are derived from the SQLite rows
by the backend, so a write never touches these files. A merge writes a new segment into a temporary folder and
renames it into place; a crash leaves the previous segment and the rows, and the temporary folder is removed by the
next merge (which runs under `merge.lock`, one per folder across processes).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index

log = logging.getLogger(__name__)

GRAPH = "graph.usearch"
IDS = "ids.npy"
VECTORS = "vectors.npy"
CONNECTIVITY = 16  # graph edges per node (usearch's default); 1M chunks: about 130 MB of graph
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64
COPY_BLOCK = 65_536  # vectors copied per step into a new segment
MAPPED_ROWS_BYTES = 256 << 20  # vectors.npy up to this size (174k chunks of 384 dims) is re-scored through the mapping
PARALLEL_ADD_MIN = 20_000  # fewer vectors are added to a graph on one thread (deterministic, fast enough)


@dataclass
class Segment:
    """An open segment: the graph view and the memory-mapped ids and vectors."""

    path: Path
    generation: int
    graph: Index
    ids: np.ndarray  # int64, sorted
    vectors: np.ndarray  # float32 (len(ids), dim), rows aligned with ids (mapped: for merges and checks)
    reader: VectorReader | None = None  # the same rows read with pread (searches of a large segment)

    @property
    def dim(self) -> int:
        """Vector dimensions."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.ids.size)

    def candidates(self, query: np.ndarray, count: int,
                   passes: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, exact inner products) of the graph's `count` nearest, best first; with `passes` (chunk ids ->
        a mask), only those it passes, dropped before they are re-scored (a filter to another language than the
        query's passes a small share of the nearest, and re-scoring is what a filtered search spends most on)."""
        count = min(count, len(self))
        if count <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self.graph.expansion_search = max(EXPANSION_SEARCH, count)  # type: ignore[misc]  # has a setter
        keys = np.asarray(self.graph.search(query, count, threads=1).keys, dtype=np.int64)
        if passes is not None:
            keys = keys[passes(keys)]
        return self.rescore(query, keys)

    def rescore(self, query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, exact scores) of those `keys` that are in the segment, best first."""
        rows = np.searchsorted(self.ids, keys)
        found = rows < self.ids.size
        found[found] = self.ids[rows[found]] == keys[found]
        rows = rows[found]
        rows = np.sort(rows)  # ascending file order: neighbouring rows are read at once
        vectors = self.reader.rows(rows) if self.reader is not None else self.vectors[rows]
        # einsum, not `@`: numpy's threaded BLAS gemv took 30-45 ms for 1,500 rows on 2 busy cores, einsum 0.06 ms
        scores = np.einsum("ij,j->i", vectors, query)
        order = np.argsort(-scores, kind="stable")
        return self.ids[rows][order], scores[order]

    def close(self) -> None:
        """Drop the mappings (the arrays go with the last reference)."""
        with contextlib.suppress(Exception):
            self.graph.reset()
        if self.reader is not None:
            self.reader.close()


class VectorReader:
    """Rows of a `.npy` float32 matrix read with pread into this process's memory.

    Re-scoring reads a few dozen to a few thousand scattered rows per search. Read through the mapping, every page
    touched stays counted in the process's RSS (at 1M chunks 1.5 GB of vectors after enough searches, though the
    pages are clean and shared); read with pread, they stay in the page cache, shared by all workers, and the
    process holds only the rows of the search in hand.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        with open(path, "rb") as header:
            major, _ = np.lib.format.read_magic(header)
            if major == 1:
                np.lib.format.read_array_header_1_0(header)
            else:
                np.lib.format.read_array_header_2_0(header)
            self.offset = header.tell()
        self.row_bytes = dim * 4
        self.dim = dim

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of `rows` (ascending), as a (len(rows), dim) float32 array."""
        if self.fd < 0:
            raise OSError("the segment's vectors file is closed")
        buffer = bytearray(rows.size * self.row_bytes)
        if rows.size == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        view = memoryview(buffer)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1  # runs of consecutive rows: one read each
        for start, end in zip(np.r_[0, breaks], np.r_[breaks, rows.size], strict=True):
            want = (end - start) * self.row_bytes
            got = os.preadv(self.fd, [view[start * self.row_bytes:end * self.row_bytes]],
                            self.offset + int(rows[start]) * self.row_bytes)
            if got != want:
                raise OSError(f"short read of the segment's vectors ({got} of {want} bytes)")
        return np.frombuffer(buffer, dtype=np.float32).reshape(rows.size, self.dim)

    def close(self) -> None:
        """Close the file (once: a second close must not close a descriptor the number was given again)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def list_segments(folder: Path, space: str) -> list[tuple[int, Path]]:
    """(generation, path) of the complete segments of a space, newest first."""
    found = []
    for path in folder.glob(f"ann-{space}-*"):
        try:
            found.append((int(path.name.rsplit("-", 1)[1]), path))
        except ValueError:
            continue
    return sorted(found, reverse=True)


def open_segment(path: Path, generation: int, dim: int) -> Segment:
    """Map a segment; raises ValueError (or OSError) when it is unreadable or inconsistent."""
    ids = np.load(path / IDS, mmap_mode="r")
    vectors = np.load(path / VECTORS, mmap_mode="r")
    if ids.ndim != 1 or vectors.ndim != 2 or vectors.shape != (ids.size, dim) or vectors.dtype != np.float32:
        raise ValueError(f"ids {ids.shape} and vectors {vectors.shape} {vectors.dtype} do not match {dim} dims")
    graph = Index.restore(str(path / GRAPH), view=True)
    if graph is None or graph.ndim != dim or len(graph) != ids.size:
        raise ValueError(f"graph of {0 if graph is None else len(graph)} vectors for {ids.size} ids")
    reader = VectorReader(path / VECTORS, dim) if vectors.nbytes > MAPPED_ROWS_BYTES else None
    return Segment(path, generation, graph, ids, vectors, reader)


def load_newest(folder: Path, space: str, gen: int, dim: int) -> Segment | None:
    """The newest readable segment of the space not past `gen`, or None."""
    for seg_gen, path in list_segments(folder, space):
        if seg_gen > gen:
            continue
        try:
            return open_segment(path, seg_gen, dim)
        except (OSError, ValueError, RuntimeError) as exc:  # usearch raises RuntimeError on a damaged file
            log.warning("ignoring unreadable ANN segment %s (%s)", path.name, exc)
    return None


@contextlib.contextmanager
def merge_lock(folder: Path) -> Iterator[bool]:
    """`merge.lock` of the folder, without waiting: yields False when another thread or process merges."""
    with open(folder / "merge.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_segment(folder: Path, space: str, gen: int, base: Segment | None, removed: np.ndarray,
                  added_ids: np.ndarray, added_vectors: np.ndarray, dim: int, threads: int) -> Path:
    """Write the segment of generation `gen`: `base` without `removed` plus the added chunks. The base graph is
    copied and edited (usearch removes and inserts in place); without a base the graph is built from scratch.
    The caller holds `merge_lock`. Returns the published folder."""
    for stale in folder.glob(".ann-*.tmp"):  # a merge killed half-way (only the merge lock holder writes these)
        log.info("removing the unfinished ANN segment %s", stale.name)
        shutil.rmtree(stale, ignore_errors=True)
    target = folder / f"ann-{space}-{gen}"
    tmp = folder / f".ann-{space}-{gen}.tmp"
    tmp.mkdir()
    try:
        if base is not None:
            keep = np.ones(len(base), dtype=bool)
            if removed.size:
                keep[np.searchsorted(base.ids, removed)[np.isin(removed, base.ids)]] = False
            base_rows = np.flatnonzero(keep)
            base_ids = np.asarray(base.ids[base_rows])
        else:
            base_rows = np.zeros(0, np.int64)
            base_ids = np.zeros(0, np.int64)
        all_ids = np.concatenate([base_ids, added_ids.astype(np.int64)])
        order = np.argsort(all_ids, kind="stable")
        np.save(tmp / IDS, all_ids[order])
        out = np.lib.format.open_memmap(tmp / VECTORS, mode="w+", dtype=np.float32, shape=(all_ids.size, dim))
        for start in range(0, order.size, COPY_BLOCK):
            part = order[start:start + COPY_BLOCK]
            from_base = part < base_rows.size
            block = np.empty((part.size, dim), dtype=np.float32)
            if from_base.any():
                block[from_base] = base.vectors[base_rows[part[from_base]]] if base is not None else 0
            if (~from_base).any():
                block[~from_base] = added_vectors[part[~from_base] - base_rows.size]
            out[start:start + part.size] = block
        out.flush()
        del out
        if base is not None:
            graph = Index.restore(str(base.path / GRAPH))  # an editable copy in memory
            if graph is None:
                raise ValueError(f"cannot read {base.path / GRAPH}")
            gone = removed[np.isin(removed, base.ids)]
            if gone.size:
                graph.remove(gone.astype(np.uint64))
        else:
            graph = Index(ndim=dim, metric="ip", dtype="i8", connectivity=CONNECTIVITY,
                          expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)
        if added_ids.size:
            # A few thousand vectors are added in well under a second on one thread, which also gives the same
            # graph every time; several threads inserting at once once gave a graph of 600 vectors a recall@10 of
            # 0.87 (one CI run; 50 repeats gave 0.985-1.0), so only large additions run in parallel.
            graph.add(added_ids.astype(np.uint64), np.ascontiguousarray(added_vectors, dtype=np.float32),
                      threads=threads if added_ids.size >= PARALLEL_ADD_MIN else 1)
        graph.save(str(tmp / GRAPH))
        graph.reset()
        for name in (IDS, VECTORS, GRAPH):
            _fsync(tmp / name)
        _fsync(tmp)
        if target.exists():  # the same generation published already (by another process before us)
            shutil.rmtree(tmp, ignore_errors=True)
            return target
        os.replace(tmp, target)
        _fsync(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("ANN segment %s written: %d vectors (%d added, %d removed)", target.name, all_ids.size,
             added_ids.size, int(removed.size))
    return target


def remove_older(folder: Path, keep: Path) -> None:
    """Delete every other segment folder (processes that still map one keep their pages until they reload)."""
    for path in folder.glob("ann-*"):
        if path != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def remove_all(folder: Path) -> None:
    """Delete every segment folder, finished or not (before a rebuild from the rows)."""
    for path in [*folder.glob("ann-*"), *folder.glob(".ann-*.tmp")]:
        shutil.rmtree(path, ignore_errors=True)


def size_bytes(folder: Path) -> int:
    """Bytes of the segment folders."""
    return sum(p.stat().st_size for p in folder.glob("ann-*/*") if p.is_file())
