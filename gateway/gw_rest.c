#include "gw_rest.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_b64.h"
#include "cm_log.h"
#include "cm_time.h"
#include "gw_admin.h"
#include "gw_meta.h"

/* ---- request lifetime ------------------------------------------------------------------ */

void gw_rest_ref(gw_rreq_t *r)
{
    r->refs++;
}

void gw_rest_unref(gw_rreq_t *r)
{
    if (--r->refs > 0)
        return;
    if (r->state_free != NULL)
        r->state_free(r->state);
    gw_snap_release(r->snap);
    atomic_fetch_sub_explicit(&r->w->answer_bytes, (long long)r->sent.len, memory_order_relaxed);
    cm_sbuf_free(&r->sent);
    cm_sbuf_free(&r->out);
    cm_arena_free(&r->arena);
    free(r);
}

/* The HTTP request is gone (answered and finished, or the client left). */
static void gw_rest__on_dispose(void *p)
{
    gw_rreq_t *r = *(gw_rreq_t **)p;
    r->req = NULL;
    gw_rest_unref(r);
}

static void gw_rest__account(gw_rreq_t *r, int status)
{
    gw_metrics_t *m = &r->w->gw->metrics;
    r->status = status;
    atomic_fetch_add(&m->requests, 1);
    if (status >= 500)
        atomic_fetch_add(&m->errors_5xx, 1);
    else if (status >= 400)
        atomic_fetch_add(&m->errors_4xx, 1);
    cm_hist_observe(&m->request_latency, cm_mono_us() - r->t0_us);
    if (r->ss.tenant != NULL)
        atomic_fetch_add(&r->ss.tenant->rt->requests_total, 1);
}

void gw_rest_reply(gw_rreq_t *r, int status, const cm_sbuf_t *body)
{
    if (r->req == NULL || r->status != 0)
        return;
    gw_rest__account(r, status);
    if (status == 204) {
        r->req->res.status = 204;
        r->req->res.reason = cm_http_reason(204);
        h2o_send_inline(r->req, "", 0);
        return;
    }
    cm_http_send_json(r->req, status, body);
}

bool gw_rest_retry_soon(gw_rreq_t *r, int *attempts, h2o_timeout_entry_t *timer)
{
    if (++*attempts >= GW_REST_TOPIC_WAIT_TRIES || r->req == NULL ||
        atomic_load(&r->w->gw->stopping))
        return false;
    h2o_timeout_link(r->w->loop, &r->w->poll_timeout, timer);
    return true;
}

bool gw_rest_can_call(gw_rreq_t *r)
{
    if (r->w->kpool != NULL && !atomic_load(&r->w->gw->stopping))
        return true;
    gw_rest_error(r, 503, 503, 1, "the gateway is stopping");
    return false;
}

cm_jw_t *gw_rest_json(gw_rreq_t *r)
{
    cm_sbuf_free(&r->out);
    cm_jw_init(&r->jw, &r->out);
    return &r->jw;
}

void gw_rest_json_reply(gw_rreq_t *r, int status)
{
    if (r->req == NULL || r->status != 0 || status == 204) {
        gw_rest_reply(r, status, &r->out);
        cm_sbuf_free(&r->out);
        return;
    }
    gw_rest__account(r, status);
    /* Sent from the buffer itself, kept until the request is disposed: a consume's answer
     * of megabytes is not copied, and is counted while it is held. */
    r->sent = r->out;
    cm_sbuf_init(&r->out);
    atomic_fetch_add_explicit(&r->w->answer_bytes, (long long)r->sent.len, memory_order_relaxed);
    cm_http_send_owned(r->req, status, "application/json", r->sent.buf != NULL ? r->sent.buf : "",
                       r->sent.len);
}

size_t gw_rest_answer_room(const gw_rreq_t *r)
{
    long long held = atomic_load_explicit(&r->w->answer_bytes, memory_order_relaxed);
    long long max = r->w->gw->cfg.answer_buffer_bytes;
    return held < max ? (size_t)(max - held) : 0;
}

void gw_rest_throttled(gw_rreq_t *r, int wait_s)
{
    if (r->req == NULL || wait_s <= 0)
        return;
    cm_http_conn_mute(r->req, (int64_t)wait_s * 1000);
    atomic_fetch_add(&r->w->gw->metrics.connections_muted, 1);
}

void gw_rest_error(gw_rreq_t *r, int status, int code, int retry_after_s, const char *fmt, ...)
{
    if (r->req == NULL || r->status != 0)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gw_rest__account(r, status);
    cm_http_send_error(r->req, status, code, retry_after_s, "%s", msg);
}

const cm_json_t *gw_rest_json_body(gw_rreq_t *r)
{
    const cm_json_t *o = cm_http_json_body(r->req, &r->arena);
    if (o == NULL)
        gw_rest__account(r, r->req->res.status > 0 ? r->req->res.status : 400);
    return o;
}

