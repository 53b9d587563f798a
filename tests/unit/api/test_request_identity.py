"""Ids derived from an Idempotency-Key and the request body are keyed: they stay in the log for ever, and
nobody without the platform's secret can confirm a guess of a body (a sealed or shredded message)."""

from __future__ import annotations

import hashlib

from api.idempotency import body_digest, identity_of

BODY = b'{"text": "Mon RIP 00799999001234567845"}'


def test_the_same_request_gives_the_same_identity_and_another_request_another() -> None:
    secret = b"s" * 32

    same = identity_of("k1", "POST /v1/x", BODY, secret)

    assert same == identity_of("k1", "POST /v1/x", BODY, secret)
    assert same != identity_of("k1", "POST /v1/x", BODY + b" ", secret)
    assert same != identity_of("k1", "POST /v1/y", BODY, secret)
    assert same.startswith("k1:")


def test_without_the_secret_a_guess_of_the_body_cannot_be_confirmed() -> None:
    identity = identity_of("k1", "POST /v1/x", BODY, b"s" * 32)
    plain = hashlib.sha256(b"POST /v1/x\n" + BODY).hexdigest()

    assert identity.split(":", 1)[1] not in plain
    assert identity != identity_of("k1", "POST /v1/x", BODY, b"t" * 32)
    assert body_digest(BODY, b"s" * 32) != hashlib.sha256(BODY).hexdigest()
