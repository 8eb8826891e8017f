/*
 * Records over gRPC: Produce and ProduceStream on the produce engine (gw_produce.h),
 * Consume from an offset or a time, and ListOffsets, with the same broker requests as the
 * REST records routes (gw_records.c).
 *
 * ProduceStream reads one message at a time, and the next only while the window has room
 * (grpc_stream_window batches and grpc_stream_window_bytes); answers go back in order. A
 * stream over the tenant's produce quota is slowed down, its next batch waiting for the
 * bucket; so is a consume stream over its consume quota. Every stream batch is checked
 * against the newest snapshot with the call's credentials again, so a revoked key, a
 * suspended tenant or a removed ACL stops a long stream too.
 *
 * Consume keeps one Fetch and one message in flight: the next Fetch goes out while the
 * last answer is being sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_time.h"
#include "gw_grpc.h"
#include "gw_kafka.h"
#include "gw_meta.h"
#include "gw_produce.h"
#include "gw_rest.h"
#include "streaming/v1/streaming.pb-c.h"

#define GW_GREC__LIST_VERSION 1
/* A consume stream's long poll: also the longest a cancelled stream waits for its Fetch. */
#define GW_GREC__FETCH_WAIT_MS 500
#define GW_GREC__MESSAGE_BYTES (1 << 20) /* a consume message's default max_bytes */
#define GW_GREC__ARENA_BYTES   (256u << 20)
#define GW_GREC__RETRY_MS      10
/* ---- helpers --------------------------------------------------------------------------- */

/* The leader of a partition of topic (full name, id) in the worker's newest snapshot, or
 * NULL: *gone says the topic is no more. */
static const gw_broker_t *gw_grec__leader(gw_gcall_t *c, const char *name, const char *id,
                                          int32_t partition, bool *gone)
{
    gw_worker_t *w = c->w;
    gw_snap_t *s = gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen);
    const char *tid = c->ss.tenant->id;
    const gw_tenant_t *tn = s != NULL ? cm_strmap_get(&s->tenants, tid, strlen(tid)) : NULL;
    const gw_topic_t *t = tn != NULL ? gw_snap_topic(tn, name) : NULL;
    *gone = s != NULL && (t == NULL || strcmp(t->id, id) != 0 || partition >= t->n_parts);
    if (*gone || s == NULL)
        return NULL;
    return gw_snap_broker(s, t->parts[partition].leader);
}

/* Sends a ListOffsets for one partition at `ts` (-2 earliest, -1 latest, else a time). */
static void gw_grec__list_send(gw_gcall_t *c, const gw_broker_t *b, const char *full,
                               int32_t partition, int64_t ts, gw_kcall_fn cb, void *ud,
                               uint64_t tag)
{
    gw_kcall_t *k =
        gw_kcall_new(c->w->kpool, CM_KAPI_LIST_OFFSETS, GW_GREC__LIST_VERSION, 0, cb, ud);
    k->tag = tag;
    cm_list_offsets_req_t req;
    cm_list_offsets_req_init(&req);
    cm_list_offsets_req_topic_t rt;
    cm_list_offsets_req_topic_init(&rt);
    cm_list_offsets_req_partition_t rp;
    cm_list_offsets_req_partition_init(&rp);
    req.replica_id = -1;
    req.topics = &rt;
    req.topics_n = 1;
    rt.name = cm_kstr_c(full);
    rt.partitions = &rp;
    rt.partitions_n = 1;
    rp.partition_index = partition;
    rp.timestamp = ts;
    cm_list_offsets_req_encode(&k->w, GW_GREC__LIST_VERSION, &req);
    gw_kcall_send(c->w->kpool, b, k);
}

/* A ListOffsets answer: 0 with *offset, else the Kafka error (-1: no usable answer). */
static int gw_grec__listed(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body, int64_t *offset)
{
    cm_arena_t a;
    cm_arena_init(&a, 1u << 20);
    cm_list_offsets_resp_t resp;
    int rc = -1;
    if (st == GW_KCALL_OK && cm_list_offsets_resp_decode(body, k->api_version, &a, &resp) == 0 &&
        resp.topics_n == 1 && resp.topics[0].partitions_n == 1) {
        rc = resp.topics[0].partitions[0].error_code;
        *offset = resp.topics[0].partitions[0].offset;
    }
    cm_arena_free(&a);
    return rc;
}

/* ---- Produce and ProduceStream ------------------------------------------------------- */

typedef struct gw_gpstream gw_gpstream_t;

/* A Produce call's records, or one message of a ProduceStream. */
typedef struct gw_gbatch {
    gw_produce_t p; /* first: the engine's callbacks get it */
    gw_gcall_t *c;
    gw_gpstream_t *st; /* NULL: a unary Produce */
    gw_session_t ss;   /* the session the batch was checked with */
    gw_snap_t *snap;   /* streams: the snapshot `ss` and the topic are from (a reference) */
    cm_arena_t arena;  /* streams: the batch's memory */
    size_t bytes;      /* the message's size: what the produce quota is charged */
    gw_gstatus_t code; /* refused as a whole: every record gets this */
    char msg[256];
    bool done;
    Streaming__V1__RecordResult *rr; /* the answer's room, taken before anything is written */
    Streaming__V1__RecordResult **rp;
    struct gw_gbatch *next;
} gw_gbatch_t;

