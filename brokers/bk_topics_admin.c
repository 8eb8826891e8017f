/*
 * CreateTopics, DeleteTopics and CreatePartitions. A managed broker carries them out
 * through the control plane (bk_forward.h); a standalone one on its own disk.
 */
#include <stdio.h>
#include <string.h>

#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_forward.h"
#include "bk_topic.h"
#include "cm_json.h"
#include "cm_kmsg.h"

/* DescribeConfigs config sources (KIP-226). */
#define BK_SOURCE_DYNAMIC_TOPIC 1
#define BK_SOURCE_DEFAULT       5

/* Applies a creation's configs onto the defaults. Returns 0 or INVALID_CONFIG + msg. */
static int16_t bk_create__configs(bk_req_t *req, const cm_create_topics_req_creatable_topic_t *in,
                                  cm_tconfig_t *cfg, char *msg, size_t cap)
{
    cm_tconfig_init(cfg, &req->b->cfg.topic_defaults);
    for (int32_t k = 0; k < in->configs_n; k++) {
        const cm_tconfig_key_t *key = cm_tconfig_key(in->configs[k].name);
        if (key == NULL) {
            snprintf(msg, cap, "unknown topic config '%.*s'", in->configs[k].name.len,
                     in->configs[k].name.ptr);
            return CM_KERR_INVALID_CONFIG;
        }
        if (in->configs[k].value.len < 0) {
            snprintf(msg, cap, "topic config '%s' needs a value", key->name);
            return CM_KERR_INVALID_CONFIG;
        }
        int16_t err = (int16_t)cm_tconfig_set(cfg, key, in->configs[k].value, msg, cap);
        if (err != 0)
            return err;
    }
    return 0;
}

