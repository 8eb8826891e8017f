#include "bk_cplane.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bk_cluster.h"
#include "bk_forward.h"
#include "bk_loop.h"
#include "bk_sasl.h"
#include "bk_server.h"
#include "bk_topic.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_pg.h"
#include "cm_pgwatch.h"
#include "cm_sbuf.h"
#include "cm_time.h"

#define BK_CPLANE__RETRY_MS 1000
/* Every this many usage reports, one lists every replica (and drops rows of others). */
#define BK_CPLANE__FULL_EVERY 30

/* A usage report: Postgres array literals of equal length, one entry per replica. */
typedef struct bk_cplane_report {
    cm_sbuf_t topics, parts, bytes, errors;
    int n;
    bool full; /* every replica held here: rows of others are stale */
} bk_cplane_report_t;

/* ISR changes proposed by this broker's partitions (bk_isr.c), not yet tried: Postgres
 * array literals of equal length, one entry per partition; n 0 when there are none. */
typedef struct bk_cplane_isr {
    cm_sbuf_t topics, parts, epochs, versions, isrs;
    int n;
} bk_cplane_isr_t;

struct bk_cplane {
    bk_broker_t *b;
    cm_pgwatch_t *watch;
    bk_cplane_isr_t isr; /* under `mu` */
    bk_io_t ready_io;    /* eventfd: the loop wakes up for a new snapshot */
    pthread_mutex_t mu;  /* guards `pending` and `report` */
    bk_cluster_t *pending;
    bk_cplane_report_t *report; /* built by the loop, written by the thread */
    atomic_bool report_lost;    /* a write failed: the next report is a full one */
    int64_t heartbeat_due;      /* thread: monotonic ms of the next lease renewal */
    int64_t report_due;         /* loop: monotonic ms of the next report */
    int reports;                /* loop: reports built */
};

/* ---- the control-plane thread -------------------------------------------------------- */

static bool bk_cplane__register(void *ud, cm_pg_t *pg)
{
    bk_cplane_t *cp = ud;
    bk_broker_t *b = cp->b;
    char id[24], port[16], lease[24], cap[24];
    snprintf(id, sizeof(id), "%" PRId64, b->cfg.node_id);
    snprintf(port, sizeof(port), "%d", b->adv_port);
    snprintf(lease, sizeof(lease), "%" PRId64, b->cfg.lease_ms);
    snprintf(cap, sizeof(cap), "%" PRId64, b->cfg.partitions_total_max);
    /* The epoch grows with each start of the process, not with a reconnect (KIP-903). */
    const char *bump = atomic_load(&b->broker_epoch) < 0 ? "1" : "0";
    const char *p[] = { id, b->cfg.pool, b->adv_host, port, b->cfg.rack, lease, cap, bump };
    /* A broker id belongs to one pool: a broker configured with another pool is refused
     * rather than moved, since its replicas would silently change pools. */
    PGresult *r = cm_pg_exec(
        pg,
        "INSERT INTO brokers (id, pool_id, host, port, rack, state, lease_expires_at,"
        " partitions_max, epoch)"
        " SELECT $1, p.id, $3, $4, $5, 'up', now() + $6 * interval '1 millisecond', $7, 1"
        " FROM broker_pools p WHERE p.name = $2"
        " ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,"
        " rack = EXCLUDED.rack, state = 'up', lease_expires_at = EXCLUDED.lease_expires_at,"
        " partitions_max = EXCLUDED.partitions_max, epoch = brokers.epoch + $8::int,"
        " registered_at = now(), heartbeat_at = now() WHERE brokers.pool_id = EXCLUDED.pool_id"
        " RETURNING id, epoch",
        8, p);
    bool ok = cm_pg_ok(r) && PQntuples(r) == 1;
    if (ok)
        atomic_store(&b->broker_epoch, atoll(PQgetvalue(r, 0, 1)));
    if (!ok)
        cm_log_error("cannot register with the control plane",
                     "node_id=%s pool=%s err=\"%s\" hint=\"%s\"", id, b->cfg.pool,
                     cm_pg_ok(r) ? "no such pool, or the id is registered in another pool"
                                 : pg->err,
                     "create the pool (streamctl pools create NAME) or fix node_id/pool");
    else
        cm_log_info("registered with the control plane",
                    "node_id=%s pool=%s addr=%s:%s broker_epoch=%lld", id, b->cfg.pool, b->adv_host,
                    port, (long long)atomic_load(&b->broker_epoch));
    PQclear(r);
    return ok;
}