struct gw_gpstream {
    gw_gcall_t *c;
    gw_gbatch_t *head, *tail; /* answered in this order */
    gw_gbatch_t *to_start;    /* the first batch not sent yet: they go in order */
    gw_gsess_t auth;
    int in_flight; /* batches read and not answered */
    size_t in_flight_bytes;
    bool reading, sending, eof;
    gw_gstatus_t code; /* the stream ends with this (OK unless it failed) */
    char msg[256];
    h2o_timeout_t throttle_timeout; /* 10 ms */
    h2o_timeout_entry_t throttle;   /* to_start waits for the produce quota */
};

/* Reads the request's records into the batch; OK, or the code and message why not. */
static gw_gstatus_t gw_grec__read(gw_gbatch_t *b, const Streaming__V1__ProduceRequest *rq)
{
    const gw_session_t *ss = &b->ss;
    const gw_topic_t *t =
        gw_grpc_topic(ss, rq->topic, CM_ACL_OP_WRITE, &b->code, b->msg, sizeof(b->msg));
    if (t == NULL)
        return b->code;
    int64_t max = b->c->w->gw->cfg.produce_records_max;
    if (rq->n_records == 0 || (int64_t)rq->n_records > max) {
        snprintf(b->msg, sizeof(b->msg), "send 1 to %lld records", (long long)max);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    cm_arena_t *a = b->p.arena;
    gw_prec_t *recs = cm_arena_calloc(a, rq->n_records, sizeof(*recs));
    b->rr = cm_arena_calloc(a, rq->n_records, sizeof(*b->rr));
    b->rp = cm_arena_calloc(a, rq->n_records, sizeof(*b->rp));
    if (recs == NULL || b->rr == NULL || b->rp == NULL) {
        snprintf(b->msg, sizeof(b->msg), "the request is too large");
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    int32_t sticky = (int32_t)(b->c->w->rr++ % (uint32_t)t->n_parts);
    int64_t now = cm_now_ms();
    for (size_t i = 0; i < rq->n_records; i++) {
        const Streaming__V1__Record *in = rq->records[i];
        gw_prec_t *x = &recs[i];
        x->key = in->key_or_null_case == STREAMING__V1__RECORD__KEY_OR_NULL_KEY
                     ? (cm_kbytes_t){ in->key.data, (int32_t)in->key.len }
                     : (cm_kbytes_t){ NULL, -1 };
        x->value = in->value_or_null_case == STREAMING__V1__RECORD__VALUE_OR_NULL_VALUE
                       ? (cm_kbytes_t){ in->value.data, (int32_t)in->value.len }
                       : (cm_kbytes_t){ NULL, -1 };
        if (in->timestamp_ms < 0) {
            snprintf(b->msg, sizeof(b->msg), "record %zu: timestamp_ms must be 0 (now) or more", i);
            return GRPC_STATUS_INVALID_ARGUMENT;
        }
        x->timestamp = in->timestamp_ms > 0 ? in->timestamp_ms : now;
        if (in->partition_or_any_case == STREAMING__V1__RECORD__PARTITION_OR_ANY_PARTITION) {
            if (in->partition < 0 || in->partition >= t->n_parts) {
                snprintf(b->msg, sizeof(b->msg),
                         "record %zu: partition %d is not a partition of topic \"%s\"", i,
                         in->partition, t->name);
                return GRPC_STATUS_INVALID_ARGUMENT;
            }
            x->partition = in->partition;
        } else {
            x->partition = gw_produce_partition(x->key, t->n_parts, sticky);
        }
        if (in->n_headers > 0) {
            x->headers = cm_arena_calloc(a, in->n_headers, sizeof(*x->headers));
            if (x->headers == NULL) {
                snprintf(b->msg, sizeof(b->msg), "the request is too large");
                return GRPC_STATUS_INVALID_ARGUMENT;
            }
            for (size_t h = 0; h < in->n_headers; h++)
                x->headers[h] = (cm_record_header_t){ cm_kstr_c(in->headers[h]->key),
                                                      { in->headers[h]->value.data,
                                                        (int32_t)in->headers[h]->value.len } };
            x->n_headers = (int32_t)in->n_headers;
        }
    }
    b->p.topic = t;
    b->p.recs = recs;
    b->p.n_recs = (int)rq->n_records;
    char why[160];
    if (gw_produce_build(&b->p, why, sizeof(why)) != 0) {
        snprintf(b->msg, sizeof(b->msg), "%s", why);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    return GRPC_STATUS_OK;
}

/* The batch's answer; *written says how many records were written. Its room was taken
 * when the records were read, so it cannot fail for want of memory after a write. */
static grpc_byte_buffer *gw_grec__results(gw_gbatch_t *b, int *written)
{
    gw_produce_t *p = &b->p;
    Streaming__V1__ProduceResponse res = STREAMING__V1__PRODUCE_RESPONSE__INIT;
    *written = 0;
    if (p->n_recs == 0) { /* refused before its records were read: one result says why */
        Streaming__V1__RecordResult one = STREAMING__V1__RECORD_RESULT__INIT, *op = &one;
        one.code = (int32_t)b->code;
        one.message = b->msg;
        res.results = &op;
        res.n_results = 1;
        return gw_grpc_pack(&res.base);
    }
    res.results = b->rp;
    for (int i = 0; i < p->n_recs; i++) {
        const gw_prec_t *x = &p->recs[i];
        Streaming__V1__RecordResult *r = &b->rr[i];
        streaming__v1__record_result__init(r);
        r->partition = x->partition;
        r->timestamp_ms = x->timestamp;
        if (b->code != GRPC_STATUS_OK) {
            r->code = (int32_t)b->code;
            r->message = b->msg;
        } else if (p->parts[x->part].http == 200) {
            r->offset = p->parts[x->part].base_offset + x->delta;
            (*written)++;
        } else {
            r->code = (int32_t)gw_grpc_status_of_http(p->parts[x->part].http);
            r->message = p->parts[x->part].msg;
        }
        res.results[res.n_results++] = r;
    }
    return gw_grpc_pack(&res.base);
}

static bool gw_grec__wanted(gw_produce_t *p)
{
    return !((gw_gbatch_t *)p)->c->gone;
}

/* A unary Produce's records have their outcomes. */
static void gw_grec__produced(gw_produce_t *p)
{
    gw_gbatch_t *b = (gw_gbatch_t *)p;
    gw_gcall_t *c = b->c;
    int written;
    grpc_byte_buffer *bb = gw_grec__results(b, &written);
    const gw_ppart_t *first = &p->parts[p->recs[0].part];
    if (written == 0) {
        /* Nothing written: the call fails as the first record did. */
        grpc_byte_buffer_destroy(bb);
        gw_gstatus_t code = gw_grpc_status_of_http(first->http);
        if (code == GRPC_STATUS_UNAVAILABLE)
            gw_grpc_fail_retry(c, code, 1, "%s", first->msg);
        else
            gw_grpc_fail(c, code, "%s", first->msg);
    } else {
        gw_grpc_reply_packed(c, bb);
    }
    gw_produce_free(p);
}

static void gw_grec__batch_state_free(void *state)
{
    gw_produce_free(state);
}

void gw_grpc_produce(gw_gcall_t *c)
{
    Streaming__V1__ProduceRequest *rq =
        gw_grpc_request(c, &streaming__v1__produce_request__descriptor);
    if (rq == NULL)
        return;
    gw_gbatch_t *b = cm_arena_calloc(&c->arena, 1, sizeof(*b));
    if (b == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    b->c = c;
    b->ss = c->ss;
    b->p = (gw_produce_t){ .w = c->w,
                           .ss = &b->ss,
                           .arena = &c->arena,
                           .done = gw_grec__produced,
                           .wanted = gw_grec__wanted };
    c->state = b;
    c->state_free = gw_grec__batch_state_free;
    gw_gstatus_t code = gw_grec__read(b, rq);
    if (code != GRPC_STATUS_OK) {
        gw_grpc_fail(c, code, "%s", b->msg);
        return;
    }
    char why[256];
    int wait = gw_session_storage_full(&c->ss, c->w->gw->cfg.storage_poll_ms, why, sizeof(why));
    if (wait > 0) {
        gw_grpc_throttle(c, wait, "%s", why);
        return;
    }
    wait =
        gw_session_charge(&c->ss, GW_CHARGE_PRODUCE, (double)grpc_byte_buffer_length(c->payload));
    if (wait > 0) {
        gw_grpc_throttle(c, wait, "over the produce byte-rate quota; retry in %d s", wait);
        return;
    }
    gw_produce_start(&b->p);
}

/* ---- ProduceStream --------------------------------------------------------------------- */

static void gw_grec__ps_pump(gw_gpstream_t *st);

static void gw_grec__ps_batch_free(gw_gbatch_t *b)
{
    gw_produce_free(&b->p);
    gw_snap_release(b->snap);
    cm_arena_free(&b->arena);
    free(b);
}

static void gw_grec__ps_state_free(void *state)
{
    gw_gpstream_t *st = state;
    while (st->head != NULL) {
        gw_gbatch_t *b = st->head;
        st->head = b->next;
        gw_grec__ps_batch_free(b);
    }
    if (h2o_timeout_is_linked(&st->throttle))
        h2o_timeout_unlink(&st->throttle);
    h2o_timeout_dispose(st->c->w->loop, &st->throttle_timeout);
    gw_snap_release(st->auth.snap);
}

static void gw_grec__ps_produced(gw_produce_t *p)
{
    gw_gbatch_t *b = (gw_gbatch_t *)p;
    b->done = true;
    gw_grec__ps_pump(b->st);
}

/* Sends the batches read, in order, each once its bytes are in the tenant's produce bucket:
 * over the quota, the stream waits (and its window fills, and the client is slowed down). */
static void gw_grec__ps_start(gw_gpstream_t *st)
{
    while (st->to_start != NULL) {
        gw_gbatch_t *b = st->to_start;
        if (st->c->gone && b->code == GRPC_STATUS_OK) {
            b->code = GRPC_STATUS_CANCELLED;
            snprintf(b->msg, sizeof(b->msg), "the stream was cancelled");
        }
        if (b->code == GRPC_STATUS_OK &&
            gw_session_storage_full(&b->ss, st->c->w->gw->cfg.storage_poll_ms, b->msg,
                                    sizeof(b->msg)) > 0)
            b->code = GRPC_STATUS_RESOURCE_EXHAUSTED;
        if (b->code == GRPC_STATUS_OK &&
            gw_session_charge_us(&b->ss, GW_CHARGE_PRODUCE, (double)b->bytes) > 0) {
            if (!h2o_timeout_is_linked(&st->throttle))
                h2o_timeout_link(st->c->w->loop, &st->throttle_timeout, &st->throttle);
            return;
        }
        st->to_start = b->next;
        if (b->code != GRPC_STATUS_OK)
            b->done = true;
        else
            gw_produce_start(&b->p); /* may be done at once */
    }
    gw_grec__ps_pump(st);
}

static void gw_grec__ps_on_throttle(h2o_timeout_entry_t *e)
{
    gw_grec__ps_start((gw_gpstream_t *)((char *)e - offsetof(gw_gpstream_t, throttle)));
}

static void gw_grec__ps_read(gw_gpstream_t *st);

static void gw_grec__ps_on_message(gw_gcall_t *c, bool ok)
{
    gw_gpstream_t *st = c->state;
    st->reading = false;
    grpc_byte_buffer *in = c->in;
    c->in = NULL;
    if (!ok || in == NULL) {
        st->eof = true; /* the client closed its side (or is gone) */
        gw_grec__ps_pump(st);
        return;
    }
    gw_gbatch_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        abort();
    b->c = c;
    b->st = st;
    b->bytes = grpc_byte_buffer_length(in);
    cm_arena_init(&b->arena, GW_GREC__ARENA_BYTES);
    b->p = (gw_produce_t){ .w = c->w,
                           .ss = &b->ss,
                           .arena = &b->arena,
                           .done = gw_grec__ps_produced,
                           .wanted = gw_grec__wanted };
    if (st->tail != NULL)
        st->tail->next = b;
    else
        st->head = b;
    st->tail = b;
    if (st->to_start == NULL)
        st->to_start = b;
    st->in_flight++;
    st->in_flight_bytes += b->bytes;
    Streaming__V1__ProduceRequest *rq =
        gw_grpc_unpack(in, &streaming__v1__produce_request__descriptor, &b->arena);
    grpc_byte_buffer_destroy(in);
    /* The call's credentials again, against the newest snapshot: revocations, suspensions
     * and ACL changes reach long streams too. */
    gw_gstatus_t code = gw_grpc_recheck(c, &st->auth, b->msg, sizeof(b->msg));
    if (rq == NULL) {
        code = GRPC_STATUS_INVALID_ARGUMENT;
        snprintf(b->msg, sizeof(b->msg), "a message of the stream is not a valid ProduceRequest");
    }
    if (code != GRPC_STATUS_OK) {
        /* The stream cannot go on: it ends once the batches before are answered. */
        b->code = code;
        st->code = code;
        snprintf(st->msg, sizeof(st->msg), "%s", b->msg);
        st->eof = true;
    } else {
        b->ss = st->auth.ss;
        b->snap = st->auth.snap;
        atomic_fetch_add(&b->snap->refs, 1);
        b->code = gw_grec__read(b, rq);
    }
    gw_grec__ps_start(st);
}

/* Reads the next message while the window has room. */
static void gw_grec__ps_read(gw_gpstream_t *st)
{
    const gw_config_t *cfg = &st->c->w->gw->cfg;
    if (st->reading || st->eof || st->c->gone || st->in_flight >= cfg->grpc_stream_window ||
        st->in_flight_bytes >= (size_t)cfg->grpc_stream_window_bytes)
        return;
    st->reading = true;
    gw_grpc_recv(st->c, gw_grec__ps_on_message);
}

/* The first batch is answered (or has nobody to answer): it goes. */
static void gw_grec__ps_pop(gw_gpstream_t *st)
{
    gw_gbatch_t *b = st->head;
    st->head = b->next;
    if (st->head == NULL)
        st->tail = NULL;
    st->in_flight--;
    st->in_flight_bytes -= b->bytes;
    gw_grec__ps_batch_free(b);
}

static void gw_grec__ps_sent(gw_gcall_t *c, bool ok)
{
    gw_gpstream_t *st = c->state;
    st->sending = false;
    gw_grec__ps_pop(st);
    (void)ok; /* not ok: the client is gone (c->gone) */
    gw_grec__ps_pump(st);
}

/* Answers the batches done, in order; ends the stream when nothing is left to do. */
static void gw_grec__ps_pump(gw_gpstream_t *st)
{
    gw_gcall_t *c = st->c;
    if (c->answered)
        return;
    while (!st->sending && st->head != NULL && st->head->done) {
        gw_gbatch_t *b = st->head;
        if (c->gone) { /* nobody to answer */
            gw_grec__ps_pop(st);
            continue;
        }
        int written;
        grpc_byte_buffer *bb = gw_grec__results(b, &written);
        st->sending = true;
        gw_grpc_send(c, bb, gw_grec__ps_sent);
    }
    if (st->head == NULL && !st->sending && !st->reading && (st->eof || c->gone)) {
        if (c->gone)
            gw_grpc_end(c, GRPC_STATUS_CANCELLED, "the stream was cancelled");
        else
            gw_grpc_end(c, st->code, "%s", st->msg);
        return;
    }
    gw_grec__ps_read(st);
}

static void gw_grec__ps_cancel(gw_gcall_t *c)
{
    gw_grec__ps_pump(c->state);
}

void gw_grpc_produce_stream(gw_gcall_t *c)
{
    gw_gpstream_t *st = cm_arena_calloc(&c->arena, 1, sizeof(*st));
    if (st == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    st->c = c;
    st->throttle.cb = gw_grec__ps_on_throttle;
    h2o_timeout_init(c->w->loop, &st->throttle_timeout, GW_GREC__RETRY_MS);
    c->state = st;
    c->state_free = gw_grec__ps_state_free;
    c->on_cancel = gw_grec__ps_cancel;
    gw_grec__ps_read(st);
}

/* ---- Consume --------------------------------------------------------------------------- */

typedef struct gw_gconsume {
    gw_gcall_t *c;
    const char *name, *full, *id; /* the topic, in the call's arena */
    int32_t partition;
    int64_t offset; /* the next to fetch; < 0 while the start is being looked up */
    int64_t max_records, sent_records;
    int32_t max_bytes;
    bool fetching, sending, done;
    grpc_byte_buffer *ready; /* a message waiting for the one being sent */
    gw_gstatus_t code;
    char msg[256];
    gw_gsess_t auth;
    int attempts;
    h2o_timeout_t retry_timeout; /* 10 ms */
    h2o_timeout_entry_t timer;   /* a fetch waiting (quota, a topic the broker does not know) */
} gw_gconsume_t;

static void gw_grec__cs_fetch(gw_gconsume_t *cs);
static void gw_grec__cs_pump(gw_gconsume_t *cs);

static void gw_grec__cs_state_free(void *state)
{
    gw_gconsume_t *cs = state;
    if (h2o_timeout_is_linked(&cs->timer))
        h2o_timeout_unlink(&cs->timer);
    h2o_timeout_dispose(cs->c->w->loop, &cs->retry_timeout);
    if (cs->ready != NULL)
        grpc_byte_buffer_destroy(cs->ready);
    gw_snap_release(cs->auth.snap);
}

/* The stream ends (with cs->code) once nothing is in flight. */
static void gw_grec__cs_fail(gw_gconsume_t *cs, gw_gstatus_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void gw_grec__cs_fail(gw_gconsume_t *cs, gw_gstatus_t code, const char *fmt, ...)
{
    if (!cs->done) {
        cs->done = true;
        cs->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cs->msg, sizeof(cs->msg), fmt, ap);
        va_end(ap);
    }
    gw_grec__cs_pump(cs);
}

typedef struct gw_grec__writer {
    gw_gconsume_t *cs;
    cm_arena_t *a;
    Streaming__V1__Record **out;
    size_t n, cap;
    uint64_t bytes;
} gw_grec__writer_t;

Streaming__V1__Record *gw_grpc_record(cm_arena_t *a, int32_t partition, int64_t off, int64_t ts_ms,
                                      const cm_record_t *rec_in)
{
    cm_record_t rec = *rec_in;
    Streaming__V1__Record *r = cm_arena_alloc(a, sizeof(*r));
    if (r == NULL)
        return NULL;
    streaming__v1__record__init(r);
    if (rec.key.len >= 0) {
        r->key_or_null_case = STREAMING__V1__RECORD__KEY_OR_NULL_KEY;
        r->key = (ProtobufCBinaryData){ (size_t)rec.key.len, (uint8_t *)rec.key.ptr };
    }
    if (rec.value.len >= 0) {
        r->value_or_null_case = STREAMING__V1__RECORD__VALUE_OR_NULL_VALUE;
        r->value = (ProtobufCBinaryData){ (size_t)rec.value.len, (uint8_t *)rec.value.ptr };
    }
    r->timestamp_ms = ts_ms;
    r->partition_or_any_case = STREAMING__V1__RECORD__PARTITION_OR_ANY_PARTITION;
    r->partition = partition;
    r->offset = off;
    size_t n_headers = rec.headers_n > 0 ? (size_t)rec.headers_n : 0; /* counts down below */
    if (n_headers > 0) {
        r->headers = cm_arena_calloc(a, n_headers, sizeof(*r->headers));
        Streaming__V1__Header *hs = cm_arena_calloc(a, n_headers, sizeof(*hs));
        if (r->headers == NULL || hs == NULL)
            return NULL;
        cm_kstr_t hk;
        cm_kbytes_t hv;
        while (r->n_headers < n_headers && cm_record_header_next(&rec, &hk, &hv) == 1) {
            Streaming__V1__Header *h = &hs[r->n_headers];
            streaming__v1__header__init(h);
            h->key = cm_arena_strndup(a, hk.ptr, (size_t)hk.len);
            if (h->key == NULL)
                return NULL;
            if (hv.len > 0)
                h->value = (ProtobufCBinaryData){ (size_t)hv.len, (uint8_t *)hv.ptr };
            r->headers[r->n_headers++] = h;
        }
    }
    return r;
}

static bool gw_grec__write_one(void *ud, int64_t off, int64_t ts_ms, const cm_record_t *rec)
{
    gw_grec__writer_t *wr = ud;
    gw_gconsume_t *cs = wr->cs;
    if (wr->n == wr->cap ||
        (cs->max_records > 0 && cs->sent_records + (int64_t)wr->n >= cs->max_records))
        return false;
    Streaming__V1__Record *r = gw_grpc_record(wr->a, cs->partition, off, ts_ms, rec);
    if (r == NULL)
        return false;
    wr->out[wr->n++] = r;
    wr->bytes += (uint64_t)(rec->key.len > 0 ? rec->key.len : 0) +
                 (uint64_t)(rec->value.len > 0 ? rec->value.len : 0);
    return true;
}

static void gw_grec__cs_on_timer(h2o_timeout_entry_t *e)
{
    gw_grec__cs_fetch((gw_gconsume_t *)((char *)e - offsetof(gw_gconsume_t, timer)));
}

static void gw_grec__cs_fetched(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_gconsume_t *cs = k->ud;
    gw_gcall_t *c = cs->c;
    cs->fetching = false;
    cm_arena_t a;
    cm_arena_init(&a, GW_GREC__ARENA_BYTES);
    cm_fetch_resp_t resp;
    const cm_fetch_resp_partition_data_t *pd = NULL;
    if (st == GW_KCALL_OK && cm_fetch_resp_decode(body, k->api_version, &a, &resp) == 0 &&
        resp.responses_n == 1 && resp.responses[0].partitions_n == 1)
        pd = &resp.responses[0].partitions[0];
    if (c->gone || cs->done) {
        /* ends below */
    } else if (pd == NULL) {
        gw_grec__cs_fail(cs, GRPC_STATUS_UNAVAILABLE, "cannot read from the partition's leader: %s",
                         st == GW_KCALL_OK ? "malformed answer" : k->why);
    } else if ((pd->error_code == CM_KERR_UNKNOWN_TOPIC_OR_PARTITION ||
                pd->error_code == CM_KERR_NOT_LEADER_OR_FOLLOWER ||
                pd->error_code == CM_KERR_LEADER_NOT_AVAILABLE) &&
               cs->attempts++ < GW_REST_TOPIC_WAIT_TRIES) {
        /* A topic just created, or a leader that moved: ask again shortly. */
        h2o_timeout_link(c->w->loop, &cs->retry_timeout, &cs->timer);
    } else if (pd->error_code == CM_KERR_OFFSET_OUT_OF_RANGE) {
        gw_grec__cs_fail(cs, GRPC_STATUS_OUT_OF_RANGE,
                         "offset %lld is out of range: partition %d holds offsets %lld to %lld",
                         (long long)cs->offset, cs->partition, (long long)pd->log_start_offset,
                         (long long)pd->high_watermark);
    } else if (pd->error_code != 0) {
        gw_grec__cs_fail(cs, gw_grpc_status_of_http(gw_produce_kerr_http(pd->error_code)),
                         "partition %d: %s", cs->partition, cm_kerr_name(pd->error_code));
    } else {
        cs->attempts = 0;
        gw_grec__writer_t wr = { .cs = cs, .a = &a };
        wr.cap = pd->records.len > 0 ? (size_t)pd->records.len / 7 + 1 : 0;
        wr.out = wr.cap > 0 ? cm_arena_calloc(&a, wr.cap, sizeof(*wr.out)) : NULL;
        bool stopped = false;
        int64_t next = wr.out != NULL ? gw_records_each(pd->records, cs->offset, gw_grec__write_one,
                                                        &wr, &stopped)
                                      : cs->offset;
        if (next > cs->offset)
            cs->offset = next;
        if (wr.n > 0) {
            Streaming__V1__ConsumeResponse res = STREAMING__V1__CONSUME_RESPONSE__INIT;
            res.records = wr.out;
            res.n_records = wr.n;
            cs->ready = gw_grpc_pack(&res.base);
            cs->sent_records += (int64_t)wr.n;
            gw_session_meter(&cs->auth.ss, false, wr.bytes, wr.n);
            gw_session_charge_after(&cs->auth.ss, GW_CHARGE_CONSUME, (double)wr.bytes);
        }
        if (cs->max_records > 0 && cs->sent_records >= cs->max_records) {
            cs->done = true;
            cs->code = GRPC_STATUS_OK;
        }
    }
    cm_arena_free(&a);
    gw_grec__cs_pump(cs);
}

static void gw_grec__cs_sent(gw_gcall_t *c, bool ok)
{
    gw_gconsume_t *cs = c->state;
    cs->sending = false;
    (void)ok; /* not ok: the client is gone (c->gone) */
    gw_grec__cs_pump(cs);
}

/* Sends what is ready, fetches the next records, or ends the stream. */
static void gw_grec__cs_pump(gw_gconsume_t *cs)
{
    gw_gcall_t *c = cs->c;
    if (c->answered)
        return;
    if (c->gone && cs->ready != NULL) {
        grpc_byte_buffer_destroy(cs->ready);
        cs->ready = NULL;
    }
    if (!cs->sending && cs->ready != NULL) {
        cs->sending = true;
        grpc_byte_buffer *bb = cs->ready;
        cs->ready = NULL;
        gw_grpc_send(c, bb, gw_grec__cs_sent);
    }
    bool waiting = h2o_timeout_is_linked(&cs->timer);
    if ((c->gone || cs->done) && waiting) {
        h2o_timeout_unlink(&cs->timer);
        waiting = false;
    }
    if (c->gone || cs->done) {
        if (!cs->fetching && !cs->sending && cs->ready == NULL) {
            if (c->gone)
                gw_grpc_end(c, GRPC_STATUS_CANCELLED, "the stream was cancelled");
            else
                gw_grpc_end(c, cs->code, "%s", cs->msg);
        }
        return;
    }
    if (!cs->fetching && !waiting && cs->ready == NULL && cs->offset >= 0)
        gw_grec__cs_fetch(cs);
}

static void gw_grec__cs_fetch(gw_gconsume_t *cs)
{
    gw_gcall_t *c = cs->c;
    gw_worker_t *w = c->w;
    if (c->gone || cs->done || w->kpool == NULL || atomic_load(&w->gw->stopping)) {
        if (!cs->done && !c->gone)
            gw_grec__cs_fail(cs, GRPC_STATUS_UNAVAILABLE, "the gateway is stopping");
        else
            gw_grec__cs_pump(cs);
        return;
    }
    char why[256];
    gw_gstatus_t code = gw_grpc_recheck(c, &cs->auth, why, sizeof(why));
    /* The ACLs as they are now: a removed one ends the stream. */
    if (code == GRPC_STATUS_OK)
        gw_grpc_topic(&cs->auth.ss, cs->name, CM_ACL_OP_READ, &code, why, sizeof(why));
    if (code != GRPC_STATUS_OK) {
        gw_grec__cs_fail(cs, code, "%s", why);
        return;
    }
    int64_t wait = gw_session_charge_us(&cs->auth.ss, GW_CHARGE_CONSUME, 0);
    if (wait > 0) { /* over the consume quota: the stream slows down */
        h2o_timeout_link(w->loop, &cs->retry_timeout, &cs->timer);
        return;
    }
    bool gone;
    const gw_broker_t *b = gw_grec__leader(c, cs->name, cs->id, cs->partition, &gone);
    if (gone) {
        gw_grec__cs_fail(cs, GRPC_STATUS_NOT_FOUND, "topic \"%s\" was deleted", cs->name);
        return;
    }
    if (b == NULL) {
        if (cs->attempts++ < GW_REST_TOPIC_WAIT_TRIES)
            h2o_timeout_link(w->loop, &cs->retry_timeout, &cs->timer);
        else
            gw_grec__cs_fail(cs, GRPC_STATUS_UNAVAILABLE,
                             "partition %d has no leader available now", cs->partition);
        return;
    }
    int64_t max_wait = w->gw->cfg.fetch_wait_max_ms;
    if (max_wait > GW_GREC__FETCH_WAIT_MS)
        max_wait = GW_GREC__FETCH_WAIT_MS;
    cs->fetching = true;
    gw_fetch_one(w->kpool, b, cs->full, cs->partition, cs->offset, cs->max_bytes, max_wait,
                 gw_grec__cs_fetched, cs);
}

/* The start offset of a stream from a time, or from the beginning. */
static void gw_grec__cs_started(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_gconsume_t *cs = k->ud;
    cs->fetching = false;
    int64_t offset = -1;
    int rc = gw_grec__listed(k, st, body, &offset);
    if (cs->c->gone) {
        gw_grec__cs_pump(cs);
    } else if (rc == 0 && offset >= 0) {
        cs->offset = offset;
        gw_grec__cs_pump(cs);
    } else if (rc == 0) {
        /* No record that recent: from the end. */
        bool gone;
        const gw_broker_t *b = gw_grec__leader(cs->c, cs->name, cs->id, cs->partition, &gone);
        if (b == NULL) {
            gw_grec__cs_fail(cs, GRPC_STATUS_UNAVAILABLE,
                             "partition %d has no leader available now", cs->partition);
            return;
        }
        cs->fetching = true;
        gw_grec__list_send(cs->c, b, cs->full, cs->partition, -1, gw_grec__cs_started, cs, 0);
    } else {
        gw_grec__cs_fail(cs, GRPC_STATUS_UNAVAILABLE, "cannot find the start offset: %s",
                         rc > 0 ? cm_kerr_name((int16_t)rc) : k->why);
    }
}

static void gw_grec__cs_cancel(gw_gcall_t *c)
{
    gw_grec__cs_pump(c->state);
}

void gw_grpc_consume(gw_gcall_t *c)
{
    Streaming__V1__ConsumeRequest *rq =
        gw_grpc_request(c, &streaming__v1__consume_request__descriptor);
    if (rq == NULL)
        return;
    if (rq->start_case == STREAMING__V1__CONSUME_REQUEST__START_GROUP) {
        gw_grpc_consume_group(c, rq);
        return;
    }
    gw_gstatus_t code;
    char msg[256];
    const gw_topic_t *t = gw_grpc_topic(&c->ss, rq->topic, CM_ACL_OP_READ, &code, msg, sizeof(msg));
    if (t == NULL) {
        gw_grpc_fail(c, code, "%s", msg);
        return;
    }
    if (rq->partition < 0 || rq->partition >= t->n_parts) {
        gw_grpc_fail(c, GRPC_STATUS_NOT_FOUND, "topic \"%s\" has no partition %d", t->name,
                     rq->partition);
        return;
    }
    int64_t fetch_max = c->w->gw->cfg.fetch_bytes_max;
    if (rq->max_bytes < 0 || rq->max_bytes > fetch_max || rq->max_records < 0 ||
        (rq->start_case == STREAMING__V1__CONSUME_REQUEST__START_OFFSET && rq->offset < 0) ||
        (rq->start_case == STREAMING__V1__CONSUME_REQUEST__START_TIMESTAMP_MS &&
         rq->timestamp_ms < 0)) {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                     "offset, timestamp_ms and max_records must be 0 or more, max_bytes 0 to %lld",
                     (long long)fetch_max);
        return;
    }
    gw_gconsume_t *cs = cm_arena_calloc(&c->arena, 1, sizeof(*cs));
    if (cs == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    cs->c = c;
    cs->name = t->name; /* the call holds its snapshot */
    cs->full = t->full;
    cs->id = t->id;
    cs->partition = rq->partition;
    cs->max_records = rq->max_records;
    cs->max_bytes = rq->max_bytes > 0 ? rq->max_bytes : GW_GREC__MESSAGE_BYTES;
    if (cs->max_bytes > fetch_max)
        cs->max_bytes = (int32_t)fetch_max;
    cs->timer.cb = gw_grec__cs_on_timer;
    char why[256];
    gw_grpc_recheck(c, &cs->auth, why, sizeof(why)); /* holds the call's own session */
    h2o_timeout_init(c->w->loop, &cs->retry_timeout, GW_GREC__RETRY_MS);
    c->state = cs;
    c->state_free = gw_grec__cs_state_free;
    c->on_cancel = gw_grec__cs_cancel;
    if (rq->start_case == STREAMING__V1__CONSUME_REQUEST__START_OFFSET) {
        cs->offset = rq->offset;
        gw_grec__cs_pump(cs);
        return;
    }
    /* From a time, or (no start given) from the earliest offset kept. */
    cs->offset = -1;
    bool gone;
    const gw_broker_t *b = gw_grec__leader(c, cs->name, cs->id, cs->partition, &gone);
    if (b == NULL) {
        gw_grec__cs_fail(cs, GRPC_STATUS_UNAVAILABLE, "partition %d has no leader available now",
                         cs->partition);
        return;
    }
    int64_t ts = rq->start_case == STREAMING__V1__CONSUME_REQUEST__START_TIMESTAMP_MS
                     ? rq->timestamp_ms
                     : -2;
    cs->fetching = true;
    gw_grec__list_send(c, b, cs->full, cs->partition, ts, gw_grec__cs_started, cs, 0);
}

/* ---- ListOffsets ----------------------------------------------------------------------- */

typedef struct gw_glist {
    gw_gcall_t *c;
    int pending;
    int64_t at[3]; /* earliest, latest, for the time */
    int err;       /* the first failure: a Kafka error, or -1 */
    char why[160];
} gw_glist_t;

static void gw_grec__offsets_listed(gw_kcall_t *k, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_glist_t *l = k->ud;
    int64_t offset = -1;
    int rc = gw_grec__listed(k, st, body, &offset);
    if (rc == 0)
        l->at[k->tag] = offset;
    else if (l->err == 0) {
        l->err = rc;
        snprintf(l->why, sizeof(l->why), "%s", rc > 0 ? cm_kerr_name((int16_t)rc) : k->why);
    }
    if (--l->pending > 0)
        return;
    gw_gcall_t *c = l->c;
    if (l->err == CM_KERR_UNKNOWN_TOPIC_OR_PARTITION)
        gw_grpc_fail_retry(c, GRPC_STATUS_UNAVAILABLE, 1, "the partition is not ready yet");
    else if (l->err != 0)
        gw_grpc_fail_retry(c, GRPC_STATUS_UNAVAILABLE, 1, "cannot list offsets: %s", l->why);
    else {
        Streaming__V1__ListOffsetsResponse res = STREAMING__V1__LIST_OFFSETS_RESPONSE__INIT;
        res.earliest = l->at[0];
        res.latest = l->at[1];
        res.offset_for_time = l->at[2];
        gw_grpc_reply(c, &res.base);
    }
}

void gw_grpc_list_offsets(gw_gcall_t *c)
{
    Streaming__V1__ListOffsetsRequest *rq =
        gw_grpc_request(c, &streaming__v1__list_offsets_request__descriptor);
    if (rq == NULL)
        return;
    gw_gstatus_t code;
    char msg[256];
    const gw_topic_t *t =
        gw_grpc_topic(&c->ss, rq->topic, CM_ACL_OP_DESCRIBE, &code, msg, sizeof(msg));
    if (t == NULL) {
        gw_grpc_fail(c, code, "%s", msg);
        return;
    }
    if (rq->partition < 0 || rq->partition >= t->n_parts) {
        gw_grpc_fail(c, GRPC_STATUS_NOT_FOUND, "topic \"%s\" has no partition %d", t->name,
                     rq->partition);
        return;
    }
    bool at_time = rq->at_case == STREAMING__V1__LIST_OFFSETS_REQUEST__AT_TIMESTAMP_MS;
    if (at_time && rq->timestamp_ms < 0) {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "timestamp_ms must be 0 or more");
        return;
    }
    const gw_broker_t *b = gw_snap_broker(c->snap, t->parts[rq->partition].leader);
    if (b == NULL || c->w->kpool == NULL) {
        gw_grpc_fail_retry(c, GRPC_STATUS_UNAVAILABLE, 1,
                           "partition %d has no leader available now", rq->partition);
        return;
    }
    gw_glist_t *l = cm_arena_calloc(&c->arena, 1, sizeof(*l));
    if (l == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    l->c = c;
    l->at[2] = -1;
    l->pending = at_time ? 3 : 2;
    gw_grec__list_send(c, b, t->full, rq->partition, -2, gw_grec__offsets_listed, l, 0);
    gw_grec__list_send(c, b, t->full, rq->partition, -1, gw_grec__offsets_listed, l, 1);
    if (at_time)
        gw_grec__list_send(c, b, t->full, rq->partition, rq->timestamp_ms, gw_grec__offsets_listed,
                           l, 2);
}
