/*
 * A tenant's topics: create (placing partitions on the tenant's pool), describe, change
 * configs, add partitions, delete, and the operator's leader change. Brokers learn of every
 * change through the triggers' NOTIFY; the topic's name inside the brokers is
 * "<tenant>.<topic>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_log.h"
#include "cm_tconfig.h"
#include "cp_bounds.h"
#include "cp_api.h"
#include "cp_place.h"

#define CP_TOPIC__ASSIGNMENTS                                                                      \
    "(SELECT coalesce(json_agg(json_build_object('partition', p.partition, 'replicas',"            \
    " p.replicas, 'leader', p.leader, 'leader_epoch', p.leader_epoch, 'isr', p.isr,"               \
    " 'available', p.leader <> -1 AND EXISTS (SELECT 1 FROM brokers b WHERE b.id = p.leader"       \
    " AND b.state = 'up')) ORDER BY p.partition), '[]'::json) FROM partitions p"                   \
    " WHERE p.topic_id = t.id)"

#define CP_TOPIC__UNAVAILABLE                                                                      \
    "(SELECT count(*) FROM partitions p WHERE p.topic_id = t.id AND NOT (p.leader <> -1 AND"       \
    " EXISTS (SELECT 1 FROM brokers b WHERE b.id = p.leader AND b.state = 'up')))"

#define CP_TOPIC__FIELDS                                                                           \
    "'id', t.id, 'tenant', tn.name, 'name', t.name, 'internal_name', tn.name || '.' || t.name,"    \
    " 'partitions', t.partitions, 'replication_factor', t.replication_factor, 'configs',"          \
    " t.configs, 'created_at', t.created_at, 'updated_at', t.updated_at,"                          \
    " 'unavailable_partitions', " CP_TOPIC__UNAVAILABLE

static void cp_topic__send(cp_req_t *r, int status, const char *tenant, const char *topic)
{
    const char *p[] = { tenant, topic };
    cp_api_send_query(r, status, "no such topic",
                      "SELECT json_build_object(" CP_TOPIC__FIELDS
                      ", 'assignments', " CP_TOPIC__ASSIGNMENTS ")"
                      " FROM topics t JOIN tenants tn ON tn.id = t.tenant_id"
                      " WHERE tn.name = $1 AND t.name = $2",
                      2, p);
}

/*
 * Ends a change: commits it and sends the topic; or, when `validate_only`, sends the topic
 * as the change would leave it and rolls everything back (audit row included).
 */
static void cp_topic__finish(cp_req_t *r, bool validate_only, const char *what, int status,
                             const char *topic)
{
    if (validate_only) {
        cp_topic__send(r, 200, r->seg[2], topic);
        cm_pg_rollback(&r->cp->pg);
    } else if (cp_api_commit(r, what)) {
        cp_topic__send(r, status, r->seg[2], topic);
    }
}

/*
 * Checks a "configs" object against the topic config rules. Values may be strings or
 * integers; with `allow_null`, null removes a key. Writes the keys to set as a JSON object
 * into `set` and the keys to remove as a Postgres text-array literal into `unset`.
 */
static bool cp_topic__configs(cp_req_t *r, const cm_json_t *c, bool allow_null, cm_sbuf_t *set,
                              cm_sbuf_t *unset)
{
    cm_jw_t w;
    cm_jw_init(&w, set);
    cm_jw_obj(&w);
    cm_sbuf_printf(unset, "{");
    bool first_unset = true;
    if (c != NULL && c->type != CM_JSON_OBJECT) {
        cp_api_error_code(r, 400, CP_ERR_TOPIC_CONFIG, "configs must be an object of name: value");
        return false;
    }
    for (const cm_json_t *m = c != NULL ? c->child : NULL; m != NULL; m = m->next) {
        const cm_tconfig_key_t *k = cm_tconfig_key(cm_kstr_c(m->key));
        if (k == NULL) {
            cp_api_error_code(r, 400, CP_ERR_TOPIC_CONFIG,
                              "unknown topic config \"%.64s\"; see docs/api/operator.md", m->key);
            return false;
        }
        char text[64], msg[256];
        if (m->type == CM_JSON_NULL && allow_null) {
            cm_sbuf_printf(unset, "%s%s", first_unset ? "" : ",", k->name);
            first_unset = false;
            continue;
        }
        if (m->type == CM_JSON_NUMBER && m->is_int)
            snprintf(text, sizeof(text), "%lld", (long long)m->i);
        else if (m->type == CM_JSON_STRING && m->len < sizeof(text))
            snprintf(text, sizeof(text), "%s", m->str);
        else {
            cp_api_error_code(r, 400, CP_ERR_TOPIC_CONFIG,
                              "config %s needs a string or integer value", k->name);
            return false;
        }
        cm_tconfig_t scratch = { 0 };
        if (cm_tconfig_set(&scratch, k, cm_kstr_c(text), msg, sizeof(msg)) != 0) {
            cp_api_error_code(r, 400, CP_ERR_TOPIC_CONFIG, "%s", msg);
            return false;
        }
        cm_jw_kstr(&w, k->name, text);
    }
    cm_jw_obj_end(&w);
    cm_sbuf_printf(unset, "}");
    return true;
}

