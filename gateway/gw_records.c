/*
 * Produce and consume over REST.
 *
 * Produce: the body is one record object, or several concatenated (Kafka REST's streaming
 * form). Every record is checked before anything is sent; then the produce engine
 * (gw_produce.h) writes them and each record gets its own result.
 *
 * Consume: one Fetch to the partition's leader, which holds it up to timeout_ms (long
 * poll) until a record arrives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_b64.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_krecord.h"
#include "cm_log.h"
#include "cm_time.h"
#include "gw_kafka.h"
#include "gw_meta.h"
#include "gw_produce.h"
#include "gw_rest.h"

#define GW_REC__FETCH_VERSION 11
#define GW_REC__FETCH_BYTES_MIN                                                                    \
    (64 << 10) /* the least a consume fetches, however full the worker */
/* A produce request in progress. */
typedef struct gw_rproduce {
    gw_produce_t p;
    gw_rreq_t *r;
    bool stream; /* several records: one result line each */
} gw_rproduce_t;

/* ---- parsing ------------------------------------------------------------------------- */

/* Finds the next top-level JSON object in s[*pos..n): 1 with [*start, *pos) set, 0 at the
 * end, -1 when what follows is not an object. Strings and nesting are followed. */
static int gw_rec__next_object(const char *s, size_t n, size_t *pos, size_t *start)
{
    size_t i = *pos;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i == n)
        return 0;
    if (s[i] != '{')
        return -1;
    *start = i;
    int depth = 0;
    bool in_str = false;
    for (; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            *pos = i + 1;
            return 1;
        }
    }
    return -1;
}

