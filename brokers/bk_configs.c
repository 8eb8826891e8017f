/*
 * DescribeConfigs, AlterConfigs (whole-set replace) and IncrementalAlterConfigs.
 *
 * TOPIC resources hold the topic configs of cm_tconfig.h; changes apply at once (segment
 * sizes at the next roll, retention at its next run, flush.ms at the next append) and are
 * persisted in topic.properties before the answer. The BROKER resource describes the
 * broker-wide defaults, which are static (set in the broker's config file).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_forward.h"
#include "bk_topic.h"
#include "cm_json.h"
#include "cm_kmsg.h"

enum { BK_RES_TOPIC = 2, BK_RES_BROKER = 4 };
enum { BK_SRC_DYNAMIC_TOPIC = 1, BK_SRC_STATIC_BROKER = 4, BK_SRC_DEFAULT = 5 };
enum { BK_OP_SET = 0, BK_OP_DELETE = 1, BK_OP_APPEND = 2, BK_OP_SUBTRACT = 3 };

/* The broker config behind each topic config (Kafka's names, for synonyms). */
static const char *bk_configs__broker_name(const cm_tconfig_key_t *k)
{
    static const char *names[][2] = {
        { "retention.ms", "log.retention.ms" },     { "retention.bytes", "log.retention.bytes" },
        { "segment.bytes", "log.segment.bytes" },   { "segment.ms", "log.roll.ms" },
        { "flush.ms", "log.flush.interval.ms" },    { "max.message.bytes", "message.max.bytes" },
        { "cleanup.policy", "log.cleanup.policy" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i][0], k->name) == 0)
            return names[i][1];
    return k->name;
}

static bool bk_configs__wanted(const cm_describe_configs_req_resource_t *res, const char *name)
{
    if (res->configuration_keys_n < 0)
        return true;
    for (int32_t i = 0; i < res->configuration_keys_n; i++)
        if (cm_kstr_eq_c(res->configuration_keys[i], name))
            return true;
    return false;
}

/* A topic's configs: the control plane's on a managed broker, else the local topic's. */
static const cm_tconfig_t *bk_configs__of(bk_req_t *req, cm_kstr_t topic)
{
    if (req->b->cluster != NULL) {
        const bk_cluster_topic_t *ct = bk_cluster_topic(req->b, topic);
        return ct != NULL ? &ct->cfg : NULL;
    }
    bk_topic_t *t = bk_topic_find(req->b, topic);
    return t != NULL ? &t->cfg : NULL;
}

static void bk_configs__describe_topic(bk_req_t *req, const cm_describe_configs_req_t *r,
                                       const cm_describe_configs_req_resource_t *res,
                                       const cm_tconfig_t *cfg,
                                       cm_describe_configs_resp_result_t *out)
{
    cm_arena_t *a = &req->resp->arena;
    out->configs = cm_arena_calloc(a, cm_tconfig_keys_n, sizeof(*out->configs));
    if (out->configs == NULL)
        return;
    int32_t n = 0;
    for (size_t i = 0; i < cm_tconfig_keys_n; i++) {
        const cm_tconfig_key_t *k = &cm_tconfig_keys[i];
        if (!bk_configs__wanted(res, k->name))
            continue;
        cm_describe_configs_resp_resource_result_t *c = &out->configs[n++];
        cm_describe_configs_resp_resource_result_init(c);
        char v[64], d[64];
        cm_tconfig_value(cfg, k, v, sizeof(v));
        cm_tconfig_default(k, &req->b->cfg.topic_defaults, d, sizeof(d));
        bool set = cm_tconfig_is_set(cfg, k);
        c->name = cm_kstr_c(k->name);
        c->value = bk_req_msg(req, v);
        c->read_only = k->offset < 0;
        c->is_default = !set;
        c->config_source = set ? BK_SRC_DYNAMIC_TOPIC : BK_SRC_DEFAULT;
        c->config_type = (int8_t)k->ctype;
        if (req->hdr.api_version >= 3 && r->include_documentation)
            c->documentation = cm_kstr_c(k->doc);
        if (req->hdr.api_version >= 1 && r->include_synonyms) {
            c->synonyms = cm_arena_calloc(a, 2, sizeof(*c->synonyms));
            if (c->synonyms == NULL)
                continue;
            int32_t s = 0;
            if (set) {
                cm_describe_configs_resp_synonym_init(&c->synonyms[s]);
                c->synonyms[s].name = c->name;
                c->synonyms[s].value = c->value;
                c->synonyms[s++].source = BK_SRC_DYNAMIC_TOPIC;
            }
            cm_describe_configs_resp_synonym_init(&c->synonyms[s]);
            c->synonyms[s].name = cm_kstr_c(bk_configs__broker_name(k));
            c->synonyms[s].value = bk_req_msg(req, d);
            c->synonyms[s++].source = BK_SRC_STATIC_BROKER;
            c->synonyms_n = s;
        }
    }
    out->configs_n = n;
}

