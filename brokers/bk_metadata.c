/* Metadata: this broker, the cluster id, and the topics asked for (or all of them). */
#include <stdio.h>
#include <string.h>

#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_topic.h"
#include "cm_kmsg.h"

/* Topic operations a client may perform here (READ..ALTER_CONFIGS): there are no ACLs on
 * the broker's internal listener; the gateway enforces them for tenants. */
#define BK_METADATA__TOPIC_OPS                                                                     \
    ((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11))

static void bk_metadata__fill(bk_req_t *req, bk_topic_t *t, cm_metadata_resp_topic_t *out,
                              bool want_ops)
{
    cm_arena_t *a = &req->resp->arena;
    out->name = bk_req_keep(req, cm_kstr_c(t->name));
    out->topic_id = t->id;
    out->partitions = cm_arena_calloc(a, (size_t)t->n_parts, sizeof(*out->partitions));
    int32_t *node = cm_arena_alloc(a, sizeof(*node));
    if (out->partitions == NULL || node == NULL) {
        out->error_code = CM_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    *node = (int32_t)req->b->cfg.node_id;
    out->partitions_n = t->n_parts;
    for (int32_t i = 0; i < t->n_parts; i++) {
        cm_metadata_resp_partition_t *p = &out->partitions[i];
        cm_metadata_resp_partition_init(p);
        p->partition_index = i;
        /* A managed broker restarted while Postgres is away knows only its own partitions. */
        if (t->parts[i] == NULL) {
            p->error_code = CM_KERR_LEADER_NOT_AVAILABLE;
            p->leader_id = -1;
            p->replica_nodes_n = p->isr_nodes_n = p->offline_replicas_n = 0;
            continue;
        }
        p->leader_id = *node;
        p->leader_epoch = t->parts[i]->leader_epoch;
        p->replica_nodes = node;
        p->replica_nodes_n = 1;
        p->isr_nodes = node;
        p->isr_nodes_n = 1;
        p->offline_replicas_n = 0;
    }
    if (want_ops)
        out->topic_authorized_operations = BK_METADATA__TOPIC_OPS;
}

/* A topic as the control plane places it: leaders and replicas across the pool. */
static void bk_metadata__fill_cluster(bk_req_t *req, const bk_cluster_topic_t *t,
                                      cm_metadata_resp_topic_t *out, bool want_ops)
{
    cm_arena_t *a = &req->resp->arena;
    out->name = cm_kstr_c(t->name); /* the snapshot outlives the response's encoding */
    out->topic_id = t->id;
    out->partitions = cm_arena_calloc(a, (size_t)t->n_parts + 1, sizeof(*out->partitions));
    if (out->partitions == NULL) {
        out->error_code = CM_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    out->partitions_n = t->n_parts;
    for (int32_t i = 0; i < t->n_parts; i++) {
        const bk_cluster_part_t *x = &t->parts[i];
        cm_metadata_resp_partition_t *p = &out->partitions[i];
        cm_metadata_resp_partition_init(p);
        p->partition_index = i;
        p->error_code = x->leader < 0 ? CM_KERR_LEADER_NOT_AVAILABLE : 0;
        p->leader_id = x->leader;
        p->leader_epoch = x->epoch;
        p->replica_nodes = x->replicas;
        p->replica_nodes_n = x->n_replicas;
        p->isr_nodes = x->isr;
        p->isr_nodes_n = x->n_isr;
        p->offline_replicas_n = 0;
    }
    if (want_ops)
        out->topic_authorized_operations = BK_METADATA__TOPIC_OPS;
}

/* Metadata of a managed broker: the pool's live brokers and the control plane's topics. */
static int bk_metadata__managed(bk_req_t *req, cm_metadata_req_t *r, cm_metadata_resp_t *resp)
{
    const bk_cluster_t *c = req->b->cluster;
    cm_arena_t *a = &req->resp->arena;
    int16_t v = req->hdr.api_version;
    resp->brokers = cm_arena_calloc(a, (size_t)c->n_brokers + 1, sizeof(*resp->brokers));
    if (resp->brokers == NULL)
        return BK_CLOSE;
    resp->brokers_n = 0;
    for (int32_t i = 0; i < c->n_brokers; i++) {
        if (!c->brokers[i].up)
            continue;
        cm_metadata_resp_broker_t *x = &resp->brokers[resp->brokers_n++];
        cm_metadata_resp_broker_init(x);
        x->node_id = c->brokers[i].id;
        x->host = cm_kstr_c(c->brokers[i].host);
        x->port = c->brokers[i].port;
        x->rack = c->brokers[i].rack[0] ? cm_kstr_c(c->brokers[i].rack) : (cm_kstr_t){ NULL, -1 };
        /* Every broker of the pool names the same controller, the lowest live id; any of
         * them carries admin requests to the control plane. */
        if (resp->brokers_n == 1 || x->node_id < resp->controller_id)
            resp->controller_id = x->node_id;
    }
    if (c->cluster_id != NULL)
        resp->cluster_id = cm_kstr_c(c->cluster_id);
    bool all = r->topics_n < 0 || (v == 0 && r->topics_n == 0);
    size_t n = all ? (size_t)c->n_topics : (size_t)r->topics_n;
    resp->topics = cm_arena_calloc(a, n + 1, sizeof(*resp->topics));
    if (resp->topics == NULL)
        return BK_CLOSE;
    resp->topics_n = (int32_t)n;
    bool want_ops = v >= 8 && r->include_topic_authorized_operations;
    for (size_t i = 0; i < n; i++) {
        cm_metadata_resp_topic_t *out = &resp->topics[i];
        cm_metadata_resp_topic_init(out);
        const bk_cluster_topic_t *t = NULL;
        if (all) {
            t = &c->topics[i];
        } else {
            cm_metadata_req_topic_t *in = &r->topics[i];
            out->name = bk_req_keep(req, in->name);
            out->topic_id = in->topic_id;
            if (in->name.len >= 0) {
                t = bk_cluster_topic(req->b, in->name);
            } else {
                for (int32_t k = 0; k < c->n_topics && t == NULL; k++)
                    if (memcmp(c->topics[k].id.b, in->topic_id.b, 16) == 0)
                        t = &c->topics[k];
            }
            if (t == NULL) {
                out->error_code = in->name.len >= 0 ? CM_KERR_UNKNOWN_TOPIC_OR_PARTITION
                                                    : CM_KERR_UNKNOWN_TOPIC_ID;
                continue;
            }
        }
        bk_metadata__fill_cluster(req, t, out, want_ops);
    }
    cm_metadata_resp_encode(&req->resp->w, v, resp);
    return BK_DONE;
}

int bk_handle_metadata(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_metadata_req_t r;
    if (cm_metadata_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;

    cm_metadata_resp_t resp;
    cm_metadata_resp_init(&resp);
    cm_metadata_resp_broker_t broker;
    cm_metadata_resp_broker_init(&broker);
    broker.node_id = (int32_t)req->b->cfg.node_id;
    broker.host = cm_kstr_c(req->b->adv_host);
    broker.port = req->b->adv_port;
    resp.brokers = &broker;
    resp.brokers_n = 1;
    resp.cluster_id = cm_kstr_c(req->b->cluster_id);
    resp.controller_id = broker.node_id;
    if (req->b->cluster != NULL)
        return bk_metadata__managed(req, &r, &resp);

    bool all = r.topics_n < 0 || (v == 0 && r.topics_n == 0);
    size_t n = all ? req->b->topics.size : (size_t)r.topics_n;
    resp.topics = cm_arena_calloc(a, n ? n : 1, sizeof(*resp.topics));
    if (resp.topics == NULL)
        return BK_CLOSE;
    resp.topics_n = (int32_t)n;
    bool want_ops = v >= 8 && r.include_topic_authorized_operations;
    if (all) {
        size_t it = 0, i = 0;
        bk_topic_t *t;
        while ((t = cm_strmap_next(&req->b->topics, &it, NULL, NULL)) != NULL && i < n) {
            cm_metadata_resp_topic_init(&resp.topics[i]);
            bk_metadata__fill(req, t, &resp.topics[i++], want_ops);
        }
        resp.topics_n = (int32_t)i;
    }
    for (int32_t i = 0; !all && i < r.topics_n; i++) {
        cm_metadata_resp_topic_t *out = &resp.topics[i];
        cm_metadata_req_topic_t *in = &r.topics[i];
        cm_metadata_resp_topic_init(out);
        out->name = bk_req_keep(req, in->name);
        out->topic_id = in->topic_id;
        bk_topic_t *t;
        char msg[256];
        if (in->name.len < 0) {
            t = bk_topic_find_id(req->b, in->topic_id);
            if (t == NULL) {
                out->error_code = CM_KERR_UNKNOWN_TOPIC_ID;
                continue;
            }
        } else if (!bk_topic_name_valid(in->name, msg, sizeof(msg))) {
            out->error_code = CM_KERR_INVALID_TOPIC_EXCEPTION;
            continue;
        } else if ((t = bk_topic_find(req->b, in->name)) == NULL) {
            /* A managed broker's topics come only from the control plane. */
            bool create = req->b->cfg.auto_create_topics && req->b->cfg.database_url[0] == '\0' &&
                          (v < 4 || r.allow_auto_topic_creation);
            cm_tconfig_t cfg;
            cm_tconfig_init(&cfg, &req->b->cfg.topic_defaults);
            int16_t err = create ? bk_topic_create(req->b, in->name, NULL,
                                                   (int32_t)req->b->cfg.default_partitions, NULL,
                                                   &cfg, false, msg, sizeof(msg), &t)
                                 : CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (err != 0) {
                out->error_code = err;
                continue;
            }
        }
        bk_metadata__fill(req, t, out, want_ops);
    }
    cm_metadata_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}
