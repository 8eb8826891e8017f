/*
 * Consumer groups over gRPC: Consume as a member of a group, CommitOffsets and
 * GetCommittedOffsets.
 *
 * A group Consume stream drives a consumer instance of its own (gw_cons_open: the same
 * classic-protocol membership as the REST v2 consumers, on the stream's worker, named
 * "grpc-<random>"): it sends the Assignment first and again after every rebalance, then
 * records of the assigned partitions from their committed offsets (or auto_offset_reset),
 * one message per Fetch answer. When the stream ends the member leaves the group.
 *
 * Commits are separate calls, stateless on the gateway: OffsetCommit to the group's
 * coordinator with the member id and generation of the stream's Assignment, which the
 * coordinator checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_time.h"
#include "gw_consumer.h"
#include "gw_grpc.h"
#include "gw_kafka.h"
#include "gw_meta.h"
#include "streaming/v1/streaming.pb-c.h"

#define GW_GGRP__FETCH_WAIT_MS 500 /* also the longest a cancelled stream waits for a Fetch */
#define GW_GGRP__MESSAGE_BYTES (1 << 20)
#define GW_GGRP__WAIT_MS       100 /* re-checks of a membership that is not stable */
#define GW_GGRP__FIND_VERSION  2
#define GW_GGRP__TRIES         5

/* The caller's group `group` (to read, with topic `topic`): NULL, or why not in *code and
 * msg. */
static const gw_topic_t *gw_ggrp__check(const gw_session_t *ss, const char *group,
                                        const char *topic, gw_gstatus_t *code, char *msg,
                                        size_t cap)
{
    if (!gw_group_name_ok(group)) {
        *code = GRPC_STATUS_INVALID_ARGUMENT;
        snprintf(msg, cap, "a group name is 1 to 200 of a-z, A-Z, 0-9, '.', '_' and '-'");
        return NULL;
    }
    if (!gw_session_allowed(ss, CM_ACL_RT_GROUP, group, CM_ACL_OP_READ)) {
        *code = GRPC_STATUS_PERMISSION_DENIED;
        snprintf(msg, cap, "principal %s may not read group \"%.120s\"", ss->principal, group);
        return NULL;
    }
    return gw_grpc_topic(ss, topic, CM_ACL_OP_READ, code, msg, cap);
}

/* ---- Consume as a group member --------------------------------------------------------- */

typedef struct gw_gmsg {
    grpc_byte_buffer *bb;
    struct gw_gmsg *next;
} gw_gmsg_t;

typedef struct gw_ggroup {
    gw_gcall_t *c;
    gw_cinst_t *i;
    gw_gsess_t auth;
    int fetching;  /* Fetch requests in flight */
    bool starting; /* in gw_member_fetch: an answer may come before it returns */
    bool backoff;  /* the last Fetch failed: wait before the next */
    bool sending;
    gw_gmsg_t *head, *tail;  /* messages waiting to be sent, in order */
    int32_t sent_generation; /* the assignment the client has */
    int64_t max_records, sent_records;
    int32_t max_bytes;
    bool done;
    gw_gstatus_t code;
    char msg[256];
    h2o_timeout_t wait_timeout;
    h2o_timeout_entry_t timer;
} gw_ggroup_t;

static void gw_ggrp__pump(gw_ggroup_t *g);

static void gw_ggrp__queue(gw_ggroup_t *g, grpc_byte_buffer *bb)
{
    gw_gmsg_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->bb = bb;
    if (g->tail != NULL)
        g->tail->next = m;
    else
        g->head = m;
    g->tail = m;
}

static void gw_ggrp__state_free(void *state)
{
    gw_ggroup_t *g = state;
    while (g->head != NULL) {
        gw_gmsg_t *m = g->head;
        g->head = m->next;
        grpc_byte_buffer_destroy(m->bb);
        free(m);
    }
    if (h2o_timeout_is_linked(&g->timer))
        h2o_timeout_unlink(&g->timer);
    h2o_timeout_dispose(g->c->w->loop, &g->wait_timeout);
    gw_snap_release(g->auth.snap);
    if (g->i != NULL)
        gw_cons_drop(g->i);
}

