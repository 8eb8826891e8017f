/*
 * A tenant's ACLs over REST: /kafka/v3/clusters/{c}/acls, with Kafka REST v3's shapes and
 * names (TOPIC, LITERAL, User:alice, READ, ALLOW). Only the tenant's admin principals, or a
 * principal allowed to alter (create, delete) or describe (list) the cluster, may manage
 * them. The list is the gateway's snapshot, which is what it enforces; changes go to the
 * control plane, one call per ACL, and are answered once the snapshot shows them.
 *
 * The service has no per-host rules: host is "*" on every ACL, and another host is refused.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw_admin.h"
#include "gw_meta.h"
#include "gw_rest.h"

/* Kafka's names for our lower-case ones. */
static const char *const gw_acl__types[] = { "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID" };
static const char *const gw_acl__ops[] = { "ALL",          "READ",  "WRITE",    "CREATE",
                                           "DELETE",       "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS",
                                           "ALTER_CONFIGS" };

/* A filter or a new ACL, as the request gave it; NULL fields match anything. */
typedef struct gw_acl__spec {
    int rtype;             /* cm_acl_rtype_t, -1: any */
    const char *resource;  /* NULL: any */
    int pattern;           /* 0 literal, 1 prefixed, -1 any, 2 match (filters only) */
    const char *principal; /* our form ("alice", "*"); NULL: any */
    int op;                /* cm_acl_op_t, -1: any */
    int allow;             /* 1 allow, 0 deny, -1: any */
} gw_acl__spec_t;

static int gw_acl__index(const char *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(v, names[i]) == 0)
            return i;
    return -1;
}

static void gw_acl__obj(gw_rreq_t *r, cm_jw_t *jw, const cm_acl_t *a)
{
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaAcl");
    gw_rest_metadata(r, jw, "acls?resource_type=%s&resource_name=%s&pattern_type=%s",
                     gw_acl__types[a->rtype], a->resource, a->prefixed ? "PREFIXED" : "LITERAL");
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    cm_jw_kstr(jw, "resource_type", gw_acl__types[a->rtype]);
    cm_jw_kstr(jw, "resource_name", a->resource);
    cm_jw_kstr(jw, "pattern_type", a->prefixed ? "PREFIXED" : "LITERAL");
    char who[80];
    snprintf(who, sizeof(who), "User:%s", a->principal);
    cm_jw_kstr(jw, "principal", who);
    cm_jw_kstr(jw, "host", "*");
    cm_jw_kstr(jw, "operation", gw_acl__ops[a->op]);
    cm_jw_kstr(jw, "permission", a->allow ? "ALLOW" : "DENY");
    cm_jw_obj_end(jw);
}

/*
 * Reads the fields of an ACL or filter through `get` (query or body). With `filter`, absent
 * fields and ANY match anything; otherwise every field but host is required. Returns NULL,
 * or what is wrong.
 */
static const char *gw_acl__read(gw_rreq_t *r, const cm_json_t *body, bool filter, gw_acl__spec_t *s)
{
    const char *v[7];
    static const char *const keys[] = { "resource_type", "resource_name", "pattern_type",
                                        "principal",     "host",          "operation",
                                        "permission" };
    for (int i = 0; i < 7; i++)
        v[i] = body != NULL ? cm_json_get_str(body, keys[i])
                            : cm_http_query(r->req, &r->arena, keys[i]);
    if (body != NULL)
        for (const cm_json_t *m = body->child; m != NULL; m = m->next)
            if (gw_acl__index(m->key, keys, 7) < 0)
                return "unknown field";
    *s = (gw_acl__spec_t){ -1, NULL, -1, NULL, -1, -1 };
    bool any[7];
    for (int i = 0; i < 7; i++) {
        any[i] = v[i] == NULL || (filter && strcasecmp(v[i], "ANY") == 0);
        if (v[i] == NULL && !filter && i != 2 && i != 4) /* pattern and host have defaults */
            return "resource_type, resource_name, principal, operation and permission are "
                   "required";
    }
    if (!any[0] && (s->rtype = gw_acl__index(v[0], gw_acl__types, 4)) < 0)
        return "resource_type must be TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID";
    if (v[1] != NULL) {
        size_t n = strlen(v[1]);
        bool ok = n >= 1 && n <= 249;
        for (size_t i = 0; ok && i < n; i++)
            ok = (unsigned char)v[1][i] > 0x20 && (unsigned char)v[1][i] < 0x7f;
        if (!ok)
            return "resource_name must be 1 to 249 printable characters";
        s->resource = v[1];
    }
    if (!any[2] || (!filter && v[2] == NULL)) {
        const char *p = v[2] != NULL ? v[2] : "LITERAL";
        if (strcasecmp(p, "LITERAL") == 0)
            s->pattern = 0;
        else if (strcasecmp(p, "PREFIXED") == 0)
            s->pattern = 1;
        else if (filter && strcasecmp(p, "MATCH") == 0)
            s->pattern = 2;
        else
            return filter ? "pattern_type must be LITERAL, PREFIXED, MATCH or ANY"
                          : "pattern_type must be LITERAL or PREFIXED";
    }
    if (!any[3]) {
        const char *p = strncmp(v[3], "User:", 5) == 0 ? v[3] + 5 : v[3];
        if (!gw_session_principal_ok(p) && strcmp(p, "*") != 0)
            return "principal must be User:<name> (1 to 64 of a-z, A-Z, 0-9, '.', '_', '-') or "
                   "User:*";
        s->principal = p;
    }
    if (v[4] != NULL && strcmp(v[4], "*") != 0 && !(filter && strcasecmp(v[4], "ANY") == 0))
        return "host must be \"*\": the service has no per-host rules";
    if (!any[5] && (s->op = gw_acl__index(v[5], gw_acl__ops, CM_ACL_OP_N)) < 0)
        return "operation must be ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, "
               "DESCRIBE_CONFIGS or ALTER_CONFIGS";
    if (!any[6]) {
        if (strcasecmp(v[6], "ALLOW") == 0)
            s->allow = 1;
        else if (strcasecmp(v[6], "DENY") == 0)
            s->allow = 0;
        else
            return "permission must be ALLOW or DENY";
    }
    return NULL;
}