/*
 * Checks the configs a request sets (`set`, the object of texts cp_topic__configs wrote)
 * against the operator's bounds of the tenant's pool (cp_bounds.h); answers 400 when one
 * is out of them. Outside a transaction.
 */
static bool cp_topic__bounded(cp_req_t *r, const char *pool_id, const char *set)
{
    const char *p[] = { pool_id };
    PGresult *res = cm_pg_exec(
        &r->cp->pg, "SELECT topic_config_bounds::text FROM broker_pools WHERE id = $1", 1, p);
    if (!cm_pg_ok(res)) {
        cp_api_db_error(r, res, "pool lookup");
        PQclear(res);
        return false;
    }
    const char *bounds = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL;
    cm_json_t *doc = NULL;
    char err[64], why[256];
    bool ok = cm_json_parse(&r->arena, set, strlen(set), 4, &doc, err, sizeof(err)) == 0;
    for (const cm_json_t *m = ok ? doc->child : NULL; ok && m != NULL; m = m->next) {
        ok = m->type == CM_JSON_STRING && cp_bounds_check(bounds, m->key, m->str, why, sizeof(why));
        if (!ok)
            cp_api_error_code(r, 400, CP_ERR_TOPIC_CONFIG, "%s", why);
    }
    if (doc == NULL)
        cp_api_error(r, 500, "cannot read the configs back");
    PQclear(res);
    return ok;
}

/*
 * True when the tenant's pool (`pool_id`) is named `pool`; else answers 404 as if the tenant
 * did not exist: a broker creating topics for its own pool never reaches another pool's.
 */
static bool cp_topic__in_pool(cp_req_t *r, const char *pool_id, const char *pool)
{
    const char *p[] = { pool_id, pool };
    PGresult *res =
        cm_pg_exec(&r->cp->pg, "SELECT 1 FROM broker_pools WHERE id = $1 AND name = $2", 2, p);
    bool ok = cm_pg_ok(res) && PQntuples(res) == 1;
    if (!cm_pg_ok(res))
        cp_api_db_error(r, res, "pool lookup");
    else if (!ok)
        cp_api_error(r, 404, "no tenant named \"%.64s\" in pool \"%.64s\"", r->seg[2], pool);
    PQclear(res);
    return ok;
}

/* Loads the pool's live brokers with their current load, for placement. */
static int cp_topic__brokers(cp_req_t *r, const char *pool_id, cp_place_broker_t **out)
{
    const char *p[] = { pool_id };
    PGresult *res =
        cp_api_tx_exec(r, "broker lookup",
                       "SELECT b.id, b.rack,"
                       " (SELECT count(*) FROM partitions p WHERE b.id = ANY (p.replicas)),"
                       " (SELECT count(*) FROM partitions p WHERE p.leader = b.id),"
                       " coalesce(b.partitions_max, 0)"
                       " FROM brokers b WHERE b.pool_id = $1 AND b.state = 'up' ORDER BY b.id",
                       1, p);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    cp_place_broker_t *b = cm_arena_calloc(&r->arena, (size_t)n + 1, sizeof(*b));
    for (int i = 0; b != NULL && i < n; i++) {
        b[i].id = atoi(PQgetvalue(res, i, 0));
        snprintf(b[i].rack, sizeof(b[i].rack), "%s", PQgetvalue(res, i, 1));
        b[i].replicas = atoll(PQgetvalue(res, i, 2));
        b[i].leaders = atoll(PQgetvalue(res, i, 3));
        b[i].capacity = atoll(PQgetvalue(res, i, 4));
    }
    PQclear(res);
    *out = b;
    return n;
}

