-- Read model `inference_costs` (projector operations_views): a tenant's model calls per day, provider and
-- model, one row per partition that folded some (projections/inference_costs.py says why); reads sum them.
-- A new projector starts at the beginning of the log: the calls already recorded are folded in on start.

CREATE TABLE inference_costs (
    bucket          text    PRIMARY KEY,  -- [tenant, day, provider, model, partition] as JSON
    tenant          text    NOT NULL,
    day             date    NOT NULL,
    provider        text    NOT NULL,
    model           text    NOT NULL,
    partition       integer NOT NULL,
    calls           bigint  NOT NULL,
    refused         bigint  NOT NULL,
    input_tokens    bigint  NOT NULL,
    output_tokens   bigint  NOT NULL,
    cost_micro_usd  bigint  NOT NULL
);
CREATE INDEX inference_costs_tenant_day ON inference_costs (tenant, day);
