/*
 * The produce engine (gw_produce.h).
 */
#include "gw_produce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_murmur2.h"
#include "cm_time.h"
#include "gw_kafka.h"
#include "gw_meta.h"

#define GW_PROD__VERSION   8
#define GW_PROD__RETRY_MAX 12
/* Retries back off: attempt N waits at least N x this, after a fresh snapshot. */
#define GW_PROD__RETRY_STEP_MS 25
#define GW_PROD__RETRY_WAIT_MS 5000

typedef struct gw_pcall {
    gw_produce_t *p;
    int n;
    int idx[];
} gw_pcall_t;

int32_t gw_produce_partition(cm_kbytes_t key, int32_t n_parts, int32_t sticky)
{
    if (key.len >= 0)
        return cm_murmur2_partition(key.ptr, (size_t)key.len, n_parts);
    return sticky;
}

int gw_produce_kerr_http(int16_t e)
{
    switch (e) {
    case CM_KERR_UNKNOWN_TOPIC_OR_PARTITION:
        return 404;
    case CM_KERR_MESSAGE_TOO_LARGE:
    case CM_KERR_RECORD_LIST_TOO_LARGE:
        return 413;
    case CM_KERR_CORRUPT_MESSAGE:
    case CM_KERR_INVALID_RECORD:
    case CM_KERR_INVALID_TIMESTAMP:
    case CM_KERR_POLICY_VIOLATION:
        return 400;
    case CM_KERR_TOPIC_AUTHORIZATION_FAILED:
        return 403;
    case CM_KERR_THROTTLING_QUOTA_EXCEEDED:
        return 429;
    default:
        return 503;
    }
}

int gw_produce_build(gw_produce_t *p, char *why, size_t cap)
{
    int n = p->n_recs;
    /* One batch per partition the records go to: no more than either. */
    size_t most = (size_t)(n < p->topic->n_parts ? n : p->topic->n_parts);
    p->parts = cm_arena_calloc(p->arena, most, sizeof(*p->parts));
    cm_batch_builder_t *bb = cm_arena_calloc(p->arena, most, sizeof(*bb));
    if (p->parts == NULL || bb == NULL) {
        snprintf(why, cap, "the request is too large");
        return 413;
    }
    size_t batch_max = (size_t)p->w->gw->cfg.body_bytes_max * 2 + 4096;
    for (int i = 0; i < n; i++) {
        gw_prec_t *x = &p->recs[i];
        int j = 0;
        while (j < p->n_parts && p->parts[j].partition != x->partition)
            j++;
        gw_ppart_t *pp = &p->parts[j];
        if (j == p->n_parts) {
            p->n_parts++;
            pp->partition = x->partition;
            cm_kw_init(&pp->batch, batch_max);
            cm_batch_build_begin(&bb[j], &pp->batch, x->timestamp);
        }
        x->part = j;
        x->delta = pp->n_records++;
        cm_batch_build_add(&bb[j], x->timestamp, x->key, x->value, x->headers, x->n_headers);
    }
    for (int j = 0; j < p->n_parts; j++) {
        if (cm_batch_build_end(&bb[j]) < 0) {
            snprintf(why, cap, "the records of partition %d do not fit one batch",
                     p->parts[j].partition);
            return 413;
        }
    }
    return 0;
}

void gw_produce_free(gw_produce_t *p)
{
    for (int i = 0; i < p->n_parts; i++)
        cm_kw_free(&p->parts[i].batch);
    p->n_parts = 0;
    if (h2o_timeout_is_linked(&p->timer))
        h2o_timeout_unlink(&p->timer);
}

static void gw_prod__send(gw_produce_t *p);

static bool gw_prod__wanted(gw_produce_t *p)
{
    return p->wanted == NULL || p->wanted(p);
}

