-- Signed Merkle checkpoints of the partition logs (docs/adr/0024-signed-merkle-checkpoints.md).
-- Not a read model: a checkpoint attests what the log was when it was signed, so no replay may rebuild
-- it and no projector owns it. Kept apart from Redis, where the log lives, so that rewriting the log
-- does not also let one erase what was signed about it.
CREATE TABLE audit_checkpoints (
    key_prefix  text        NOT NULL,
    partition   integer     NOT NULL,
    size        bigint      NOT NULL,  -- leaves: the first `size` entries of the partition log
    last_log_id text        NOT NULL,  -- id of entry size - 1: where the next checkpoint resumes
    signed_at   timestamptz NOT NULL,
    key_version integer     NOT NULL,
    algorithm   text        NOT NULL,
    body        bytea       NOT NULL,  -- the exact signed bytes (domain/checkpoint.py)
    signature   bytea       NOT NULL,
    frontier    bytea       NOT NULL,  -- the perfect subtrees of the tree, largest first, 32 bytes each
    PRIMARY KEY (key_prefix, partition, size)
);