static void bk_cplane__report_free(bk_cplane_report_t *r)
{
    if (r == NULL)
        return;
    cm_sbuf_free(&r->topics);
    cm_sbuf_free(&r->parts);
    cm_sbuf_free(&r->bytes);
    cm_sbuf_free(&r->errors);
    free(r);
}

/*
 * Writes a usage report: one row per replica, for partitions that still exist (a topic
 * deleted meanwhile is skipped, not an error). A full report also drops this broker's rows
 * of replicas it no longer holds. A failed write makes the next report a full one.
 */
static void bk_cplane__write_report(bk_cplane_t *cp, cm_pg_t *pg, bk_cplane_report_t *r)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, cp->b->cfg.node_id);
    const char *p[] = { id, r->topics.buf, r->parts.buf, r->bytes.buf, r->errors.buf };
    bool ok = cm_pg_run(pg, "BEGIN", 0, NULL);
    ok = ok && cm_pg_run(pg,
                         "INSERT INTO replica_state AS rs"
                         " (topic_id, partition, broker_id, size_bytes, error, updated_at)"
                         " SELECT u.t, u.p, $1, u.b, u.e, now()"
                         " FROM unnest($2::uuid[], $3::int[], $4::bigint[], $5::text[])"
                         " AS u(t, p, b, e)"
                         " JOIN partitions x ON x.topic_id = u.t AND x.partition = u.p"
                         " ON CONFLICT (topic_id, partition, broker_id) DO UPDATE SET"
                         " size_bytes = EXCLUDED.size_bytes, error = EXCLUDED.error,"
                         " updated_at = now()",
                         5, p);
    if (r->full)
        ok = ok && cm_pg_run(pg,
                             "DELETE FROM replica_state WHERE broker_id = $1 AND (topic_id,"
                             " partition) NOT IN (SELECT * FROM unnest($2::uuid[], $3::int[]))",
                             3, p);
    ok = ok && cm_pg_run(pg, "COMMIT", 0, NULL);
    if (!ok) {
        cm_pg_run(pg, "ROLLBACK", 0, NULL);
        atomic_store(&cp->report_lost, true);
        cm_log_warn("cannot report replica usage to the control plane", "err=\"%s\"", pg->err);
    }
}

/* Renews the lease when due and writes the usage report the loop left, if any; -1 when the
 * broker's row is gone (an operator deleted it). */
static int64_t bk_cplane__heartbeat(void *ud, cm_pg_t *pg, int64_t now)
{
    bk_cplane_t *cp = ud;
    pthread_mutex_lock(&cp->mu);
    bk_cplane_report_t *report = cp->report;
    cp->report = NULL;
    pthread_mutex_unlock(&cp->mu);
    if (report != NULL) {
        bk_cplane__write_report(cp, pg, report);
        bk_cplane__report_free(report);
    }
    int64_t poll = cp->b->cfg.usage_report_ms < cp->b->cfg.lease_ms / 3 ? cp->b->cfg.usage_report_ms
                                                                        : cp->b->cfg.lease_ms / 3;
    if (now < cp->heartbeat_due)
        return now + poll;
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
    if (gone) { /* registering again creates the row anew: its replica rows went with it */
        atomic_store(&cp->report_lost, true);
        return -1;
    }
    cp->heartbeat_due = now + cp->b->cfg.lease_ms / 3;
    return now + poll;
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
        x->epoch = atoll(PQgetvalue(r, i, 5));
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
        x->isr_version = atoi(PQgetvalue(r, i, 9));
        if (bk_cluster_parse_ints(&c->arena, PQgetvalue(r, i, 7), &x->replicas, &x->n_replicas) !=
                0 ||
            bk_cluster_parse_ints(&c->arena, PQgetvalue(r, i, 8), &x->isr, &x->n_isr) != 0)
            return false;
    }
    return true;
}

