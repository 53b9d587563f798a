"""Logs, error messages, problem details and trace spans never carry a sensitive value or a secret: the
PII corpora through the main job over HTTP, every log record at DEBUG of every logger, every problem
detail, every span's name, attributes and events (traces on), and what the process printed, scanned for
every sensitive value of the corpora and every secret in play (the API keys, the cloud provider's key,
the n8n key); zero hits."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.deps import Limits
from commands.conversations import stream_of
from domain.conversation_events import AssistantReplied
from inference.gateway import Gateway
from inference.offline import OfflineProvider
from inference.prices import load_prices
from inference.privacy import classify
from inference.privacy.digits import only_digits, to_ascii
from inference.providers import AnthropicConfig, AnthropicProvider
from inference.routing import RoutingPolicy
from inference.templates import load_templates
from infra.event_store import RedisEventStore
from infra.n8n.client import N8nInstance, RetryPolicy
from infra.n8n.instances import N8nInstances
from infra.observability import JsonFormatter
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.inference.servers import AnthropicServer, Reply
from tests.integration.managers.conftest import deps_for
from tests.support.fake_n8n import FakeN8n
from tests.support.tracing import texts_of

HERE = Path(__file__).parent
GATEWAY_CORPUS: list[dict[str, Any]] = json.loads(
    (HERE.parent / "inference" / "gateway_corpus.json").read_text(encoding="utf-8")
)
PRIVACY_CORPUS: list[dict[str, Any]] = json.loads(
    (HERE.parents[1] / "unit" / "inference" / "privacy_corpus.json").read_text(encoding="utf-8")
)
CLOUD_KEY = "sk-ant-api03-" + secrets.token_urlsafe(32)
N8N_KEY = "n8n_api_" + secrets.token_hex(24)
OVERLOADED = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'


def conversations() -> list[list[str]]:
    """The messages of one conversation per corpus entry (a gateway entry's extra texts follow it)."""
    return [[e["text"], *e["extra_texts"]] for e in GATEWAY_CORPUS] + [[e["text"]] for e in PRIVACY_CORPUS]


def sensitive_values() -> set[str]:
    """Every value the corpora hold that is not public: the gateway corpus names them; in the privacy
    corpus they are what the classifier finds (checked against its expectations by its own tests)."""
    values = {secret for entry in GATEWAY_CORPUS for secret in entry["secrets"]}
    for entry in PRIVACY_CORPUS:
        values |= {entry["text"][f.start : f.end] for f in classify(entry["text"]).findings}
    return values


class Captured:
    """Every log record of every logger (formatted as the JSON logs write it, traceback included)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.records = 0
        self._formatter = JsonFormatter()

    def handler(self) -> logging.Handler:
        captured = self

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                captured.records += 1
                captured.lines.append(captured._formatter.format(record))
                captured.lines.append(f"{record.msg} {record.args!r}")

        return Keep(level=logging.DEBUG)


@contextlib.contextmanager
def every_log_record() -> Iterator[Captured]:
    captured = Captured()
    handler = captured.handler()
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    kept = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield captured
    finally:
        for logger, level, disabled in kept:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)


@pytest.fixture
def cloud() -> Iterator[AnthropicServer]:
    """A cloud that is overloaded: every call fails over to the local model, the key in every request."""
    server = AnthropicServer()
    server.serve_always("POST", AnthropicServer.MESSAGES, Reply(status=529, body=OVERLOADED))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def n8n() -> Iterator[FakeN8n]:
    with FakeN8n(api_key=N8N_KEY) as server:
        yield server


@pytest.fixture
async def scanned_stack(
    *,
    spans: InMemorySpanExporter,
    cloud: AnthropicServer,
    n8n: FakeN8n,
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
) -> AsyncIterator[Stack]:
    remote = AnthropicProvider(
        AnthropicConfig(api_key=CLOUD_KEY, base_url=cloud.url, max_retries=0), load_prices()
    )
    # The in-process planner stands in for the local model: the whole main job runs on sensitive data.
    gateway = Gateway(OfflineProvider(), remote, OfflineProvider(), load_templates(), RoutingPolicy())
    instances = N8nInstances(N8nInstance(url=n8n.url, api_key=N8N_KEY), policy=RetryPolicy(attempts=2))
    managers = dataclasses.replace(deps_for(standalone_store, gateway, auto_approve=True), n8n=instances)
    limits = Limits(read_wait_s=5.0, rate_per_s=10_000, burst=10_000)
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, limits, managers=managers, n8n=instances
    ) as stack:
        yield stack
    await gateway.aclose()
    await instances.aclose()


class Problems:
    """Every problem details body the API answered."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def keep(self, response: httpx.Response) -> None:
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            await response.aread()
            self.bodies.append(response.text)


async def play(http: httpx.AsyncClient, store: RedisEventStore, messages: list[str]) -> None:
    cid = (await http.post("/v1/conversations", json={"title": "corpus"})).json()["conversation_id"]
    for text in messages:
        assert (await http.post(f"/v1/conversations/{cid}/messages", json={"text": text})).status_code == 202
    async with asyncio.timeout(60):
        while not await replied(store, cid):  # noqa: ASYNC110 - the main job answers in its own time
            await asyncio.sleep(0.05)


async def replied(store: RedisEventStore, cid: str) -> bool:
    return any(isinstance(e.envelope.data, AssistantReplied) for e in await store.read_stream(stream_of(cid)))


async def provoke_problems(http: httpx.AsyncClient, values: list[str]) -> None:
    """Requests that carry sensitive values where an error message might echo them."""
    value, other = values[0], values[1]
    cid = (await http.post("/v1/conversations", json={})).json()["conversation_id"]
    await http.post(f"/v1/conversations/{cid}/messages", json={"text": f"{value}\x00"})
    await http.post(f"/v1/conversations/{cid}/messages", json={"text": f"{value} " * 2000})
    await http.post(f"/v1/conversations/{cid}/messages", json={"text": [value]})
    await http.post(
        f"/v1/conversations/{cid}/messages",
        content=f'{{"text": "{value}"'.encode(),
        headers={"Content-Type": "application/json"},
    )
    await http.get(f"/v1/conversations/{value}/messages")
    await http.get("/v1/conversations", params={"cursor": value})
    await http.get("/v1/events", params={"stream": value, "since": other})
    await http.get("/v1/conversations", headers={"X-Consistency-Token": value})
    await http.get("/v1/stream", headers={"Last-Event-ID": value})
    await http.get(f"/v1/conversations/{cid}/stream", headers={"Last-Event-ID": value})
    await http.post(
        "/v1/credentials", json={"type": "slackApi", "name": value, "data": {"accessToken": other}}
    )
    await http.get("/v1/workflows", params={"status": value})
    await http.get(f"/v1/workflows/{value}/sbom")


def hits(secret: str, text: str, lowered: str, ascii_text: str, digit_runs: str) -> bool:
    if _written(secret.lower(), lowered) or _written(to_ascii(secret).lower(), ascii_text):
        return True
    digits = only_digits(secret)  # the same number written another way ("0555-21-43-65")
    return len(digits) >= 8 and re.search(rf"(?<![0-9]){digits}(?![0-9])", digit_runs) is not None


def _written(value: str, text: str) -> bool:
    """`value` in `text`, a number not as the middle of a longer one: an invoice number 98213 is not
    leaked by a log line quoting Python's hash -4155915098213460753 (seen once, by chance)."""
    if not value[:1].isdigit() and not value[-1:].isdigit():
        return value in text
    before = "(?<![0-9])" if value[:1].isdigit() else ""
    after = "(?![0-9])" if value[-1:].isdigit() else ""
    return re.search(before + re.escape(value) + after, text) is not None


# Identifiers we generate (UUIDs, hex digests and trace ids, with at least one letter): a short number
# can turn up inside one by chance ("…-894c-98213e8eda5d" holds the invoice number 98213), and an id
# derived from a value does not write the value.
_HEX_IDS = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?=[0-9a-f]*[a-f])[0-9a-f]{16,})(?![0-9A-Za-z])",
    re.IGNORECASE,
)