bool gw_rest_query_int(gw_rreq_t *r, const char *name, int64_t lo, int64_t hi, int64_t *v)
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

/* ---- resource helpers ---------------------------------------------------------------- */

static void gw_rest__base(gw_rreq_t *r, cm_sbuf_t *out)
{
    h2o_req_t *q = r->req;
    bool tls = q != NULL && q->scheme == &H2O_URL_SCHEME_HTTPS;
    if (q != NULL && q->authority.len > 0)
        cm_sbuf_printf(out, "%s://%.*s", tls ? "https" : "http", (int)q->authority.len,
                       q->authority.base);
    cm_sbuf_printf(out, "/kafka/v3/clusters/%s", r->ss.tenant->cluster_id);
}

static void gw_rest__vlink(gw_rreq_t *r, cm_sbuf_t *s, const char *fmt, va_list ap)
{
    gw_rest__base(r, s);
    if (fmt[0] != '\0') {
        cm_sbuf_append(s, "/", 1);
        char path[1024];
        vsnprintf(path, sizeof(path), fmt, ap);
        cm_sbuf_append(s, path, strlen(path));
    }
}

void gw_rest_metadata(gw_rreq_t *r, cm_jw_t *jw, const char *path_fmt, ...)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    va_list ap;
    va_start(ap, path_fmt);
    gw_rest__vlink(r, &s, path_fmt, ap);
    va_end(ap);
    cm_jw_key(jw, "metadata");
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "self", s.buf);
    cm_sbuf_free(&s);
    cm_sbuf_init(&s);
    va_start(ap, path_fmt);
    char path[1024];
    vsnprintf(path, sizeof(path), path_fmt, ap);
    va_end(ap);
    cm_sbuf_printf(&s, "crn:///kafka=%s%s%s", r->ss.tenant->cluster_id, path[0] ? "/" : "", path);
    cm_jw_kstr(jw, "resource_name", s.buf);
    cm_jw_obj_end(jw);
    cm_sbuf_free(&s);
}

void gw_rest_related(gw_rreq_t *r, cm_jw_t *jw, const char *key, const char *path_fmt, ...)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    va_list ap;
    va_start(ap, path_fmt);
    gw_rest__vlink(r, &s, path_fmt, ap);
    va_end(ap);
    cm_jw_key(jw, key);
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "related", s.buf);
    cm_jw_obj_end(jw);
    cm_sbuf_free(&s);
}

void gw_rest_list_begin(gw_rreq_t *r, cm_jw_t *jw, const char *kind, const char *path)
{
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", kind);
    if (path != NULL)
        gw_rest_metadata(r, jw, "%s", path);
    cm_jw_key(jw, "data");
    cm_jw_arr(jw);
}

void gw_rest_list_end(cm_jw_t *jw)
{
    cm_jw_arr_end(jw);
    cm_jw_obj_end(jw);
}

/* ---- clusters and topics --------------------------------------------------------------- */

static void gw_rest__cluster_obj(gw_rreq_t *r, cm_jw_t *jw)
{
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaCluster");
    gw_rest_metadata(r, jw, "%s", "");
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    gw_rest_related(r, jw, "topics", "topics");
    gw_rest_related(r, jw, "acls", "acls");
    gw_rest_related(r, jw, "consumer_groups", "consumer-groups");
    cm_jw_obj_end(jw);
}

static void gw_rest__clusters(gw_rreq_t *r)
{
    cm_jw_t *jw = gw_rest_json(r);
    if (r->nseg == 3) {
        gw_rest_list_begin(r, jw, "KafkaClusterList", NULL);
        gw_rest__cluster_obj(r, jw);
        gw_rest_list_end(jw);
    } else {
        gw_rest__cluster_obj(r, jw);
    }
    gw_rest_json_reply(r, 200);
}

static void gw_rest__topic_obj(gw_rreq_t *r, cm_jw_t *jw, const gw_topic_t *t)
{
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaTopic");
    gw_rest_metadata(r, jw, "topics/%s", t->name);
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    cm_jw_kstr(jw, "topic_name", t->name);
    cm_jw_kbool(jw, "is_internal", false);
    cm_jw_kint(jw, "replication_factor", t->replication_factor);
    cm_jw_kint(jw, "partitions_count", t->n_parts);
    gw_rest_related(r, jw, "partitions", "topics/%s/partitions", t->name);
    gw_rest_related(r, jw, "configs", "topics/%s/configs", t->name);
    cm_jw_obj_end(jw);
}

