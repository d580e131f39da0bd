"""The OCR lane of a batch: files with pages to OCR are read one at a time by a background thread, in a parser pool
of their own, while the caller goes on with the rest of the batch and collects the results when they are ready.

The lane only reads (`work(job, pool)`: read, OCR, repair, chunk); the caller stores. One scan at a time keeps the
cores for the scan's pages (`OcrOptions.workers` in parallel) and the born-digital files the caller reads meanwhile.
`close(abort=True)` (an interrupted batch) kills the lane's parser processes with their Tesseract runs; a job then
running ends with ParserCrashError, one waiting is dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from ingest.sandbox import ParserPool

logger = logging.getLogger(__name__)

Job = TypeVar("Job")
Result = TypeVar("Result")


@dataclass(frozen=True)
class LaneOutcome(Generic[Job, Result]):
    """A finished job: its result, or the exception its work raised."""

    job: Job
    result: Result | None = None
    error: Exception | None = None


class OcrLane(Generic[Job, Result]):
    """A background thread running `work(job, pool)` for each submitted job, in order, one at a time."""

    def __init__(self, work: Callable[[Job, ParserPool], Result]) -> None:
        self._work = work
        self.pool = ParserPool(spare=False)
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._outcomes: queue.SimpleQueue[LaneOutcome[Job, Result]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._cancelled = threading.Event()
        self.pending = 0  # submitted and not yet collected

    @property
    def cancelled(self) -> bool:
        """True once the lane was closed with `abort`: work still running should stop."""
        return self._cancelled.is_set()

    def submit(self, job: Job) -> None:
        """Queue a job; the thread starts with the first one."""
        if self._thread is None:
            # a daemon: an interrupted batch must not wait at exit for a scan it gave up
            self._thread = threading.Thread(target=self._run, name="ocr-lane", daemon=True)
            self._thread.start()
        self.pending += 1
        self._jobs.put(job)

    def collect(self, *, wait: bool = False) -> Iterator[LaneOutcome[Job, Result]]:
        """The outcomes finished so far (`wait`: every pending one, as each finishes)."""
        while self.pending:
            try:
                outcome = self._outcomes.get(block=wait)
            except queue.Empty:
                return
            self.pending -= 1
            yield outcome

    def close(self, *, abort: bool = False) -> None:
        """Let the thread end; `abort` also kills the lane's parser processes (the running job fails)."""
        if abort:
            self._cancelled.set()
            self.pool.abort()
        else:
            self.pool.close()
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self.cancelled:
                return
            try:
                outcome: LaneOutcome[Job, Result] = LaneOutcome(job, self._work(job, self.pool))
            except Exception as exc:  # noqa: BLE001 - handed to the caller, who reports it for this file
                outcome = LaneOutcome(job, error=exc)
            self._outcomes.put(outcome)
