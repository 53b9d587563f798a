"""Server-sent events: one conversation's events (id = its version) and all of a tenant's events
(id = a position per partition). `Last-Event-ID` resumes without gaps or duplicates: the subscriber is
registered first, the log is replayed from the id, then live deliveries older than what was replayed are
skipped.

A tenant stream's replay is bounded (docs/adr/0022): partitions the id does not name resume from now,
not from the beginning (every id this API issues names every partition; a consistency token used as an
id names only those written), and a named position must be ours: an existing entry of that partition's
log (or 0-0), within REPLAY_WINDOW_S of the log's newest entry. Anything else is a 400 problem.
Streams end when the hub finds their key revoked (hub.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar.response import ServerSentEventMessage

from api.deps import ApiDeps
from api.hub import Delivery, Subscription
from api.problems import ProblemError
from commands.context import BadToken, decode_token, format_token
from domain.chain import parse_document
from infra.api_keys import Principal
from projections.events import log_position

CATCH_UP_CHUNK = 500  # events read per round trip when a client catches up on a conversation
REPLAY_WINDOW_S = 3600  # how far behind a partition log's newest entry a tenant stream may resume
_MISSING = "missing"  # a named position that is no entry of its log


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
    Ends when the hub dropped a slow subscriber (after what it had queued), or closed the stream (at
    once: nothing queued is sent once its key is revoked)."""
    while sub.is_open() and not (sub.dropped and sub.queue.empty()):
        delivery = await sub.queue.get()
        if not sub.is_open():
            return
        yield delivery


def _closing(sub: Subscription) -> list[ServerSentEventMessage]:
    """A last comment saying why the server ends the stream (a comment: no event for the client)."""
    return [] if sub.closed is None else [ServerSentEventMessage(comment=f"closed: {sub.closed}", data=None)]


def _bad_id(detail: str) -> ProblemError:
    return ProblemError(400, "bad-last-event-id", "Last-Event-ID is not an id this stream issued", detail)


async def conversation_resume_point(deps: ApiDeps, stream: str, last_event_id: str) -> int:
    """The version a conversation stream resumes after: a number no greater than its head."""
    if not last_event_id.isdigit():
        raise _bad_id("Last-Event-ID: a version number of the conversation")
    head = await deps.store.head(stream)
    if int(last_event_id) > head.version:
        raise _bad_id(f"Last-Event-ID: the conversation has no version {int(last_event_id)}")
    return int(last_event_id)


async def conversation_events(
    deps: ApiDeps, principal: Principal, stream: str, after: int
) -> AsyncIterator[ServerSentEventMessage]:
    # Subscribed here, inside the try: a client gone before the first byte leaves nothing behind.
    sub = deps.hub.subscribe(principal.tenant, stream, key_id=principal.key_id)
    try:
        while chunk := await deps.store.read_stream(stream, from_version=after + 1, limit=CATCH_UP_CHUNK):
            if not sub.is_open():
                break
            for stored in chunk:  # in chunks: a long conversation is never held in memory whole
                after = stored.envelope.version
                # read_stream opened what was sealed: stream that, not the stored bytes
                data = msgspec.json.encode(stored.envelope) if stored.envelope.keyid else stored.raw
                yield _message(data.decode(), stored.envelope.type, str(after))
            if len(chunk) < CATCH_UP_CHUNK:
                break
        async for delivery in _live(sub):
            if delivery is None:
                yield ServerSentEventMessage(comment="keep-alive")
            elif delivery.version > after:
                after = delivery.version
                yield _live_message(delivery, str(after))
        for closing in _closing(sub):
            yield closing
    finally:
        deps.hub.unsubscribe(sub)


