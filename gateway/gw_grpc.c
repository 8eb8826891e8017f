#include "gw_grpc.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_fs.h"
#include "cm_log.h"
#include "cm_time.h"
#include "gw_meta.h"

#define GW_GRPC__ARENA_BYTES  (64u << 20)
#define GW_GRPC__STOP_WAIT_MS 5000
/* A stream checks its credentials again when the snapshot changed, and at least this often
 * (a JWT expires without any change). */
#define GW_GRPC__RECHECK_MS 1000

#define GW_GRPC__SERVICE "/streaming.v1.Streaming/"

typedef struct gw_grpc__method {
    const char *path;
    void (*fn)(gw_gcall_t *c); /* NULL: in the proto, not served by this gateway yet */
    bool stream_in;            /* the client streams: no request message comes with the call */
} gw_grpc__method_t;

static const gw_grpc__method_t gw_grpc__methods[] = {
    { GW_GRPC__SERVICE "CreateTopic", gw_grpc_create_topic, false },
    { GW_GRPC__SERVICE "ListTopics", gw_grpc_list_topics, false },
    { GW_GRPC__SERVICE "DescribeTopic", gw_grpc_describe_topic, false },
    { GW_GRPC__SERVICE "DeleteTopic", gw_grpc_delete_topic, false },
    { GW_GRPC__SERVICE "Produce", gw_grpc_produce, false },
    { GW_GRPC__SERVICE "ProduceStream", gw_grpc_produce_stream, true },
    { GW_GRPC__SERVICE "Consume", gw_grpc_consume, false },
    { GW_GRPC__SERVICE "CommitOffsets", gw_grpc_commit_offsets, false },
    { GW_GRPC__SERVICE "GetCommittedOffsets", gw_grpc_committed_offsets, false },
    { GW_GRPC__SERVICE "ListOffsets", gw_grpc_list_offsets, false },
};
#define GW_GRPC__N_METHODS (int)(sizeof(gw_grpc__methods) / sizeof(gw_grpc__methods[0]))

struct gw_grpc {
    gw_t *gw;
    grpc_server *server;
    grpc_completion_queue *cq;
    void *handles[GW_GRPC__N_METHODS];
    pthread_t thread;
    atomic_uint rr;
    atomic_bool stopping;          /* no new calls are taken */
    atomic_llong stop_deadline_ms; /* calls still going then are abandoned */
    bool server_down;              /* the server's shutdown completed (gRPC thread) */
    gw_gtag_t t_shutdown;
    pthread_mutex_t mu; /* guards `closed` against answers from workers */
    bool closed;        /* the queue is shut down: nothing may be started on a call */
    pthread_mutex_t conn_mu;
    cm_strmap_t conns; /* "<tenant id>|<peer>" -> gw_grpc__conn_t, connections with calls */
};

/* A client connection with calls going on: one connection against its tenant's cap
 * (quotas.connections, shared with REST), from its first call until its last ends. grpc
 * core does not tell a server of its connections; a peer's address and port stand for one. */
typedef struct gw_grpc__conn {
    int calls;
    gw_tenant_rt_t *rt;
    char key[];
} gw_grpc__conn_t;

/* ---- calls ----------------------------------------------------------------------------- */

static void gw_grpc__on_new(gw_gtag_t *t, bool ok);
static void gw_grpc__on_done(gw_gtag_t *t, bool ok);

/* gRPC thread: a worker's operation completed; its worker goes on with it. */
static void gw_grpc__on_op(gw_gtag_t *t, bool ok)
{
    gw_gop_t *op = (gw_gop_t *)((char *)t - offsetof(gw_gop_t, tag));
    op->ok = ok;
    h2o_multithread_send_message(&t->call->w->grpc_ops, &op->msg);
}

static gw_gcall_t *gw_grpc__call_new(gw_grpc_t *g, int method)
{
    gw_gcall_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->srv = g;
    c->method = method;
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->details);
    cm_arena_init(&c->arena, GW_GRPC__ARENA_BYTES);
    c->t_new = (gw_gtag_t){ c, gw_grpc__on_new };
    c->t_done = (gw_gtag_t){ c, gw_grpc__on_done };
    gw_gop_t *ops[] = { &c->op_close, &c->op_send, &c->op_recv, &c->op_end };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        ops[i]->tag = (gw_gtag_t){ c, gw_grpc__on_op };
    return c;
}

