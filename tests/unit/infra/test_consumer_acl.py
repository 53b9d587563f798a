"""A consumer's ACL: its name, its rules per server, the URL it is handed (never our credentials)."""

from __future__ import annotations

import hashlib

import pytest

from infra.consumers import ConsumerError, acl_rules, check_name, connection_url, user_of
from infra.keys import KeySpace
from infra.redis_conn import ServerFacts

KEYS = KeySpace(prefix="aiwf", partitions=3)
REDIS_7_0 = ServerFacts(product="redis", version="7.0.15", cluster=False, appendonly=True)
VALKEY_9 = ServerFacts(product="valkey", version="9.1.2", cluster=False, appendonly=True)


@pytest.mark.parametrize("name", ["analytics", "bi-2", "a", "x_y", "a" * 40])
def test_names_of_lower_case_letters_digits_dashes_and_underscores_are_taken(name: str) -> None:
    assert check_name(name) == name
    assert user_of(KEYS, name) == f"aiwf-consumer-{name}"


@pytest.mark.parametrize("name", ["", "Analytics", "a b", "a.b", "a" * 41, "é", "a:b", "*"])
def test_other_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ConsumerError, match="1 to 40 lower-case letters"):
        check_name(name)


def test_the_rules_name_each_partition_log_exactly_and_never_the_password() -> None:
    rules = acl_rules(KEYS, REDIS_7_0, "s3cret")

    assert rules[:2] == ["reset", "on"]
    assert f"#{hashlib.sha256(b's3cret').hexdigest()}" in rules
    assert "s3cret" not in " ".join(rules)
    assert [r for r in rules if r.startswith("~")] == ["~aiwf:{p0}:log", "~aiwf:{p1}:log", "~aiwf:{p2}:log"]
    assert "resetchannels" in rules
    assert not [r for r in rules if r.startswith("+") and r.split("|")[0] in {"+xadd", "+del", "+xgroup"}]


def test_client_setinfo_is_allowed_only_where_the_server_knows_it_and_cluster_commands_on_a_cluster() -> None:
    cluster = ServerFacts(product="redis", version="7.2.4", cluster=True, appendonly=True)

    assert "+client|setinfo" not in acl_rules(KEYS, REDIS_7_0, "p")
    assert "+client|setinfo" in acl_rules(KEYS, VALKEY_9, "p")
    assert "+cluster|slots" not in acl_rules(KEYS, VALKEY_9, "p")
    assert {"+client|setinfo", "+cluster|slots", "+readonly"} <= set(acl_rules(KEYS, cluster, "p"))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("redis://127.0.0.1:6379/0", "redis://u:p@127.0.0.1:6379/0"),
        ("redis://127.0.0.1:6379", "redis://u:p@127.0.0.1:6379/0"),
        ("rediss://admin:hunter2@redis.example:6380/2", "rediss://u:p@redis.example:6380/2"),
        (
            "redis://:hunter2@[::1]:6379/1?password=hunter2&ssl_cert_reqs=none",
            "redis://u:p@[::1]:6379/1?ssl_cert_reqs=none",
        ),
        ("unix:///run/redis.sock?db=3", "unix://u:p@/run/redis.sock?db=3"),
    ],
)
def test_the_url_handed_out_keeps_the_server_and_drops_our_credentials(ours: str, theirs: str) -> None:
    assert connection_url(ours, "u", "p") == theirs
