/*
 * The operator API: routing, operator authentication, and the helpers every handler
 * shares. Routes are listed in one table; a path that matches with another method gets
 * 405 with Allow, anything else 404. /healthz, /readyz and /metrics need no credential;
 * everything under /v1 needs "Authorization: Bearer <operator token>".
 */
#include "cp_api.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_log.h"
#include "cm_secret.h"
#include "cm_metrics.h"
#include "cm_time.h"

/* Everything one request may allocate: its JSON body, segments, parameters. */
#define CP_API__ARENA_BYTES (8u << 20)

typedef void (*cp_api__fn)(cp_req_t *r);

typedef struct cp_api__route {
    const char *method;
    const char *pattern; /* segments; "*" matches any one */
    cp_api__fn fn;
    bool broker; /* a broker's credential may call it, for tenants of its own pool */
} cp_api__route_t;

static const cp_api__route_t cp_api__routes[] = {
    { "POST", "v1/tenants", cp_api_tenant_create, false },
    { "GET", "v1/tenants", cp_api_tenant_list, false },
    { "GET", "v1/tenants/*", cp_api_tenant_get, false },
    { "PATCH", "v1/tenants/*", cp_api_tenant_update, false },
    { "DELETE", "v1/tenants/*", cp_api_tenant_delete, false },
    { "POST", "v1/tenants/*/service-accounts", cp_api_sa_create, false },
    { "GET", "v1/tenants/*/service-accounts", cp_api_sa_list, false },
    { "DELETE", "v1/tenants/*/service-accounts/*", cp_api_sa_delete, false },
    { "POST", "v1/tenants/*/api-keys", cp_api_key_create, false },
    { "GET", "v1/tenants/*/api-keys", cp_api_key_list, false },
    { "DELETE", "v1/tenants/*/api-keys/*", cp_api_key_revoke, false },
    { "POST", "v1/tenants/*/jwt-issuers", cp_api_issuer_create, false },
    { "GET", "v1/tenants/*/jwt-issuers", cp_api_issuer_list, false },
    { "DELETE", "v1/tenants/*/jwt-issuers/*", cp_api_issuer_delete, false },
    { "GET", "v1/tenants/*/quotas", cp_api_quota_get, false },
    { "PUT", "v1/tenants/*/quotas", cp_api_quota_set, false },
    { "PATCH", "v1/tenants/*/quotas", cp_api_quota_set, false },
    /* The four calls a broker forwards Kafka admin requests to (bk_forward.c). */
    { "POST", "v1/tenants/*/topics", cp_api_topic_create, true },
    { "GET", "v1/tenants/*/topics", cp_api_topic_list, false },
    { "GET", "v1/tenants/*/topics/*", cp_api_topic_get, false },
    { "PATCH", "v1/tenants/*/topics/*", cp_api_topic_update, true },
    { "DELETE", "v1/tenants/*/topics/*", cp_api_topic_delete, true },
    { "POST", "v1/tenants/*/topics/*/partitions", cp_api_partitions_add, true },
    { "PUT", "v1/tenants/*/topics/*/partitions/*/leader", cp_api_leader_set, false },
    { "POST", "v1/tenants/*/acls", cp_api_acl_create, false },
    { "GET", "v1/tenants/*/acls", cp_api_acl_list, false },
    { "DELETE", "v1/tenants/*/acls/*", cp_api_acl_delete, false },
    { "POST", "v1/pools", cp_api_pool_create, false },
    { "GET", "v1/pools", cp_api_pool_list, false },
    { "GET", "v1/pools/*", cp_api_pool_get, false },
    { "PATCH", "v1/pools/*", cp_api_pool_update, false },
    { "DELETE", "v1/pools/*", cp_api_pool_delete, false },
    { "GET", "v1/brokers", cp_api_broker_list, false },
    { "GET", "v1/brokers/*", cp_api_broker_get, false },
    { "DELETE", "v1/brokers/*", cp_api_broker_delete, false },
    { "GET", "v1/audit", cp_api_audit_list, false },
    { "POST", "v1/components", cp_api_component_create, false },
    { "GET", "v1/components", cp_api_component_list, false },
    { "DELETE", "v1/components/*", cp_api_component_revoke, false },
};

#define CP_API__N_ROUTES (sizeof(cp_api__routes) / sizeof(cp_api__routes[0]))