/* The call's connection's key in `conns`; its length. */
static size_t gw_grpc__conn_key(const gw_gcall_t *c, char *key, size_t cap)
{
    int n = snprintf(key, cap, "%s|%s", c->ss.tenant->id, c->conn);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static bool gw_grpc__conn_take(gw_gcall_t *c)
{
    gw_grpc_t *g = c->srv;
    char key[160];
    size_t n = gw_grpc__conn_key(c, key, sizeof(key));
    pthread_mutex_lock(&g->conn_mu);
    gw_grpc__conn_t *e = cm_strmap_get(&g->conns, key, n);
    bool ok = true;
    if (e != NULL) {
        e->calls++;
    } else if ((ok = gw_session_conn_open(&c->ss))) {
        e = calloc(1, sizeof(*e) + n + 1);
        if (e == NULL)
            abort();
        e->calls = 1;
        e->rt = c->ss.tenant->rt;
        memcpy(e->key, key, n + 1);
        cm_strmap_put(&g->conns, e->key, n, e);
    }
    pthread_mutex_unlock(&g->conn_mu);
    c->conn_counted = ok;
    return ok;
}

static void gw_grpc__conn_give(gw_gcall_t *c)
{
    gw_grpc_t *g = c->srv;
    char key[160];
    size_t n = gw_grpc__conn_key(c, key, sizeof(key));
    pthread_mutex_lock(&g->conn_mu);
    gw_grpc__conn_t *e = cm_strmap_get(&g->conns, key, n);
    if (e != NULL && --e->calls == 0) {
        cm_strmap_del(&g->conns, key, n);
        gw_session_conn_close(e->rt);
        free(e);
    }
    pthread_mutex_unlock(&g->conn_mu);
}

static void gw_grpc__call_free(gw_gcall_t *c)
{
    if (c->conn_counted)
        gw_grpc__conn_give(c);
    if (c->state_free != NULL)
        c->state_free(c->state);
    if (c->call != NULL) {
        grpc_call_unref(c->call);
        atomic_fetch_sub(&c->srv->gw->metrics.grpc_active, 1);
    }
    grpc_metadata_array_destroy(&c->md);
    grpc_call_details_destroy(&c->details);
    grpc_byte_buffer *bufs[] = { c->payload, c->in, c->out, c->answer };
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        if (bufs[i] != NULL)
            grpc_byte_buffer_destroy(bufs[i]);
    grpc_slice_unref(c->status_details);
    gw_snap_release(c->snap);
    cm_arena_free(&c->arena);
    free(c);
}

/* Arms the server to take the next call of `method` (-1: any method it does not know). */
static void gw_grpc__arm(gw_grpc_t *g, int method)
{
    gw_gcall_t *c = gw_grpc__call_new(g, method);
    grpc_call_error e;
    if (method < 0)
        e = grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq,
                                     &c->t_new);
    else
        e = grpc_server_request_registered_call(
            g->server, g->handles[method], &c->call, &c->deadline, &c->md,
            gw_grpc__methods[method].stream_in ? NULL : &c->payload, g->cq, g->cq, &c->t_new);
    if (e != GRPC_CALL_OK) {
        cm_log_error("cannot take gRPC calls", "err=%d", (int)e);
        gw_grpc__call_free(c);
    }
}

/* gRPC thread: the answer of a call no worker took went out. */
static void gw_grpc__on_done(gw_gtag_t *t, bool ok)
{
    (void)ok; /* not ok: the client had gone; the call ends all the same */
    gw_grpc__call_free(t->call);
}

/* Starts a batch, unless the queue is shut down (past the stop deadline: the call is
 * abandoned, and nothing of it completes). */
