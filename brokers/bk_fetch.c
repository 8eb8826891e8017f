/*
 * Fetch: reads record batches below the high watermark and sends them straight from the
 * segment files (sendfile), byte for byte as stored.
 *
 * Long poll: when fewer than min_bytes are available, the fetch watches its partitions
 * and waits up to max_wait_ms (capped by fetch_wait_max_ms). Any high-watermark move
 * schedules a re-check through a zero-delay timer, so many wake-ups coalesce into one.
 *
 * Followers (a replica id of 0 or more, v12 and later) are brokers of the pool that
 * authenticated as themselves (bk_fetch__replica_peer); they read up to the log end, not
 * the high watermark, are woken by appends, and each fetch tells the leader how far the
 * follower's durable log reaches (bk_partition_follower_fetched). A follower whose last
 * fetched epoch ends earlier on the leader than its fetch offset gets `diverging_epoch`
 * and no records, and truncates there (KIP-320's check for followers, from Kafka's
 * Partition.fetchRecords).
 *
 * Limits (KIP-74): max_bytes for the response and partition_max_bytes per partition,
 * except that the first batch of the first partition with data goes out whole, so a
 * consumer always makes progress. As in Kafka, the last batch may be cut short; clients
 * discard the partial tail and fetch it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_isr.h"
#include "bk_loop.h"
#include "bk_sasl.h"
#include "bk_topic.h"
#include "cm_kmsg.h"
#include "cm_log.h"
#include "cm_time.h"

#define BK_FETCH__SESSION_ID_NOT_FOUND 70

typedef struct bk_fetch_op bk_fetch_op_t;

typedef struct {
    bk_watch_t watch; /* first: wake callbacks get this pointer */
    bk_fetch_op_t *op;
    bk_partition_t *p; /* a ref, or NULL when the partition is unknown */
    bool replica;      /* a follower's: up to the log end */
    bool answered;     /* its answer is ready without a read (a divergence) */
    int64_t offset;
    int32_t max_bytes;
    cm_fetch_resp_partition_data_t *out;
} bk_fetch__part_t;

struct bk_fetch_op {
    bk_timer_t timer;         /* first: the timer callback gets this pointer */
    struct bk_fetch_op *prev; /* in b->fetches while waiting */
    struct bk_fetch_op *next;
    bk_resp_t *resp;
    bk_broker_t *b;
    cm_fetch_resp_t out;
    bk_fetch__part_t *parts;
    int32_t n_parts;
    int64_t max_bytes;
    int64_t min_bytes;
    int64_t deadline_ms;
    bool waiting;
};

/* Plans every partition's read; with `keep`, puts the file ranges into the response.
 * Returns the bytes found. */
