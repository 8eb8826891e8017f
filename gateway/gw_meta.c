#include "gw_meta.h"

#include <stdlib.h>
#include <string.h>

#include "cm_log.h"
#include "cm_pg.h"
#include "cm_pgwatch.h"
#include "cm_time.h"

#define GW_META__ARENA_MAX (1ull << 30)
#define GW_META__RETRY_MS  1000

struct gw_meta {
    gw_t *gw;
    cm_pgwatch_t *watch;
    pthread_mutex_t mu; /* guards `cur` and `rts` */
    gw_snap_t *cur;
    atomic_ullong gen;      /* bumped on every publish */
    cm_strmap_t rts;        /* tenant id -> gw_tenant_rt_t, kept across snapshots */
    uint64_t storage_polls; /* gw_meta__storage's reads, under `mu` */
};

/* ---- snapshots ---------------------------------------------------------------------- */

static void gw_meta__snap_free(gw_snap_t *s)
{
    size_t it = 0;
    gw_tenant_t *t;
    while ((t = cm_strmap_next(&s->tenants, &it, NULL, NULL)) != NULL) {
        cm_strmap_free(&t->topics);
        cm_strmap_free(&t->principals);
    }
    cm_strmap_free(&s->tenants);
    cm_strmap_free(&s->keys);
    cm_arena_free(&s->arena);
    free(s);
}

void gw_snap_release(gw_snap_t *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
        gw_meta__snap_free(s);
}

const gw_topic_t *gw_snap_topic(const gw_tenant_t *t, const char *name)
{
    return cm_strmap_get(&t->topics, name, strlen(name));
}

int gw_snap_pool(const gw_snap_t *s, const gw_tenant_t *t, const gw_broker_t **out, int cap)
{
    int n = 0;
    for (int i = 0; i < s->n_brokers && n < cap; i++)
        if (s->brokers[i].pool_id == t->pool_id && s->brokers[i].up)
            out[n++] = &s->brokers[i];
    return n;
}

const gw_broker_t *gw_snap_broker(const gw_snap_t *s, int32_t id)
{
    for (int i = 0; i < s->n_brokers; i++)
        if (s->brokers[i].id == id)
            return &s->brokers[i];
    return NULL;
}

static const char *gw_meta__dup(gw_snap_t *s, PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    return cm_arena_strndup(&s->arena, v, strlen(v));
}

static int64_t gw_meta__int(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* The tenant's runtime state, created on first sight; quotas follow the snapshot. */
static gw_tenant_rt_t *gw_meta__rt(gw_meta_t *m, const gw_tenant_t *t)
{
    int64_t now = cm_mono_us();
    pthread_mutex_lock(&m->mu);
    gw_tenant_rt_t *rt = cm_strmap_get(&m->rts, t->id, strlen(t->id));
    if (rt == NULL) {
        rt = calloc(1, sizeof(*rt));
        if (rt == NULL)
            abort();
        pthread_mutex_init(&rt->mu, NULL);
        cm_bucket_init(&rt->produce, 0, 0, now);
        cm_bucket_init(&rt->consume, 0, 0, now);
        cm_bucket_init(&rt->requests, 0, 0, now);
        cm_strmap_put(&m->rts, t->id, strlen(t->id), rt);
    }
    pthread_mutex_unlock(&m->mu);
    /* A second's worth of burst: a tenant may send one second's budget at once. */
    pthread_mutex_lock(&rt->mu);
    snprintf(rt->name, sizeof(rt->name), "%s", t->name);
    cm_bucket_set(&rt->produce, (double)t->quota.produce_bps, (double)t->quota.produce_bps, now);
    cm_bucket_set(&rt->consume, (double)t->quota.consume_bps, (double)t->quota.consume_bps, now);
    cm_bucket_set(&rt->requests, (double)t->quota.requests_ps, (double)t->quota.requests_ps, now);
    pthread_mutex_unlock(&rt->mu);
    return rt;
}

static gw_tenant_t *gw_meta__tenant(gw_snap_t *s, PGresult *r, int row, int col)
{
    const char *id = PQgetvalue(r, row, col);
    return cm_strmap_get(&s->tenants, id, strlen(id));
}

static bool gw_meta__tenants(gw_meta_t *m, gw_snap_t *s, PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        gw_tenant_t *t = cm_arena_calloc(&s->arena, 1, sizeof(*t));
        if (t == NULL)
            return false;
        t->id = gw_meta__dup(s, r, i, 0);
        t->name = gw_meta__dup(s, r, i, 1);
        t->active = strcmp(PQgetvalue(r, i, 2), "active") == 0;
        t->pool_id = gw_meta__int(r, i, 3);
        t->quota.produce_bps = gw_meta__int(r, i, 4);
        t->quota.consume_bps = gw_meta__int(r, i, 5);
        t->quota.requests_ps = gw_meta__int(r, i, 6);
        t->quota.connections = gw_meta__int(r, i, 7);
        t->quota.storage_bytes = gw_meta__int(r, i, 9);
        snprintf(t->cluster_id, sizeof(t->cluster_id), "lkc-%s", PQgetvalue(r, i, 8));
        cm_strmap_init(&t->topics);
        cm_strmap_init(&t->principals);
        if (t->id == NULL || t->name == NULL)
            return false;
        t->rt = gw_meta__rt(m, t);
        cm_strmap_put(&s->tenants, t->id, strlen(t->id), t);
    }
    return true;
}