static bool bk_cplane__read_auth(bk_cluster_t *c, PGresult *r)
{
    int n = PQntuples(r);
    c->auth_names = cm_arena_calloc(&c->arena, (size_t)n + 1, sizeof(*c->auth_names));
    c->auth_verifiers = cm_arena_calloc(&c->arena, (size_t)n + 1, sizeof(*c->auth_verifiers));
    c->auth_broker_ids = cm_arena_calloc(&c->arena, (size_t)n + 1, sizeof(*c->auth_broker_ids));
    if (c->auth_names == NULL || c->auth_verifiers == NULL || c->auth_broker_ids == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
        c->auth_broker_ids[i] = PQgetisnull(r, i, 2) ? -1 : atoi(PQgetvalue(r, i, 2));
        c->auth_names[i] = cm_arena_strndup(&c->arena, name, strlen(name));
        c->auth_verifiers[i] = cm_arena_strndup(&c->arena, v, strlen(v));
        if (c->auth_names[i] == NULL || c->auth_verifiers[i] == NULL)
            return false;
    }
    c->n_auth = n;
    c->auth_read = true;
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
                              "SELECT b.id, b.host, b.port, b.rack, b.state, b.epoch FROM brokers b"
                              " JOIN broker_pools p ON p.id = b.pool_id WHERE p.name = $1"
                              " ORDER BY b.id",
                              1, p);
    PGresult *rt = cm_pg_exec(
        pg,
        "SELECT tn.name || '.' || t.name, t.id, t.partitions, t.configs::text, x.partition,"
        " x.leader, x.leader_epoch, x.replicas::text, x.isr::text, x.isr_version"
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
    /* Who may connect to the Kafka listener, when the control plane says (bk_sasl.c). */
    PGresult *ra = NULL;
    if (bk_sasl_from_control_plane(cp->b))
        ra = cm_pg_exec(pg,
                        "SELECT c.name, c.scram_verifier, c.broker_id FROM components c"
                        " LEFT JOIN broker_pools p ON p.id = c.pool_id"
                        " WHERE c.revoked_at IS NULL AND (c.kind <> 'broker' OR p.name = $1)",
                        1, p);
    bk_cluster_t *c = NULL;
    if (cm_pg_ok(rc) && cm_pg_ok(rb) && cm_pg_ok(rt) && cm_pg_ok(rn) &&
        (ra == NULL || cm_pg_ok(ra))) {
        c = bk_cluster_new();
        if (PQntuples(rc) == 1)
            c->cluster_id =
                cm_arena_strndup(&c->arena, PQgetvalue(rc, 0, 0), strlen(PQgetvalue(rc, 0, 0)));
        bk_cplane__read_brokers(c, rb);
        if (ra != NULL && !bk_cplane__read_auth(c, ra)) {
            bk_cluster_free(c);
            c = NULL;
        } else if (c->brokers == NULL || !bk_cplane__read_tenants(c, rn) ||
                   !bk_cplane__read_topics(cp, c, rt) ||
                   !bk_cluster_index(c, (int32_t)cp->b->cfg.node_id)) {
            cm_log_error("cannot read the cluster snapshot", "pool=%s", cp->b->cfg.pool);
            bk_cluster_free(c);
            c = NULL;
        }
    }
    PQclear(ra);
    PQclear(rc);
    PQclear(rb);
    PQclear(rt);
    PQclear(rn);
    cm_pg_run(pg, "COMMIT", 0, NULL);
    return c;
}

static void bk_cplane__isr_free(bk_cplane_isr_t *x)
{
    cm_sbuf_free(&x->topics);
    cm_sbuf_free(&x->parts);
    cm_sbuf_free(&x->epochs);
    cm_sbuf_free(&x->versions);
    cm_sbuf_free(&x->isrs);
    *x = (bk_cplane_isr_t){ 0 };
}

/*
 * Runs the ISR changes proposed since the last snapshot, each a compare-and-set on the
 * partition's leader, leader epoch and isr_version (Kafka's AlterPartition). A change that
 * lost (leadership moved, another change won) does nothing; the snapshot read next shows
 * the leader what holds.
 */
