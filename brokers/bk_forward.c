#include "bk_forward.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bk_cluster.h"
#include "bk_cplane.h"
#include "bk_loop.h"
#include "cm_httpc.h"
#include "cm_log.h"
#include "cm_time.h"

#define BK_FWD__CONNECT_TIMEOUT_MS 3000L
#define BK_FWD__ANSWER_BYTES_MAX   ((size_t)4 << 20)
#define BK_FWD__TREE_BYTES_MAX     ((size_t)32 << 20)

/* The control plane's refined error codes (control-plane/cp_api.h, docs/api/operator.md). */
enum {
    BK_FWD__ERR_TOPIC_NAME = 40001,
    BK_FWD__ERR_TOPIC_CONFIG = 40002,
    BK_FWD__ERR_PARTITIONS = 40003,
    BK_FWD__ERR_REPLICATION = 40004,
    BK_FWD__ERR_TENANT_SUSPENDED = 40901,
    BK_FWD__ERR_QUOTA = 42201,
    BK_FWD__ERR_NOT_ENOUGH_BROKERS = 42202,
    BK_FWD__ERR_POOL_FULL = 42203,
};

struct bk_fwd {
    bk_broker_t *b;
    pthread_t thread;
    pthread_mutex_t mu; /* guards the two queues and `stopping` */
    pthread_cond_t cv;
    bk_fwd_job_t *todo, **todo_tail;
    bk_fwd_job_t *done, **done_tail;
    int queued; /* jobs in `todo` */
    bool stopping;
    _Atomic bool cancel;  /* abandons the call in flight (shutdown) */
    bk_io_t done_io;      /* eventfd: finished jobs for the loop */
    bk_fwd_job_t *parked; /* loop only: jobs waiting for their snapshot */
};

/* ---- the forwarder thread ------------------------------------------------------------ */

/* What the broker shows the control plane: its component credential, scoped to its pool,
 * or else an operator token (which opens every route of every pool). */
static const char *bk_fwd__token(const bk_config_t *cfg)
{
    return cfg->credential[0] != '\0' ? cfg->credential : cfg->control_plane_token;
}

static void bk_fwd__call(bk_fwd_t *f, CURL *curl, const bk_fwd_job_t *j, bk_fwd_call_t *c)
{
    const bk_config_t *cfg = &f->b->cfg;
    int64_t left = j->deadline_ms - cm_mono_ms();
    if (left <= 0) {
        snprintf(c->why, sizeof(c->why), "the request's time ran out before it was sent");
        return;
    }
    cm_sbuf_t url;
    cm_sbuf_init(&url);
    cm_sbuf_printf(&url, "%s%s", cfg->control_plane_url, c->path.buf);
    cm_httpc_req_t q = {
        .method = c->method,
        .url = url.buf,
        .token = bk_fwd__token(cfg),
        .body = c->body.len > 0 ? c->body.buf : NULL,
        .body_len = c->body.len,
        .connect_timeout_ms = BK_FWD__CONNECT_TIMEOUT_MS,
        .timeout_ms =
            (long)(left < cfg->control_plane_timeout_ms ? left : cfg->control_plane_timeout_ms),
        .answer_bytes_max = BK_FWD__ANSWER_BYTES_MAX,
        .user_agent = "streamd-broker",
        .cancel = &f->cancel,
    };
    cm_httpc_answer_t a;
    if (cm_httpc_call(curl, &q, &a) == 0) {
        c->status = a.status;
        c->answer = a.body;
    } else {
        snprintf(c->why, sizeof(c->why), "%s", a.too_big ? "its answer is too large" : a.err);
        cm_sbuf_free(&a.body);
    }
    bk_metrics_add(&f->b->metrics.admin_forwarded, 1);
    if (c->status == 0 || c->status >= 500)
        bk_metrics_add(&f->b->metrics.admin_forward_errors, 1);
    cm_log_info("admin request forwarded to the control plane", "method=%s path=%s status=%ld%s%s",
                c->method, c->path.buf, c->status, c->why[0] ? " err=" : "", c->why);
    cm_sbuf_free(&url);
}

