-- 0009: in-sync replicas kept by partition leaders (docs/proposals/replication.md § 3).
--
-- A leader changes its partition's ISR only by compare-and-set on isr_version (and on its
-- own leadership: leader, leader_epoch), as a Kafka leader does through AlterPartition;
-- an election moves both the leader epoch and isr_version. Partitions made before
-- replication list their leader alone; their followers join as they catch up.
ALTER TABLE partitions ADD COLUMN isr_version integer NOT NULL DEFAULT 0 CHECK (isr_version >= 0);
ALTER TABLE partitions ADD CONSTRAINT partitions_isr_in_replicas CHECK (isr <@ replicas);