static void bk_cplane__run_isr(bk_cplane_t *cp, cm_pg_t *pg)
{
    pthread_mutex_lock(&cp->mu);
    bk_cplane_isr_t x = cp->isr;
    cp->isr = (bk_cplane_isr_t){ 0 };
    pthread_mutex_unlock(&cp->mu);
    if (x.n == 0)
        return;
    cm_sbuf_t *arrays[] = { &x.topics, &x.parts, &x.epochs, &x.versions, &x.isrs };
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        cm_sbuf_append(arrays[i], "}", 1);
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, cp->b->cfg.node_id);
    const char *p[] = { id, x.topics.buf, x.parts.buf, x.epochs.buf, x.versions.buf, x.isrs.buf };
    PGresult *r = cm_pg_exec(
        pg,
        "UPDATE partitions x SET isr = u.isr::int[], isr_version = x.isr_version + 1"
        " FROM unnest($2::uuid[], $3::int[], $4::int[], $5::int[], $6::text[])"
        " AS u(t, p, e, v, isr)"
        " WHERE x.topic_id = u.t AND x.partition = u.p AND x.leader = $1::int"
        " AND x.leader_epoch = u.e AND x.isr_version = u.v AND u.isr::int[] <@ x.replicas"
        " AND $1::int = ANY (u.isr::int[])"
        " RETURNING x.partition",
        6, p);
    if (cm_pg_ok(r))
        cm_log_info("in-sync replicas changed", "proposed=%d committed=%d", x.n, PQntuples(r));
    else
        cm_log_warn("cannot change in-sync replicas; the leaders propose again", "err=\"%s\"",
                    pg->err);
    PQclear(r);
    bk_cplane__isr_free(&x);
}

