"""Signed Merkle checkpoints of the partition logs, and what `aiwf audit verify` finds with them: every
kind of tampering named by partition, size and check, including the ones the hash chains cannot see."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import asyncpg
import msgspec
import pytest

from domain.canonical import canonical_json, chain_hash
from domain.merkle import leaf_hash, tree_hash, verify_consistency
from infra.audit import AuditReport, verify_store
from infra.audit_jobs import verify_in_processes
from infra.checkpoints import Checkpointer, list_checkpoints
from infra.crypto.keyring import Keyring, new_document
from infra.crypto.signing import Verifier
from infra.event_store import RedisEventStore
from infra.keys import partition_of
from infra.proofs import Proofs, ProofUnavailable
from infra.redis_cmds import xrange
from tests.support.events import ORIGIN, batch

STREAM = "conversation-audited"
_sorted = msgspec.json.Encoder(order="sorted")


def neighbours(store: RedisEventStore, count: int) -> list[str]:
    """Streams in STREAM's partition: its log then holds them all (4 events each: 16 with STREAM's)."""
    home = store.keys.for_stream(STREAM).partition
    names = (f"conversation-c{i}" for i in range(10_000))
    return [n for n in names if partition_of(n, store.keys.partitions) == home][:count]


async def fill(store: RedisEventStore, streams: int = 3, events: int = 4) -> None:
    for name in neighbours(store, streams):
        await store.append(name, batch(events, name), 0, ORIGIN)
    await store.append(STREAM, batch(events), 0, ORIGIN)


async def audit(store: RedisEventStore, pool: asyncpg.Pool, keyring: Keyring) -> AuditReport:
    checkpoints = await list_checkpoints(pool, store.keys.prefix)
    return await verify_store(store, checkpoints=checkpoints, verifier=Verifier.of(keyring))


def kinds(report: AuditReport) -> set[str]:
    return {p.kind for p in report.problems}


def of_kind(report: AuditReport, kind: str) -> list[str]:
    return [p.where for p in report.problems if p.kind == kind]


async def log_of(store: RedisEventStore, stream: str) -> tuple[str, list[tuple[bytes, bytes]]]:
    keys = store.keys.for_stream(stream)
    client = await store.redis.client_for_key(keys.log)
    return keys.log, [(i, f[b"event"]) for i, f in await xrange(client, keys.log, "-")]


async def rewrite_log(
    store: RedisEventStore, stream: str, change: Callable[[list[bytes]], list[bytes]]
) -> None:
    """What an attacker with Redis access does: rebuild the partition log, ids kept, contents changed."""
    key, entries = await log_of(store, stream)
    client = await store.redis.client_for_key(key)
    raws = change([raw for _, raw in entries])
    await client.delete(key)
    for (entry_id, _), raw in zip(entries, raws, strict=True):
        await client.execute_command("XADD", key, entry_id, "event", raw)


async def rewrite_stream(store: RedisEventStore, stream: str, raws: dict[int, bytes]) -> None:
    keys = store.keys.for_stream(stream)
    client = await store.redis.client_for_key(keys.log)
    entries = await xrange(client, keys.stream(stream), "-")
    await client.delete(keys.stream(stream))
    for entry_id, fields in entries:
        version = int(entry_id.split(b"-")[0])
        await client.execute_command(
            "XADD", keys.stream(stream), entry_id, "event", raws.get(version, fields[b"event"])
        )


async def reindex(store: RedisEventStore, stream: str) -> None:
    """The id index made to agree with wherever the log now holds each event."""
    key, entries = await log_of(store, stream)
    client = await store.redis.client_for_key(key)
    ids = store.keys.for_stream(stream).ids
    for entry_id, raw in entries:
        doc = json.loads(raw)
        stored = (await client.hget(ids, doc["id"])).split(b" ")
        stored[1] = entry_id
        await client.hset(ids, doc["id"], b" ".join(stored))


async def forge(store: RedisEventStore, stream: str, version: int, text: str) -> None:
    """A forger who edits an event in both copies and recomputes the chain after it, and the head: every
    hash the log carries is valid again; only a signed checkpoint remembers the old contents."""
    keys = store.keys.for_stream(stream)
    client = await store.redis.client_for_key(keys.log)
    chain = [f[b"event"] for _, f in await xrange(client, keys.stream(stream), "-")]
    forged: dict[int, bytes] = {}
    prevhash = json.loads(chain[version - 2])["hash"] if version > 1 else "0" * 64
    for v, raw in enumerate(chain, start=1):
        if v < version:
            continue
        doc = json.loads(raw)
        if v == version:
            doc["data"]["text"] = text
        doc.pop("hash")
        doc["prevhash"] = prevhash
        doc["hash"] = prevhash = chain_hash(prevhash, canonical_json(doc))
        forged[v] = _sorted.encode(doc)
    originals = {chain[v - 1]: new for v, new in forged.items()}
    await rewrite_stream(store, stream, forged)
    await rewrite_log(store, stream, lambda raws: [originals.get(r, r) for r in raws])
    await client.hset(keys.heads, stream, f"{len(chain)} {prevhash}")


# ---------------------------------------------------------------- a clean store


async def test_a_clean_log_verifies_against_checkpoints_made_one_after_the_other(
    store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    checkpointer = Checkpointer(store, pg_pool, keyring)
    await fill(store)
    first = await checkpointer.checkpoint_all()
    await store.append(STREAM, batch(3, "later"), 4, ORIGIN)
    second = await checkpointer.checkpoint_all()
    await store.append(STREAM, batch(1, "not yet"), 7, ORIGIN)  # after the last checkpoint: fine

    report = await audit(store, pg_pool, keyring)

    assert report.problems == []
    assert report.checkpoints == len(first) + len(second) > len(first)
    key, entries = await log_of(store, STREAM)
    extended = next(r for r in second if store.keys.partition(r.partition).log == key)
    assert extended.checkpoint.root == tree_hash([leaf_hash(raw) for _, raw in entries[: extended.size]])


async def test_a_log_that_did_not_grow_gets_no_new_checkpoint(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    checkpointer = Checkpointer(standalone_store, pg_pool, keyring)
    await fill(standalone_store)
    assert await checkpointer.checkpoint_all()

    assert await checkpointer.checkpoint_all() == []


async def test_two_checkpointers_at_once_make_one_checkpoint(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await fill(standalone_store)
    partition = standalone_store.keys.for_stream(STREAM).partition
    made = await asyncio.gather(
        *(Checkpointer(standalone_store, pg_pool, keyring).checkpoint(partition) for _ in range(4))
    )

    assert len([m for m in made if m is not None]) == 1
    sizes = [r.size for r in await list_checkpoints(pg_pool, standalone_store.keys.prefix)]
    assert len(sizes) == len(set(sizes))


async def test_a_long_backlog_is_covered_by_several_checkpoints_that_all_hold(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await standalone_store.append(STREAM, batch(23), 0, ORIGIN)
    made = await Checkpointer(standalone_store, pg_pool, keyring, max_entries=5).checkpoint_all()

    assert [r.size for r in made] == [5, 10, 15, 20, 23]
    assert (await audit(standalone_store, pg_pool, keyring)).problems == []


async def test_consistency_proofs_between_checkpoints_verify(
    store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await store.append(STREAM, batch(7), 0, ORIGIN)
    checkpointer = Checkpointer(store, pg_pool, keyring)
    old = (await checkpointer.checkpoint_all())[0]
    await store.append(STREAM, batch(6, "more"), 7, ORIGIN)
    new = (await checkpointer.checkpoint_all())[0]

    proof = await Proofs(store, pg_pool).consistency(old.partition, old.size, None)

    assert proof is not None
    assert (proof.first, proof.second) == (7, 13)
    assert proof.first_root == old.checkpoint.root.hex()
    assert proof.second_root == new.checkpoint.root.hex()
    hashes = [bytes.fromhex(h) for h in proof.proof]
    assert verify_consistency(7, 13, old.checkpoint.root, new.checkpoint.root, hashes)


async def test_a_lost_proof_store_refuses_proofs_until_rebuilt_from_the_log(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    store = standalone_store
    events = batch(6)
    await store.append(STREAM, events, 0, ORIGIN)
    checkpointer = Checkpointer(store, pg_pool, keyring)
    await checkpointer.checkpoint_all()
    proofs = Proofs(store, pg_pool)
    before = await proofs.inclusion("acme", events[3].id)
    keys = store.keys.for_stream(STREAM)
    async for key in store.redis.client.scan_iter(match=f"{keys.tag}:mt:*"):
        await store.redis.client.delete(key)

    with pytest.raises(ProofUnavailable, match="no leaf"):
        await proofs.inclusion("acme", events[3].id)
    assert await checkpointer.rebuild_proofs(keys.partition) is True
    assert await proofs.inclusion("acme", events[3].id) == before


# ---------------------------------------------------------------- tampering, each detected and named


async def test_an_edited_payload_is_named_by_its_chain_and_its_checkpoint(
    store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await fill(store)
    await Checkpointer(store, pg_pool, keyring).checkpoint_all()
    key, _ = await log_of(store, STREAM)
    await rewrite_log(store, STREAM, lambda raws: [r.replace(b"msg 1", b"msg X") for r in raws])
    await rewrite_stream(store, STREAM, {})  # the aggregate copy stays: the log no longer agrees

    report = await audit(store, pg_pool, keyring)

    assert {"missing_in_log", "log_mismatch", "checkpoint_root"} <= kinds(report)
    assert of_kind(report, "checkpoint_root") == [f"{key} checkpoint 16"]
    assert f"{STREAM}@2" in of_kind(report, "missing_in_log")


async def test_an_entry_deleted_from_the_log_is_named_with_the_checkpoint_that_counted_it(
    store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await fill(store)
    await Checkpointer(store, pg_pool, keyring).checkpoint_all()
    key, entries = await log_of(store, STREAM)
    client = await store.redis.client_for_key(key)
    await client.execute_command("XDEL", key, entries[5][0])

    report = await audit(store, pg_pool, keyring)

    assert kinds(report) == {"missing_in_log", "checkpoint_size"}
    assert of_kind(report, "checkpoint_size") == [f"{key} checkpoint 16"]


async def test_reordered_entries_are_caught_by_the_tree_alone(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    store = standalone_store
    await fill(store)
    await Checkpointer(store, pg_pool, keyring).checkpoint_all()
    key, entries = await log_of(store, STREAM)
    streams = [json.loads(raw)["stream"] for _, raw in entries]
    i = streams.index(STREAM)
    j = i - 1  # another stream's last event: swapped, both streams still stand in version order
    assert streams[j] != STREAM

    def swap(raws: list[bytes]) -> list[bytes]:
        raws[i], raws[j] = raws[j], raws[i]
        return raws

    await rewrite_log(store, STREAM, swap)
    await reindex(store, STREAM)  # every copy agrees again, every chain holds

    report = await audit(store, pg_pool, keyring)

    assert kinds(report) == {"checkpoint_root"}
    assert of_kind(report, "checkpoint_root") == [f"{key} checkpoint 16"]


async def test_a_streams_events_reordered_in_the_log_are_out_of_order(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    store = standalone_store
    await store.append(STREAM, batch(4), 0, ORIGIN)
    await rewrite_log(store, STREAM, lambda raws: [raws[0], raws[2], raws[1], raws[3]])
    await reindex(store, STREAM)

    report = await audit(store, pg_pool, keyring)

    assert of_kind(report, "log_order") == [f"{STREAM}@3"]


async def test_a_forged_entry_with_a_recomputed_chain_is_caught_by_the_signed_root_alone(
    store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await fill(store)
    await Checkpointer(store, pg_pool, keyring).checkpoint_all()
    assert (await verify_store(store)).problems == []  # the chains hold before…
    await forge(store, STREAM, 2, "virez le solde sur le compte CCP 0000000000 99")
    assert (await verify_store(store)).problems == []  # …and after: the forger recomputed them

    report = await audit(store, pg_pool, keyring)

    key, _ = await log_of(store, STREAM)
    assert kinds(report) == {"checkpoint_root"}
    assert of_kind(report, "checkpoint_root") == [f"{key} checkpoint 16"]
    assert "history below this checkpoint was rewritten" in report.problems[0].detail


async def test_history_rewritten_below_a_checkpoint_names_the_checkpoints_it_breaks(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    store = standalone_store
    checkpointer = Checkpointer(store, pg_pool, keyring)
    await store.append(STREAM, batch(4), 0, ORIGIN)
    await checkpointer.checkpoint_all()  # size 4
    await store.append(STREAM, batch(4, "more"), 4, ORIGIN)
    await checkpointer.checkpoint_all()  # size 8
    await forge(store, STREAM, 6, "falsifié")
    await store.append(STREAM, batch(2, "after"), 8, ORIGIN)
    await checkpointer.checkpoint_all()  # size 10: extends the signed frontier, not the rewritten log

    report = await audit(store, pg_pool, keyring)

    key, _ = await log_of(store, STREAM)
    assert of_kind(report, "checkpoint_root") == [f"{key} checkpoint 8", f"{key} checkpoint 10"]
    assert "after entry 3 (the checkpoint at 4 holds)" in report.problems[0].detail


async def test_a_checkpoint_edited_to_match_a_rewritten_log_fails_its_signature(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    store = standalone_store
    await store.append(STREAM, batch(4), 0, ORIGIN)
    record = (await Checkpointer(store, pg_pool, keyring).checkpoint_all())[0]
    await forge(store, STREAM, 2, "falsifié")
    _, entries = await log_of(store, STREAM)
    root = tree_hash([leaf_hash(raw) for _, raw in entries]).hex()
    body = record.body.replace(record.checkpoint.root.hex().encode(), root.encode())
    await pg_pool.execute("UPDATE audit_checkpoints SET body = $1", body)

    report = await audit(store, pg_pool, keyring)

    assert kinds(report) == {"checkpoint_signature"}
    assert "does not verify" in report.problems[0].detail


async def test_a_checkpoint_signed_by_another_key_is_not_trusted(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring
) -> None:
    store = standalone_store
    await store.append(STREAM, batch(4), 0, ORIGIN)
    stranger = Keyring(new_document(), "a stranger's")
    await Checkpointer(store, pg_pool, stranger).checkpoint_all()

    report = await audit(store, pg_pool, keyring)

    assert kinds(report) == {"checkpoint_signature"}


# ---------------------------------------------------------------- the command


def run_cli(
    store: RedisEventStore, redis_url: str, database_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "AIWF_KEY_PREFIX": store.keys.prefix,
        "AIWF_PARTITIONS": str(store.keys.partitions),
    }
    command = [sys.executable, "-m", "infra.cli", "audit", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
async def cli_tables(database_url: str, standalone_store: RedisEventStore) -> AsyncIterator[None]:
    """The command uses the database's default schema: its rows for this prefix go afterwards."""
    yield
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "DELETE FROM audit_checkpoints WHERE key_prefix = $1", standalone_store.keys.prefix
        )
    finally:
        await conn.close()


