/* CreateTopics and DeleteTopics. */
#include <stdio.h>

#include "bk_dispatch.h"
#include "bk_topic.h"
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

int bk_handle_create_topics(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_create_topics_req_t r;
    if (cm_create_topics_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_create_topics_resp_t resp;
    cm_create_topics_resp_init(&resp);
    int32_t n = r.topics_n > 0 ? r.topics_n : 0;
    resp.topics = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp.topics));
    if (resp.topics == NULL)
        return BK_CLOSE;
    resp.topics_n = n;
    for (int32_t i = 0; i < n; i++) {
        cm_create_topics_req_creatable_topic_t *in = &r.topics[i];
        cm_create_topics_resp_creatable_topic_result_t *out = &resp.topics[i];
        cm_create_topics_resp_creatable_topic_result_init(out);
        out->name = in->name;
        char msg[256] = "";
        int32_t count = 0;
        cm_tconfig_t cfg;
        bool dup = false;
        for (int32_t j = 0; j < n; j++)
            dup |= j != i && cm_kstr_eq(r.topics[j].name, in->name);
        bk_topic_t *t = NULL;
        if (dup) {
            out->error_code = CM_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof(msg), "topic '%.*s' appears more than once in the request",
                     in->name.len, in->name.ptr);
        } else if ((out->error_code = bk_create__count(req, in, &count, msg, sizeof(msg))) == 0 &&
                   (out->error_code = bk_create__configs(req, in, &cfg, msg, sizeof(msg))) == 0) {
            out->error_code = bk_topic_create(req->b, in->name, NULL, count, &cfg,
                                              v >= 1 && r.validate_only, msg, sizeof(msg), &t);
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
    cm_create_topics_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
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
    cm_delete_topics_resp_t resp;
    cm_delete_topics_resp_init(&resp);
    resp.responses = cm_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*resp.responses));
    if (resp.responses == NULL)
        return BK_CLOSE;
    resp.responses_n = n;
    for (int32_t i = 0; i < n; i++) {
        cm_delete_topics_resp_deletable_topic_result_t *out = &resp.responses[i];
        cm_delete_topics_resp_deletable_topic_result_init(out);
        bk_topic_t *t;
        if (v >= 6 && r.topics[i].name.len < 0) {
            out->topic_id = r.topics[i].topic_id;
            t = bk_topic_find_id(req->b, r.topics[i].topic_id);
            out->error_code = t ? 0 : CM_KERR_UNKNOWN_TOPIC_ID;
        } else {
            out->name = v >= 6 ? r.topics[i].name : r.topic_names[i];
            t = bk_topic_find(req->b, out->name);
            out->error_code = t ? 0 : CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
        if (t == NULL)
            continue;
        out->name = bk_req_keep(req, cm_kstr_c(t->name));
        out->topic_id = t->id;
        bk_topic_delete(req->b, t);
    }
    cm_delete_topics_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}
