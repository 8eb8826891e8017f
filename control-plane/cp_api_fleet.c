/* Broker pools, brokers and the audit log: the operators' view of the fleet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_api.h"
#include "cp_bounds.h"

#define CP_POOL__OBJ                                                                               \
    "json_build_object('name', p.name, 'created_at', p.created_at,"                                \
    " 'brokers', (SELECT count(*) FROM brokers b WHERE b.pool_id = p.id),"                         \
    " 'brokers_up', (SELECT count(*) FROM brokers b WHERE b.pool_id = p.id AND b.state = 'up'),"   \
    " 'tenants', (SELECT count(*) FROM tenants t WHERE t.pool_id = p.id),"                         \
    " 'topic_config_overrides', p.topic_config_bounds)"
#define CP_POOL__VIEW "SELECT " CP_POOL__OBJ " FROM broker_pools p"

/* One pool, with the effective bounds of its topic configs (cp_bounds.h). */
static void cp_pool__send(cp_req_t *r, int status, const char *name)
{
    const char *p[] = { name };
    PGresult *res = cm_pg_exec(&r->cp->pg,
                               "SELECT " CP_POOL__OBJ "::text, p.topic_config_bounds::text"
                               " FROM broker_pools p WHERE p.name = $1",
                               1, p);
    if (!cm_pg_ok(res)) {
        cp_api_db_error(r, res, "pool lookup");
    } else if (PQntuples(res) == 0) {
        cp_api_error(r, 404, "no such pool");
    } else {
        /* The view is one JSON object: its last '}' makes room for one more member. */
        const char *view = PQgetvalue(res, 0, 0);
        cm_sbuf_t out;
        cm_sbuf_init(&out);
        cm_sbuf_append(&out, view, strlen(view) - 1);
        cm_sbuf_printf(&out, ", \"topic_config_bounds\": ");
        cm_jw_t w;
        cm_jw_init(&w, &out);
        cp_bounds_write(&w, PQgetvalue(res, 0, 1));
        cm_sbuf_printf(&out, "}");
        cp_api_reply(r, status, &out);
        cm_sbuf_free(&out);
    }
    PQclear(res);
}

void cp_api_pool_update(cp_req_t *r)
{
    static const char *const fields[] = { "topic_config_bounds", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    if (o == NULL)
        return;
    const cm_json_t *b = cm_json_get(o, "topic_config_bounds");
    char why[256];
    if (!cp_bounds_valid(b, why, sizeof(why))) {
        cp_api_error(r, 400, "%s", why);
        return;
    }
    cm_sbuf_t text;
    cm_sbuf_init(&text);
    cm_jw_t w;
    cm_jw_init(&w, &text);
    cm_json_write(&w, b);
    const char *p[] = { r->seg[2], text.buf };
    /* Each key's bounds replace the pool's earlier ones; null drops them. */
    PGresult *res = NULL;
    if (cp_api_begin(r))
        res = cp_api_tx_exec(r, "pool change",
                             "UPDATE broker_pools SET topic_config_bounds ="
                             " jsonb_strip_nulls(topic_config_bounds || $2::jsonb)"
                             " WHERE name = $1 RETURNING id",
                             2, p);
    if (res != NULL && PQntuples(res) == 0) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 404, "no pool named \"%.64s\"", r->seg[2]);
    } else if (res != NULL && cp_api_audit(r, "pool.update", NULL, r->seg[2], text.buf) &&
               cp_api_commit(r, "pool change")) {
        cp_pool__send(r, 200, r->seg[2]);
    }
    PQclear(res);
    cm_sbuf_free(&text);
}

void cp_api_pool_create(cp_req_t *r)
{
    static const char *const fields[] = { "name", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *name;
    char why[256];
    if (o == NULL || !cp_api_str(r, o, "name", true, &name))
        return;
    if (!cp_name_tenant_ok(name, why, sizeof(why))) {
        cp_api_error(r, 400, "%s", why);
        return;
    }
    if (!cp_api_begin(r))
        return;
    const char *p[] = { name };
    PGresult *res =
        cp_api_tx_exec(r, "pool creation", "INSERT INTO broker_pools (name) VALUES ($1)", 1, p);
    if (res == NULL)
        return;
    PQclear(res);
    if (cp_api_audit(r, "pool.create", NULL, name, NULL) && cp_api_commit(r, "pool creation"))
        cp_pool__send(r, 201, name);
}

void cp_api_pool_list(cp_req_t *r)
{
    cp_api_send_query(r, 200, "no pools",
                      "SELECT json_build_object('data', coalesce(json_agg(x.j ORDER BY x.name),"
                      " '[]'::json)) FROM (SELECT (" CP_POOL__VIEW " WHERE p.id = q.id), q.name"
                      " FROM broker_pools q) x(j, name)",
                      0, NULL);
}

void cp_api_pool_get(cp_req_t *r)
{
    cp_pool__send(r, 200, r->seg[2]);
}

void cp_api_pool_delete(cp_req_t *r)
{
    if (!cp_api_begin(r))
        return;
    const char *p[] = { r->seg[2] };
    PGresult *res = cp_api_tx_exec(r, "pool deletion",
                                   "SELECT (SELECT count(*) FROM brokers b WHERE b.pool_id = p.id),"
                                   " (SELECT count(*) FROM tenants t WHERE t.pool_id = p.id)"
                                   " FROM broker_pools p WHERE p.name = $1 FOR UPDATE",
                                   1, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 404, "no pool named \"%.64s\"", r->seg[2]);
        return;
    }
    long brokers = atol(PQgetvalue(res, 0, 0)), tenants = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (brokers > 0 || tenants > 0) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 409, "pool \"%s\" still has %ld broker(s) and %ld tenant(s)", r->seg[2],
                     brokers, tenants);
        return;
    }
    if ((res = cp_api_tx_exec(r, "pool deletion", "DELETE FROM broker_pools WHERE name = $1", 1,
                              p)) == NULL)
        return;
    PQclear(res);
    if (cp_api_audit(r, "pool.delete", NULL, r->seg[2], NULL) && cp_api_commit(r, "pool deletion"))
        cp_api_no_content(r);
}