/* Parses an RFC 3339 UTC time ("2026-11-22T10:00:00Z", optional .fff) into ms. */
static bool gw_rec__rfc3339(const char *s, int64_t *ms)
{
    struct tm tm = { 0 };
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return false;
    int64_t frac = 0;
    if (*end == '.') {
        int digits = 0;
        for (end++; *end >= '0' && *end <= '9'; end++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*end - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return false;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return true;
}

/* The last second formatted: the records of a batch, and answers in the same second, share it. */
typedef struct gw_rec__ts {
    int64_t secs;
    size_t n;
    char text[32];
} gw_rec__ts_t;

/* One per worker thread. */
static __thread gw_rec__ts_t gw_rec__tsc;

static void gw_rec__rfc3339_write(gw_rec__ts_t *c, int64_t ms, char out[40])
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((999 - ms) / 1000);
    int milli = (int)(ms - secs * 1000);
    if (c->n == 0 || c->secs != secs) {
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        c->n = strftime(c->text, sizeof(c->text), "%Y-%m-%dT%H:%M:%S", &tm);
        c->secs = secs;
    }
    memcpy(out, c->text, c->n);
    out[c->n] = '.';
    out[c->n + 1] = (char)('0' + milli / 100);
    out[c->n + 2] = (char)('0' + milli / 10 % 10);
    out[c->n + 3] = (char)('0' + milli % 10);
    out[c->n + 4] = 'Z';
    out[c->n + 5] = '\0';
}

/* Reads {"type": ..., "data": ...} into bytes. NULL/absent: a null key or value. */
static const char *gw_rec__data(gw_rreq_t *r, const cm_json_t *o, cm_kbytes_t *out,
                                const char **type)
{
    *out = (cm_kbytes_t){ NULL, -1 };
    *type = NULL;
    if (o == NULL || o->type == CM_JSON_NULL)
        return NULL;
    if (o->type != CM_JSON_OBJECT)
        return "must be an object {\"type\": \"BINARY\"|\"STRING\"|\"JSON\", \"data\": ...}";
    const char *t = cm_json_get_str(o, "type");
    const cm_json_t *d = cm_json_get(o, "data");
    if (t == NULL)
        t = "JSON";
    if (d == NULL || d->type == CM_JSON_NULL) {
        *type = t;
        return NULL;
    }
    if (strcmp(t, "BINARY") == 0) {
        if (d->type != CM_JSON_STRING)
            return "BINARY data must be a base64 string";
        uint8_t *buf = cm_arena_alloc(&r->arena, d->len / 4 * 3 + 3);
        long n = buf != NULL ? cm_b64_decode(d->str, d->len, false, buf) : -1;
        if (n < 0)
            return "BINARY data is not valid base64";
        *out = (cm_kbytes_t){ buf, (int32_t)n };
    } else if (strcmp(t, "STRING") == 0) {
        if (d->type != CM_JSON_STRING)
            return "STRING data must be a string";
        *out = (cm_kbytes_t){ (const uint8_t *)d->str, (int32_t)d->len };
    } else if (strcmp(t, "JSON") == 0) {
        /* Re-encoded compactly: the stored bytes are the JSON text of the value. */
        cm_sbuf_t s;
        cm_sbuf_init(&s);
        cm_jw_t jw;
        cm_jw_init(&jw, &s);
        cm_json_write(&jw, d);
        char *copy = cm_arena_strndup(&r->arena, s.buf != NULL ? s.buf : "", s.len);
        *out = (cm_kbytes_t){ (const uint8_t *)copy, (int32_t)s.len };
        cm_sbuf_free(&s);
        if (copy == NULL)
            return "too large";
    } else {
        return "type must be BINARY, STRING or JSON";
    }
    *type = t;
    return NULL;
}

static const char *gw_rec__headers(gw_rreq_t *r, const cm_json_t *h, gw_prec_t *x)
{
    if (h == NULL || h->type == CM_JSON_NULL)
        return NULL;
    if (h->type != CM_JSON_ARRAY)
        return "headers must be an array of {\"name\": ..., \"value\": <base64>}";
    x->headers = cm_arena_calloc(&r->arena, h->len + 1, sizeof(*x->headers));
    if (x->headers == NULL)
        return "too many headers";
    for (const cm_json_t *e = h->child; e != NULL; e = e->next) {
        const char *name = cm_json_get_str(e, "name");
        const cm_json_t *v = cm_json_get(e, "value");
        if (name == NULL)
            return "every header needs a name";
        cm_record_header_t *hd = &x->headers[x->n_headers++];
        hd->key = cm_kstr_c(name);
        hd->value = (cm_kbytes_t){ NULL, -1 };
        if (v != NULL && v->type != CM_JSON_NULL) {
            uint8_t *buf =
                v->type == CM_JSON_STRING ? cm_arena_alloc(&r->arena, v->len / 4 * 3 + 3) : NULL;
            long n = buf != NULL ? cm_b64_decode(v->str, v->len, false, buf) : -1;
            if (n < 0)
                return "a header value must be base64 or null";
            hd->value = (cm_kbytes_t){ buf, (int32_t)n };
        }
    }
    return NULL;
}

/* Reads one record object; NULL or why it is refused. */
static const char *gw_rec__parse(gw_rreq_t *r, const cm_json_t *o, gw_prec_t *x, int32_t n_parts,
                                 int32_t sticky)
{
    static const char *const known[] = { "partition_id", "key",       "value",
                                         "headers",      "timestamp", NULL };
    for (const cm_json_t *m = o->child; m != NULL; m = m->next) {
        bool ok = false;
        for (int i = 0; known[i] != NULL && !ok; i++)
            ok = strcmp(m->key, known[i]) == 0;
        if (!ok)
            return "unknown field in a record";
    }
    const char *why;
    if ((why = gw_rec__data(r, cm_json_get(o, "key"), &x->key, &x->key_type)) != NULL ||
        (why = gw_rec__data(r, cm_json_get(o, "value"), &x->value, &x->value_type)) != NULL ||
        (why = gw_rec__headers(r, cm_json_get(o, "headers"), x)) != NULL)
        return why;
    const cm_json_t *ts = cm_json_get(o, "timestamp");
    x->timestamp = cm_now_ms();
    if (ts != NULL && ts->type != CM_JSON_NULL) {
        if (ts->type == CM_JSON_NUMBER && ts->is_int && ts->i >= 0)
            x->timestamp = ts->i;
        else if (ts->type != CM_JSON_STRING || !gw_rec__rfc3339(ts->str, &x->timestamp))
            return "timestamp must be RFC 3339 UTC (2026-01-02T03:04:05.678Z) or epoch ms";
    }
    const cm_json_t *p = cm_json_get(o, "partition_id");
    if (p != NULL && p->type != CM_JSON_NULL) {
        if (p->type != CM_JSON_NUMBER || !p->is_int || p->i < 0 || p->i >= n_parts)
            return "partition_id is not a partition of this topic";
        x->partition = (int32_t)p->i;
    } else {
        x->partition = gw_produce_partition(x->key, n_parts, sticky);
    }
    return NULL;
}

/* ---- produce --------------------------------------------------------------------------- */

static void gw_rec__produce_free(void *state)
{
    gw_produce_free(state);
}

static bool gw_rec__produce_wanted(gw_produce_t *p)
{
    return ((gw_rproduce_t *)p)->r->req != NULL;
}

static void gw_rec__produced(gw_produce_t *p)
{
    gw_rproduce_t *rp = (gw_rproduce_t *)p;
    gw_rreq_t *r = rp->r;
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    int status = 200;
    for (int i = 0; i < p->n_recs; i++) {
        gw_prec_t *x = &p->recs[i];
        gw_ppart_t *pp = &p->parts[x->part];
        cm_jw_t jw;
        cm_jw_init(&jw, &out);
        cm_jw_obj(&jw);
        cm_jw_kint(&jw, "error_code", pp->http);
        if (pp->http == 200) {
            char ts[40];
            gw_rec__rfc3339_write(&gw_rec__tsc, x->timestamp, ts);
            cm_jw_kstr(&jw, "cluster_id", r->ss.tenant->cluster_id);
            cm_jw_kstr(&jw, "topic_name", r->topic->name);
            cm_jw_kint(&jw, "partition_id", x->partition);
            cm_jw_kint(&jw, "offset", pp->base_offset + x->delta);
            cm_jw_kstr(&jw, "timestamp", ts);
            const char *types[2] = { x->key_type, x->value_type };
            const int32_t sizes[2] = { x->key.len, x->value.len };
            const char *names[2] = { "key", "value" };
            for (int k = 0; k < 2; k++) {
                if (types[k] == NULL)
                    continue;
                cm_jw_key(&jw, names[k]);
                cm_jw_obj(&jw);
                cm_jw_kstr(&jw, "type", types[k]);
                cm_jw_kint(&jw, "size", sizes[k] > 0 ? sizes[k] : 0);
                cm_jw_obj_end(&jw);
            }
        } else {
            status = pp->http;
            cm_jw_kstr(&jw, "message", pp->msg);
        }
        cm_jw_obj_end(&jw);
        if (rp->stream)
            cm_sbuf_append(&out, "\n", 1);
    }
    if (rp->stream || status == 200) {
        gw_rest_reply(r, 200, &out);
    } else {
        /* One record, not streamed: its error is the answer. */
        const gw_ppart_t *pp = &p->parts[p->recs[0].part];
        gw_rest_error(r, status, status, status == 503 ? 1 : 0, "%s", pp->msg);
    }
    cm_sbuf_free(&out);
    gw_rest_unref(r);
}

void gw_records_produce(gw_rreq_t *r)
{
    const gw_topic_t *t = r->topic;
    if (!gw_session_allowed(&r->ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_WRITE)) {
        gw_rest_error(r, 403, 403, 0, "principal %s may not write to topic \"%s\"", r->ss.principal,
                      t->name);
        return;
    }
    h2o_iovec_t body = r->req->entity;
    if (body.base == NULL || body.len == 0) {
        gw_rest_error(r, 400, 400, 0, "send one or more record objects");
        return;
    }
    char full[256];
    int wait = gw_session_storage_full(&r->ss, r->w->gw->cfg.storage_poll_ms, full, sizeof(full));
    if (wait > 0) {
        gw_rest_throttled(r, wait);
        gw_rest_error(r, 429, 429, wait, "%s", full);
        return;
    }
    wait = gw_session_charge(&r->ss, GW_CHARGE_PRODUCE, (double)body.len);
    if (wait > 0) {
        gw_rest_throttled(r, wait);
        gw_rest_error(r, 429, 429, wait, "over the produce byte-rate quota; retry in %d s", wait);
        return;
    }
    /* Count, then parse every record before anything is sent: all or nothing on bad input. */
    size_t pos = 0, start;
    int n = 0, rc;
    while ((rc = gw_rec__next_object(body.base, body.len, &pos, &start)) == 1)
        n++;
    if (rc < 0 || n == 0) {
        gw_rest_error(r, 400, 400, 0, "the body must be one or more JSON record objects");
        return;
    }
    if (n > r->w->gw->cfg.produce_records_max) {
        gw_rest_error(r, 413, 413, 0, "more than %lld records in one request",
                      (long long)r->w->gw->cfg.produce_records_max);
        return;
    }
    gw_rproduce_t *rp = cm_arena_calloc(&r->arena, 1, sizeof(*rp));
    gw_prec_t *recs = cm_arena_calloc(&r->arena, (size_t)n, sizeof(*recs));
    if (rp == NULL || recs == NULL) {
        gw_rest_error(r, 413, 413, 0, "the request is too large");
        return;
    }
    rp->r = r;
    rp->stream = n > 1;
    gw_produce_t *p = &rp->p;
    *p = (gw_produce_t){ .w = r->w,
                         .ss = &r->ss,
                         .topic = t,
                         .arena = &r->arena,
                         .recs = recs,
                         .n_recs = n,
                         .done = gw_rec__produced,
                         .wanted = gw_rec__produce_wanted };
    int32_t sticky = (int32_t)(r->w->rr++ % (uint32_t)t->n_parts);
    pos = 0;
    for (int i = 0; i < n; i++) {
        gw_rec__next_object(body.base, body.len, &pos, &start);
        cm_json_t *doc;
        char err[160];
        if (cm_json_parse(&r->arena, body.base + start, pos - start, 16, &doc, err, sizeof(err)) !=
            0) {
            gw_rest_error(r, 400, 400, 0, "record %d is not valid JSON: %s", i, err);
            return;
        }
        const char *why = gw_rec__parse(r, doc, &recs[i], t->n_parts, sticky);
        if (why != NULL) {
            gw_rest_error(r, 400, 400, 0, "record %d: %s", i, why);
            return;
        }
    }
    r->state = p;
    r->state_free = gw_rec__produce_free;
    char why[160];
    int status = gw_produce_build(p, why, sizeof(why));
    if (status != 0) {
        gw_rest_error(r, status, status, 0, "%s", why);
        return;
    }
    gw_rest_ref(r);
    gw_produce_start(p);
}

/* ---- consume --------------------------------------------------------------------------- */

typedef struct gw_consume {
    gw_rreq_t *r;
    int32_t partition;
    int64_t offset;
    int64_t max_bytes;
    int64_t timeout_ms;
    int format; /* 0 binary, 1 string, 2 json */
    int attempts;
    h2o_timeout_entry_t timer; /* asks again while the broker does not know the topic yet */
} gw_consume_t;

static void gw_rec__fetch_send(gw_consume_t *cs);

bool gw_records_utf8_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n || (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        if ((len == 2 && c < 0xC2) || (len == 4 && c > 0xF4))
            return false;
        i += len;
    }
    return true;
}

