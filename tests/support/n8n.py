"""A real n8n on loopback for the tests: installed once by `make n8n`, started fresh per session.

Facts behind the settings are in the shared n8n notes: 2.8.4 is the newest n8n that runs on Node 20;
`/healthz` answers before the migrations are done, so readiness waits for `/healthz/readiness` and
`/rest/settings`; an API key can only be made through the owner's session (no env var or CLI does it).
Everything that phones home is off, and both n8n's ports (HTTP and the task broker) are free
loopback ports, so two sessions on one machine do not collide.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

N8N_VERSION = "2.8.4"
DEFAULT_HOME = Path.home() / ".cache" / "aiwf" / f"n8n-{N8N_VERSION}"
OWNER = {
    "email": "owner@aiwf.test",
    "firstName": "Aiwf",
    "lastName": "Tests",
    "password": "Aiwf-tests-2026",  # n8n wants 8-64 characters, a digit and an upper-case letter
}


class N8nNotInstalled(RuntimeError):
    pass


class N8nFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class N8n:
    base_url: str
    api_key: str
    user_folder: Path
    log: Path

    def api(self) -> httpx.Client:
        """A client of the public API (`/api/v1/...`) with the owner's API key."""
        return httpx.Client(
            base_url=f"{self.base_url}/api/v1", headers={"X-N8N-API-KEY": self.api_key}, timeout=60
        )

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)


def n8n_home() -> Path:
    return Path(os.environ.get("AIWF_N8N_HOME") or DEFAULT_HOME)


def n8n_binary(home: Path | None = None) -> Path:
    """The installed `n8n` of the right version, or N8nNotInstalled saying how to install it."""
    home = home or n8n_home()
    binary = home / "node_modules" / ".bin" / "n8n"
    package = home / "node_modules" / "n8n" / "package.json"
    if not binary.exists() or not package.exists():
        raise N8nNotInstalled(
            f"n8n {N8N_VERSION} is not installed in {home}: run `make n8n` (about 4 minutes, 2.3 GB), "
            "or point AIWF_N8N_HOME at an install"
        )
    installed = json.loads(package.read_bytes()).get("version")
    if installed != N8N_VERSION:
        raise N8nNotInstalled(f"{home} holds n8n {installed}, not {N8N_VERSION}: run `make n8n N8N_HOME=...`")
    return binary


@contextmanager
def running_n8n(home: Path | None = None, *, ready_within: float = 180.0) -> Iterator[N8n]:
    """A fresh n8n (new user folder and SQLite database), set up with an owner and an API key;
    stopped with SIGTERM (then SIGKILL after 30 s) and its folder removed afterwards."""
    binary = n8n_binary(home)
    folder = Path(tempfile.mkdtemp(prefix="aiwf-n8n-"))
    port = _free_port()
    log = folder / "n8n.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), "start"],
            cwd=folder,
            env=_environment(folder, port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its task runners are its children: one signal reaches them all
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, log, ready_within)
        yield N8n(base_url=base_url, api_key=_create_api_key(base_url), user_folder=folder, log=log)
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _environment(folder: Path, port: int) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("N8N_", "DB_", "WEBHOOK_URL"))}
    return {
        **base,
        "N8N_USER_FOLDER": str(folder),
        "N8N_LISTEN_ADDRESS": "127.0.0.1",
        "N8N_PORT": str(port),
        "N8N_HOST": "127.0.0.1",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/",
        "N8N_RUNNERS_BROKER_LISTEN_ADDRESS": "127.0.0.1",
        "N8N_RUNNERS_BROKER_PORT": str(_free_port()),
        "N8N_SECURE_COOKIE": "false",
        "N8N_DIAGNOSTICS_ENABLED": "false",
        "N8N_PERSONALIZATION_ENABLED": "false",
        "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
        "N8N_TEMPLATES_ENABLED": "false",
        "N8N_AI_ENABLED": "false",
        "N8N_HIRING_BANNER_ENABLED": "false",
        "N8N_LICENSE_AUTO_RENEW_ENABLED": "false",
        "N8N_COMMUNITY_PACKAGES_ENABLED": "false",
        "EXTERNAL_FRONTEND_HOOKS_URLS": "",
        "N8N_DIAGNOSTICS_CONFIG_FRONTEND": "",
        "N8N_DIAGNOSTICS_CONFIG_BACKEND": "",
        "GENERIC_TIMEZONE": "Africa/Algiers",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path, within: float) -> None:
    deadline = time.monotonic() + within
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise N8nFailed(f"n8n exited with {process.returncode} while starting:\n{_tail(log)}")
            if _answers(client, "/healthz/readiness") and _answers(client, "/rest/settings"):
                return
            time.sleep(0.5)
    raise N8nFailed(f"n8n was not ready within {within:.0f} s:\n{_tail(log)}")


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def _create_api_key(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as session:
        _ok(session.post("/rest/owner/setup", json=OWNER), "owner setup")  # sets the n8n-auth cookie
        scopes = _ok(session.get("/rest/api-keys/scopes"), "API key scopes")["data"]
        key = {"label": "aiwf-tests", "scopes": scopes, "expiresAt": None}
        created = _ok(session.post("/rest/api-keys", json=key), "API key")["data"]
    return str(created["rawApiKey"])


def _ok(response: httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise N8nFailed(f"{what}: {response.status_code} {response.text[:500]}")
    return response.json()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
