"""The signed text of a checkpoint: written in one exact form, read back only in that form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from domain.checkpoint import Checkpoint, MalformedCheckpoint, checkpoint_text, parse_checkpoint

CHECKPOINT = Checkpoint(
    prefix="aiwf",
    partition=3,
    size=1200,
    root=bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    last_log_id="1795000000000-0",
    signed_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
    algorithm="ML-DSA-65",
    key_version=1,
)
TEXT = (
    b"aiwf-checkpoint/v1\n"
    b"prefix aiwf\n"
    b"partition 3\n"
    b"size 1200\n"
    b"root 5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328\n"
    b"last 1795000000000-0\n"
    b"time 2026-11-25T09:00:00.000000Z\n"
    b"signer ML-DSA-65 1\n"
)


def test_the_signed_text_is_the_documented_one_and_reads_back() -> None:
    assert checkpoint_text(CHECKPOINT) == TEXT
    assert parse_checkpoint(TEXT) == CHECKPOINT
    assert CHECKPOINT.log == "aiwf:{p3}:log"


def test_a_time_in_another_zone_is_written_in_utc() -> None:
    algiers = CHECKPOINT.signed_at.astimezone(timezone(timedelta(hours=1)))
    text = checkpoint_text(msgspec.structs.replace(CHECKPOINT, signed_at=algiers))

    assert b"time 2026-11-25T09:00:00.000000Z\n" in text


@pytest.mark.parametrize(
    "text",
    [
        TEXT.rstrip(b"\n"),  # the last line ends in LF too
        TEXT + b"extra 1\n",
        TEXT.replace(b"size 1200", b"size 01200"),
        TEXT.replace(b"size 1200", b"size 0"),
        TEXT.replace(b"root 5dc9", b"root 5DC9"),
        TEXT.replace(b"\n", b"\r\n"),
        TEXT.replace(b"partition 3\nsize", b"size 1200\npartition 3\nsize"),
        TEXT.replace(b"aiwf-checkpoint/v1", b"aiwf-checkpoint/v2"),
        b"\xff" + TEXT,
    ],
)
def test_any_other_form_is_refused(text: bytes) -> None:
    with pytest.raises(MalformedCheckpoint):
        parse_checkpoint(text)