void cp_api_reply(cp_req_t *r, int status, const cm_sbuf_t *body)
{
    r->status = status;
    cm_http_send_json(r->req, status, body);
}

void cp_api_no_content(cp_req_t *r)
{
    r->status = 204;
    cm_http_send(r->req, 204, "application/json", "", 0);
}

void cp_api_delete_owned(cp_req_t *r, const char *kind, const char *sql, const char *action)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    const char *p[] = { id, r->seg[4] };
    PGresult *res = cp_api_tx_exec(r, action, sql, 2, p);
    if (res == NULL)
        return;
    bool gone = atoi(PQcmdTuples(res)) >= 1;
    PQclear(res);
    if (!gone) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 404, "no %s \"%.64s\" in tenant \"%s\"", kind, r->seg[4], r->seg[2]);
        return;
    }
    if (cp_api_audit(r, action, id, r->seg[4], NULL) && cp_api_commit(r, action))
        cp_api_no_content(r);
}

static void cp_api__verror(cp_req_t *r, int status, int code, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    r->status = status;
    cm_http_send_error(r->req, status, code, status == 503 ? 1 : 0, "%s", msg);
}

void cp_api_error(cp_req_t *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cp_api__verror(r, status, status, fmt, ap);
    va_end(ap);
}

void cp_api_error_code(cp_req_t *r, int status, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cp_api__verror(r, status, code, fmt, ap);
    va_end(ap);
}

void cp_api_db_error(cp_req_t *r, const PGresult *res, const char *what)
{
    if (res == NULL) {
        cp_api_error(r, 503, "%s: the database is unreachable (%s); retry shortly", what,
                     r->cp->pg.err);
        return;
    }
    const char *state = cm_pg_sqlstate(res);
    if (strcmp(state, CM_PG_UNIQUE_VIOLATION) == 0) {
        cp_api_error(r, 409, "%s: it already exists", what);
        return;
    }
    if (strcmp(state, CM_PG_CHECK_VIOLATION) == 0 ||
        strcmp(state, CM_PG_FOREIGN_KEY_VIOLATION) == 0) {
        cp_api_error(r, 409, "%s: refused by the schema (%s)", what, cm_pg_message(res));
        return;
    }
    cm_log_error("database statement failed", "what=\"%s\" sqlstate=%s err=\"%s\"", what, state,
                 cm_pg_message(res));
    cp_api_error(r, 500, "%s failed in the database; the control plane's log has details", what);
}

void cp_api_send_query(cp_req_t *r, int status, const char *not_found, const char *sql,
                       int n_params, const char *const *params)
{
    PGresult *res = cm_pg_exec(&r->cp->pg, sql, n_params, params);
    if (!cm_pg_ok(res)) {
        cp_api_db_error(r, res, "query");
    } else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        cp_api_error(r, 404, "%s", not_found);
    } else {
        r->status = status;
        const char *body = PQgetvalue(res, 0, 0);
        cm_http_send(r->req, status, "application/json", body, strlen(body));
    }
    PQclear(res);
}

bool cp_api_begin(cp_req_t *r)
{
    PGresult *res = cm_pg_exec(&r->cp->pg, "BEGIN", 0, NULL);
    bool ok = cm_pg_ok(res);
    if (!ok)
        cp_api_db_error(r, res, "begin");
    PQclear(res);
    return ok;
}

PGresult *cp_api_tx_exec(cp_req_t *r, const char *what, const char *sql, int n_params,
                         const char *const *params)
{
    PGresult *res = cm_pg_exec(&r->cp->pg, sql, n_params, params);
    if (cm_pg_ok(res))
        return res;
    cp_api_db_error(r, res, what);
    PQclear(res);
    cm_pg_rollback(&r->cp->pg);
    return NULL;
}

bool cp_api_commit(cp_req_t *r, const char *what)
{
    PGresult *res = cm_pg_exec(&r->cp->pg, "COMMIT", 0, NULL);
    bool ok = cm_pg_ok(res);
    if (!ok) {
        cp_api_db_error(r, res, what);
        cm_pg_rollback(&r->cp->pg);
    }
    PQclear(res);
    return ok;
}