static bool gw_meta__principals(gw_snap_t *s, PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        gw_tenant_t *t = gw_meta__tenant(s, r, i, 0);
        gw_principal_t *p = cm_arena_calloc(&s->arena, 1, sizeof(*p));
        if (p == NULL || (p->name = gw_meta__dup(s, r, i, 1)) == NULL)
            return false;
        p->admin = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        p->service_account = strcmp(PQgetvalue(r, i, 3), "user") != 0;
        if (t != NULL)
            cm_strmap_put(&t->principals, p->name, strlen(p->name), p);
    }
    return true;
}

static bool gw_meta__keys(gw_snap_t *s, PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        gw_tenant_t *t = gw_meta__tenant(s, r, i, 1);
        if (t == NULL)
            continue;
        gw_key_t *k = cm_arena_calloc(&s->arena, 1, sizeof(*k));
        if (k == NULL || (k->key_id = gw_meta__dup(s, r, i, 0)) == NULL ||
            (k->secret_hash = gw_meta__dup(s, r, i, 3)) == NULL)
            return false;
        k->tenant = t;
        k->principal =
            cm_strmap_get(&t->principals, PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
        if (k->principal != NULL)
            cm_strmap_put(&s->keys, k->key_id, strlen(k->key_id), k);
    }
    return true;
}

static bool gw_meta__issuers(gw_snap_t *s, PGresult *r)
{
    int n = PQntuples(r);
    s->issuers = cm_arena_calloc(&s->arena, (size_t)n + 1, sizeof(*s->issuers));
    if (s->issuers == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        gw_issuer_t *x = &s->issuers[s->n_issuers];
        if ((x->tenant = gw_meta__tenant(s, r, i, 0)) == NULL)
            continue;
        x->issuer = gw_meta__dup(s, r, i, 1);
        x->audience = gw_meta__dup(s, r, i, 2);
        x->alg = gw_meta__dup(s, r, i, 3);
        x->public_keys = gw_meta__dup(s, r, i, 4);
        x->principal_claim = gw_meta__dup(s, r, i, 5);
        if (x->issuer == NULL || x->audience == NULL || x->alg == NULL || x->public_keys == NULL ||
            x->principal_claim == NULL)
            return false;
        s->n_issuers++;
    }
    return true;
}

