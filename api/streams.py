"""Server-sent events: one conversation's events (id = its version) and all of a tenant's events
(id = a position per partition). `Last-Event-ID` resumes without gaps or duplicates: the subscriber is
registered first, the log is replayed from the id, then live deliveries older than what was replayed are
skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar.response import ServerSentEventMessage

from api.deps import ApiDeps
from api.hub import Delivery, Subscription
from commands.context import decode_token, format_token
from domain.chain import parse_document
from projections.events import log_position

CATCH_UP_CHUNK = 500  # events read per round trip when a client catches up on a conversation


def _message(data: str, event_type: str, event_id: str) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=data, event=event_type, id=event_id)


class _Frame(ServerSentEventMessage):
    """A live event whose frame the hub encoded once; only the `id:` line is the subscriber's own
    (Litestar's encoder rebuilds every frame line by line, for every subscriber)."""

    def __init__(self, event_id: str, tail: bytes) -> None:
        super().__init__(id=event_id)
        self._tail = tail

    def encode(self) -> bytes:
        return b"id: " + str(self.id).encode() + b"\r\n" + self._tail


def _live_message(delivery: Delivery, event_id: str) -> ServerSentEventMessage:
    if delivery.frame_tail is None:
        return _message(delivery.data, delivery.type, event_id)
    return _Frame(event_id, delivery.frame_tail)


async def _live(sub: Subscription) -> AsyncIterator[Delivery | None]:
    """Deliveries as they come; None is a keep-alive tick (the hub sends them to idle subscribers).
    Ends when the hub dropped a slow subscriber."""
    while not (sub.dropped and sub.queue.empty()):
        yield await sub.queue.get()


async def conversation_events(
    deps: ApiDeps, tenant: str, stream: str, after: int
) -> AsyncIterator[ServerSentEventMessage]:
    # Subscribed here, inside the try: a client gone before the first byte leaves nothing behind.
    sub = deps.hub.subscribe(tenant, stream)
    try:
        while chunk := await deps.store.read_stream(stream, from_version=after + 1, limit=CATCH_UP_CHUNK):
            for stored in chunk:  # in chunks: a long conversation is never held in memory whole
                after = stored.envelope.version
                yield _message(stored.raw.decode(), stored.envelope.type, str(after))
            if len(chunk) < CATCH_UP_CHUNK:
                break
        async for delivery in _live(sub):
            if delivery is None:
                yield ServerSentEventMessage(comment="keep-alive")
            elif delivery.version > after:
                after = delivery.version
                yield _live_message(delivery, str(after))
    finally:
        deps.hub.unsubscribe(sub)


async def tenant_events(
    deps: ApiDeps, tenant: str, last_event_id: str | None
) -> AsyncIterator[ServerSentEventMessage]:
    sub = deps.hub.subscribe(tenant)  # before reading where the logs end: nothing falls in between
    try:
        partitions = [k.partition for k in deps.store.keys.all_partitions()]
        if last_event_id:
            seen = dict.fromkeys(partitions, "0-0") | decode_token(last_event_id)
        else:
            seen = await deps.store.log_ends()
        for partition in partitions:
            async for log_id, data, event_type in _replay(deps, sub.tenant, partition, seen[partition]):
                seen[partition] = log_id
                yield _message(data, event_type, format_token(seen))
        async for delivery in _live(sub):
            if delivery is None:
                yield ServerSentEventMessage(comment="keep-alive")
            elif log_position(delivery.log_id) > log_position(seen[delivery.partition]):
                seen[delivery.partition] = delivery.log_id
                yield _live_message(delivery, format_token(seen))
    finally:
        deps.hub.unsubscribe(sub)


async def _replay(
    deps: ApiDeps, tenant: str, partition: int, after: str
) -> AsyncIterator[tuple[str, str, str]]:
    while True:
        entries = await deps.store.read_log(partition, after=after)
        for entry in entries:
            after = entry.log_id
            document = parse_document(entry.raw) if entry.raw else None
            if document is not None and document.get("tenant") == tenant and entry.raw is not None:
                yield entry.log_id, entry.raw.decode(), str(document.get("type", "event"))
        if not entries:
            return