static bool gw_grpc__batch(gw_gcall_t *c, const grpc_op *ops, size_t n, gw_gtag_t *tag)
{
    gw_grpc_t *g = c->srv;
    pthread_mutex_lock(&g->mu);
    bool closed = g->closed;
    grpc_call_error e = closed ? GRPC_CALL_OK : grpc_call_start_batch(c->call, ops, n, tag, NULL);
    pthread_mutex_unlock(&g->mu);
    if (e != GRPC_CALL_OK)
        cm_log_error("cannot start a gRPC operation", "err=%d op=%d", (int)e, (int)ops[0].op);
    return !closed && e == GRPC_CALL_OK;
}

/* Worker: starts `op` with the call's operation `slot`; `done` runs when it completed. */
static bool gw_grpc__start(gw_gcall_t *c, gw_gop_t *slot, const grpc_op *ops, size_t n,
                           gw_gop_fn done)
{
    slot->done = done;
    if (!gw_grpc__batch(c, ops, n, &slot->tag))
        return false;
    c->ops++;
    return true;
}

/* Worker: frees the call once it is answered and nothing of it is in flight. */
static void gw_grpc__settle(gw_gcall_t *c)
{
    if (c->answered && c->ops == 0)
        gw_grpc__call_free(c);
}

/* The first message or the status carries the initial metadata. */
static void gw_grpc__initial_md(gw_gcall_t *c, grpc_op *ops, int *n)
{
    if (c->md_sent)
        return;
    c->md_sent = true;
    ops[(*n)++].op = GRPC_OP_SEND_INITIAL_METADATA;
}

/* The answer: initial metadata (unless sent), the message (if any) and the status. A call
 * no worker took also waits for its close here; a worker's has been watched for it since it
 * came. */
