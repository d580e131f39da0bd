"""Read untrusted files in a separate parser process with a memory cap and a wall-clock timeout.

The parser process does what touches the file's bytes: `read_and_repair` (format sniffing, the parser libraries,
text repair). This process then chunks the repaired text with its own tokenizer. The tokenizer is the embedding
model's: shipping it to the worker would load it once more per worker (hundreds of MB inside the memory cap, seconds
per restart), while chunking only walks text that is already bounded by PEDKB_MAX_TEXT_CHARS_PER_FILE and touches
no parser library. So the split keeps the worker small, restarts cheap, and the chunks identical to
`prepare_document`'s.

A worker is a fresh interpreter (`python -c`, never a fork of this process, which may hold torch threads and the
model; nor a multiprocessing child, which would re-run the caller's main module) that imports the same `ingest`
package and talks over a socket pair. Workers are reused between files. One that passes the timeout is killed and
replaced; one that dies (a segfault, the kernel's OOM killer) is replaced and its signal reported. The worker
answers in JSON, never in pickle: a parser compromised by a hostile file must not run code in this process by way
of its answer, and the answer's length is bounded when it is received.

Scanned pages are OCR'd inside the parser process too (ingest.ocr, after the read and before the repair), so the
rendering of an untrusted PDF stays there. OCR has its own time budget: the worker reports each page as it starts and
finishes OCR, and from the first such report the caller waits at most PEDKB_OCR_PAGE_TIMEOUT + PEDKB_PARSE_TIMEOUT_S
between two reports (a page's Tesseract run is stopped at PEDKB_OCR_PAGE_TIMEOUT inside the worker; rendering,
deskew and the final repair fit the parse budget). A long scan that keeps finishing pages is never killed by the
parse timeout; a worker that stops reporting is (docs/ocr.md).

A batch reads its scans in a pool of its own (`ParserPool(spare=False)`, index/documents.py and ingest/ocr/lane.py),
which it can `abort()` on an interruption: every worker of that pool, with its Tesseract runs, is killed at once. A
worker whose caller dies without stopping it (SIGKILL) notices that its parent changed and kills its own process
group within a second, so no OCR runs on for a dead ingest.
"""

from __future__ import annotations

import atexit
import importlib
import json
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import ingest
from ingest import read_and_repair
from ingest.document import ExtractedDocument, Page
from ingest.limits import MB, ReadLimits, setting_name
from ingest.ocr import OcrDeferred, OcrOptions, OcrProgress
from pedkb import errors
from pedkb.errors import LimitExceededError, ParserCrashError, ReadError

logger = logging.getLogger(__name__)

Extractor = Callable[..., ExtractedDocument]  # called as extract(path, max_bytes=..., limits=..., ocr=...)
_WORKER_CODE = "import sys; from ingest.sandbox import serve; serve(int(sys.argv[1]))"
# One BLAS thread and two malloc arenas keep the worker's address space near what it uses, so RLIMIT_AS means memory.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1", "MALLOC_ARENA_MAX": "2"}
READER_MODULES = ("ingest.readers.pdf", "ingest.readers.docx", "ingest.readers.html", "ingest.readers.text",
                  "ingest.readers.image", "ingest.ocr.run")
MAX_IDLE_WORKERS = 4
START_TIMEOUT_S = 120
PARENT_CHECK_S = 1.0  # how often a worker checks that the process that started it is alive
_MEMORY_MARGIN = 32 * MB  # a failure this close to the cap is reported as running out of memory
_JSON_BYTES_PER_CHAR = 12  # the most ASCII JSON spends on one character (a surrogate pair, \\ud83d\\ude00)
_ANSWER_OVERHEAD = 16 * MB
_READ_ERRORS: dict[str, type[ReadError]] = {
    cls.__name__: cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, ReadError)
}


def read_isolated(path: Path, *, max_bytes: int, limits: ReadLimits | None = None, isolate: bool = True,
                  ocr: OcrOptions | None = None, pool: ParserPool | None = None) -> ExtractedDocument:
    """`read_and_repair` (scanned pages OCR'd with `ocr`) in a resource-limited parser process of `pool` (default:
    the shared one; `isolate=False`: in this process); chunk the result with `ingest.chunk_document`, as
    `prepare_document` does. OcrDeferred when `ocr.defer` and the file has pages to OCR."""
    limits = limits or ReadLimits.defaults()
    if isolate:
        return (pool or default_pool()).read(path, max_bytes=max_bytes, limits=limits, ocr=ocr)
    return read_and_repair(path, max_bytes=max_bytes, limits=limits, ocr=ocr)