static bool gw_acl__matches(const gw_acl__spec_t *f, const cm_acl_t *a)
{
    if (f->rtype >= 0 && (int)a->rtype != f->rtype)
        return false;
    if (f->principal != NULL && strcmp(f->principal, a->principal) != 0)
        return false;
    if (f->op >= 0 && (int)a->op != f->op)
        return false;
    if (f->allow >= 0 && a->allow != (f->allow == 1))
        return false;
    if (f->pattern == 0 || f->pattern == 1) {
        if (a->prefixed != (f->pattern == 1))
            return false;
        if (f->resource != NULL && strcmp(f->resource, a->resource) != 0)
            return false;
    } else if (f->resource != NULL) {
        if (f->pattern == 2) /* MATCH: the ACLs that apply to this resource name */
            return cm_acl_resource_matches(a, f->resource);
        return strcmp(f->resource, a->resource) == 0;
    }
    return true;
}

/* Admin principals, or Kafka's rule: `op` on the cluster. */
static bool gw_acl__may(gw_rreq_t *r, cm_acl_op_t op)
{
    if (gw_session_allowed(&r->ss, CM_ACL_RT_CLUSTER, "kafka-cluster", op))
        return true;
    gw_rest_error(r, 403, 403, 0, "principal %s may not %s this cluster's ACLs", r->ss.principal,
                  op == CM_ACL_OP_DESCRIBE ? "list" : "change");
    return false;
}

/* Answers the list of ACLs `v`. */
static void gw_acl__list_reply(gw_rreq_t *r, const cm_acl_t *const *v, int n)
{
    cm_jw_t *jw = gw_rest_json(r);
    gw_rest_list_begin(r, jw, "KafkaAclList", "acls");
    for (int i = 0; i < n; i++)
        gw_acl__obj(r, jw, v[i]);
    gw_rest_list_end(jw);
    gw_rest_json_reply(r, 200);
}

/* The tenant's ACLs that `f` matches, from the request's snapshot. */
static int gw_acl__select(gw_rreq_t *r, const gw_acl__spec_t *f, const cm_acl_t ***out)
{
    const gw_tenant_t *t = r->ss.tenant;
    *out = cm_arena_calloc(&r->arena, (size_t)t->n_acls + 1, sizeof(**out));
    int n = 0;
    for (int i = 0; *out != NULL && i < t->n_acls; i++)
        if (gw_acl__matches(f, &t->acls[i]))
            (*out)[n++] = &t->acls[i];
    return n;
}

void gw_acls_list(gw_rreq_t *r)
{
    if (!gw_acl__may(r, CM_ACL_OP_DESCRIBE))
        return;
    gw_acl__spec_t f;
    const char *why = gw_acl__read(r, NULL, true, &f);
    if (why != NULL) {
        gw_rest_error(r, 400, 400, 0, "%s", why);
        return;
    }
    const cm_acl_t **v;
    int n = gw_acl__select(r, &f, &v);
    gw_acl__list_reply(r, v, n);
}

