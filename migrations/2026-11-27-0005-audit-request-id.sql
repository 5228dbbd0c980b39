-- A trace id is shared by every request of a distributed trace (and may be chosen by the client),
-- so it cannot identify one request: each audit row is now idempotent by the gateway's own
-- request id, minted per request. trace_id stays, indexed, for correlation.
ALTER TABLE audit_log ADD COLUMN request_id text;
UPDATE audit_log SET request_id = trace_id WHERE request_id IS NULL;
ALTER TABLE audit_log ALTER COLUMN request_id SET NOT NULL;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_request_id_key UNIQUE (request_id);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_trace_id_key;
CREATE INDEX audit_log_trace_id_idx ON audit_log (trace_id);
