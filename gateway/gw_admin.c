#include "gw_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_httpc.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "gw_meta.h"

#define GW_ADMIN__TIMEOUT_MS 30000
#define GW_ADMIN__ANSWER_MAX (4u << 20)

struct gw_admin {
    gw_t *gw;
    pthread_t thread;
    pthread_mutex_t mu; /* guards the queue and `stopping` */
    pthread_cond_t cond;
    gw_admin_call_t **queue;
    size_t head, n;
    bool stopping;
    _Atomic bool cancel; /* set at stop: the call in progress is abandoned */
};

gw_admin_call_t *gw_admin_call_new(gw_worker_t *w, const char *method,
                                   void (*done)(gw_admin_call_t *), void *ud)
{
    gw_admin_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->w = w;
    c->method = method;
    c->done = done;
    c->ud = ud;
    cm_sbuf_init(&c->path);
    cm_sbuf_init(&c->body);
    cm_sbuf_init(&c->answer);
    return c;
}

void gw_admin_call_free(gw_admin_call_t *c)
{
    if (c == NULL)
        return;
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    cm_sbuf_free(&c->path);
    cm_sbuf_free(&c->body);
    cm_sbuf_free(&c->answer);
    free(c);
}

static void gw_admin__post(gw_admin_call_t *c)
{
    h2o_multithread_send_message(&c->w->admin_done, &c->msg);
}

static void gw_admin__call(gw_admin_t *a, CURL *curl, gw_admin_call_t *c)
{
    gw_config_t *cfg = &a->gw->cfg;
    cm_sbuf_t url;
    cm_sbuf_init(&url);
    cm_sbuf_printf(&url, "%s%s", cfg->control_plane_url, c->path.buf);
    cm_httpc_req_t q = { .method = c->method,
                         .url = url.buf,
                         .token = cfg->control_plane_token,
                         .body = c->body.len > 0 ? c->body.buf : NULL,
                         .body_len = c->body.len,
                         .connect_timeout_ms = 5000,
                         .timeout_ms = GW_ADMIN__TIMEOUT_MS,
                         .answer_bytes_max = GW_ADMIN__ANSWER_MAX,
                         .user_agent = "streamd-gateway",
                         .cancel = &a->cancel };
    cm_httpc_answer_t ans;
    if (cm_httpc_call(curl, &q, &ans) == 0) {
        c->status = ans.status;
        cm_sbuf_free(&c->answer);
        c->answer = ans.body;
        bool change = strcmp(c->method, "GET") != 0;
        if (change && c->status >= 200 && c->status < 300)
            c->ticket = gw_meta_want(a->gw->meta);
    } else {
        snprintf(c->why, sizeof(c->why), "the control plane did not answer: %.200s",
                 ans.too_big ? "answer too large" : ans.err);
        cm_sbuf_free(&ans.body);
        cm_log_warn("control-plane call failed", "method=%s path=%s err=\"%s\"", c->method,
                    c->path.buf, c->why);
    }
    cm_sbuf_free(&url);
}

static void *gw_admin__main(void *arg)
{
    gw_admin_t *a = arg;
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        abort();
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->n == 0 && !a->stopping)
            pthread_cond_wait(&a->cond, &a->mu);
        if (a->n == 0)
            break;
        gw_admin_call_t *c = a->queue[a->head];
        a->head = (a->head + 1) % GW_ADMIN_QUEUE_MAX;
        a->n--;
        bool stopping = a->stopping;
        pthread_mutex_unlock(&a->mu);
        if (stopping)
            snprintf(c->why, sizeof(c->why), "the gateway is stopping");
        else
            gw_admin__call(a, curl, c);
        gw_admin__post(c);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    curl_easy_cleanup(curl);
    return NULL;
}