/* Works out the partition count from num_partitions or a manual assignment. */
static int16_t bk_create__count(bk_req_t *req, const cm_create_topics_req_creatable_topic_t *in,
                                int32_t *n, char *msg, size_t cap)
{
    int32_t node = (int32_t)req->b->cfg.node_id;
    if (in->replication_factor != -1 && in->replication_factor != 1 && in->assignments_n <= 0) {
        snprintf(msg, cap, "replication factor %d is not possible on a single broker; use 1",
                 in->replication_factor);
        return CM_KERR_INVALID_REPLICATION_FACTOR;
    }
    if (in->assignments_n > 0) {
        if (in->num_partitions != -1 || in->replication_factor != -1) {
            snprintf(msg, cap,
                     "give either a replica assignment or partition count and "
                     "replication factor, not both");
            return CM_KERR_INVALID_REQUEST;
        }
        for (int32_t i = 0; i < in->assignments_n; i++) {
            const cm_create_topics_req_creatable_replica_assignment_t *as = &in->assignments[i];
            if (as->partition_index != i || as->broker_ids_n != 1 || as->broker_ids[0] != node) {
                snprintf(msg, cap, "partitions must be numbered 0..n-1, each on broker %d alone",
                         node);
                return CM_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
        *n = in->assignments_n;
        return 0;
    }
    *n = in->num_partitions == -1 ? (int32_t)req->b->cfg.default_partitions : in->num_partitions;
    return 0;
}

/* Lists a topic's configs in a CreateTopics v5+ answer. */
static void bk_create__describe(bk_req_t *req, const cm_tconfig_t *cfg,
                                cm_create_topics_resp_creatable_topic_result_t *out)
{
    out->configs = cm_arena_calloc(&req->resp->arena, cm_tconfig_keys_n, sizeof(*out->configs));
    if (out->configs == NULL)
        return;
    out->configs_n = (int32_t)cm_tconfig_keys_n;
    for (size_t i = 0; i < cm_tconfig_keys_n; i++) {
        char v[64];
        const cm_tconfig_key_t *k = &cm_tconfig_keys[i];
        cm_create_topics_resp_creatable_topic_configs_init(&out->configs[i]);
        cm_tconfig_value(cfg, k, v, sizeof(v));
        out->configs[i].name = cm_kstr_c(k->name);
        out->configs[i].value = bk_req_msg(req, v);
        out->configs[i].config_source =
            cm_tconfig_is_set(cfg, k) ? BK_SOURCE_DYNAMIC_TOPIC : BK_SOURCE_DEFAULT;
    }
}

/* ---- CreateTopics -------------------------------------------------------------------- */

static void bk_create__encode(bk_fwd_job_t *j)
{
    cm_create_topics_resp_t *resp = j->out;
    for (int32_t i = 0; i < resp->topics_n; i++)
        if (resp->topics[i].error_code != 0)
            resp->topics[i].configs_n = 0; /* configs describe created topics only */
    cm_create_topics_resp_encode(&j->resp->w, j->resp->api_version, resp);
}

/* A created topic's id, partition count and replication factor from the control plane. */
static void bk_create__ok(bk_fwd_job_t *j, bk_fwd_call_t *c, const cm_json_t *answer)
{
    cm_create_topics_resp_creatable_topic_result_t *out = c->ok_arg;
    const cm_json_t *parts = cm_json_get(answer, "partitions");
    const cm_json_t *rf = cm_json_get(answer, "replication_factor");
    const char *id = cm_json_get_str(answer, "id");
    if (parts != NULL && parts->is_int)
        out->num_partitions = (int32_t)parts->i;
    if (rf != NULL && rf->is_int)
        out->replication_factor = (int16_t)rf->i;
    /* A validate-only answer describes a topic that was never kept: no id. */
    if (id != NULL && !c->validate_only && !bk_cluster_parse_uuid(id, &out->topic_id))
        memset(&out->topic_id, 0, sizeof(out->topic_id));
    (void)j;
}

/*
 * One topic of a CreateTopics on a managed broker: checked here as far as the broker can
 * (name, configs), then created by the control plane, which places the partitions.
 */
static void bk_create__forward(bk_req_t *req, bk_fwd_job_t *job,
                               const cm_create_topics_req_creatable_topic_t *in,
                               cm_create_topics_resp_creatable_topic_result_t *out,
                               bool validate_only, const cm_tconfig_t *cfg)
{
    char tenant[64], topic[256], msg[256] = "";
    if (!bk_fwd_split(in->name, tenant, topic, msg, sizeof(msg))) {
        out->error_code = CM_KERR_INVALID_TOPIC_EXCEPTION;
        out->error_message = bk_req_msg(req, msg);
        return;
    }
    if (in->assignments_n > 0) {
        out->error_code = CM_KERR_INVALID_REPLICA_ASSIGNMENT;
        out->error_message =
            bk_req_msg(req, "manual replica assignments are not accepted: the control plane places "
                            "partitions; give a partition count and replication factor");
        return;
    }
    cm_sbuf_t body;
    cm_sbuf_init(&body);
    cm_jw_t w;
    cm_jw_init(&w, &body);
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "name", topic);
    if (in->num_partitions != -1)
        cm_jw_kint(&w, "partitions", in->num_partitions);
    if (in->replication_factor != -1)
        cm_jw_kint(&w, "replication_factor", in->replication_factor);
    cm_jw_key(&w, "configs");
    cm_jw_obj(&w);
    for (size_t k = 0; k < cm_tconfig_keys_n; k++) {
        char v[64];
        if (!cm_tconfig_is_set(cfg, &cm_tconfig_keys[k]))
            continue;
        cm_tconfig_value(cfg, &cm_tconfig_keys[k], v, sizeof(v));
        cm_jw_kstr(&w, cm_tconfig_keys[k].name, v);
    }
    cm_jw_obj_end(&w);
    cm_jw_kbool(&w, "validate_only", validate_only);
    cm_jw_kstr(&w, "pool", req->b->cfg.pool); /* only a tenant of this broker's pool */
    cm_jw_obj_end(&w);
    /* The path names the tenant; the topic goes in the body. */
    bk_fwd_call_t *c =
        bk_fwd_add(job, "POST", tenant, "", "", &body, &out->error_code, &out->error_message);
    if (c != NULL) {
        c->on_404 = CM_KERR_INVALID_TOPIC_EXCEPTION; /* no such tenant */
        c->on_409 = CM_KERR_TOPIC_ALREADY_EXISTS;
        c->ok = bk_create__ok;
        c->ok_arg = out;
        c->validate_only = validate_only;
    }
    cm_sbuf_free(&body);
}

int bk_handle_create_topics(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_create_topics_req_t r;
    if (cm_create_topics_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_create_topics_resp_t *resp = cm_arena_calloc(a, 1, sizeof(*resp));
    if (resp == NULL)
        return BK_CLOSE;
    cm_create_topics_resp_init(resp);
    int32_t n = r.topics_n > 0 ? r.topics_n : 0;
    resp->topics = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp->topics));
    if (resp->topics == NULL)
        return BK_CLOSE;
    resp->topics_n = n;
    bool validate_only = v >= 1 && r.validate_only;
    bk_fwd_job_t *job =
        req->b->fwd != NULL ? bk_fwd_job(req, resp, bk_create__encode, r.timeout_ms) : NULL;
    for (int32_t i = 0; i < n; i++) {
        cm_create_topics_req_creatable_topic_t *in = &r.topics[i];
        cm_create_topics_resp_creatable_topic_result_t *out = &resp->topics[i];
        cm_create_topics_resp_creatable_topic_result_init(out);
        out->name = bk_req_keep(req, in->name); /* the frame is gone when a job answers */
        char msg[256] = "";
        int32_t count = in->num_partitions;
        cm_tconfig_t cfg;
        bool dup = false;
        for (int32_t j = 0; j < n; j++)
            dup |= j != i && cm_kstr_eq(r.topics[j].name, in->name);
        bk_topic_t *t = NULL;
        if (dup) {
            out->error_code = CM_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "topic '%.*s' appears more than once in the request",
                     in->name.len, in->name.ptr);
        } else if ((out->error_code = bk_create__configs(req, in, &cfg, msg, sizeof(msg))) != 0) {
            /* refused here, the same rules as the control plane's */
        } else if (job != NULL) {
            bk_create__forward(req, job, in, out, validate_only, &cfg);
            if (out->error_code == 0)
                bk_create__describe(req, &cfg, out);
            continue;
        } else if ((out->error_code = bk_create__count(req, in, &count, msg, sizeof(msg))) == 0) {
            out->error_code = bk_topic_create(req->b, in->name, NULL, count, NULL, &cfg,
                                              validate_only, msg, sizeof(msg), &t);
        }
        out->error_message = bk_req_msg(req, msg);
        if (out->error_code != 0)
            continue;
        out->num_partitions = count;
        out->replication_factor = 1;
        if (t != NULL)
            out->topic_id = t->id;
        bk_create__describe(req, &cfg, out);
    }
    if (job != NULL)
        return bk_fwd_run(job);
    cm_create_topics_resp_encode(&req->resp->w, v, resp);
    return BK_DONE;
}