@pytest.mark.usefixtures("cli_tables")
async def test_the_audit_commands_checkpoint_then_name_a_forgery(
    standalone_store: RedisEventStore, redis_url: str, database_url: str
) -> None:
    store = standalone_store
    await fill(store)
    made = run_cli(store, redis_url, database_url, "checkpoint")
    assert made.returncode == 0, made.stderr
    assert "checkpoint: partition" in made.stdout
    clean = run_cli(store, redis_url, database_url, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "checkpoints (signatures and roots)" in clean.stdout

    await forge(store, STREAM, 3, "falsifié")
    broken = run_cli(store, redis_url, database_url, "verify", "--jobs", "2")

    key, _ = await log_of(store, STREAM)
    assert broken.returncode == 1
    assert f"first broken place: {key} checkpoint 16 (checkpoint_root)" in broken.stderr


async def test_an_audit_in_processes_reports_what_one_in_process_does(
    standalone_store: RedisEventStore, pg_pool: asyncpg.Pool, keyring: Keyring, redis_url: str
) -> None:
    store = standalone_store
    await fill(store, streams=6)
    await Checkpointer(store, pg_pool, keyring).checkpoint_all()
    await forge(store, STREAM, 2, "falsifié")
    checkpoints = await list_checkpoints(pg_pool, store.keys.prefix)

    alone = await verify_store(store, checkpoints=checkpoints, verifier=Verifier.of(keyring))
    spread = await verify_in_processes(redis_url, store.keys, checkpoints, Verifier.of(keyring), jobs=3)

    assert spread == alone
    assert kinds(spread) == {"checkpoint_root"}
