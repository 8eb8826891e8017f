/*
 * A topic's configs: /topics/{t}/configs[/{name}] and /topics/{t}/configs:alter.
 *
 * Reading asks a broker of the tenant's pool (DescribeConfigs with synonyms) for the keys,
 * their types and the broker's defaults, and takes the topic's own values from the
 * gateway's snapshot: a change answered by this gateway is in that snapshot already (the
 * answer waits for it), so a tenant reads back what it just wrote even before the brokers
 * have applied it. Changes go to the control plane (PATCH of the topic's configs), which
 * checks every value against the same rules as the brokers.
 */
#include <stdio.h>
#include <string.h>

#include "cm_err.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_tconfig.h"
#include "gw_admin.h"
#include "gw_kafka.h"
#include "gw_meta.h"
#include "gw_rest.h"

#define GW_CFG__DESCRIBE_VERSION 1
/* DescribeConfigs sources (KIP-226). */
enum { GW_CFG__SRC_DYNAMIC_TOPIC = 1, GW_CFG__SRC_STATIC_BROKER = 4, GW_CFG__SRC_DEFAULT = 5 };

typedef struct gw_cfg__ask {
    gw_rreq_t *r;
    const char *only; /* one config, or NULL for all */
    int attempts;
    h2o_timeout_entry_t timer;
} gw_cfg__ask_t;

static void gw_cfg__send(gw_cfg__ask_t *ask);

/* The topic's own values: the snapshot's JSON object of overrides, parsed (NULL: none). */
static const cm_json_t *gw_cfg__overrides(cm_arena_t *a, const gw_topic_t *t)
{
    cm_json_t *doc = NULL;
    char err[64];
    if (t->configs == NULL ||
        cm_json_parse(a, t->configs, strlen(t->configs), 4, &doc, err, sizeof(err)) != 0)
        return NULL;
    return doc;
}

/* The topic's own value of `name`, or NULL. */
static const char *gw_cfg__override(cm_arena_t *a, const cm_json_t *own, const char *name)
{
    const cm_json_t *v = own != NULL ? cm_json_get(own, name) : NULL;
    if (v == NULL)
        return NULL;
    if (v->type == CM_JSON_STRING)
        return v->str;
    if (v->type == CM_JSON_NUMBER && v->is_int) {
        char *s = cm_arena_alloc(a, 24);
        if (s != NULL)
            snprintf(s, 24, "%lld", (long long)v->i);
        return s;
    }
    return NULL;
}

static void gw_cfg__obj(gw_rreq_t *r, cm_jw_t *jw, cm_arena_t *a, const cm_json_t *overrides,
                        const cm_describe_configs_resp_resource_result_t *c)
{
    const gw_topic_t *t = r->topic;
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)c->name.len, c->name.ptr);
    /* The broker's default: its static synonym, or its value when the topic has none. */
    cm_kstr_t dflt = c->value;
    for (int32_t i = 0; i < c->synonyms_n; i++)
        if (c->synonyms[i].source == GW_CFG__SRC_STATIC_BROKER ||
            c->synonyms[i].source == GW_CFG__SRC_DEFAULT)
            dflt = c->synonyms[i].value;
    const char *own = gw_cfg__override(a, overrides, name);
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaTopicConfig");
    gw_rest_metadata(r, jw, "topics/%s/configs/%s", t->name, name);
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    cm_jw_kstr(jw, "topic_name", t->name);
    cm_jw_kstr(jw, "name", name);
    cm_jw_key(jw, "value");
    if (own != NULL)
        cm_jw_str(jw, own);
    else
        cm_jw_strn(jw, dflt.ptr, dflt.len > 0 ? (size_t)dflt.len : 0);
    cm_jw_kbool(jw, "is_default", own == NULL);
    cm_jw_kbool(jw, "is_read_only", c->read_only);
    cm_jw_kbool(jw, "is_sensitive", false);
    cm_jw_kstr(jw, "source", own != NULL ? "DYNAMIC_TOPIC_CONFIG" : "DEFAULT_CONFIG");
    cm_jw_key(jw, "synonyms");
    cm_jw_arr(jw);
    if (own != NULL) {
        cm_jw_obj(jw);
        cm_jw_kstr(jw, "name", name);
        cm_jw_kstr(jw, "value", own);
        cm_jw_kstr(jw, "source", "DYNAMIC_TOPIC_CONFIG");
        cm_jw_obj_end(jw);
    }
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "name", name);
    cm_jw_key(jw, "value");
    cm_jw_strn(jw, dflt.ptr, dflt.len > 0 ? (size_t)dflt.len : 0);
    cm_jw_kstr(jw, "source", "DEFAULT_CONFIG");
    cm_jw_obj_end(jw);
    cm_jw_arr_end(jw);
    cm_jw_obj_end(jw);
}

