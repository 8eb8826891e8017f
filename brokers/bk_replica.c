#include "bk_replica.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bk_cluster.h"
#include "bk_loop.h"
#include "bk_partition.h"
#include "bk_topic.h"
#include "cm_err.h"
#include "cm_kclient.h"
#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_time.h"

#define BK_REPLICA__VERSION        15   /* Fetch with ReplicaState (KIP-903) */
#define BK_REPLICA__CONNECT_MS     3000 /* besides the long poll, for one call */
#define BK_REPLICA__STALE_MS       1000 /* a refused partition waits this long, or a snapshot */
#define BK_REPLICA__RESPONSE_SLACK (1 << 20)

/* A partition this broker follows. */
typedef struct bk_rpart {
    bk_partition_t *p; /* a ref */
    cm_kuuid_t topic_id;
    int32_t partition;
    int32_t leader_epoch; /* the snapshot's */
    int64_t stale_until;  /* monotonic ms: refused by the leader, skipped until then */
    int64_t truncate_to;  /* a truncation waiting for the flusher, or -1 */
} bk_rpart_t;

typedef struct bk_fetcher {
    struct bk_fetcher *next;
    struct bk_replica *r;
    int32_t leader;
    char host[256];
    int port;
    bool seen; /* in the snapshot being applied */

    /* Loop only. */
    bk_rpart_t *parts;
    int32_t n_parts, cap_parts;
    bool in_flight; /* a request is with the thread */
    bool wait_sync; /* appended: the next request waits until it is durable */
    bk_timer_t retry;

    /* Shared with the thread, under `mu`. */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool has_req;
    cm_kw_t req; /* the request body */
    bool has_resp;
    bool failed;
    uint8_t *frame; /* the answer, malloc'd; `body` points into it */
    cm_kr_t body;
    char err[256];
    int live_fd;     /* the connection, for an abort at shutdown; -1 */
    cm_kclient_t kc; /* the thread's */
} bk_fetcher_t;

typedef struct bk_replica {
    bk_broker_t *b;
    bk_fetcher_t *fetchers;
    bk_io_t done_io; /* eventfd: a fetcher has an answer */
    char user[130];  /* the broker's SCRAM name: its credential up to the first dot */
} bk_replica_t;

/* ---- the fetcher's thread: one request, one answer ------------------------------------ */

static void bk_replica__raw(cm_kw_t *w, int16_t v, const void *m)
{
    (void)v;
    const cm_kw_t *body = m;
    cm_kw_raw(w, body->buf, body->len);
}

