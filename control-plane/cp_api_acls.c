/*
 * A tenant's ACLs: (principal, resource type, pattern, resource name, operation,
 * allow/deny). The gateway evaluates them; deny wins over allow, and a principal with no
 * matching allow is refused unless it is the tenant's admin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_api.h"

static bool cp_acl__one_of(const char *v, const char *const *set)
{
    for (int i = 0; set[i] != NULL; i++)
        if (strcmp(v, set[i]) == 0)
            return true;
    return false;
}

static const char *const cp_acl__types[] = { "topic", "group", "cluster", "transactional_id",
                                             NULL };
static const char *const cp_acl__patterns[] = { "literal", "prefixed", NULL };
static const char *const cp_acl__ops[] = { "all",           "read",  "write",    "create",
                                           "delete",        "alter", "describe", "describe_configs",
                                           "alter_configs", NULL };
static const char *const cp_acl__perms[] = { "allow", "deny", NULL };

#define CP_ACL__VIEW                                                                               \
    "json_build_object('id', a.id, 'principal', a.principal, 'resource_type', a.resource_type,"    \
    " 'pattern_type', a.pattern_type, 'resource_name', a.resource_name, 'operation',"              \
    " a.operation, 'permission', a.permission, 'created_at', a.created_at)"

void cp_api_acl_create(cp_req_t *r)
{
    static const char *const fields[] = {
        "principal", "resource_type", "pattern_type", "resource_name", "operation", "permission",
        NULL
    };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *principal, *type, *pattern, *name, *op, *perm;
    char why[256], id[40];
    if (o == NULL || !cp_api_str(r, o, "principal", true, &principal) ||
        !cp_api_str(r, o, "resource_type", true, &type) ||
        !cp_api_str(r, o, "pattern_type", false, &pattern) ||
        !cp_api_str(r, o, "resource_name", true, &name) ||
        !cp_api_str(r, o, "operation", true, &op) || !cp_api_str(r, o, "permission", false, &perm))
        return;
    pattern = pattern != NULL ? pattern : "literal";
    perm = perm != NULL ? perm : "allow";
    if (strcmp(principal, "*") != 0 && !cp_name_principal_ok(principal, why, sizeof(why))) {
        cp_api_error(r, 400, "%s (or \"*\" for every principal)", why);
        return;
    }
    if (!cp_acl__one_of(type, cp_acl__types)) {
        cp_api_error(r, 400, "resource_type must be topic, group, cluster or transactional_id");
        return;
    }
    if (!cp_acl__one_of(pattern, cp_acl__patterns)) {
        cp_api_error(r, 400, "pattern_type must be literal or prefixed");
        return;
    }
    if (!cp_acl__one_of(op, cp_acl__ops)) {
        cp_api_error(r, 400,
                     "operation must be one of all, read, write, create, delete, alter, "
                     "describe, describe_configs, alter_configs");
        return;
    }
    if (!cp_acl__one_of(perm, cp_acl__perms)) {
        cp_api_error(r, 400, "permission must be allow or deny");
        return;
    }
    size_t n = strlen(name);
    bool name_ok = n >= 1 && n <= 249;
    for (size_t i = 0; name_ok && i < n; i++)
        name_ok = (unsigned char)name[i] > 0x20 && (unsigned char)name[i] < 0x7f;
    if (!name_ok) {
        cp_api_error(r, 400,
                     "resource_name must be 1 to 249 printable characters (\"*\" for "
                     "every resource)");
        return;
    }
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    const char *p[] = { id, principal, type, pattern, name, op, perm };
    PGresult *res =
        cp_api_tx_exec(r, "ACL creation",
                       "INSERT INTO acls AS a (tenant_id, principal, resource_type, pattern_type,"
                       " resource_name, operation, permission) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                       " RETURNING a.id, " CP_ACL__VIEW,
                       7, p);
    if (res == NULL)
        return;
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    cm_sbuf_printf(&out, "%s", PQgetvalue(res, 0, 1));
    char acl_id[40];
    snprintf(acl_id, sizeof(acl_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (cp_api_audit(r, "acl.create", id, acl_id, out.buf) && cp_api_commit(r, "ACL creation"))
        cp_api_reply(r, 201, &out);
    cm_sbuf_free(&out);
}

void cp_api_acl_list(cp_req_t *r)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL))
        return;
    const char *p[] = { id, cm_http_query(r->req, &r->arena, "principal"),
                        cm_http_query(r->req, &r->arena, "resource_type") };
    cp_api_send_query(r, 200, "no tenant",
                      "SELECT json_build_object('data', coalesce(json_agg(" CP_ACL__VIEW
                      " ORDER BY a.principal, a.resource_type, a.resource_name, a.operation),"
                      " '[]'::json)) FROM acls a WHERE a.tenant_id = $1"
                      " AND ($2::text IS NULL OR a.principal = $2)"
                      " AND ($3::text IS NULL OR a.resource_type = $3)",
                      3, p);
}

void cp_api_acl_delete(cp_req_t *r)
{
    cp_api_delete_owned(r, "ACL", "DELETE FROM acls WHERE tenant_id = $1 AND id::text = $2",
                        "acl.delete");
}
