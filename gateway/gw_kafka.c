#include "gw_kafka.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_scram.h"

#include <openssl/crypto.h>
#include "cm_time.h"

#define GW_KAFKA__FRAME_MAX   (256u << 20) /* a response larger than this is a broken stream */
#define GW_KAFKA__REQUEST_MAX (256u << 20)
#define GW_KAFKA__TICK_MS     200
/* After a broker refused the gateway's credential, calls to it fail at once this long. */
#define GW_KAFKA__AUTH_RETRY_MS 1000

typedef struct gw_kconn {
    gw_kpool_t *pool;
    int32_t id;
    char host[256];
    int port;
    h2o_socket_t *sock;
    bool connected;
    bool writing;
    h2o_iovec_t *iov;                      /* the write in progress */
    gw_kcall_t *queued, **queued_tail;     /* not written yet */
    gw_kcall_t *inflight, **inflight_tail; /* written (or being written), awaiting answers */
    bool held_lane;           /* for calls the broker may hold (gw_kcall_t.held), one at a time */
    cm_scram_client_t *scram; /* authenticating (the gateway has a credential) */
    int64_t refused_until_ms; /* the broker refused the credential: no new connection until */
    char refused_why[128];
} gw_kconn_t;

struct gw_kpool {
    gw_worker_t *w;
    gw_kconn_t **conns;
    int n_conns;
    int32_t next_correlation;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
};

static void gw_kafka__flush(gw_kconn_t *k);

void gw_kcall_free(gw_kcall_t *c)
{
    if (c == NULL)
        return;
    cm_kw_free(&c->w);
    free(c);
}

/* Closes the connection and ends every call on it. Callbacks may send new calls: those
 * start a fresh connection. */
static void gw_kafka__fail(gw_kconn_t *k, const char *why)
{
    gw_metrics_t *m = &k->pool->w->gw->metrics;
    atomic_fetch_add(&m->broker_errors, 1);
    cm_log_warn("broker connection failed", "broker=%d addr=%s:%d why=\"%s\"", k->id, k->host,
                k->port, why);
    if (k->sock != NULL) {
        h2o_socket_close(k->sock);
        k->sock = NULL;
    }
    free(k->iov);
    k->iov = NULL;
    k->connected = k->writing = false;
    if (k->scram != NULL) {
        OPENSSL_cleanse(k->scram, sizeof(*k->scram));
        free(k->scram);
        k->scram = NULL;
    }
    gw_kcall_t *sent = k->inflight, *unsent = k->queued;
    bool refused = cm_mono_ms() < k->refused_until_ms;
    k->inflight = k->queued = NULL;
    k->inflight_tail = &k->inflight;
    k->queued_tail = &k->queued;
    while (sent != NULL) {
        gw_kcall_t *next = sent->next;
        snprintf(sent->why, sizeof(sent->why), "broker %d: %s", k->id, why);
        sent->cb(sent, GW_KCALL_UNKNOWN, NULL);
        gw_kcall_free(sent);
        sent = next;
    }
    while (unsent != NULL) {
        gw_kcall_t *next = unsent->next;
        snprintf(unsent->why, sizeof(unsent->why), "broker %d: %s", k->id, why);
        unsent->refused = refused;
        unsent->cb(unsent, GW_KCALL_NOT_SENT, NULL);
        gw_kcall_free(unsent);
        unsent = next;
    }
}

