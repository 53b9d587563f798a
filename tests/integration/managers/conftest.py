"""The main job on real Redis and PostgreSQL: projectors and process managers on one runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from commands.context import CommandContext
from commands.conversations import send_message, start_conversation
from commands.conversations import stream_of as conversation_stream
from domain.envelope import StoredEvent
from domain.n8n.catalog import default_catalog
from handlers.app import HandlerRuntime
from handlers.managers import ManagerDeps
from inference.config import build_gateway, gateway_config_from_env
from inference.gateway import Gateway
from infra.event_store import RedisEventStore
from projections.catalog import PROJECTORS
from tests.integration.handlers.conftest import FAST, runtime_for
from tests.integration.inference.conftest import anthropic_server, openai_server

__all__ = ["anthropic_server", "openai_server"]  # fixtures the manager tests share with the gateway's


def offline_gateway() -> Gateway:
    return build_gateway(gateway_config_from_env({}))


def deps_for(store: RedisEventStore, gateway: Gateway, *, auto_approve: bool = False) -> ManagerDeps:
    return ManagerDeps(
        store=store,
        gateway=gateway,
        catalog=default_catalog(),
        clock=lambda: datetime.now(UTC),
        auto_approve=auto_approve,
    )


@dataclass
class MainJob:
    store: RedisEventStore
    runtime: HandlerRuntime

    async def conversation(self, tenant: str = "acme") -> str:
        ctx = CommandContext(tenant=tenant, actor="k1", now=datetime.now(UTC))
        result = await start_conversation(self.store, ctx, title=None, language=None)
        return result.stream.removeprefix("conversation-")

    async def say(self, cid: str, text: str, tenant: str = "acme") -> None:
        ctx = CommandContext(tenant=tenant, actor="k1", now=datetime.now(UTC))
        await send_message(self.store, ctx, cid, text)

    async def events(self, cid: str) -> list[StoredEvent]:
        return await self.store.read_stream(conversation_stream(cid))

    async def replies(self, cid: str, count: int = 1, timeout_s: float = 20.0) -> list[StoredEvent]:
        """Waits until the conversation has `count` assistant replies, and for the runtime to settle."""
        async with asyncio.timeout(timeout_s):
            while True:
                found = [
                    e for e in await self.events(cid) if e.envelope.type.endswith("assistant_replied.v1")
                ]
                if len(found) >= count:
                    assert await self.runtime.wait_caught_up(timeout_s=timeout_s)
                    return found
                await asyncio.sleep(0.02)


@pytest.fixture
async def main_job(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, redis_url: str
) -> AsyncIterator[MainJob]:
    gateway = offline_gateway()
    runtime = runtime_for(standalone_store, redis_url)
    runtime.add_projectors(pg_pool, PROJECTORS, **FAST)
    runtime.add_managers(deps_for(standalone_store, gateway), **FAST)
    await runtime.start()
    yield MainJob(store=standalone_store, runtime=runtime)
    await runtime.stop()
    await gateway.aclose()