static void bk_configs__describe_broker(bk_req_t *req,
                                        const cm_describe_configs_req_resource_t *res,
                                        cm_describe_configs_resp_result_t *out)
{
    cm_arena_t *a = &req->resp->arena;
    out->configs = cm_arena_calloc(a, cm_tconfig_keys_n, sizeof(*out->configs));
    if (out->configs == NULL)
        return;
    int32_t n = 0;
    for (size_t i = 0; i < cm_tconfig_keys_n; i++) {
        const cm_tconfig_key_t *k = &cm_tconfig_keys[i];
        const char *name = bk_configs__broker_name(k);
        if (!bk_configs__wanted(res, name))
            continue;
        char d[64];
        cm_tconfig_default(k, &req->b->cfg.topic_defaults, d, sizeof(d));
        cm_describe_configs_resp_resource_result_t *c = &out->configs[n++];
        cm_describe_configs_resp_resource_result_init(c);
        c->name = cm_kstr_c(name);
        c->value = bk_req_msg(req, d);
        c->read_only = true;
        c->config_source = BK_SRC_STATIC_BROKER;
        c->config_type = (int8_t)k->ctype;
    }
    out->configs_n = n;
}

/* True when `name` is this broker's id or empty (Kafka's rule for BROKER resources). */
static bool bk_configs__is_self(bk_req_t *req, cm_kstr_t name)
{
    char id[32];
    snprintf(id, sizeof(id), "%" PRId64, req->b->cfg.node_id);
    return name.len == 0 || cm_kstr_eq_c(name, id);
}

int bk_handle_describe_configs(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_describe_configs_req_t r;
    if (cm_describe_configs_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_describe_configs_resp_t resp;
    cm_describe_configs_resp_init(&resp);
    int32_t n = r.resources_n > 0 ? r.resources_n : 0;
    resp.results = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp.results));
    if (resp.results == NULL)
        return BK_CLOSE;
    resp.results_n = n;
    for (int32_t i = 0; i < n; i++) {
        cm_describe_configs_req_resource_t *res = &r.resources[i];
        cm_describe_configs_resp_result_t *out = &resp.results[i];
        cm_describe_configs_resp_result_init(out);
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        if (res->resource_type == BK_RES_TOPIC) {
            const cm_tconfig_t *cfg = bk_configs__of(req, res->resource_name);
            if (cfg == NULL) {
                out->error_code = CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                out->error_message = bk_req_msg(req, "this topic does not exist");
                continue;
            }
            bk_configs__describe_topic(req, &r, res, cfg, out);
        } else if (res->resource_type == BK_RES_BROKER &&
                   bk_configs__is_self(req, res->resource_name)) {
            bk_configs__describe_broker(req, res, out);
        } else {
            out->error_code = CM_KERR_INVALID_REQUEST;
            out->error_message =
                bk_req_msg(req, "only TOPIC resources and this broker's BROKER resource are "
                                "described here");
        }
    }
    cm_describe_configs_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

