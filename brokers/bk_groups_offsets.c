/*
 * OffsetFetch and OffsetCommit on the group coordinator (bk_group.h). A commit is answered
 * once it is durable in the coordinator's offsets log (bk_offsets.h), which is replayed at
 * start; its offsets are recorded with their group's owner and commit time, for expiry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_group.h"
#include "bk_groups_internal.h"
#include "bk_offsets.h"
#include "bk_topic.h"
#include "cm_kmsg.h"
#include "cm_log.h"
#include "cm_time.h"

/* ---- OffsetFetch ----------------------------------------------------------------------- */

typedef struct bk_groups__all {
    bk_req_t *req;
    cm_offset_fetch_resp_topics_t *topics;
    int32_t n;
    int32_t cap;
} bk_groups__all_t;

/* Collects a group's committed offsets, one topic entry per partition (clients merge). */
static void bk_groups__collect(void *ud, const bk_goffset_view_t *o)
{
    const char *topic = o->topic, *metadata = o->metadata;
    bk_groups__all_t *all = ud;
    if (all->n == all->cap)
        return;
    cm_arena_t *a = &all->req->resp->arena;
    cm_offset_fetch_resp_topics_t *t = &all->topics[all->n];
    cm_offset_fetch_resp_topics_init(t);
    cm_offset_fetch_resp_partitions_t *p = cm_arena_calloc(a, 1, sizeof(*p));
    char *name = cm_arena_strndup(a, topic, strlen(topic));
    char *meta = cm_arena_strndup(a, metadata, strlen(metadata));
    if (p == NULL || name == NULL || meta == NULL)
        return;
    cm_offset_fetch_resp_partitions_init(p);
    p->partition_index = o->partition;
    p->committed_offset = o->offset;
    p->committed_leader_epoch = o->leader_epoch;
    p->metadata = cm_kstr_c(meta);
    t->name = cm_kstr_c(name);
    t->partitions = p;
    t->partitions_n = 1;
    all->n++;
}

/* One group's answer (OffsetFetch v8+ layout; older versions are copied from it). */
static int16_t bk_groups__fetch_group(bk_req_t *req, cm_kstr_t group, const cm_kstr_t *names,
                                      int32_t *const *parts, const int32_t *parts_n,
                                      int32_t n_topics, cm_offset_fetch_resp_topics_t **out,
                                      int32_t *out_n)
{
    cm_arena_t *a = &req->resp->arena;
    *out = NULL;
    *out_n = 0;
    if (group.len <= 0)
        return CM_KERR_INVALID_GROUP_ID;
    int16_t err = bk_groups_serve(req->b, group);
    if (err != CM_KERR_NONE)
        return err;
    const char *g = bk_groups_str(req, group);
    if (n_topics < 0) { /* every committed offset */
        bk_groups__all_t all = { .req = req, .cap = 4096 };
        all.topics = cm_arena_calloc(a, (size_t)all.cap, sizeof(*all.topics));
        if (all.topics == NULL)
            return CM_KERR_UNKNOWN_SERVER_ERROR;
        bk_gcoord_offsets_each(req->b->groups, g, bk_groups__collect, &all);
        *out = all.topics;
        *out_n = all.n;
        return CM_KERR_NONE;
    }
    cm_offset_fetch_resp_topics_t *ts =
        cm_arena_calloc(a, (size_t)(n_topics ? n_topics : 1), sizeof(*ts));
    if (ts == NULL)
        return CM_KERR_UNKNOWN_SERVER_ERROR;
    for (int32_t i = 0; i < n_topics; i++) {
        cm_offset_fetch_resp_topics_init(&ts[i]);
        ts[i].name = names[i];
        int32_t np = parts_n[i] > 0 ? parts_n[i] : 0;
        ts[i].partitions = cm_arena_calloc(a, (size_t)(np ? np : 1), sizeof(*ts[i].partitions));
        if (ts[i].partitions == NULL)
            return CM_KERR_UNKNOWN_SERVER_ERROR;
        ts[i].partitions_n = np;
        const char *topic = bk_groups_str(req, names[i]);
        for (int32_t k = 0; k < np; k++) {
            cm_offset_fetch_resp_partitions_t *p = &ts[i].partitions[k];
            cm_offset_fetch_resp_partitions_init(p);
            p->partition_index = parts[i][k];
            p->committed_offset = -1;
            p->committed_leader_epoch = -1;
            p->metadata = CM_KSTR("");
            const char *meta;
            if (bk_gcoord_offset_get(req->b->groups, g, topic, p->partition_index,
                                     &p->committed_offset, &p->committed_leader_epoch, &meta))
                p->metadata = bk_req_keep(req, cm_kstr_c(meta));
        }
    }
    *out = ts;
    *out_n = n_topics;
    return CM_KERR_NONE;
}

