/*
 * REST consumer instances (Kafka REST Proxy v2) under /kafka/v2/clusters/{c}/consumers:
 *
 *   POST   /consumers/{g}                               create an instance
 *   DELETE /consumers/{g}/instances/{i}                 delete it (leaves the group)
 *   POST   .../instances/{i}/subscription               {"topics": [...]}
 *   GET    .../instances/{i}/subscription
 *   DELETE .../instances/{i}/subscription
 *   GET    .../instances/{i}/assignments
 *   POST   .../instances/{i}/offsets                    commit (no body: what was consumed)
 *   GET    .../instances/{i}/offsets                    committed offsets
 *   POST   .../instances/{i}/positions                  seek
 *   POST   .../instances/{i}/positions/beginning|end
 *   GET    .../instances/{i}/records?timeout=&max_bytes=
 *
 * The threads and the jobs are described in gw_consumer.h.
 */
#include "gw_consumer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cm_b64.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_murmur2.h"
#include "cm_time.h"
#include "gw_kafka.h"
#include "gw_meta.h"

#define GW_CONS__TICK_MS         100
#define GW_CONS__FETCH_VERSION   11
#define GW_CONS__COMMIT_VERSION  7
#define GW_CONS__OFFSETS_VERSION 7
#define GW_CONS__POLL_TIMEOUT_MS 1000 /* Kafka REST's consumer.request.timeout.ms */

typedef enum gw_cjob_kind {
    GW_CJ_CREATE,
    GW_CJ_DELETE,
    GW_CJ_SUBSCRIBE,
    GW_CJ_SUBSCRIPTION,
    GW_CJ_UNSUBSCRIBE,
    GW_CJ_ASSIGNMENTS,
    GW_CJ_COMMIT,
    GW_CJ_COMMITTED,
    GW_CJ_SEEK,
    GW_CJ_SEEK_BEGIN,
    GW_CJ_SEEK_END,
    GW_CJ_POLL,
} gw_cjob_kind_t;

struct gw_cjob {
    h2o_multithread_message_t msg;
    gw_cjob_t *next; /* in the instance's queue */
    gw_rreq_t *r;    /* the origin's; the owner reads only its session and body */
    gw_worker_t *origin, *owner;
    gw_cinst_t *inst;
    gw_cjob_kind_t kind;
    const cm_json_t *in; /* the request body, or NULL */
    const char *group, *name, *base_uri;
    gw_session_t ss;
    int64_t timeout_ms, max_bytes;
    int64_t deadline_ms; /* a job waiting for the membership to be stable gives up then */
    bool waiting;
    int phase;
    int pending; /* broker calls in flight */
    /* the answer */
    int status, code, retry_after;
    char msg_text[300];
    cm_sbuf_t out;
    cm_jw_t jw;
    bool first; /* poll: no record written yet */
};

static void gw_cons__run(gw_cjob_t *j);
static void gw_cons__start(gw_cinst_t *i);

/* ---- instances ------------------------------------------------------------------------- */

const gw_tenant_t *gw_cons_tenant(gw_cinst_t *i)
{
    gw_worker_t *w = i->w;
    if (gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen) == NULL)
        return NULL;
    return cm_strmap_get(&w->snap->tenants, i->tenant_id, strlen(i->tenant_id));
}

void gw_cons_ref(gw_cinst_t *i)
{
    i->refs++;
}

void gw_cons_unref(gw_cinst_t *i)
{
    if (--i->refs > 0)
        return;
    gw_member_parts_free(i);
    for (int k = 0; k < i->n_topics; k++)
        free(i->topics[k]);
    free(i->topics);
    free(i->member_id);
    free(i->key);
    free(i->group);
    free(i->full_group);
    free(i->name);
    atomic_fetch_sub(&i->w->gw->consumer_instances, 1);
    free(i);
}

static char *gw_cons__dup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort();
    return d;
}

static char *gw_cons__key(const char *tenant_id, const char *group, const char *name)
{
    size_t n = strlen(tenant_id) + strlen(group) + strlen(name) + 3;
    char *k = malloc(n);
    if (k == NULL)
        abort();
    snprintf(k, n, "%s/%s/%s", tenant_id, group, name);
    return k;
}

/* ---- answers --------------------------------------------------------------------------- */

static void gw_cons__error(gw_cjob_t *j, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void gw_cons__error(gw_cjob_t *j, int status, int code, const char *fmt, ...)
{
    j->status = status;
    j->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg_text, sizeof(j->msg_text), fmt, ap);
    va_end(ap);
}

/* On the origin: sends the answer and frees the job. */
static void gw_cons__answer(gw_cjob_t *j)
{
    gw_rreq_t *r = j->r;
    if (j->status >= 400)
        gw_rest_error(r, j->status, j->code, j->retry_after, "%s", j->msg_text);
    else
        gw_rest_reply(r, j->status, &j->out);
    cm_sbuf_free(&j->out);
    gw_rest_unref(r);
    free(j);
}

/* Hands a job's answer back to its origin (on the owner, or on the origin itself). */
static void gw_cons__return(gw_worker_t *owner, gw_cjob_t *j)
{
    if (owner == j->origin)
        gw_cons__answer(j);
    else
        h2o_multithread_send_message(&j->origin->cons_done, &j->msg);
}

/* Ends the instance's running job: its answer goes back, the next job starts. */
static void gw_cons__done(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    i->jobs = j->next;
    i->last_used_ms = cm_mono_ms();
    gw_cons__return(i->w, j);
    /* A deleted instance answers what was queued behind the deletion. */
    while (i->closed && i->jobs != NULL) {
        gw_cjob_t *q = i->jobs;
        i->jobs = q->next;
        gw_cons__error(q, 404, 40403, "consumer instance \"%s\" not found", i->name);
        gw_cons__return(i->w, q);
        gw_cons_unref(i);
    }
    if (i->jobs != NULL)
        gw_cons__start(i);
    gw_cons_unref(i); /* the job's */
}