static void gw_cfg__described(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cfg__ask_t *ask = c->ud;
    gw_rreq_t *r = ask->r;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    cm_describe_configs_resp_t resp;
    const cm_describe_configs_resp_result_t *res = NULL;
    if (st == GW_KCALL_OK &&
        cm_describe_configs_resp_decode(body, c->api_version, &a, &resp) == 0 &&
        resp.results_n == 1)
        res = &resp.results[0];
    if (res != NULL && res->error_code == CM_KERR_UNKNOWN_TOPIC_OR_PARTITION &&
        gw_rest_retry_soon(r, &ask->attempts, &ask->timer)) {
        cm_arena_free(&a);
        return;
    }
    if (res == NULL || res->error_code != 0) {
        gw_rest_error(r, 503, 503, 1, "cannot read the topic's configs from its broker: %s",
                      res != NULL         ? cm_kerr_name(res->error_code)
                      : st == GW_KCALL_OK ? "malformed answer"
                                          : c->why);
    } else if (ask->only != NULL) {
        if (res->configs_n != 1) {
            gw_rest_error(r, 404, 404, 0, "topic \"%s\" has no config \"%s\"", r->topic->name,
                          ask->only);
        } else {
            cm_jw_t *jw = gw_rest_json(r);
            gw_cfg__obj(r, jw, &a, gw_cfg__overrides(&a, r->topic), &res->configs[0]);
            gw_rest_json_reply(r, 200);
        }
    } else {
        cm_jw_t *jw = gw_rest_json(r);
        char path[300];
        snprintf(path, sizeof(path), "topics/%s/configs", r->topic->name);
        gw_rest_list_begin(r, jw, "KafkaTopicConfigList", path);
        const cm_json_t *own = gw_cfg__overrides(&a, r->topic);
        for (int32_t i = 0; i < res->configs_n; i++)
            gw_cfg__obj(r, jw, &a, own, &res->configs[i]);
        gw_rest_list_end(jw);
        gw_rest_json_reply(r, 200);
    }
    cm_arena_free(&a);
    gw_rest_unref(r);
}

/* A broker of the tenant's pool: the leader of partition 0, else any one up. */
static const gw_broker_t *gw_cfg__broker(gw_rreq_t *r)
{
    const gw_topic_t *t = r->topic;
    const gw_broker_t *b = t->n_parts > 0 ? gw_snap_broker(r->snap, t->parts[0].leader) : NULL;
    if (b == NULL && gw_snap_pool(r->snap, r->ss.tenant, &b, 1) == 0)
        return NULL;
    return b;
}

static bool gw_cfg__may(gw_rreq_t *r, cm_acl_op_t op)
{
    if (gw_session_allowed(&r->ss, CM_ACL_RT_TOPIC, r->topic->name, op))
        return true;
    gw_rest_error(r, 403, 403, 0, "principal %s may not %s the configs of topic \"%s\"",
                  r->ss.principal, op == CM_ACL_OP_ALTER_CONFIGS ? "alter" : "describe",
                  r->topic->name);
    return false;
}

