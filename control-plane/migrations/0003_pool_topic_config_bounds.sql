-- 0003: operator-set bounds on the topic configs tenants may set, per broker pool.
--
-- Only a pool's overrides are stored, {"segment.bytes": {"min": N, "max": N}, ...}; what
-- they leave out takes the built-in defaults for a shared service (control-plane/cp_bounds.c).
ALTER TABLE broker_pools ADD COLUMN topic_config_bounds jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(topic_config_bounds) = 'object');