static void gw_rest__topics_list(gw_rreq_t *r)
{
    size_t n;
    const gw_topic_t **all = gw_session_topics(&r->ss, &r->arena, &n);
    if (all == NULL) {
        gw_rest_error(r, 500, 500, 0, "out of memory listing topics");
        return;
    }
    cm_jw_t *jw = gw_rest_json(r);
    gw_rest_list_begin(r, jw, "KafkaTopicList", "topics");
    for (size_t i = 0; i < n; i++)
        gw_rest__topic_obj(r, jw, all[i]);
    gw_rest_list_end(jw);
    gw_rest_json_reply(r, 200);
}

static void gw_rest__topic_get(gw_rreq_t *r)
{
    cm_jw_t *jw = gw_rest_json(r);
    gw_rest__topic_obj(r, jw, r->topic);
    gw_rest_json_reply(r, 200);
}

/* Maps the operator API's answer to a tenant-facing one; true when it was a success. */
bool gw_rest_admin_outcome(gw_rreq_t *r, gw_admin_call_t *c, const char *what)
{
    int code;
    char msg[512];
    int status = gw_admin_result(c, what, &code, msg, sizeof(msg));
    if (status >= 200 && status < 300)
        return true;
    gw_rest_error(r, status, code, status == 503 ? 1 : 0, "%s", msg);
    return false;
}

static void gw_rest__created(gw_admin_call_t *c)
{
    gw_rreq_t *r = c->ud;
    if (gw_rest_admin_outcome(r, c, "cannot create the topic")) {
        /* Answer from the snapshot that shows the new topic (or from the request, when the
         * snapshot is late or this was a dry run). */
        gw_snap_t *s = c->w->snap;
        const gw_tenant_t *tn =
            s != NULL ? cm_strmap_get(&s->tenants, r->ss.tenant->id, strlen(r->ss.tenant->id))
                      : NULL;
        const char *name = r->state;
        const gw_topic_t *t = tn != NULL ? gw_snap_topic(tn, name) : NULL;
        cm_jw_t *jw = gw_rest_json(r);
        if (t != NULL) {
            gw_rest__topic_obj(r, jw, t);
        } else {
            cm_arena_t a;
            cm_arena_init(&a, 1u << 20);
            cm_json_t *doc = NULL;
            char err[64];
            int64_t parts = 0, rf = 0;
            if (cm_json_parse(&a, c->answer.buf, c->answer.len, 8, &doc, err, sizeof(err)) == 0) {
                cm_json_get_int(doc, "partitions", &parts);
                cm_json_get_int(doc, "replication_factor", &rf);
            }
            gw_topic_t tmp = { .name = name,
                               .n_parts = (int32_t)parts,
                               .replication_factor = (int32_t)rf };
            gw_rest__topic_obj(r, jw, &tmp);
            cm_arena_free(&a);
        }
        gw_rest_json_reply(r, 201);
    }
    gw_admin_call_free(c);
    gw_rest_unref(r);
}

static void gw_rest__topic_create(gw_rreq_t *r)
{
    const cm_json_t *o = gw_rest_json_body(r);
    if (o == NULL)
        return;
    const char *name = cm_json_get_str(o, "topic_name");
    if (name == NULL) {
        gw_rest_error(r, 400, 400, 0, "topic_name is required");
        return;
    }
    if (!gw_session_allowed(&r->ss, CM_ACL_RT_TOPIC, name, CM_ACL_OP_CREATE) &&
        !gw_session_allowed(&r->ss, CM_ACL_RT_CLUSTER, "kafka-cluster", CM_ACL_OP_CREATE)) {
        gw_rest_error(r, 403, 403, 0, "principal %s may not create topic \"%.64s\"",
                      r->ss.principal, name);
        return;
    }
    static const char *const known[] = { "topic_name", "partitions_count", "replication_factor",
                                         "configs",    "validate_only",    NULL };
    for (const cm_json_t *m = o->child; m != NULL; m = m->next) {
        bool ok = false;
        for (int i = 0; known[i] != NULL && !ok; i++)
            ok = strcmp(m->key, known[i]) == 0;
        if (!ok) {
            gw_rest_error(r, 400, 400, 0, "unknown field \"%.64s\"", m->key);
            return;
        }
    }
    gw_admin_call_t *c = gw_admin_call_new(r->w, "POST", gw_rest__created, r);
    cm_sbuf_printf(&c->path, "/v1/tenants/%s/topics", r->ss.tenant->name);
    cm_jw_t jw;
    cm_jw_init(&jw, &c->body);
    cm_jw_obj(&jw);
    cm_jw_kstr(&jw, "name", name);
    const cm_json_t *v;
    bool bad = false;
    if ((v = cm_json_get(o, "partitions_count")) != NULL) {
        bad |= !(v->type == CM_JSON_NUMBER && v->is_int);
        cm_jw_kint(&jw, "partitions", v->i);
    }
    if ((v = cm_json_get(o, "replication_factor")) != NULL) {
        bad |= !(v->type == CM_JSON_NUMBER && v->is_int);
        cm_jw_kint(&jw, "replication_factor", v->i);
    }
    if ((v = cm_json_get(o, "validate_only")) != NULL) {
        bad |= v->type != CM_JSON_BOOL;
        cm_jw_kbool(&jw, "validate_only", v->b);
    }
    /* REST v3 configs: [{"name": "...", "value": "..."}]; the operator API takes an object. */
    if ((v = cm_json_get(o, "configs")) != NULL) {
        bad |= v->type != CM_JSON_ARRAY;
        cm_jw_key(&jw, "configs");
        cm_jw_obj(&jw);
        for (const cm_json_t *e = v->type == CM_JSON_ARRAY ? v->child : NULL; e != NULL;
             e = e->next) {
            const char *cn = cm_json_get_str(e, "name"), *cv = cm_json_get_str(e, "value");
            if (cn == NULL || cv == NULL) {
                bad = true;
                break;
            }
            cm_jw_kstr(&jw, cn, cv);
        }
        cm_jw_obj_end(&jw);
    }
    cm_jw_obj_end(&jw);
    if (bad) {
        gw_admin_call_free(c);
        gw_rest_error(r, 400, 400, 0,
                      "partitions_count and replication_factor are integers, validate_only a "
                      "boolean, configs [{\"name\": ..., \"value\": \"...\"}]");
        return;
    }
    r->state = cm_arena_strndup(&r->arena, name, strlen(name));
    gw_rest_admin_send(r, c);
}