/* One requested change, common to both alter APIs. */
typedef struct {
    cm_kstr_t name;
    cm_kstr_t value;
    int8_t op;
} bk_configs__change_t;

/* Where one resource's outcome goes, and the job carrying it on a managed broker. */
typedef struct {
    bk_fwd_job_t *job; /* NULL: applied here */
    int16_t *err;
    cm_kstr_t *msg;
} bk_configs__out_t;

/*
 * Sends a checked change to the control plane: the keys it touches (every key when
 * `replace`) with their new values, or null for those back at the default.
 */
static int16_t bk_configs__forward(bk_req_t *req, cm_kstr_t topic, bool replace,
                                   const bk_configs__change_t *ch, int32_t n,
                                   const cm_tconfig_t *next, bool validate_only,
                                   bk_configs__out_t *o, char *msg, size_t cap)
{
    char tenant[64], name[256];
    if (!bk_fwd_split(topic, tenant, name, msg, cap))
        return CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    cm_sbuf_t body;
    cm_sbuf_init(&body);
    cm_jw_t w;
    cm_jw_init(&w, &body);
    cm_jw_obj(&w);
    cm_jw_key(&w, "configs");
    cm_jw_obj(&w);
    for (size_t i = 0; i < cm_tconfig_keys_n; i++) {
        const cm_tconfig_key_t *k = &cm_tconfig_keys[i];
        bool touched = replace;
        for (int32_t j = 0; j < n && !touched; j++)
            touched = cm_kstr_eq_c(ch[j].name, k->name);
        if (!touched || k->offset < 0)
            continue;
        cm_jw_key(&w, k->name);
        if (cm_tconfig_is_set(next, k)) {
            char v[64];
            cm_tconfig_value(next, k, v, sizeof(v));
            cm_jw_str(&w, v);
        } else {
            cm_jw_null(&w);
        }
    }
    cm_jw_obj_end(&w);
    cm_jw_kbool(&w, "validate_only", validate_only);
    cm_jw_obj_end(&w);
    bk_fwd_call_t *c = bk_fwd_add(o->job, "PATCH", tenant, name, "", &body, o->err, o->msg);
    cm_sbuf_free(&body);
    if (c == NULL) { /* refused before sending: keep its message */
        snprintf(msg, cap, "%.*s", o->msg->len > 0 ? o->msg->len : 0,
                 o->msg->ptr != NULL ? o->msg->ptr : "");
        return *o->err;
    }
    c->validate_only = validate_only;
    return 0;
}

/*
 * Validates and applies changes to a topic: computes the new config set on a copy (from
 * the current one, or from defaults when `replace`), then swaps it in and persists it
 * unless `validate_only`. Returns 0 or a Kafka error with `msg`.
 */
