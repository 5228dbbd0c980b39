-- Response-cache hits in the usage roll-up: per tenant, key, model and UTC day, how many requests were
-- answered from the cache (debit rows flagged meta.flags "cache_hit", corrections not counted again) and
-- what they cost at the preset's cache price. Rows rolled up before this migration are filled from the
-- ledger, so the figures are exact for every day.
ALTER TABLE usage_daily ADD COLUMN cache_hits bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN cache_hit_cost_micros bigint NOT NULL DEFAULT 0;

UPDATE usage_daily AS u
SET cache_hits = h.hits, cache_hit_cost_micros = h.cost
FROM (
  SELECT
    tenant_id,
    coalesce(key_id, '') AS key_id,
    coalesce(model, '') AS model,
    (created_at AT TIME ZONE 'UTC')::date AS day,
    count(*) FILTER (WHERE kind = 'debit' AND meta->>'corrects' IS NULL) AS hits,
    -sum(amount_micros) AS cost
  FROM billing_transaction
  WHERE kind IN ('debit', 'refund') AND meta->'flags' @> '["cache_hit"]'::jsonb
  GROUP BY 1, 2, 3, 4
) AS h
WHERE u.tenant_id = h.tenant_id AND u.key_id = h.key_id AND u.model = h.model AND u.day = h.day;