void gw_rest_admin_no_content(gw_admin_call_t *c)
{
    gw_rreq_t *r = c->ud;
    if (gw_rest_admin_outcome(r, c,
                              r->admin_what != NULL ? r->admin_what : "cannot make the change"))
        gw_rest_reply(r, 204, NULL);
    gw_admin_call_free(c);
    gw_rest_unref(r);
}

void gw_rest_admin_send(gw_rreq_t *r, gw_admin_call_t *c)
{
    gw_rest_ref(r);
    gw_admin_send(r->w->gw->admin, c);
}

static void gw_rest__topic_delete(gw_rreq_t *r)
{
    if (!gw_session_allowed(&r->ss, CM_ACL_RT_TOPIC, r->topic->name, CM_ACL_OP_DELETE)) {
        gw_rest_error(r, 403, 403, 0, "principal %s may not delete topic \"%s\"", r->ss.principal,
                      r->topic->name);
        return;
    }
    r->admin_what = "cannot delete the topic";
    gw_admin_call_t *c = gw_admin_call_new(r->w, "DELETE", gw_rest_admin_no_content, r);
    cm_sbuf_printf(&c->path, "/v1/tenants/%s/topics/%s", r->ss.tenant->name, r->topic->name);
    gw_rest_admin_send(r, c);
}

/* ---- partitions ------------------------------------------------------------------------ */

static void gw_rest__partition_obj(gw_rreq_t *r, cm_jw_t *jw, int32_t p)
{
    const gw_topic_t *t = r->topic;
    cm_jw_obj(jw);
    cm_jw_kstr(jw, "kind", "KafkaPartition");
    gw_rest_metadata(r, jw, "topics/%s/partitions/%d", t->name, p);
    cm_jw_kstr(jw, "cluster_id", r->ss.tenant->cluster_id);
    cm_jw_kstr(jw, "topic_name", t->name);
    cm_jw_kint(jw, "partition_id", p);
    cm_jw_kint(jw, "leader_epoch", t->parts[p].epoch);
    cm_jw_kbool(jw, "leader_available", t->parts[p].leader >= 0);
    gw_rest_related(r, jw, "records", "topics/%s/partitions/%d/records", t->name, p);
    cm_jw_obj_end(jw);
}

static void gw_rest__partitions(gw_rreq_t *r)
{
    cm_jw_t *jw = gw_rest_json(r);
    if (r->nseg == 7) {
        char path[512];
        snprintf(path, sizeof(path), "topics/%s/partitions", r->topic->name);
        gw_rest_list_begin(r, jw, "KafkaPartitionList", path);
        for (int32_t p = 0; p < r->topic->n_parts; p++)
            gw_rest__partition_obj(r, jw, p);
        gw_rest_list_end(jw);
    } else {
        char *end;
        long p = strtol(r->seg[7], &end, 10);
        if (*end != '\0' || p < 0 || p >= r->topic->n_parts) {
            gw_rest_error(r, 404, 404, 0, "topic \"%s\" has no partition %.16s", r->topic->name,
                          r->seg[7]);
            return;
        }
        gw_rest__partition_obj(r, jw, (int32_t)p);
    }
    gw_rest_json_reply(r, 200);
}

/* ---- health and metrics ---------------------------------------------------------------- */

