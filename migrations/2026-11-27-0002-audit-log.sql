-- Audit log: one row per gateway request, idempotent by trace_id, append-only except for the
-- retention purge done by audit_log_purge().

CREATE TABLE audit_log (
  id              bigserial PRIMARY KEY,
  trace_id        text        NOT NULL UNIQUE CHECK (char_length(trace_id) BETWEEN 1 AND 255),
  tenant_id       text        NULL,
  key_id          text        NULL,
  channel         text        NULL,
  route           text        NULL,
  model           text        NULL,
  upstream        text        NULL,
  status          integer     NOT NULL,
  error_code      text        NULL,
  error_source    text        NULL CHECK (error_source IN ('client', 'gateway', 'upstream')),
  upstream_status integer     NULL,
  latency_ms      integer     NULL,
  step_timings    jsonb       NULL,
  config_version  integer     NULL,
  flags           text[]      NOT NULL DEFAULT '{}',
  meta            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- When the request happened (the producer's clock); retention is measured from it.
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_tenant_created_idx ON audit_log (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);

-- UPDATE and TRUNCATE are always refused. DELETE passes only for rows older than the cutoff that
-- audit_log_purge() declares for its own transaction, so a stray DELETE from the app fails.
CREATE FUNCTION audit_log_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  purge_before text := current_setting('gateway.audit_purge_before', true);
BEGIN
  IF TG_OP = 'DELETE' AND coalesce(purge_before, '') <> '' AND OLD.created_at < purge_before::timestamptz THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % rejected; old rows are removed only by audit_log_purge()', TG_OP;
END
$$;

CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();

-- Retention purge for the cron job. SECURITY DEFINER: it runs with the owner's DELETE right, which
-- the app role does not have, and it refuses to remove anything younger than one day. It deletes
-- at most max_rows oldest rows per call so each transaction stays short; call until it returns 0.
CREATE FUNCTION audit_log_purge(retention_days integer, max_rows integer DEFAULT 10000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  cutoff  timestamptz;
  deleted integer;
BEGIN
  IF retention_days IS NULL OR retention_days < 1 THEN
    RAISE EXCEPTION 'audit_log_purge: retention_days must be at least 1 (got %)', retention_days;
  END IF;
  IF max_rows IS NULL OR max_rows < 1 THEN
    RAISE EXCEPTION 'audit_log_purge: max_rows must be at least 1 (got %)', max_rows;
  END IF;
  cutoff := now() - make_interval(days => retention_days);
  PERFORM set_config('gateway.audit_purge_before', cutoff::text, true);
  DELETE FROM audit_log
   WHERE id IN (SELECT id FROM audit_log WHERE created_at < cutoff ORDER BY created_at LIMIT max_rows);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('gateway.audit_purge_before', '', true);
  RETURN deleted;
END
$$;