static void gw_kafka__on_read(h2o_socket_t *sock, const char *err)
{
    gw_kconn_t *k = sock->data;
    if (err != NULL) {
        gw_kafka__fail(k, err);
        return;
    }
    while (k->sock == sock && sock->input->size >= 4) {
        const uint8_t *p = (const uint8_t *)sock->input->bytes;
        uint32_t size = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (size < 4 || size > GW_KAFKA__FRAME_MAX) {
            gw_kafka__fail(k, "malformed response frame");
            return;
        }
        if (sock->input->size < 4 + (size_t)size)
            return;
        gw_kcall_t *c = k->inflight;
        cm_kr_t r;
        cm_kr_init(&r, p + 4, size);
        int32_t corr = cm_kr_i32(&r);
        if (c == NULL || corr != c->correlation_id) {
            gw_kafka__fail(k, "a response that matches no request");
            return;
        }
        if (cm_kresp_hdr_version(c->api_key, c->api_version) >= 1) {
            uint32_t n = cm_kr_uvarint(&r); /* tagged fields of the header: none we need */
            for (uint32_t i = 0; i < n && r.err == 0; i++) {
                cm_kr_uvarint(&r);
                cm_kr_raw(&r, cm_kr_uvarint(&r));
            }
        }
        k->inflight = c->next;
        if (k->inflight == NULL)
            k->inflight_tail = &k->inflight;
        c->next = NULL;
        if (r.err != 0) {
            gw_kafka__fail(k, "malformed response header");
            snprintf(c->why, sizeof(c->why), "broker %d: malformed response header", k->id);
            c->cb(c, GW_KCALL_UNKNOWN, NULL);
            gw_kcall_free(c);
            return;
        }
        c->cb(c, GW_KCALL_OK, &r);
        gw_kcall_free(c);
        if (k->sock == sock)
            h2o_buffer_consume(&sock->input, 4 + (size_t)size);
    }
}

static void gw_kafka__on_written(h2o_socket_t *sock, const char *err)
{
    gw_kconn_t *k = sock->data;
    free(k->iov);
    k->iov = NULL;
    k->writing = false;
    if (err != NULL)
        gw_kafka__fail(k, err);
    /* Calls queued meanwhile go out with gw_kpool_flush, at the end of this loop pass. */
}

/* Writes every queued call in one go; they become in flight. */
static void gw_kafka__flush(gw_kconn_t *k)
{
    if (!k->connected || k->writing || k->queued == NULL)
        return;
    size_t n = 0;
    for (gw_kcall_t *c = k->queued; c != NULL; c = c->next)
        n++;
    k->iov = malloc(n * sizeof(*k->iov));
    if (k->iov == NULL)
        abort();
    size_t i = 0;
    for (gw_kcall_t *c = k->queued; c != NULL; c = c->next)
        k->iov[i++] = h2o_iovec_init(c->w.buf, c->w.len);
    *k->inflight_tail = k->queued;
    k->inflight_tail = k->queued_tail;
    k->queued = NULL;
    k->queued_tail = &k->queued;
    k->writing = true;
    h2o_socket_write(k->sock, k->iov, n, gw_kafka__on_written);
}

/* ---- SASL/SCRAM-SHA-256 to a broker with internal_auth=scram (bk_sasl.c) ---------------- */

/* Writes one call of the exchange now, ahead of the calls queued (they wait for it). */
static void gw_kafka__send_now(gw_kconn_t *k, gw_kcall_t *c)
{
    cm_kframe_end(&c->w, c->frame_start);
    c->next = NULL;
    *k->inflight_tail = c;
    k->inflight_tail = &c->next;
    k->iov = malloc(sizeof(*k->iov));
    if (k->iov == NULL)
        abort();
    k->iov[0] = h2o_iovec_init(c->w.buf, c->w.len);
    k->writing = true;
    h2o_socket_write(k->sock, k->iov, 1, gw_kafka__on_written);
}

/* The broker refused the credential: calls to it fail at once for a while, so a bad
 * credential costs the broker one exchange a second, not one per request. */
static void gw_kafka__refused(gw_kconn_t *k, const char *why)
{
    atomic_fetch_add(&k->pool->w->gw->metrics.broker_auth_failures, 1);
    snprintf(k->refused_why, sizeof(k->refused_why),
             "the broker refused the gateway's "
             "credential: %s",
             why);
    k->refused_until_ms = cm_mono_ms() + GW_KAFKA__AUTH_RETRY_MS;
    char msg[160];
    snprintf(msg, sizeof(msg), "%s", k->refused_why);
    gw_kafka__fail(k, msg);
}

static void gw_kafka__on_sasl(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body);