static void gw_rec__bytes(cm_jw_t *jw, cm_arena_t *a, const char *key, cm_kbytes_t b, int format)
{
    cm_jw_key(jw, key);
    if (b.len < 0) {
        cm_jw_null(jw);
        return;
    }
    cm_jw_obj(jw);
    bool text = format > 0 && gw_records_utf8_ok(b.ptr, (size_t)b.len);
    cm_json_t *doc = NULL;
    char err[8];
    if (text && format == 2 &&
        cm_json_parse(a, (const char *)b.ptr, (size_t)b.len, 64, &doc, err, sizeof(err)) == 0) {
        cm_jw_kstr(jw, "type", "JSON");
        cm_jw_key(jw, "data");
        cm_json_write(jw, doc);
    } else if (text && format == 1) {
        cm_jw_kstr(jw, "type", "STRING");
        cm_jw_key(jw, "data");
        cm_jw_strn(jw, (const char *)b.ptr, (size_t)b.len);
    } else {
        /* Base64 needs no escaping: it is encoded straight into the answer. */
        size_t n = cm_b64_encoded_len((size_t)b.len);
        cm_jw_kstr(jw, "type", "BINARY");
        cm_jw_key(jw, "data");
        char *at = cm_jw_raw_space(jw, n + 2);
        at[0] = '"';
        cm_b64_encode(b.ptr, (size_t)b.len, at + 1);
        at[n + 1] = '"';
    }
    cm_jw_obj_end(jw);
}