/* Deletes an instance: it leaves its group. */
static void gw_cons__close(gw_cinst_t *i, bool commit)
{
    if (i->closed)
        return;
    if (commit && i->auto_commit)
        gw_member_commit_consumed(i);
    gw_member_leave(i);
    i->closed = true;
    cm_strmap_del(&i->w->consumers, i->key, strlen(i->key));
    gw_cons_unref(i); /* the map's */
}

/* ---- waiting for the membership ------------------------------------------------------------ */

/* True when the instance is a stable member; else the job waits (until the membership is,
 * or its deadline) and false. */
static bool gw_cons__stable(gw_cjob_t *j, int64_t wait_ms)
{
    gw_cinst_t *i = j->inst;
    if (i->state == GW_CS_STABLE && !i->rejoin)
        return true;
    if (j->deadline_ms == 0)
        j->deadline_ms = cm_mono_ms() + wait_ms;
    j->waiting = true;
    gw_member_step(i);
    return false;
}

void gw_cons_kick(gw_cinst_t *i)
{
    gw_cjob_t *j = i->jobs;
    if (j != NULL && j->waiting) {
        j->waiting = false;
        gw_cons__start(i);
    }
}

/* A waiting job's deadline passed: a poll answers no records, anything else 409. */
static void gw_cons__give_up(gw_cjob_t *j)
{
    j->waiting = false;
    if (j->kind == GW_CJ_POLL) {
        j->status = 200;
        cm_sbuf_append(&j->out, "[]", 2);
    } else if (j->inst->state == GW_CS_IDLE) {
        gw_cons__error(j, 409, 40903, "the consumer instance is not subscribed to any topic");
    } else {
        gw_cons__error(j, 409, 40903,
                       "the consumer group is rebalancing; retry once the instance has polled");
    }
    gw_cons__done(j);
}

/* ---- poll -------------------------------------------------------------------------------- */

static gw_cpart_t *gw_cons__part(gw_cinst_t *i, cm_kstr_t full, int32_t partition)
{
    for (int q = 0; q < i->n_parts; q++)
        if (i->parts[q].partition == partition && full.len == (int32_t)strlen(i->parts[q].full) &&
            memcmp(full.ptr, i->parts[q].full, (size_t)full.len) == 0)
            return &i->parts[q];
    return NULL;
}

/* A key or value as REST Proxy v2 shows it: base64 (binary), or a JSON value (json); a
 * value that is not JSON is a JSON string when it is text, else base64. */
static void gw_cons__bytes(cm_jw_t *jw, cm_arena_t *a, const char *key, cm_kbytes_t b, int fmt)
{
    cm_jw_key(jw, key);
    if (b.len < 0) {
        cm_jw_null(jw);
        return;
    }
    if (fmt == GW_CFMT_JSON) {
        cm_json_t *doc = NULL;
        char err[8];
        if (cm_json_parse(a, (const char *)b.ptr, (size_t)b.len, 64, &doc, err, sizeof(err)) == 0) {
            cm_json_write(jw, doc);
            return;
        }
        if (gw_records_utf8_ok(b.ptr, (size_t)b.len)) {
            cm_jw_strn(jw, (const char *)b.ptr, (size_t)b.len);
            return;
        }
    }
    size_t n = cm_b64_encoded_len((size_t)b.len);
    char *at = cm_jw_raw_space(jw, n + 2);
    at[0] = '"';
    cm_b64_encode(b.ptr, (size_t)b.len, at + 1);
    at[n + 1] = '"';
}

typedef struct gw_cons__writer {
    gw_cjob_t *j;
    gw_cpart_t *part;
    cm_arena_t a;
    uint64_t bytes, count;
} gw_cons__writer_t;

static bool gw_cons__record(void *ud, int64_t off, int64_t ts, const cm_record_t *rec)
{
    gw_cons__writer_t *wr = ud;
    gw_cjob_t *j = wr->j;
    if (!j->first && (int64_t)j->out.len >= j->max_bytes)
        return false;
    if (!j->first)
        cm_sbuf_append(&j->out, ",", 1);
    j->first = false;
    cm_jw_t *jw = &j->jw;
    cm_jw_init(jw, &j->out);
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "topic", wr->part->topic);
    gw_cons__bytes(jw, &wr->a, "key", rec->key, j->inst->format);
    gw_cons__bytes(jw, &wr->a, "value", rec->value, j->inst->format);
    cm_jw_kint(jw, "partition", wr->part->partition);
    cm_jw_kint(jw, "offset", off);
    cm_jw_kint(jw, "timestamp", ts);
    cm_jw_obj_end(jw);
    wr->bytes += (uint64_t)(rec->key.len > 0 ? rec->key.len : 0) +
                 (uint64_t)(rec->value.len > 0 ? rec->value.len : 0);
    wr->count++;
    return true;
}

static void gw_cons__poll_end(gw_cjob_t *j)
{
    if (--j->pending > 0)
        return;
    cm_sbuf_append(&j->out, "]", 1);
    j->status = 200;
    gw_cons__done(j);
}

static void gw_cons__fetched(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cjob_t *j = c->ud;
    gw_cinst_t *i = j->inst;
    cm_arena_t a;
    cm_arena_init(&a, 64u << 20);
    cm_fetch_resp_t resp;
    if (st == GW_KCALL_OK && cm_fetch_resp_decode(body, c->api_version, &a, &resp) == 0) {
        gw_cons__writer_t wr = { .j = j };
        cm_arena_init(&wr.a, 256u << 20);
        for (int32_t t = 0; t < resp.responses_n; t++) {
            for (int32_t k = 0; k < resp.responses[t].partitions_n; k++) {
                const cm_fetch_resp_partition_data_t *pd = &resp.responses[t].partitions[k];
                gw_cpart_t *x = gw_cons__part(i, resp.responses[t].topic, pd->partition_index);
                if (x == NULL || x->position < 0)
                    continue; /* reassigned while the fetch was out */
                if (pd->error_code == CM_KERR_OFFSET_OUT_OF_RANGE) {
                    x->position = GW_CPOS_RESET;
                    if (i->state == GW_CS_STABLE)
                        i->state = GW_CS_POSITIONS;
                    continue;
                }
                if (pd->error_code != 0)
                    continue;
                wr.part = x;
                uint64_t before = wr.count;
                bool stopped;
                int64_t next =
                    gw_records_each(pd->records, x->position, gw_cons__record, &wr, &stopped);
                if (wr.count > before || next > x->position) {
                    x->position = next;
                    x->consumed = next;
                }
            }
        }
        cm_arena_free(&wr.a);
        gw_session_meter(&j->ss, false, wr.bytes, wr.count);
        gw_session_charge_after(&j->ss, GW_CHARGE_CONSUME, (double)wr.bytes);
    }
    cm_arena_free(&a);
    gw_cons__poll_end(j);
}