static void gw_kafka__sasl_send(gw_kconn_t *k, const char *msg, int len)
{
    gw_kcall_t *c = gw_kcall_new(k->pool, CM_KAPI_SASL_AUTHENTICATE, 2, 0, gw_kafka__on_sasl, k);
    cm_sasl_authenticate_req_t rq;
    cm_sasl_authenticate_req_init(&rq);
    rq.auth_bytes = (cm_kbytes_t){ (const uint8_t *)msg, len };
    cm_sasl_authenticate_req_encode(&c->w, 2, &rq);
    gw_kafka__send_now(k, c);
}

/* Each answer of the exchange: the handshake, server-first, server-final. */
static void gw_kafka__on_sasl(gw_kcall_t *c, gw_kcall_status_t st, cm_kr_t *body)
{
    gw_kconn_t *k = c->ud;
    if (st != GW_KCALL_OK || k->scram == NULL)
        return; /* the connection failed: its calls end with it */
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    char out[CM_SCRAM_MSG_MAX], err[160];
    if (c->api_key == CM_KAPI_SASL_HANDSHAKE) {
        cm_sasl_handshake_resp_t r;
        if (cm_sasl_handshake_resp_decode(body, 1, &a, &r) != 0 || r.error_code != 0) {
            snprintf(err, sizeof(err), "SASL handshake: %s",
                     cm_kerr_name(r.error_code != 0 ? r.error_code : -1));
            gw_kafka__refused(k, err);
        } else {
            const char *cred = k->pool->w->gw->cfg.credential, *dot = strchr(cred, '.');
            char user[CM_SCRAM_USER_MAX + 1];
            snprintf(user, sizeof(user), "%.*s", dot != NULL ? (int)(dot - cred) : 0, cred);
            int n = cm_scram_client_start(k->scram, user, cred, NULL, out, sizeof(out));
            if (n < 0)
                gw_kafka__refused(k, "the credential is malformed");
            else
                gw_kafka__sasl_send(k, out, n);
        }
        cm_arena_free(&a);
        return;
    }
    cm_sasl_authenticate_resp_t r;
    if (cm_sasl_authenticate_resp_decode(body, 2, &a, &r) != 0) {
        gw_kafka__refused(k, "a malformed SaslAuthenticate answer");
    } else if (r.error_code != 0) {
        snprintf(err, sizeof(err), "%s: %.*s", cm_kerr_name(r.error_code),
                 r.error_message.len > 0 ? (int)r.error_message.len : 0,
                 r.error_message.len > 0 ? r.error_message.ptr : "");
        gw_kafka__refused(k, err);
    } else if (k->scram->step == 1) { /* server-first: the proof goes back */
        int n = cm_scram_client_proof(k->scram, r.auth_bytes.ptr,
                                      r.auth_bytes.len > 0 ? (size_t)r.auth_bytes.len : 0, out,
                                      sizeof(out), err, sizeof(err));
        if (n < 0)
            gw_kafka__refused(k, err);
        else
            gw_kafka__sasl_send(k, out, n);
    } else if (!cm_scram_client_verify(k->scram, r.auth_bytes.ptr,
                                       r.auth_bytes.len > 0 ? (size_t)r.auth_bytes.len : 0, err,
                                       sizeof(err))) {
        gw_kafka__refused(k, err); /* the broker does not know our verifier: not trusted */
    } else {
        OPENSSL_cleanse(k->scram, sizeof(*k->scram));
        free(k->scram);
        k->scram = NULL;
        k->connected = true;
        gw_kafka__flush(k);
    }
    cm_arena_free(&a);
}

static void gw_kafka__on_connect(h2o_socket_t *sock, const char *err)
{
    gw_kconn_t *k = sock->data;
    if (err != NULL) {
        gw_kafka__fail(k, err);
        return;
    }
    h2o_socket_read_start(sock, gw_kafka__on_read);
    if (k->pool->w->gw->cfg.credential[0] == '\0') {
        k->connected = true;
        gw_kafka__flush(k);
        return;
    }
    /* SaslHandshake v1, then SaslAuthenticate with client-first, client-final; the calls
     * queued meanwhile go out once the broker has proved it knows the verifier. */
    k->scram = calloc(1, sizeof(*k->scram));
    if (k->scram == NULL)
        abort();
    gw_kcall_t *c = gw_kcall_new(k->pool, CM_KAPI_SASL_HANDSHAKE, 1, 0, gw_kafka__on_sasl, k);
    cm_sasl_handshake_req_t rq;
    cm_sasl_handshake_req_init(&rq);
    rq.mechanism = CM_KSTR("SCRAM-SHA-256");
    cm_sasl_handshake_req_encode(&c->w, 1, &rq);
    gw_kafka__send_now(k, c);
}

