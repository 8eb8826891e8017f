-- 0005: what each broker holds, as it measured it.
--
-- Brokers report every usage_report_ms the bytes on disk of each partition replica they
-- hold (every segment, the active one included) and, when they cannot serve one, why:
-- a partition the control plane placed on a broker that could not create it, or one that
-- recovery kept offline. The gateway enforces storage quotas on the sum of these bytes
-- (all segments, all replicas) and answers produce and fetch to a partition whose leader
-- reports an error with that error instead of waiting; billing meters storage from them.
CREATE TABLE replica_state (
    topic_id   uuid NOT NULL,
    partition  integer NOT NULL,
    broker_id  integer NOT NULL REFERENCES brokers (id) ON DELETE CASCADE,
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    error      text CHECK (length(error) BETWEEN 1 AND 512),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic_id, partition, broker_id),
    FOREIGN KEY (topic_id, partition) REFERENCES partitions (topic_id, partition)
        ON DELETE CASCADE
);
CREATE INDEX replica_state_broker ON replica_state (broker_id);

-- Sizes change all the time and wake nobody; an error appearing or clearing changes what
-- the gateway answers for the partition, so it notifies like any metadata change.
CREATE TRIGGER replica_state_notify_insert AFTER INSERT ON replica_state FOR EACH ROW
    WHEN (NEW.error IS NOT NULL) EXECUTE FUNCTION streamd_notify_metadata();
CREATE TRIGGER replica_state_notify_update AFTER UPDATE ON replica_state FOR EACH ROW
    WHEN (OLD.error IS DISTINCT FROM NEW.error) EXECUTE FUNCTION streamd_notify_metadata();
CREATE TRIGGER replica_state_notify_delete AFTER DELETE ON replica_state FOR EACH ROW
    WHEN (OLD.error IS NOT NULL) EXECUTE FUNCTION streamd_notify_metadata();

-- What each broker can hold (its partitions_total_max), registered with it: placement gives
-- a broker holding that many replicas no more, and refuses (42203) when the pool is full,
-- rather than placing partitions a broker would refuse to create. NULL: not known.
ALTER TABLE brokers ADD COLUMN partitions_max integer CHECK (partitions_max >= 1);