/* The config named by the path, known to the service; else answers 404. */
static const cm_tconfig_key_t *gw_cfg__named(gw_rreq_t *r)
{
    const cm_tconfig_key_t *k = cm_tconfig_key(cm_kstr_c(r->seg[7]));
    if (k == NULL)
        gw_rest_error(r, 404, 404, 0, "topic \"%s\" has no config \"%.64s\"", r->topic->name,
                      r->seg[7]);
    return k;
}

/* Sends the DescribeConfigs (the request's reference is held for it). */
static void gw_cfg__send(gw_cfg__ask_t *ask)
{
    gw_rreq_t *r = ask->r;
    const gw_broker_t *b = gw_cfg__broker(r);
    if (!gw_rest_can_call(r)) {
        gw_rest_unref(r);
        return;
    }
    if (b == NULL) {
        gw_rest_error(r, 503, 503, 1, "no broker of this cluster is available now");
        gw_rest_unref(r);
        return;
    }
    gw_kcall_t *c = gw_kcall_new(r->w->kpool, CM_KAPI_DESCRIBE_CONFIGS, GW_CFG__DESCRIBE_VERSION, 0,
                                 gw_cfg__described, ask);
    cm_describe_configs_req_t req;
    cm_describe_configs_req_init(&req);
    cm_describe_configs_req_resource_t res;
    cm_describe_configs_req_resource_init(&res);
    cm_kstr_t key = ask->only != NULL ? cm_kstr_c(ask->only) : (cm_kstr_t){ NULL, -1 };
    res.resource_type = 2; /* TOPIC */
    res.resource_name = cm_kstr_c(r->topic->full);
    res.configuration_keys = ask->only != NULL ? &key : NULL;
    res.configuration_keys_n = ask->only != NULL ? 1 : -1;
    req.resources = &res;
    req.resources_n = 1;
    req.include_synonyms = true;
    cm_describe_configs_req_encode(&c->w, GW_CFG__DESCRIBE_VERSION, &req);
    gw_kcall_send(r->w->kpool, b, c);
}

static void gw_cfg__on_timer(h2o_timeout_entry_t *e)
{
    gw_cfg__send((gw_cfg__ask_t *)((char *)e - offsetof(gw_cfg__ask_t, timer)));
}

static void gw_cfg__describe(gw_rreq_t *r, const char *only)
{
    if (!gw_cfg__may(r, CM_ACL_OP_DESCRIBE_CONFIGS))
        return;
    gw_cfg__ask_t *ask = cm_arena_calloc(&r->arena, 1, sizeof(*ask));
    if (ask == NULL) {
        gw_rest_error(r, 413, 413, 0, "the request is too large to handle");
        return;
    }
    ask->r = r;
    ask->only = only;
    ask->timer.cb = gw_cfg__on_timer;
    gw_rest_ref(r);
    gw_cfg__send(ask);
}

void gw_configs_list(gw_rreq_t *r)
{
    gw_cfg__describe(r, NULL);
}

void gw_configs_get(gw_rreq_t *r)
{
    const cm_tconfig_key_t *k = gw_cfg__named(r);
    if (k != NULL)
        gw_cfg__describe(r, k->name);
}

/* Sends {"configs": {...}} to the control plane; `jw` has the members written. */
static gw_admin_call_t *gw_cfg__patch(gw_rreq_t *r, cm_jw_t *jw)
{
    gw_admin_call_t *c = gw_admin_call_new(r->w, "PATCH", gw_rest_admin_no_content, r);
    cm_sbuf_printf(&c->path, "/v1/tenants/%s/topics/%s", r->ss.tenant->name, r->topic->name);
    cm_jw_init(jw, &c->body);
    cm_jw_obj(jw);
    cm_jw_key(jw, "configs");
    cm_jw_obj(jw);
    r->admin_what = "cannot change the topic's configs";
    return c;
}