static void gw_grpc__finish(gw_gcall_t *c, grpc_byte_buffer *answer, gw_gstatus_t code,
                            const char *details)
{
    if (c->answered) {
        if (answer != NULL)
            grpc_byte_buffer_destroy(answer);
        return;
    }
    c->answered = true;
    c->answer = answer; /* grpc core owns its slices until the batch completes */
    gw_metrics_t *m = &c->srv->gw->metrics;
    if (code != GRPC_STATUS_OK)
        atomic_fetch_add(&m->grpc_errors, 1);
    c->status_details = grpc_slice_from_copied_string(details);
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    int n = 0;
    gw_grpc__initial_md(c, ops, &n);
    if (answer != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = answer;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &c->status_details;
    if (c->retry_after[0] != '\0') {
        c->trailer.key = grpc_slice_from_static_string("retry-after");
        c->trailer.value = grpc_slice_from_static_string(c->retry_after);
        ops[n].data.send_status_from_server.trailing_metadata = &c->trailer;
        ops[n].data.send_status_from_server.trailing_metadata_count = 1;
    }
    n++;
    if (c->w != NULL) {
        gw_grpc__start(c, &c->op_end, ops, (size_t)n, NULL);
        return;
    }
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    if (!gw_grpc__batch(c, ops, (size_t)n, &c->t_done) && !c->srv->closed)
        gw_grpc__call_free(c); /* nothing will complete (it never should happen) */
}

static void gw_grpc__vfail(gw_gcall_t *c, gw_gstatus_t code, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    gw_grpc__finish(c, NULL, code, msg);
}

void gw_grpc_fail(gw_gcall_t *c, gw_gstatus_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gw_grpc__vfail(c, code, fmt, ap);
    va_end(ap);
}

static void gw_grpc__on_hold(h2o_timeout_entry_t *e)
{
    gw_gcall_t *c = H2O_STRUCT_FROM_MEMBER(gw_gcall_t, hold, e);
    if (--c->hold_s > 0) {
        h2o_timeout_link(c->w->loop, &c->w->grpc_hold_timeout, &c->hold);
        return;
    }
    gw_grpc__finish(c, NULL, c->hold_code, c->hold_msg);
}

/* A held call answers at once when the client cancels or goes away, or the gateway stops. */
static void gw_grpc__unhold(gw_gcall_t *c)
{
    if (!h2o_timeout_is_linked(&c->hold))
        return;
    h2o_timeout_unlink(&c->hold);
    gw_grpc__finish(c, NULL, c->hold_code, c->hold_msg);
}

void gw_grpc_fail_retry(gw_gcall_t *c, gw_gstatus_t code, int retry_after_s, const char *fmt, ...)
{
    snprintf(c->retry_after, sizeof(c->retry_after), "%d", retry_after_s > 0 ? retry_after_s : 1);
    va_list ap;
    va_start(ap, fmt);
    gw_grpc__vfail(c, code, fmt, ap);
    va_end(ap);
}

void gw_grpc_throttle(gw_gcall_t *c, int retry_after_s, const char *fmt, ...)
{
    gw_gstatus_t code = GRPC_STATUS_RESOURCE_EXHAUSTED;
    if (retry_after_s < 1)
        retry_after_s = 1;
    snprintf(c->retry_after, sizeof(c->retry_after), "%d", retry_after_s);
    va_list ap;
    va_start(ap, fmt);
    if (c->w == NULL || c->answered || h2o_timeout_is_linked(&c->hold)) {
        gw_grpc__vfail(c, code, fmt, ap);
        va_end(ap);
        return;
    }
    /* As Kafka mutes a throttled channel and the REST listener a throttled connection
     * (cm_http_conn_mute), the answer waits for the retry time: a client that ignores it
     * gets no more than one answer per stream and retry time, and costs nothing meanwhile.
     * The request message is let go now; the call holds a few hundred bytes, and a
     * connection at most grpc_streams_max of them. */
    vsnprintf(c->hold_msg, sizeof(c->hold_msg), fmt, ap);
    va_end(ap);
    if (c->payload != NULL) {
        grpc_byte_buffer_destroy(c->payload);
        c->payload = NULL;
    }
    c->hold_code = code;
    c->hold_s = retry_after_s;
    c->hold.cb = gw_grpc__on_hold;
    atomic_fetch_add(&c->srv->gw->metrics.grpc_held, 1);
    h2o_timeout_link(c->w->loop, &c->w->grpc_hold_timeout, &c->hold);
}

void gw_grpc_end(gw_gcall_t *c, gw_gstatus_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gw_grpc__vfail(c, code, fmt, ap);
    va_end(ap);
}

grpc_byte_buffer *gw_grpc_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

void gw_grpc_reply_packed(gw_gcall_t *c, grpc_byte_buffer *msg)
{
    gw_grpc__finish(c, msg, GRPC_STATUS_OK, "");
}

void gw_grpc_reply(gw_gcall_t *c, const ProtobufCMessage *msg)
{
    gw_grpc__finish(c, gw_grpc_pack(msg), GRPC_STATUS_OK, "");
}

void gw_grpc_send(gw_gcall_t *c, grpc_byte_buffer *msg, gw_gop_fn done)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    int n = 0;
    gw_grpc__initial_md(c, ops, &n);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = msg;
    c->out = msg; /* destroyed when the send completes */
    if (!gw_grpc__start(c, &c->op_send, ops, (size_t)n, done)) {
        grpc_byte_buffer_destroy(msg);
        c->out = NULL;
    }
}

void gw_grpc_recv(gw_gcall_t *c, gw_gop_fn done)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->in;
    gw_grpc__start(c, &c->op_recv, &op, 1, done);
}

gw_gstatus_t gw_grpc_status_of_http(int http)
{
    switch (http) {
    case 200:
        return GRPC_STATUS_OK;
    case 400:
    case 413:
    case 422:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case 401:
        return GRPC_STATUS_UNAUTHENTICATED;
    case 403:
        return GRPC_STATUS_PERMISSION_DENIED;
    case 404:
        return GRPC_STATUS_NOT_FOUND;
    case 409:
        return GRPC_STATUS_ALREADY_EXISTS;
    case 429:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    default:
        return GRPC_STATUS_UNAVAILABLE;
    }
}

/* protobuf-c allocates unpacked messages from the call's arena: freed with the call. */
static void *gw_grpc__pb_alloc(void *ud, size_t n)
{
    return cm_arena_alloc(ud, n);
}

static void gw_grpc__pb_free(void *ud, void *p)
{
    (void)ud;
    (void)p;
}