static void gw_cons__poll(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    if (!gw_cons__stable(j, j->timeout_ms))
        return;
    int wait = gw_session_charge(&j->ss, GW_CHARGE_CONSUME, 0);
    if (wait > 0) {
        j->retry_after = wait;
        gw_cons__error(j, 429, 429, "over the consume byte-rate quota; retry in %d s", wait);
        gw_cons__done(j);
        return;
    }
    if (i->auto_commit)
        gw_member_commit_consumed(i);
    const gw_tenant_t *t = gw_cons_tenant(i);
    int64_t left = j->deadline_ms > 0 ? j->deadline_ms - cm_mono_ms() : j->timeout_ms;
    if (left < 0)
        left = 0;
    cm_sbuf_append(&j->out, "[", 1);
    j->first = true;
    j->pending = 1; /* held while the fetches go out */
    /* One Fetch per leader, with the assigned partitions it leads. */
    for (int q = 0; t != NULL && q < i->n_parts; q++) {
        const gw_topic_t *tp = gw_snap_topic(t, i->parts[q].topic);
        if (tp == NULL || i->parts[q].partition >= tp->n_parts || i->parts[q].position < 0 ||
            !gw_session_allowed(&j->ss, GW_RT_TOPIC, tp->name, GW_OP_READ))
            continue;
        int32_t leader = tp->parts[i->parts[q].partition].leader;
        bool done_before = false;
        for (int p = 0; p < q && !done_before; p++) {
            const gw_topic_t *tp2 = gw_snap_topic(t, i->parts[p].topic);
            done_before = tp2 != NULL && i->parts[p].partition < tp2->n_parts &&
                          i->parts[p].position >= 0 &&
                          gw_session_allowed(&j->ss, GW_RT_TOPIC, tp2->name, GW_OP_READ) &&
                          tp2->parts[i->parts[p].partition].leader == leader;
        }
        const gw_broker_t *b = gw_snap_broker(i->w->snap, leader);
        if (done_before || b == NULL || i->w->kpool == NULL)
            continue;
        cm_fetch_req_t req;
        cm_fetch_req_init(&req);
        req.replica_id = -1;
        req.max_wait_ms = (int32_t)left;
        req.min_bytes = 1;
        req.max_bytes = (int32_t)j->max_bytes;
        cm_fetch_req_topic_t *fts = calloc((size_t)i->n_parts, sizeof(*fts));
        cm_fetch_req_partition_t *fps = calloc((size_t)i->n_parts, sizeof(*fps));
        if (fts == NULL || fps == NULL)
            abort();
        req.topics = fts;
        req.topics_n = 0;
        for (int p = q; p < i->n_parts; p++) {
            const gw_topic_t *tp2 = gw_snap_topic(t, i->parts[p].topic);
            if (tp2 == NULL || i->parts[p].partition >= tp2->n_parts || i->parts[p].position < 0 ||
                !gw_session_allowed(&j->ss, GW_RT_TOPIC, tp2->name, GW_OP_READ) ||
                tp2->parts[i->parts[p].partition].leader != leader)
                continue;
            cm_fetch_req_topic_t *ft = &fts[req.topics_n++];
            cm_fetch_req_topic_init(ft);
            ft->topic = cm_kstr_c(i->parts[p].full);
            cm_fetch_req_partition_init(&fps[p]);
            fps[p].partition = i->parts[p].partition;
            fps[p].fetch_offset = i->parts[p].position;
            fps[p].partition_max_bytes = (int32_t)j->max_bytes;
            ft->partitions = &fps[p];
            ft->partitions_n = 1;
        }
        gw_kcall_t *c = gw_kcall_new(i->w->kpool, CM_KAPI_FETCH, GW_CONS__FETCH_VERSION, left,
                                     gw_cons__fetched, j);
        cm_fetch_req_encode(&c->w, GW_CONS__FETCH_VERSION, &req);
        j->pending++;
        gw_kcall_send(i->w->kpool, b, c);
        free(fts);
        free(fps);
    }
    if (j->pending == 1 && left > 0 && i->n_parts == 0) {
        /* Nothing assigned (more members than partitions): wait out the timeout. */
        j->pending = 0;
        cm_sbuf_free(&j->out);
        j->waiting = true;
        if (j->deadline_ms == 0)
            j->deadline_ms = cm_mono_ms() + left;
        return;
    }
    gw_cons__poll_end(j);
}

/* ---- commit and committed offsets ------------------------------------------------------- */

/* Reads {"topic", "partition"[, "offset"]} of a tenant's readable topic; NULL and the
 * error set otherwise. */