static void gw_acl__created(gw_admin_call_t *c)
{
    gw_rreq_t *r = c->ud;
    if (gw_rest_admin_outcome(r, c, "cannot create the ACL")) {
        const gw_acl__spec_t *s = r->state;
        cm_acl_t a = { .principal = s->principal,
                       .rtype = (cm_acl_rtype_t)s->rtype,
                       .prefixed = s->pattern == 1,
                       .resource = s->resource,
                       .op = (cm_acl_op_t)s->op,
                       .allow = s->allow == 1 };
        cm_jw_t *jw = gw_rest_json(r);
        gw_acl__obj(r, jw, &a);
        gw_rest_json_reply(r, 201);
    }
    gw_admin_call_free(c);
    gw_rest_unref(r);
}

void gw_acls_create(gw_rreq_t *r)
{
    if (!gw_acl__may(r, CM_ACL_OP_ALTER))
        return;
    const cm_json_t *o = gw_rest_json_body(r);
    if (o == NULL)
        return;
    gw_acl__spec_t *s = cm_arena_calloc(&r->arena, 1, sizeof(*s));
    if (s == NULL) {
        gw_rest_error(r, 413, 413, 0, "the request is too large to handle");
        return;
    }
    const char *why = gw_acl__read(r, o, false, s);
    if (why != NULL) {
        gw_rest_error(r, 400, 400, 0, "%s", why);
        return;
    }
    r->state = s;
    gw_admin_call_t *c = gw_admin_call_new(r->w, "POST", gw_acl__created, r);
    cm_sbuf_printf(&c->path, "/v1/tenants/%s/acls", r->ss.tenant->name);
    cm_jw_t jw;
    cm_jw_init(&jw, &c->body);
    cm_jw_obj(&jw);
    cm_jw_kstr(&jw, "principal", s->principal);
    cm_jw_kstr(&jw, "resource_type", cm_acl_rtype_name((cm_acl_rtype_t)s->rtype));
    cm_jw_kstr(&jw, "pattern_type", s->pattern == 1 ? "prefixed" : "literal");
    cm_jw_kstr(&jw, "resource_name", s->resource);
    cm_jw_kstr(&jw, "operation", cm_acl_op_name((cm_acl_op_t)s->op));
    cm_jw_kstr(&jw, "permission", s->allow == 1 ? "allow" : "deny");
    cm_jw_obj_end(&jw);
    gw_rest_admin_send(r, c);
}

/* Deleting: the matched ACLs, and how far the calls got. */
typedef struct gw_acl__del {
    const cm_acl_t **v;
    int n;
    int next;
} gw_acl__del_t;

static void gw_acl__delete_next(gw_rreq_t *r);

static void gw_acl__deleted(gw_admin_call_t *c)
{
    gw_rreq_t *r = c->ud;
    /* Already gone (another call deleted it) is what was asked for. */
    if (c->status == 404 || gw_rest_admin_outcome(r, c, "cannot delete the ACL"))
        gw_acl__delete_next(r);
    gw_admin_call_free(c);
    gw_rest_unref(r);
}

static void gw_acl__delete_next(gw_rreq_t *r)
{
    gw_acl__del_t *d = r->state;
    if (d->next == d->n) {
        gw_acl__list_reply(r, d->v, d->n);
        return;
    }
    gw_admin_call_t *c = gw_admin_call_new(r->w, "DELETE", gw_acl__deleted, r);
    cm_sbuf_printf(&c->path, "/v1/tenants/%s/acls/%s", r->ss.tenant->name, d->v[d->next++]->id);
    gw_rest_admin_send(r, c);
}

void gw_acls_delete(gw_rreq_t *r)
{
    if (!gw_acl__may(r, CM_ACL_OP_ALTER))
        return;
    gw_acl__spec_t f;
    const char *why = gw_acl__read(r, NULL, true, &f);
    if (why == NULL && cm_http_query(r->req, &r->arena, "resource_type") == NULL)
        why = "resource_type is required (ANY for every type)";
    if (why != NULL) {
        gw_rest_error(r, 400, 400, 0, "%s", why);
        return;
    }
    gw_acl__del_t *d = cm_arena_calloc(&r->arena, 1, sizeof(*d));
    if (d == NULL) {
        gw_rest_error(r, 413, 413, 0, "the request is too large to handle");
        return;
    }
    d->n = gw_acl__select(r, &f, &d->v);
    r->state = d;
    gw_acl__delete_next(r);
}