void *gw_grpc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d, cm_arena_t *a)
{
    grpc_byte_buffer_reader rd;
    if (bb == NULL || !grpc_byte_buffer_reader_init(&rd, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    ProtobufCAllocator alloc = { gw_grpc__pb_alloc, gw_grpc__pb_free, a };
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, &alloc, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

void *gw_grpc_request(gw_gcall_t *c, const ProtobufCMessageDescriptor *d)
{
    if (c->payload == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "no request message");
        return NULL;
    }
    void *m = gw_grpc_unpack(c->payload, d, &c->arena);
    if (m == NULL)
        gw_grpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "the request is not a valid %s", d->name);
    return m;
}

gw_gstatus_t gw_grpc_recheck(gw_gcall_t *c, gw_gsess_t *au, char *msg, size_t cap)
{
    gw_worker_t *w = c->w;
    gw_snap_t *s = gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen);
    int64_t now = cm_mono_ms();
    if (au->snap == NULL) { /* the call's own check, just made */
        au->ss = c->ss;
        au->snap = c->snap;
        atomic_fetch_add(&au->snap->refs, 1);
        au->checked_ms = now;
    }
    if (s == NULL || (s == au->snap && now - au->checked_ms < GW_GRPC__RECHECK_MS))
        return GRPC_STATUS_OK;
    int retry = 0;
    gw_session_t ss;
    gw_auth_t rc = gw_session_auth(w, s, &c->cred, c->peer, &ss, &retry, msg, cap);
    if (rc != GW_AUTH_OK)
        return rc == GW_AUTH_SUSPENDED ? GRPC_STATUS_PERMISSION_DENIED
               : rc == GW_AUTH_LIMITED ? GRPC_STATUS_RESOURCE_EXHAUSTED
                                       : GRPC_STATUS_UNAUTHENTICATED;
    gw_snap_release(au->snap);
    au->ss = ss;
    au->snap = s;
    atomic_fetch_add(&s->refs, 1);
    au->checked_ms = now;
    return GRPC_STATUS_OK;
}

const gw_topic_t *gw_grpc_topic(const gw_session_t *ss, const char *name, cm_acl_op_t op,
                                gw_gstatus_t *code, char *msg, size_t cap)
{
    const gw_topic_t *t = gw_snap_topic(ss->tenant, name);
    if (t == NULL || !gw_session_allowed(ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_DESCRIBE)) {
        *code = GRPC_STATUS_NOT_FOUND;
        snprintf(msg, cap, "no topic \"%.200s\" in this cluster", name);
        return NULL;
    }
    if (!gw_session_allowed(ss, CM_ACL_RT_TOPIC, t->name, op)) {
        *code = GRPC_STATUS_PERMISSION_DENIED;
        snprintf(msg, cap, "principal %s may not %s topic \"%s\"", ss->principal,
                 op == CM_ACL_OP_WRITE    ? "write to"
                 : op == CM_ACL_OP_DELETE ? "delete"
                                          : "read",
                 t->name);
        return NULL;
    }
    *code = GRPC_STATUS_OK;
    return t;
}

/* ---- the gRPC thread ------------------------------------------------------------------- */

/* "ipv4:127.0.0.1:5000" or "ipv6:[::1]:5000" -> the address alone. */
static void gw_grpc__peer(grpc_call *call, char *out, size_t cap, char *conn, size_t conn_cap)
{
    char *p = grpc_call_get_peer(call);
    const char *s = p != NULL ? p : "unknown";
    snprintf(conn, conn_cap, "%s", s);
    const char *colon = strchr(s, ':');
    if (colon != NULL && (strncmp(s, "ipv4:", 5) == 0 || strncmp(s, "ipv6:", 5) == 0))
        s = colon + 1;
    snprintf(out, cap, "%s", s);
    char *end = strrchr(out, ':');
    if (end != NULL && end != out)
        *end = '\0';
    if (out[0] == '[') {
        memmove(out, out + 1, strlen(out));
        char *rb = strchr(out, ']');
        if (rb != NULL)
            *rb = '\0';
    }
    gpr_free(p);
}