int64_t gw_records_each(cm_krecords_t recs, int64_t from, gw_records_fn fn, void *ud, bool *stopped)
{
    int64_t next = from;
    const uint8_t *p = recs.ptr;
    size_t left = recs.len > 0 ? (size_t)recs.len : 0;
    *stopped = false;
    while (left >= CM_BATCH_HEADER_SIZE) {
        cm_batch_hdr_t h;
        if (cm_batch_check(p, left, &h) != CM_BATCH_OK)
            break; /* a partial batch at the end of the fetch */
        size_t size = (size_t)cm_batch_size(&h);
        if (!(h.attributes & CM_BATCH_ATTR_CONTROL)) {
            cm_record_iter_t it;
            uint8_t *owned = NULL;
            if (cm_batch_records(p, &h, 256u << 20, &it, &owned) == 0) {
                cm_record_t rec;
                while (cm_record_next(&it, &rec) == 1) {
                    int64_t off = h.base_offset + rec.offset_delta;
                    if (off < from)
                        continue;
                    if (!fn(ud, off, cm_record_timestamp(&h, &rec), &rec)) {
                        *stopped = true;
                        next = off;
                        break;
                    }
                }
            }
            free(owned);
        }
        if (*stopped)
            break;
        if (cm_batch_last_offset(&h) + 1 > next)
            next = cm_batch_last_offset(&h) + 1;
        p += size;
        left -= size;
    }
    return next;
}