/* Places partitions [first, first + n) of a topic and inserts them. False after answering. */
static bool cp_topic__place(cp_req_t *r, const char *topic_id, const char *pool_id, int rf,
                            int first, int n)
{
    cp_place_broker_t *brokers;
    int nb = cp_topic__brokers(r, pool_id, &brokers);
    if (nb < 0)
        return false;
    int32_t *reps = cm_arena_calloc(&r->arena, (size_t)n * (size_t)rf, sizeof(int32_t));
    if (brokers == NULL || reps == NULL) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 413, "too many partitions for one request");
        return false;
    }
    int placed = cp_place(brokers, nb, rf, n, reps);
    if (placed == -2) {
        int64_t held = 0, room = 0;
        for (int i = 0; i < nb; i++) {
            held += brokers[i].replicas;
            room += brokers[i].capacity > brokers[i].replicas
                        ? brokers[i].capacity - brokers[i].replicas
                        : 0;
        }
        cm_pg_rollback(&r->cp->pg);
        cp_api_error_code(r, 422, CP_ERR_POOL_FULL,
                          "the tenant's pool has no room for %d more partition%s with replication "
                          "factor %d: its %d broker%s up hold %lld replicas and have room for "
                          "%lld more",
                          n, n == 1 ? "" : "s", rf, nb, nb == 1 ? "" : "s", (long long)held,
                          (long long)room);
        return false;
    }
    if (placed != 0) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error_code(
            r, 422, CP_ERR_NOT_ENOUGH_BROKERS,
            "replication factor %d needs %d brokers up in the tenant's pool; %d %s up", rf, rf, nb,
            nb == 1 ? "is" : "are");
        return false;
    }
    for (int i = 0; i < n; i++) {
        char part[16], replicas[16 * 18], leader[16];
        size_t o = 0;
        replicas[o++] = '{';
        for (int j = 0; j < rf; j++)
            o += (size_t)snprintf(replicas + o, sizeof(replicas) - o, "%s%d", j ? "," : "",
                                  reps[(size_t)i * (size_t)rf + (size_t)j]);
        snprintf(replicas + o, sizeof(replicas) - o, "}");
        snprintf(part, sizeof(part), "%d", first + i);
        snprintf(leader, sizeof(leader), "%d", reps[(size_t)i * (size_t)rf]);
        /* Every replica holds the same (empty) log: all are in sync. A follower that does
         * not keep up is dropped by its leader (replica_lag_time_max_ms). */
        const char *p[] = { topic_id, part, replicas, leader, replicas };
        PGresult *res = cp_api_tx_exec(r, "partition placement",
                                       "INSERT INTO partitions (topic_id, partition, replicas,"
                                       " leader, isr) VALUES ($1, $2, $3, $4, $5)",
                                       5, p);
        if (res == NULL)
            return false;
        PQclear(res);
    }
    return true;
}

/* Checks the tenant's partition quota against `adding` more. False after answering. */
/* A topic's retention.bytes from a configs object: `dflt` when absent, -1 for null. */
static int64_t cp_topic__rbytes(const cm_json_t *configs, int64_t dflt)
{
    const cm_json_t *v = configs != NULL ? cm_json_get(configs, "retention.bytes") : NULL;
    if (v == NULL)
        return dflt;
    if (v->type == CM_JSON_NUMBER && v->is_int)
        return v->i;
    if (v->type == CM_JSON_STRING)
        return strtoll(v->str, NULL, 10);
    return -1;
}

/*
 * Checks the tenant's quotas for a change, holding the tenant row so that concurrent
 * changes see each other: `adding` partitions against `partitions`, and, with a
 * `storage_bytes` quota, the storage the tenant's topics may hold (partitions x
 * retention.bytes) once topic `topic_id` (NULL: a new one) has `parts` partitions and
 * retention.bytes `rbytes` (-1: unbounded, which a storage quota does not allow). On
 * failure rolls back and answers 422.
 */
