"""Proofs, checkpoints, public keys and SBOM signatures over HTTP, checked the way an outside auditor
would: with the documented leaf format, RFC 6962's definitions and an ML-DSA-65 verifier, nothing of ours."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PublicKey

from api.deps import Limits
from infra.api_keys import create_key
from infra.checkpoints import Checkpointer
from infra.crypto.keyring import Keyring
from infra.event_store import RedisEventStore
from infra.redis_cmds import xrange
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_sbom_over_http import approved_workflow
from tests.integration.managers.conftest import deps_for, offline_gateway
from tests.support.events import ORIGIN, batch

EVERY_S = 30


# ---------------------------------------------------------------- an auditor's own verifier


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def root_from_audit_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 6962 §2.1.1 read backwards: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) when m < k,
    PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise; k the largest power of two below n."""
    if size == 1:
        assert path == []
        return sha256(b"\x00" + leaf)
    k = 1 << ((size - 1).bit_length() - 1)
    *inner, sibling = path
    if index < k:
        return sha256(b"\x01" + root_from_audit_path(index, k, leaf, inner) + sibling)
    return sha256(b"\x01" + sibling + root_from_audit_path(index - k, size - k, leaf, inner))


def checkpoint_fields(text: str) -> dict[str, str]:
    """docs/audit.md: a first line naming the format, then `label value` lines, each ending in LF."""
    lines = text.split("\n")
    assert lines[0] == "aiwf-checkpoint/v1"
    assert lines[-1] == ""
    return dict(line.split(" ", 1) for line in lines[1:-1])


# ---------------------------------------------------------------- the stack


@pytest.fixture
async def stack(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    keyring: Keyring,
) -> AsyncIterator[Stack]:
    limits = Limits(read_wait_s=5.0, checkpoint_interval_s=EVERY_S)
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, limits, keyring=keyring
    ) as running:
        running.keys["globex-auditor"], _ = await create_key(pg_pool, "globex", "auditor")
        yield running


async def appended(store: RedisEventStore, streams: int = 5, name: str = "proof") -> list[str]:
    ids = []
    for i in range(streams):
        events = batch(3, f"s{i}")
        await store.append(f"conversation-{name}{i}", events, 0, ORIGIN)
        ids += [e.id for e in events]
    return ids


async def test_a_proof_checks_with_the_leaf_format_and_rfc_6962_alone(stack: Stack, keyring: Keyring) -> None:
    ids = await appended(stack.store)
    await Checkpointer(stack.store, stack.pool, keyring).checkpoint_all()
    async with stack.client(None) as anyone:
        keys = (await anyone.get("/v1/audit/keys")).json()
    public = {
        k["key_version"]: MLDSA65PublicKey.from_public_bytes(base64.b64decode(k["public_key"]))
        for k in keys["keys"]
    }

    async with stack.client("acme-auditor") as http:
        proofs = [(await http.get(f"/v1/audit/proof/{event_id}")) for event_id in ids]

    for event_id, answer in zip(ids, proofs, strict=True):
        assert answer.status_code == 200, answer.text
        proof = answer.json()
        leaf = base64.b64decode(proof["leaf"])
        log = await xrange(stack.store.redis.client, proof["log"], proof["log_id"], proof["log_id"])
        assert leaf == log[0][1][b"event"]  # the leaf is the entry's `event` field, byte for byte
        assert f'"id":"{event_id}"'.encode() in leaf
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        root = root_from_audit_path(proof["leaf_index"], proof["tree_size"], leaf, path)
        assert root.hex() == proof["root"]
        signed = proof["checkpoint"]
        fields = checkpoint_fields(signed["text"])
        assert fields["root"] == root.hex()
        assert int(fields["size"]) == proof["tree_size"]
        assert int(fields["partition"]) == proof["partition"]
        assert f"{fields['prefix']}:{{p{fields['partition']}}}:log" == proof["log"]
        algorithm, version = fields["signer"].split(" ")
        assert algorithm == "ML-DSA-65"
        public[int(version)].verify(base64.b64decode(signed["signature"]), signed["text"].encode())


def documented_check() -> Callable[[dict[str, Any], bytes], None]:
    """The `check` function of docs/audit.md, as a reader would copy it."""
    text = (Path(__file__).parents[3] / "docs" / "audit.md").read_text()
    block = text.split("<!-- check-proof", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(block, "docs/audit.md", "exec"), scope)  # our own documentation, as a reader runs it
    check: Callable[[dict[str, Any], bytes], None] = scope["check"]
    return check


async def test_the_documented_hand_check_accepts_a_real_proof_and_refuses_a_doctored_one(
    stack: Stack, keyring: Keyring
) -> None:
    [event_id, *_] = await appended(stack.store, streams=2)
    await Checkpointer(stack.store, stack.pool, keyring).checkpoint_all()
    public = keyring.signing_key(1).public_key().public_bytes_raw()
    async with stack.client("acme-auditor") as http:
        proof = (await http.get(f"/v1/audit/proof/{event_id}")).json()
    check = documented_check()

    check(proof, public)
    doctored = {
        **proof,
        "leaf": base64.b64encode(base64.b64decode(proof["leaf"]).replace(b"s0", b"s9")).decode(),
    }
    with pytest.raises(AssertionError, match="not in the tree"):
        check(doctored, public)