typedef struct gw_rec__writer {
    gw_consume_t *cs;
    cm_jw_t *jw;
    cm_arena_t a;
    size_t room;
    uint64_t bytes, count;
} gw_rec__writer_t;

static bool gw_rec__write_one(void *ud, int64_t off, int64_t ts_ms, const cm_record_t *rec_in)
{
    gw_rec__writer_t *wr = ud;
    cm_jw_t *jw = wr->jw;
    cm_record_t rec = *rec_in;
    if (wr->count > 0 && jw->s->len >= wr->room)
        return false;
    char ts[40];
    gw_rec__rfc3339_write(&gw_rec__tsc, ts_ms, ts);
    cm_jw_obj(jw);
    cm_jw_kint(jw, "partition_id", wr->cs->partition);
    cm_jw_kint(jw, "offset", off);
    cm_jw_kstr(jw, "timestamp", ts);
    gw_rec__bytes(jw, &wr->a, "key", rec.key, wr->cs->format);
    gw_rec__bytes(jw, &wr->a, "value", rec.value, wr->cs->format);
    cm_jw_key(jw, "headers");
    cm_jw_arr(jw);
    cm_kstr_t hk;
    cm_kbytes_t hv;
    while (cm_record_header_next(&rec, &hk, &hv) == 1) {
        cm_jw_obj(jw);
        cm_jw_key(jw, "name");
        cm_jw_strn(jw, hk.ptr, (size_t)hk.len);
        cm_jw_key(jw, "value");
        if (hv.len < 0) {
            cm_jw_null(jw);
        } else {
            char *enc = cm_arena_alloc(&wr->a, cm_b64_encoded_len((size_t)hv.len) + 1);
            if (enc != NULL)
                cm_b64_encode(hv.ptr, (size_t)hv.len, enc);
            cm_jw_strn(jw, enc != NULL ? enc : "",
                       enc != NULL ? cm_b64_encoded_len((size_t)hv.len) : 0);
        }
        cm_jw_obj_end(jw);
    }
    cm_jw_arr_end(jw);
    cm_jw_obj_end(jw);
    wr->bytes += (uint64_t)(rec.key.len > 0 ? rec.key.len : 0) +
                 (uint64_t)(rec.value.len > 0 ? rec.value.len : 0);
    wr->count++;
    return true;
}

