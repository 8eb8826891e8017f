-- 0006: credentials of the service's own components (docs/proposals/internal-listener-auth.md).
--
-- One credential per gateway, broker or tool, "<name>.<43 characters of base64url>" (256
-- random bits), shown once when it is made. Only one-way forms are kept: a SCRAM-SHA-256
-- verifier (Postgres' text form), for brokers' internal listeners, and a cm_secret hash, for
-- the operator API. A broker's credential is scoped to its pool: on the operator API it may
-- only create, grow, reconfigure and delete the topics of tenants placed on that pool.
CREATE TABLE components (
    name           text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
    kind           text NOT NULL CHECK (kind IN ('gateway', 'broker', 'tool')),
    pool_id        bigint REFERENCES broker_pools (id) ON DELETE CASCADE,
    broker_id      integer CHECK (broker_id >= 0),
    scram_verifier text NOT NULL CHECK (scram_verifier LIKE 'SCRAM-SHA-256$%'),
    token_hash     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    CHECK ((kind = 'broker') = (pool_id IS NOT NULL AND broker_id IS NOT NULL))
);