static bool cp_topic__quota(cp_req_t *r, const char *tenant_id, const char *topic_id,
                            int64_t adding, int64_t parts, int64_t rbytes)
{
    const char *p[] = { tenant_id, topic_id };
    PGresult *res = cp_api_tx_exec(
        r, "quota check",
        "SELECT q.partitions, q.storage_bytes,"
        " (SELECT coalesce(sum(partitions), 0) FROM topics WHERE tenant_id = $1),"
        " (SELECT coalesce(sum(partitions::numeric * (configs->>'retention.bytes')::numeric), 0)"
        "  FROM topics WHERE tenant_id = $1 AND id::text IS DISTINCT FROM $2"
        "  AND coalesce((configs->>'retention.bytes')::bigint, -1) >= 0),"
        " (SELECT count(*) FROM topics WHERE tenant_id = $1 AND id::text IS DISTINCT FROM $2"
        "  AND coalesce((configs->>'retention.bytes')::bigint, -1) < 0)"
        " FROM tenants t LEFT JOIN quotas q ON q.tenant_id = t.id WHERE t.id = $1 FOR UPDATE OF t",
        2, p);
    if (res == NULL)
        return false;
    bool ok = true;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && adding > 0) {
        int64_t max = atoll(PQgetvalue(res, 0, 0)), used = atoll(PQgetvalue(res, 0, 2));
        if (used + adding > max) {
            cm_pg_rollback(&r->cp->pg);
            cp_api_error_code(r, 422, CP_ERR_QUOTA,
                              "the tenant's partition quota is %lld and %lld are in use; %lld "
                              "more would exceed it",
                              (long long)max, (long long)used, (long long)adding);
            ok = false;
        }
    }
    if (ok && PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
        double max = atof(PQgetvalue(res, 0, 1)), others = atof(PQgetvalue(res, 0, 3));
        long long unbounded = atoll(PQgetvalue(res, 0, 4));
        if (rbytes < 0 || unbounded > 0) {
            cm_pg_rollback(&r->cp->pg);
            cp_api_error_code(r, 422, CP_ERR_QUOTA,
                              "the tenant's storage quota is %.0f bytes, so every topic needs a "
                              "retention.bytes (%s%lld other topic%s without one)",
                              max, rbytes < 0 ? "this one has none; " : "", unbounded,
                              unbounded == 1 ? "" : "s");
            ok = false;
        } else if (others + (double)parts * (double)rbytes > max) {
            cm_pg_rollback(&r->cp->pg);
            cp_api_error_code(r, 422, CP_ERR_QUOTA,
                              "the tenant's storage quota is %.0f bytes; the other topics may hold "
                              "%.0f and this one %lld partitions x %lld bytes of retention.bytes",
                              max, others, (long long)parts, (long long)rbytes);
            ok = false;
        }
    }
    PQclear(res);
    return ok;
}