/* Writes the records at or after `from`; returns the next offset to read. Once the answer
 * holds `room` bytes, no further record is added (*cut says so): the first always is. */
static int64_t gw_rec__write_records(gw_consume_t *cs, cm_jw_t *jw, cm_krecords_t recs, size_t room,
                                     bool *cut, uint64_t *bytes, uint64_t *count)
{
    gw_rec__writer_t wr = { .cs = cs, .jw = jw, .room = room };
    cm_arena_init(&wr.a, 256u << 20);
    int64_t next = gw_records_each(recs, cs->offset, gw_rec__write_one, &wr, cut);
    cm_arena_free(&wr.a);
    *bytes = wr.bytes;
    *count = wr.count;
    return next;
}

static void gw_rec__fetched(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_consume_t *cs = c->ud;
    gw_rreq_t *r = cs->r;
    cm_fetch_resp_t resp;
    cm_arena_t a;
    cm_arena_init(&a, 16u << 20);
    const cm_fetch_resp_partition_data_t *pd = NULL;
    if (st == GW_KCALL_OK && cm_fetch_resp_decode(body, c->api_version, &a, &resp) == 0 &&
        resp.responses_n == 1 && resp.responses[0].partitions_n == 1)
        pd = &resp.responses[0].partitions[0];
    if (pd != NULL && pd->error_code == CM_KERR_UNKNOWN_TOPIC_OR_PARTITION &&
        gw_rest_retry_soon(r, &cs->attempts, &cs->timer)) {
        cm_arena_free(&a);
        return;
    }
    if (pd == NULL) {
        gw_rest_error(r, 503, 503, 1, "cannot read from the partition's leader: %s",
                      st == GW_KCALL_OK ? "malformed answer" : c->why);
    } else if (pd->error_code == CM_KERR_OFFSET_OUT_OF_RANGE) {
        gw_rest_error(r, 400, 40001, 0,
                      "offset %lld is out of range: partition %d holds offsets %lld to %lld",
                      (long long)cs->offset, cs->partition, (long long)pd->log_start_offset,
                      (long long)pd->high_watermark);
    } else if (pd->error_code != 0) {
        gw_rest_error(r, gw_produce_kerr_http(pd->error_code), gw_produce_kerr_http(pd->error_code),
                      1, "partition %d: %s", cs->partition, cm_kerr_name(pd->error_code));
    } else {
        cm_jw_t *jw = gw_rest_json(r);
        cm_jw_obj(jw);
        cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
        cm_jw_kstr(jw, "topic_name", r->topic->name);
        cm_jw_kint(jw, "partition_id", cs->partition);
        cm_jw_key(jw, "records");
        cm_jw_arr(jw);
        uint64_t bytes = 0, count = 0;
        bool cut = false;
        int64_t next = gw_rec__write_records(cs, jw, pd->records, gw_rest_answer_room(r), &cut,
                                             &bytes, &count);
        if (cut)
            atomic_fetch_add(&r->w->gw->metrics.consume_cut, 1);
        cm_jw_arr_end(jw);
        cm_jw_kint(jw, "next_offset", next);
        cm_jw_kint(jw, "high_watermark", pd->high_watermark);
        cm_jw_kint(jw, "log_start_offset", pd->log_start_offset);
        cm_jw_obj_end(jw);
        gw_session_meter(&r->ss, false, bytes, count);
        gw_session_charge_after(&r->ss, GW_CHARGE_CONSUME, (double)bytes);
        gw_rest_json_reply(r, 200);
    }
    cm_arena_free(&a);
    gw_rest_unref(r);
}

