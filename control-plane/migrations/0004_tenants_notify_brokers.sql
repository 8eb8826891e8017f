-- 0004: brokers hear of tenants created, deleted or moved between pools.
--
-- A broker's consumer groups belong to tenants by id ("<tenant>.<group>" on the broker,
-- brokers/bk_groups.c): a broker removes the groups of a tenant once its cluster snapshot
-- no longer shows that tenant, or shows a tenant of the same name with another id. Tenants
-- notified only streamd_auth, for the gateway, so a broker learnt of a tenant's deletion
-- or re-creation only at its next topic change or resync (30 s), and meanwhile a new tenant
-- of the same name could list its predecessor's groups. Updates notify only when the pool
-- changes (a name never does), so suspending a tenant wakes no broker.
CREATE TRIGGER tenants_notify_brokers AFTER INSERT OR DELETE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION streamd_notify_metadata();
CREATE TRIGGER tenants_notify_brokers_change AFTER UPDATE ON tenants FOR EACH ROW
    WHEN (OLD.pool_id IS DISTINCT FROM NEW.pool_id OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION streamd_notify_metadata();