typedef struct gw_ggrp__writer {
    gw_ggroup_t *g;
    cm_arena_t *a;
    Streaming__V1__Record **out;
    size_t n, cap;
} gw_ggrp__writer_t;

static bool gw_ggrp__record(void *ud, const gw_cpart_t *part, int64_t off, int64_t ts,
                            const cm_record_t *rec_in)
{
    gw_ggrp__writer_t *wr = ud;
    gw_ggroup_t *g = wr->g;
    if (wr->n == wr->cap ||
        (g->max_records > 0 && g->sent_records + (int64_t)wr->n >= g->max_records))
        return false;
    Streaming__V1__Record *r = gw_grpc_record(wr->a, part->partition, off, ts, rec_in);
    if (r == NULL)
        return false;
    wr->out[wr->n++] = r;
    return true;
}

static void gw_ggrp__fetched(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_ggroup_t *g = k->ud;
    gw_gcall_t *c = g->c;
    g->fetching--;
    cm_arena_t a;
    cm_arena_init(&a, 256u << 20);
    cm_fetch_resp_t resp;
    gw_cinst_t *i = g->i;
    size_t body_len = st == GW_KCALL_OK ? (size_t)(body->end - body->p) : 0;
    bool decoded = st == GW_KCALL_OK && cm_fetch_resp_decode(body, k->api_version, &a, &resp) == 0;
    /* A failed Fetch, or a partition in error (a leader that moved): the next one waits,
     * rather than asking again at once. */
    g->backoff |= !decoded;
    for (int32_t t = 0; decoded && t < resp.responses_n; t++)
        for (int32_t p = 0; p < resp.responses[t].partitions_n; p++)
            g->backoff |= resp.responses[t].partitions[p].error_code != 0;
    if (!c->gone && !g->done && !i->closed && i->state == GW_CS_STABLE && !i->rejoin &&
        i->generation == g->sent_generation && decoded) {
        gw_ggrp__writer_t wr = { .g = g, .a = &a };
        wr.cap = body_len / 7 + 1; /* a record takes 7 bytes at least */
        wr.out = cm_arena_calloc(&a, wr.cap, sizeof(*wr.out));
        uint64_t bytes = 0, count = 0;
        if (wr.out != NULL)
            gw_member_take(i, &resp, gw_ggrp__record, &wr, &bytes, &count);
        if (wr.n > 0) {
            Streaming__V1__ConsumeResponse res = STREAMING__V1__CONSUME_RESPONSE__INIT;
            res.records = wr.out;
            res.n_records = wr.n;
            gw_ggrp__queue(g, gw_grpc_pack(&res.base));
            g->sent_records += (int64_t)wr.n;
            gw_session_meter(&g->auth.ss, false, bytes, count);
            gw_session_charge_after(&g->auth.ss, GW_CHARGE_CONSUME, (double)bytes);
        }
        if (g->max_records > 0 && g->sent_records >= g->max_records)
            g->done = true; /* code OK */
    }
    cm_arena_free(&a);
    if (!g->starting)
        gw_ggrp__pump(g);
}

static void gw_ggrp__sent(gw_gcall_t *c, bool ok)
{
    gw_ggroup_t *g = c->state;
    g->sending = false;
    (void)ok; /* not ok: the client is gone (c->gone) */
    gw_ggrp__pump(g);
}

static void gw_ggrp__end_if_idle(gw_ggroup_t *g)
{
    gw_gcall_t *c = g->c;
    if (g->fetching > 0 || g->sending || (g->head != NULL && !c->gone))
        return;
    if (h2o_timeout_is_linked(&g->timer))
        h2o_timeout_unlink(&g->timer);
    if (c->gone)
        gw_grpc_end(c, GRPC_STATUS_CANCELLED, "the stream was cancelled");
    else
        gw_grpc_end(c, g->code, "%s", g->msg);
}

