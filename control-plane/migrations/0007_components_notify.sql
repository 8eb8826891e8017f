-- 0007: brokers hear of components made or revoked.
--
-- A managed broker with internal_auth=scram and no verifiers file reads who may connect
-- from `components` in its snapshot (gateways, tools and its own pool's brokers), and
-- closes the connections of a credential that is revoked. Made and revoked notify
-- streamd_metadata, so that takes one snapshot, not a resync.
CREATE TRIGGER components_notify AFTER INSERT OR UPDATE OR DELETE ON components
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_metadata();
