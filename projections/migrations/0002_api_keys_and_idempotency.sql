-- Who may call the API (keys stored hashed), and the answers of commands sent with an Idempotency-Key.

CREATE TABLE api_keys (
    key_id      text        PRIMARY KEY,
    tenant      text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('member', 'auditor', 'admin')),
    secret_hash text        NOT NULL,  -- sha256 of the secret part: the key itself is shown once
    label       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant);

CREATE TABLE idempotency_keys (
    tenant       text        NOT NULL,
    key          text        NOT NULL,
    scope        text        NOT NULL,  -- method and route template
    body_sha256  text        NOT NULL,
    status_code  integer     NOT NULL,
    response     text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, key)
);