@dataclass(eq=False)
class _Worker:
    """One parser process and this side of its socket."""

    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False

    def wait_ready(self, path: Path) -> None:
        """Wait until the process has imported the readers, so that start-up is not counted as parsing time."""
        if self.ready:
            return
        if not self.conn.poll(START_TIMEOUT_S) or json.loads(self.conn.recv_bytes(1024)) != {"ready": True}:
            raise ParserCrashError(path, f"the parser process did not start within {START_TIMEOUT_S} s")
        self.ready = True

    def stop(self) -> None:
        """Kill the process (it may be hung in C code) with the Tesseract runs it started, and reap it."""
        self.conn.close()
        self.kill()
        self.process.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL the worker's process group (it leads its own): the worker and the Tesseract runs it started."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class ParserPool:
    """Parser processes started on demand and reused, with one spare (`spare=False`: none); one that fails is killed
    and replaced; `abort()` kills them all, busy or not."""

    def __init__(self, *, spare: bool = True) -> None:
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self.spare, self.aborted = spare, False

    def read(self, path: Path, *, max_bytes: int, limits: ReadLimits, extract: Extractor = read_and_repair,
             ocr: OcrOptions | None = None) -> ExtractedDocument:
        """`extract(path, ...)` (read, OCR, repair) run in a parser process within `limits` (errors: ReadError);
        OCR progress goes to `ocr.on_page` here."""
        ocr = ocr or OcrOptions()
        worker = self._take(path)
        reusable = False
        try:
            try:
                worker.wait_ready(path)
                worker.conn.send((extract, Path(os.path.abspath(path)), max_bytes, limits, replace(ocr, on_page=None)))
            except (EOFError, OSError) as exc:
                raise self._death(worker, path, exc) from None
            answer = self._answer(worker, path, limits, ocr)
            reusable = not answer.get("retire")
            return _document(answer, path, limits)
        finally:
            with self._lock:
                self._busy.discard(worker)
            if reusable:
                self._give_back(worker)
            else:
                worker.stop()
                self._keep_spare()

    def _answer(self, worker: _Worker, path: Path, limits: ReadLimits, ocr: OcrOptions) -> dict[str, Any]:
        """The worker's final answer; OCR progress reports on the way extend its time (see the module docstring)."""
        wait_s, ocr_started = limits.parse_timeout_s, False
        while True:
            try:
                answered = worker.conn.poll(wait_s)
                if not answered:
                    raise LimitExceededError(path, _timeout_reason(limits, ocr, ocr_started))
                payload = worker.conn.recv_bytes(_JSON_BYTES_PER_CHAR * limits.max_text_chars_per_file
                                                 + _ANSWER_OVERHEAD)
            except (EOFError, OSError) as exc:
                raise self._death(worker, path, exc) from None
            answer: dict[str, Any] = json.loads(payload)
            if "ocr" not in answer:
                return answer
            ocr_started, wait_s = True, ocr.page_timeout + limits.parse_timeout_s
            try:
                progress = OcrProgress.from_json(str(path), answer["ocr"])
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                raise ParserCrashError(path, f"the parser process sent a malformed OCR report ({exc})") from None
            if ocr.on_page is not None:
                ocr.on_page(progress)

    def close(self) -> None:
        """Stop the idle workers."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def abort(self) -> None:
        """Kill every worker, busy ones with their Tesseract runs too (their callers get ParserCrashError), and
        start no new one."""
        with self._lock:
            self.aborted = True
            idle, busy, self._idle = self._idle, list(self._busy), []
        for worker in busy:
            worker.kill()  # its caller's `read` gets EOF and stops (reaps) it
        for worker in idle:
            worker.stop()

    def _take(self, path: Path) -> _Worker:
        """An idle worker, or a new one; a spare is started when none is left, so a failure costs no start-up."""
        with self._lock:
            if self.aborted:
                raise ParserCrashError(path, "the ingest was interrupted")
            while self._idle:
                worker = self._idle.pop(0)
                if worker.process.poll() is None:
                    break
                worker.stop()
            else:
                worker = self._start()
            self._busy.add(worker)
        self._keep_spare()
        return worker

    def _keep_spare(self) -> None:
        """Start a worker if none is idle: it imports while the caller works, ready for the next file."""
        with self._lock:
            if self.spare and not self.aborted and not self._idle:
                self._idle.append(self._start())

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self.aborted and len(self._idle) < MAX_IDLE_WORKERS:
                self._idle.append(worker)
                return
        worker.stop()

    @staticmethod
    def _start() -> _Worker:
        """A new parser process running the `ingest` package this process runs."""
        ours, theirs = socket.socketpair()
        package_root = str(Path(ingest.__file__).resolve().parents[1])
        python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_CODE, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env={**os.environ, **_WORKER_ENV, "PYTHONPATH": python_path}, process_group=0,
            )
        finally:
            theirs.close()
        return _Worker(process, Connection(ours.detach()))

    def _death(self, worker: _Worker, path: Path, exc: BaseException) -> ReadError:
        """The error to report for a worker that died instead of answering."""
        if self.aborted:
            return ParserCrashError(path, "the ingest was interrupted")
        try:
            code: int | None = worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else "unknown"
            how = f"signal {-code}, {name}"
        else:
            how = f"exit code {code}" if code is not None else f"no answer: {exc}"
        logger.error("the parser process died reading %s (%s)", errors.printable_path(path), how)
        return ParserCrashError(path, f"the parser process crashed ({how})")


_POOL = ParserPool()
atexit.register(_POOL.close)


def default_pool() -> ParserPool:
    """The parser processes shared by this process."""
    return _POOL


def _timeout_reason(limits: ReadLimits, ocr: OcrOptions, ocr_started: bool) -> str:
    """Why a worker that stopped answering was given up."""
    if ocr_started:
        return (f"OCR reported no page for {ocr.page_timeout + limits.parse_timeout_s:g} s (PEDKB_OCR_PAGE_TIMEOUT "
                f"+ {setting_name('parse_timeout_s')})")
    return f"parsing took longer than {limits.parse_timeout_s:g} s ({setting_name('parse_timeout_s')})"


def _page(number: int | None, text: str, ocr: bool = False, confidence: float | None = None) -> Page:
    """A page from its JSON list [number, text, ocr, confidence]."""
    return Page(number, str(text), ocr=ocr is True, ocr_confidence=None if confidence is None else float(confidence))


def _document(answer: dict[str, Any], path: Path, limits: ReadLimits) -> ExtractedDocument:
    """The document, or the error, that a worker's JSON answer describes."""
    if isinstance(answer.get("deferred"), int):
        raise OcrDeferred(answer["deferred"])
    if "document" in answer:
        doc = answer["document"]
        return ExtractedDocument(
            source=str(path), fmt=str(doc["fmt"]), pages=[_page(*page) for page in doc["pages"]],
            title=doc["title"], encoding=doc["encoding"], meta={str(k): str(v) for k, v in doc["meta"].items()},
            warnings=[str(warning) for warning in doc.get("warnings", [])],
        )
    if answer.get("memory"):
        error: ReadError = LimitExceededError(
            path, f"parser ran out of memory (limit {limits.parse_memory_mb} MB, {setting_name('parse_memory_mb')})"
        )
    elif "error" in answer:
        error = _READ_ERRORS.get(answer["error"], ReadError)(path, str(answer["reason"]))
    else:
        logger.error("the parser failed on %s:\n%s", errors.printable_path(path), answer.get("trace", ""))
        error = ParserCrashError(path, f"the parser failed ({answer.get('failed')})")
    raise error


