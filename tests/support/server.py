"""Start the real pedkb service (uvicorn in a subprocess) on a free port for tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from search_api.server import PROTOCOL
from tests.support.pgserver import free_port

REPO = Path(__file__).resolve().parents[2]


def start_pedkb(data: Path, env: dict[str, str], *, timeout: float = 300,
                log_name: str = "server.log") -> tuple[subprocess.Popen[bytes], str]:
    """Start uvicorn over `data` with `env`; returns the process and the base URL once /health/ready answers.

    Its output goes to `log_name` beside the data folder (appended, so a restart keeps the first run's lines).
    """
    port = free_port()
    log_path = data.parent / log_name
    with open(log_path, "a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "search_api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--http", PROTOCOL],
            cwd=REPO, env={**env, "PEDKB_DATA": str(data)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/api/v1/health/ready", timeout=2).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "pedkb did not start"
            time.sleep(0.3)
    except BaseException:
        process.kill()
        process.wait()
        raise


def stop_pedkb(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started by `start_pedkb` (SIGTERM, then SIGKILL after 20 s)."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serve_pedkb(data: Path, env: dict[str, str], *, timeout: float = 300) -> Iterator[str]:
    """uvicorn over `data` with `env`; yields the base URL once /health/ready answers (the model is loaded).

    Stops the server afterwards; its output goes to `server.log` beside the data folder, shown if it dies.
    """
    process, url = start_pedkb(data, env, timeout=timeout)
    try:
        yield url
    finally:
        stop_pedkb(process)