static int16_t bk_configs__alter_topic(bk_req_t *req, cm_kstr_t topic, bool replace,
                                       const bk_configs__change_t *ch, int32_t n,
                                       bool validate_only, bk_configs__out_t *o, char *msg,
                                       size_t cap)
{
    const cm_tconfig_t *cur = bk_configs__of(req, topic);
    if (cur == NULL) {
        snprintf(msg, cap, "this topic does not exist");
        return CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    cm_tconfig_t next = *cur;
    if (replace)
        cm_tconfig_init(&next, &req->b->cfg.topic_defaults);
    for (int32_t i = 0; i < n; i++) {
        const cm_tconfig_key_t *k = cm_tconfig_key(ch[i].name);
        if (k == NULL) {
            snprintf(msg, cap, "unknown topic config '%.*s'", ch[i].name.len, ch[i].name.ptr);
            return CM_KERR_INVALID_CONFIG;
        }
        for (int32_t j = 0; j < i; j++)
            if (cm_kstr_eq(ch[j].name, ch[i].name)) {
                snprintf(msg, cap, "config '%s' appears more than once", k->name);
                return CM_KERR_INVALID_REQUEST;
            }
        switch (ch[i].op) {
        case BK_OP_SET: {
            int16_t err = (int16_t)cm_tconfig_set(&next, k, ch[i].value, msg, cap);
            if (err != 0)
                return err;
            break;
        }
        case BK_OP_DELETE:
            cm_tconfig_reset(&next, k, &req->b->cfg.topic_defaults);
            break;
        case BK_OP_APPEND:
        case BK_OP_SUBTRACT:
            snprintf(msg, cap,
                     "'%s' is not a list config that values can be added to or "
                     "removed from",
                     k->name);
            return CM_KERR_INVALID_CONFIG;
        default:
            snprintf(msg, cap, "unknown config operation %d", ch[i].op);
            return CM_KERR_INVALID_REQUEST;
        }
    }
    if (o->job != NULL)
        return bk_configs__forward(req, topic, replace, ch, n, &next, validate_only, o, msg, cap);
    if (validate_only)
        return 0;
    bk_topic_t *t = bk_topic_find(req->b, topic);
    cm_tconfig_t prev = t->cfg;
    t->cfg = next;
    int16_t err = bk_topic_save(req->b, t);
    if (err != 0) {
        t->cfg = prev;
        snprintf(msg, cap, "the broker could not persist the change");
    }
    return err;
}

/* Routes one resource of either alter API. */
static int16_t bk_configs__alter(bk_req_t *req, int8_t type, cm_kstr_t name, bool replace,
                                 const bk_configs__change_t *ch, int32_t n, bool validate_only,
                                 bk_configs__out_t *o, char *msg, size_t cap)
{
    if (type == BK_RES_TOPIC)
        return bk_configs__alter_topic(req, name, replace, ch, n, validate_only, o, msg, cap);
    if (type == BK_RES_BROKER)
        snprintf(msg, cap, "broker configs are static: set them in the broker's config file");
    else
        snprintf(msg, cap, "only TOPIC resources can be altered");
    return CM_KERR_INVALID_REQUEST;
}

/*
 * One resource of either alter API: `ch` holds its `n` changes in the common form. Fills
 * the resource's answer (error code and message). Returns -1 when the arena is exhausted.
 */
static int bk_configs__alter_resource(bk_req_t *req, int8_t type, cm_kstr_t name, bool replace,
                                      const bk_configs__change_t *ch, int32_t n, bool validate_only,
                                      bk_configs__out_t *o)
{
    if (ch == NULL)
        return -1;
    char msg[256] = "";
    *o->err =
        bk_configs__alter(req, type, name, replace, ch, n, validate_only, o, msg, sizeof(msg));
    if (*o->err != 0 || o->job == NULL)
        *o->msg = bk_req_msg(req, msg);
    return 0;
}

/* An array for `n` changes (at least one element) from the request's arena. */
static bk_configs__change_t *bk_configs__changes(bk_req_t *req, int32_t n)
{
    return cm_arena_calloc(&req->resp->arena, (size_t)(n > 0 ? n : 1),
                           sizeof(bk_configs__change_t));
}

static void bk_configs__encode_alter(bk_fwd_job_t *j)
{
    cm_alter_configs_resp_encode(&j->resp->w, j->resp->api_version, j->out);
}

static void bk_configs__encode_incremental(bk_fwd_job_t *j)
{
    cm_incremental_alter_configs_resp_encode(&j->resp->w, j->resp->api_version, j->out);
}

int bk_handle_alter_configs(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_alter_configs_req_t r;
    if (cm_alter_configs_req_decode(&req->body, v, &req->resp->arena, &r) != 0)
        return BK_CLOSE;
    cm_alter_configs_resp_t *resp = cm_arena_calloc(&req->resp->arena, 1, sizeof(*resp));
    if (resp == NULL)
        return BK_CLOSE;
    cm_alter_configs_resp_init(resp);
    int32_t n = r.resources_n > 0 ? r.resources_n : 0;
    resp->responses =
        cm_arena_calloc(&req->resp->arena, (size_t)(n ? n : 1), sizeof(*resp->responses));
    if (resp->responses == NULL)
        return BK_CLOSE;
    resp->responses_n = n;
    bk_fwd_job_t *job = bk_fwd_job(req, resp, bk_configs__encode_alter, 0);
    for (int32_t i = 0; i < n; i++) {
        const cm_alter_configs_req_resource_t *in = &r.resources[i];
        cm_alter_configs_resp_resource_response_t *out = &resp->responses[i];
        cm_alter_configs_resp_resource_response_init(out);
        out->resource_type = in->resource_type;
        out->resource_name = bk_req_keep(req, in->resource_name);
        /* The legacy API replaces the whole set; a null value removes a key. */
        bk_configs__change_t *ch = bk_configs__changes(req, in->configs_n);
        for (int32_t j = 0; ch != NULL && j < in->configs_n; j++)
            ch[j] =
                (bk_configs__change_t){ in->configs[j].name, in->configs[j].value,
                                        in->configs[j].value.len < 0 ? BK_OP_DELETE : BK_OP_SET };
        bk_configs__out_t o = { req->b->fwd != NULL ? job : NULL, &out->error_code,
                                &out->error_message };
        if (bk_configs__alter_resource(req, in->resource_type, in->resource_name, true, ch,
                                       in->configs_n > 0 ? in->configs_n : 0, r.validate_only,
                                       &o) != 0) {
            bk_fwd_job_free(job);
            return BK_CLOSE;
        }
    }
    return bk_fwd_run(job);
}

int bk_handle_incremental_alter_configs(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_incremental_alter_configs_req_t r;
    if (cm_incremental_alter_configs_req_decode(&req->body, v, &req->resp->arena, &r) != 0)
        return BK_CLOSE;
    cm_incremental_alter_configs_resp_t *resp =
        cm_arena_calloc(&req->resp->arena, 1, sizeof(*resp));
    if (resp == NULL)
        return BK_CLOSE;
    cm_incremental_alter_configs_resp_init(resp);
    int32_t n = r.resources_n > 0 ? r.resources_n : 0;
    resp->responses =
        cm_arena_calloc(&req->resp->arena, (size_t)(n ? n : 1), sizeof(*resp->responses));
    if (resp->responses == NULL)
        return BK_CLOSE;
    resp->responses_n = n;
    bk_fwd_job_t *job = bk_fwd_job(req, resp, bk_configs__encode_incremental, 0);
    for (int32_t i = 0; i < n; i++) {
        const cm_incremental_alter_configs_req_alter_configs_resource_t *in = &r.resources[i];
        cm_incremental_alter_configs_resp_alter_configs_resource_response_t *out =
            &resp->responses[i];
        cm_incremental_alter_configs_resp_alter_configs_resource_response_init(out);
        out->resource_type = in->resource_type;
        out->resource_name = bk_req_keep(req, in->resource_name);
        bk_configs__change_t *ch = bk_configs__changes(req, in->configs_n);
        for (int32_t j = 0; ch != NULL && j < in->configs_n; j++)
            ch[j] = (bk_configs__change_t){ in->configs[j].name, in->configs[j].value,
                                            in->configs[j].config_operation };
        bk_configs__out_t o = { req->b->fwd != NULL ? job : NULL, &out->error_code,
                                &out->error_message };
        if (bk_configs__alter_resource(req, in->resource_type, in->resource_name, false, ch,
                                       in->configs_n > 0 ? in->configs_n : 0, r.validate_only,
                                       &o) != 0) {
            bk_fwd_job_free(job);
            return BK_CLOSE;
        }
    }
    return bk_fwd_run(job);
}