static void gw_grpc__on_new(gw_gtag_t *t, bool ok)
{
    gw_gcall_t *c = t->call;
    gw_grpc_t *g = c->srv;
    if (!ok) { /* the server is shutting down: no call came */
        if (c->call != NULL)
            grpc_call_unref(c->call);
        c->call = NULL;
        gw_grpc__call_free(c);
        return;
    }
    gw_metrics_t *m = &g->gw->metrics;
    atomic_fetch_add(&m->grpc_calls, 1);
    atomic_fetch_add(&m->grpc_active, 1);
    if (!atomic_load(&g->stopping))
        gw_grpc__arm(g, c->method);
    if (c->method < 0) {
        char method[256];
        snprintf(method, sizeof(method), "%.*s", (int)GRPC_SLICE_LENGTH(c->details.method),
                 (const char *)GRPC_SLICE_START_PTR(c->details.method));
        gw_grpc_fail(c, GRPC_STATUS_UNIMPLEMENTED, "no method %s; the API is %s", method,
                     "proto/streaming/v1/streaming.proto");
        return;
    }
    if (gw_grpc__methods[c->method].fn == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_UNIMPLEMENTED, "%s is not served by this gateway yet",
                     gw_grpc__methods[c->method].path);
        return;
    }
    gw_grpc__peer(c->call, c->peer, sizeof(c->peer), c->conn, sizeof(c->conn));
    gw_t *gw = g->gw;
    gw_worker_t *w = &gw->workers[atomic_fetch_add(&g->rr, 1) % (unsigned)gw->n_workers];
    h2o_multithread_send_message(&w->grpc_calls, &c->msg);
}

static void *gw_grpc__run(void *arg)
{
    gw_grpc_t *g = arg;
    for (;;) {
        gpr_timespec until =
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(200, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(g->cq, until, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE) {
            gw_gtag_t *t = ev.tag;
            if (t == &g->t_shutdown)
                g->server_down = true;
            else
                t->on(t, ev.success != 0);
        }
        /* Stopping: the server's shutdown completes once no call is going on, and the
         * workers free the calls they hold; calls still held by a worker at the deadline
         * are abandoned. Then the queue shuts down and drains. */
        bool all_freed = atomic_load(&g->gw->metrics.grpc_active) == 0;
        if (atomic_load(&g->stopping) && !g->closed &&
            ((g->server_down && all_freed) || cm_mono_ms() >= atomic_load(&g->stop_deadline_ms))) {
            long long left = atomic_load(&g->gw->metrics.grpc_active);
            if (left > 0)
                cm_log_warn("gRPC calls abandoned at shutdown", "calls=%lld", left);
            pthread_mutex_lock(&g->mu);
            g->closed = true;
            grpc_completion_queue_shutdown(g->cq);
            pthread_mutex_unlock(&g->mu);
        }
    }
    return NULL;
}

/* ---- workers --------------------------------------------------------------------------- */

/* The session core's steps, then the method. */
static void gw_grpc__serve(gw_gcall_t *c)
{
    gw_worker_t *w = c->w;
    if (atomic_load(&w->gw->stopping)) {
        gw_grpc_fail(c, GRPC_STATUS_UNAVAILABLE, "the gateway is stopping");
        return;
    }
    if (gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen) == NULL) {
        gw_grpc_fail(c, GRPC_STATUS_UNAVAILABLE, "the gateway has not loaded its metadata yet");
        return;
    }
    c->snap = w->snap;
    atomic_fetch_add(&c->snap->refs, 1);
    const char *auth = NULL;
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *e = &c->md.metadata[i];
        if (grpc_slice_str_cmp(e->key, "authorization") == 0) {
            auth = cm_arena_strndup(&c->arena, (const char *)GRPC_SLICE_START_PTR(e->value),
                                    GRPC_SLICE_LENGTH(e->value));
            break;
        }
    }
    gw_cred_t *cred = &c->cred;
    char why[256];
    int retry = 0;
    gw_auth_t rc;
    if (!gw_session_cred(auth, &c->arena, cred)) {
        snprintf(why, sizeof(why),
                 "the authorization metadata must be Basic <base64 key:secret> or Bearer <JWT>");
        rc = GW_AUTH_INVALID;
    } else {
        rc = gw_session_auth(w, c->snap, cred, c->peer, &c->ss, &retry, why, sizeof(why));
    }
    switch (rc) {
    case GW_AUTH_OK:
        break;
    case GW_AUTH_LIMITED:
        gw_grpc_fail_retry(c, GRPC_STATUS_RESOURCE_EXHAUSTED, retry, "%s", why);
        return;
    case GW_AUTH_SUSPENDED:
        memset(&c->ss, 0, sizeof(c->ss));
        gw_grpc_fail(c, GRPC_STATUS_PERMISSION_DENIED, "%s", why);
        return;
    default:
        gw_grpc_fail(c, GRPC_STATUS_UNAUTHENTICATED, "%s", why);
        return;
    }
    int wait = gw_session_charge(&c->ss, GW_CHARGE_REQUEST, 1);
    if (wait > 0) {
        gw_grpc_throttle(c, wait, "over the request rate quota; retry in %d s", wait);
        return;
    }
    if (!gw_grpc__conn_take(c)) {
        gw_grpc_fail_retry(c, GRPC_STATUS_RESOURCE_EXHAUSTED, 1,
                           "this tenant has its maximum of %lld connections open",
                           (long long)c->ss.tenant->quota.connections);
        return;
    }
    gw_grpc__methods[c->method].fn(c);
}

