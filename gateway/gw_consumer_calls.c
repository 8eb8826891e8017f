/*
 * The calls on a REST consumer instance that read or move its positions: poll, commit and
 * committed offsets, seek, and the subscription. They run on the instance's owner, one job
 * at a time (gw_consumer.h), and end in gw_cons_done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_b64.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_time.h"
#include "gw_consumer.h"
#include "gw_kafka.h"
#include "gw_meta.h"

/* ---- poll -------------------------------------------------------------------------------- */

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
    cm_arena_t a;
} gw_cons__writer_t;

static bool gw_cons__record(void *ud, const gw_cpart_t *part, int64_t off, int64_t ts,
                            const cm_record_t *rec)
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
    cm_jw_kstr(jw, "topic", part->topic);
    gw_cons__bytes(jw, &wr->a, "key", rec->key, j->inst->format);
    gw_cons__bytes(jw, &wr->a, "value", rec->value, j->inst->format);
    cm_jw_kint(jw, "partition", part->partition);
    cm_jw_kint(jw, "offset", off);
    cm_jw_kint(jw, "timestamp", ts);
    cm_jw_obj_end(jw);
    return true;
}

static void gw_cons__poll_end(gw_cjob_t *j)
{
    if (--j->pending > 0)
        return;
    cm_sbuf_append(&j->out, "]", 1);
    j->status = 200;
    gw_cons_done(j);
}

static void gw_cons__fetched(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_cjob_t *j = c->ud;
    cm_arena_t a;
    cm_arena_init(&a, 64u << 20);
    cm_fetch_resp_t resp;
    if (st == GW_KCALL_OK && cm_fetch_resp_decode(body, c->api_version, &a, &resp) == 0) {
        gw_cons__writer_t wr = { .j = j };
        cm_arena_init(&wr.a, 256u << 20);
        uint64_t bytes = 0, count = 0;
        gw_member_take(j->inst, &resp, gw_cons__record, &wr, &bytes, &count);
        cm_arena_free(&wr.a);
        gw_session_meter(&j->ss, false, bytes, count);
        gw_session_charge_after(&j->ss, GW_CHARGE_CONSUME, (double)bytes);
    }
    cm_arena_free(&a);
    gw_cons__poll_end(j);
}

typedef struct gw_member__take {
    gw_member_record_fn fn;
    void *ud;
    gw_cpart_t *part;
    uint64_t bytes, count;
} gw_member__take_t;

static bool gw_member__take_one(void *ud, int64_t off, int64_t ts, const cm_record_t *rec)
{
    gw_member__take_t *tk = ud;
    if (!tk->fn(tk->ud, tk->part, off, ts, rec))
        return false;
    tk->bytes += (uint64_t)(rec->key.len > 0 ? rec->key.len : 0) +
                 (uint64_t)(rec->value.len > 0 ? rec->value.len : 0);
    tk->count++;
    return true;
}

void gw_member_take(gw_cinst_t *i, const cm_fetch_resp_t *resp, gw_member_record_fn fn, void *ud,
                    uint64_t *bytes, uint64_t *count)
{
    gw_member__take_t tk = { fn, ud, NULL, 0, 0 };
    for (int32_t t = 0; t < resp->responses_n; t++) {
        for (int32_t k = 0; k < resp->responses[t].partitions_n; k++) {
            const cm_fetch_resp_partition_data_t *pd = &resp->responses[t].partitions[k];
            gw_cpart_t *x = gw_member_part(i, resp->responses[t].topic, pd->partition_index);
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
            tk.part = x;
            uint64_t before = tk.count;
            bool stopped;
            int64_t next =
                gw_records_each(pd->records, x->position, gw_member__take_one, &tk, &stopped);
            if (tk.count > before || next > x->position) {
                x->position = next;
                x->consumed = next;
            }
        }
    }
    *bytes = tk.bytes;
    *count = tk.count;
}

/* The leader to fetch an assigned partition from: -1 when it is not to be fetched now (its
 * position is not known, its topic is gone or no longer readable by the caller). */