static void gw_cfg__patch_send(gw_rreq_t *r, gw_admin_call_t *c, cm_jw_t *jw)
{
    cm_jw_obj_end(jw);
    cm_jw_obj_end(jw);
    gw_rest_admin_send(r, c);
}

void gw_configs_set(gw_rreq_t *r)
{
    const cm_tconfig_key_t *k = gw_cfg__named(r);
    if (k == NULL || !gw_cfg__may(r, CM_ACL_OP_ALTER_CONFIGS))
        return;
    const cm_json_t *o = gw_rest_json_body(r);
    if (o == NULL)
        return;
    const cm_json_t *v = cm_json_get(o, "value");
    if (v == NULL || v->type != CM_JSON_STRING || o->child->next != NULL) {
        gw_rest_error(r, 400, 400, 0, "send {\"value\": \"...\"}");
        return;
    }
    cm_jw_t jw;
    gw_admin_call_t *c = gw_cfg__patch(r, &jw);
    cm_jw_kstr(&jw, k->name, v->str);
    gw_cfg__patch_send(r, c, &jw);
}

void gw_configs_reset(gw_rreq_t *r)
{
    const cm_tconfig_key_t *k = gw_cfg__named(r);
    if (k == NULL || !gw_cfg__may(r, CM_ACL_OP_ALTER_CONFIGS))
        return;
    cm_jw_t jw;
    gw_admin_call_t *c = gw_cfg__patch(r, &jw);
    cm_jw_key(&jw, k->name);
    cm_jw_null(&jw);
    gw_cfg__patch_send(r, c, &jw);
}

/* {"data": [{"name": ..., "value": ..., "operation": "SET" | "DELETE"}]}: all or nothing. */
void gw_configs_alter(gw_rreq_t *r)
{
    if (!gw_cfg__may(r, CM_ACL_OP_ALTER_CONFIGS))
        return;
    const cm_json_t *o = gw_rest_json_body(r);
    if (o == NULL)
        return;
    const cm_json_t *data = cm_json_get(o, "data");
    if (data == NULL || data->type != CM_JSON_ARRAY || data->child == NULL) {
        gw_rest_error(r, 400, 400, 0,
                      "send {\"data\": [{\"name\": ..., \"value\": ..., \"operation\": \"SET\" "
                      "or \"DELETE\"}, ...]}");
        return;
    }
    cm_jw_t jw;
    gw_admin_call_t *c = gw_cfg__patch(r, &jw);
    for (const cm_json_t *e = data->child; e != NULL; e = e->next) {
        const char *name = cm_json_get_str(e, "name"), *value = cm_json_get_str(e, "value");
        const char *op = cm_json_get_str(e, "operation");
        bool del = op != NULL && strcasecmp(op, "DELETE") == 0;
        const cm_tconfig_key_t *k = name != NULL ? cm_tconfig_key(cm_kstr_c(name)) : NULL;
        const char *why = NULL;
        if (name == NULL)
            why = "every entry needs a name";
        else if (k == NULL)
            why = "no such config";
        else if (op != NULL && !del && strcasecmp(op, "SET") != 0)
            why = "operation must be SET or DELETE";
        else if (!del && value == NULL)
            why = "SET needs a string value";
        if (why != NULL) {
            gw_admin_call_free(c);
            int status = k == NULL && name != NULL ? 404 : 400;
            gw_rest_error(r, status, status, 0, "%s%s%.64s%s", why, name != NULL ? " (\"" : "",
                          name != NULL ? name : "", name != NULL ? "\")" : "");
            return;
        }
        cm_jw_key(&jw, k->name);
        if (del)
            cm_jw_null(&jw);
        else
            cm_jw_str(&jw, value);
    }
    gw_cfg__patch_send(r, c, &jw);
}
