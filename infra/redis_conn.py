"""One Redis connection for the whole process: standalone or Cluster, detected from the server.

Pipelines that must run on one connection (an append followed by WAITAOF) go to the node that owns
the partition's slot; plain commands go through the (cluster-aware) client.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)
MAX_CONNECTIONS = 512
POOL_WAIT_S = 10.0

AnyRedis = Redis | RedisCluster


class ServerFacts(msgspec.Struct, frozen=True, kw_only=True):
    product: str  # "redis" | "valkey"
    version: str
    cluster: bool
    appendonly: bool
    appendfsync: str = "unknown"  # always | everysec | no; unknown where CONFIG is refused

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split(".")[:3] if part.isdigit())

    @property
    def supports_waitaof(self) -> bool:
        return self.version_tuple >= (7, 2)

    def describe(self) -> str:
        mode = "cluster" if self.cluster else "standalone"
        return f"{self.product} {self.version} ({mode}, appendonly {'on' if self.appendonly else 'off'})"


def node_url(url: str, host: str, port: int | str) -> str:
    """`url` pointed at one Cluster node: the same scheme (TLS), credentials and options, another host."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    netloc = f"{credentials}@{address}" if credentials else address
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass
class RedisConnection:
    client: AnyRedis
    facts: ServerFacts
    url: str = ""
    _node_clients: dict[str, Redis] = field(default_factory=dict)

    async def client_for_key(self, key: str) -> Redis:
        """A client bound to the node that owns `key` (the client itself when standalone)."""
        if isinstance(self.client, Redis):
            return self.client
        node = self.client.get_node_from_key(key)
        if node is None:
            raise ConnectionError(f"no cluster node owns the slot of {key!r}")
        if node.name not in self._node_clients:
            self._node_clients[node.name] = Redis.from_url(node_url(self.url, node.host, node.port))
        return self._node_clients[node.name]

    def node_url_for_key(self, key: str) -> str:
        """The URL of the node that owns `key` on a Cluster, else the connection's own URL."""
        if isinstance(self.client, Redis):
            return self.url
        node = self.client.get_node_from_key(key)
        if node is None:
            raise ConnectionError(f"no cluster node owns the slot of {key!r}")
        return node_url(self.url, node.host, node.port)

    async def refresh_slots(self) -> None:
        """After a MOVED answer: relearn the slot map."""
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()

    async def close(self) -> None:
        for node_client in self._node_clients.values():
            await node_client.aclose()
        await self.client.aclose()


async def connect(url: str) -> RedisConnection:
    probe: Redis = Redis.from_url(url)
    try:
        info: dict[str, Any] = await probe.info()
        cluster = bool(int(info.get("cluster_enabled", 0)))
        appendonly = await _config(probe, "appendonly") == "yes"
        appendfsync = await _config(probe, "appendfsync") or "unknown"
    finally:
        await probe.aclose()
    product = "valkey" if "valkey_version" in info else "redis"
    version = str(info.get("valkey_version") or info.get("redis_version"))
    facts = ServerFacts(
        product=product, version=version, cluster=cluster, appendonly=appendonly, appendfsync=appendfsync
    )
    # Reconnect through a server restart; appends are idempotent, so re-sending one is safe.
    retry, on = Retry(ExponentialBackoff(cap=1.0, base=0.05), 6), [RedisConnectionError]
    client: AnyRedis
    if cluster:
        client = RedisCluster.from_url(url, retry=retry, retry_on_error=on, max_connections=MAX_CONNECTIONS)
    else:
        # Waits for a free connection under load instead of failing at once (redis-py's default pool
        # raises "Too many connections" past 100: SSE set-ups and appends then answer 500).
        pool = BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_S, retry=retry, retry_on_error=on
        )
        client = Redis(connection_pool=pool)
    if isinstance(client, RedisCluster):
        await client.initialize()
    return RedisConnection(client=client, facts=facts, url=url)


async def _config(client: Redis, name: str) -> str | None:
    """A server setting, lower-case; None where CONFIG is renamed or disabled (managed servers)."""
    try:
        config: dict[Any, Any] = await client.config_get(name)
    except ResponseError:
        return None
    value = config.get(name.encode(), config.get(name))
    if value is None:
        return None
    return (value.decode() if isinstance(value, bytes) else str(value)).lower()
