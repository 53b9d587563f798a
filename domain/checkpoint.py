"""A signed checkpoint of a partition log: the bytes that are signed, and nothing else (docs/audit.md).

    aiwf-checkpoint/v1
    prefix aiwf
    partition 3
    size 1200
    root 5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
    last 1795000000000-0
    time 2026-11-25T09:00:00.000000Z
    signer ML-DSA-65 1

UTF-8, one `label value` line each in this order, every line ending with LF (the last one too). `root`
is MTH of the first `size` entries of `<prefix>:{p<partition>}:log` (lower-case hex), `last` the id of
entry `size - 1`, `signer` the algorithm and the keyring's signing-key version. The signature is over
exactly these bytes with an empty context string: any ML-DSA-65 verifier with its defaults checks it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

import msgspec

FORMAT: Final = "aiwf-checkpoint/v1"
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
_LINE = re.compile(
    r"\A" + re.escape(FORMAT) + r"\n"
    r"prefix (?P<prefix>[A-Za-z0-9_-]+)\n"
    r"partition (?P<partition>0|[1-9][0-9]*)\n"
    r"size (?P<size>[1-9][0-9]*)\n"
    r"root (?P<root>[0-9a-f]{64})\n"
    r"last (?P<last>[0-9]+-[0-9]+)\n"
    r"time (?P<time>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z)\n"
    r"signer (?P<algorithm>[A-Za-z0-9-]+) (?P<version>[1-9][0-9]*)\n\Z"
)


class MalformedCheckpoint(ValueError):
    """The bytes are not an aiwf-checkpoint/v1 text."""


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    prefix: str
    partition: int
    size: int
    root: bytes
    last_log_id: str
    signed_at: datetime
    algorithm: str
    key_version: int

    @property
    def log(self) -> str:
        """The Redis key of the log it covers (infra/keys.py spells the same)."""
        return f"{self.prefix}:{{p{self.partition}}}:log"


def checkpoint_text(checkpoint: Checkpoint) -> bytes:
    """The signed bytes."""
    at = checkpoint.signed_at.astimezone(UTC).strftime(_TIME)
    lines = [
        FORMAT,
        f"prefix {checkpoint.prefix}",
        f"partition {checkpoint.partition}",
        f"size {checkpoint.size}",
        f"root {checkpoint.root.hex()}",
        f"last {checkpoint.last_log_id}",
        f"time {at}",
        f"signer {checkpoint.algorithm} {checkpoint.key_version}",
    ]
    body = "".join(line + "\n" for line in lines).encode()
    parse_checkpoint(body)  # what we sign, we can read back
    return body


def parse_checkpoint(body: bytes) -> Checkpoint:
    try:
        match = _LINE.match(body.decode())
    except UnicodeDecodeError:
        match = None
    if match is None:
        raise MalformedCheckpoint(f"not an {FORMAT} text (see docs/audit.md)")
    return Checkpoint(
        prefix=match["prefix"],
        partition=int(match["partition"]),
        size=int(match["size"]),
        root=bytes.fromhex(match["root"]),
        last_log_id=match["last"],
        signed_at=datetime.strptime(match["time"], _TIME).replace(tzinfo=UTC),
        algorithm=match["algorithm"],
        key_version=int(match["version"]),
    )