static void *bk_replica__main(void *arg)
{
    bk_fetcher_t *f = arg;
    bk_replica_t *r = f->r;
    const char *cred = r->b->cfg.credential;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stopping && !f->has_req)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->stopping)
            break;
        cm_kw_t req = f->req;
        f->has_req = false;
        pthread_mutex_unlock(&f->mu);

        int rc = 0;
        if (f->kc.fd < 0) {
            rc = cm_kclient_connect(&f->kc, f->host, f->port, r->user, cred);
            pthread_mutex_lock(&f->mu);
            f->live_fd = f->kc.fd;
            pthread_mutex_unlock(&f->mu);
        }
        uint8_t *frame = NULL;
        cm_kr_t body = { 0 };
        int32_t corr = rc == 0 ? cm_kclient_send(&f->kc, CM_KAPI_FETCH, BK_REPLICA__VERSION,
                                                 bk_replica__raw, &req)
                               : -1;
        if (corr < 0 ||
            cm_kclient_recv(&f->kc, corr, CM_KAPI_FETCH, BK_REPLICA__VERSION, &frame, &body) != 0)
            rc = -1;
        cm_kw_free(&req);

        pthread_mutex_lock(&f->mu);
        if (rc != 0) {
            snprintf(f->err, sizeof(f->err), "%s", f->kc.err);
            f->live_fd = -1;
            cm_kclient_close(&f->kc); /* under the lock: no abort hits a reused descriptor */
        }
        f->has_resp = true;
        f->failed = rc != 0;
        f->frame = frame;
        f->body = body;
        uint64_t one = 1;
        if (write(r->done_io.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            cm_log_warn("cannot wake the loop for a follower's fetch", "errno=%s", strerror(errno));
    }
    f->live_fd = -1;
    cm_kclient_close(&f->kc);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- the loop: requests ------------------------------------------------------------- */

static bool bk_replica__durable(const bk_partition_t *p)
{
    return p->deleted || p->cfg == NULL || p->cfg->flush_ms > 0 || p->durable == p->leo;
}

static void bk_replica__send(bk_fetcher_t *f);

/* Truncations the flusher held up (a seal in flight), tried again. */
static void bk_replica__truncations(bk_fetcher_t *f)
{
    for (int32_t i = 0; i < f->n_parts; i++) {
        bk_rpart_t *rp = &f->parts[i];
        if (rp->truncate_to >= 0 && bk_partition_truncate(rp->p, rp->truncate_to) != CM_AGAIN)
            rp->truncate_to = -1;
    }
}

static void bk_replica__on_retry(bk_timer_t *t)
{
    bk_fetcher_t *f = (bk_fetcher_t *)((char *)t - offsetof(bk_fetcher_t, retry));
    bk_replica__send(f);
}

static void bk_replica__later(bk_fetcher_t *f)
{
    bk_timer_start(f->r->b->loop, &f->retry, f->r->b->cfg.replica_fetch_backoff_ms);
}

/* Builds the next Fetch of this fetcher's partitions and hands it to its thread. */
static void bk_replica__send(bk_fetcher_t *f)
{
    bk_broker_t *b = f->r->b;
    if (f->in_flight || b->stopping)
        return;
    bk_replica__truncations(f);
    int64_t now = cm_mono_ms();
    cm_arena_t a;
    cm_arena_init(&a, (size_t)64 << 20);
    cm_fetch_req_t req;
    cm_fetch_req_init(&req);
    req.replica_state.replica_id = (int32_t)b->cfg.node_id;
    req.replica_state.replica_epoch = atomic_load(&b->broker_epoch);
    req.max_wait_ms = (int32_t)b->cfg.replica_fetch_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = (int32_t)b->cfg.replica_fetch_bytes;
    req.session_id = 0;
    req.session_epoch = -1;
    req.topics = cm_arena_calloc(&a, (size_t)f->n_parts + 1, sizeof(*req.topics));
    req.topics_n = 0;
    for (int32_t i = 0; req.topics != NULL && i < f->n_parts; i++) {
        bk_rpart_t *rp = &f->parts[i];
        bk_partition_t *p = rp->p;
        if (p->deleted || p->offline != NULL || rp->stale_until > now || rp->truncate_to >= 0 ||
            !bk_replica__durable(p))
            continue;
        /* One topic entry per partition: simple, and the leader answers each the same. */
        cm_fetch_req_topic_t *t = &req.topics[req.topics_n++];
        cm_fetch_req_topic_init(t);
        t->topic_id = rp->topic_id;
        t->partitions = cm_arena_calloc(&a, 1, sizeof(*t->partitions));
        if (t->partitions == NULL)
            break;
        t->partitions_n = 1;
        cm_fetch_req_partition_t *x = &t->partitions[0];
        cm_fetch_req_partition_init(x);
        x->partition = rp->partition;
        x->current_leader_epoch = rp->leader_epoch;
        x->fetch_offset = p->leo;
        x->last_fetched_epoch =
            p->leo > bk_partition_log_start(p) ? bk_epochs_at(&p->epochs, p->leo - 1) : -1;
        x->log_start_offset = bk_partition_log_start(p);
        x->partition_max_bytes = (int32_t)b->cfg.replica_fetch_partition_bytes;
    }
    if (req.topics_n == 0) {
        cm_arena_free(&a);
        if (f->n_parts > 0)
            bk_replica__later(f);
        return;
    }
    cm_kw_t body;
    cm_kw_init(&body, (size_t)64 << 20);
    cm_fetch_req_encode(&body, BK_REPLICA__VERSION, &req);
    cm_arena_free(&a);
    if (body.err) {
        cm_log_error("cannot encode a follower's fetch", "leader=%d", f->leader);
        cm_kw_free(&body);
        bk_replica__later(f);
        return;
    }
    f->in_flight = true;
    pthread_mutex_lock(&f->mu);
    f->req = body;
    f->has_req = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* ---- the loop: answers -------------------------------------------------------------- */

static bk_rpart_t *bk_replica__part(bk_fetcher_t *f, cm_kuuid_t id, int32_t partition)
{
    for (int32_t i = 0; i < f->n_parts; i++)
        if (f->parts[i].partition == partition &&
            memcmp(f->parts[i].topic_id.b, id.b, sizeof(id.b)) == 0)
            return &f->parts[i];
    return NULL;
}

/* Where to cut after the leader said the log diverged (Kafka's follower rule): at the end
 * of that epoch on both sides when this log has it, else at this log's end of the newest
 * epoch it has below it (and the next fetch finds the next divergence). */
static int64_t bk_replica__cut(const bk_partition_t *p, int32_t epoch, int64_t end)
{
    int32_t mine;
    int64_t mine_end;
    bk_epochs_end_offset(&p->epochs, epoch, p->leo, &mine, &mine_end);
    int64_t cut = p->leo;
    if (mine < 0 || mine_end < 0)
        cut = end;
    else if (mine == epoch)
        cut = end < mine_end ? end : mine_end;
    else
        cut = mine_end;
    return cut < p->leo ? cut : p->leo;
}

/* Appends the whole batches of `records` that continue the log; returns how many. */
static int bk_replica__append(bk_fetcher_t *f, bk_rpart_t *rp, const cm_krecords_t *recs)
{
    bk_partition_t *p = rp->p;
    uint8_t *at = (uint8_t *)recs->ptr;
    size_t left = recs->len > 0 ? (size_t)recs->len : 0;
    int n = 0;
    while (left >= CM_BATCH_HEADER_SIZE) {
        cm_batch_hdr_t h;
        int err = cm_batch_check(at, left, &h);
        if (err == CM_BATCH_ETRUNC)
            break; /* the partial batch a size limit cut: fetched again next time */
        if (err != CM_BATCH_OK) {
            cm_log_error("a leader sent a bad batch; fetching it again later",
                         "partition=%s leader=%d offset=%" PRId64 " err=\"%s\"", p->label,
                         f->leader, h.base_offset, cm_batch_strerror(err));
            rp->stale_until = cm_mono_ms() + BK_REPLICA__STALE_MS;
            break;
        }
        size_t size = (size_t)cm_batch_size(&h);
        if (cm_batch_last_offset(&h) >= p->leo) {
            int16_t kerr = bk_partition_append_replica(p, at, size, &h);
            if (kerr != 0) {
                cm_log_warn("cannot append a leader's batch",
                            "partition=%s leader=%d offset=%" PRId64 " leo=%" PRId64
                            " kafka_error=%s",
                            p->label, f->leader, h.base_offset, p->leo, cm_kerr_name(kerr));
                rp->stale_until = cm_mono_ms() + BK_REPLICA__STALE_MS;
                break;
            }
            n++;
        }
        at += size;
        left -= size;
    }
    return n;
}

/* One partition of an answer. Returns true when something was appended. */
static bool bk_replica__apply_part(bk_fetcher_t *f, bk_rpart_t *rp,
                                   const cm_fetch_resp_partition_data_t *pd, bool *ok)
{
    bk_partition_t *p = rp->p;
    if (p->deleted)
        return false;
    if (pd->error_code != 0) {
        if (pd->error_code == CM_KERR_OFFSET_OUT_OF_RANGE && p->leo < pd->log_start_offset &&
            pd->log_start_offset >= 0) {
            /* The leader deleted what this replica has yet to copy: start at its log start. */
            int rc = bk_partition_truncate_fully(p, pd->log_start_offset);
            if (rc == CM_OK)
                return false;
        }
        cm_log_debug("a leader refused a follower's fetch", "partition=%s leader=%d error=%s",
                     p->label, f->leader, cm_kerr_name(pd->error_code));
        rp->stale_until = cm_mono_ms() + BK_REPLICA__STALE_MS;
        return false;
    }
    *ok = true;
    if (pd->diverging_epoch.epoch >= 0 || pd->diverging_epoch.end_offset >= 0) {
        int64_t cut = bk_replica__cut(p, pd->diverging_epoch.epoch, pd->diverging_epoch.end_offset);
        cm_log_info("the log diverged from the leader's",
                    "partition=%s leader=%d epoch=%d"
                    " leader_end=%" PRId64 " cut=%" PRId64 " leo=%" PRId64,
                    p->label, f->leader, pd->diverging_epoch.epoch, pd->diverging_epoch.end_offset,
                    cut, p->leo);
        if (bk_partition_truncate(p, cut) == CM_AGAIN)
            rp->truncate_to = cut;
        return false;
    }
    bool appended = pd->records.len > 0 && bk_replica__append(f, rp, &pd->records) > 0;
    /* Consumers of a future leader never see past what this leader acknowledged. */
    if (pd->high_watermark >= 0)
        bk_partition_set_hw_cap(p, pd->high_watermark);
    return appended;
}

static void bk_replica__apply(bk_fetcher_t *f, uint8_t *frame, cm_kr_t *body, bool failed,
                              const char *err)
{
    bk_broker_t *b = f->r->b;
    f->in_flight = false;
    if (failed) {
        cm_log_warn("a follower's fetch failed", "leader=%d addr=%s:%d err=\"%s\"", f->leader,
                    f->host, f->port, err);
        bk_metrics_add(&b->metrics.replica_fetch_errors, 1);
        bk_replica__later(f);
        return;
    }
    cm_arena_t a;
    cm_arena_init(&a, (size_t)16 << 20);
    cm_fetch_resp_t resp;
    bool appended = false, ok = false;
    if (cm_fetch_resp_decode(body, BK_REPLICA__VERSION, &a, &resp) != 0) {
        cm_log_error("a leader's fetch answer is malformed", "leader=%d", f->leader);
        bk_metrics_add(&b->metrics.replica_fetch_errors, 1);
    } else if (resp.error_code != 0) {
        cm_log_warn("a leader refused a follower's fetch", "leader=%d error=%s", f->leader,
                    cm_kerr_name(resp.error_code));
        bk_metrics_add(&b->metrics.replica_fetch_errors, 1);
    } else {
        for (int32_t i = 0; i < resp.responses_n; i++) {
            const cm_fetch_resp_fetchable_topic_response_t *t = &resp.responses[i];
            for (int32_t j = 0; j < t->partitions_n; j++) {
                bk_rpart_t *rp = bk_replica__part(f, t->topic_id, t->partitions[j].partition_index);
                if (rp != NULL)
                    appended |= bk_replica__apply_part(f, rp, &t->partitions[j], &ok);
            }
        }
    }
    cm_arena_free(&a);
    free(frame);
    if (appended) {
        f->wait_sync = true; /* bk_replica_synced sends the next one */
        bk_replica_synced(b);
    } else if (ok) {
        bk_replica__send(f);
    } else {
        bk_replica__later(f);
    }
}

static void bk_replica__on_done(bk_io_t *io, uint32_t events)
{
    (void)events;
    bk_replica_t *r = (bk_replica_t *)((char *)io - offsetof(bk_replica_t, done_io));
    uint64_t v;
    if (read(io->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        cm_log_warn("cannot read the fetchers' eventfd", "errno=%s", strerror(errno));
    for (bk_fetcher_t *f = r->fetchers; f != NULL; f = f->next) {
        pthread_mutex_lock(&f->mu);
        bool has = f->has_resp, failed = f->failed;
        uint8_t *frame = f->frame;
        cm_kr_t body = f->body;
        char err[256];
        snprintf(err, sizeof(err), "%s", f->err);
        f->has_resp = false;
        f->frame = NULL;
        pthread_mutex_unlock(&f->mu);
        if (has)
            bk_replica__apply(f, frame, &body, failed, err);
    }
}

void bk_replica_synced(bk_broker_t *b)
{
    bk_replica_t *r = b->replica;
    for (bk_fetcher_t *f = r != NULL ? r->fetchers : NULL; f != NULL; f = f->next) {
        if (!f->wait_sync)
            continue;
        bool all = true;
        for (int32_t i = 0; all && i < f->n_parts; i++)
            all = bk_replica__durable(f->parts[i].p);
        if (all) {
            f->wait_sync = false;
            bk_replica__send(f);
        }
    }
}

/* ---- fetchers: one per leader ---------------------------------------------------------- */

static void bk_replica__clear_parts(bk_fetcher_t *f)
{
    for (int32_t i = 0; i < f->n_parts; i++)
        bk_partition_unref(f->parts[i].p);
    f->n_parts = 0;
}

static void bk_fetcher__free(bk_fetcher_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    if (f->live_fd >= 0)
        shutdown(f->live_fd, SHUT_RDWR); /* ends a long poll in progress */
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    if (f->has_req)
        cm_kw_free(&f->req);
    free(f->frame);
    bk_timer_stop(f->r->b->loop, &f->retry);
    bk_replica__clear_parts(f);
    free(f->parts);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static bk_fetcher_t *bk_replica__fetcher(bk_replica_t *r, const bk_cluster_broker_t *lb)
{
    for (bk_fetcher_t *f = r->fetchers; f != NULL; f = f->next)
        if (f->leader == lb->id && strcmp(f->host, lb->host) == 0 && f->port == lb->port)
            return f;
    bk_fetcher_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->r = r;
    f->leader = lb->id;
    snprintf(f->host, sizeof(f->host), "%s", lb->host);
    f->port = lb->port;
    f->live_fd = -1;
    bk_timer_init(&f->retry, bk_replica__on_retry);
    cm_kclient_init(&f->kc, r->user[0] ? r->user : "streamd-broker",
                    r->b->cfg.replica_fetch_wait_ms + BK_REPLICA__CONNECT_MS,
                    (size_t)r->b->cfg.replica_fetch_bytes + BK_REPLICA__RESPONSE_SLACK);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->thread, NULL, bk_replica__main, f) != 0)
        abort();
    f->next = r->fetchers;
    r->fetchers = f;
    cm_log_info("following a leader", "leader=%d addr=%s:%d", f->leader, f->host, f->port);
    return f;
}

static bk_replica_t *bk_replica__get(bk_broker_t *b)
{
    if (b->replica != NULL)
        return b->replica;
    bk_replica_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->b = b;
    const char *cred = b->cfg.credential, *dot = strchr(cred, '.');
    size_t n = dot != NULL ? (size_t)(dot - cred) : 0;
    snprintf(r->user, sizeof(r->user), "%.*s", (int)(n < sizeof(r->user) ? n : 0), cred);
    r->done_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->done_io.cb = bk_replica__on_done;
    if (r->done_io.fd < 0 || bk_loop_add(b->loop, &r->done_io, EPOLLIN) != 0)
        abort();
    b->replica = r;
    return r;
}

void bk_replica_apply(bk_broker_t *b)
{
    const bk_cluster_t *c = b->cluster;
    if (c == NULL)
        return;
    bk_replica_t *r = b->replica;
    for (bk_fetcher_t *f = r != NULL ? r->fetchers : NULL; f != NULL; f = f->next) {
        f->seen = false;
        bk_replica__clear_parts(f);
    }
    int32_t me = (int32_t)b->cfg.node_id;
    for (int32_t i = 0; i < c->n_topics; i++) {
        const bk_cluster_topic_t *ct = &c->topics[i];
        if (!ct->hosted)
            continue;
        bk_topic_t *t = bk_topic_find(b, cm_kstr_c(ct->name));
        for (int32_t k = 0; t != NULL && k < ct->n_parts && k < t->n_parts; k++) {
            int32_t leader = ct->parts[k].leader;
            if (!ct->mine[k] || t->parts[k] == NULL || leader < 0 || leader == me)
                continue;
            const bk_cluster_broker_t *lb = NULL;
            for (int32_t x = 0; x < c->n_brokers; x++)
                if (c->brokers[x].id == leader)
                    lb = &c->brokers[x];
            if (lb == NULL)
                continue;
            bk_fetcher_t *f = bk_replica__fetcher(bk_replica__get(b), lb);
            r = b->replica;
            f->seen = true;
            if (f->n_parts == f->cap_parts) {
                f->cap_parts = f->cap_parts ? f->cap_parts * 2 : 16;
                f->parts = realloc(f->parts, (size_t)f->cap_parts * sizeof(*f->parts));
                if (f->parts == NULL)
                    abort();
            }
            f->parts[f->n_parts++] = (bk_rpart_t){ .p = bk_partition_ref(t->parts[k]),
                                                   .topic_id = ct->id,
                                                   .partition = k,
                                                   .leader_epoch = ct->parts[k].epoch,
                                                   .truncate_to = -1 };
        }
    }
    /* Fetchers with nothing left to follow stop; the others go on with the new set. */
    for (bk_fetcher_t **fp = r != NULL ? &r->fetchers : NULL; fp != NULL && *fp != NULL;) {
        bk_fetcher_t *f = *fp;
        if (!f->seen) {
            cm_log_info("no longer following a leader", "leader=%d", f->leader);
            *fp = f->next;
            bk_fetcher__free(f);
            continue;
        }
        if (!f->in_flight && !f->wait_sync)
            bk_replica__send(f);
        fp = &f->next;
    }
}

void bk_replica_stop(bk_broker_t *b)
{
    bk_replica_t *r = b->replica;
    if (r == NULL)
        return;
    while (r->fetchers != NULL) {
        bk_fetcher_t *f = r->fetchers;
        r->fetchers = f->next;
        bk_fetcher__free(f);
    }
    bk_loop_del(b->loop, &r->done_io);
    close(r->done_io.fd);
    free(r);
    b->replica = NULL;
}