/* The client cancelled, went away or ran out of time (or the gateway is stopping). */
static void gw_grpc__on_close(gw_gcall_t *c, bool ok)
{
    (void)ok;
    if (!c->cancelled)
        return;
    c->gone = true;
    gw_grpc__unhold(c);
    if (!c->answered && c->on_cancel != NULL)
        c->on_cancel(c);
}

void gw_grpc_on_calls(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages)
{
    gw_worker_t *w = H2O_STRUCT_FROM_MEMBER(gw_worker_t, grpc_calls, recv);
    while (!h2o_linklist_is_empty(messages)) {
        gw_gcall_t *c = H2O_STRUCT_FROM_MEMBER(gw_gcall_t, msg.link, messages->next);
        h2o_linklist_unlink(&c->msg.link);
        c->w = w;
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        op.data.recv_close_on_server.cancelled = &c->cancelled;
        gw_grpc__start(c, &c->op_close, &op, 1, gw_grpc__on_close);
        gw_grpc__serve(c);
        gw_grpc__settle(c);
    }
}

void gw_grpc_on_ops(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages)
{
    (void)recv;
    while (!h2o_linklist_is_empty(messages)) {
        gw_gop_t *op = H2O_STRUCT_FROM_MEMBER(gw_gop_t, msg.link, messages->next);
        h2o_linklist_unlink(&op->msg.link);
        gw_gcall_t *c = op->tag.call;
        c->ops--;
        if (op == &c->op_send && c->out != NULL) {
            grpc_byte_buffer_destroy(c->out);
            c->out = NULL;
        }
        if ((op == &c->op_send || op == &c->op_recv) && !op->ok)
            c->gone = true; /* a message could not go or come: the client is gone */
        gw_gop_fn done = op->done;
        op->done = NULL;
        if (done != NULL)
            done(c, op->ok);
        gw_grpc__settle(c);
    }
}

/* ---- life ------------------------------------------------------------------------------ */

static bool gw_grpc__listen(gw_grpc_t *g, const char *addr, grpc_server_credentials *creds,
                            const char *what)
{
    int port = grpc_server_add_http2_port(g->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        cm_log_error("cannot listen", "what=%s listen=%s", what, addr);
        return false;
    }
    return true;
}

static grpc_server_credentials *gw_grpc__tls(const gw_config_t *cfg)
{
    char *cert = NULL, *key = NULL;
    size_t n;
    if (cm_fs_read_file(cfg->tls_cert, 1 << 20, &cert, &n) != 0 ||
        cm_fs_read_file(cfg->tls_key, 1 << 20, &key, &n) != 0) {
        cm_log_error("cannot read the TLS certificate for gRPC", "cert=%s key=%s", cfg->tls_cert,
                     cfg->tls_key);
        free(cert);
        free(key);
        return NULL;
    }
    grpc_ssl_pem_key_cert_pair pair = { key, cert };
    grpc_server_credentials *creds = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
    free(cert);
    free(key);
    return creds;
}

