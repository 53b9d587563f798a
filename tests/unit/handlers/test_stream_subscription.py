"""The subscription a partition worker hands FastStream copies as FastStream's own would: a prefixed copy
names the prefixed stream and keeps every other setting, and the original is left as it was."""

from __future__ import annotations

import copy

from faststream.redis import StreamSub

from handlers.runtime.worker import _StreamSub

SETTINGS = {
    "group": "projection.sbom",
    "consumer": "worker-1",
    "batch": True,
    "max_records": 500,
    "polling_interval": 1000,
    "last_id": ">",
}
SLOTS = tuple(name for klass in StreamSub.__mro__ for name in getattr(klass, "__slots__", ()))


def test_a_prefixed_copy_is_the_same_subscription_on_the_prefixed_stream() -> None:
    ours = _StreamSub("aiwf:{p3}:log", **SETTINGS)  # type: ignore[call-overload]
    theirs = StreamSub("aiwf:{p3}:log", **SETTINGS)  # type: ignore[call-overload]

    copied, expected = ours.add_prefix("tenant:"), theirs.add_prefix("tenant:")

    assert copied is not ours
    assert {n: getattr(copied, n) for n in SLOTS} == {n: getattr(expected, n) for n in SLOTS}
    assert copied.name == "tenant:aiwf:{p3}:log"
    assert ours.name == "aiwf:{p3}:log"


def test_a_deep_copy_is_independent_of_the_original() -> None:
    ours = _StreamSub("log", **SETTINGS)  # type: ignore[call-overload]

    twin = copy.deepcopy(ours)
    twin.last_id = "0"

    assert isinstance(twin, _StreamSub)
    assert ours.last_id == ">"