typedef struct gw_rest__mctx {
    cm_sbuf_t *out;
    const char *name;
    size_t field;
} gw_rest__mctx_t;

static void gw_rest__tenant_metric(void *ud, gw_tenant_rt_t *rt)
{
    gw_rest__mctx_t *m = ud;
    unsigned long long v = atomic_load((atomic_ullong *)((char *)rt + m->field));
    cm_sbuf_printf(m->out, "%s{tenant=\"%s\"} %llu\n", m->name, rt->name, v);
}

static void gw_rest__metrics(gw_t *gw, cm_sbuf_t *outp)
{
    gw_metrics_t *m = &gw->metrics;
    cm_sbuf_t out = *outp;
    cm_metrics_value(&out, "streamd_gateway_requests_total", "counter", "REST requests",
                     (double)m->requests);
    cm_metrics_value(&out, "streamd_gateway_client_errors_total", "counter",
                     "requests answered 4xx", (double)m->errors_4xx);
    cm_metrics_value(&out, "streamd_gateway_server_errors_total", "counter",
                     "requests answered 5xx", (double)m->errors_5xx);
    cm_metrics_value(&out, "streamd_gateway_auth_failures_total", "counter",
                     "failed authentications", (double)m->auth_failures);
    cm_metrics_value(&out, "streamd_gateway_auth_limited_total", "counter",
                     "authentications refused because the source failed too often",
                     (double)m->auth_limited);
    cm_metrics_value(&out, "streamd_gateway_broker_calls_total", "counter",
                     "Kafka requests sent to brokers", (double)m->broker_calls);
    cm_metrics_value(&out, "streamd_gateway_broker_errors_total", "counter",
                     "broker connections that failed", (double)m->broker_errors);
    cm_metrics_value(&out, "streamd_gateway_snapshots_total", "counter",
                     "metadata snapshots read from the control plane", (double)m->snapshots);
    long long held = 0;
    for (int i = 0; i < gw->n_workers; i++)
        held += atomic_load(&gw->workers[i].answer_bytes);
    cm_metrics_value(&out, "streamd_gateway_answer_bytes", "gauge",
                     "JSON answers held while clients read them (answer_buffer_bytes per thread)",
                     (double)held);
    cm_metrics_value(&out, "streamd_gateway_consume_cut_total", "counter",
                     "consume answers cut short because answer_buffer_bytes was reached",
                     (double)m->consume_cut);
    cm_metrics_value(&out, "streamd_gateway_grpc_calls_total", "counter", "gRPC calls taken",
                     (double)m->grpc_calls);
    cm_metrics_value(&out, "streamd_gateway_grpc_errors_total", "counter",
                     "gRPC calls answered with a status other than OK", (double)m->grpc_errors);
    cm_metrics_value(&out, "streamd_gateway_grpc_calls_active", "gauge",
                     "gRPC calls not ended yet (streams included)",
                     (double)atomic_load(&m->grpc_active));
    cm_metrics_value(&out, "streamd_gateway_connections_muted_total", "counter",
                     "times a REST connection over a tenant's quota was not read until its "
                     "Retry-After time",
                     (double)atomic_load(&m->connections_muted));
    cm_metrics_value(&out, "streamd_gateway_broker_auth_failures_total", "counter",
                     "times a broker refused the gateway's credential (SASL/SCRAM)",
                     (double)atomic_load(&m->broker_auth_failures));
    cm_metrics_value(&out, "streamd_gateway_grpc_calls_held_total", "counter",
                     "gRPC calls over a tenant's quota answered only at their retry time",
                     (double)atomic_load(&m->grpc_held));
    cm_metrics_value(&out, "streamd_gateway_preauth_bytes", "gauge",
                     "bytes read by connections that have not authenticated yet",
                     (double)atomic_load(&m->preauth_bytes));
    cm_metrics_value(&out, "streamd_gateway_preauth_paused_total", "counter",
                     "times a connection not authenticated yet stopped being read (over "
                     "preauth_bytes_max)",
                     (double)atomic_load(&m->preauth_paused));
    cm_metrics_value(&out, "streamd_gateway_consumer_instances", "gauge",
                     "REST consumer instances and gRPC group members held",
                     (double)atomic_load(&gw->consumer_instances));
    cm_metrics_hist(&out, "streamd_gateway_request_duration_seconds", "REST request latency",
                    &m->request_latency);
    static const struct {
        const char *name;
        const char *help;
        size_t field;
    } per[] = {
        { "streamd_gateway_tenant_bytes_in_total", "record bytes produced",
          offsetof(gw_tenant_rt_t, bytes_in) },
        { "streamd_gateway_tenant_bytes_out_total", "record bytes consumed",
          offsetof(gw_tenant_rt_t, bytes_out) },
        { "streamd_gateway_tenant_records_in_total", "records produced",
          offsetof(gw_tenant_rt_t, records_in) },
        { "streamd_gateway_tenant_records_out_total", "records consumed",
          offsetof(gw_tenant_rt_t, records_out) },
        { "streamd_gateway_tenant_requests_total", "authenticated requests",
          offsetof(gw_tenant_rt_t, requests_total) },
        { "streamd_gateway_tenant_throttled_total", "requests refused over quota (429)",
          offsetof(gw_tenant_rt_t, throttled) },
    };
    for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
        cm_sbuf_printf(&out, "# HELP %s %s\n# TYPE %s counter\n", per[i].name, per[i].help,
                       per[i].name);
        gw_rest__mctx_t mc = { &out, per[i].name, per[i].field };
        gw_meta_each_rt(gw->meta, gw_rest__tenant_metric, &mc);
    }
    *outp = out;
}