static bool gw_meta__acls(gw_snap_t *s, PGresult *r)
{
    /* Rows come ordered by tenant, so each tenant's ACLs are one run of the array; a row
     * that cannot be read takes no slot, so it never cuts the run short. */
    int n = PQntuples(r), used = 0;
    cm_acl_t *all = cm_arena_calloc(&s->arena, (size_t)n + 1, sizeof(*all));
    if (all == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        gw_tenant_t *t = gw_meta__tenant(s, r, i, 1);
        if (t == NULL)
            continue;
        int rt = cm_acl_rtype_parse(PQgetvalue(r, i, 3)), op = cm_acl_op_parse(PQgetvalue(r, i, 6));
        const char *pattern = PQgetvalue(r, i, 4), *perm = PQgetvalue(r, i, 7);
        bool allow = strcmp(perm, "allow") == 0;
        if (rt < 0 || op < 0 || (!allow && strcmp(perm, "deny") != 0) ||
            (strcmp(pattern, "literal") != 0 && strcmp(pattern, "prefixed") != 0)) {
            /* Skipping an unreadable deny would grant what it denies. */
            if (!allow)
                t->acls_unreadable = true;
            cm_log_warn("ACL row not understood",
                        "tenant=%s id=%s type=%s pattern=%s op=%s perm=%s", t->name,
                        PQgetvalue(r, i, 0), PQgetvalue(r, i, 3), pattern, PQgetvalue(r, i, 6),
                        perm);
            continue;
        }
        cm_acl_t *a = &all[used];
        a->id = gw_meta__dup(s, r, i, 0);
        a->principal = gw_meta__dup(s, r, i, 2);
        a->rtype = (cm_acl_rtype_t)rt;
        a->prefixed = strcmp(pattern, "prefixed") == 0;
        a->resource = gw_meta__dup(s, r, i, 5);
        a->op = (cm_acl_op_t)op;
        a->allow = allow;
        if (a->id == NULL || a->principal == NULL || a->resource == NULL)
            return false;
        if (t->acls == NULL)
            t->acls = a;
        if (t->acls + t->n_acls != a)
            return false; /* the query's ORDER BY keeps a tenant's rows together */
        t->n_acls++;
        used++;
    }
    return true;
}

static bool gw_meta__topics(gw_snap_t *s, PGresult *r)
{
    gw_topic_t *t = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        gw_tenant_t *tn = gw_meta__tenant(s, r, i, 0);
        if (tn == NULL)
            continue;
        const char *name = PQgetvalue(r, i, 1);
        if (t == NULL || t->tenant != tn || strcmp(t->name, name) != 0) {
            t = cm_arena_calloc(&s->arena, 1, sizeof(*t));
            if (t == NULL)
                return false;
            t->tenant = tn;
            t->name = gw_meta__dup(s, r, i, 1);
            t->id = gw_meta__dup(s, r, i, 2);
            t->n_parts = (int32_t)gw_meta__int(r, i, 3);
            t->replication_factor = (int32_t)gw_meta__int(r, i, 4);
            t->configs = gw_meta__dup(s, r, i, 5);
            size_t full_len = strlen(tn->name) + 1 + strlen(name);
            char *full = cm_arena_alloc(&s->arena, full_len + 1);
            t->parts = cm_arena_calloc(&s->arena, (size_t)t->n_parts + 1, sizeof(*t->parts));
            if (t->name == NULL || t->id == NULL || t->configs == NULL || full == NULL ||
                t->parts == NULL)
                return false;
            snprintf(full, full_len + 1, "%s.%s", tn->name, name);
            t->full = full;
            for (int32_t p = 0; p < t->n_parts; p++)
                t->parts[p].leader = -1;
            cm_strmap_put(&tn->topics, t->name, strlen(t->name), t);
        }
        if (PQgetisnull(r, i, 6))
            continue;
        int64_t p = gw_meta__int(r, i, 6);
        if (p < 0 || p >= t->n_parts)
            continue; /* a partition row beyond the count: added while we read */
        t->parts[p].leader = (int32_t)gw_meta__int(r, i, 7);
        t->parts[p].epoch = (int32_t)gw_meta__int(r, i, 8);
        if (!PQgetisnull(r, i, 9) && (t->parts[p].unavailable = gw_meta__dup(s, r, i, 9)) == NULL)
            return false;
    }
    return true;
}

static bool gw_meta__brokers(gw_snap_t *s, PGresult *r)
{
    int n = PQntuples(r);
    s->brokers = cm_arena_calloc(&s->arena, (size_t)n + 1, sizeof(*s->brokers));
    if (s->brokers == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        gw_broker_t *b = &s->brokers[s->n_brokers++];
        b->id = (int32_t)gw_meta__int(r, i, 0);
        b->pool_id = gw_meta__int(r, i, 1);
        b->host = gw_meta__dup(s, r, i, 2);
        b->port = (int)gw_meta__int(r, i, 3);
        b->up = strcmp(PQgetvalue(r, i, 4), "up") == 0;
        if (b->host == NULL)
            return false;
    }
    return true;
}

enum {
    GW_Q_TENANTS,
    GW_Q_PRINCIPALS,
    GW_Q_KEYS,
    GW_Q_ISSUERS,
    GW_Q_ACLS,
    GW_Q_TOPICS,
    GW_Q_BROKERS,
    GW_Q_N
};