static void gw_kafka__connect(gw_kconn_t *k)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", k->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    /* Broker addresses are IPs in practice; a name costs a (blocking) lookup once per
     * connection. */
    if (getaddrinfo(k->host, port, &hints, &ai) != 0 || ai == NULL) {
        gw_kafka__fail(k, "cannot resolve the broker's host");
        return;
    }
    k->sock =
        h2o_socket_connect(k->pool->w->loop, ai->ai_addr, ai->ai_addrlen, gw_kafka__on_connect);
    freeaddrinfo(ai);
    if (k->sock == NULL) {
        gw_kafka__fail(k, "cannot connect");
        return;
    }
    k->sock->data = k;
}

/* Held calls of one worker to one broker on connections of their own, at most this many
 * (past it, they queue on the first). */
#define GW_KAFKA__HELD_CONNS_MAX 32

/*
 * The connection for a call to broker `b`: the one pipelined connection, or, for a held
 * call, an idle connection of the held lane (a new one when none is idle). The broker
 * answers a connection's requests in order, so a call it holds (a long poll, a group join)
 * would hold up every call behind it.
 */
static gw_kconn_t *gw_kafka__conn(gw_kpool_t *p, const gw_broker_t *b, bool held)
{
    gw_kconn_t *first_held = NULL;
    int n_held = 0;
    for (int i = 0; i < p->n_conns; i++) {
        gw_kconn_t *k = p->conns[i];
        if (k->id != b->id || k->held_lane != held)
            continue;
        if (strcmp(k->host, b->host) != 0 || k->port != b->port) {
            /* The broker moved: calls on the old address end, new ones go to the new. */
            if (k->sock != NULL)
                gw_kafka__fail(k, "the broker's address changed");
            snprintf(k->host, sizeof(k->host), "%s", b->host);
            k->port = b->port;
        }
        if (!held || (k->queued == NULL && k->inflight == NULL))
            return k;
        if (first_held == NULL)
            first_held = k;
        n_held++;
    }
    if (n_held >= GW_KAFKA__HELD_CONNS_MAX)
        return first_held;
    gw_kconn_t **grown = realloc(p->conns, (size_t)(p->n_conns + 1) * sizeof(*grown));
    gw_kconn_t *k = calloc(1, sizeof(*k));
    if (grown == NULL || k == NULL)
        abort();
    p->conns = grown;
    p->conns[p->n_conns++] = k;
    k->pool = p;
    k->id = b->id;
    snprintf(k->host, sizeof(k->host), "%s", b->host);
    k->port = b->port;
    k->queued_tail = &k->queued;
    k->inflight_tail = &k->inflight;
    k->held_lane = held;
    return k;
}

gw_kcall_t *gw_kcall_new(gw_kpool_t *p, int16_t api_key, int16_t api_version, int64_t wait_ms,
                         gw_kcall_fn cb, void *ud)
{
    gw_kcall_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->api_key = api_key;
    c->api_version = api_version;
    c->correlation_id = p->next_correlation++;
    if (p->next_correlation < 0)
        p->next_correlation = 0;
    c->deadline_ms = cm_mono_ms() + p->w->gw->cfg.request_timeout_ms + (wait_ms > 0 ? wait_ms : 0);
    c->cb = cb;
    c->ud = ud;
    cm_kw_init(&c->w, GW_KAFKA__REQUEST_MAX);
    c->frame_start = cm_kreq_begin(&c->w, api_key, api_version, c->correlation_id, "gateway");
    return c;
}