int gw_rest_admin_handle(void *worker, h2o_req_t *req)
{
    gw_worker_t *w = worker;
    cm_arena_t a;
    cm_arena_init(&a, 4096);
    const char *seg[2];
    int n = cm_http_segments(req, &a, seg, 2);
    const char *s = n == 1 ? seg[0] : "";
    if (strcmp(s, "healthz") != 0 && strcmp(s, "readyz") != 0 && strcmp(s, "metrics") != 0) {
        cm_http_send_error(req, 404, 404, 0, "no such path: /healthz, /readyz or /metrics");
    } else if (!cm_http_method_is(req, "GET") && !cm_http_method_is(req, "HEAD")) {
        cm_http_send_error(req, 405, 405, 0, "use GET");
    } else if (strcmp(s, "healthz") == 0) {
        cm_http_send(req, 200, "text/plain", "ok\n", 3);
    } else if (strcmp(s, "readyz") == 0) {
        if (gw_meta_ready(w->gw->meta))
            cm_http_send(req, 200, "text/plain", "ready\n", 6);
        else
            cm_http_send_error(req, 503, 503, 1,
                               "not ready: no metadata from the control plane yet");
    } else {
        cm_sbuf_t out;
        cm_sbuf_init(&out);
        gw_rest__metrics(w->gw, &out);
        cm_http_send(req, 200, "text/plain; version=0.0.4", out.buf, out.len);
        cm_sbuf_free(&out);
    }
    cm_arena_free(&a);
    return 0;
}

/* ---- authentication and dispatch ------------------------------------------------------ */

static void gw_rest__source(const h2o_req_t *req, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    snprintf(out, cap, "unknown");
    if (len == 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)cap);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)cap);
}

static bool gw_rest__authenticate(gw_rreq_t *r)
{
    gw_cred_t c;
    char why[256], source[64];
    int retry = 0;
    gw_rest__source(r->req, source, sizeof(source));
    gw_auth_t rc;
    if (!gw_session_cred(cm_http_header(r->req, &r->arena, "authorization"), &r->arena, &c)) {
        snprintf(why, sizeof(why),
                 "the Authorization header must be Basic <base64 key:secret> "
                 "or Bearer <JWT>");
        rc = GW_AUTH_INVALID;
    } else {
        rc = gw_session_auth(r->w, r->snap, &c, source, &r->ss, &retry, why, sizeof(why));
    }
    switch (rc) {
    case GW_AUTH_OK:
        return true;
    case GW_AUTH_LIMITED:
        gw_rest_error(r, 429, 429, retry, "%s", why);
        return false;
    case GW_AUTH_SUSPENDED:
        memset(&r->ss, 0, sizeof(r->ss));
        gw_rest_error(r, 403, 403, 0, "%s", why);
        return false;
    default:
        h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Basic realm=\"streamd\", Bearer realm=\"streamd\""));
        gw_rest_error(r, 401, 401, 0, "%s", why);
        return false;
    }
}

/* The tenants a client connection counts against; freed with the socket. */
#define GW_REST__CONN_TENANTS_MAX 4
typedef struct gw_rest__conn {
    int n;
    gw_tenant_rt_t *rts[GW_REST__CONN_TENANTS_MAX];
} gw_rest__conn_t;

static void gw_rest__conn_closed(void *data)
{
    gw_rest__conn_t *c = data;
    for (int i = 0; i < c->n; i++)
        gw_session_conn_close(c->rts[i]);
    free(c);
}

/*
 * A client connection counts against the cap of every tenant that sends a request on it,
 * from that tenant's first authenticated request until it closes (the socket's close hook
 * uncounts it): a kept-alive or HTTP/2 connection cannot carry a tenant past its cap under
 * another tenant's count. At most GW_REST__CONN_TENANTS_MAX tenants share one connection.
 * False when the request is refused (`shared` says why: too many tenants, else the cap);
 * the connection stays uncounted for that tenant, so a later request on it tries again.
 */