static int32_t gw_cons__leader(const gw_session_t *ss, const gw_tenant_t *t, const gw_cpart_t *x)
{
    const gw_topic_t *tp = t != NULL ? gw_snap_topic(t, x->topic) : NULL;
    if (tp == NULL || x->partition >= tp->n_parts || x->position < 0 ||
        !gw_session_allowed(ss, CM_ACL_RT_TOPIC, tp->name, CM_ACL_OP_READ))
        return -1;
    return tp->parts[x->partition].leader;
}

int gw_member_fetch(gw_cinst_t *i, const gw_session_t *ss, int64_t wait_ms, int32_t max_bytes,
                    gw_kcall_fn cb, void *ud)
{
    const gw_tenant_t *t = gw_cons_tenant(i);
    int sent = 0;
    /* One Fetch per leader, with the assigned partitions it leads. */
    for (int q = 0; q < i->n_parts; q++) {
        int32_t leader = gw_cons__leader(ss, t, &i->parts[q]);
        bool done_before = false;
        for (int p = 0; p < q && !done_before; p++)
            done_before = gw_cons__leader(ss, t, &i->parts[p]) == leader;
        const gw_broker_t *b = leader >= 0 ? gw_snap_broker(i->w->snap, leader) : NULL;
        if (done_before || b == NULL || !gw_cons_can_call(i))
            continue;
        cm_fetch_req_t req;
        cm_fetch_req_init(&req);
        req.replica_id = -1;
        req.max_wait_ms = (int32_t)wait_ms;
        req.min_bytes = 1;
        req.max_bytes = max_bytes;
        cm_fetch_req_topic_t *fts = calloc((size_t)i->n_parts, sizeof(*fts));
        cm_fetch_req_partition_t *fps = calloc((size_t)i->n_parts, sizeof(*fps));
        if (fts == NULL || fps == NULL)
            abort();
        req.topics = fts;
        req.topics_n = 0;
        for (int p = q; p < i->n_parts; p++) {
            if (gw_cons__leader(ss, t, &i->parts[p]) != leader)
                continue;
            cm_fetch_req_topic_t *ft = &fts[req.topics_n++];
            cm_fetch_req_topic_init(ft);
            ft->topic = cm_kstr_c(i->parts[p].full);
            cm_fetch_req_partition_init(&fps[p]);
            fps[p].partition = i->parts[p].partition;
            fps[p].fetch_offset = i->parts[p].position;
            fps[p].partition_max_bytes = max_bytes;
            ft->partitions = &fps[p];
            ft->partitions_n = 1;
        }
        gw_kcall_t *c = gw_kcall_new(i->w->kpool, CM_KAPI_FETCH, GW_FETCH_VERSION, wait_ms, cb, ud);
        c->held = wait_ms > 0; /* a long poll */
        cm_fetch_req_encode(&c->w, GW_FETCH_VERSION, &req);
        sent++;
        gw_kcall_send(i->w->kpool, b, c);
        free(fts);
        free(fps);
    }
    return sent;
}

