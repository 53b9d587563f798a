-- The customer a conversation is about, as the tenant names it (docs/adr/0025): shredding that customer
-- shreds the conversation's sealed fields, and a tenant lists a customer's conversations by it.
ALTER TABLE conversations ADD COLUMN customer_id text;
CREATE INDEX conversations_tenant_customer ON conversations (tenant, customer_id, started_at DESC, conversation_id)
    WHERE customer_id IS NOT NULL;