static bool gw_rest__conn_counted(gw_rreq_t *r, bool *shared)
{
    gw_rest__conn_t *c = cm_http_conn_get(r->req);
    gw_tenant_rt_t *rt = r->ss.tenant->rt;
    for (int i = 0; c != NULL && i < c->n; i++)
        if (c->rts[i] == rt)
            return true;
    *shared = c != NULL && c->n == GW_REST__CONN_TENANTS_MAX;
    if (*shared || !gw_session_conn_open(&r->ss))
        return false;
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            abort();
        if (!cm_http_conn_set(r->req, c, gw_rest__conn_closed)) {
            free(c); /* not a connection of ours: nothing to count it against */
            gw_session_conn_close(rt);
            return true;
        }
    }
    c->rts[c->n++] = rt;
    return true;
}

typedef struct gw_rest__route {
    const char *method;
    const char *pattern; /* after kafka/v3/clusters */
    void (*fn)(gw_rreq_t *r);
    bool topic; /* seg[5] names a topic of the caller's */
} gw_rest__route_t;

static const gw_rest__route_t gw_rest__routes[] = {
    { "GET", "kafka/v3/clusters", gw_rest__clusters, false },
    { "GET", "kafka/v3/clusters/*", gw_rest__clusters, false },
    { "GET", "kafka/v3/clusters/*/acls", gw_acls_list, false },
    { "POST", "kafka/v3/clusters/*/acls", gw_acls_create, false },
    { "DELETE", "kafka/v3/clusters/*/acls", gw_acls_delete, false },
    { "GET", "kafka/v3/clusters/*/topics", gw_rest__topics_list, false },
    { "POST", "kafka/v3/clusters/*/topics", gw_rest__topic_create, false },
    { "GET", "kafka/v3/clusters/*/topics/*", gw_rest__topic_get, true },
    { "DELETE", "kafka/v3/clusters/*/topics/*", gw_rest__topic_delete, true },
    { "GET", "kafka/v3/clusters/*/topics/*/partitions", gw_rest__partitions, true },
    { "GET", "kafka/v3/clusters/*/topics/*/partitions/*", gw_rest__partitions, true },
    { "GET", "kafka/v3/clusters/*/topics/*/configs", gw_configs_list, true },
    { "GET", "kafka/v3/clusters/*/topics/*/configs/*", gw_configs_get, true },
    { "PUT", "kafka/v3/clusters/*/topics/*/configs/*", gw_configs_set, true },
    { "DELETE", "kafka/v3/clusters/*/topics/*/configs/*", gw_configs_reset, true },
    { "POST", "kafka/v3/clusters/*/topics/*/configs:alter", gw_configs_alter, true },
    { "POST", "kafka/v3/clusters/*/topics/*/records", gw_records_produce, true },
    { "GET", "kafka/v3/clusters/*/topics/*/partitions/*/records", gw_records_consume, true },
    { "GET", "kafka/v3/clusters/*/consumer-groups", gw_groups_list, false },
    { "GET", "kafka/v3/clusters/*/consumer-groups/*", gw_groups_get, false },
    { "GET", "kafka/v3/clusters/*/consumer-groups/*/consumers", gw_groups_consumers, false },
    { "GET", "kafka/v3/clusters/*/consumer-groups/*/consumers/*", gw_groups_consumers, false },
    { "GET", "kafka/v3/clusters/*/consumer-groups/*/consumers/*/assignments", gw_groups_consumers,
      false },
    { "GET", "kafka/v3/clusters/*/consumer-groups/*/lags", gw_groups_lags, false },
    { "GET", "kafka/v3/clusters/*/consumer-groups/*/lags/*/partitions/*", gw_groups_lags, false },
    { "GET", "kafka/v3/clusters/*/consumer-groups/*/lag-summary", gw_groups_lags, false },
    { "POST", "kafka/v2/clusters/*/consumers/*", gw_consumers_handle, false },
    { "DELETE", "kafka/v2/clusters/*/consumers/*/instances/*", gw_consumers_handle, false },
    { "POST", "kafka/v2/clusters/*/consumers/*/instances/*/subscription", gw_consumers_handle,
      false },
    { "GET", "kafka/v2/clusters/*/consumers/*/instances/*/subscription", gw_consumers_handle,
      false },
    { "DELETE", "kafka/v2/clusters/*/consumers/*/instances/*/subscription", gw_consumers_handle,
      false },
    { "GET", "kafka/v2/clusters/*/consumers/*/instances/*/assignments", gw_consumers_handle,
      false },
    { "POST", "kafka/v2/clusters/*/consumers/*/instances/*/offsets", gw_consumers_handle, false },
    { "GET", "kafka/v2/clusters/*/consumers/*/instances/*/offsets", gw_consumers_handle, false },
    { "POST", "kafka/v2/clusters/*/consumers/*/instances/*/positions", gw_consumers_handle, false },
    { "POST", "kafka/v2/clusters/*/consumers/*/instances/*/positions/beginning",
      gw_consumers_handle, false },
    { "POST", "kafka/v2/clusters/*/consumers/*/instances/*/positions/end", gw_consumers_handle,
      false },
    { "GET", "kafka/v2/clusters/*/consumers/*/instances/*/records", gw_consumers_handle, false },
};
#define GW_REST__N_ROUTES (sizeof(gw_rest__routes) / sizeof(gw_rest__routes[0]))

