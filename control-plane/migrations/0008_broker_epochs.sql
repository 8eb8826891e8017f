-- 0008: broker epochs for replication (docs/proposals/replication.md, KIP-903).
--
-- A broker's epoch grows by one each time its process registers (not on a reconnect of the
-- same process). Followers send it with their fetches; a leader never counts a fetch with
-- an older epoch than the pool's snapshot shows towards the in-sync replicas: it came from
-- before a restart, which may have lost what it had not synced.
ALTER TABLE brokers ADD COLUMN epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0);