void gw_cons_poll(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    if (!gw_cons_stable(j, j->timeout_ms))
        return;
    int wait = gw_session_charge(&j->ss, GW_CHARGE_CONSUME, 0);
    if (wait > 0) {
        j->retry_after = wait;
        gw_cons_error(j, 429, 429, "over the consume byte-rate quota; retry in %d s", wait);
        gw_cons_done(j);
        return;
    }
    if (i->auto_commit)
        gw_member_commit_consumed(i);
    int64_t left = j->deadline_ms > 0 ? j->deadline_ms - cm_mono_ms() : j->timeout_ms;
    if (left < 0)
        left = 0;
    cm_sbuf_append(&j->out, "[", 1);
    j->first = true;
    j->pending = 1; /* held while the fetches go out */
    j->pending += gw_member_fetch(i, &j->ss, left, (int32_t)j->max_bytes, gw_cons__fetched, j);
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
        gw_cons_error(j, 400, 400,
                      with_offset ? "each entry needs \"topic\", \"partition\" and \"offset\" "
                                    "(integers from 0)"
                                  : "each entry needs \"topic\" and \"partition\"");
        return NULL;
    }
    const gw_topic_t *t = gw_snap_topic(j->ss.tenant, topic);
    if (t == NULL || p >= t->n_parts ||
        !gw_session_allowed(&j->ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_DESCRIBE)) {
        gw_cons_error(j, 404, 40402, "no partition %lld of a topic \"%.249s\" in this cluster",
                      (long long)p, topic);
        return NULL;
    }
    if (!gw_session_allowed(&j->ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_READ)) {
        gw_cons_error(j, 403, 403, "principal %s may not read topic \"%s\"", j->ss.principal,
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
        gw_cons_error(j, 400, 400, "\"%s\" must be an array", key);
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
            gw_cons_error(j, 409, 40903,
                          "the consumer group rebalanced (%s): poll, then commit again",
                          cm_kerr_name(err));
        else
            gw_cons_error(j, 503, 503, "cannot commit now: %s",
                          err > 0 ? cm_kerr_name(err) : c->why);
    } else {
        cm_offset_fetch_resp_t resp;
        if (st != GW_KCALL_OK ||
            cm_offset_fetch_resp_decode(body, c->api_version, &a, &resp) != 0 ||
            resp.error_code != 0) {
            if (st == GW_KCALL_OK && resp.error_code != 0)
                gw_member_stale(i, resp.error_code);
            gw_cons_error(j, 503, 503, "cannot read the committed offsets now");
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
    gw_cons_done(j);
}

/* POST offsets (commit) and GET offsets (committed), for the listed partitions or, with
 * none listed, what was consumed (commit) or what is assigned (committed). */
void gw_cons_offsets(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    bool commit = j->kind == GW_CJ_COMMIT;
    if (!gw_cons_stable(j, i->w->gw->cfg.request_timeout_ms))
        return;
    int n;
    const cm_json_t *e = gw_cons__list(j, commit ? "offsets" : "partitions", &n);
    if (n < 0) {
        gw_cons_done(j);
        return;
    }
    int cap = n > 0 ? n : i->n_parts;
    gw_member_tp_t *tps = calloc((size_t)cap + 1, sizeof(*tps));
    if (tps == NULL)
        abort();
    int m = 0;
    bool bad = false;
    for (; e != NULL; e = e->next) {
        int32_t p;
        int64_t off;
        const gw_topic_t *t = gw_cons__tp(j, e, commit, &p, &off);
        if (t == NULL) {
            bad = true;
            break;
        }
        /* REST Proxy v2 commits name the last record processed: the group resumes after. */
        tps[m++] = (gw_member_tp_t){ t->full, p, off + 1, NULL };
    }
    for (int q = 0; n == 0 && q < i->n_parts; q++)
        if (!commit || i->parts[q].consumed >= 0)
            tps[m++] = (gw_member_tp_t){ i->parts[q].full, i->parts[q].partition,
                                         i->parts[q].consumed, NULL };
    const gw_broker_t *b = gw_member_coordinator(i);
    if (!bad && m == 0 && commit) {
        j->status = 204;
    } else if (!bad && (b == NULL || !gw_cons_can_call(i))) {
        i->rejoin = true;
        gw_cons_error(j, 503, 503, "the group's coordinator is not available now");
        bad = true;
    }
    if (bad || j->status != 0) {
        free(tps);
        gw_cons_done(j);
        return;
    }
    gw_kcall_t *c =
        gw_kcall_new(i->w->kpool, commit ? CM_KAPI_OFFSET_COMMIT : CM_KAPI_OFFSET_FETCH,
                     commit ? GW_MEMBER_OFFSET_COMMIT_VERSION : GW_MEMBER_OFFSET_FETCH_VERSION, 0,
                     gw_cons__committed_answer, j);
    GW_MEMBER_ENCODE_OFFSETS(i, &c->w, tps, m, commit);
    gw_kcall_send(i->w->kpool, b, c);
    free(tps);
}

/* ---- seek ------------------------------------------------------------------------------ */

void gw_cons_seek(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    if (!gw_cons_stable(j, i->w->gw->cfg.request_timeout_ms))
        return;
    if (j->phase == 1) { /* the ends were looked up */
        j->status = 204;
        gw_cons_done(j);
        return;
    }
    bool to_end = j->kind != GW_CJ_SEEK;
    int n;
    const cm_json_t *e = gw_cons__list(j, to_end ? "partitions" : "offsets", &n);
    if (n <= 0) {
        if (n == 0)
            gw_cons_error(j, 400, 400, "the body needs \"%s\": [...]",
                          to_end ? "partitions" : "offsets");
        gw_cons_done(j);
        return;
    }
    /* Every entry is checked before any position moves. */
    for (int pass = 0; pass < 2; pass++) {
        for (const cm_json_t *x = e; x != NULL; x = x->next) {
            int32_t p;
            int64_t off;
            const gw_topic_t *t = gw_cons__tp(j, x, !to_end, &p, &off);
            if (t == NULL) {
                gw_cons_done(j);
                return;
            }
            gw_cpart_t *part = gw_member_part(i, cm_kstr_c(t->full), p);
            if (part == NULL) {
                gw_cons_error(j, 409, 40903,
                              "partition %d of topic \"%s\" is not assigned to this instance", p,
                              t->name);
                gw_cons_done(j);
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
        gw_cons_done(j);
        return;
    }
    j->phase = 1;
    i->state = GW_CS_POSITIONS;
    gw_cons_stable(j, i->w->gw->cfg.request_timeout_ms);
}

/* ---- subscription ---------------------------------------------------------------------- */

void gw_cons_topics_free(gw_cinst_t *i)
{
    for (int k = 0; k < i->n_topics; k++)
        free(i->topics[k]);
    free(i->topics);
    i->topics = NULL;
    i->n_topics = 0;
}

void gw_cons_subscribe(gw_cjob_t *j)
{
    gw_cinst_t *i = j->inst;
    int n;
    const cm_json_t *e = gw_cons__list(j, "topics", &n);
    if (n == 0 && j->in != NULL && cm_json_get(j->in, "topic_pattern") != NULL)
        gw_cons_error(j, 400, 400, "topic_pattern is not supported; list the topics");
    else if (n == 0)
        gw_cons_error(j, 400, 400, "the body needs \"topics\": [\"name\", ...]");
    for (const cm_json_t *x = e; n > 0 && x != NULL && j->status == 0; x = x->next) {
        const gw_topic_t *t =
            x->type == CM_JSON_STRING ? gw_snap_topic(j->ss.tenant, x->str) : NULL;
        if (x->type != CM_JSON_STRING)
            gw_cons_error(j, 400, 400, "\"topics\" must hold topic names");
        else if (t == NULL ||
                 !gw_session_allowed(&j->ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_DESCRIBE))
            gw_cons_error(j, 404, 40401, "no topic \"%.249s\" in this cluster", x->str);
        else if (!gw_session_allowed(&j->ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_READ))
            gw_cons_error(j, 403, 403, "principal %s may not read topic \"%s\"", j->ss.principal,
                          t->name);
    }
    if (j->status == 0) {
        if (i->auto_commit)
            gw_member_commit_consumed(i);
        gw_cons_topics_free(i);
        i->topics = calloc((size_t)n, sizeof(*i->topics));
        if (i->topics == NULL)
            abort();
        for (const cm_json_t *x = e; x != NULL; x = x->next)
            i->topics[i->n_topics++] = gw_cons_dup(x->str);
        gw_member_subscribe(i);
        j->status = 204;
    }
    gw_cons_done(j);
}

/* GET subscription, GET assignments. */
void gw_cons_show(gw_cjob_t *j)
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
    gw_cons_done(j);
}