static void gw_ggrp__wait(gw_ggroup_t *g)
{
    if (!h2o_timeout_is_linked(&g->timer))
        h2o_timeout_link(g->c->w->loop, &g->wait_timeout, &g->timer);
}

/* Sends what waits, tells a new assignment, fetches the next records, or ends. */
static void gw_ggrp__pump(gw_ggroup_t *g)
{
    gw_gcall_t *c = g->c;
    if (c->answered)
        return;
    if (!g->sending && g->head != NULL && !c->gone) {
        gw_gmsg_t *m = g->head;
        g->head = m->next;
        if (g->head == NULL)
            g->tail = NULL;
        g->sending = true;
        gw_grpc_send(c, m->bb, gw_ggrp__sent);
        free(m);
    }
    if (c->gone || g->done) {
        gw_ggrp__end_if_idle(g);
        return;
    }
    if (g->fetching > 0 || g->head != NULL || h2o_timeout_is_linked(&g->timer))
        return;
    if (g->backoff) {
        g->backoff = false;
        gw_ggrp__wait(g);
        return;
    }
    gw_cinst_t *i = g->i;
    char why[256];
    gw_gstatus_t code = gw_grpc_recheck(c, &g->auth, why, sizeof(why));
    if (code == GRPC_STATUS_OK && i->closed) {
        code = GRPC_STATUS_UNAVAILABLE;
        snprintf(why, sizeof(why), "the gateway is stopping");
    }
    /* The ACLs as they are now: a removed one ends the stream. */
    if (code == GRPC_STATUS_OK)
        gw_ggrp__check(&g->auth.ss, i->group, i->topics[0], &code, why, sizeof(why));
    if (code != GRPC_STATUS_OK) {
        g->done = true;
        g->code = code;
        snprintf(g->msg, sizeof(g->msg), "%s", why);
        gw_ggrp__end_if_idle(g);
        return;
    }
    if (i->refused && (i->state != GW_CS_STABLE || i->rejoin)) {
        g->done = true;
        g->code = GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(c->retry_after, sizeof(c->retry_after), "%d", GW_GROUP_LIMIT_RETRY_S);
        snprintf(g->msg, sizeof(g->msg), "%s", GW_GROUP_LIMIT_MSG);
        gw_ggrp__end_if_idle(g);
        return;
    }
    if (i->state != GW_CS_STABLE || i->rejoin) {
        gw_member_step(i);
        gw_ggrp__wait(g);
        return;
    }
    if (i->generation != g->sent_generation) {
        /* The assignment goes before any record of it. */
        Streaming__V1__Assignment as = STREAMING__V1__ASSIGNMENT__INIT;
        int32_t *parts = cm_arena_calloc(&c->arena, (size_t)i->n_parts + 1, sizeof(*parts));
        if (parts == NULL) {
            g->done = true;
            g->code = GRPC_STATUS_RESOURCE_EXHAUSTED;
            snprintf(g->msg, sizeof(g->msg), "out of memory");
            gw_ggrp__end_if_idle(g);
            return;
        }
        for (int q = 0; q < i->n_parts; q++)
            parts[as.n_partitions++] = i->parts[q].partition;
        as.partitions = parts;
        as.member_id = i->member_id != NULL ? i->member_id : "";
        as.generation = i->generation;
        Streaming__V1__ConsumeResponse res = STREAMING__V1__CONSUME_RESPONSE__INIT;
        res.assignment = &as;
        gw_ggrp__queue(g, gw_grpc_pack(&res.base));
        g->sent_generation = i->generation;
        gw_ggrp__pump(g);
        return;
    }
    if (gw_session_charge_us(&g->auth.ss, GW_CHARGE_CONSUME, 0) > 0) {
        gw_ggrp__wait(g); /* over the consume quota: the stream slows down */
        return;
    }
    i->last_used_ms = cm_mono_ms();
    /* An answer may come back before gw_member_fetch does (a connection refused at once):
     * it is counted off then, and the pump waits for the count to be whole. */
    g->starting = true;
    int sent =
        gw_member_fetch(i, &g->auth.ss, GW_GGRP__FETCH_WAIT_MS, g->max_bytes, gw_ggrp__fetched, g);
    g->starting = false;
    g->fetching += sent;
    if (g->fetching == 0) {
        if (sent == 0)
            g->backoff = true; /* nothing assigned (more members than partitions), no leader */
        gw_ggrp__pump(g);
    }
}

