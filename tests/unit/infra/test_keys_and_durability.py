from __future__ import annotations

import pytest
from redis.cluster import key_slot

from infra.keys import KeySpace, partition_of
from infra.redis_conn import ServerFacts
from infra.runtime import StartupError, fsync_wait
from infra.settings import Durability


def test_partitioning_is_pinned_so_other_languages_can_reproduce_it() -> None:
    # first 8 bytes of sha256("conversation-c1"), big-endian, mod 8 (checked with hashlib by hand)
    assert [partition_of(f"conversation-c{n}", 8) for n in range(1, 6)] == [0, 0, 4, 1, 7]
    assert partition_of("conversation-c1", 1) == 0
    assert {partition_of(f"s-{n}", 8) for n in range(200)} == set(range(8))


def test_every_key_of_a_partition_carries_its_hash_tag() -> None:
    keys = KeySpace(prefix="aiwf", partitions=8).partition(3)

    assert keys.log == "aiwf:{p3}:log"
    assert keys.stream("workflow-w1") == "aiwf:{p3}:s:workflow-w1"
    assert len({key_slot(k.encode()) for k in (keys.log, keys.heads, keys.ids, keys.stream("x-1"))}) == 1


def facts(version: str, *, appendonly: bool, appendfsync: str = "always") -> ServerFacts:
    return ServerFacts(
        product="redis", version=version, cluster=False, appendonly=appendonly, appendfsync=appendfsync
    )


def test_auto_durability_waits_for_fsync_where_the_server_can() -> None:
    wait, note = fsync_wait(Durability.AUTO, facts("7.2.4", appendonly=True), 500)

    assert wait == 500
    assert "WAITAOF" in note


def test_auto_durability_on_redis_7_0_says_appends_are_not_fsynced() -> None:
    wait, note = fsync_wait(Durability.AUTO, facts("7.0.15", appendonly=True), 500)

    assert wait is None
    assert "no WAITAOF" in note


def test_strict_fsync_refuses_to_start_without_aof() -> None:
    with pytest.raises(StartupError, match="appendonly is off"):
        fsync_wait(Durability.FSYNC, facts("7.4.0", appendonly=False), 500)


def test_durability_none_never_waits() -> None:
    assert fsync_wait(Durability.NONE, facts("9.0.0", appendonly=True), 500)[0] is None


def test_auto_durability_under_everysec_waits_but_says_waitaof_is_no_proof_of_fsync() -> None:
    wait, note = fsync_wait(Durability.AUTO, facts("7.4.0", appendonly=True, appendfsync="everysec"), 500)

    assert wait == 500
    assert "set appendfsync always" in note


@pytest.mark.parametrize("appendfsync", ["everysec", "no", "unknown"])
def test_strict_fsync_refuses_to_start_unless_the_server_fsyncs_every_write(appendfsync: str) -> None:
    """WAITAOF under `everysec` was measured released before the fsync (Valkey 9.1.2, docs/reliability.md)."""
    with pytest.raises(StartupError, match=f"appendfsync is {appendfsync}, not always"):
        fsync_wait(Durability.FSYNC, facts("9.1.2", appendonly=True, appendfsync=appendfsync), 500)


def test_strict_fsync_starts_on_a_server_that_fsyncs_every_write() -> None:
    assert fsync_wait(Durability.FSYNC, facts("9.1.2", appendonly=True), 500)[0] == 500