void gw_rest_routes_print(FILE *out)
{
    for (size_t i = 0; i < GW_REST__N_ROUTES; i++)
        fprintf(out, "%s /%s\n", gw_rest__routes[i].method, gw_rest__routes[i].pattern);
}

static void gw_rest__dispatch(gw_rreq_t *r)
{
    const gw_rest__route_t *found = NULL;
    char allow[64] = "";
    for (size_t i = 0; r->nseg > 0 && i < GW_REST__N_ROUTES; i++) {
        if (!cm_http_route_match(gw_rest__routes[i].pattern, r->seg, r->nseg))
            continue;
        if (cm_http_method_is(r->req, gw_rest__routes[i].method))
            found = &gw_rest__routes[i];
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof(allow) - n, "%s%s", n ? ", " : "", gw_rest__routes[i].method);
    }
    if (allow[0] == '\0') {
        gw_rest_error(r, 404, 404, 0, "no such path; the API is described in docs/api/gateway.md");
        return;
    }
    gw_worker_t *w = r->w;
    if (gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen) == NULL) {
        gw_rest_error(r, 503, 503, 1, "the gateway has not loaded its metadata yet");
        return;
    }
    r->snap = w->snap;
    atomic_fetch_add(&r->snap->refs, 1);
    if (!gw_rest__authenticate(r))
        return;
    cm_http_conn_authenticated(r->req);
    bool shared = false;
    if (!gw_rest__conn_counted(r, &shared)) {
        if (r->req->version < 0x200) /* HTTP/1.1: this connection is not served further */
            h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_CONNECTION, NULL,
                           H2O_STRLIT("close"));
        if (shared)
            gw_rest_error(r, 429, 429, 1,
                          "this connection already carries the requests of %d tenants; use a "
                          "connection of your own",
                          GW_REST__CONN_TENANTS_MAX);
        else
            gw_rest_error(r, 429, 429, 1,
                          "this tenant has its maximum of %lld open connections; close one or "
                          "retry later",
                          (long long)r->ss.tenant->quota.connections);
        return;
    }
    int wait = gw_session_charge(&r->ss, GW_CHARGE_REQUEST, 1);
    if (wait > 0) {
        gw_rest_throttled(r, wait);
        gw_rest_error(r, 429, 429, wait, "over the request rate quota; retry in %d s", wait);
        return;
    }
    if (found == NULL) {
        char *v = h2o_mem_alloc_pool(&r->req->pool, sizeof(allow));
        memcpy(v, allow, sizeof(allow));
        h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_ALLOW, NULL, v, strlen(v));
        gw_rest_error(r, 405, 405, 0, "this path takes %s", allow);
        return;
    }
    /* Another tenant's cluster and topics are "not found", like ones that do not exist. */
    if (r->nseg >= 4 && strcmp(r->seg[3], r->ss.tenant->cluster_id) != 0) {
        gw_rest_error(r, 404, 404, 0, "no such cluster; yours is %s", r->ss.tenant->cluster_id);
        return;
    }
    if (found->topic) {
        r->topic = gw_snap_topic(r->ss.tenant, r->seg[5]);
        if (r->topic == NULL ||
            !gw_session_allowed(&r->ss, CM_ACL_RT_TOPIC, r->topic->name, CM_ACL_OP_DESCRIBE)) {
            r->topic = NULL;
            gw_rest_error(r, 404, 404, 0, "no topic \"%.249s\" in this cluster", r->seg[5]);
            return;
        }
    }
    found->fn(r);
}

int gw_rest_handle(void *worker, h2o_req_t *req)
{
    gw_rreq_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->w = worker;
    r->req = req;
    r->refs = 1;
    r->t0_us = cm_mono_us();
    cm_arena_init(&r->arena, (size_t)r->w->gw->cfg.request_arena_bytes);
    gw_rreq_t **link = h2o_mem_alloc_shared(&req->pool, sizeof(*link), gw_rest__on_dispose);
    *link = r;
    r->nseg = cm_http_segments(req, &r->arena, r->seg, CM_HTTP_SEGMENTS_MAX);
    gw_rest__dispatch(r);
    return 0;
}