static void gw_ggrp__on_timer(h2o_timeout_entry_t *e)
{
    gw_ggrp__pump((gw_ggroup_t *)((char *)e - offsetof(gw_ggroup_t, timer)));
}

static void gw_ggrp__on_kick(gw_cinst_t *i)
{
    gw_ggroup_t *g = i->driver;
    if (h2o_timeout_is_linked(&g->timer))
        h2o_timeout_unlink(&g->timer);
    gw_ggrp__pump(g);
}

static void gw_ggrp__cancel(gw_gcall_t *c)
{
    gw_ggrp__pump(c->state);
}

void gw_grpc_consume_group(gw_gcall_t *c, const Streaming__V1__ConsumeRequest *rq)
{
    gw_gstatus_t code;
    char msg[256];
    const gw_topic_t *t = gw_ggrp__check(&c->ss, rq->group, rq->topic, &code, msg, sizeof(msg));
    if (t == NULL) {
        gw_grpc_fail(c, code, "%s", msg);
        return;
    }
    const char *reset = rq->auto_offset_reset;
    if (reset[0] != '\0' && strcmp(reset, "earliest") != 0 && strcmp(reset, "latest") != 0) {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                     "auto_offset_reset must be \"earliest\" or \"latest\"");
        return;
    }
    int64_t fetch_max = c->w->gw->cfg.fetch_bytes_max;
    if (rq->max_bytes < 0 || rq->max_bytes > fetch_max || rq->max_records < 0) {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                     "max_records must be 0 or more, max_bytes 0 to %lld", (long long)fetch_max);
        return;
    }
    gw_ggroup_t *g = cm_arena_calloc(&c->arena, 1, sizeof(*g));
    if (g == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    g->c = c;
    g->sent_generation = -1;
    g->max_records = rq->max_records;
    g->max_bytes = rq->max_bytes > 0 ? rq->max_bytes : GW_GGRP__MESSAGE_BYTES;
    if (g->max_bytes > fetch_max)
        g->max_bytes = (int32_t)fetch_max;
    g->timer.cb = gw_ggrp__on_timer;
    h2o_timeout_init(c->w->loop, &g->wait_timeout, GW_GGRP__WAIT_MS);
    char why[256];
    gw_grpc_recheck(c, &g->auth, why, sizeof(why)); /* holds the call's own session */
    c->state = g;
    c->state_free = gw_ggrp__state_free;
    c->on_cancel = gw_ggrp__cancel;
    g->i = gw_cons_open(c->w, &c->ss, rq->group, t->name, strcmp(reset, "earliest") != 0,
                        gw_ggrp__on_kick, g);
    if (g->i == NULL) {
        gw_grpc_fail_retry(c, GRPC_STATUS_RESOURCE_EXHAUSTED, 60,
                           "this tenant has its maximum of %lld consumer group members on this "
                           "gateway (or the gateway its maximum)",
                           (long long)c->w->gw->cfg.consumer_instances_per_tenant);
        return;
    }
    gw_ggrp__pump(g);
}

/* ---- CommitOffsets and GetCommittedOffsets --------------------------------------------- */

/* A call to a group's coordinator: FindCoordinator, then the request. */
typedef struct gw_gcoord {
    gw_gcall_t *c;
    const gw_topic_t *topic;
    char *full_group;
    bool commit;
    int tries;
    const Streaming__V1__CommitOffsetsRequest *commit_rq;
} gw_gcoord_t;

static void gw_ggrp__find(gw_gcoord_t *q);

