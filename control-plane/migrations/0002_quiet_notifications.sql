-- Notify brokers only of real changes to brokers and partitions.
--
-- Statement-level triggers fire even for statements that change no row, and a column list
-- (UPDATE OF state) only says which columns a statement names, not whether their values
-- changed. Every broker heartbeat (SET state = 'up') and every reconciler pass (the lease
-- expiry UPDATE) therefore notified streamd_metadata, and every broker of every pool
-- re-read its whole snapshot about once a second. Row-level triggers with a WHEN clause
-- fire only for rows whose values change; Postgres folds the identical notifications of
-- one transaction into one.

DROP TRIGGER brokers_notify ON brokers;
CREATE TRIGGER brokers_notify_rows AFTER INSERT OR DELETE ON brokers
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_metadata();
CREATE TRIGGER brokers_notify_change AFTER UPDATE ON brokers FOR EACH ROW
    WHEN (OLD.host IS DISTINCT FROM NEW.host OR OLD.port IS DISTINCT FROM NEW.port
          OR OLD.rack IS DISTINCT FROM NEW.rack OR OLD.state IS DISTINCT FROM NEW.state
          OR OLD.pool_id IS DISTINCT FROM NEW.pool_id)
    EXECUTE FUNCTION streamd_notify_metadata();

DROP TRIGGER partitions_notify ON partitions;
CREATE TRIGGER partitions_notify_rows AFTER INSERT OR DELETE ON partitions
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_metadata();
CREATE TRIGGER partitions_notify_change AFTER UPDATE ON partitions FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION streamd_notify_metadata();