static const gw_topic_t *gw_cons__tp(gw_cjob_t *j, const cm_json_t *o, bool with_offset,
                                     int32_t *part, int64_t *offset)
{
    const char *topic = o->type == CM_JSON_OBJECT ? cm_json_get_str(o, "topic") : NULL;
    int64_t p = -1, off = 0;
    if (topic == NULL || !cm_json_get_int(o, "partition", &p) || p < 0 ||
        (with_offset && (!cm_json_get_int(o, "offset", &off) || off < 0))) {
        gw_cons__error(j, 400, 400,
                       with_offset ? "each entry needs \"topic\", \"partition\" and \"offset\" "
                                     "(integers from 0)"
                                   : "each entry needs \"topic\" and \"partition\"");
        return NULL;
    }
    const gw_topic_t *t = gw_snap_topic(j->ss.tenant, topic);
    if (t == NULL || p >= t->n_parts ||
        !gw_session_allowed(&j->ss, GW_RT_TOPIC, t->name, GW_OP_DESCRIBE)) {
        gw_cons__error(j, 404, 40402, "no partition %lld of a topic \"%.249s\" in this cluster",
                       (long long)p, topic);
        return NULL;
    }
    if (!gw_session_allowed(&j->ss, GW_RT_TOPIC, t->name, GW_OP_READ)) {
        gw_cons__error(j, 403, 403, "principal %s may not read topic \"%s\"", j->ss.principal,
                       t->name);
        return NULL;
    }
    *part = (int32_t)p;
    *offset = off;
    return t;
}

/* The entries of body member `key` (an array), or NULL (none: *n = 0); -1 in *n when the
 * body is not of that shape (the error is set). */
static const cm_json_t *gw_cons__list(gw_cjob_t *j, const char *key, int *n)
{
    *n = 0;
    if (j->in == NULL)
        return NULL;
    const cm_json_t *a = cm_json_get(j->in, key);
    if (a == NULL)
        return NULL;
    if (a->type != CM_JSON_ARRAY) {
        gw_cons__error(j, 400, 400, "\"%s\" must be an array", key);
        *n = -1;
        return NULL;
    }
    *n = (int)a->len;
    return a->child;
}

static void gw_cons__committed_answer(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cjob_t *j = c->ud;
    gw_cinst_t *i = j->inst;
    cm_arena_t a;
    cm_arena_init(&a, 4u << 20);
    if (j->kind == GW_CJ_COMMIT) {
        cm_offset_commit_resp_t resp;
        int16_t err = -1;
        if (st == GW_KCALL_OK &&
            cm_offset_commit_resp_decode(body, c->api_version, &a, &resp) == 0) {
            err = 0;
            for (int32_t t = 0; t < resp.topics_n; t++)
                for (int32_t k = 0; k < resp.topics[t].partitions_n; k++)
                    if (resp.topics[t].partitions[k].error_code != 0 && err == 0)
                        err = resp.topics[t].partitions[k].error_code;
        }
        if (err == 0)
            j->status = 204;
        else if (err > 0 && gw_member_stale(i, err))
            gw_cons__error(j, 409, 40903,
                           "the consumer group rebalanced (%s): poll, then commit again",
                           cm_kerr_name(err));
        else
            gw_cons__error(j, 503, 503, "cannot commit now: %s",
                           err > 0 ? cm_kerr_name(err) : c->why);
    } else {
        cm_offset_fetch_resp_t resp;
        if (st != GW_KCALL_OK ||
            cm_offset_fetch_resp_decode(body, c->api_version, &a, &resp) != 0 ||
            resp.error_code != 0) {
            if (st == GW_KCALL_OK && resp.error_code != 0)
                gw_member_stale(i, resp.error_code);
            gw_cons__error(j, 503, 503, "cannot read the committed offsets now");
        } else {
            cm_jw_t *jw = &j->jw;
            cm_jw_init(jw, &j->out);
            cm_jw_obj(jw);
            cm_jw_key(jw, "offsets");
            cm_jw_arr(jw);
            size_t tl = strlen(i->full_group) - strlen(i->group);
            for (int32_t t = 0; t < resp.topics_n; t++) {
                cm_kstr_t full = resp.topics[t].name;
                if (full.len <= (int32_t)tl)
                    continue;
                for (int32_t k = 0; k < resp.topics[t].partitions_n; k++) {
                    const cm_offset_fetch_resp_partition_t *p = &resp.topics[t].partitions[k];
                    cm_jw_obj(jw);
                    cm_jw_key(jw, "topic");
                    cm_jw_strn(jw, full.ptr + tl, (size_t)full.len - tl);
                    cm_jw_kint(jw, "partition", p->partition_index);
                    cm_jw_kint(jw, "offset", p->error_code == 0 ? p->committed_offset : -1);
                    cm_jw_key(jw, "metadata");
                    cm_jw_strn(jw, p->metadata.ptr,
                               p->metadata.len > 0 ? (size_t)p->metadata.len : 0);
                    cm_jw_obj_end(jw);
                }
            }
            cm_jw_arr_end(jw);
            cm_jw_obj_end(jw);
            j->status = 200;
        }
    }
    cm_arena_free(&a);
    gw_cons__done(j);
}

/* POST offsets (commit) and GET offsets (committed), for the listed partitions or, with
 * none listed, what was consumed (commit) or what is assigned (committed). */
