"""A load generator through the real API: several tenants, clients that share conversations, every 202
recorded client-side with the event ids it acknowledged.

A client retries a command through faults with the SAME Idempotency-Key, as the API asks of its clients,
so a command that ran before its answer was lost is answered again, not run twice."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

RETRY_S = 0.1
THINK_S = 0.15  # between two messages of one client: a person typing, not a flood
TIMEOUT = httpx.Timeout(10.0, connect=2.0)
# What the platform's users ask (the main job drafts a workflow for each); one holds a CCP number, so its
# events are sealed and the sensitive path is under load too.
REQUESTS = (
    "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack",
    "Préviens le livreur Yalidine pour les commandes payées",
    "Every Monday email me the unpaid invoices from the accounting sheet",
    "أرسل لي كل صباح ملخص المبيعات على سلاك",
    "Quand une facture est payée sur le CCP 0012345678 clé 90, préviens la comptabilité",
)


@dataclass(frozen=True)
class Ack:
    tenant: str
    stream: str
    event_ids: tuple[str, ...]
    marker: str  # the text's own tag: found once in the log, never twice


@dataclass
class Load:
    url: str
    keys: dict[str, str]  # tenant -> API key
    clients_per_tenant: int = 3
    conversations_per_tenant: int = 2
    conversations: dict[str, list[str]] = field(default_factory=dict)
    acks: list[Ack] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # answers and transport errors, by kind
    _sequence: itertools.count[int] = field(default_factory=itertools.count)

    def http(self, tenant: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=TIMEOUT)

    async def open_conversations(self) -> None:
        for tenant in self.keys:
            async with self.http(tenant) as http:
                self.conversations[tenant] = [
                    (
                        await self.command(
                            http, tenant, "/v1/conversations", {"title": "Chaos", "language": "fr"}
                        )
                    )["conversation_id"]
                    for _ in range(self.conversations_per_tenant)
                ]

    async def run(self, stop: asyncio.Event) -> None:
        """Every tenant's clients write to every one of the tenant's conversations, concurrently."""
        await asyncio.gather(
            *(self._client(tenant, n, stop) for tenant in self.keys for n in range(self.clients_per_tenant))
        )

    async def _client(self, tenant: str, n: int, stop: asyncio.Event) -> None:
        conversations = itertools.cycle(self.conversations[tenant][n % self.conversations_per_tenant :])
        async with self.http(tenant) as http:
            while not stop.is_set():
                cid = next(conversations)
                seq = next(self._sequence)
                text = f"{REQUESTS[seq % len(REQUESTS)]} (chaos {tenant} {n} {seq})"
                await self.command(http, tenant, f"/v1/conversations/{cid}/messages", {"text": text}, stop)
                await asyncio.sleep(THINK_S)

    async def command(
        self,
        http: httpx.AsyncClient,
        tenant: str,
        path: str,
        body: dict[str, str],
        stop: asyncio.Event | None = None,
    ) -> dict[str, str]:
        """POST until answered 202 (then recorded) or `stop` is set (then nothing is claimed)."""
        key = str(uuid.uuid4())
        while True:
            try:
                response = await http.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:
                self.statuses[type(exc).__name__] += 1
            else:
                self.statuses[str(response.status_code)] += 1
                if response.status_code == 202:
                    answer = response.json()
                    marker = body.get("text", "")[body.get("text", "").rfind("(") :]
                    self.acks.append(Ack(tenant, answer["stream"], tuple(answer["event_ids"]), marker))
                    return dict(answer)
                if response.status_code < 500 and response.status_code not in (409, 429):
                    raise AssertionError(f"{path}: {response.status_code} {response.text}")
            if stop is not None and stop.is_set():
                return {}
            await asyncio.sleep(RETRY_S)


async def until_answered_end_to_end(url: str, api_key: str, within_s: float) -> float:
    """A new conversation and a message, retried until accepted, then read back through the API until the
    assistant's reply is there: how long the whole main job took to answer again (seconds)."""
    began = time.monotonic()
    probe = Load(url, {"probe": api_key})
    async with probe.http("probe") as http:
        started = await probe.command(
            http, "probe", "/v1/conversations", {"title": "probe", "language": "en"}
        )
        cid = started["conversation_id"]
        text = f"{REQUESTS[2]} (probe {cid})"
        await probe.command(http, "probe", f"/v1/conversations/{cid}/messages", {"text": text})
        while time.monotonic() - began < within_s:
            try:
                response = await http.get(f"/v1/conversations/{cid}/messages")
            except httpx.HTTPError:
                response = None
            rows = response.json()["items"] if response is not None and response.status_code == 200 else []
            if any(row["role"] == "assistant" for row in rows):
                return time.monotonic() - began
            await asyncio.sleep(0.05)
    raise AssertionError(f"no answer end to end within {within_s} s")