/* ---- DeleteTopics -------------------------------------------------------------------- */

static void bk_delete__encode(bk_fwd_job_t *j)
{
    cm_delete_topics_resp_encode(&j->resp->w, j->resp->api_version, j->out);
}

/* The control plane's name of a topic id, from this broker's snapshot. */
static const char *bk_delete__name_of(const bk_broker_t *b, cm_kuuid_t id)
{
    for (int32_t i = 0; b->cluster != NULL && i < b->cluster->n_topics; i++)
        if (memcmp(b->cluster->topics[i].id.b, id.b, sizeof(id.b)) == 0)
            return b->cluster->topics[i].name;
    return NULL;
}

/* One topic of a DeleteTopics on a managed broker. */
static void bk_delete__forward(bk_req_t *req, bk_fwd_job_t *job, bool by_id,
                               cm_delete_topics_resp_deletable_topic_result_t *out)
{
    char tenant[64], topic[256], msg[256];
    if (!bk_fwd_may(job, &out->error_code, &out->error_message))
        return;
    if (by_id) {
        const char *name = bk_delete__name_of(req->b, out->topic_id);
        if (name == NULL) {
            out->error_code = CM_KERR_UNKNOWN_TOPIC_ID;
            return;
        }
        out->name = bk_req_keep(req, cm_kstr_c(name));
    }
    if (!bk_fwd_split(out->name, tenant, topic, msg, sizeof(msg))) {
        out->error_code = CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->error_message = bk_req_msg(req, msg);
        return;
    }
    /* Only this pool's topics: a broker never reaches into another pool's tenants. */
    const bk_cluster_topic_t *ct = bk_cluster_topic(req->b, out->name);
    if (ct == NULL) {
        out->error_code = CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    out->topic_id = ct->id;
    bk_fwd_add(job, "DELETE", tenant, topic, "", NULL, &out->error_code, &out->error_message);
}

int bk_handle_delete_topics(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_delete_topics_req_t r;
    if (cm_delete_topics_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    /* Up to v5 names come as a list of strings; v6 has (name or id) entries. */
    int32_t n =
        v >= 6 ? (r.topics_n > 0 ? r.topics_n : 0) : (r.topic_names_n > 0 ? r.topic_names_n : 0);
    cm_delete_topics_resp_t *resp = cm_arena_calloc(a, 1, sizeof(*resp));
    if (resp == NULL)
        return BK_CLOSE;
    cm_delete_topics_resp_init(resp);
    resp->responses = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp->responses));
    if (resp->responses == NULL)
        return BK_CLOSE;
    resp->responses_n = n;
    bk_fwd_job_t *job =
        req->b->fwd != NULL ? bk_fwd_job(req, resp, bk_delete__encode, r.timeout_ms) : NULL;
    for (int32_t i = 0; i < n; i++) {
        cm_delete_topics_resp_deletable_topic_result_t *out = &resp->responses[i];
        cm_delete_topics_resp_deletable_topic_result_init(out);
        bool by_id = v >= 6 && r.topics[i].name.len < 0;
        if (by_id)
            out->topic_id = r.topics[i].topic_id;
        else
            out->name = bk_req_keep(req, v >= 6 ? r.topics[i].name : r.topic_names[i]);
        if (job != NULL) {
            bk_delete__forward(req, job, by_id, out);
            continue;
        }
        bk_topic_t *t =
            by_id ? bk_topic_find_id(req->b, out->topic_id) : bk_topic_find(req->b, out->name);
        if (t == NULL) {
            out->error_code = by_id ? CM_KERR_UNKNOWN_TOPIC_ID : CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        out->name = bk_req_keep(req, cm_kstr_c(t->name));
        out->topic_id = t->id;
        bk_topic_delete(req->b, t);
    }
    if (job != NULL)
        return bk_fwd_run(job);
    cm_delete_topics_resp_encode(&req->resp->w, v, resp);
    return BK_DONE;
}

/* ---- CreatePartitions ---------------------------------------------------------------- */

static void bk_partitions__encode(bk_fwd_job_t *j)
{
    cm_create_partitions_resp_encode(&j->resp->w, j->resp->api_version, j->out);
}

/* One topic of a CreatePartitions; returns 0 or a Kafka error with `msg`. */
static int16_t bk_partitions__one(bk_req_t *req, bk_fwd_job_t *job,
                                  const cm_create_partitions_req_topic_t *in,
                                  cm_create_partitions_resp_topic_result_t *out, bool validate_only,
                                  char *msg, size_t cap)
{
    if (in->assignments_n > 0) {
        snprintf(msg, cap, "manual replica assignments are not accepted; give only a count");
        return CM_KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if (job != NULL) {
        char tenant[64], topic[256];
        if (!bk_fwd_may(job, &out->error_code, &out->error_message)) {
            snprintf(msg, cap, "%.*s", out->error_message.len, out->error_message.ptr);
            return out->error_code;
        }
        if (bk_cluster_topic(req->b, in->name) == NULL) {
            snprintf(msg, cap, "this topic does not exist");
            return CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
        if (!bk_fwd_split(in->name, tenant, topic, msg, cap))
            return CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        cm_sbuf_t body;
        cm_sbuf_init(&body);
        cm_sbuf_printf(&body, "{\"count\": %d, \"validate_only\": %s}", in->count,
                       validate_only ? "true" : "false");
        bk_fwd_call_t *c = bk_fwd_add(job, "POST", tenant, topic, "/partitions", &body,
                                      &out->error_code, &out->error_message);
        cm_sbuf_free(&body);
        if (c == NULL) { /* refused before sending: keep its error */
            snprintf(msg, cap, "%.*s", out->error_message.len > 0 ? out->error_message.len : 0,
                     out->error_message.ptr != NULL ? out->error_message.ptr : "");
            return out->error_code;
        }
        c->validate_only = validate_only;
        return 0;
    }
    bk_topic_t *t = bk_topic_find(req->b, in->name);
    if (t == NULL) {
        snprintf(msg, cap, "this topic does not exist");
        return CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    return bk_topic_grow(req->b, t, in->count, validate_only, msg, cap);
}

int bk_handle_create_partitions(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_create_partitions_req_t r;
    if (cm_create_partitions_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    int32_t n = r.topics_n > 0 ? r.topics_n : 0;
    cm_create_partitions_resp_t *resp = cm_arena_calloc(a, 1, sizeof(*resp));
    if (resp == NULL)
        return BK_CLOSE;
    cm_create_partitions_resp_init(resp);
    resp->results = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp->results));
    if (resp->results == NULL)
        return BK_CLOSE;
    resp->results_n = n;
    bk_fwd_job_t *job =
        req->b->fwd != NULL ? bk_fwd_job(req, resp, bk_partitions__encode, r.timeout_ms) : NULL;
    for (int32_t i = 0; i < n; i++) {
        const cm_create_partitions_req_topic_t *in = &r.topics[i];
        cm_create_partitions_resp_topic_result_t *out = &resp->results[i];
        cm_create_partitions_resp_topic_result_init(out);
        out->name = bk_req_keep(req, in->name);
        char msg[256] = "";
        bool dup = false;
        for (int32_t j = 0; j < n; j++)
            dup |= j != i && cm_kstr_eq(r.topics[j].name, in->name);
        if (dup) {
            out->error_code = CM_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "the topic appears more than once in the request");
        } else {
            out->error_code =
                bk_partitions__one(req, job, in, out, r.validate_only, msg, sizeof(msg));
        }
        if (out->error_code != 0)
            out->error_message = bk_req_msg(req, msg);
    }
    if (job != NULL)
        return bk_fwd_run(job);
    cm_create_partitions_resp_encode(&req->resp->w, v, resp);
    return BK_DONE;
}
