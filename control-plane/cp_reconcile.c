/*
 * The reconcilers, run every reconcile_ms by whichever control plane holds the advisory
 * lock for that pass:
 *
 *   leases     a broker whose lease expired (the database's clock) is marked down. After
 *              a database reconnect nothing expires for lease_grace_ms, so that brokers
 *              cut off by the same outage can renew before they are judged.
 *   leaders    a partition whose leader is down, or that has none, gets the first in-sync
 *              replica that is up; with none up its leader becomes -1 (unavailable, and
 *              visible as such in the API). Every change is a compare-and-set on the leader
 *              epoch, so an operator's concurrent change is never overwritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_log.h"
#include "cm_time.h"
#include "cp.h"
#include "cp_place.h"

#define CP_RECONCILE__LOCK_KEY      "7201854"
#define CP_RECONCILE__ELECTIONS_MAX "10000" /* per pass; the next pass does the rest */

static void cp_reconcile__leases(cp_t *cp)
{
    PGresult *r = cm_pg_exec(&cp->pg,
                             "UPDATE brokers SET state = 'down' WHERE state = 'up'"
                             " AND lease_expires_at < now() RETURNING id, host, port",
                             0, NULL);
    if (!cm_pg_ok(r)) {
        PQclear(r);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        cm_log_warn("broker lease expired; marked down", "broker=%s addr=%s:%s",
                    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        const char *p[] = { PQgetvalue(r, i, 0) };
        cm_pg_run(&cp->pg,
                  "INSERT INTO audit_log (actor, action, target) VALUES"
                  " ('control-plane', 'broker.down', $1)",
                  1, p);
        atomic_fetch_add(&cp->metrics.brokers_expired, 1);
    }
    PQclear(r);
}

static void cp_reconcile__leaders(cp_t *cp)
{
    PGresult *r = cm_pg_exec(
        &cp->pg,
        "SELECT p.topic_id, p.partition, p.leader, p.leader_epoch,"
        " coalesce((SELECT u.id FROM unnest(p.isr) WITH ORDINALITY AS u(id, ord)"
        "   JOIN brokers b ON b.id = u.id AND b.state = 'up' ORDER BY u.ord LIMIT 1), -1)"
        " FROM partitions p LEFT JOIN brokers lb ON lb.id = p.leader"
        " WHERE p.leader = -1 OR lb.state IS DISTINCT FROM 'up'"
        " LIMIT " CP_RECONCILE__ELECTIONS_MAX,
        0, NULL);
    if (!cm_pg_ok(r)) {
        PQclear(r);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int32_t part = atoi(PQgetvalue(r, i, 1)), leader = atoi(PQgetvalue(r, i, 2));
        int32_t epoch = atoi(PQgetvalue(r, i, 3)), next = atoi(PQgetvalue(r, i, 4)), now = 0;
        if (next == leader)
            continue; /* leaderless and still no in-sync replica up */
        int won =
            cp_partition_cas_leader(&cp->pg, PQgetvalue(r, i, 0), part, next, epoch, true, &now);
        if (won == 1) {
            atomic_fetch_add(&cp->metrics.leaders_elected, 1);
            cm_log_info(next >= 0 ? "partition leader elected"
                                  : "partition unavailable: no in-sync replica is up",
                        "topic_id=%s partition=%d leader=%d previous=%d epoch=%d",
                        PQgetvalue(r, i, 0), part, next, leader, now);
        }
    }
    PQclear(r);
}

void cp_reconcile(cp_t *cp)
{
    if (!cm_pg_ensure(&cp->pg))
        return;
    if (cp->pg.generation != cp->pg_generation) {
        cp->pg_generation = cp->pg.generation;
        cp->leases_from_ms = cm_mono_ms() + cp->cfg.lease_grace_ms;
        cm_log_info("database connected", "generation=%llu lease_grace_ms=%lld",
                    (unsigned long long)cp->pg.generation, (long long)cp->cfg.lease_grace_ms);
    }
    if (!cp->migrated) {
        if (cp_migrate(&cp->pg, (int)cp->cfg.migrate_to) != 0)
            return;
        cp->migrated = true;
    }
    if (!cm_pg_begin(&cp->pg))
        return;
    const char *key[] = { CP_RECONCILE__LOCK_KEY };
    PGresult *r = cm_pg_exec(&cp->pg, "SELECT pg_try_advisory_xact_lock($1::bigint)", 1, key);
    bool mine = cm_pg_ok(r) && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (mine) {
        if (cm_mono_ms() >= cp->leases_from_ms)
            cp_reconcile__leases(cp);
        cp_reconcile__leaders(cp);
        atomic_fetch_add(&cp->metrics.reconcile_passes, 1);
    }
    if (!cm_pg_commit(&cp->pg))
        cm_pg_rollback(&cp->pg);
}
