-- Batch inference: the ledger and audit rows of a batch line carry the batch's id (NULL for every
-- interactive request), so a batch's cost and its lines' records can be found from the batch.
ALTER TABLE billing_transaction ADD COLUMN batch_id text NULL CHECK (batch_id IS NULL OR char_length(batch_id) BETWEEN 1 AND 64);
ALTER TABLE audit_log ADD COLUMN batch_id text NULL CHECK (batch_id IS NULL OR char_length(batch_id) BETWEEN 1 AND 64);
CREATE INDEX billing_transaction_batch_idx ON billing_transaction (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX audit_log_batch_idx ON audit_log (batch_id) WHERE batch_id IS NOT NULL;
