"""The audit's checks of stored checkpoints: the signed text, then the log's tree at each signed size.

Problem kinds (each `where` is `<log key> checkpoint <size>`: the partition and the size):
- checkpoint_malformed: the row is not a well-formed checkpoint of this log, or its columns disagree
  with its signed text;
- checkpoint_signature: the signature does not verify with the keyring's public key of its version
  (or names a version or algorithm the keyring does not have);
- checkpoint_root: the log's first `size` entries no longer hash to the signed root (history below the
  checkpoint was rewritten; the detail says after which still-good checkpoint the change lies);
- checkpoint_last: the root holds but entry size - 1 is not the one the checkpoint names;
- checkpoint_frontier: the frontier stored to extend the tree is not the tree's;
- checkpoint_size: the log holds fewer entries than the checkpoint signed (entries were removed).
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.chain import ChainProblem
from domain.checkpoint import Checkpoint
from domain.merkle import Frontier
from infra.checkpoints import CheckpointRecord
from infra.crypto.signing import Verifier
from infra.keys import PartitionKeys

Signed = tuple[CheckpointRecord, Checkpoint]


def signed_checkpoints(
    prefix: str,
    keys: PartitionKeys,
    records: Sequence[CheckpointRecord],
    verifier: Verifier | None,
    problems: list[ChainProblem],
) -> list[Signed]:
    """The checkpoints whose text is well-formed, names this log and is signed; the others go to
    `problems`."""
    out: list[Signed] = []
    for record in records:
        where = f"{keys.log} checkpoint {record.size}"
        checkpoint = record.checkpoint_or_none()
        why = _row_problem(prefix, keys.partition, record, checkpoint)
        if why is not None or checkpoint is None:
            problems.append(ChainProblem(where=where, kind="checkpoint_malformed", detail=str(why)))
            continue
        why = verifier.problem(record.signature, record.body) if verifier else None
        if why is not None:
            problems.append(ChainProblem(where=where, kind="checkpoint_signature", detail=why))
            continue
        out.append((record, checkpoint))
    return out


def _row_problem(
    prefix: str, partition: int, record: CheckpointRecord, checkpoint: Checkpoint | None
) -> str | None:
    if checkpoint is None:
        return "the stored text is not an aiwf-checkpoint/v1 (docs/audit.md)"
    if (checkpoint.prefix, checkpoint.partition) != (prefix, partition):
        return f"the signed text names {checkpoint.log}"
    if (checkpoint.size, checkpoint.last_log_id) != (record.size, record.last_log_id):
        return f"the row says size {record.size} at {record.last_log_id}, its signed text {checkpoint.size}"
    signer = (record.signature.algorithm, record.signature.key_version)
    if (checkpoint.algorithm, checkpoint.key_version) != signer:
        return "the row's signer is not the one its signed text names"
    return None


class CheckpointCheck:
    """Compares the tree, as the audit grows it from the log, with each signed checkpoint."""

    def __init__(self, keys: PartitionKeys, signed: Sequence[Signed]) -> None:
        self._keys = keys
        self._pending = sorted(signed, key=lambda pair: pair[1].size, reverse=True)
        self._last_good = 0
        self.count = len(self._pending)

    def due(self, size: int) -> bool:
        return bool(self._pending) and self._pending[-1][1].size == size

    def check(self, frontier: Frontier, last_entry: str) -> list[ChainProblem]:
        """Every checkpoint of the tree's current size, against it (`last_entry`: entry size - 1)."""
        problems: list[ChainProblem] = []
        while self.due(frontier.size):
            record, checkpoint = self._pending.pop()
            found = self._compare(record, checkpoint, frontier, last_entry)
            if not found:
                self._last_good = checkpoint.size
            problems += found
        return problems

    def _compare(
        self, record: CheckpointRecord, checkpoint: Checkpoint, frontier: Frontier, last_entry: str
    ) -> list[ChainProblem]:
        where = f"{self._keys.log} checkpoint {checkpoint.size}"
        root = frontier.root()
        if root != checkpoint.root:
            detail = (
                f"the log's first {checkpoint.size} entries hash to {root.hex()[:16]}…, the signed root "
                f"is {checkpoint.root.hex()[:16]}…: history below this checkpoint was rewritten"
            )
            if self._last_good:
                detail += f" after entry {self._last_good - 1} (the checkpoint at {self._last_good} holds)"
            return [ChainProblem(where=where, kind="checkpoint_root", detail=detail)]
        problems = []
        if last_entry != checkpoint.last_log_id:
            detail = (
                f"entry {checkpoint.size - 1} is {last_entry}, the checkpoint names {checkpoint.last_log_id}"
            )
            problems.append(ChainProblem(where=where, kind="checkpoint_last", detail=detail))
        if frontier.to_bytes() != record.frontier:
            detail = "the stored frontier is not the tree's: the next checkpoint would extend a wrong tree"
            problems.append(ChainProblem(where=where, kind="checkpoint_frontier", detail=detail))
        return problems

    def beyond(self, size: int) -> list[ChainProblem]:
        """The checkpoints larger than the whole log."""
        problems = []
        for _, checkpoint in reversed(self._pending):
            detail = (
                f"the log holds {size} entries, the checkpoint signed {checkpoint.size}: entries were removed"
            )
            where = f"{self._keys.log} checkpoint {checkpoint.size}"
            problems.append(ChainProblem(where=where, kind="checkpoint_size", detail=detail))
        self._pending.clear()
        return problems