def leaked(texts: list[str], wanted: set[str]) -> dict[str, list[str]]:
    """Each value found, with (the start of) the texts it was found in."""
    found: dict[str, list[str]] = {}
    for written in texts:
        text = _HEX_IDS.sub(" ", written)
        lowered, ascii_text = text.lower(), to_ascii(text).lower()
        digit_runs = re.sub(r"(?<=[0-9])[ .\-/]+(?=[0-9])", "", to_ascii(text))
        for secret in wanted:
            if hits(secret, text, lowered, ascii_text, digit_runs):
                found.setdefault(secret, []).append(written[:300])
    return found


def test_a_value_is_found_where_it_is_written_and_not_inside_an_identifier_by_chance() -> None:
    texts = [
        "event 1cef0177-c939-5b58-894c-98213e8eda5d folded",  # a UUID that happens to hold 98213
        "traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-98213e8eda5d0b7f-01",
        "digest 98213ab5c4f0e6d7e8f90a1b2c3d4e5f",
        "facture 98213 du client",
    ]
    rib = "00799999001234567845"

    assert leaked(texts, {"98213"}) == {"98213": ["facture 98213 du client"]}
    assert leaked([f"RIB {rib}", "id 1cef0177c9395b58894c98213e8eda5d"], {rib, "98213"}) == {
        rib: [f"RIB {rib}"]
    }


async def test_no_log_line_error_problem_detail_or_span_carries_a_sensitive_value_or_a_secret(
    scanned_stack: Stack,
    spans: InMemorySpanExporter,
    cloud: AnthropicServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    values = sensitive_values()
    assert len(values) >= 100
    api_keys = set(scanned_stack.keys.values())
    secrets_in_play = {CLOUD_KEY, N8N_KEY, *api_keys, *(key.split("_", 2)[2] for key in api_keys)}
    problems = Problems()
    headers = {"Authorization": f"Bearer {scanned_stack.keys['acme-admin']}"}
    async with httpx.AsyncClient(
        base_url=scanned_stack.url, headers=headers, timeout=30, event_hooks={"response": [problems.keep]}
    ) as http:
        with every_log_record() as logs:
            gate = asyncio.Semaphore(8)

            async def one(messages: list[str]) -> None:
                async with gate:
                    await play(http, scanned_stack.store, messages)

            await asyncio.gather(*(one(messages) for messages in conversations()))
            await provoke_problems(http, sorted(v for v in values if len(only_digits(v)) >= 8))
            assert await scanned_stack.runtime.wait_caught_up(timeout_s=60)
    printed = capfd.readouterr()

    assert logs.records > 1000  # the scan saw the run: DEBUG from every layer
    assert len(problems.bodies) >= 10
    assert cloud.messages_received()  # the cloud's key was in play
    traced = spans.get_finished_spans()
    assert {"gen_ai.usage.output_tokens", "http.response.status_code"} <= {
        name for span in traced for name in span.attributes or {}
    }  # the scan saw the model calls, the HTTP requests and the n8n calls as spans
    scanned = [*logs.lines, *problems.bodies, printed.out, printed.err, *texts_of(traced)]
    for wanted in (secrets_in_play, values):
        found = leaked(scanned, wanted)
        assert not found, json.dumps(found, ensure_ascii=False, indent=1)[:6000]
