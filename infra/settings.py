"""Every setting of the platform, read from the environment in one typed place.

A bad value stops start-up with a message naming the variable; nothing else reads `os.environ`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec


class Durability(enum.StrEnum):
    AUTO = "auto"  # wait for the local AOF fsync where the server can (WAITAOF), say so where it can't
    FSYNC = "fsync"  # refuse to start unless every append can wait for the local fsync
    NONE = "none"  # acknowledge on write (benchmarks, throwaway data)


class SettingsError(ValueError):
    """A variable holds a value we cannot use; the message names it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    redis_url: str | None = None
    database_url: str | None = None
    data_dir: Path = Path(".aiwf")
    partitions: int = 8
    key_prefix: str = "aiwf"
    durability: Durability = Durability.AUTO
    waitaof_timeout_ms: int = 1000
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None  # how consumers reach the API; None: derived from host and port
    log_level: str = "INFO"
    json_logs: bool = False
    auto_approve: bool = False  # the platform approves every valid workflow it drafts (demos only)
    read_wait_ms: int = 2000
    max_body_bytes: int = 64 * 1024
    rate_per_s: int = 50
    rate_burst: int = 100
    address_rate_per_s: int = 10  # requests without a recently checked key, per client address
    address_burst: int = 50
    idempotency_ttl_s: int = 86400
    n8n_url: str | None = None  # the tenants' n8n instance; None: approvals are not deployed
    n8n_api_key: str | None = msgspec.field(default=None)
    n8n_webhook_url: str | None = None  # n8n's WEBHOOK_URL when it differs from n8n_url
    keyring_path: Path | None = None  # the keyring file; None: <data_dir>/keyring.json, made on first start
    keyring_json: str | None = None  # the keyring document itself (from a secret store), before any file
    checkpoint_interval_s: int = 60  # signed Merkle checkpoints of the grown logs; 0: only on demand
    lease_ttl_ms: int = 10_000  # a partition's consumer is replaced this long after it stops renewing
    api_processes: int | None = None  # `aiwf run`'s API processes; None: half the cores; 0: one process
    worker_processes: int | None = None  # `aiwf run`'s handler processes; None: the other cores

    def __repr__(self) -> str:
        fields = {f: getattr(self, f) for f in self.__struct_fields__}
        for secret in ("n8n_api_key", "keyring_json"):
            if fields[secret] is not None:
                fields[secret] = "<hidden>"
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in fields.items())})"

    @property
    def keyring_file(self) -> Path:
        """AIWF_KEYRING, else the one the platform makes in its data folder on its first start."""
        return self.keyring_path or self.data_dir / "keyring.json"

    @property
    def api_url(self) -> str:
        """AIWF_PUBLIC_URL, else where `aiwf run` listens (a wildcard address read as loopback): the base
        of every event's `dataschema`."""
        if self.public_url is not None:
            return self.public_url
        host = "127.0.0.1" if self.host in {"", "0.0.0.0", "::"} else self.host  # noqa: S104 - compared, not bound
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value.startswith(tuple(s + "://" for s in schemes)):
            raise ValueError(f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return value

    return parse


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return number

    return parse


def _choice(enum_type: type[enum.StrEnum]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return enum_type(value.lower())
        except ValueError:
            raise ValueError(f"expected one of {', '.join(e.value for e in enum_type)}") from None

    return parse


def _bool(value: str) -> bool:
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _prefix(value: str) -> str:
    if not value or not value.replace("_", "").replace("-", "").isalnum():
        raise ValueError("expected letters, digits, '-' or '_'")
    return value


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("expected an http:// or https:// URL with a host, without query or fragment")
    return value.rstrip("/")


def _level(value: str) -> str:
    if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value.upper()


_SECRET = frozenset({"N8N_API_KEY", "AIWF_KEYRING_JSON"})

# variable → (field, parser)
_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "REDIS_URL": ("redis_url", _url(("redis", "rediss", "unix"))),
    "DATABASE_URL": ("database_url", _url(("postgresql", "postgres"))),
    "AIWF_DATA_DIR": ("data_dir", Path),
    "AIWF_PARTITIONS": ("partitions", _int_between(1, 1024)),
    "AIWF_KEY_PREFIX": ("key_prefix", _prefix),
    "AIWF_DURABILITY": ("durability", _choice(Durability)),
    "AIWF_WAITAOF_TIMEOUT_MS": ("waitaof_timeout_ms", _int_between(1, 60_000)),
    "AIWF_HOST": ("host", str),
    "AIWF_PORT": ("port", _int_between(1, 65535)),
    "AIWF_PUBLIC_URL": ("public_url", _public_url),
    "AIWF_LOG_LEVEL": ("log_level", _level),
    "AIWF_JSON_LOGS": ("json_logs", _bool),
    "AIWF_AUTO_APPROVE": ("auto_approve", _bool),
    "AIWF_READ_WAIT_MS": ("read_wait_ms", _int_between(0, 30_000)),
    "AIWF_MAX_BODY_BYTES": ("max_body_bytes", _int_between(1024, 10_000_000)),
    "AIWF_RATE_PER_S": ("rate_per_s", _int_between(1, 1_000_000)),
    "AIWF_RATE_BURST": ("rate_burst", _int_between(1, 1_000_000)),
    "AIWF_ADDRESS_RATE_PER_S": ("address_rate_per_s", _int_between(1, 1_000_000)),
    "AIWF_ADDRESS_BURST": ("address_burst", _int_between(1, 1_000_000)),
    "AIWF_IDEMPOTENCY_TTL_S": ("idempotency_ttl_s", _int_between(60, 30 * 86400)),
    "N8N_URL": ("n8n_url", _url(("http", "https"))),
    "N8N_API_KEY": ("n8n_api_key", str),
    "N8N_WEBHOOK_URL": ("n8n_webhook_url", _url(("http", "https"))),
    "AIWF_KEYRING": ("keyring_path", Path),
    "AIWF_KEYRING_JSON": ("keyring_json", str),
    "AIWF_CHECKPOINT_INTERVAL_S": ("checkpoint_interval_s", _int_between(0, 86400)),
    "AIWF_LEASE_TTL_MS": ("lease_ttl_ms", _int_between(300, 600_000)),
    "AIWF_API_PROCESSES": ("api_processes", _int_between(0, 256)),
    "AIWF_WORKER_PROCESSES": ("worker_processes", _int_between(1, 256)),
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment; an empty variable counts as unset."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for variable, (field, parse) in _VARIABLES.items():
        raw = env.get(variable, "").strip()
        if not raw:
            continue
        try:
            values[field] = parse(raw)
        except ValueError as exc:
            shown = "<hidden>" if variable in _SECRET else repr(raw)
            raise SettingsError(f"{variable}={shown} is not valid: {exc}") from None
    if ("n8n_url" in values) != ("n8n_api_key" in values):
        raise SettingsError(
            "N8N_URL and N8N_API_KEY go together: set both to deploy to n8n, or neither "
            "(see docs/deployment.md for how to make an API key)"
        )
    return Settings(**values)


def documented_variables() -> list[str]:
    return list(_VARIABLES)