static const char *const gw_meta__sql[GW_Q_N] = {
    [GW_Q_TENANTS] = "SELECT t.id, t.name, t.state, t.pool_id, q.produce_bytes_per_sec,"
                     " q.consume_bytes_per_sec, q.requests_per_sec, q.connections,"
                     " substr(md5(t.id::text), 1, 10), q.storage_bytes"
                     " FROM tenants t LEFT JOIN quotas q ON q.tenant_id = t.id",
    [GW_Q_PRINCIPALS] = "SELECT tenant_id, name, is_admin, kind FROM principals",
    [GW_Q_KEYS] = "SELECT k.key_id, k.tenant_id, p.name, k.secret_hash FROM api_keys k"
                  " JOIN principals p ON p.id = k.principal_id WHERE k.state = 'active'",
    [GW_Q_ISSUERS] = "SELECT tenant_id, issuer, audience, algorithm, public_keys,"
                     " principal_claim FROM jwt_issuers",
    [GW_Q_ACLS] = "SELECT id, tenant_id, principal, resource_type, pattern_type, resource_name,"
                  " operation, permission FROM acls ORDER BY tenant_id, created_at, id",
    [GW_Q_TOPICS] = "SELECT t.tenant_id, t.name, t.id, t.partitions, t.replication_factor,"
                    " t.configs::text, x.partition, x.leader, x.leader_epoch, rs.error"
                    " FROM topics t LEFT JOIN partitions x ON x.topic_id = t.id"
                    " LEFT JOIN replica_state rs ON rs.topic_id = x.topic_id"
                    " AND rs.partition = x.partition AND rs.broker_id = x.leader"
                    " ORDER BY t.tenant_id, t.name, x.partition",
    [GW_Q_BROKERS] = "SELECT id, pool_id, host, port, state FROM brokers ORDER BY id",
};

