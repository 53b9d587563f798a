"""Pure verification of one aggregate stream's hash chain, entry by entry.

It reads the stored bytes as plain JSON, exactly as a verifier in another language would: it never
needs the event catalogue, so an audit can check events whose types it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from domain.canonical import canonical_json, chain_hash
from domain.envelope import GENESIS_HASH


class ChainProblem(msgspec.Struct, frozen=True, kw_only=True):
    where: str  # "<stream>@<version>" or "<log key> <entry id>"
    kind: (
        str  # gap | malformed | wrong_stream | wrong_version | prevhash | hash | head | missing_in_log | ...
    )
    detail: str


class ChainCursor(msgspec.Struct, frozen=True, kw_only=True):
    """Where the walk stands: the last good version and its hash."""

    stream: str
    version: int = 0
    hash: str = GENESIS_HASH


def parse_document(raw: bytes) -> dict[str, Any] | None:
    """The stored JSON object, or None when the bytes are not one."""
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return document if isinstance(document, dict) else None


def check_entry(
    cursor: ChainCursor, entry_version: int, raw: bytes
) -> tuple[ChainCursor, list[ChainProblem]]:
    """Check the next entry of the stream; the cursor moves on even past a bad entry."""
    cursor, problems, _ = check_event(cursor, entry_version, raw)
    return cursor, problems


def check_stream(
    stream: str, entries: Iterable[tuple[int, bytes]]
) -> tuple[ChainCursor, list[ChainProblem], list[str]]:
    """`check_entry` over a whole stream in one pass (the audit's path: it reads millions): the cursor
    at its end, every problem, and each entry's event id ("" when it has none). An entry that passes
    every check costs one parse, one canonical encoding and one SHA-256; any other is checked again by
    `check_event`, which names its problems."""
    version, prevhash, trusted = 0, GENESIS_HASH, True  # trusted: prevhash is a hash we recomputed
    problems: list[ChainProblem] = []
    ids: list[str] = []
    for entry_version, raw in entries:
        document = parse_document(raw)
        if (
            trusted
            and document is not None
            and entry_version == version + 1
            and document.get("stream") == stream
            and document.get("version") == entry_version
            and document.get("prevhash") == prevhash
        ):
            stored = document.pop("hash", None)
            if stored == chain_hash(prevhash, canonical_json(document)):
                event_id = document.get("id")
                ids.append(event_id if isinstance(event_id, str) else "")
                version, prevhash = entry_version, stored
                continue
        cursor = ChainCursor(stream=stream, version=version, hash=prevhash)
        cursor, found, event_id = check_event(cursor, entry_version, raw)
        problems += found
        ids.append(event_id)
        version, prevhash, trusted = cursor.version, cursor.hash, not found
    return ChainCursor(stream=stream, version=version, hash=prevhash), problems, ids


def check_event(
    cursor: ChainCursor, entry_version: int, raw: bytes
) -> tuple[ChainCursor, list[ChainProblem], str]:
    """`check_entry`, also answering the event's id ("" when it has none): what the audit looks up."""
    where = f"{cursor.stream}@{entry_version}"
    expected = cursor.version + 1
    problems: list[ChainProblem] = []
    if entry_version != expected:
        problems.append(ChainProblem(where=where, kind="gap", detail=f"expected version {expected}"))
    document = parse_document(raw)
    if document is None:
        problems.append(ChainProblem(where=where, kind="malformed", detail="entry is not a JSON object"))
        return ChainCursor(stream=cursor.stream, version=entry_version, hash=""), problems, ""
    problems += _check_fields(cursor, entry_version, document, where)
    stored = document.pop("hash", None)  # our own parse: dropping the member costs no copy
    digest = chain_hash(_hex_or_zero(document.get("prevhash")), canonical_json(document))
    if stored != digest:
        problems.append(
            ChainProblem(where=where, kind="hash", detail="stored hash does not match the content")
        )
    event_id = document.get("id")
    next_cursor = ChainCursor(stream=cursor.stream, version=entry_version, hash=str(stored))
    return next_cursor, problems, event_id if isinstance(event_id, str) else ""


def _check_fields(
    cursor: ChainCursor, version: int, document: dict[str, Any], where: str
) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    if document.get("stream") != cursor.stream:
        problems.append(
            ChainProblem(where=where, kind="wrong_stream", detail=f"says {document.get('stream')!r}")
        )
    if document.get("version") != version:
        problems.append(
            ChainProblem(where=where, kind="wrong_version", detail=f"says {document.get('version')!r}")
        )
    if cursor.hash and document.get("prevhash") != cursor.hash:
        problems.append(
            ChainProblem(where=where, kind="prevhash", detail="does not chain to the previous event")
        )
    return problems


def check_head(cursor: ChainCursor, head_version: int, head_hash: str) -> list[ChainProblem]:
    where = f"{cursor.stream}@head"
    if head_version != cursor.version:
        detail = f"head says version {head_version}, stream ends at {cursor.version}"
        return [ChainProblem(where=where, kind="head", detail=detail)]
    if head_hash != cursor.hash:
        return [ChainProblem(where=where, kind="head", detail="head hash is not the last event's hash")]
    return []


def _hex_or_zero(value: object) -> str:
    text = value if isinstance(value, str) else ""
    try:
        bytes.fromhex(text)
    except ValueError:
        return GENESIS_HASH
    return text if len(text) == 64 else GENESIS_HASH
