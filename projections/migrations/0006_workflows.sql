-- Read model `workflows` (projector workflow_views): one row per workflow, its revisions in the document.

CREATE TABLE workflows (
    workflow_id     text        PRIMARY KEY,
    tenant          text        NOT NULL,
    conversation_id text        NOT NULL,
    name            text        NOT NULL,
    status          text        NOT NULL,
    revision        integer     NOT NULL,
    document        jsonb       NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_version    integer     NOT NULL
);
CREATE INDEX workflows_tenant_created ON workflows (tenant, created_at DESC, workflow_id);
CREATE INDEX workflows_tenant_conversation ON workflows (tenant, conversation_id);
