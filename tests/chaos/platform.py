"""The platform as it runs in production, for the chaos suite: `aiwf api` and `aiwf worker` processes of
their own, reaching Valkey and PostgreSQL through fault proxies, a fake n8n as the tenants' instance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.settings import Settings

LEASE_TTL_MS = 1500  # a dead or paused worker's partitions are taken over within this
PARTITIONS = 4
READY_S = 60.0
STOP_S = 30.0
# Nothing of the machine's own configuration may leak in: the platform runs on the offline planner.
_FOREIGN = ("AIWF_", "ANTHROPIC", "VLLM", "N8N_", "REDIS_URL", "DATABASE_URL", "OTEL_")


@dataclass
class Platform:
    home: Path
    redis_url: str
    database_url: str
    n8n_url: str
    n8n_api_key: str
    api_port: int
    prefix: str = "chaos"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def settings(self) -> Settings:
        """What the processes load from `env()`, for the checker's own reads of the log."""
        return Settings(
            redis_url=self.redis_url,
            database_url=self.database_url,
            data_dir=self.home / "data",
            partitions=PARTITIONS,
            key_prefix=self.prefix,
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
        return env | {
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "AIWF_DATA_DIR": str(self.home / "data"),
            "AIWF_PARTITIONS": str(PARTITIONS),
            "AIWF_KEY_PREFIX": self.prefix,
            "AIWF_DURABILITY": "fsync",  # refuse to start unless every append waits for the AOF fsync
            "AIWF_PORT": str(self.api_port),
            "AIWF_AUTO_APPROVE": "true",  # every valid workflow goes on to the deployer
            "AIWF_LEASE_TTL_MS": str(LEASE_TTL_MS),
            "AIWF_CHECKPOINT_INTERVAL_S": "0",
            "AIWF_READ_WAIT_MS": "2000",
            "AIWF_RATE_PER_S": "100000",
            "AIWF_RATE_BURST": "100000",
            "AIWF_ADDRESS_RATE_PER_S": "100000",
            "AIWF_ADDRESS_BURST": "100000",
            "N8N_URL": self.n8n_url,
            "N8N_API_KEY": self.n8n_api_key,
        }

    def aiwf(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra.cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def migrate(self) -> None:
        done = self.aiwf("migrate")
        assert done.returncode == 0, done.stderr

    def create_key(self, tenant: str, role: str = "member") -> str:
        made = self.aiwf("keys", "create", "--tenant", tenant, "--role", role)
        assert made.returncode == 0, made.stderr
        return next(word for word in made.stdout.split() if word.startswith("aiwf_"))

    def start_api(self) -> None:
        self._spawn("api", "api")
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
            self._alive("api")
        raise AssertionError(f"aiwf api did not answer within {READY_S} s: {self.log_tail('api')}")

    def start_worker(self, name: str) -> None:
        self._spawn(name, "worker")
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if "partition workers as" in self.log(name):
                return
            self._alive(name)
            time.sleep(0.05)
        raise AssertionError(f"aiwf worker {name} did not start within {READY_S} s: {self.log_tail(name)}")

    def kill9(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=10)

    def pause(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def stop(self) -> dict[str, int]:
        """SIGTERM to every process, then their exit codes (a process still alive after STOP_S is killed)."""
        for process in self.processes.values():
            process.send_signal(signal.SIGCONT)
            process.terminate()
        codes: dict[str, int] = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait(timeout=10)
        self.processes.clear()
        return codes

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, name: str, lines: int = 40) -> str:
        return "\n".join(self.log(name).splitlines()[-lines:])

    def _spawn(self, name: str, *args: str) -> None:
        with (self.home / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "infra.cli", *args], env=self.env(), stdout=log, stderr=log
            )

    def _alive(self, name: str) -> None:
        code = self.processes[name].poll()
        if code is not None:
            raise AssertionError(f"{name} exited {code}: {self.log_tail(name)}")
