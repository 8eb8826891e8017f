#include "bk_cplane.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bk_cluster.h"
#include "bk_forward.h"
#include "bk_loop.h"
#include "bk_server.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_pg.h"
#include "cm_pgwatch.h"
#include "cm_time.h"

#define BK_CPLANE__RETRY_MS 1000

struct bk_cplane {
    bk_broker_t *b;
    cm_pgwatch_t *watch;
    bk_io_t ready_io;   /* eventfd: the loop wakes up for a new snapshot */
    pthread_mutex_t mu; /* guards `pending` */
    bk_cluster_t *pending;
};

/* ---- the control-plane thread -------------------------------------------------------- */

static bool bk_cplane__register(void *ud, cm_pg_t *pg)
{
    bk_cplane_t *cp = ud;
    bk_broker_t *b = cp->b;
    char id[24], port[16], lease[24];
    snprintf(id, sizeof(id), "%" PRId64, b->cfg.node_id);
    snprintf(port, sizeof(port), "%d", b->adv_port);
    snprintf(lease, sizeof(lease), "%" PRId64, b->cfg.lease_ms);
    const char *p[] = { id, b->cfg.pool, b->adv_host, port, b->cfg.rack, lease };
    /* A broker id belongs to one pool: a broker configured with another pool is refused
     * rather than moved, since its replicas would silently change pools. */
    PGresult *r = cm_pg_exec(
        pg,
        "INSERT INTO brokers (id, pool_id, host, port, rack, state, lease_expires_at)"
        " SELECT $1, p.id, $3, $4, $5, 'up', now() + $6 * interval '1 millisecond'"
        " FROM broker_pools p WHERE p.name = $2"
        " ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,"
        " rack = EXCLUDED.rack, state = 'up', lease_expires_at = EXCLUDED.lease_expires_at,"
        " registered_at = now(), heartbeat_at = now() WHERE brokers.pool_id = EXCLUDED.pool_id"
        " RETURNING id",
        6, p);
    bool ok = cm_pg_ok(r) && PQntuples(r) == 1;
    if (!ok)
        cm_log_error("cannot register with the control plane",
                     "node_id=%s pool=%s err=\"%s\" hint=\"%s\"", id, b->cfg.pool,
                     cm_pg_ok(r) ? "no such pool, or the id is registered in another pool"
                                 : pg->err,
                     "create the pool (streamctl pools create NAME) or fix node_id/pool");
    else
        cm_log_info("registered with the control plane", "node_id=%s pool=%s addr=%s:%s", id,
                    b->cfg.pool, b->adv_host, port);
    PQclear(r);
    return ok;
}

/* Renews the lease; -1 when the broker's row is gone (an operator deleted it). */
static int64_t bk_cplane__heartbeat(void *ud, cm_pg_t *pg, int64_t now)
{
    bk_cplane_t *cp = ud;
    char id[24], lease[24];
    snprintf(id, sizeof(id), "%" PRId64, cp->b->cfg.node_id);
    snprintf(lease, sizeof(lease), "%" PRId64, cp->b->cfg.lease_ms);
    const char *p[] = { id, lease };
    /* state = 'up' again too: a broker marked down while cut off comes back by renewing. */
    PGresult *r = cm_pg_exec(pg,
                             "UPDATE brokers SET lease_expires_at = now() + $2 * interval"
                             " '1 millisecond', heartbeat_at = now(), state = 'up'"
                             " WHERE id = $1 RETURNING id",
                             2, p);
    bool gone = cm_pg_ok(r) && PQntuples(r) == 0; /* deleted meanwhile: register again */
    PQclear(r);
    return gone ? -1 : now + cp->b->cfg.lease_ms / 3;
}

static void bk_cplane__read_brokers(bk_cluster_t *c, PGresult *r)
{
    int n = PQntuples(r);
    c->brokers = cm_arena_calloc(&c->arena, (size_t)n + 1, sizeof(*c->brokers));
    if (c->brokers == NULL)
        return;
    for (int i = 0; i < n; i++) {
        bk_cluster_broker_t *x = &c->brokers[c->n_brokers++];
        x->id = atoi(PQgetvalue(r, i, 0));
        x->host = cm_arena_strndup(&c->arena, PQgetvalue(r, i, 1), strlen(PQgetvalue(r, i, 1)));
        x->port = atoi(PQgetvalue(r, i, 2));
        x->rack = cm_arena_strndup(&c->arena, PQgetvalue(r, i, 3), strlen(PQgetvalue(r, i, 3)));
        x->up = strcmp(PQgetvalue(r, i, 4), "up") == 0;
    }
}