bool cp_api_audit(cp_req_t *r, const char *action, const char *tenant_id, const char *target,
                  const char *details_json)
{
    const char *p[] = { r->actor, action, tenant_id, target != NULL ? target : "",
                        details_json != NULL ? details_json : "{}" };
    PGresult *res =
        cp_api_tx_exec(r, "audit",
                       "INSERT INTO audit_log (actor, action, tenant_id, target, details)"
                       " VALUES ($1, $2, $3::uuid, $4, $5::jsonb)",
                       5, p);
    PQclear(res);
    return res != NULL;
}

const cm_json_t *cp_api_body(cp_req_t *r, const char *const *allowed)
{
    const cm_json_t *o = cm_http_json_body(r->req, &r->arena);
    if (o == NULL) {
        r->status = 400;
        return NULL;
    }
    for (const cm_json_t *m = o->child; m != NULL; m = m->next) {
        bool known = false;
        for (int i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(allowed[i], m->key) == 0;
        if (!known) {
            cp_api_error(r, 400, "unknown field \"%.64s\"", m->key);
            return NULL;
        }
    }
    return o;
}

bool cp_api_str(cp_req_t *r, const cm_json_t *o, const char *key, bool required, const char **out)
{
    const cm_json_t *v = cm_json_get(o, key);
    *out = NULL;
    if (v == NULL || v->type == CM_JSON_NULL) {
        if (required)
            cp_api_error(r, 400, "the field \"%s\" is required", key);
        return !required;
    }
    if (v->type != CM_JSON_STRING) {
        cp_api_error(r, 400, "the field \"%s\" must be a string", key);
        return false;
    }
    *out = v->str;
    return true;
}

static bool cp_api__int(cp_req_t *r, const cm_json_t *o, const char *key, bool required, int64_t lo,
                        int64_t hi, int code, int64_t *out, bool *present)
{
    const cm_json_t *v = cm_json_get(o, key);
    if (present != NULL)
        *present = false;
    if (v == NULL) {
        if (required)
            cp_api_error_code(r, 400, code, "the field \"%s\" is required", key);
        return !required;
    }
    if (v->type != CM_JSON_NUMBER || !v->is_int || v->i < lo || v->i > hi) {
        cp_api_error_code(r, 400, code, "the field \"%s\" must be an integer in [%lld, %lld]", key,
                          (long long)lo, (long long)hi);
        return false;
    }
    *out = v->i;
    if (present != NULL)
        *present = true;
    return true;
}

bool cp_api_int(cp_req_t *r, const cm_json_t *o, const char *key, bool required, int64_t lo,
                int64_t hi, int64_t *out, bool *present)
{
    return cp_api__int(r, o, key, required, lo, hi, 400, out, present);
}

bool cp_api_int_code(cp_req_t *r, const cm_json_t *o, const char *key, bool required, int64_t lo,
                     int64_t hi, int code, int64_t *out)
{
    return cp_api__int(r, o, key, required, lo, hi, code, out, NULL);
}

bool cp_api_bool(cp_req_t *r, const cm_json_t *o, const char *key, bool *out)
{
    const cm_json_t *v = cm_json_get(o, key);
    *out = false;
    if (v == NULL)
        return true;
    if (v->type != CM_JSON_BOOL) {
        cp_api_error(r, 400, "the field \"%s\" must be true or false", key);
        return false;
    }
    *out = v->b;
    return true;
}

static bool cp_api__tenant(cp_req_t *r, const char *name, bool active, char id[40],
                           char pool_id[24])
{
    const char *p[] = { name };
    PGresult *res =
        cm_pg_exec(&r->cp->pg, "SELECT id, pool_id, state FROM tenants WHERE name = $1", 1, p);
    bool ok = false;
    if (!cm_pg_ok(res))
        cp_api_db_error(r, res, "tenant lookup");
    else if (PQntuples(res) == 0 ||
             (r->scope_pool[0] != '\0' && strcmp(PQgetvalue(res, 0, 1), r->scope_pool) != 0))
        /* A broker's credential sees only its own pool's tenants: others do not exist. */
        cp_api_error(r, 404, "no tenant named \"%.64s\"", name);
    else if (active && strcmp(PQgetvalue(res, 0, 2), "active") != 0)
        cp_api_error_code(r, 409, CP_ERR_TENANT_SUSPENDED,
                          "tenant \"%.64s\" is %s: resume it before changing its topics", name,
                          PQgetvalue(res, 0, 2));
    else {
        snprintf(id, 40, "%s", PQgetvalue(res, 0, 0));
        if (pool_id != NULL)
            snprintf(pool_id, 24, "%s", PQgetvalue(res, 0, 1));
        ok = true;
    }
    PQclear(res);
    return ok;
}

bool cp_api_tenant(cp_req_t *r, const char *name, char id[40], char pool_id[24])
{
    return cp_api__tenant(r, name, false, id, pool_id);
}

bool cp_api_tenant_active(cp_req_t *r, const char *name, char id[40], char pool_id[24])
{
    return cp_api__tenant(r, name, true, id, pool_id);
}

bool cp_name_tenant_ok(const char *s, char *why, size_t cap)
{
    size_t n = strlen(s);
    bool ok = n >= 2 && n <= 40 && islower((unsigned char)s[0]) && s[n - 1] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-';
    if (!ok)
        snprintf(why, cap,
                 "\"%.64s\" is not a valid name: use 2 to 40 of a-z, 0-9 and '-', starting "
                 "with a letter and not ending with '-'",
                 s);
    return ok;
}

bool cp_name_topic_ok(const char *s, size_t tenant_len, char *why, size_t cap)
{
    /* Inside the brokers the topic is "<tenant>.<name>", which Kafka caps at 249. */
    size_t n = strlen(s), max = 249 - tenant_len - 1;
    bool ok = n >= 1 && n <= max && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-';
    if (!ok)
        snprintf(why, cap,
                 "\"%.64s\" is not a valid topic name: use 1 to %zu of a-z, A-Z, 0-9, '.', '_' "
                 "and '-', other than \".\" and \"..\"",
                 s, max);
    return ok;
}

bool cp_name_principal_ok(const char *s, char *why, size_t cap)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-';
    if (!ok)
        snprintf(why, cap,
                 "\"%.64s\" is not a valid principal name: use 1 to 64 of a-z, A-Z, 0-9, '.', "
                 "'_' and '-'",
                 s);
    return ok;
}