/* Once no request is in flight: retries what is to be retried, or ends. */
static void gw_prod__settle(gw_produce_t *p)
{
    if (p->calls > 0)
        return;
    bool retry = false;
    for (int i = 0; i < p->n_parts; i++)
        retry |= !p->parts[i].done;
    if (retry && p->attempts < GW_PROD__RETRY_MAX && cm_mono_ms() < p->retry_until_ms &&
        gw_prod__wanted(p)) {
        /* Wait for a snapshot read after the failure: it shows the new leader. */
        p->ticket = gw_meta_want(p->w->gw->meta);
        p->retry_at_ms = cm_mono_ms() + (int64_t)p->attempts * GW_PROD__RETRY_STEP_MS;
        h2o_timeout_link(p->w->loop, &p->w->poll_timeout, &p->timer);
        return;
    }
    for (int i = 0; i < p->n_parts; i++) {
        gw_ppart_t *pp = &p->parts[i];
        if (!pp->done) {
            pp->done = true;
            pp->http = 503;
        }
    }
    uint64_t bytes = 0, ok = 0;
    for (int i = 0; i < p->n_recs; i++) {
        const gw_prec_t *x = &p->recs[i];
        if (p->parts[x->part].http != 200)
            continue;
        ok++;
        bytes += (uint64_t)(x->key.len > 0 ? x->key.len : 0) +
                 (uint64_t)(x->value.len > 0 ? x->value.len : 0);
    }
    gw_session_meter(p->ss, true, bytes, ok);
    p->done(p);
}

static void gw_prod__on_retry_timer(h2o_timeout_entry_t *e)
{
    gw_produce_t *p = (gw_produce_t *)((char *)e - offsetof(gw_produce_t, timer));
    gw_worker_t *w = p->w;
    gw_snap_t *s = gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen);
    int64_t now = cm_mono_ms();
    if ((s == NULL || s->ticket < p->ticket || now < p->retry_at_ms) && now < p->retry_until_ms &&
        gw_prod__wanted(p)) {
        h2o_timeout_link(w->loop, &w->poll_timeout, &p->timer);
        return;
    }
    gw_prod__send(p);
}

static void gw_prod__produced(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_pcall_t *pc = c->ud;
    gw_produce_t *p = pc->p;
    cm_produce_resp_t resp;
    cm_arena_t a;
    cm_arena_init(&a, 16u << 20);
    bool decoded =
        st == GW_KCALL_OK && cm_produce_resp_decode(body, c->api_version, &a, &resp) == 0;
    for (int i = 0; i < pc->n; i++) {
        gw_ppart_t *pp = &p->parts[pc->idx[i]];
        if (st == GW_KCALL_NOT_SENT && !c->refused) {
            pp->retry = true;
            snprintf(pp->msg, sizeof(pp->msg), "%s", c->why);
            continue;
        }
        pp->done = true;
        pp->http = 503;
        if (st == GW_KCALL_NOT_SENT) { /* refused credential: nothing written, no retry */
            snprintf(pp->msg, sizeof(pp->msg), "nothing was written: %.140s", c->why);
            continue;
        }
        if (st == GW_KCALL_UNKNOWN) {
            snprintf(pp->msg, sizeof(pp->msg),
                     "the records may or may not have been written: %.140s", c->why);
            continue;
        }
        const cm_produce_resp_partition_produce_response_t *x = NULL;
        for (int32_t t = 0; decoded && t < resp.responses_n && x == NULL; t++)
            for (int32_t j = 0; j < resp.responses[t].partition_responses_n; j++)
                if (resp.responses[t].partition_responses[j].index == pp->partition)
                    x = &resp.responses[t].partition_responses[j];
        if (x == NULL) {
            snprintf(pp->msg, sizeof(pp->msg), "the broker's answer did not cover partition %d",
                     pp->partition);
        } else if (x->error_code == 0) {
            pp->http = 200;
            pp->base_offset = x->base_offset;
        } else if (x->error_code == CM_KERR_NOT_LEADER_OR_FOLLOWER ||
                   x->error_code == CM_KERR_LEADER_NOT_AVAILABLE ||
                   x->error_code == CM_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            /* Nothing written: retry on the new leader, or once the broker has applied a
             * topic just created (the retry answers 404 if the topic is really gone). */
            pp->done = false;
            snprintf(pp->msg, sizeof(pp->msg), "partition %d has no leader available now",
                     pp->partition);
        } else {
            pp->kerr = x->error_code;
            pp->http = gw_produce_kerr_http(x->error_code);
            snprintf(pp->msg, sizeof(pp->msg), "partition %d: %s%s%.*s", pp->partition,
                     cm_kerr_name(x->error_code), x->error_message.len > 0 ? ": " : "",
                     x->error_message.len > 0 ? (int)x->error_message.len : 0,
                     x->error_message.len > 0 ? x->error_message.ptr : "");
        }
    }
    cm_arena_free(&a);
    free(pc);
    p->calls--;
    gw_prod__settle(p);
}