static gw_gstatus_t gw_ggrp__kerr_status(int16_t e)
{
    switch (e) {
    case CM_KERR_ILLEGAL_GENERATION:
    case CM_KERR_UNKNOWN_MEMBER_ID:
    case CM_KERR_REBALANCE_IN_PROGRESS:
    case CM_KERR_FENCED_INSTANCE_ID:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case CM_KERR_GROUP_AUTHORIZATION_FAILED:
    case CM_KERR_TOPIC_AUTHORIZATION_FAILED:
        return GRPC_STATUS_PERMISSION_DENIED;
    case CM_KERR_OFFSET_METADATA_TOO_LARGE:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case CM_KERR_UNKNOWN_TOPIC_OR_PARTITION:
        return GRPC_STATUS_NOT_FOUND;
    default:
        return GRPC_STATUS_UNAVAILABLE;
    }
}

static bool gw_ggrp__coordinator_moved(int16_t e)
{
    return e == CM_KERR_NOT_COORDINATOR || e == CM_KERR_COORDINATOR_NOT_AVAILABLE ||
           e == CM_KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

/* A failed try: again from FindCoordinator, or the call ends UNAVAILABLE. */
static void gw_ggrp__again(gw_gcoord_t *q, const char *why)
{
    if (++q->tries < GW_GGRP__TRIES && !q->c->gone)
        gw_ggrp__find(q);
    else
        gw_grpc_fail_retry(q->c, GRPC_STATUS_UNAVAILABLE, 1, "the group's coordinator: %s", why);
}

static void gw_ggrp__committed(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_gcoord_t *q = k->ud;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    cm_offset_commit_resp_t resp;
    if (st != GW_KCALL_OK || cm_offset_commit_resp_decode(body, k->api_version, &a, &resp) != 0) {
        gw_ggrp__again(q, st == GW_KCALL_OK ? "malformed answer" : k->why);
        cm_arena_free(&a);
        return;
    }
    int16_t err = 0;
    for (int32_t t = 0; t < resp.topics_n && err == 0; t++)
        for (int32_t p = 0; p < resp.topics[t].partitions_n && err == 0; p++)
            err = resp.topics[t].partitions[p].error_code;
    cm_arena_free(&a);
    if (gw_ggrp__coordinator_moved(err)) {
        gw_ggrp__again(q, cm_kerr_name(err));
    } else if (err == CM_KERR_GROUP_AUTHORIZATION_FAILED) {
        gw_grpc_fail_retry(q->c, GRPC_STATUS_RESOURCE_EXHAUSTED, GW_GROUP_LIMIT_RETRY_S, "%s",
                           GW_GROUP_LIMIT_MSG);
    } else if (err == CM_KERR_INVALID_GROUP_ID) {
        /* The gateway knows the tenant, the coordinator's snapshot not yet. */
        gw_grpc_fail_retry(q->c, GRPC_STATUS_UNAVAILABLE, 1,
                           "the group's coordinator does not know this tenant yet; retry");
    } else if (err != 0) {
        gw_gstatus_t code = gw_ggrp__kerr_status(err);
        if (code == GRPC_STATUS_FAILED_PRECONDITION)
            gw_grpc_fail(q->c, code,
                         "member \"%s\" is not in generation %d of the group (%s): consume "
                         "again and commit with the new assignment",
                         q->commit_rq->member_id, q->commit_rq->generation, cm_kerr_name(err));
        else
            gw_grpc_fail(q->c, code, "cannot commit: %s", cm_kerr_name(err));
    } else {
        Streaming__V1__CommitOffsetsResponse res = STREAMING__V1__COMMIT_OFFSETS_RESPONSE__INIT;
        gw_grpc_reply(q->c, &res.base);
    }
}

static void gw_ggrp__fetched_offsets(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_gcoord_t *q = k->ud;
    gw_gcall_t *c = q->c;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    cm_offset_fetch_resp_t resp;
    if (st != GW_KCALL_OK || cm_offset_fetch_resp_decode(body, k->api_version, &a, &resp) != 0) {
        gw_ggrp__again(q, st == GW_KCALL_OK ? "malformed answer" : k->why);
        cm_arena_free(&a);
        return;
    }
    if (gw_ggrp__coordinator_moved(resp.error_code)) {
        gw_ggrp__again(q, cm_kerr_name(resp.error_code));
        cm_arena_free(&a);
        return;
    }
    if (resp.error_code != 0) {
        gw_grpc_fail(c, gw_ggrp__kerr_status(resp.error_code), "cannot read the offsets: %s",
                     cm_kerr_name(resp.error_code));
        cm_arena_free(&a);
        return;
    }
    Streaming__V1__GetCommittedOffsetsResponse res =
        STREAMING__V1__GET_COMMITTED_OFFSETS_RESPONSE__INIT;
    size_t n = (size_t)q->topic->n_parts;
    res.offsets = cm_arena_calloc(&c->arena, n + 1, sizeof(*res.offsets));
    Streaming__V1__PartitionOffset *po = cm_arena_calloc(&c->arena, n + 1, sizeof(*po));
    for (int32_t t = 0; res.offsets != NULL && po != NULL && t < resp.topics_n; t++) {
        for (int32_t p = 0; p < resp.topics[t].partitions_n && res.n_offsets < n; p++) {
            const cm_offset_fetch_resp_partition_t *x = &resp.topics[t].partitions[p];
            if (x->error_code != 0 || x->committed_offset < 0)
                continue;
            Streaming__V1__PartitionOffset *o = &po[res.n_offsets];
            streaming__v1__partition_offset__init(o);
            o->partition = x->partition_index;
            o->offset = x->committed_offset;
            o->metadata = x->metadata.len > 0 ? cm_arena_strndup(&c->arena, x->metadata.ptr,
                                                                 (size_t)x->metadata.len)
                                              : "";
            res.offsets[res.n_offsets++] = o;
        }
    }
    cm_arena_free(&a);
    gw_grpc_reply(c, &res.base);
}

static void gw_ggrp__found(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_gcoord_t *q = k->ud;
    gw_gcall_t *c = q->c;
    cm_arena_t a;
    cm_arena_init(&a, 1u << 20);
    cm_find_coordinator_resp_t resp;
    const gw_broker_t *b = NULL;
    int16_t err = -1;
    if (st == GW_KCALL_OK &&
        cm_find_coordinator_resp_decode(body, k->api_version, &a, &resp) == 0) {
        err = resp.error_code;
        if (err == 0)
            b = gw_snap_broker(c->w->snap, resp.node_id);
    }
    cm_arena_free(&a);
    if (b == NULL || c->w->kpool == NULL) {
        gw_ggrp__again(q, err > 0 ? cm_kerr_name(err) : st == GW_KCALL_OK ? "not known" : k->why);
        return;
    }
    /* One entry per partition: the brokers take a topic named twice. */
    int n = q->commit ? (int)q->commit_rq->n_offsets : q->topic->n_parts;
    gw_member_tp_t *tps = cm_arena_calloc(&c->arena, (size_t)n + 1, sizeof(*tps));
    if (tps == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (int k2 = 0; k2 < n; k2++) {
        tps[k2].full = q->topic->full;
        tps[k2].partition = q->commit ? q->commit_rq->offsets[k2]->partition : k2;
        tps[k2].offset = q->commit ? q->commit_rq->offsets[k2]->offset : 0;
        tps[k2].metadata = q->commit ? q->commit_rq->offsets[k2]->metadata : NULL;
    }
    const char *member = q->commit ? q->commit_rq->member_id : NULL;
    int32_t gen = q->commit && member[0] != '\0' ? q->commit_rq->generation : -1;
    gw_kcall_t *call =
        q->commit ? gw_kcall_new(c->w->kpool, CM_KAPI_OFFSET_COMMIT,
                                 GW_MEMBER_OFFSET_COMMIT_VERSION, 0, gw_ggrp__committed, q)
                  : gw_kcall_new(c->w->kpool, CM_KAPI_OFFSET_FETCH, GW_MEMBER_OFFSET_FETCH_VERSION,
                                 0, gw_ggrp__fetched_offsets, q);
    gw_member_encode_offsets(q->full_group, gen, member, &call->w, tps, n, q->commit);
    gw_kcall_send(c->w->kpool, b, call);
}

static void gw_ggrp__find(gw_gcoord_t *q)
{
    gw_gcall_t *c = q->c;
    gw_snap_t *s = c->w->snap;
    const gw_broker_t *b = NULL;
    /* Any broker of the tenant's pool that is up answers FindCoordinator. */
    for (int k = 0; s != NULL && k < s->n_brokers && b == NULL; k++)
        if (s->brokers[k].up && s->brokers[k].pool_id == c->ss.tenant->pool_id)
            b = &s->brokers[k];
    if (b == NULL || c->w->kpool == NULL) {
        gw_grpc_fail_retry(c, GRPC_STATUS_UNAVAILABLE, 1, "no broker of the pool is up");
        return;
    }
    gw_kcall_t *k = gw_kcall_new(c->w->kpool, CM_KAPI_FIND_COORDINATOR, GW_GGRP__FIND_VERSION, 0,
                                 gw_ggrp__found, q);
    cm_find_coordinator_req_t req;
    cm_find_coordinator_req_init(&req);
    req.key = cm_kstr_c(q->full_group);
    req.key_type = 0;
    cm_find_coordinator_req_encode(&k->w, GW_GGRP__FIND_VERSION, &req);
    gw_kcall_send(c->w->kpool, b, k);
}

static gw_gcoord_t *gw_ggrp__coord(gw_gcall_t *c, const char *group, const char *topic)
{
    gw_gstatus_t code;
    char msg[256];
    const gw_topic_t *t = gw_ggrp__check(&c->ss, group, topic, &code, msg, sizeof(msg));
    if (t == NULL) {
        gw_grpc_fail(c, code, "%s", msg);
        return NULL;
    }
    gw_gcoord_t *q = cm_arena_calloc(&c->arena, 1, sizeof(*q));
    size_t n = strlen(c->ss.tenant->name) + strlen(group) + 2;
    char *full = cm_arena_alloc(&c->arena, n);
    if (q == NULL || full == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    snprintf(full, n, "%s.%s", c->ss.tenant->name, group);
    q->c = c;
    q->topic = t;
    q->full_group = full;
    return q;
}

void gw_grpc_commit_offsets(gw_gcall_t *c)
{
    Streaming__V1__CommitOffsetsRequest *rq =
        gw_grpc_request(c, &streaming__v1__commit_offsets_request__descriptor);
    if (rq == NULL)
        return;
    gw_gcoord_t *q = gw_ggrp__coord(c, rq->group, rq->topic);
    if (q == NULL)
        return;
    if (rq->n_offsets == 0 || rq->n_offsets > (size_t)q->topic->n_parts) {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "commit 1 to %d offsets (one per partition)",
                     q->topic->n_parts);
        return;
    }
    for (size_t k = 0; k < rq->n_offsets; k++) {
        const Streaming__V1__PartitionOffset *o = rq->offsets[k];
        if (o->partition < 0 || o->partition >= q->topic->n_parts || o->offset < 0) {
            gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                         "offsets[%zu]: partition %d of topic \"%s\" has no offset %lld", k,
                         o->partition, q->topic->name, (long long)o->offset);
            return;
        }
    }
    q->commit = true;
    q->commit_rq = rq;
    gw_ggrp__find(q);
}

void gw_grpc_committed_offsets(gw_gcall_t *c)
{
    Streaming__V1__GetCommittedOffsetsRequest *rq =
        gw_grpc_request(c, &streaming__v1__get_committed_offsets_request__descriptor);
    if (rq == NULL)
        return;
    gw_gcoord_t *q = gw_ggrp__coord(c, rq->group, rq->topic);
    if (q != NULL)
        gw_ggrp__find(q);
}