static void gw_cons__offsets(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    bool commit = j->kind == GW_CJ_COMMIT;
    if (!gw_cons__stable(j, i->w->gw->cfg.request_timeout_ms))
        return;
    int n;
    const cm_json_t *e = gw_cons__list(j, commit ? "offsets" : "partitions", &n);
    if (n < 0) {
        gw_cons__done(j);
        return;
    }
    int cap = n > 0 ? n : i->n_parts;
    char **names = calloc((size_t)cap + 1, sizeof(*names));
    int32_t *parts = calloc((size_t)cap + 1, sizeof(*parts));
    int64_t *offs = calloc((size_t)cap + 1, sizeof(*offs));
    if (names == NULL || parts == NULL || offs == NULL)
        abort();
    int m = 0;
    bool bad = false;
    for (; e != NULL && !bad; e = e->next) {
        int64_t off;
        const gw_topic_t *t = gw_cons__tp(j, e, commit, &parts[m], &off);
        if (t == NULL) {
            bad = true;
            break;
        }
        names[m] = (char *)t->full;
        offs[m++] = off + 1; /* REST Proxy v2: the offset of the last record processed */
    }
    for (int q = 0; n == 0 && q < i->n_parts; q++) {
        if (commit && i->parts[q].consumed < 0)
            continue;
        names[m] = i->parts[q].full;
        parts[m] = i->parts[q].partition;
        offs[m++] = i->parts[q].consumed;
    }
    const gw_broker_t *b = gw_member_coordinator(i);
    if (!bad && (m == 0 && commit)) {
        j->status = 204;
    } else if (!bad && (b == NULL || i->w->kpool == NULL)) {
        i->rejoin = true;
        gw_cons__error(j, 503, 503, "the group's coordinator is not available now");
        bad = true;
    }
    if (bad || j->status != 0) {
        free(names), free(parts), free(offs);
        gw_cons__done(j);
        return;
    }
    gw_kcall_t *c;
    if (commit) {
        cm_offset_commit_req_t req;
        cm_offset_commit_req_init(&req);
        req.group_id = cm_kstr_c(i->full_group);
        req.generation_id_or_member_epoch = i->generation;
        req.member_id = cm_kstr_c(i->member_id != NULL ? i->member_id : "");
        cm_offset_commit_req_topic_t *ts = calloc((size_t)m, sizeof(*ts));
        cm_offset_commit_req_partition_t *ps = calloc((size_t)m, sizeof(*ps));
        if (ts == NULL || ps == NULL)
            abort();
        req.topics = ts;
        req.topics_n = m;
        for (int k = 0; k < m; k++) {
            cm_offset_commit_req_topic_init(&ts[k]);
            ts[k].name = cm_kstr_c(names[k]);
            cm_offset_commit_req_partition_init(&ps[k]);
            ps[k].partition_index = parts[k];
            ps[k].committed_offset = offs[k];
            ts[k].partitions = &ps[k];
            ts[k].partitions_n = 1;
        }
        c = gw_kcall_new(i->w->kpool, CM_KAPI_OFFSET_COMMIT, GW_CONS__COMMIT_VERSION, 0,
                         gw_cons__committed_answer, j);
        cm_offset_commit_req_encode(&c->w, GW_CONS__COMMIT_VERSION, &req);
        free(ts), free(ps);
    } else {
        cm_offset_fetch_req_t req;
        cm_offset_fetch_req_init(&req);
        req.group_id = cm_kstr_c(i->full_group);
        cm_offset_fetch_req_topic_t *ts = calloc((size_t)m + 1, sizeof(*ts));
        if (ts == NULL)
            abort();
        req.topics = ts;
        req.topics_n = m;
        for (int k = 0; k < m; k++) {
            cm_offset_fetch_req_topic_init(&ts[k]);
            ts[k].name = cm_kstr_c(names[k]);
            ts[k].partition_indexes = &parts[k];
            ts[k].partition_indexes_n = 1;
        }
        c = gw_kcall_new(i->w->kpool, CM_KAPI_OFFSET_FETCH, GW_CONS__OFFSETS_VERSION, 0,
                         gw_cons__committed_answer, j);
        cm_offset_fetch_req_encode(&c->w, GW_CONS__OFFSETS_VERSION, &req);
        free(ts);
    }
    gw_kcall_send(i->w->kpool, b, c);
    free(names), free(parts), free(offs);
}

/* ---- seek ------------------------------------------------------------------------------ */

static void gw_cons__seek(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    if (!gw_cons__stable(j, i->w->gw->cfg.request_timeout_ms))
        return;
    if (j->phase == 1) { /* the ends were looked up */
        j->status = 204;
        gw_cons__done(j);
        return;
    }
    bool to_end = j->kind != GW_CJ_SEEK;
    int n;
    const cm_json_t *e = gw_cons__list(j, to_end ? "partitions" : "offsets", &n);
    if (n <= 0) {
        if (n == 0)
            gw_cons__error(j, 400, 400, "the body needs \"%s\": [...]",
                           to_end ? "partitions" : "offsets");
        gw_cons__done(j);
        return;
    }
    /* Every entry is checked before any position moves. */
    for (int pass = 0; pass < 2; pass++) {
        for (const cm_json_t *x = e; x != NULL; x = x->next) {
            int32_t p;
            int64_t off;
            const gw_topic_t *t = gw_cons__tp(j, x, !to_end, &p, &off);
            if (t == NULL) {
                gw_cons__done(j);
                return;
            }
            gw_cpart_t *part = gw_cons__part(i, cm_kstr_c(t->full), p);
            if (part == NULL) {
                gw_cons__error(j, 409, 40903,
                               "partition %d of topic \"%s\" is not assigned to this instance", p,
                               t->name);
                gw_cons__done(j);
                return;
            }
            if (pass == 1)
                part->position = !to_end                       ? off
                                 : j->kind == GW_CJ_SEEK_BEGIN ? GW_CPOS_EARLIEST
                                                               : GW_CPOS_LATEST;
        }
    }
    if (!to_end) {
        j->status = 204;
        gw_cons__done(j);
        return;
    }
    j->phase = 1;
    i->state = GW_CS_POSITIONS;
    gw_cons__stable(j, i->w->gw->cfg.request_timeout_ms);
}

/* ---- subscription ---------------------------------------------------------------------- */

static void gw_cons__topics_free(gw_cinst_t *i)
{
    for (int k = 0; k < i->n_topics; k++)
        free(i->topics[k]);
    free(i->topics);
    i->topics = NULL;
    i->n_topics = 0;
}

