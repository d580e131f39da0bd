"""The embedded store's writer lock: one writer at a time per data folder, across threads and processes.

`WriterLock.for_folder(path)` hands every backend of one folder in a process the same object: a re-entrant
thread lock, and `flock` on `DATA/write.lock` taken by whichever thread holds it at depth 0 and released when that
thread leaves its outermost block. A second thread waits on the thread lock (not on the file), another process on
the file; nobody ever writes with the lock held by someone else, at any depth.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, ClassVar

log = logging.getLogger(__name__)

LOCK_NAME = "write.lock"


class WriterLock:
    """The write lock of one data folder (shared by every backend on that folder in this process)."""

    _registry: ClassVar[dict[Path, WriterLock]] = {}
    _registry_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._thread_lock = threading.RLock()
        self._depth = 0  # of the thread holding `_thread_lock`
        self._owner: int | None = None
        self._handle: IO[str] | None = None

    @classmethod
    def for_folder(cls, folder: Path) -> WriterLock:
        """The one lock object of a data folder in this process."""
        key = folder.resolve()
        with cls._registry_guard:
            lock = cls._registry.get(key)
            if lock is None:
                lock = cls._registry[key] = cls(key)
            return lock

    @property
    def held(self) -> bool:
        """True when the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    @contextlib.contextmanager
    def hold(self) -> Iterator[int]:
        """Hold the lock for a block; yields the depth (1 for the outermost block of this thread)."""
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                self._handle = self._lock_file()
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield self._depth
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                if self._depth == 0 and self._handle is not None:
                    fcntl.flock(self._handle, fcntl.LOCK_UN)
                    self._handle.close()
                    self._handle = None
        finally:
            self._thread_lock.release()

    def _lock_file(self) -> IO[str]:
        handle = open(self.path, "a+")  # noqa: SIM115 - held until the outermost block ends
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another pedkb process writing to %s", self.path.parent)
                fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        return handle
