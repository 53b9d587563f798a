"""A tenant stream's event id is a consistency token: the same text encode_token gives, and decodable."""

from __future__ import annotations

import random

from commands.context import decode_token, encode_token, format_token
from domain.envelope import Position


def test_the_event_id_is_the_consistency_token_of_the_positions_seen() -> None:
    rng = random.Random(7)
    for _ in range(200):
        partitions = rng.sample(range(64), rng.randint(1, 16))
        seen = {p: f"{rng.randint(0, 2**41)}-{rng.randint(0, 99)}" for p in partitions}
        token = encode_token([Position(stream="", version=0, partition=p, log_id=i) for p, i in seen.items()])
        assert format_token(seen) == token
        assert decode_token(format_token(seen)) == seen