static void *bk_fwd__main(void *arg)
{
    bk_fwd_t *f = arg;
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        abort();
    for (;;) {
        pthread_mutex_lock(&f->mu);
        while (f->todo == NULL && !f->stopping)
            pthread_cond_wait(&f->cv, &f->mu);
        bk_fwd_job_t *j = f->stopping ? NULL : f->todo;
        if (j != NULL && (f->todo = j->next) == NULL)
            f->todo_tail = &f->todo;
        if (j != NULL)
            f->queued--;
        pthread_mutex_unlock(&f->mu);
        if (j == NULL)
            break;
        bool changed = false;
        for (bk_fwd_call_t *c = j->calls; c != NULL; c = c->next) {
            bk_fwd__call(f, curl, j, c);
            changed |= c->status >= 200 && c->status <= 299 && !c->validate_only;
        }
        /* A snapshot taken from now on shows the change; the answer waits for it. */
        if (changed && f->b->cplane != NULL)
            j->ticket = bk_cplane_want_sync(f->b->cplane);
        j->next = NULL;
        pthread_mutex_lock(&f->mu);
        *f->done_tail = j;
        f->done_tail = &j->next;
        pthread_mutex_unlock(&f->mu);
        uint64_t one = 1;
        if (write(f->done_io.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            cm_log_error("cannot wake the event loop", "errno=%s", strerror(errno));
    }
    curl_easy_cleanup(curl);
    return NULL;
}

/* ---- outcomes (event loop) ----------------------------------------------------------- */

/* The Kafka error for a control-plane answer. */
static int16_t bk_fwd__kerr(const bk_fwd_call_t *c, long code)
{
    switch (code) {
    case BK_FWD__ERR_TOPIC_NAME:
        return CM_KERR_INVALID_TOPIC_EXCEPTION;
    case BK_FWD__ERR_TOPIC_CONFIG:
        return CM_KERR_INVALID_CONFIG;
    case BK_FWD__ERR_PARTITIONS:
        return CM_KERR_INVALID_PARTITIONS;
    case BK_FWD__ERR_REPLICATION:
    case BK_FWD__ERR_NOT_ENOUGH_BROKERS:
        return CM_KERR_INVALID_REPLICATION_FACTOR;
    case BK_FWD__ERR_QUOTA:
    case BK_FWD__ERR_POOL_FULL:
    case BK_FWD__ERR_TENANT_SUSPENDED:
        return CM_KERR_POLICY_VIOLATION;
    }
    switch (c->status) {
    case 401:
    case 403:
        return CM_KERR_CLUSTER_AUTHORIZATION_FAILED;
    case 404:
        return c->on_404;
    case 409:
        return c->on_409;
    case 400:
    case 413:
    case 422:
        return CM_KERR_INVALID_REQUEST;
    case 502:
    case 503:
    case 504:
        return CM_KERR_REQUEST_TIMED_OUT; /* retriable: the database or a proxy is away */
    }
    return CM_KERR_UNKNOWN_SERVER_ERROR;
}

/* Writes one call's outcome into its response entry. */
static void bk_fwd__outcome(bk_fwd_job_t *j, bk_fwd_call_t *c, cm_arena_t *tmp)
{
    cm_json_t *doc = NULL;
    char perr[128], msg[512];
    if (c->answer.len > 0 &&
        cm_json_parse(tmp, c->answer.buf, c->answer.len, 16, &doc, perr, sizeof(perr)) != 0)
        doc = NULL;
    if (doc != NULL && doc->type != CM_JSON_OBJECT)
        doc = NULL;
    if (c->status >= 200 && c->status <= 299) {
        *c->err = 0;
        *c->msg = CM_KSTR_NULL;
        if (c->ok != NULL)
            c->ok(j, c, doc);
        return;
    }
    const cm_json_t *code = cm_json_get(doc, "error_code");
    const char *m = cm_json_get_str(doc, "message");
    if (c->status == 0)
        snprintf(msg, sizeof(msg), "cannot reach the control plane: %s", c->why);
    else if (c->status == 401 || c->status == 403)
        snprintf(msg, sizeof(msg), "the control plane refused this broker's credential (HTTP %ld)",
                 c->status);
    else if (m != NULL)
        snprintf(msg, sizeof(msg), "%s", m);
    else
        snprintf(msg, sizeof(msg), "the control plane answered HTTP %ld", c->status);
    *c->err = c->status == 0 ? CM_KERR_REQUEST_TIMED_OUT
                             : bk_fwd__kerr(c, code != NULL && code->is_int ? (long)code->i : 0);
    *c->msg = bk_resp_msg(j->resp, msg);
}

void bk_fwd_job_free(bk_fwd_job_t *j)
{
    for (bk_fwd_call_t *c = j->calls, *next; c != NULL; c = next) {
        next = c->next;
        cm_sbuf_free(&c->path);
        cm_sbuf_free(&c->body);
        cm_sbuf_free(&c->answer);
        free(c);
    }
    bk_resp_unref(j->resp);
    free(j);
}

/* Fills the response from the calls' outcomes and encodes it. */
static void bk_fwd__answer(bk_fwd_job_t *j)
{
    cm_arena_t tmp;
    cm_arena_init(&tmp, BK_FWD__TREE_BYTES_MAX);
    for (bk_fwd_call_t *c = j->calls; c != NULL; c = c->next)
        bk_fwd__outcome(j, c, &tmp);
    cm_arena_free(&tmp);
    j->encode(j);
}

/* Fills the response from the calls' outcomes, sends it, and frees the job. */
static void bk_fwd__finish(bk_fwd_t *f, bk_fwd_job_t *j)
{
    if (j->parked) {
        bk_timer_stop(f->b->loop, &j->timer);
        for (bk_fwd_job_t **p = &f->parked; *p != NULL; p = &(*p)->next)
            if (*p == j) {
                *p = j->next;
                break;
            }
    }
    if (j->resp->conn != NULL) {
        bk_fwd__answer(j);
        bk_resp_ready(j->resp);
    }
    bk_fwd_job_free(j);
}

static void bk_fwd__on_timer(bk_timer_t *t)
{
    bk_fwd_job_t *j = (bk_fwd_job_t *)((char *)t - offsetof(bk_fwd_job_t, timer));
    cm_log_warn("answering an admin request before this broker saw the change", "waited_ms=%d",
                BK_FWD_SNAPSHOT_WAIT_MS);
    bk_fwd__finish(j->b->fwd, j);
}

/* A job back from the thread: answer now, or once this broker's snapshot shows it. */
static void bk_fwd__returned(bk_fwd_t *f, bk_fwd_job_t *j)
{
    const bk_cluster_t *c = f->b->cluster;
    if (j->ticket == 0 || (c != NULL && c->ticket >= j->ticket) || f->b->stopping) {
        bk_fwd__finish(f, j);
        return;
    }
    j->parked = true;
    j->next = f->parked;
    f->parked = j;
    bk_timer_init(&j->timer, bk_fwd__on_timer);
    bk_timer_start(f->b->loop, &j->timer, BK_FWD_SNAPSHOT_WAIT_MS);
}

static void bk_fwd__on_done(bk_io_t *io, uint32_t events)
{
    bk_fwd_t *f = (bk_fwd_t *)((char *)io - offsetof(bk_fwd_t, done_io));
    uint64_t v;
    (void)events;
    if (read(io->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&f->mu);
    bk_fwd_job_t *list = f->done;
    f->done = NULL;
    f->done_tail = &f->done;
    pthread_mutex_unlock(&f->mu);
    for (bk_fwd_job_t *j = list, *next; j != NULL; j = next) {
        next = j->next;
        bk_fwd__returned(f, j);
    }
}

void bk_fwd_release_all(bk_fwd_t *f)
{
    while (f != NULL && f->parked != NULL)
        bk_fwd__finish(f, f->parked);
}

void bk_fwd_applied(bk_fwd_t *f, uint64_t ticket)
{
    if (f == NULL)
        return;
    bk_fwd_job_t *j = f->parked;
    while (j != NULL) {
        bk_fwd_job_t *next = j->next;
        if (j->ticket <= ticket)
            bk_fwd__finish(f, j);
        j = next;
    }
}

/* ---- jobs ---------------------------------------------------------------------------- */

bool bk_fwd_split(cm_kstr_t name, char tenant[64], char topic[256], char *msg, size_t cap)
{
    int32_t dot = -1;
    for (int32_t i = 0; i < name.len && dot < 0; i++)
        if (name.ptr[i] == '.')
            dot = i;
    bool ok = dot >= 2 && dot < 64 && name.len - dot - 1 >= 1 && name.len - dot - 1 < 256;
    for (int32_t i = 0; ok && i < dot; i++) {
        char ch = name.ptr[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    }
    if (ok) {
        memcpy(tenant, name.ptr, (size_t)dot);
        tenant[dot] = '\0';
        memcpy(topic, name.ptr + dot + 1, (size_t)(name.len - dot - 1));
        topic[name.len - dot - 1] = '\0';
        ok = strcmp(topic, ".") != 0 && strcmp(topic, "..") != 0;
        for (const char *p = topic; ok && *p != '\0'; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '.' || *p == '_' || *p == '-';
    }
    if (!ok)
        snprintf(msg, cap,
                 "topics on this service are named <tenant>.<topic>: a tenant name (a-z, 0-9, "
                 "'-'), a dot, and a topic name ([a-zA-Z0-9._-], not \".\" or \"..\")");
    return ok;
}

bk_fwd_job_t *bk_fwd_job(bk_req_t *req, void *out, void (*encode)(bk_fwd_job_t *j),
                         int32_t timeout_ms)
{
    bk_fwd_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    j->deadline_ms =
        cm_mono_ms() +
        (timeout_ms > 0 && timeout_ms < BK_FWD_TIMEOUT_MS ? timeout_ms : BK_FWD_TIMEOUT_MS);
    j->b = req->b;
    j->resp = bk_resp_ref(req->resp);
    j->out = out;
    j->encode = encode;
    j->tail = &j->calls;
    return j;
}

bool bk_fwd_may(bk_fwd_job_t *j, int16_t *err, cm_kstr_t *msg)
{
    if (bk_fwd__token(&j->b->cfg)[0] == '\0') {
        *err = CM_KERR_CLUSTER_AUTHORIZATION_FAILED;
        *msg = bk_resp_msg(j->resp, "this broker has no credential, so it cannot carry admin "
                                    "requests to the control plane");
        return false;
    }
    if (j->b->cluster == NULL) {
        *err = CM_KERR_NOT_CONTROLLER;
        *msg = bk_resp_msg(j->resp, "this broker has not loaded the control plane's metadata "
                                    "yet; retry");
        return false;
    }
    return true;
}

bk_fwd_call_t *bk_fwd_add(bk_fwd_job_t *j, const char *method, const char *tenant,
                          const char *topic, const char *suffix, const cm_sbuf_t *body,
                          int16_t *err, cm_kstr_t *msg)
{
    if (!bk_fwd_may(j, err, msg))
        return NULL;
    bk_fwd_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->method = method;
    cm_sbuf_init(&c->path);
    cm_sbuf_init(&c->body);
    cm_sbuf_init(&c->answer);
    /* Both names passed bk_fwd_split's rules: nothing in them needs escaping. */
    cm_sbuf_printf(&c->path, "/v1/tenants/%s/topics%s%s%s", tenant, topic[0] ? "/" : "", topic,
                   suffix);
    if (body != NULL)
        cm_sbuf_append(&c->body, body->buf, body->len);
    c->on_404 = CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    c->on_409 = CM_KERR_INVALID_REQUEST;
    c->err = err;
    c->msg = msg;
    *j->tail = c;
    j->tail = &c->next;
    return c;
}

int bk_fwd_run(bk_fwd_job_t *j)
{
    bk_fwd_t *f = j->b->fwd;
    if (j->calls == NULL || f == NULL) {
        j->encode(j);
        bk_fwd_job_free(j);
        return BK_DONE;
    }
    pthread_mutex_lock(&f->mu);
    bool full = f->queued >= BK_FWD_QUEUE_MAX;
    if (!full) {
        *f->todo_tail = j;
        f->todo_tail = &j->next;
        f->queued++;
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (full) {
        /* Each waiting job holds its response: the queue is bounded, the rest retry. */
        for (bk_fwd_call_t *c = j->calls; c != NULL; c = c->next)
            snprintf(c->why, sizeof(c->why), "%d admin requests are already waiting for it",
                     BK_FWD_QUEUE_MAX);
        bk_fwd__answer(j);
        bk_fwd_job_free(j);
        return BK_DONE;
    }
    return BK_DEFER;
}

/* ---- start and stop ------------------------------------------------------------------ */

bk_fwd_t *bk_fwd_start(bk_broker_t *b)
{
    bk_fwd_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->b = b;
    if (b->cfg.credential[0] == '\0' && b->cfg.control_plane_token[0] != '\0')
        cm_log_warn("this broker holds an operator token, which opens every route of every "
                    "pool; give it a credential of its own (POST /v1/components, then "
                    "BROKER_CREDENTIAL), scoped to its pool",
                    "node_id=%" PRId64, b->cfg.node_id);
    f->todo_tail = &f->todo;
    f->done_tail = &f->done;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->done_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    f->done_io.cb = bk_fwd__on_done;
    if (f->done_io.fd < 0 || bk_loop_add(b->loop, &f->done_io, EPOLLIN) != 0 ||
        pthread_create(&f->thread, NULL, bk_fwd__main, f) != 0)
        abort();
    return f;
}

void bk_fwd_stop(bk_fwd_t *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    atomic_store(&f->cancel, true);
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    /* Jobs never sent answer "shutting down"; returned and parked ones answer as they are. */
    for (bk_fwd_job_t *j = f->todo, *next; j != NULL; j = next) {
        next = j->next;
        for (bk_fwd_call_t *c = j->calls; c != NULL; c = c->next)
            snprintf(c->why, sizeof(c->why), "the broker is shutting down");
        bk_fwd__finish(f, j);
    }
    f->todo = NULL;
    bk_fwd__on_done(&f->done_io, EPOLLIN);
    while (f->parked != NULL)
        bk_fwd__finish(f, f->parked);
    bk_loop_del(f->b->loop, &f->done_io);
    close(f->done_io.fd);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
