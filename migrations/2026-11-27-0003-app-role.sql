-- The role the gateway connects with (its login user is a member): it may read and append to the
-- ledger but never change or remove rows. usage_daily needs UPDATE for its ON CONFLICT roll-up;
-- it is derived data, rebuildable from billing_transaction. Skipped with a notice where the
-- migrating user cannot create roles; PGlite has roles but every connection is its superuser.
DO $$
BEGIN
  BEGIN
    CREATE ROLE gateway_app NOLOGIN;
  EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL; -- roles are per cluster: another database made it
    WHEN insufficient_privilege THEN
      RAISE NOTICE 'gateway_app not created (no CREATEROLE): grant INSERT/SELECT on the ledger to the app user by hand';
  END;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_app') THEN
    GRANT USAGE ON SCHEMA public TO gateway_app;
    GRANT SELECT, INSERT ON billing_transaction, audit_log TO gateway_app;
    GRANT SELECT, INSERT, UPDATE ON usage_daily TO gateway_app;
    GRANT USAGE ON SEQUENCE billing_transaction_id_seq, audit_log_id_seq TO gateway_app;
    GRANT EXECUTE ON FUNCTION audit_log_purge(integer, integer) TO gateway_app;
  END IF;
END
$$;

-- Functions are executable by PUBLIC by default; the purge is for the app role and the owner only.
REVOKE EXECUTE ON FUNCTION audit_log_purge(integer, integer) FROM PUBLIC;