async def tenant_resume_point(deps: ApiDeps, last_event_id: str) -> dict[int, str]:
    """The positions a tenant stream resumes from, as Last-Event-ID names them, each checked to be
    ours; the 400 problem says what is wrong."""
    try:
        named = decode_token(last_event_id)
    except BadToken as exc:
        raise _bad_id(f"Last-Event-ID: {exc}") from None
    parts = [part for part in last_event_id.split(",") if part]
    too_big = any(n >= 2**64 for log_id in named.values() for n in log_position(log_id))  # no stream id
    if not named or len(parts) != len(named) or too_big:
        raise _bad_id("Last-Event-ID: each partition once, as <partition>:<ms>-<seq>")
    beyond = sorted(p for p in named if p >= deps.store.keys.partitions)
    if beyond:
        raise _bad_id(f"Last-Event-ID: no partition {beyond[0]} (there are {deps.store.keys.partitions})")
    ends = await deps.store.log_ends()
    wrong = [p for p, log_id in sorted(named.items()) if log_position(log_id) > log_position(ends[p])]
    starts = {} if wrong else await _first_replayed(deps, named)
    wrong = wrong or [p for p, start in sorted(starts.items()) if start == _MISSING]
    if wrong:
        raise _bad_id(f"Last-Event-ID: {wrong[0]}:{named[wrong[0]]} is not an entry of partition {wrong[0]}")
    window_ms = REPLAY_WINDOW_S * 1000
    behind = [
        p
        for p, start in sorted(starts.items())
        if start is not None and log_position(ends[p])[0] - log_position(start)[0] > window_ms
    ]
    if behind:
        raise ProblemError(
            400,
            "last-event-id-too-old",
            "Last-Event-ID is too old to resume from",
            f"partition {behind[0]}: more than {REPLAY_WINDOW_S} s behind its log; read what was missed "
            "from /v1/events, then reconnect without Last-Event-ID",
        )
    return named


async def _first_replayed(deps: ApiDeps, named: dict[int, str]) -> dict[int, str | None]:
    """Per named position, in one round trip: the oldest entry a replay from it would look at (the
    position itself, or the log's first entry for 0-0; None: an empty log), or _MISSING."""
    pipe = deps.store.redis.client.pipeline(transaction=False)
    for partition, log_id in named.items():
        key = deps.store.keys.partition(partition).log
        if log_id == "0-0":
            pipe.execute_command("XRANGE", key, "-", "+", "COUNT", 1)
        else:
            pipe.execute_command("XRANGE", key, log_id, log_id, "COUNT", 1)
    replies: list[Any] = await pipe.execute()
    out: dict[int, str | None] = {}
    for (partition, log_id), reply in zip(named.items(), replies, strict=True):
        if reply:
            out[partition] = reply[0][0].decode()
        else:
            out[partition] = None if log_id == "0-0" else _MISSING
    return out


async def tenant_events(
    deps: ApiDeps, principal: Principal, resume: dict[int, str] | None
) -> AsyncIterator[ServerSentEventMessage]:
    """`resume`: the positions Last-Event-ID named (checked by `tenant_resume_point`); every other
    partition starts from now."""
    # Before reading where the logs end: nothing falls in between.
    sub = deps.hub.subscribe(principal.tenant, key_id=principal.key_id)
    try:
        partitions = [k.partition for k in deps.store.keys.all_partitions()]
        seen = await deps.store.log_ends() | (resume or {})
        for partition in partitions:
            async for log_id, data, event_type in _replay(deps, sub, partition, seen[partition]):
                seen[partition] = log_id
                yield _message(data, event_type, format_token(seen))
        async for delivery in _live(sub):
            if delivery is None:
                yield ServerSentEventMessage(comment="keep-alive")
            elif log_position(delivery.log_id) > log_position(seen[delivery.partition]):
                seen[delivery.partition] = delivery.log_id
                yield _live_message(delivery, format_token(seen))
        for closing in _closing(sub):
            yield closing
    finally:
        deps.hub.unsubscribe(sub)


async def _replay(
    deps: ApiDeps, sub: Subscription, partition: int, after: str
) -> AsyncIterator[tuple[str, str, str]]:
    tenant = sub.tenant
    while sub.is_open():
        entries = await deps.store.read_log(partition, after=after)
        for entry in entries:
            after = entry.log_id
            document = parse_document(entry.raw) if entry.raw else None
            if document is not None and document.get("tenant") == tenant and entry.raw is not None:
                raw = entry.raw
                if deps.store.cipher is not None:
                    raw = await deps.store.cipher.open_raw(deps.store.registry, raw)
                yield entry.log_id, raw.decode(), str(document.get("type", "event"))
        if not entries:
            return