static void cp_api__health(cp_req_t *r)
{
    cp_t *cp = r->cp;
    if (strcmp(r->seg[0], "healthz") == 0) {
        r->status = 200;
        cm_http_send(r->req, 200, "text/plain", "ok\n", 3);
        return;
    }
    if (strcmp(r->seg[0], "readyz") == 0) {
        bool db = cm_pg_run(&cp->pg, "SELECT 1", 0, NULL);
        if (db && cp->migrated) {
            r->status = 200;
            cm_http_send(r->req, 200, "text/plain", "ready\n", 6);
        } else {
            cp_api_error(r, 503, "not ready: %s",
                         db ? "the schema is not migrated" : "the database is unreachable");
        }
        return;
    }
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    cp_metrics_t *m = &cp->metrics;
    cm_metrics_value(&out, "streamd_cp_requests_total", "counter", "operator API requests",
                     (double)m->requests);
    cm_metrics_value(&out, "streamd_cp_client_errors_total", "counter", "requests answered 4xx",
                     (double)m->errors_4xx);
    cm_metrics_value(&out, "streamd_cp_server_errors_total", "counter", "requests answered 5xx",
                     (double)m->errors_5xx);
    cm_metrics_value(&out, "streamd_cp_reconcile_passes_total", "counter",
                     "reconciler passes that ran", (double)m->reconcile_passes);
    cm_metrics_value(&out, "streamd_cp_brokers_expired_total", "counter",
                     "brokers marked down after their lease expired", (double)m->brokers_expired);
    cm_metrics_value(&out, "streamd_cp_leaders_elected_total", "counter",
                     "partition leadership changes made by the reconciler",
                     (double)m->leaders_elected);
    cm_metrics_value(&out, "streamd_cp_database_up", "gauge",
                     "1 when the control plane's database connection is up",
                     cp->pg.conn != NULL ? 1 : 0);
    cm_metrics_hist(&out, "streamd_cp_request_duration_seconds", "operator API latency",
                    &m->request_latency);
    r->status = 200;
    cm_http_send(r->req, 200, "text/plain; version=0.0.4", out.buf, out.len);
    cm_sbuf_free(&out);
}

/*
 * Who calls: 1 for an operator token (every route), 2 for a broker's component credential
 * ("<name>.<secret>", not revoked: its routes, its pool's tenants), 0 for neither, -1 when
 * the database is away to tell (answered 503; operator tokens still work).
 */