static void gw_cons__subscribe(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    int n;
    const cm_json_t *e = gw_cons__list(j, "topics", &n);
    if (n == 0 && j->in != NULL && cm_json_get(j->in, "topic_pattern") != NULL)
        gw_cons__error(j, 400, 400, "topic_pattern is not supported; list the topics");
    else if (n == 0)
        gw_cons__error(j, 400, 400, "the body needs \"topics\": [\"name\", ...]");
    for (const cm_json_t *x = e; n > 0 && x != NULL && j->status == 0; x = x->next) {
        const gw_topic_t *t =
            x->type == CM_JSON_STRING ? gw_snap_topic(j->ss.tenant, x->str) : NULL;
        if (x->type != CM_JSON_STRING)
            gw_cons__error(j, 400, 400, "\"topics\" must hold topic names");
        else if (t == NULL || !gw_session_allowed(&j->ss, GW_RT_TOPIC, t->name, GW_OP_DESCRIBE))
            gw_cons__error(j, 404, 40401, "no topic \"%.249s\" in this cluster", x->str);
        else if (!gw_session_allowed(&j->ss, GW_RT_TOPIC, t->name, GW_OP_READ))
            gw_cons__error(j, 403, 403, "principal %s may not read topic \"%s\"", j->ss.principal,
                           t->name);
    }
    if (j->status == 0) {
        if (i->auto_commit)
            gw_member_commit_consumed(i);
        gw_cons__topics_free(i);
        i->topics = calloc((size_t)n, sizeof(*i->topics));
        if (i->topics == NULL)
            abort();
        for (const cm_json_t *x = e; x != NULL; x = x->next)
            i->topics[i->n_topics++] = gw_cons__dup(x->str);
        gw_member_subscribe(i);
        j->status = 204;
    }
    gw_cons__done(j);
}

/* GET subscription, GET assignments. */
static void gw_cons__show(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    cm_jw_t *jw = &j->jw;
    cm_jw_init(jw, &j->out);
    cm_jw_obj(jw);
    if (j->kind == GW_CJ_SUBSCRIPTION) {
        cm_jw_key(jw, "topics");
        cm_jw_arr(jw);
        for (int k = 0; k < i->n_topics; k++)
            cm_jw_str(jw, i->topics[k]);
    } else {
        cm_jw_key(jw, "partitions");
        cm_jw_arr(jw);
        for (int q = 0; q < i->n_parts; q++) {
            cm_jw_obj(jw);
            cm_jw_kstr(jw, "topic", i->parts[q].topic);
            cm_jw_kint(jw, "partition", i->parts[q].partition);
            cm_jw_obj_end(jw);
        }
    }
    cm_jw_arr_end(jw);
    cm_jw_obj_end(jw);
    j->status = 200;
    gw_cons__done(j);
}

/* ---- running jobs on the owner ----------------------------------------------------------- */

static void gw_cons__start(gw_cinst_t *i)
{
    gw_cjob_t *j = i->jobs;
    switch (j->kind) {
    case GW_CJ_DELETE:
        gw_cons__close(i, true);
        j->status = 204;
        gw_cons__done(j);
        break;
    case GW_CJ_SUBSCRIBE:
        gw_cons__subscribe(j);
        break;
    case GW_CJ_UNSUBSCRIBE:
        if (i->auto_commit)
            gw_member_commit_consumed(i);
        gw_member_leave(i);
        gw_cons__topics_free(i);
        j->status = 204;
        gw_cons__done(j);
        break;
    case GW_CJ_SUBSCRIPTION:
    case GW_CJ_ASSIGNMENTS:
        gw_cons__show(j);
        break;
    case GW_CJ_COMMIT:
    case GW_CJ_COMMITTED:
        if (i->state == GW_CS_IDLE) {
            gw_cons__error(j, 409, 40903, "the consumer instance is not subscribed to any topic");
            gw_cons__done(j);
        } else {
            gw_cons__offsets(j);
        }
        break;
    case GW_CJ_SEEK:
    case GW_CJ_SEEK_BEGIN:
    case GW_CJ_SEEK_END:
        gw_cons__seek(j);
        break;
    case GW_CJ_POLL:
        gw_cons__poll(j);
        break;
    case GW_CJ_CREATE:
        break; /* never queued */
    }
}

/* Reads a setting of the create body: a string (REST Proxy sends "true" as a string) or a
 * boolean. */
static const char *gw_cons__setting(const cm_json_t *in, const char *key)
{
    const cm_json_t *v = in != NULL ? cm_json_get(in, key) : NULL;
    if (v == NULL)
        return NULL;
    if (v->type == CM_JSON_BOOL)
        return v->b ? "true" : "false";
    return v->type == CM_JSON_STRING ? v->str : "";
}

static void gw_cons__create(gw_worker_t *w, gw_cjob_t *j)
{
    const char *fmt = gw_cons__setting(j->in, "format");
    const char *reset = gw_cons__setting(j->in, "auto.offset.reset");
    const char *commit = gw_cons__setting(j->in, "auto.commit.enable");
    char *key = gw_cons__key(j->ss.tenant->id, j->group, j->name);
    if (fmt != NULL && strcmp(fmt, "binary") != 0 && strcmp(fmt, "json") != 0) {
        gw_cons__error(j, 422, 42204, "format must be \"binary\" or \"json\"");
    } else if (reset != NULL && strcmp(reset, "earliest") != 0 && strcmp(reset, "latest") != 0) {
        gw_cons__error(j, 422, 42204, "auto.offset.reset must be \"earliest\" or \"latest\"");
    } else if (commit != NULL && strcmp(commit, "true") != 0 && strcmp(commit, "false") != 0) {
        gw_cons__error(j, 422, 42204, "auto.commit.enable must be \"true\" or \"false\"");
    } else if (cm_strmap_get(&w->consumers, key, strlen(key)) != NULL) {
        gw_cons__error(j, 409, 40902, "consumer instance \"%s\" already exists in group \"%s\"",
                       j->name, j->group);
    } else if (atomic_fetch_add(&w->gw->consumer_instances, 1) >=
               w->gw->cfg.consumer_instances_max) {
        atomic_fetch_sub(&w->gw->consumer_instances, 1);
        j->retry_after = 60;
        gw_cons__error(j, 429, 429,
                       "the gateway holds its maximum of consumer instances; "
                       "delete unused ones or retry later");
    } else {
        gw_cinst_t *i = calloc(1, sizeof(*i));
        if (i == NULL)
            abort();
        i->w = w;
        i->key = key;
        key = NULL;
        snprintf(i->tenant_id, sizeof(i->tenant_id), "%s", j->ss.tenant->id);
        snprintf(i->principal, sizeof(i->principal), "%s", j->ss.principal);
        i->group = gw_cons__dup(j->group);
        i->name = gw_cons__dup(j->name);
        size_t n = strlen(j->ss.tenant->name) + strlen(j->group) + 2;
        i->full_group = malloc(n);
        if (i->full_group == NULL)
            abort();
        snprintf(i->full_group, n, "%s.%s", j->ss.tenant->name, j->group);
        i->format = fmt != NULL && strcmp(fmt, "json") == 0 ? GW_CFMT_JSON : GW_CFMT_BINARY;
        i->reset_latest = reset == NULL || strcmp(reset, "latest") == 0;
        i->auto_commit = commit == NULL || strcmp(commit, "true") == 0;
        i->coordinator = -1;
        i->generation = -1;
        i->refs = 1; /* the map's */
        i->last_used_ms = cm_mono_ms();
        cm_strmap_put(&w->consumers, i->key, strlen(i->key), i);
        cm_jw_t *jw = &j->jw;
        cm_jw_init(jw, &j->out);
        cm_jw_obj(jw);
        cm_jw_kstr(jw, "instance_id", i->name);
        cm_jw_kstr(jw, "base_uri", j->base_uri);
        cm_jw_obj_end(jw);
        j->status = 200;
    }
    free(key);
}