# --- the worker side ------------------------------------------------------------------------------------------


def serve(fd: int) -> None:
    """The parser process's loop: answer one request at a time, each under its memory cap, until the socket closes."""
    conn = Connection(fd)
    _watch_parent(os.getppid())
    for module in READER_MODULES:  # imported before the footprint is measured: the cap is for parsing only
        importlib.import_module(module)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    footprint = _address_space()
    conn.send_bytes(b'{"ready": true}')
    while True:
        try:
            extract, path, max_bytes, limits, ocr = conn.recv()
        except (EOFError, OSError):
            return
        cap = None if footprint is None else footprint + limits.parse_memory_mb * MB
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, resource.RLIM_INFINITY))
        answer = _answer(extract, path, max_bytes, limits, _reporting(ocr, conn))
        if cap is not None and _peak_address_space() > cap - _MEMORY_MARGIN:
            answer["retire"] = True  # the peak stays: a fresh worker lets the next file be judged on its own
            if "document" not in answer:
                answer["memory"] = True
        conn.send_bytes(json.dumps(answer).encode("ascii"))


def _watch_parent(parent: int) -> None:
    """Kill this worker's process group (itself and its Tesseract runs) once the process that started it is gone:
    a caller killed with SIGKILL cannot stop its workers, and a worker in the middle of a long OCR would run on."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _reporting(ocr: OcrOptions, conn: Connection) -> OcrOptions:
    """`ocr` with each page's progress sent to the caller as {"ocr": {...}}."""
    def send(progress: OcrProgress) -> None:
        conn.send_bytes(json.dumps({"ocr": progress.to_json()}).encode("ascii"))

    return replace(ocr, on_page=send)


def _answer(extract: Extractor, path: Path, max_bytes: int, limits: ReadLimits, ocr: OcrOptions) -> dict[str, Any]:
    try:
        doc = extract(path, max_bytes=max_bytes, limits=limits, ocr=ocr)
    except OcrDeferred as deferred:
        return {"deferred": deferred.pages}
    except ReadError as exc:
        # libraries report a refused allocation in their own words ("malloc failed", "Memory allocation failed")
        lost_memory = any(word in exc.reason.lower() for word in ("memory", "malloc", "alloc"))
        return {"error": type(exc).__name__, "reason": exc.reason, "memory": lost_memory, "retire": lost_memory}
    except MemoryError:
        return {"memory": True, "retire": True}
    except Exception as exc:  # a bug or a library failure: reported for this file, the worker is replaced
        return {"failed": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(), "retire": True}
    return {"document": {"fmt": doc.fmt, "title": doc.title, "encoding": doc.encoding, "meta": doc.meta,
                         "warnings": doc.warnings,
                         "pages": [[page.number, page.text, page.ocr, page.ocr_confidence] for page in doc.pages]}}


def _address_space() -> int | None:
    """This process's virtual size in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _peak_address_space() -> int:
    """The highest virtual size this process reached, in bytes (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
