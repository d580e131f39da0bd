"""The embedded store's FAISS files: `vectors-<space>-<generation>.faiss`, found, read and replaced atomically."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faiss

log = logging.getLogger(__name__)


def list_files(folder: Path, space: str) -> list[tuple[int, Path]]:
    """(generation, path) of the vector files of a space, newest first."""
    found = []
    for path in folder.glob(f"vectors-{space}-*.faiss"):
        try:
            found.append((int(path.stem.rsplit("-", 1)[1]), path))
        except ValueError:
            continue
    return sorted(found, reverse=True)


def load_index(folder: Path, space: str, gen: int, dim: int) -> faiss.IndexIDMap2:
    """The newest readable file of the space not past `gen`, or an empty index of `dim` dimensions."""
    for file_gen, path in list_files(folder, space):
        if file_gen > gen:
            continue
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:  # vanished under us, or truncated by a crash: rebuild instead
            log.warning("ignoring unreadable vector file %s (%s)", path.name, exc)
            continue
        if not isinstance(index, faiss.IndexIDMap2):  # read_index returns the concrete class; ours is always this
            log.warning("ignoring vector file %s holding a %s", path.name, type(index).__name__)
            continue
        if index.d == dim:
            return index
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def write_file(blob: object, target: Path) -> None:
    """Write a serialised index to `target` by a synced temporary file and a rename; remove every other file."""
    tmp = target.with_suffix(".faiss.tmp")
    with open(tmp, "wb") as handle:
        blob.tofile(handle)  # type: ignore[attr-defined]  # a numpy array from faiss.serialize_index
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    for path in target.parent.glob("vectors-*.faiss*"):
        if path != target:
            path.unlink(missing_ok=True)


def remove_files(folder: Path) -> None:
    """Delete every vector file of the folder (before a rebuild from the rows)."""
    for path in folder.glob("vectors-*.faiss*"):
        path.unlink(missing_ok=True)