static gw_snap_t *gw_meta__read(gw_meta_t *m, cm_pg_t *pg)
{
    if (!cm_pg_run(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
        return NULL;
    PGresult *r[GW_Q_N];
    bool ok = true;
    for (int i = 0; i < GW_Q_N; i++) {
        r[i] = ok ? cm_pg_exec(pg, gw_meta__sql[i], 0, NULL) : NULL;
        ok = ok && cm_pg_ok(r[i]);
    }
    cm_pg_run(pg, "COMMIT", 0, NULL);
    gw_snap_t *s = NULL;
    if (ok) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            abort();
        cm_arena_init(&s->arena, GW_META__ARENA_MAX);
        atomic_init(&s->refs, 1);
        cm_strmap_init(&s->tenants);
        cm_strmap_init(&s->keys);
        if (!gw_meta__tenants(m, s, r[GW_Q_TENANTS]) ||
            !gw_meta__principals(s, r[GW_Q_PRINCIPALS]) || !gw_meta__keys(s, r[GW_Q_KEYS]) ||
            !gw_meta__issuers(s, r[GW_Q_ISSUERS]) || !gw_meta__acls(s, r[GW_Q_ACLS]) ||
            !gw_meta__topics(s, r[GW_Q_TOPICS]) || !gw_meta__brokers(s, r[GW_Q_BROKERS])) {
            cm_log_error("cannot build the metadata snapshot", "why=\"out of memory\"");
            gw_meta__snap_free(s);
            s = NULL;
        }
    } else {
        cm_log_warn("cannot read the metadata snapshot", "err=\"%s\"", pg->err);
    }
    for (int i = 0; i < GW_Q_N; i++)
        PQclear(r[i]);
    return s;
}

static bool gw_meta__sync(void *ud, cm_pg_t *pg, uint64_t ticket)
{
    gw_meta_t *m = ud;
    gw_snap_t *s = gw_meta__read(m, pg);
    if (s == NULL)
        return false;
    s->ticket = ticket;
    pthread_mutex_lock(&m->mu);
    gw_snap_t *old = m->cur;
    m->cur = s;
    atomic_fetch_add(&m->gen, 1);
    pthread_mutex_unlock(&m->mu);
    gw_snap_release(old);
    atomic_fetch_add(&m->gw->metrics.snapshots, 1);
    cm_log_debug("metadata snapshot", "tenants=%zu keys=%zu brokers=%d", s->tenants.size,
                 s->keys.size, s->n_brokers);
    return true;
}

/*
 * Every storage_poll_ms: the bytes each tenant with a storage quota holds, summed over every
 * replica of its partitions as brokers last reported them (0005_replica_state.sql).
 */
static int64_t gw_meta__storage(void *ud, cm_pg_t *pg, int64_t now)
{
    gw_meta_t *m = ud;
    PGresult *r = cm_pg_exec(pg,
                             "SELECT t.tenant_id, sum(rs.size_bytes) FROM replica_state rs"
                             " JOIN topics t ON t.id = rs.topic_id"
                             " JOIN quotas q ON q.tenant_id = t.tenant_id"
                             " WHERE q.storage_bytes IS NOT NULL GROUP BY t.tenant_id",
                             0, NULL);
    if (cm_pg_ok(r)) {
        pthread_mutex_lock(&m->mu);
        uint64_t poll = ++m->storage_polls;
        gw_tenant_rt_t *rt;
        for (int i = 0; i < PQntuples(r); i++) {
            const char *id = PQgetvalue(r, i, 0);
            if ((rt = cm_strmap_get(&m->rts, id, strlen(id))) == NULL)
                continue; /* a tenant the snapshot has not shown yet */
            atomic_store(&rt->storage_used, strtoll(PQgetvalue(r, i, 1), NULL, 10));
            rt->storage_poll = poll;
        }
        /* Tenants absent from the answer hold nothing (their last topic went). */
        size_t it = 0;
        while ((rt = cm_strmap_next(&m->rts, &it, NULL, NULL)) != NULL)
            if (rt->storage_poll != poll)
                atomic_store(&rt->storage_used, 0);
        pthread_mutex_unlock(&m->mu);
    } else {
        cm_log_warn("cannot read tenants' storage", "err=\"%s\"", pg->err);
    }
    PQclear(r);
    return now + m->gw->cfg.storage_poll_ms;
}

static const cm_pgwatch_ops_t gw_meta__watch_ops = {
    .channels = (const char *const[]){ "streamd_auth", "streamd_metadata", NULL },
    .tick = gw_meta__storage,
    .sync = gw_meta__sync,
};

gw_meta_t *gw_meta_start(gw_t *gw)
{
    gw_meta_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->gw = gw;
    pthread_mutex_init(&m->mu, NULL);
    cm_strmap_init(&m->rts);
    cm_pgwatch_opts_t o = { .database_url = gw->cfg.database_url,
                            .app_name = "streamd-gateway",
                            .timeout_ms = gw->cfg.db_timeout_ms,
                            .retry_ms = GW_META__RETRY_MS,
                            .resync_ms = gw->cfg.resync_ms };
    m->watch = cm_pgwatch_start(&o, &gw_meta__watch_ops, m);
    return m;
}

void gw_meta_stop(gw_meta_t *m)
{
    if (m == NULL)
        return;
    cm_pgwatch_stop(m->watch);
    gw_snap_release(m->cur);
    size_t it = 0;
    gw_tenant_rt_t *rt;
    while ((rt = cm_strmap_next(&m->rts, &it, NULL, NULL)) != NULL) {
        pthread_mutex_destroy(&rt->mu);
        free(rt);
    }
    cm_strmap_free(&m->rts);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

bool gw_meta_ready(gw_meta_t *m)
{
    return atomic_load(&m->gen) > 0;
}

uint64_t gw_meta_want(gw_meta_t *m)
{
    return cm_pgwatch_want(m->watch);
}

gw_snap_t *gw_meta_refresh(gw_meta_t *m, gw_snap_t **snap, uint64_t *gen)
{
    uint64_t g = atomic_load(&m->gen);
    if (g == *gen)
        return *snap;
    pthread_mutex_lock(&m->mu);
    gw_snap_t *s = m->cur;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    *gen = atomic_load(&m->gen);
    pthread_mutex_unlock(&m->mu);
    gw_snap_release(*snap);
    *snap = s;
    return s;
}

void gw_meta_each_rt(gw_meta_t *m, void (*fn)(void *ud, gw_tenant_rt_t *rt), void *ud)
{
    pthread_mutex_lock(&m->mu);
    size_t it = 0;
    gw_tenant_rt_t *rt;
    while ((rt = cm_strmap_next(&m->rts, &it, NULL, NULL)) != NULL)
        fn(ud, rt);
    pthread_mutex_unlock(&m->mu);
}