#define CP_BROKER__VIEW                                                                            \
    "json_build_object('id', b.id, 'pool', p.name, 'host', b.host, 'port', b.port, 'rack',"        \
    " b.rack, 'state', b.state, 'lease_expires_at', b.lease_expires_at, 'registered_at',"          \
    " b.registered_at, 'heartbeat_at', b.heartbeat_at,"                                            \
    " 'replicas', (SELECT count(*) FROM partitions x WHERE b.id = ANY (x.replicas)),"              \
    " 'leaders', (SELECT count(*) FROM partitions x WHERE x.leader = b.id))"

void cp_api_broker_list(cp_req_t *r)
{
    const char *pool = cm_http_query(r->req, &r->arena, "pool");
    const char *p[] = { pool };
    cp_api_send_query(r, 200, "no brokers",
                      "SELECT json_build_object('data', coalesce(json_agg(" CP_BROKER__VIEW
                      " ORDER BY b.id), '[]'::json)) FROM brokers b"
                      " JOIN broker_pools p ON p.id = b.pool_id"
                      " WHERE $1::text IS NULL OR p.name = $1",
                      1, p);
}

static bool cp_broker__id(cp_req_t *r, char out[16])
{
    char *end;
    long id = strtol(r->seg[2], &end, 10);
    if (*end != '\0' || id < 0 || id > INT32_MAX || r->seg[2][0] == '\0') {
        cp_api_error(r, 404, "\"%.16s\" is not a broker id", r->seg[2]);
        return false;
    }
    snprintf(out, 16, "%ld", id);
    return true;
}

void cp_api_broker_get(cp_req_t *r)
{
    char id[16];
    if (!cp_broker__id(r, id))
        return;
    const char *p[] = { id };
    cp_api_send_query(r, 200, "no such broker",
                      "SELECT " CP_BROKER__VIEW " FROM brokers b"
                      " JOIN broker_pools p ON p.id = b.pool_id WHERE b.id = $1",
                      1, p);
}

void cp_api_broker_delete(cp_req_t *r)
{
    char id[16];
    if (!cp_broker__id(r, id) || !cp_api_begin(r))
        return;
    const char *p[] = { id };
    PGresult *res = cp_api_tx_exec(
        r, "broker deletion",
        "SELECT state, (SELECT count(*) FROM partitions x WHERE b.id = ANY (x.replicas))"
        " FROM brokers b WHERE b.id = $1 FOR UPDATE",
        1, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 404, "no broker %s", id);
        return;
    }
    bool up = strcmp(PQgetvalue(res, 0, 0), "up") == 0;
    long replicas = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (up || replicas > 0) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 409,
                     up ? "broker %s is up; stop it first"
                        : "broker %s still holds %ld replica(s); move or delete them first",
                     id, replicas);
        return;
    }
    if ((res = cp_api_tx_exec(r, "broker deletion", "DELETE FROM brokers WHERE id = $1", 1, p)) ==
        NULL)
        return;
    PQclear(res);
    if (cp_api_audit(r, "broker.delete", NULL, id, NULL) && cp_api_commit(r, "broker deletion"))
        cp_api_no_content(r);
}

void cp_api_audit_list(cp_req_t *r)
{
    const char *tenant = cm_http_query(r->req, &r->arena, "tenant");
    const char *limit = cm_http_query(r->req, &r->arena, "limit");
    char lim[24], *end = NULL;
    long n = limit != NULL ? strtol(limit, &end, 10) : 100;
    if ((limit != NULL && (end == limit || *end != '\0')) || n < 1 || n > r->cp->cfg.list_max) {
        cp_api_error(r, 400, "limit must be an integer in [1, %lld]",
                     (long long)r->cp->cfg.list_max);
        return;
    }
    snprintf(lim, sizeof(lim), "%ld", n);
    const char *p[] = { tenant, lim };
    cp_api_send_query(
        r, 200, "no audit records",
        "SELECT json_build_object('data', coalesce(json_agg(x.j ORDER BY x.id DESC), '[]'::json))"
        " FROM (SELECT json_build_object('id', a.id, 'at', a.at, 'actor', a.actor, 'action',"
        " a.action, 'tenant', t.name, 'target', a.target, 'details', a.details), a.id"
        " FROM audit_log a LEFT JOIN tenants t ON t.id = a.tenant_id"
        " WHERE $1::text IS NULL OR t.name = $1 ORDER BY a.id DESC LIMIT $2) x(j, id)",
        2, p);
}