/* On the owner: a job arrives. */
static void gw_cons__run(gw_cjob_t *j)
{
    gw_worker_t *w = j->owner;
    if (atomic_load(&w->gw->stopping)) {
        gw_cons__error(j, 503, 503, "the gateway is stopping");
        gw_cons__return(w, j);
        return;
    }
    if (j->kind == GW_CJ_CREATE) {
        gw_cons__create(w, j);
        gw_cons__return(w, j);
        return;
    }
    char *key = gw_cons__key(j->ss.tenant->id, j->group, j->name);
    gw_cinst_t *i = cm_strmap_get(&w->consumers, key, strlen(key));
    free(key);
    if (i == NULL || strcmp(i->principal, j->ss.principal) != 0) {
        gw_cons__error(j, 404, 40403, "consumer instance \"%s\" not found in group \"%s\"", j->name,
                       j->group);
        gw_cons__return(w, j);
        return;
    }
    i->last_used_ms = cm_mono_ms();
    gw_cons_ref(i);
    j->inst = i;
    gw_cjob_t **at = &i->jobs;
    while (*at != NULL)
        at = &(*at)->next;
    *at = j;
    if (i->jobs == j)
        gw_cons__start(i);
}

void gw_consumers_on_jobs(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        gw_cjob_t *j = H2O_STRUCT_FROM_MEMBER(gw_cjob_t, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        gw_cons__run(j);
    }
    (void)r;
}

void gw_consumers_on_done(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        gw_cjob_t *j = H2O_STRUCT_FROM_MEMBER(gw_cjob_t, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        gw_cons__answer(j);
    }
    (void)r;
}

/* ---- the tick ----------------------------------------------------------------------------- */

static void gw_cons__on_tick(h2o_timeout_entry_t *e)
{
    gw_worker_t *w = H2O_STRUCT_FROM_MEMBER(gw_worker_t, cons_tick, e);
    if (atomic_load(&w->gw->stopping))
        return;
    int64_t now = cm_mono_ms();
    gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen);
    gw_cinst_t *idle[64];
    int n_idle = 0;
    size_t it = 0;
    gw_cinst_t *i;
    while ((i = cm_strmap_next(&w->consumers, &it, NULL, NULL)) != NULL) {
        gw_member_tick(i, now);
        gw_cjob_t *j = i->jobs;
        if (j != NULL && j->waiting && now >= j->deadline_ms) {
            gw_cons__give_up(j);
            continue; /* the next job may have started: the instance is not idle */
        }
        if (i->jobs == NULL && now - i->last_used_ms >= w->gw->cfg.consumer_instance_timeout_ms &&
            n_idle < 64)
            idle[n_idle++] = i;
    }
    for (int k = 0; k < n_idle; k++) {
        cm_log_info("consumer instance expired", "group=%s instance=%s idle_ms=%lld",
                    idle[k]->group, idle[k]->name, (long long)(now - idle[k]->last_used_ms));
        gw_cons__close(idle[k], true);
    }
    h2o_timeout_link(w->loop, &w->cons_timeout, &w->cons_tick);
}

void gw_consumers_start(gw_worker_t *w)
{
    cm_strmap_init(&w->consumers);
    h2o_timeout_init(w->loop, &w->cons_timeout, GW_CONS__TICK_MS);
    w->cons_tick.cb = gw_cons__on_tick;
    h2o_timeout_link(w->loop, &w->cons_timeout, &w->cons_tick);
}

void gw_consumers_stop(gw_worker_t *w)
{
    if (h2o_timeout_is_linked(&w->cons_tick))
        h2o_timeout_unlink(&w->cons_tick);
    h2o_timeout_dispose(w->loop, &w->cons_timeout);
    /* The broker calls ended with the pool; what waits is answered, then every instance goes. */
    size_t it = 0;
    gw_cinst_t *i;
    while ((i = cm_strmap_next(&w->consumers, &it, NULL, NULL)) != NULL) {
        gw_cons_ref(i);
        gw_cons__close(i, false);
        while (i->jobs != NULL) {
            gw_cjob_t *j = i->jobs;
            i->jobs = j->next;
            gw_cons__error(j, 503, 503, "the gateway is stopping");
            gw_cons__return(w, j);
            gw_cons_unref(i);
        }
        gw_cons_unref(i);
        it = 0; /* the map changed */
    }
    cm_strmap_free(&w->consumers);
}

/* ---- the REST routes (origin) ------------------------------------------------------------------
 */

/* 1 to 200 of a-z, A-Z, 0-9, '.', '_', '-'. */
static bool gw_cons__name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
              (s[k] >= '0' && s[k] <= '9') || s[k] == '.' || s[k] == '_' || s[k] == '-'))
            return false;
    return true;
}