/* Fills a topic's configs from the stored JSON, over the broker's defaults. */
static void bk_cplane__configs(bk_cplane_t *cp, bk_cluster_topic_t *t, const char *json)
{
    cm_tconfig_init(&t->cfg, &cp->b->cfg.topic_defaults);
    cm_arena_t a;
    cm_arena_init(&a, 1u << 20);
    cm_json_t *doc;
    char err[128];
    if (cm_json_parse(&a, json, strlen(json), 4, &doc, err, sizeof(err)) == 0 &&
        doc->type == CM_JSON_OBJECT) {
        for (const cm_json_t *m = doc->child; m != NULL; m = m->next) {
            const cm_tconfig_key_t *k = cm_tconfig_key(cm_kstr_c(m->key));
            char msg[256];
            if (k == NULL || m->type != CM_JSON_STRING ||
                cm_tconfig_set(&t->cfg, k, cm_kstr_c(m->str), msg, sizeof(msg)) != 0)
                cm_log_warn("ignoring a topic config from the control plane", "topic=%s key=%s",
                            t->name, m->key);
        }
    }
    cm_arena_free(&a);
}

static bool bk_cplane__read_tenants(bk_cluster_t *c, PGresult *r)
{
    int n = PQntuples(r);
    c->tenants = cm_arena_calloc(&c->arena, (size_t)n + 1, sizeof(*c->tenants));
    if (c->tenants == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        bk_cluster_tenant_t *t = &c->tenants[c->n_tenants++];
        t->name = cm_arena_strndup(&c->arena, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)));
        if (t->name == NULL || !bk_cluster_parse_uuid(PQgetvalue(r, i, 1), &t->id))
            return false;
    }
    return true;
}

static bool bk_cplane__read_topics(bk_cplane_t *cp, bk_cluster_t *c, PGresult *r)
{
    int n = PQntuples(r);
    c->topics = cm_arena_calloc(&c->arena, (size_t)n + 1, sizeof(*c->topics));
    if (c->topics == NULL)
        return false;
    bk_cluster_topic_t *t = NULL;
    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(r, i, 0);
        if (t == NULL || strcmp(t->name, name) != 0) {
            t = &c->topics[c->n_topics++];
            t->name = cm_arena_strndup(&c->arena, name, strlen(name));
            t->n_parts = atoi(PQgetvalue(r, i, 2));
            t->parts = cm_arena_calloc(&c->arena, (size_t)t->n_parts + 1, sizeof(*t->parts));
            if (t->name == NULL || t->parts == NULL ||
                !bk_cluster_parse_uuid(PQgetvalue(r, i, 1), &t->id))
                return false;
            for (int32_t p = 0; p < t->n_parts; p++)
                t->parts[p].leader = -1;
            bk_cplane__configs(cp, t, PQgetvalue(r, i, 3));
        }
        int32_t p = atoi(PQgetvalue(r, i, 4));
        if (p < 0 || p >= t->n_parts)
            continue; /* a partition row beyond the count: added while we read */
        bk_cluster_part_t *x = &t->parts[p];
        x->leader = atoi(PQgetvalue(r, i, 5));
        x->epoch = atoi(PQgetvalue(r, i, 6));
        if (bk_cluster_parse_ints(&c->arena, PQgetvalue(r, i, 7), &x->replicas, &x->n_replicas) !=
                0 ||
            bk_cluster_parse_ints(&c->arena, PQgetvalue(r, i, 8), &x->isr, &x->n_isr) != 0)
            return false;
    }
    return true;
}

