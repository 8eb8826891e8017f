-- 0001: the fleet, tenants, credentials, quotas, topics, partitions, ACLs and the audit log.
--
-- Migrations run automatically when the control plane starts, each in its own
-- transaction, in version order (control-plane/cp_migrate.c). Never edit a migration once
-- it has shipped: add the next one. Names follow Kafka's rules where Kafka sees them.

CREATE TABLE broker_pools (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The tenant's name prefixes its topics inside the brokers ("acme.orders"), so it
    -- holds no dot and never changes.
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$'),
    plan        text NOT NULL DEFAULT 'standard' CHECK (plan ~ '^[a-z0-9_-]{1,40}$'),
    state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
    pool_id     bigint NOT NULL REFERENCES broker_pools (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Principals are the identities ACLs name: service accounts and (later) people.
-- An admin principal may do anything within its tenant.
CREATE TABLE principals (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[a-zA-Z0-9._-]{1,64}$'),
    kind        text NOT NULL DEFAULT 'service_account' CHECK (kind IN ('service_account', 'user')),
    is_admin    boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

-- The secret is never stored: secret_hash is "pbkdf2-sha256$<iterations>$<salt>$<hash>".
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY CHECK (key_id ~ '^[A-Z0-9]{16}$'),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal_id  uuid NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    secret_hash   text NOT NULL,
    secret_prefix text NOT NULL,  -- the first characters, to recognise a key in a list
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
    state         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- A JWT is mapped to a tenant by (issuer, audience), so that pair is unique fleet-wide.
CREATE TABLE jwt_issuers (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 1024),
    audience        text NOT NULL CHECK (length(audience) BETWEEN 1 AND 1024),
    algorithm       text NOT NULL CHECK (algorithm IN ('RS256', 'RS384', 'RS512', 'ES256',
                                                       'ES384', 'ES512', 'PS256', 'PS384',
                                                       'PS512', 'EdDSA')),
    public_keys     text NOT NULL CHECK (length(public_keys) BETWEEN 1 AND 65536),
    principal_claim text NOT NULL DEFAULT 'sub' CHECK (principal_claim ~ '^[a-zA-Z0-9_.:-]{1,64}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, audience)
);

-- NULL means "no limit".
CREATE TABLE quotas (
    tenant_id              uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    produce_bytes_per_sec  bigint CHECK (produce_bytes_per_sec > 0),
    consume_bytes_per_sec  bigint CHECK (consume_bytes_per_sec > 0),
    requests_per_sec       bigint CHECK (requests_per_sec > 0),
    connections            bigint CHECK (connections > 0),
    partitions             bigint CHECK (partitions >= 0),
    storage_bytes          bigint CHECK (storage_bytes >= 0),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Brokers register themselves and renew their lease; the control plane marks a broker
-- whose lease expired 'down'. Lease times are the database's clock, never a broker's.
CREATE TABLE brokers (
    id               integer PRIMARY KEY CHECK (id >= 0),
    pool_id          bigint NOT NULL REFERENCES broker_pools (id),
    host             text NOT NULL CHECK (length(host) BETWEEN 1 AND 255),
    port             integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    rack             text NOT NULL DEFAULT '' CHECK (length(rack) <= 64),
    state            text NOT NULL CHECK (state IN ('up', 'down')),
    lease_expires_at timestamptz NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX brokers_pool ON brokers (pool_id);

CREATE TABLE topics (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    name               text NOT NULL CHECK (name ~ '^[a-zA-Z0-9._-]{1,249}$' AND name NOT IN ('.', '..')),
    partitions         integer NOT NULL CHECK (partitions BETWEEN 1 AND 100000),
    replication_factor smallint NOT NULL CHECK (replication_factor BETWEEN 1 AND 16),
    configs            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(configs) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

-- Leadership changes only by compare-and-set on leader_epoch. leader = -1: no leader
-- (every in-sync replica is down).
CREATE TABLE partitions (
    topic_id     uuid NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    partition    integer NOT NULL CHECK (partition >= 0),
    replicas     integer[] NOT NULL CHECK (cardinality(replicas) >= 1),
    leader       integer NOT NULL,
    leader_epoch integer NOT NULL DEFAULT 0 CHECK (leader_epoch >= 0),
    isr          integer[] NOT NULL,
    PRIMARY KEY (topic_id, partition),
    CHECK (leader = -1 OR leader = ANY (replicas))
);

CREATE TABLE acls (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal     text NOT NULL CHECK (principal ~ '^([a-zA-Z0-9._-]{1,64}|\*)$'),
    resource_type text NOT NULL CHECK (resource_type IN ('topic', 'group', 'cluster',
                                                         'transactional_id')),
    pattern_type  text NOT NULL CHECK (pattern_type IN ('literal', 'prefixed')),
    resource_name text NOT NULL CHECK (length(resource_name) BETWEEN 1 AND 249),
    operation     text NOT NULL CHECK (operation IN ('all', 'read', 'write', 'create',
                                                     'delete', 'alter', 'describe',
                                                     'describe_configs', 'alter_configs')),
    permission    text NOT NULL CHECK (permission IN ('allow', 'deny')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, principal, resource_type, pattern_type, resource_name, operation,
            permission)
);

CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,            -- the operator credential's name, or "broker-N"
    action    text NOT NULL,            -- e.g. "tenant.create", "topic.delete"
    tenant_id uuid,                     -- no foreign key: the record outlives the tenant
    target    text NOT NULL DEFAULT '',
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);

-- Brokers and gateways LISTEN; the triggers make every path that changes these tables
-- notify, so no writer can forget to. The payload says which kind of data changed.
CREATE FUNCTION streamd_notify_metadata() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('streamd_metadata', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE FUNCTION streamd_notify_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('streamd_auth', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER topics_notify AFTER INSERT OR UPDATE OR DELETE ON topics
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_metadata();
CREATE TRIGGER partitions_notify AFTER INSERT OR UPDATE OR DELETE ON partitions
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_metadata();
CREATE TRIGGER brokers_notify AFTER INSERT OR DELETE OR UPDATE OF host, port, rack, state, pool_id
    ON brokers FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_metadata();

CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_auth();
CREATE TRIGGER principals_notify AFTER INSERT OR UPDATE OR DELETE ON principals
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_auth();
CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_auth();
CREATE TRIGGER jwt_issuers_notify AFTER INSERT OR UPDATE OR DELETE ON jwt_issuers
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_auth();
CREATE TRIGGER quotas_notify AFTER INSERT OR UPDATE OR DELETE ON quotas
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_auth();
CREATE TRIGGER acls_notify AFTER INSERT OR UPDATE OR DELETE ON acls
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_auth();
