-- Ledger of record: one append-only row per billing event, idempotent by (tenant_id, kind, request_id),
-- plus the usage_daily roll-up maintained by the same statement that inserts the rows.
--
-- Sign convention: amount_micros is signed from the tenant's balance point of view, in integer
-- micro-units of `currency` (1 USD = 1,000,000). A tenant's balance of record is SUM(amount_micros):
-- debits are <= 0, credits (top-ups) and refunds are > 0, adjustments are any non-zero correction.
-- request_id is the event's idempotency key: the gateway request id for debits and refunds, the
-- top-up or correction id for credits and adjustments.

CREATE TABLE billing_transaction (
  id              bigserial PRIMARY KEY,
  tenant_id       text        NOT NULL CHECK (char_length(tenant_id) BETWEEN 1 AND 255),
  key_id          text        NULL,
  request_id      text        NOT NULL CHECK (char_length(request_id) BETWEEN 1 AND 255),
  kind            text        NOT NULL CHECK (kind IN ('debit', 'credit', 'refund', 'adjustment')),
  amount_micros   bigint      NOT NULL,
  currency        char(3)     NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  model           text        NULL,
  input_tokens    integer     NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens   integer     NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  price_version   integer     NULL,
  usage_estimated boolean     NOT NULL DEFAULT false,
  meta            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- When the event happened (the producer's clock, so a late queue delivery lands on the right day).
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT billing_transaction_idempotency UNIQUE (tenant_id, kind, request_id),
  CONSTRAINT billing_transaction_sign CHECK (
    (kind = 'debit' AND amount_micros <= 0)
    OR (kind IN ('credit', 'refund') AND amount_micros > 0)
    OR (kind = 'adjustment' AND amount_micros <> 0)
  )
);

CREATE INDEX billing_transaction_tenant_created_idx
  ON billing_transaction (tenant_id, created_at DESC, id DESC);

-- Usage per tenant, key, model and UTC day, from debit and refund rows only (credits and
-- adjustments move the balance but are not usage). '' stands for "no key" / "no model" because
-- primary-key columns cannot be NULL.
CREATE TABLE usage_daily (
  tenant_id     text   NOT NULL,
  key_id        text   NOT NULL,
  model         text   NOT NULL,
  day           date   NOT NULL,
  requests      bigint NOT NULL DEFAULT 0,
  input_tokens  bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cost_micros   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, key_id, model, day)
);

-- Corrections are new rows, never edits: UPDATE, DELETE and TRUNCATE are refused for everyone,
-- table owner included (roles are a second fence where the database has them; see 0003).
CREATE FUNCTION ledger_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % rejected; record a correcting row instead', TG_TABLE_NAME, TG_OP;
END
$$;

CREATE TRIGGER billing_transaction_append_only
  BEFORE UPDATE OR DELETE ON billing_transaction
  FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();

CREATE TRIGGER billing_transaction_no_truncate
  BEFORE TRUNCATE ON billing_transaction
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();