/* Reads the pool's brokers, tenants and topics in one consistent snapshot. */
static bk_cluster_t *bk_cplane__snapshot(bk_cplane_t *cp, cm_pg_t *pg)
{
    const char *p[] = { cp->b->cfg.pool };
    if (!cm_pg_run(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
        return NULL;
    /* A Kafka-style 22-character id derived from the pool: the same on every broker. */
    PGresult *rc = cm_pg_exec(
        pg,
        "SELECT translate(rtrim(encode(substr(sha256(convert_to(p.id || ':' || p.name || ':'"
        " || extract(epoch FROM p.created_at)::text, 'UTF8')), 1, 16), 'base64'), '='),"
        " '+/', '-_')"
        " FROM broker_pools p WHERE p.name = $1",
        1, p);
    PGresult *rb = cm_pg_exec(pg,
                              "SELECT b.id, b.host, b.port, b.rack, b.state FROM brokers b"
                              " JOIN broker_pools p ON p.id = b.pool_id WHERE p.name = $1"
                              " ORDER BY b.id",
                              1, p);
    PGresult *rt = cm_pg_exec(
        pg,
        "SELECT tn.name || '.' || t.name, t.id, t.partitions, t.configs::text, x.partition,"
        " x.leader, x.leader_epoch, x.replicas::text, x.isr::text"
        " FROM topics t JOIN tenants tn ON tn.id = t.tenant_id"
        " JOIN broker_pools bp ON bp.id = tn.pool_id JOIN partitions x ON x.topic_id = t.id"
        " WHERE bp.name = $1 ORDER BY 1, x.partition",
        1, p);
    /* The tenants by id, not only by name: one deleted and re-created between two snapshots
     * shows up here under a new id, and owns none of its predecessor's consumer groups. */
    PGresult *rn = cm_pg_exec(pg,
                              "SELECT tn.name, tn.id FROM tenants tn"
                              " JOIN broker_pools bp ON bp.id = tn.pool_id WHERE bp.name = $1",
                              1, p);
    bk_cluster_t *c = NULL;
    if (cm_pg_ok(rc) && cm_pg_ok(rb) && cm_pg_ok(rt) && cm_pg_ok(rn)) {
        c = bk_cluster_new();
        if (PQntuples(rc) == 1)
            c->cluster_id =
                cm_arena_strndup(&c->arena, PQgetvalue(rc, 0, 0), strlen(PQgetvalue(rc, 0, 0)));
        bk_cplane__read_brokers(c, rb);
        if (c->brokers == NULL || !bk_cplane__read_tenants(c, rn) ||
            !bk_cplane__read_topics(cp, c, rt) ||
            !bk_cluster_index(c, (int32_t)cp->b->cfg.node_id)) {
            cm_log_error("cannot read the cluster snapshot", "pool=%s", cp->b->cfg.pool);
            bk_cluster_free(c);
            c = NULL;
        }
    }
    PQclear(rc);
    PQclear(rb);
    PQclear(rt);
    PQclear(rn);
    cm_pg_run(pg, "COMMIT", 0, NULL);
    return c;
}

static bool bk_cplane__sync(void *ud, cm_pg_t *pg, uint64_t ticket)
{
    bk_cplane_t *cp = ud;
    bk_cluster_t *c = bk_cplane__snapshot(cp, pg);
    if (c == NULL)
        return false;
    c->ticket = ticket;
    cm_log_debug("cluster snapshot", "brokers=%d tenants=%d topics=%d", c->n_brokers,
                 c->n_tenants, c->n_topics);
    pthread_mutex_lock(&cp->mu);
    bk_cluster_t *old = cp->pending;
    cp->pending = c;
    pthread_mutex_unlock(&cp->mu);
    bk_cluster_free(old); /* superseded before the loop took it */
    uint64_t one = 1;
    if (write(cp->ready_io.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        cm_log_error("cannot wake the event loop", "errno=%s", strerror(errno));
    return true;
}

/* A clean stop gives the lease back, so leadership moves now rather than at expiry. */
static void bk_cplane__stopping(void *ud, cm_pg_t *pg)
{
    bk_cplane_t *cp = ud;
    if (pg->conn == NULL)
        return;
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, cp->b->cfg.node_id);
    const char *p[] = { id };
    cm_pg_run(pg, "UPDATE brokers SET state = 'down', lease_expires_at = now() WHERE id = $1", 1,
              p);
}

static const cm_pgwatch_ops_t bk_cplane__ops = {
    .channels = (const char *const[]){ "streamd_metadata", NULL },
    .connected = bk_cplane__register,
    .tick = bk_cplane__heartbeat,
    .sync = bk_cplane__sync,
    .stopping = bk_cplane__stopping,
};

/* ---- the event-loop side ------------------------------------------------------------- */

static void bk_cplane__on_ready(bk_io_t *io, uint32_t events)
{
    bk_cplane_t *cp = (bk_cplane_t *)((char *)io - offsetof(bk_cplane_t, ready_io));
    uint64_t v;
    if (read(io->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&cp->mu);
    bk_cluster_t *c = cp->pending;
    cp->pending = NULL;
    pthread_mutex_unlock(&cp->mu);
    if (c != NULL) {
        uint64_t ticket = c->ticket;
        bk_cluster_apply(cp->b, c);
        bk_metrics_add(&cp->b->metrics.cluster_snapshots, 1);
        bk_fwd_applied(cp->b->fwd, ticket);
        bk_server_ready(cp->b);
    }
    (void)events;
}

uint64_t bk_cplane_want_sync(bk_cplane_t *cp)
{
    return cm_pgwatch_want(cp->watch);
}

bk_cplane_t *bk_cplane_start(bk_broker_t *b)
{
    bk_cplane_t *cp = calloc(1, sizeof(*cp));
    if (cp == NULL)
        abort();
    cp->b = b;
    pthread_mutex_init(&cp->mu, NULL);
    cp->ready_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cp->ready_io.cb = bk_cplane__on_ready;
    if (cp->ready_io.fd < 0 || bk_loop_add(b->loop, &cp->ready_io, EPOLLIN) != 0)
        abort();
    cm_pgwatch_opts_t o = { .database_url = b->cfg.database_url,
                            .app_name = "streamd-broker",
                            .timeout_ms = b->cfg.lease_ms / 3,
                            .retry_ms = BK_CPLANE__RETRY_MS,
                            .resync_ms = b->cfg.resync_ms };
    cp->watch = cm_pgwatch_start(&o, &bk_cplane__ops, cp);
    return cp;
}

void bk_cplane_stop(bk_cplane_t *cp)
{
    if (cp == NULL)
        return;
    cm_pgwatch_stop(cp->watch);
    bk_loop_del(cp->b->loop, &cp->ready_io);
    close(cp->ready_io.fd);
    bk_cluster_free(cp->pending);
    pthread_mutex_destroy(&cp->mu);
    free(cp);
}