static bool bk_cplane__sync(void *ud, cm_pg_t *pg, uint64_t ticket)
{
    bk_cplane_t *cp = ud;
    bk_cplane__run_isr(cp, pg);
    bk_cluster_t *c = bk_cplane__snapshot(cp, pg);
    if (c == NULL)
        return false;
    c->ticket = ticket;
    cm_log_debug("cluster snapshot", "brokers=%d tenants=%d topics=%d", c->n_brokers, c->n_tenants,
                 c->n_topics);
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

/* Appends one array element, quoted as Postgres reads array literals; NULL for none. */
static void bk_cplane__elem(cm_sbuf_t *a, const char *v)
{
    cm_sbuf_append(a, a->len > 1 ? "," : "", a->len > 1 ? 1 : 0);
    if (v == NULL) {
        cm_sbuf_append(a, "NULL", 4);
        return;
    }
    cm_sbuf_append(a, "\"", 1);
    for (const char *c = v; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\')
            cm_sbuf_append(a, "\\", 1);
        cm_sbuf_append(a, c, 1);
    }
    cm_sbuf_append(a, "\"", 1);
}

static void bk_cplane__add(bk_cplane_report_t *r, const cm_kuuid_t *topic, int32_t part,
                           int64_t bytes, const char *err)
{
    char t[33], n[24];
    bk_uuid_hex(*topic, t); /* Postgres reads a uuid from 32 hex digits too */
    bk_cplane__elem(&r->topics, t);
    snprintf(n, sizeof(n), "%" PRId32, part);
    bk_cplane__elem(&r->parts, n);
    snprintf(n, sizeof(n), "%" PRId64, bytes);
    bk_cplane__elem(&r->bytes, n);
    char e[512];
    if (err != NULL) /* the column holds 1..512 characters */
        snprintf(e, sizeof(e), "%s", err[0] != '\0' ? err : "unavailable");
    bk_cplane__elem(&r->errors, err != NULL ? e : NULL);
    r->n++;
}

void bk_cplane_report(bk_cplane_t *cp, int64_t now_ms)
{
    bk_broker_t *b = cp->b;
    const bk_cluster_t *c = b->cluster;
    if (c == NULL || now_ms < cp->report_due)
        return;
    cp->report_due = now_ms + b->cfg.usage_report_ms;
    pthread_mutex_lock(&cp->mu);
    bool waiting = cp->report != NULL; /* the last one is not written yet: Postgres is away */
    pthread_mutex_unlock(&cp->mu);
    if (waiting)
        return;
    bk_cplane_report_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    cm_sbuf_t *arrays[] = { &r->topics, &r->parts, &r->bytes, &r->errors };
    for (size_t i = 0; i < 4; i++) {
        cm_sbuf_init(arrays[i]);
        cm_sbuf_append(arrays[i], "{", 1);
    }
    r->full =
        atomic_exchange(&cp->report_lost, false) || cp->reports++ % BK_CPLANE__FULL_EVERY == 0;
    /* The replicas the control plane placed here: those held, by size and state, and those
     * this broker could not create, with why. */
    for (int32_t i = 0; i < c->n_topics; i++) {
        const bk_cluster_topic_t *ct = &c->topics[i];
        if (!ct->hosted)
            continue;
        bk_topic_t *t = bk_topic_find(b, cm_kstr_c(ct->name));
        if (t != NULL && memcmp(t->id.b, ct->id.b, sizeof(t->id.b)) != 0)
            t = NULL;
        for (int32_t k = 0; k < ct->n_parts; k++) {
            if (!ct->mine[k])
                continue;
            bk_partition_t *p = t != NULL && k < t->n_parts ? t->parts[k] : NULL;
            if (p == NULL) {
                char why[400];
                snprintf(why, sizeof(why), "broker %" PRId64 " could not create this partition: %s",
                         b->cfg.node_id, ct->create_err != NULL ? ct->create_err : "see its log");
                bk_cplane__add(r, &ct->id, k, 0, why);
                continue;
            }
            bool offline = p->offline != NULL;
            if (!r->full && p->log_bytes == p->reported_bytes && offline == p->reported_offline)
                continue;
            bk_cplane__add(r, &ct->id, k, p->log_bytes, p->offline);
            p->reported_bytes = p->log_bytes;
            p->reported_offline = offline;
        }
    }
    for (size_t i = 0; i < 4; i++)
        cm_sbuf_append(arrays[i], "}", 1);
    if (r->n == 0 && !r->full) {
        bk_cplane__report_free(r);
        return;
    }
    pthread_mutex_lock(&cp->mu);
    cp->report = r;
    pthread_mutex_unlock(&cp->mu);
}

uint64_t bk_cplane_want_sync(bk_cplane_t *cp)
{
    return cm_pgwatch_want(cp->watch);
}

uint64_t bk_cplane_propose_isr(bk_cplane_t *cp, const cm_kuuid_t *topic, int32_t partition,
                               int32_t leader_epoch, int32_t isr_version, const int32_t *isr,
                               int32_t n)
{
    char t[33], num[24], list[16 * 12 + 4];
    size_t o = 0;
    list[o++] = '{';
    for (int32_t i = 0; i < n && i < 16; i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%d", i ? "," : "", isr[i]);
    snprintf(list + o, sizeof(list) - o, "}");
    bk_uuid_hex(*topic, t);
    pthread_mutex_lock(&cp->mu);
    bk_cplane_isr_t *x = &cp->isr;
    if (x->n == 0) {
        cm_sbuf_t *arrays[] = { &x->topics, &x->parts, &x->epochs, &x->versions, &x->isrs };
        for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
            cm_sbuf_append(arrays[i], "{", 1);
    }
    bk_cplane__elem(&x->topics, t);
    snprintf(num, sizeof(num), "%d", partition);
    bk_cplane__elem(&x->parts, num);
    snprintf(num, sizeof(num), "%d", leader_epoch);
    bk_cplane__elem(&x->epochs, num);
    snprintf(num, sizeof(num), "%d", isr_version);
    bk_cplane__elem(&x->versions, num);
    bk_cplane__elem(&x->isrs, list);
    x->n++;
    pthread_mutex_unlock(&cp->mu);
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
    bk_cplane__report_free(cp->report);
    bk_cplane__isr_free(&cp->isr);
    pthread_mutex_destroy(&cp->mu);
    free(cp);
}