void gw_admin_send(gw_admin_t *a, gw_admin_call_t *c)
{
    pthread_mutex_lock(&a->mu);
    bool full = a->n == GW_ADMIN_QUEUE_MAX || a->stopping;
    if (!full) {
        a->queue[(a->head + a->n) % GW_ADMIN_QUEUE_MAX] = c;
        a->n++;
        pthread_cond_signal(&a->cond);
    }
    pthread_mutex_unlock(&a->mu);
    if (full) {
        snprintf(c->why, sizeof(c->why), "too many topic changes in progress; retry shortly");
        gw_admin__post(c);
    }
}

/* On the worker: answers the call once the snapshot in use shows its change. */
static void gw_admin__finish(gw_admin_call_t *c)
{
    gw_worker_t *w = c->w;
    gw_snap_t *s = gw_meta_refresh(w->gw->meta, &w->snap, &w->snap_gen);
    if (c->ticket != 0 && (s == NULL || s->ticket < c->ticket) && cm_mono_ms() < c->wait_until_ms &&
        !atomic_load(&w->gw->stopping)) {
        h2o_timeout_link(w->loop, &w->poll_timeout, &c->timer);
        return;
    }
    c->done(c);
}

static void gw_admin__on_timer(h2o_timeout_entry_t *e)
{
    gw_admin__finish((gw_admin_call_t *)((char *)e - offsetof(gw_admin_call_t, timer)));
}

void gw_admin_on_answers(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        gw_admin_call_t *c = H2O_STRUCT_FROM_MEMBER(gw_admin_call_t, msg.link, messages->next);
        h2o_linklist_unlink(&c->msg.link);
        c->wait_until_ms = cm_mono_ms() + GW_ADMIN_SNAPSHOT_WAIT_MS;
        c->timer.cb = gw_admin__on_timer;
        gw_admin__finish(c);
    }
    (void)r;
}

gw_admin_t *gw_admin_start(gw_t *gw)
{
    gw_admin_t *a = calloc(1, sizeof(*a));
    if (a == NULL || (a->queue = calloc(GW_ADMIN_QUEUE_MAX, sizeof(*a->queue))) == NULL)
        abort();
    a->gw = gw;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cond, NULL);
    if (pthread_create(&a->thread, NULL, gw_admin__main, a) != 0)
        abort();
    return a;
}

void gw_admin_stop(gw_admin_t *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    atomic_store(&a->cancel, true);
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->mu);
    free(a->queue);
    free(a);
}

int gw_admin_result(const gw_admin_call_t *c, const char *what, int *code, char *msg, size_t cap)
{
    *code = (int)c->status;
    msg[0] = '\0';
    if (c->status >= 200 && c->status < 300)
        return (int)c->status;
    *code = 503;
    if (c->status == 0) {
        snprintf(msg, cap, "%s: %s", what, c->why);
        return 503;
    }
    /* The control plane's messages name only this tenant's own things, but its 401/403 are
     * about the gateway's credential: the tenant learns only that the service failed. */
    cm_arena_t a;
    cm_arena_init(&a, 1u << 20);
    cm_json_t *doc = NULL;
    char err[64];
    const char *m = NULL;
    int64_t ec = c->status;
    if (cm_json_parse(&a, c->answer.buf != NULL ? c->answer.buf : "", c->answer.len, 8, &doc, err,
                      sizeof(err)) == 0) {
        m = cm_json_get_str(doc, "message");
        cm_json_get_int(doc, "error_code", &ec);
    }
    int status = 503;
    if (c->status == 401 || c->status == 403 || c->status >= 500 || m == NULL) {
        cm_log_error("control plane refused a gateway call", "status=%ld answer=\"%.200s\"",
                     c->status, c->answer.buf != NULL ? c->answer.buf : "");
        snprintf(msg, cap, "%s: the service cannot make this change now", what);
    } else {
        status = (int)c->status;
        *code = (int)ec;
        snprintf(msg, cap, "%s", m);
    }
    cm_arena_free(&a);
    return status;
}