void gw_kcall_send(gw_kpool_t *p, const gw_broker_t *broker, gw_kcall_t *c)
{
    atomic_fetch_add(&p->w->gw->metrics.broker_calls, 1);
    c->broker_id = broker->id;
    cm_kframe_end(&c->w, c->frame_start);
    if (c->w.err != 0) {
        snprintf(c->why, sizeof(c->why), "the request is too large to encode");
        c->cb(c, GW_KCALL_NOT_SENT, NULL);
        gw_kcall_free(c);
        return;
    }
    gw_kconn_t *k = gw_kafka__conn(p, broker, c->held);
    if (k->sock == NULL && cm_mono_ms() < k->refused_until_ms) {
        snprintf(c->why, sizeof(c->why), "broker %d: %s", k->id, k->refused_why);
        c->refused = true;
        c->cb(c, GW_KCALL_NOT_SENT, NULL);
        gw_kcall_free(c);
        return;
    }
    *k->queued_tail = c;
    k->queued_tail = &c->next;
    if (k->sock == NULL)
        gw_kafka__connect(k);
    /* Else it is written by gw_kpool_flush, with every other call made in this loop pass. */
}

void gw_kpool_flush(gw_kpool_t *p)
{
    for (int i = 0; i < p->n_conns; i++)
        gw_kafka__flush(p->conns[i]);
}

static void gw_kafka__on_tick(h2o_timeout_entry_t *e)
{
    gw_kpool_t *p = (gw_kpool_t *)((char *)e - offsetof(gw_kpool_t, tick_entry));
    int64_t now = cm_mono_ms();
    for (int i = 0; i < p->n_conns; i++) {
        gw_kconn_t *k = p->conns[i];
        gw_kcall_t *oldest = k->inflight != NULL ? k->inflight : k->queued;
        if (oldest != NULL && oldest->deadline_ms < now)
            gw_kafka__fail(k, "no answer within the request timeout");
    }
    h2o_timeout_link(p->w->loop, &p->tick, &p->tick_entry);
}

gw_kpool_t *gw_kpool_new(gw_worker_t *w)
{
    gw_kpool_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    p->w = w;
    h2o_timeout_init(w->loop, &p->tick, GW_KAFKA__TICK_MS);
    p->tick_entry.cb = gw_kafka__on_tick;
    h2o_timeout_link(w->loop, &p->tick, &p->tick_entry);
    return p;
}

void gw_kpool_free(gw_kpool_t *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n_conns; i++) {
        gw_kafka__fail(p->conns[i], "the gateway is stopping");
        free(p->conns[i]);
    }
    free(p->conns);
    if (h2o_timeout_is_linked(&p->tick_entry))
        h2o_timeout_unlink(&p->tick_entry);
    h2o_timeout_dispose(p->w->loop, &p->tick);
    free(p);
}

void gw_fetch_one(gw_kpool_t *p, const gw_broker_t *broker, const char *full, int32_t partition,
                  int64_t offset, int32_t max_bytes, int64_t wait_ms, gw_kcall_fn cb, void *ud)
{
    gw_kcall_t *c = gw_kcall_new(p, CM_KAPI_FETCH, GW_FETCH_VERSION, wait_ms, cb, ud);
    c->held = wait_ms > 0; /* a long poll */
    cm_fetch_req_t req;
    cm_fetch_req_init(&req);
    cm_fetch_req_topic_t ft;
    cm_fetch_req_topic_init(&ft);
    cm_fetch_req_partition_t fp;
    cm_fetch_req_partition_init(&fp);
    req.replica_id = -1;
    req.max_wait_ms = (int32_t)wait_ms;
    req.min_bytes = 1;
    req.max_bytes = max_bytes;
    req.topics = &ft;
    req.topics_n = 1;
    ft.topic = cm_kstr_c(full);
    ft.partitions = &fp;
    ft.partitions_n = 1;
    fp.partition = partition;
    fp.fetch_offset = offset;
    fp.partition_max_bytes = max_bytes;
    cm_fetch_req_encode(&c->w, GW_FETCH_VERSION, &req);
    gw_kcall_send(p, broker, c);
}