static int64_t bk_fetch__collect(bk_fetch_op_t *op, bool keep)
{
    int64_t total = 0;
    bool min_one = true;
    for (int32_t i = 0; i < op->n_parts; i++) {
        bk_fetch__part_t *fp = &op->parts[i];
        if (fp->p == NULL || fp->out->error_code != 0)
            continue;
        if (fp->p->deleted) {
            /* The topic went away while the fetch waited. */
            fp->out->error_code = CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        int64_t room = op->max_bytes - total;
        if (room > fp->max_bytes)
            room = fp->max_bytes;
        bk_read_t rd;
        if (fp->replica)
            bk_partition_read_replica(fp->p, fp->offset, room < 0 ? 0 : room, min_one, &rd);
        else
            bk_partition_read(fp->p, fp->offset, room < 0 ? 0 : room, min_one, &rd);
        if (rd.len > 0) {
            min_one = false;
            total += rd.len;
        }
        if (!keep) {
            bk_segment_unref(rd.seg);
            continue;
        }
        fp->out->error_code = rd.err;
        fp->out->high_watermark = rd.hw;
        fp->out->last_stable_offset = rd.hw;
        fp->out->log_start_offset = rd.log_start;
        if (rd.len > 0) {
            cm_kext_t *ext = cm_arena_alloc(&op->resp->arena, sizeof(*ext));
            int fd = bk_segment_fd(rd.seg); /* stays open: the response holds the segment */
            if (fd < 0) {
                fp->out->error_code = CM_KERR_KAFKA_STORAGE_ERROR;
                bk_segment_unref(rd.seg);
                continue;
            }
            if (ext == NULL) {
                bk_segment_unref(rd.seg);
                continue;
            }
            *ext = (cm_kext_t){ .fd = fd,
                                .off = rd.pos,
                                .len = (uint32_t)rd.len,
                                .unref = (void (*)(void *))bk_segment_unref,
                                .obj = rd.seg };
            fp->out->records = (cm_krecords_t){ .ext = ext };
            bk_metrics_add(&op->b->metrics.fetch_bytes, (unsigned long long)rd.len);
        }
    }
    return total;
}

/* True when the fetch can be answered now: enough data, an error, or time is up. */
static bool bk_fetch__satisfied(bk_fetch_op_t *op)
{
    if (op->min_bytes <= 0)
        return true;
    for (int32_t i = 0; i < op->n_parts; i++) {
        bk_fetch__part_t *fp = &op->parts[i];
        if (fp->out->error_code != 0 || fp->answered || (fp->p != NULL && fp->p->deleted))
            return true;
        if (fp->p != NULL &&
            (fp->offset > fp->p->leo || fp->offset < bk_partition_log_start(fp->p)))
            return true;
        /* The usual min_bytes of 1 needs no read planning: any record below the high
         * watermark will do (finish plans the reads once). */
        if (op->min_bytes == 1 && fp->p != NULL &&
            fp->offset < (fp->replica ? fp->p->leo : fp->p->hw))
            return true;
    }
    if (op->min_bytes == 1)
        return false;
    return bk_fetch__collect(op, false) >= op->min_bytes;
}

static void bk_fetch__free(bk_fetch_op_t *op)
{
    if (op->waiting) {
        if (op->prev)
            op->prev->next = op->next;
        else
            op->b->fetches = op->next;
        if (op->next)
            op->next->prev = op->prev;
    }
    for (int32_t i = 0; i < op->n_parts; i++) {
        bk_partition_unwatch(&op->parts[i].watch);
        bk_partition_unref(op->parts[i].p);
    }
    bk_timer_stop(op->b->loop, &op->timer);
    bk_resp_unref(op->resp);
    free(op->parts);
    free(op);
}

static void bk_fetch__finish(bk_fetch_op_t *op)
{
    bk_resp_t *r = op->resp;
    if (r->conn != NULL) {
        bk_fetch__collect(op, true);
        /* Encoding hands each file range's segment ref to the response writer. */
        cm_fetch_resp_encode(&r->w, r->api_version, &op->out);
        bk_resp_ready(r);
    }
    bk_fetch__free(op);
}

static void bk_fetch__on_timer(bk_timer_t *t)
{
    bk_fetch_op_t *op = (bk_fetch_op_t *)t;
    if (op->resp->conn == NULL || op->b->stopping || cm_mono_ms() >= op->deadline_ms ||
        bk_fetch__satisfied(op)) {
        bk_fetch__finish(op);
        return;
    }
    bk_timer_start(op->b->loop, &op->timer, op->deadline_ms - cm_mono_ms());
}

static void bk_fetch__on_wake(bk_watch_t *w)
{
    bk_fetch_op_t *op = ((bk_fetch__part_t *)w)->op;
    bk_timer_start(op->b->loop, &op->timer, 0);
}

/*
 * True when this connection may fetch as follower `replica`: it authenticated as a broker
 * of this pool whose id is `replica` (managed: a component of kind broker with that id in
 * the snapshot; verifiers from a file: the name broker-<id>). Anything else is a client
 * forging a replica id, which must never get a follower's view of the log (CVE-2018-1288).
 */
static bool bk_fetch__replica_peer(const bk_req_t *req, int32_t replica)
{
    const bk_cluster_t *c = req->b->cluster;
    if (c == NULL || req->conn->auth != BK_AUTH_OK)
        return false;
    bool in_pool = false;
    for (int32_t i = 0; i < c->n_brokers; i++)
        in_pool |= c->brokers[i].id == replica;
    if (!in_pool)
        return false;
    if (!c->auth_read) {
        char want[32];
        snprintf(want, sizeof(want), "broker-%d", replica);
        return strcmp(req->conn->who, want) == 0;
    }
    for (int32_t i = 0; i < c->n_auth; i++)
        if (strcmp(c->auth_names[i], req->conn->who) == 0)
            return c->auth_broker_ids[i] == replica;
    return false;
}

/*
 * A follower's fetch of one partition led here: checks it is a replica and its epochs,
 * answers a divergence, else records where it is. Returns a Kafka error, or 0 to read.
 */
static int16_t bk_fetch__follower(bk_req_t *req, bk_partition_t *p, int32_t replica,
                                  int64_t replica_epoch, const cm_fetch_req_partition_t *in,
                                  cm_fetch_resp_partition_data_t *out, bool *diverged)
{
    *diverged = false;
    bk_follower_t *f = bk_partition_follower(p, replica);
    if (f == NULL)
        return CM_KERR_NOT_LEADER_OR_FOLLOWER;
    int16_t err = bk_partition_check_epoch(p, in->current_leader_epoch);
    if (err != 0)
        return err;
    /* A broker that restarted since the snapshot the leader has is not the one the
     * snapshot knows; one older than the snapshot is a fetch from before its restart. */
    for (int32_t i = 0; i < req->b->cluster->n_brokers; i++)
        if (req->b->cluster->brokers[i].id == replica && replica_epoch >= 0 &&
            replica_epoch < req->b->cluster->brokers[i].epoch)
            return CM_KERR_STALE_BROKER_EPOCH;
    if (p->offline != NULL)
        return CM_KERR_KAFKA_STORAGE_ERROR;
    int64_t offset = in->fetch_offset;
    if (offset < bk_partition_log_start(p))
        return CM_KERR_OFFSET_OUT_OF_RANGE;
    int32_t div_epoch = -1;
    int64_t div_end = -1;
    if (in->last_fetched_epoch >= 0) {
        bk_partition_epoch_end(p, in->last_fetched_epoch, p->leo, &div_epoch, &div_end);
        *diverged = div_epoch < in->last_fetched_epoch || div_end < offset;
    }
    if (!*diverged && offset > p->leo) {
        /* Ahead of the leader (an unclean election left it a longer log): cut to ours. */
        div_epoch = bk_epochs_latest(&p->epochs);
        div_end = p->leo;
        *diverged = true;
    }
    if (*diverged) {
        out->diverging_epoch.epoch = div_epoch;
        out->diverging_epoch.end_offset = div_end;
        return 0;
    }
    bk_partition_follower_fetched(p, f, offset, replica_epoch, cm_mono_ms());
    bk_isr_fetched(req->b, p, f);
    return 0;
}

/* Resolves the request's partitions and lays out the response. */
static int bk_fetch__prepare(bk_req_t *req, cm_fetch_req_t *r, bk_fetch_op_t *op)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    int32_t n_topics = r->topics_n > 0 ? r->topics_n : 0, n = 0;
    for (int32_t i = 0; i < n_topics; i++)
        n += r->topics[i].partitions_n > 0 ? r->topics[i].partitions_n : 0;
    /* More partitions than the broker can hold is not a consumer's fetch. */
    if (n > req->b->cfg.partitions_total_max) {
        cm_log_warn("closing connection: a fetch names more partitions than the broker holds",
                    "peer=%s partitions=%d", req->conn->peer, n);
        return -1;
    }
    op->parts = calloc((size_t)(n ? n : 1), sizeof(*op->parts));
    op->out.responses =
        cm_arena_calloc(a, (size_t)(n_topics ? n_topics : 1), sizeof(*op->out.responses));
    if (op->parts == NULL || op->out.responses == NULL)
        return -1;
    op->out.responses_n = n_topics;
    /* A follower's fetch (a replica id of 0 or more) is a broker's alone: anyone else gets
     * TOPIC_AUTHORIZATION_FAILED, as Kafka answers an unauthorized follower, with nothing
     * read. Followers speak v12 or later (epochs). Consumers send -1. */
    int32_t replica = v >= 15 ? r->replica_state.replica_id : r->replica_id;
    int64_t replica_epoch = v >= 15 ? r->replica_state.replica_epoch : -1;
    bool peer = replica >= 0 && v >= 12 && bk_fetch__replica_peer(req, replica);
    if (replica >= 0 && !peer)
        bk_metrics_add(&req->b->metrics.replica_fetches_refused, 1);
    for (int32_t i = 0; i < n_topics; i++) {
        cm_fetch_req_topic_t *ti = &r->topics[i];
        cm_fetch_resp_fetchable_topic_response_t *to = &op->out.responses[i];
        cm_fetch_resp_fetchable_topic_response_init(to);
        to->topic = bk_req_keep(req, ti->topic);
        to->topic_id = ti->topic_id;
        bk_topic_t *t =
            v >= 13 ? bk_topic_find_id(req->b, ti->topic_id) : bk_topic_find(req->b, ti->topic);
        int32_t np = ti->partitions_n > 0 ? ti->partitions_n : 0;
        to->partitions = cm_arena_calloc(a, (size_t)(np ? np : 1), sizeof(*to->partitions));
        if (to->partitions == NULL)
            return -1;
        to->partitions_n = np;
        for (int32_t j = 0; j < np; j++) {
            cm_fetch_resp_partition_data_t *po = &to->partitions[j];
            cm_fetch_resp_partition_data_init(po);
            po->partition_index = ti->partitions[j].partition;
            po->high_watermark = -1;
            po->last_stable_offset = -1;
            po->log_start_offset = -1;
            po->aborted_transactions_n = -1;
            bk_fetch__part_t *fp = &op->parts[op->n_parts++];
            fp->op = op;
            fp->out = po;
            fp->offset = ti->partitions[j].fetch_offset;
            fp->max_bytes = ti->partitions[j].partition_max_bytes;
            fp->watch.wake = bk_fetch__on_wake;
            int16_t perr;
            bool diverged = false;
            bk_partition_t *p = replica >= 0 && !peer ? NULL
                                                      : bk_cluster_led(req->b, t, ti->topic,
                                                                       po->partition_index, &perr);
            if (p != NULL && peer)
                perr = bk_fetch__follower(req, p, replica, replica_epoch, &ti->partitions[j], po,
                                          &diverged);
            else if (p != NULL && v >= 9) /* the client's metadata older or newer than ours */
                perr = bk_partition_check_epoch(p, ti->partitions[j].current_leader_epoch);
            else if (p != NULL)
                perr = 0;
            if (replica >= 0 && !peer) {
                po->error_code = CM_KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if (p == NULL || perr != 0) {
                po->error_code = t == NULL && v >= 13 ? CM_KERR_UNKNOWN_TOPIC_ID : perr;
            } else if (diverged) {
                fp->answered = true;
                po->high_watermark = p->hw;
                po->log_start_offset = bk_partition_log_start(p);
            } else {
                fp->p = bk_partition_ref(p);
                fp->replica = peer;
            }
        }
    }
    return 0;
}

static int bk_fetch__cmp_part(const void *a, const void *b)
{
    const bk_fetch__part_t *x = *(bk_fetch__part_t *const *)a, *y = *(bk_fetch__part_t *const *)b;
    return (uintptr_t)x->p < (uintptr_t)y->p ? -1 : (uintptr_t)x->p > (uintptr_t)y->p;
}

/* Watches each distinct partition once, however often the request names it. */
static void bk_fetch__watch_all(bk_fetch_op_t *op)
{
    bk_fetch__part_t **by_p = malloc((size_t)(op->n_parts ? op->n_parts : 1) * sizeof(*by_p));
    if (by_p == NULL)
        abort();
    for (int32_t i = 0; i < op->n_parts; i++)
        by_p[i] = &op->parts[i];
    qsort(by_p, (size_t)op->n_parts, sizeof(*by_p), bk_fetch__cmp_part);
    for (int32_t i = 0; i < op->n_parts; i++)
        if (by_p[i]->p != NULL && (i == 0 || by_p[i]->p != by_p[i - 1]->p))
            bk_partition_watch(by_p[i]->p, &by_p[i]->watch, by_p[i]->replica);
    free(by_p);
}

void bk_fetch_release_all(bk_broker_t *b)
{
    for (bk_fetch_op_t *op = b->fetches; op != NULL; op = op->next)
        bk_timer_start(b->loop, &op->timer, 0);
}

int bk_handle_fetch(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_fetch_req_t r;
    if (cm_fetch_req_decode(&req->body, v, &req->resp->arena, &r) != 0)
        return BK_CLOSE;
    bk_fetch_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL)
        abort();
    op->b = req->b;
    op->resp = bk_resp_ref(req->resp);
    bk_timer_init(&op->timer, bk_fetch__on_timer);
    cm_fetch_resp_init(&op->out);
    /* This broker keeps no fetch sessions (KIP-227): session id 0 tells clients to send
     * full fetches; an id we never issued is an error. */
    if (v >= 7 && r.session_id != 0) {
        op->out.error_code = BK_FETCH__SESSION_ID_NOT_FOUND;
        bk_fetch__finish(op);
        return BK_DEFER;
    }
    if (bk_fetch__prepare(req, &r, op) != 0) {
        bk_fetch__free(op);
        return BK_CLOSE;
    }
    op->max_bytes = r.max_bytes < req->b->cfg.fetch_response_bytes_max
                        ? r.max_bytes
                        : req->b->cfg.fetch_response_bytes_max;
    op->min_bytes = r.min_bytes;
    int64_t wait = r.max_wait_ms < req->b->cfg.fetch_wait_max_ms ? r.max_wait_ms
                                                                 : req->b->cfg.fetch_wait_max_ms;
    if (wait <= 0 || bk_fetch__satisfied(op)) {
        bk_fetch__finish(op);
        return BK_DEFER;
    }
    op->deadline_ms = cm_mono_ms() + wait;
    bk_fetch__watch_all(op);
    op->waiting = true;
    op->next = req->b->fetches;
    if (op->next)
        op->next->prev = op;
    req->b->fetches = op;
    bk_timer_start(req->b->loop, &op->timer, wait);
    return BK_DEFER;
}
