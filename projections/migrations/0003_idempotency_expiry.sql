-- Idempotency-Key records expire (AIWF_IDEMPOTENCY_TTL_S); the API's sweeper finds the old ones by age.

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