void cp_api_topic_create(cp_req_t *r)
{
    static const char *const fields[] = { "name",    "partitions", "replication_factor",
                                          "configs", "pool",       "validate_only",
                                          NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *name, *pool;
    int64_t parts = r->cp->cfg.partitions_default, rf = r->cp->cfg.replication_factor_default;
    char why[256], tenant_id[40], pool_id[24];
    bool validate;
    if (o == NULL || !cp_api_str(r, o, "name", true, &name) ||
        !cp_api_str(r, o, "pool", false, &pool) ||
        !cp_api_int_code(r, o, "partitions", false, 1, r->cp->cfg.partitions_max, CP_ERR_PARTITIONS,
                         &parts) ||
        !cp_api_int_code(r, o, "replication_factor", false, 1, 16, CP_ERR_REPLICATION, &rf) ||
        !cp_api_bool(r, o, "validate_only", &validate))
        return;
    if (!cp_name_topic_ok(name, strlen(r->seg[2]), why, sizeof(why))) {
        cp_api_error_code(r, 400, CP_ERR_TOPIC_NAME, "%s", why);
        return;
    }
    cm_sbuf_t set, unset;
    cm_sbuf_init(&set);
    cm_sbuf_init(&unset);
    if (!cp_topic__configs(r, cm_json_get(o, "configs"), false, &set, &unset))
        goto out;
    if (!cp_api_tenant_active(r, r->seg[2], tenant_id, pool_id) ||
        (pool != NULL && !cp_topic__in_pool(r, pool_id, pool)) ||
        !cp_topic__bounded(r, pool_id, set.buf) || !cp_api_begin(r))
        goto out;
    /* One placement at a time per pool, so that concurrent creations see each other's load. */
    const char *pp[] = { pool_id };
    PGresult *res = cp_api_tx_exec(r, "pool lock",
                                   "SELECT 1 FROM broker_pools WHERE id = $1 FOR UPDATE", 1, pp);
    if (res == NULL)
        goto out;
    PQclear(res);
    if (!cp_topic__quota(r, tenant_id, NULL, parts, parts,
                         cp_topic__rbytes(cm_json_get(o, "configs"), -1)))
        goto out;
    char np[16], nrf[16];
    snprintf(np, sizeof(np), "%lld", (long long)parts);
    snprintf(nrf, sizeof(nrf), "%lld", (long long)rf);
    const char *tp[] = { tenant_id, name, np, nrf, set.buf };
    res = cp_api_tx_exec(r, "topic creation",
                         "INSERT INTO topics (tenant_id, name, partitions, replication_factor,"
                         " configs) VALUES ($1, $2, $3, $4::smallint, CASE WHEN $4::smallint >= 3"
                         " AND NOT"
                         " ($5::jsonb ? 'min.insync.replicas') THEN $5::jsonb ||"
                         " '{\"min.insync.replicas\": \"2\"}' ELSE $5::jsonb END) RETURNING id",
                         5, tp);
    if (res == NULL)
        goto out;
    char topic_id[40];
    snprintf(topic_id, sizeof(topic_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!cp_topic__place(r, topic_id, pool_id, (int)rf, 0, (int)parts))
        goto out;
    char details[96];
    snprintf(details, sizeof(details), "{\"partitions\": %lld, \"replication_factor\": %lld}",
             (long long)parts, (long long)rf);
    if (!cp_api_audit(r, "topic.create", tenant_id, name, details))
        goto out;
    cp_topic__finish(r, validate, "topic creation", 201, name);
    if (!validate && r->status == 201)
        cm_log_info("topic created", "tenant=%s topic=%s partitions=%lld rf=%lld actor=%s",
                    r->seg[2], name, (long long)parts, (long long)rf, r->actor);
out:
    cm_sbuf_free(&set);
    cm_sbuf_free(&unset);
}

void cp_api_topic_list(cp_req_t *r)
{
    char id[40], limit[24];
    if (!cp_api_tenant(r, r->seg[2], id, NULL))
        return;
    snprintf(limit, sizeof(limit), "%lld", (long long)r->cp->cfg.list_max);
    const char *p[] = { id, limit };
    cp_api_send_query(r, 200, "no tenant",
                      "SELECT json_build_object('data', coalesce(json_agg(x.j ORDER BY x.name),"
                      " '[]'::json)) FROM (SELECT json_build_object(" CP_TOPIC__FIELDS "), t.name"
                      " FROM topics t JOIN tenants tn ON tn.id = t.tenant_id"
                      " WHERE t.tenant_id = $1 ORDER BY t.name LIMIT $2) x(j, name)",
                      2, p);
}

void cp_api_topic_get(cp_req_t *r)
{
    char id[40];
    if (cp_api_tenant(r, r->seg[2], id, NULL))
        cp_topic__send(r, 200, r->seg[2], r->seg[4]);
}

/* Locks the topic row and returns its id, partition count and replication factor. */
static bool cp_topic__lock(cp_req_t *r, const char *tenant_id, char topic_id[40], int *parts,
                           int *rf)
{
    const char *p[] = { tenant_id, r->seg[4] };
    PGresult *res = cp_api_tx_exec(r, "topic lookup",
                                   "SELECT id, partitions, replication_factor FROM topics"
                                   " WHERE tenant_id = $1 AND name = $2 FOR UPDATE",
                                   2, p);
    if (res == NULL)
        return false;
    if (PQntuples(res) == 0) {
        PQclear(res);
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 404, "no topic \"%.249s\" in tenant \"%s\"", r->seg[4], r->seg[2]);
        return false;
    }
    snprintf(topic_id, 40, "%s", PQgetvalue(res, 0, 0));
    if (parts != NULL)
        *parts = atoi(PQgetvalue(res, 0, 1));
    if (rf != NULL)
        *rf = atoi(PQgetvalue(res, 0, 2));
    PQclear(res);
    return true;
}

void cp_api_topic_update(cp_req_t *r)
{
    static const char *const fields[] = { "configs", "validate_only", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    char tenant_id[40], topic_id[40];
    bool validate;
    cm_sbuf_t set, unset;
    cm_sbuf_init(&set);
    cm_sbuf_init(&unset);
    if (o == NULL || !cp_api_bool(r, o, "validate_only", &validate))
        goto out;
    if (cm_json_get(o, "configs") == NULL) {
        cp_api_error(r, 400, "send {\"configs\": {\"name\": \"value\" or null}}");
        goto out;
    }
    int parts;
    char pool_id[24];
    if (!cp_topic__configs(r, cm_json_get(o, "configs"), true, &set, &unset) ||
        !cp_api_tenant_active(r, r->seg[2], tenant_id, pool_id) ||
        !cp_topic__bounded(r, pool_id, set.buf) || !cp_api_begin(r) ||
        !cp_topic__lock(r, tenant_id, topic_id, &parts, NULL))
        goto out;
    /* A new retention.bytes changes what the topic may hold: the storage quota decides. */
    if (cm_json_get(cm_json_get(o, "configs"), "retention.bytes") != NULL &&
        !cp_topic__quota(r, tenant_id, topic_id, 0, parts,
                         cp_topic__rbytes(cm_json_get(o, "configs"), -1)))
        goto out;
    const char *p[] = { topic_id, set.buf, unset.buf };
    PGresult *res =
        cp_api_tx_exec(r, "config change",
                       "UPDATE topics SET configs = (configs || $2::jsonb) - $3::text[],"
                       " updated_at = now() WHERE id = $1",
                       3, p);
    if (res == NULL)
        goto out;
    PQclear(res);
    cm_sbuf_t d;
    cm_sbuf_init(&d);
    cm_sbuf_printf(&d, "{\"set\": %s, \"unset\": \"%s\"}", set.buf, unset.buf);
    if (cp_api_audit(r, "topic.configs", tenant_id, r->seg[4], d.buf))
        cp_topic__finish(r, validate, "config change", 200, r->seg[4]);
    cm_sbuf_free(&d);
out:
    cm_sbuf_free(&set);
    cm_sbuf_free(&unset);
}

void cp_api_topic_delete(cp_req_t *r)
{
    char tenant_id[40], topic_id[40];
    if (!cp_api_tenant(r, r->seg[2], tenant_id, NULL) || !cp_api_begin(r) ||
        !cp_topic__lock(r, tenant_id, topic_id, NULL, NULL))
        return;
    const char *p[] = { topic_id };
    PGresult *res = cp_api_tx_exec(r, "topic deletion", "DELETE FROM topics WHERE id = $1", 1, p);
    if (res == NULL)
        return;
    PQclear(res);
    if (!cp_api_audit(r, "topic.delete", tenant_id, r->seg[4], NULL) ||
        !cp_api_commit(r, "topic deletion"))
        return;
    cm_log_info("topic deleted", "tenant=%s topic=%s actor=%s", r->seg[2], r->seg[4], r->actor);
    cp_api_no_content(r);
}

void cp_api_partitions_add(cp_req_t *r)
{
    static const char *const fields[] = { "count", "validate_only", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    int64_t count;
    int parts, rf;
    bool validate;
    char tenant_id[40], pool_id[24], topic_id[40];
    if (o == NULL ||
        !cp_api_int_code(r, o, "count", true, 1, r->cp->cfg.partitions_max, CP_ERR_PARTITIONS,
                         &count) ||
        !cp_api_bool(r, o, "validate_only", &validate) ||
        !cp_api_tenant_active(r, r->seg[2], tenant_id, pool_id) || !cp_api_begin(r) ||
        !cp_topic__lock(r, tenant_id, topic_id, &parts, &rf))
        return;
    if (count <= parts) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error_code(r, 400, CP_ERR_PARTITIONS,
                          "the topic has %d partitions; count must be larger (partitions "
                          "cannot be removed)",
                          parts);
        return;
    }
    const char *pp[] = { pool_id };
    PGresult *res = cp_api_tx_exec(r, "pool lock",
                                   "SELECT 1 FROM broker_pools WHERE id = $1 FOR UPDATE", 1, pp);
    if (res == NULL)
        return;
    PQclear(res);
    const char *tq[] = { topic_id };
    if ((res = cp_api_tx_exec(r, "topic retention",
                              "SELECT coalesce((configs->>'retention.bytes')::bigint, -1)"
                              " FROM topics WHERE id = $1",
                              1, tq)) == NULL)
        return;
    int64_t rbytes = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    if (!cp_topic__quota(r, tenant_id, topic_id, count - parts, count, rbytes) ||
        !cp_topic__place(r, topic_id, pool_id, rf, parts, (int)(count - parts)))
        return;
    char np[16];
    snprintf(np, sizeof(np), "%lld", (long long)count);
    const char *p[] = { topic_id, np };
    if ((res = cp_api_tx_exec(r, "partition count",
                              "UPDATE topics SET partitions = $2, updated_at = now() WHERE id = $1",
                              2, p)) == NULL)
        return;
    PQclear(res);
    char details[64];
    snprintf(details, sizeof(details), "{\"from\": %d, \"to\": %lld}", parts, (long long)count);
    if (cp_api_audit(r, "topic.partitions", tenant_id, r->seg[4], details))
        cp_topic__finish(r, validate, "partition creation", 200, r->seg[4]);
}

void cp_api_leader_set(cp_req_t *r)
{
    static const char *const fields[] = { "leader", "leader_epoch", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    int64_t leader, epoch;
    char tenant_id[40], topic_id[40], *end;
    if (o == NULL || !cp_api_int(r, o, "leader", true, -1, INT32_MAX, &leader, NULL) ||
        !cp_api_int(r, o, "leader_epoch", true, 0, INT32_MAX, &epoch, NULL))
        return;
    long part = strtol(r->seg[6], &end, 10);
    if (*end != '\0' || part < 0 || part > INT32_MAX) {
        cp_api_error(r, 404, "\"%.16s\" is not a partition number", r->seg[6]);
        return;
    }
    if (!cp_api_tenant(r, r->seg[2], tenant_id, NULL))
        return;
    const char *q[] = { tenant_id, r->seg[4], r->seg[6] };
    PGresult *res = cm_pg_exec(&r->cp->pg,
                               "SELECT t.id, p.leader_epoch, p.isr::text FROM topics t"
                               " JOIN partitions p ON p.topic_id = t.id"
                               " WHERE t.tenant_id = $1 AND t.name = $2 AND p.partition = $3::int",
                               3, q);
    if (!cm_pg_ok(res)) {
        cp_api_db_error(r, res, "partition lookup");
        PQclear(res);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        cp_api_error(r, 404, "no partition %ld of topic \"%.249s\"", part, r->seg[4]);
        return;
    }
    snprintf(topic_id, sizeof(topic_id), "%s", PQgetvalue(res, 0, 0));
    char isr[256];
    snprintf(isr, sizeof(isr), "%s", PQgetvalue(res, 0, 2));
    int current = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    int32_t new_epoch = 0;
    if (!cp_api_begin(r))
        return;
    int won = cp_partition_cas_leader(&r->cp->pg, topic_id, (int32_t)part, (int32_t)leader,
                                      (int32_t)epoch, false, &new_epoch);
    if (won != 1) {
        cm_pg_rollback(&r->cp->pg);
        if (won < 0)
            cp_api_error(r, 503, "leader change failed: %s", r->cp->pg.err);
        else if (epoch != current)
            cp_api_error(r, 409, "stale leader epoch %lld: the partition is at epoch %d",
                         (long long)epoch, current);
        else
            cp_api_error(r, 409, "broker %lld is not an in-sync replica (isr %s)",
                         (long long)leader, isr);
        return;
    }
    char details[96];
    snprintf(details, sizeof(details), "{\"partition\": %ld, \"leader\": %lld, \"epoch\": %d}",
             part, (long long)leader, new_epoch);
    if (cp_api_audit(r, "partition.leader", tenant_id, r->seg[4], details))
        cp_topic__finish(r, false, "leader change", 200, r->seg[4]);
}