static int cp_api__caller(cp_req_t *r, const char *token)
{
    if (cp_config_operator(&r->cp->cfg, token, r->actor, sizeof(r->actor)))
        return 1;
    const char *dot = strchr(token, '.');
    if (dot == NULL || dot == token || dot - token > 63)
        return 0;
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(dot - token), token);
    const char *p[] = { name };
    PGresult *res =
        cm_pg_exec(&r->cp->pg,
                   "SELECT kind, coalesce(pool_id::text, ''), token_hash FROM components"
                   " WHERE name = $1 AND revoked_at IS NULL",
                   1, p);
    int who = 0;
    if (!cm_pg_ok(res)) {
        cp_api_db_error(r, res, "credential lookup");
        who = -1;
    } else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "broker") == 0 &&
               cm_secret_verify(token, PQgetvalue(res, 0, 2))) {
        snprintf(r->actor, sizeof(r->actor), "%s", name);
        snprintf(r->scope_pool, sizeof(r->scope_pool), "%s", PQgetvalue(res, 0, 1));
        who = 2;
    }
    PQclear(res);
    return who;
}

static void cp_api__dispatch(cp_req_t *r)
{
    if (r->nseg < 0) {
        cp_api_error(r, 404, "no such path");
        return;
    }
    if (r->nseg == 1 && (strcmp(r->seg[0], "healthz") == 0 || strcmp(r->seg[0], "readyz") == 0 ||
                         strcmp(r->seg[0], "metrics") == 0)) {
        if (!cm_http_method_is(r->req, "GET") && !cm_http_method_is(r->req, "HEAD"))
            cp_api_error(r, 405, "use GET");
        else
            cp_api__health(r);
        return;
    }
    const cp_api__route_t *found = NULL;
    char allow[64] = "";
    for (size_t i = 0; i < CP_API__N_ROUTES; i++) {
        if (!cm_http_route_match(cp_api__routes[i].pattern, r->seg, r->nseg))
            continue;
        if (cm_http_method_is(r->req, cp_api__routes[i].method))
            found = &cp_api__routes[i];
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", cp_api__routes[i].method);
    }
    if (allow[0] == '\0') {
        cp_api_error(r, 404, "no such path; the API is described in docs/api/operator.md");
        return;
    }
    const char *token = cm_http_bearer(r->req, &r->arena);
    int who = token == NULL ? 0 : cp_api__caller(r, token);
    if (who < 0)
        return; /* the database is away: answered 503 */
    if (who == 0) {
        h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"streamd-operator\""));
        cp_api_error(r, 401,
                     token == NULL ? "send an operator token: Authorization: Bearer ..."
                                   : "the operator token is not valid");
        return;
    }
    if (who == 2 && (found == NULL || !found->broker)) {
        cp_api_error(r, 403, "a broker's credential (%s) may only change its pool's topics",
                     r->actor);
        return;
    }
    if (found == NULL) {
        char *v = h2o_mem_alloc_pool(&r->req->pool, sizeof(allow));
        memcpy(v, allow, sizeof(allow));
        h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_ALLOW, NULL, v, strlen(v));
        cp_api_error(r, 405, "this path takes %s", allow);
        return;
    }
    if (!r->cp->migrated) {
        cp_api_error(r, 503, "the control plane is starting (database schema not ready)");
        return;
    }
    found->fn(r);
}

int cp_api_handle(void *ud, h2o_req_t *req)
{
    cp_t *cp = ud;
    int64_t t0 = cm_mono_us();
    cp_req_t r = { .cp = cp, .req = req };
    cm_arena_init(&r.arena, CP_API__ARENA_BYTES);
    r.nseg = cm_http_segments(req, &r.arena, r.seg, CM_HTTP_SEGMENTS_MAX);
    cp_api__dispatch(&r);
    /* A handler that forgot to answer would leave the client hanging. */
    if (r.status == 0)
        cp_api_error(&r, 500, "internal error: no response");
    cm_arena_free(&r.arena);
    atomic_fetch_add(&cp->metrics.requests, 1);
    if (r.status >= 500)
        atomic_fetch_add(&cp->metrics.errors_5xx, 1);
    else if (r.status >= 400)
        atomic_fetch_add(&cp->metrics.errors_4xx, 1);
    cm_hist_observe(&cp->metrics.request_latency, cm_mono_us() - t0);
    return 0;
}
