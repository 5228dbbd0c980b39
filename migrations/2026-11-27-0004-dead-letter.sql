-- Messages that exhausted their queue retries (or could never be valid): kept durably for an
-- operator to inspect and replay, so nothing billed or audited is ever silently dropped.
CREATE TABLE dead_letter (
  id bigserial PRIMARY KEY,
  queue text NOT NULL,
  message_id text NOT NULL,
  attempts int NOT NULL,
  body jsonb NOT NULL,
  reason text,
  replayed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (queue, message_id)
);
CREATE INDEX dead_letter_open ON dead_letter (created_at) WHERE replayed_at IS NULL;

DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_app') THEN
    GRANT SELECT, INSERT ON dead_letter TO gateway_app;
    GRANT UPDATE (replayed_at) ON dead_letter TO gateway_app;
    GRANT USAGE ON SEQUENCE dead_letter_id_seq TO gateway_app;
  END IF;
END
$$;
