-- Idempotency-Key requests no longer hold a connection and a lock across their append: a request first
-- claims its key (a short transaction), runs with no connection held, then stores its answer. A row
-- without an answer is a claim in flight; one whose owner died is taken over after `claimed_until`,
-- with the first run's `created_at` as the command's time so that it decides the same events again.

ALTER TABLE idempotency_keys
    ALTER COLUMN status_code DROP NOT NULL,
    ALTER COLUMN response DROP NOT NULL,
    ADD COLUMN claim text,
    ADD COLUMN claimed_until timestamptz;