int bk_handle_offset_fetch(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_offset_fetch_req_t r;
    if (cm_offset_fetch_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    cm_offset_fetch_resp_t resp;
    cm_offset_fetch_resp_init(&resp);
    if (v >= 8) {
        int32_t ng = r.groups_n > 0 ? r.groups_n : 0;
        resp.groups = cm_arena_calloc(a, (size_t)(ng ? ng : 1), sizeof(*resp.groups));
        if (resp.groups == NULL)
            return BK_CLOSE;
        resp.groups_n = ng;
        for (int32_t i = 0; i < ng; i++) {
            cm_offset_fetch_req_group_t *gi = &r.groups[i];
            cm_offset_fetch_resp_group_t *go = &resp.groups[i];
            cm_offset_fetch_resp_group_init(go);
            go->group_id = gi->group_id;
            int32_t nt = gi->topics_n;
            cm_kstr_t *names = cm_arena_calloc(a, (size_t)(nt > 0 ? nt : 1), sizeof(*names));
            int32_t **parts = cm_arena_calloc(a, (size_t)(nt > 0 ? nt : 1), sizeof(*parts));
            int32_t *parts_n = cm_arena_calloc(a, (size_t)(nt > 0 ? nt : 1), sizeof(*parts_n));
            if (names == NULL || parts == NULL || parts_n == NULL)
                return BK_CLOSE;
            for (int32_t k = 0; k < nt; k++) {
                names[k] = gi->topics[k].name;
                parts[k] = gi->topics[k].partition_indexes;
                parts_n[k] = gi->topics[k].partition_indexes_n;
            }
            go->error_code = bk_groups__fetch_group(req, gi->group_id, names, parts, parts_n, nt,
                                                    &go->topics, &go->topics_n);
        }
        cm_offset_fetch_resp_encode(&req->resp->w, v, &resp);
        return BK_DONE;
    }
    int32_t nt = r.topics_n;
    cm_kstr_t *names = cm_arena_calloc(a, (size_t)(nt > 0 ? nt : 1), sizeof(*names));
    int32_t **parts = cm_arena_calloc(a, (size_t)(nt > 0 ? nt : 1), sizeof(*parts));
    int32_t *parts_n = cm_arena_calloc(a, (size_t)(nt > 0 ? nt : 1), sizeof(*parts_n));
    if (names == NULL || parts == NULL || parts_n == NULL)
        return BK_CLOSE;
    for (int32_t k = 0; k < nt; k++) {
        names[k] = r.topics[k].name;
        parts[k] = r.topics[k].partition_indexes;
        parts_n[k] = r.topics[k].partition_indexes_n;
    }
    cm_offset_fetch_resp_topics_t *ts;
    int32_t ts_n;
    int16_t err = bk_groups__fetch_group(req, r.group_id, names, parts, parts_n, nt, &ts, &ts_n);
    /* The same answer in the pre-v8 layout; before v2 the error goes on each partition. */
    resp.error_code = v >= 2 ? err : CM_KERR_NONE;
    resp.topics = cm_arena_calloc(a, (size_t)(ts_n ? ts_n : 1), sizeof(*resp.topics));
    if (resp.topics == NULL)
        return BK_CLOSE;
    resp.topics_n = ts_n;
    for (int32_t i = 0; i < ts_n; i++) {
        cm_offset_fetch_resp_topic_t *t = &resp.topics[i];
        cm_offset_fetch_resp_topic_init(t);
        t->name = ts[i].name;
        t->partitions = cm_arena_calloc(a, (size_t)(ts[i].partitions_n ? ts[i].partitions_n : 1),
                                        sizeof(*t->partitions));
        if (t->partitions == NULL)
            return BK_CLOSE;
        t->partitions_n = ts[i].partitions_n;
        for (int32_t k = 0; k < ts[i].partitions_n; k++) {
            cm_offset_fetch_resp_partition_t *p = &t->partitions[k];
            cm_offset_fetch_resp_partition_init(p);
            p->partition_index = ts[i].partitions[k].partition_index;
            p->committed_offset = ts[i].partitions[k].committed_offset;
            p->committed_leader_epoch = ts[i].partitions[k].committed_leader_epoch;
            p->metadata = ts[i].partitions[k].metadata;
            p->error_code = v >= 2 ? CM_KERR_NONE : err;
        }
    }
    cm_offset_fetch_resp_encode(&req->resp->w, v, &resp);
    return BK_DONE;
}

/* ---- OffsetCommit ---------------------------------------------------------------------- */

typedef struct bk_groups__commit {
    bk_ack_waiter_t w; /* first: the waiter is the commit */
    bk_broker_t *b;
    bk_resp_t *resp;
    int16_t version;
    const char *group;
    cm_kuuid_t tenant; /* the group's owner */
    int64_t commit_ms; /* wall clock, as written */
    cm_offset_commit_resp_t out;
    bk_offset_rec_t *recs; /* the partitions being written */
    int16_t **errs;        /* and where their answers' error codes are */
    int n;
} bk_groups__commit_t;

static void bk_groups__commit_answer(bk_groups__commit_t *op)
{
    cm_offset_commit_resp_encode(&op->resp->w, op->version, &op->out);
    bk_resp_t *r = op->resp;
    free(op);
    bk_resp_ready(r);
    bk_resp_unref(r);
}

/* The commit is durable (err 0) or failed: the coordinator learns the offsets, the client
 * its answer. */
static void bk_groups__committed(bk_ack_waiter_t *w, int16_t err)
{
    bk_groups__commit_t *op = (bk_groups__commit_t *)w;
    for (int i = 0; i < op->n; i++) {
        if (err != 0)
            *op->errs[i] = CM_KERR_COORDINATOR_NOT_AVAILABLE; /* retriable */
        else if (op->b->groups != NULL)
            bk_gcoord_offset_put(op->b->groups, op->group, &op->tenant, op->recs[i].topic,
                                 op->recs[i].partition, op->recs[i].offset,
                                 op->recs[i].leader_epoch, op->recs[i].metadata, op->commit_ms);
    }
    bk_broker_t *b = op->b;
    bk_groups__commit_answer(op);
    /* The last commit in flight is applied: a moment when the offsets log may compact, and
     * offsets may expire. */
    if (err == 0)
        bk_groups_housekeep(b);
}

/* A topic partition a commit may name: one the broker or its pool knows. */
static bool bk_groups__partition_known(bk_broker_t *b, cm_kstr_t topic, int32_t partition)
{
    if (partition < 0)
        return false;
    const bk_cluster_topic_t *ct = bk_cluster_topic(b, topic);
    if (ct != NULL)
        return partition < ct->n_parts;
    bk_topic_t *t = bk_topic_find(b, topic);
    return t != NULL && partition < t->n_parts;
}

int bk_handle_offset_commit(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_offset_commit_req_t r;
    if (cm_offset_commit_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;
    bk_groups__commit_t *op = calloc(1, sizeof(*op));
    if (op == NULL)
        abort();
    op->b = req->b;
    op->version = v;
    op->group = bk_groups_str(req, r.group_id);
    cm_offset_commit_resp_init(&op->out);
    int16_t gerr = bk_groups_serve(req->b, r.group_id);
    if (gerr == CM_KERR_NONE)
        gerr = bk_gcoord_commit_check(
            req->b->groups, op->group, v >= 1 ? r.generation_id_or_member_epoch : -1,
            bk_groups_str(req, r.member_id), bk_groups_str(req, r.group_instance_id), cm_mono_ms());
    const bk_group_t *g = gerr == CM_KERR_NONE ? bk_gcoord_find(req->b->groups, op->group) : NULL;
    if (g != NULL)
        op->tenant = bk_group_tenant(g); /* recorded with each offset */
    op->commit_ms = cm_now_ms();
    int32_t nt = r.topics_n > 0 ? r.topics_n : 0, total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += r.topics[i].partitions_n > 0 ? r.topics[i].partitions_n : 0;
    op->out.topics = cm_arena_calloc(a, (size_t)(nt ? nt : 1), sizeof(*op->out.topics));
    op->recs = cm_arena_calloc(a, (size_t)(total ? total : 1), sizeof(*op->recs));
    op->errs = cm_arena_calloc(a, (size_t)(total ? total : 1), sizeof(*op->errs));
    if (op->out.topics == NULL || op->recs == NULL || op->errs == NULL) {
        free(op);
        return BK_CLOSE;
    }
    op->out.topics_n = nt;
    for (int32_t i = 0; i < nt; i++) {
        cm_offset_commit_req_topic_t *ti = &r.topics[i];
        cm_offset_commit_resp_topic_t *to = &op->out.topics[i];
        cm_offset_commit_resp_topic_init(to);
        to->name = ti->name;
        int32_t np = ti->partitions_n > 0 ? ti->partitions_n : 0;
        to->partitions = cm_arena_calloc(a, (size_t)(np ? np : 1), sizeof(*to->partitions));
        if (to->partitions == NULL) {
            free(op);
            return BK_CLOSE;
        }
        to->partitions_n = np;
        const char *topic = bk_groups_str(req, ti->name);
        for (int32_t k = 0; k < np; k++) {
            cm_offset_commit_req_partition_t *pi = &ti->partitions[k];
            cm_offset_commit_resp_partition_t *po = &to->partitions[k];
            cm_offset_commit_resp_partition_init(po);
            po->partition_index = pi->partition_index;
            if (gerr != CM_KERR_NONE)
                po->error_code = gerr;
            else if (pi->committed_metadata.len > 4096)
                po->error_code = CM_KERR_OFFSET_METADATA_TOO_LARGE;
            else if (!bk_groups__partition_known(req->b, ti->name, pi->partition_index))
                po->error_code = CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            if (po->error_code != CM_KERR_NONE)
                continue;
            op->recs[op->n] = (bk_offset_rec_t){
                .topic = topic,
                .partition = pi->partition_index,
                .offset = pi->committed_offset,
                .leader_epoch = v >= 6 ? pi->committed_leader_epoch : -1,
                .metadata = bk_groups_str(req, pi->committed_metadata),
            };
            op->errs[op->n++] = &po->error_code;
        }
    }
    op->resp = bk_resp_ref(req->resp);
    if (op->n == 0) {
        bk_groups__commit_answer(op);
        return BK_DEFER;
    }
    op->w.done = bk_groups__committed;
    int16_t err =
        bk_offsets_commit(req->b, op->group, op->tenant, op->recs, op->n, op->commit_ms, &op->w);
    if (err != CM_KERR_NONE)
        bk_groups__committed(&op->w, err);
    return BK_DEFER;
}