gw_grpc_t *gw_grpc_start(gw_t *gw)
{
    const gw_config_t *cfg = &gw->cfg;
    if (cfg->grpc_listen[0] == '\0' && cfg->grpc_tls_listen[0] == '\0')
        return NULL;
    grpc_init();
    gw_grpc_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        abort();
    g->gw = gw;
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->conn_mu, NULL);
    cm_strmap_init(&g->conns);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    /* Metadata room for the longest token the session core takes, so that an oversize
     * one is refused by it (UNAUTHENTICATED), not by grpc core. */
    int md_max = (int)cfg->jwt_bytes_max * 2 + 16384;
    grpc_arg args[] = {
        { GRPC_ARG_INTEGER,
          GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
          { .integer = (int)cfg->body_bytes_max } },
        { GRPC_ARG_INTEGER, GRPC_ARG_MAX_METADATA_SIZE, { .integer = md_max } },
        /* What one connection may have in progress: each call holds its request message
         * (up to body_bytes_max) before it is authenticated, and a throttled one is held
         * until its retry time. */
        { GRPC_ARG_INTEGER,
          GRPC_ARG_MAX_CONCURRENT_STREAMS,
          { .integer = (int)cfg->grpc_streams_max } },
        { GRPC_ARG_INTEGER, "grpc.absolute_max_metadata_size", { .integer = md_max } },
    };
    grpc_channel_args ch = { sizeof(args) / sizeof(args[0]), args };
    g->server = grpc_server_create(&ch, NULL);
    grpc_server_register_completion_queue(g->server, g->cq, NULL);
    for (int i = 0; i < GW_GRPC__N_METHODS; i++)
        g->handles[i] = grpc_server_register_method(g->server, gw_grpc__methods[i].path, NULL,
                                                    gw_grpc__methods[i].stream_in
                                                        ? GRPC_SRM_PAYLOAD_NONE
                                                        : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
                                                    0);
    bool ok = true;
    if (cfg->grpc_listen[0] != '\0')
        ok =
            gw_grpc__listen(g, cfg->grpc_listen, grpc_insecure_server_credentials_create(), "grpc");
    if (ok && cfg->grpc_tls_listen[0] != '\0') {
        grpc_server_credentials *creds = gw_grpc__tls(cfg);
        ok = creds != NULL && gw_grpc__listen(g, cfg->grpc_tls_listen, creds, "grpc-tls");
    }
    if (!ok) {
        grpc_server_destroy(g->server);
        grpc_completion_queue_shutdown(g->cq);
        while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(g->cq);
        pthread_mutex_destroy(&g->mu);
        pthread_mutex_destroy(&g->conn_mu);
        cm_strmap_free(&g->conns);
        free(g);
        grpc_shutdown();
        return NULL;
    }
    grpc_server_start(g->server);
    for (int i = 0; i < GW_GRPC__N_METHODS; i++)
        gw_grpc__arm(g, i);
    gw_grpc__arm(g, -1);
    if (pthread_create(&g->thread, NULL, gw_grpc__run, g) != 0)
        abort();
    return g;
}

void gw_grpc_stop(gw_grpc_t *g)
{
    if (g == NULL)
        return;
    atomic_store(&g->stop_deadline_ms, cm_mono_ms() + GW_GRPC__STOP_WAIT_MS);
    atomic_store(&g->stopping, true);
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->t_shutdown);
    grpc_server_cancel_all_calls(g->server);
    pthread_join(g->thread, NULL);
    if (atomic_load(&g->gw->metrics.grpc_active) > 0)
        return; /* abandoned calls may still look at the server: it is left to the exit */
    grpc_server_destroy(g->server);
    grpc_completion_queue_destroy(g->cq);
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->conn_mu);
    cm_strmap_free(&g->conns); /* empty: every call was freed */
    free(g);
    grpc_shutdown();
}