static void gw_rec__on_fetch_timer(h2o_timeout_entry_t *e)
{
    gw_rec__fetch_send((gw_consume_t *)((char *)e - offsetof(gw_consume_t, timer)));
}

void gw_records_consume(gw_rreq_t *r)
{
    const gw_topic_t *t = r->topic;
    gw_config_t *cfg = &r->w->gw->cfg;
    if (!gw_session_allowed(&r->ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_READ)) {
        gw_rest_error(r, 403, 403, 0, "principal %s may not read topic \"%s\"", r->ss.principal,
                      t->name);
        return;
    }
    char *end;
    long part = strtol(r->seg[7], &end, 10);
    if (*end != '\0' || part < 0 || part >= t->n_parts) {
        gw_rest_error(r, 404, 404, 0, "topic \"%s\" has no partition %.16s", t->name, r->seg[7]);
        return;
    }
    int64_t offset = 0, max_bytes = 1 << 20, timeout = 0;
    if (!gw_rest_query_int(r, "offset", 0, INT64_MAX, &offset) ||
        !gw_rest_query_int(r, "max_bytes", 1, cfg->fetch_bytes_max, &max_bytes) ||
        !gw_rest_query_int(r, "timeout_ms", 0, cfg->fetch_wait_max_ms, &timeout))
        return;
    const char *fmt = cm_http_query(r->req, &r->arena, "format");
    int format = 0;
    if (fmt != NULL && strcmp(fmt, "binary") != 0) {
        format = strcmp(fmt, "string") == 0 ? 1 : strcmp(fmt, "json") == 0 ? 2 : -1;
        if (format < 0) {
            gw_rest_error(r, 400, 400, 0, "format must be binary, string or json");
            return;
        }
    }
    int wait = gw_session_charge(&r->ss, GW_CHARGE_CONSUME, 0);
    if (wait > 0) {
        gw_rest_throttled(r, wait);
        gw_rest_error(r, 429, 429, wait, "over the consume byte-rate quota; retry in %d s", wait);
        return;
    }
    gw_consume_t *cs = cm_arena_calloc(&r->arena, 1, sizeof(*cs));
    cs->r = r;
    cs->partition = (int32_t)part;
    cs->offset = offset;
    cs->max_bytes = max_bytes;
    cs->timeout_ms = timeout;
    cs->format = format;
    cs->timer.cb = gw_rec__on_fetch_timer;
    gw_rest_ref(r);
    gw_rec__fetch_send(cs);
}

/* Sends the Fetch (the request's reference is held for it). */
static void gw_rec__fetch_send(gw_consume_t *cs)
{
    gw_rreq_t *r = cs->r;
    const gw_topic_t *t = r->topic;
    const gw_broker_t *b = gw_snap_broker(r->snap, t->parts[cs->partition].leader);
    if (!gw_rest_can_call(r)) {
        gw_rest_unref(r);
        return;
    }
    if (t->parts[cs->partition].unavailable != NULL) {
        gw_rest_error(r, 503, 503, 1, "partition %d is unavailable: %s", cs->partition,
                      t->parts[cs->partition].unavailable);
        gw_rest_unref(r);
        return;
    }
    if (b == NULL) {
        gw_rest_error(r, 503, 503, 1, "partition %d has no leader available now", cs->partition);
        gw_rest_unref(r);
        return;
    }
    /* Ask for no more than the answer may hold (JSON takes about twice the bytes of the
     * records), but always for something: the answer is cut to the room there is when it
     * is written, and bytes fetched beyond it would be fetched in vain. */
    int64_t max_bytes = (int64_t)(gw_rest_answer_room(r) / 2);
    if (max_bytes < GW_REC__FETCH_BYTES_MIN)
        max_bytes = GW_REC__FETCH_BYTES_MIN;
    if (max_bytes > cs->max_bytes)
        max_bytes = cs->max_bytes;
    gw_fetch_one(r->w->kpool, b, t->full, cs->partition, cs->offset, (int32_t)max_bytes,
                 cs->timeout_ms, gw_rec__fetched, cs);
}
