-- Projector `sbom`: the CycloneDX SBOM of every workflow revision, and the two folds it is built from.

-- One row per conversation event an SBOM may cite (projections/sbom_inputs.py), appended in stream order.
CREATE TABLE sbom_sources (
    conversation_id text    NOT NULL,
    version         integer NOT NULL,
    tenant          text    NOT NULL,
    document        text    NOT NULL,
    PRIMARY KEY (conversation_id, version)
);

-- Per workflow, what its stream says of each revision.
CREATE TABLE sbom_workflows (
    workflow_id     text    PRIMARY KEY,
    tenant          text    NOT NULL,
    conversation_id text    NOT NULL,
    document        text    NOT NULL,
    last_version    integer NOT NULL
);
CREATE INDEX sbom_workflows_conversation ON sbom_workflows (conversation_id);

-- The documents, as served: text, not jsonb, so that their bytes (and ETags) are kept exactly.
CREATE TABLE sboms (
    workflow_id text        NOT NULL,
    revision    integer     NOT NULL,
    tenant      text        NOT NULL,
    document    text        NOT NULL,
    etag        text        NOT NULL,
    bom_version integer     NOT NULL,
    built_at    timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, revision)
);
