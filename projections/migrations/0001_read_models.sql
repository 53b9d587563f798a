-- Read models of the conversation side and the projection machinery. Every row carries its tenant.

CREATE TABLE projection_checkpoints (
    projection  text        NOT NULL,
    partition   integer     NOT NULL,
    position    text        NOT NULL DEFAULT '0-0',  -- last partition log entry id folded in
    epoch       bigint      NOT NULL DEFAULT 0,      -- fencing token of the lease holder that wrote it
    events      bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, partition)
);

CREATE TABLE conversations (
    conversation_id text        PRIMARY KEY,
    tenant          text        NOT NULL,
    status          text        NOT NULL,
    title           text,
    language        text,
    started_by      text        NOT NULL,
    started_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    closed_at       timestamptz,
    message_count   integer     NOT NULL,
    last_version    integer     NOT NULL,
    last_position   text        NOT NULL
);
CREATE INDEX conversations_tenant_started ON conversations (tenant, started_at DESC, conversation_id);

CREATE TABLE messages (
    message_id      text        PRIMARY KEY,
    conversation_id text        NOT NULL,
    tenant          text        NOT NULL,
    role            text        NOT NULL,
    text            text        NOT NULL,
    sensitivity     text        NOT NULL,
    created_at      timestamptz NOT NULL,
    version         integer     NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, version);

CREATE TABLE agent_state (
    conversation_id text        PRIMARY KEY,
    tenant          text        NOT NULL,
    document        jsonb       NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_version    integer     NOT NULL
);

CREATE TABLE event_archive (
    stream          text        NOT NULL,
    version         integer     NOT NULL,
    event_id        text        NOT NULL UNIQUE,
    tenant          text        NOT NULL,
    type            text        NOT NULL,
    time            timestamptz NOT NULL,
    partition       integer     NOT NULL,
    log_id          text        NOT NULL,
    correlation_id  text,
    event           text        NOT NULL,  -- the exact stored bytes: the hash chain re-verifies from here
    PRIMARY KEY (stream, version)
);
CREATE INDEX event_archive_tenant_time ON event_archive (tenant, time, stream, version);
CREATE INDEX event_archive_type ON event_archive (tenant, type, time);