static bool gw_cons__query(gw_rreq_t *r, const char *name, int64_t lo, int64_t hi, int64_t *v)
{
    const char *s = cm_http_query(r->req, &r->arena, name);
    if (s == NULL)
        return true;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || x < lo || x > hi) {
        gw_rest_error(r, 400, 400, 0, "%s must be an integer from %lld to %lld", name,
                      (long long)lo, (long long)hi);
        return false;
    }
    *v = x;
    return true;
}

/* The kind of call from the method and the path after .../instances/{i}; -1: none. */
static int gw_cons__kind(gw_rreq_t *r)
{
    const char *sub = r->nseg >= 9 ? r->seg[8] : "";
    bool post = cm_http_method_is(r->req, "POST"), get = cm_http_method_is(r->req, "GET"),
         del = cm_http_method_is(r->req, "DELETE");
    if (r->nseg == 6)
        return GW_CJ_CREATE;
    if (r->nseg == 8)
        return GW_CJ_DELETE;
    if (r->nseg == 10)
        return strcmp(r->seg[9], "beginning") == 0 ? GW_CJ_SEEK_BEGIN : GW_CJ_SEEK_END;
    if (strcmp(sub, "subscription") == 0)
        return post ? GW_CJ_SUBSCRIBE : get ? GW_CJ_SUBSCRIPTION : GW_CJ_UNSUBSCRIBE;
    if (strcmp(sub, "assignments") == 0)
        return GW_CJ_ASSIGNMENTS;
    if (strcmp(sub, "offsets") == 0)
        return post ? GW_CJ_COMMIT : GW_CJ_COMMITTED;
    if (strcmp(sub, "positions") == 0)
        return GW_CJ_SEEK;
    if (strcmp(sub, "records") == 0)
        return GW_CJ_POLL;
    (void)del;
    return -1;
}

void gw_consumers_handle(gw_rreq_t *r)
{
    gw_t *gw = r->w->gw;
    int kind = gw_cons__kind(r);
    const char *group = r->seg[5];
    if (kind < 0 || !gw_rest_can_call(r))
        return;
    if (!gw_group_name_ok(group)) {
        gw_rest_error(r, 404, 404, 0, "no consumer group \"%.249s\" in this cluster", group);
        return;
    }
    if (!gw_session_allowed(&r->ss, GW_RT_GROUP, group, GW_OP_READ)) {
        gw_rest_error(r, 403, 403, 0, "principal %s may not read group \"%s\"", r->ss.principal,
                      group);
        return;
    }
    gw_cjob_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    j->r = r;
    j->origin = r->w;
    j->kind = (gw_cjob_kind_t)kind;
    j->group = group;
    j->ss = r->ss;
    j->timeout_ms = GW_CONS__POLL_TIMEOUT_MS;
    j->max_bytes = gw->cfg.fetch_bytes_max < (1 << 20) ? gw->cfg.fetch_bytes_max : (1 << 20);
    cm_sbuf_init(&j->out);
    bool ok = true;
    if (r->req->entity.len > 0 && kind != GW_CJ_POLL && kind != GW_CJ_DELETE) {
        j->in = gw_rest_json_body(r);
        ok = j->in != NULL;
    } else if (kind == GW_CJ_CREATE || kind == GW_CJ_SUBSCRIBE || kind == GW_CJ_SEEK ||
               kind == GW_CJ_SEEK_BEGIN || kind == GW_CJ_SEEK_END) {
        gw_rest_error(r, 400, 400, 0, "this call needs a JSON body");
        ok = false;
    }
    if (ok && kind == GW_CJ_POLL)
        ok = gw_cons__query(r, "timeout", 0, gw->cfg.fetch_wait_max_ms, &j->timeout_ms) &&
             gw_cons__query(r, "max_bytes", 1, gw->cfg.fetch_bytes_max, &j->max_bytes);
    if (ok && kind == GW_CJ_CREATE) {
        const char *name = cm_json_get_str(j->in, "name");
        if (cm_json_get(j->in, "name") != NULL && (name == NULL || !gw_cons__name_ok(name))) {
            gw_rest_error(r, 422, 42204, 0,
                          "name must be 1 to 200 of a-z, A-Z, 0-9, '.', '_' and '-'");
            ok = false;
        } else if (name == NULL) {
            uint8_t rnd[8];
            char *gen = cm_arena_alloc(&r->arena, 32);
            if (gen == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1)
                abort();
            snprintf(gen, 32, "rest-consumer-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                     rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
            name = gen;
        }
        j->name = name;
        if (ok) {
            h2o_req_t *q = r->req;
            cm_sbuf_t s;
            cm_sbuf_init(&s);
            cm_sbuf_printf(&s, "%s://%.*s/kafka/v2/clusters/%s/consumers/%s/instances/%s",
                           q->scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http",
                           (int)q->authority.len, q->authority.base, r->ss.tenant->cluster_id,
                           group, name);
            char *uri = cm_arena_alloc(&r->arena, s.len + 1);
            if (uri == NULL)
                abort();
            memcpy(uri, s.buf, s.len);
            uri[s.len] = '\0';
            j->base_uri = uri;
            cm_sbuf_free(&s);
        }
    } else if (ok) {
        j->name = r->seg[7];
        if (!gw_cons__name_ok(j->name)) {
            gw_rest_error(r, 404, 40403, 0, "consumer instance \"%.200s\" not found", j->name);
            ok = false;
        }
    }
    if (!ok) {
        cm_sbuf_free(&j->out);
        free(j);
        return;
    }
    /* The owner: by a hash of the instance's identity, the same from every worker. */
    char key[600];
    int n = snprintf(key, sizeof(key), "%s/%s/%s", r->ss.tenant->id, group, j->name);
    uint32_t h =
        (uint32_t)cm_murmur2(key, (size_t)(n < (int)sizeof(key) ? n : (int)sizeof(key) - 1));
    j->owner = &gw->workers[h % (uint32_t)gw->n_workers];
    gw_rest_ref(r);
    if (j->owner == r->w)
        gw_cons__run(j);
    else
        h2o_multithread_send_message(&j->owner->cons_jobs, &j->msg);
}