/* Sends every partition not done yet, one Produce request per leader. */
static void gw_prod__send(gw_produce_t *p)
{
    gw_worker_t *w = p->w;
    p->attempts++;
    bool stopping = w->kpool == NULL || atomic_load(&w->gw->stopping);
    for (int i = 0; stopping && i < p->n_parts; i++)
        if (!p->parts[i].done) {
            p->parts[i].done = true;
            p->parts[i].http = 503;
            snprintf(p->parts[i].msg, sizeof(p->parts[i].msg), "the gateway is stopping");
        }
    /* Leaders from the newest snapshot (a retry follows a leader change). */
    gw_snap_t *s = w->snap;
    const char *tid = p->ss->tenant->id;
    const gw_tenant_t *tn = s != NULL ? cm_strmap_get(&s->tenants, tid, strlen(tid)) : NULL;
    const gw_topic_t *t = tn != NULL ? gw_snap_topic(tn, p->topic->name) : NULL;
    int32_t *leader = cm_arena_calloc(p->arena, (size_t)p->n_parts + 1, sizeof(*leader));
    for (int i = 0; i < p->n_parts; i++) {
        gw_ppart_t *pp = &p->parts[i];
        leader[i] = -1;
        if (pp->done)
            continue;
        pp->retry = false;
        if (t == NULL || strcmp(t->id, p->topic->id) != 0 || pp->partition >= t->n_parts) {
            pp->done = true;
            pp->http = 404;
            snprintf(pp->msg, sizeof(pp->msg), "topic \"%s\" was deleted", p->topic->name);
            continue;
        }
        const char *why = t->parts[pp->partition].unavailable;
        if (why != NULL) { /* its leader said it cannot serve it: no call would complete */
            pp->done = true;
            pp->http = 503;
            snprintf(pp->msg, sizeof(pp->msg), "partition %d is unavailable: %s", pp->partition,
                     why);
            continue;
        }
        leader[i] = t->parts[pp->partition].leader;
        if (leader[i] < 0 || gw_snap_broker(s, leader[i]) == NULL) {
            leader[i] = -1;
            snprintf(pp->msg, sizeof(pp->msg), "partition %d has no leader available now",
                     pp->partition);
        }
    }
    p->calls++; /* held while sending, so a synchronous failure cannot settle early */
    for (int i = 0; i < p->n_parts; i++) {
        if (leader[i] < 0)
            continue;
        int32_t b = leader[i];
        gw_pcall_t *pc = malloc(sizeof(*pc) + (size_t)p->n_parts * sizeof(int));
        if (pc == NULL)
            abort();
        pc->p = p;
        pc->n = 0;
        for (int j = i; j < p->n_parts; j++)
            if (leader[j] == b) {
                pc->idx[pc->n++] = j;
                leader[j] = -1;
            }
        int64_t timeout = w->gw->cfg.request_timeout_ms;
        gw_kcall_t *c = gw_kcall_new(w->kpool, CM_KAPI_PRODUCE, GW_PROD__VERSION, timeout,
                                     gw_prod__produced, pc);
        cm_produce_req_t req;
        cm_produce_req_init(&req);
        cm_produce_req_topic_produce_data_t td;
        cm_produce_req_topic_produce_data_init(&td);
        cm_produce_req_partition_produce_data_t *pd =
            cm_arena_calloc(p->arena, (size_t)pc->n, sizeof(*pd));
        req.acks = -1;
        req.timeout_ms = (int32_t)timeout;
        req.topic_data = &td;
        req.topic_data_n = 1;
        td.name = cm_kstr_c(t->full);
        td.partition_data = pd;
        td.partition_data_n = pd != NULL ? pc->n : 0;
        for (int k = 0; pd != NULL && k < pc->n; k++) {
            gw_ppart_t *pp = &p->parts[pc->idx[k]];
            pd[k].index = pp->partition;
            pd[k].records = (cm_krecords_t){ pp->batch.buf, (int32_t)pp->batch.len, NULL };
        }
        cm_produce_req_encode(&c->w, GW_PROD__VERSION, &req);
        p->calls++;
        gw_kcall_send(w->kpool, gw_snap_broker(s, b), c);
    }
    p->calls--;
    gw_prod__settle(p);
}

void gw_produce_start(gw_produce_t *p)
{
    p->timer.cb = gw_prod__on_retry_timer;
    p->retry_until_ms = cm_mono_ms() + GW_PROD__RETRY_WAIT_MS;
    gw_prod__send(p);
}