async def test_another_tenants_event_is_not_found_and_a_member_may_not_ask(
    stack: Stack, keyring: Keyring
) -> None:
    [event_id, *_] = await appended(stack.store, streams=1)
    await Checkpointer(stack.store, stack.pool, keyring).checkpoint_all()

    async with stack.client("globex-auditor") as globex, stack.client("acme-member") as member:
        other = await globex.get(f"/v1/audit/proof/{event_id}")
        absent = await globex.get("/v1/audit/proof/01900000-0000-7000-8000-000000000000")
        forbidden = await member.get(f"/v1/audit/proof/{event_id}")

    assert other.status_code == 404
    assert other.json()["detail"] == absent.json()["detail"] == "no such event"
    assert forbidden.status_code == 403


async def test_an_event_newer_than_the_last_checkpoint_is_not_yet_checkpointed(
    stack: Stack, keyring: Keyring
) -> None:
    await appended(stack.store, streams=1)
    await Checkpointer(stack.store, stack.pool, keyring).checkpoint_all()
    [fresh, *_] = await appended(stack.store, streams=1, name="fresh")
    async with stack.client("acme-auditor") as http:
        answer = await http.get(f"/v1/audit/proof/{fresh}")

    assert answer.status_code == 404
    assert answer.json()["type"].endswith("/not-yet-checkpointed")
    assert answer.headers["retry-after"] == str(EVERY_S)


async def test_checkpoints_and_a_consistency_proof_are_served_to_auditors(
    stack: Stack, keyring: Keyring
) -> None:
    checkpointer = Checkpointer(stack.store, stack.pool, keyring)
    await stack.store.append("conversation-grows", batch(5), 0, ORIGIN)
    [old] = await checkpointer.checkpoint_all()
    await stack.store.append("conversation-grows", batch(4, "more"), 5, ORIGIN)
    [new] = await checkpointer.checkpoint_all()

    async with stack.client("acme-auditor") as http:
        listed = (await http.get("/v1/audit/checkpoints")).json()
        proof = (await http.get(f"/v1/audit/consistency/{old.partition}", params={"first": 5})).json()
        too_far = await http.get(f"/v1/audit/consistency/{old.partition}", params={"first": 5, "second": 99})

    assert [c["size"] for c in listed] == [9]
    assert (proof["first"], proof["second"]) == (5, 9)
    assert proof["first_root"] == old.checkpoint.root.hex()
    assert proof["second_root"] == new.checkpoint.root.hex() == proof["checkpoint"]["root"]
    assert too_far.status_code == 404  # no signed tree has 99 entries: that proof does not exist (yet)
    assert too_far.headers["content-type"].startswith("application/problem+json")


async def test_the_public_keys_need_no_key(stack: Stack, keyring: Keyring) -> None:
    async with stack.client(None) as anyone:
        answer = await anyone.get("/v1/audit/keys")

    [key] = answer.json()["keys"]
    raw = base64.b64decode(key["public_key"])
    assert answer.status_code == 200
    assert (key["algorithm"], key["key_version"], answer.json()["context"]) == ("ML-DSA-65", 1, "")
    assert key["sha256"] == hashlib.sha256(raw).hexdigest()
    assert raw == keyring.signing_key(1).public_key().public_bytes_raw()


# ---------------------------------------------------------------- SBOM signatures


@pytest.fixture
async def main_stack(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    keyring: Keyring,
) -> AsyncIterator[Stack]:
    gateway = offline_gateway()
    async with running_stack(
        standalone_store,
        pg_pool,
        database_url,
        redis_url,
        Limits(read_wait_s=5.0),
        managers=deps_for(standalone_store, gateway),
        keyring=keyring,
    ) as running:
        yield running
    await gateway.aclose()


async def test_an_sbom_signature_verifies_over_the_exact_bytes_served(main_stack: Stack) -> None:
    workflow_id, token = await approved_workflow(main_stack)
    headers = {"X-Consistency-Token": token}
    async with main_stack.client() as http, main_stack.client(None) as anyone:
        document = await http.get(f"/v1/workflows/{workflow_id}/sbom", headers=headers)
        signed = await http.get(f"/v1/workflows/{workflow_id}/sbom/signature", headers=headers)
        again = await http.get(f"/v1/workflows/{workflow_id}/sbom/signature")
        keys = (await anyone.get("/v1/audit/keys")).json()["keys"]
        other = await anyone.get(f"/v1/workflows/{workflow_id}/sbom/signature")

    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["sha256"] == hashlib.sha256(document.content).hexdigest()
    assert (body["algorithm"], body["revision"]) == ("ML-DSA-65", 1)
    [key] = [k for k in keys if k["key_version"] == body["key_version"]]
    public = MLDSA65PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(base64.b64decode(body["signature"]), document.content)
    assert again.json() == body  # remembered: the same signature for the same bytes
    assert other.status_code == 401
