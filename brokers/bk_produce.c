/*
 * Produce: validates each partition's record batch, assigns offsets in place, appends it,
 * and answers when every appended batch is below its partition's high watermark (for
 * flush.ms=0 topics: fsynced, by group commit; replicated: on every in-sync replica), or
 * for acks=1 when the leader has it durably. acks=0 gets no answer at all; if such a
 * request fails, the connection is closed so the producer notices, as Kafka does.
 *
 * A produce still waiting after its timeout_ms (at least BK_PRODUCE__TIMEOUT_MIN_MS) is
 * answered REQUEST_TIMED_OUT for the partitions not acknowledged yet, or
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND where the in-sync replicas fell below
 * min.insync.replicas meanwhile, as Kafka's produce purgatory does: the batch was written
 * and may yet be committed, so a producer that retries may duplicate it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bk_cluster.h"
#include "bk_dispatch.h"
#include "bk_isr.h"
#include "bk_loop.h"
#include "bk_topic.h"
#include "cm_kmsg.h"
#include "cm_log.h"

typedef struct bk_produce_op bk_produce_op_t;

typedef struct {
    bk_ack_waiter_t w; /* first: the waiter callback gets this pointer */
    bk_produce_op_t *op;
    bk_partition_t *p;
    cm_produce_resp_partition_produce_response_t *out;
} bk_produce__wait_t;

#define BK_PRODUCE__TIMEOUT_MIN_MS 1000

struct bk_produce_op {
    bk_timer_t timer; /* first: the timer callback gets this pointer */
    bk_broker_t *b;
    bk_resp_t *resp;
    cm_produce_resp_t out;
    int pending;
    int n_waits;
    bk_produce__wait_t *waits;
};

static void bk_produce__finish(bk_produce_op_t *op)
{
    bk_resp_t *r = op->resp;
    if (r->conn != NULL) {
        cm_produce_resp_encode(&r->w, r->api_version, &op->out);
        bk_resp_ready(r);
    }
    bk_timer_stop(op->b->loop, &op->timer);
    bk_resp_unref(r);
    free(op->waits);
    free(op);
}

static void bk_produce__acked(bk_ack_waiter_t *w, int16_t err)
{
    bk_produce__wait_t *pw = (bk_produce__wait_t *)w;
    pw->p = NULL; /* no longer queued */
    if (err != 0)
        pw->out->error_code = err;
    if (--pw->op->pending == 0)
        bk_produce__finish(pw->op);
}

/* The timeout: every waiter still queued leaves its partition and fails. */
static void bk_produce__on_timeout(bk_timer_t *t)
{
    bk_produce_op_t *op = (bk_produce_op_t *)t;
    op->pending++; /* the op outlives the loop below */
    for (int i = 0; i < op->n_waits; i++) {
        bk_produce__wait_t *pw = &op->waits[i];
        bk_partition_t *p = pw->p;
        if (p == NULL || !bk_partition_cancel_ack(p, &pw->w))
            continue;
        int16_t err = bk_isr_check_produce(p) != 0 ? CM_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND
                                                   : CM_KERR_REQUEST_TIMED_OUT;
        bk_produce__acked(&pw->w, err);
    }
    if (--op->pending == 0)
        bk_produce__finish(op);
}

/* Maps a batch validation failure to the Kafka error a producer expects. */
static int16_t bk_produce__batch_error(int err)
{
    switch (err) {
    case CM_BATCH_ECRC:
    case CM_BATCH_ETRUNC:
    case CM_BATCH_ELENGTH:
        return CM_KERR_CORRUPT_MESSAGE;
    case CM_BATCH_ECODEC:
        return CM_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    default:
        return CM_KERR_INVALID_RECORD;
    }
}

/* Validates and appends one partition's records. Returns 0 or a Kafka error, with a
 * message for the client in `msg`. */
static int16_t bk_produce__partition(bk_req_t *req, bk_partition_t *p, const cm_krecords_t *rec,
                                     int64_t *base_offset, int64_t *last_offset, char *msg,
                                     size_t cap)
{
    if (rec->len <= 0) {
        snprintf(msg, cap, "the partition's records are empty");
        return CM_KERR_INVALID_RECORD;
    }
    if (rec->len > p->cfg->max_message_bytes) {
        snprintf(msg, cap, "record batch of %d bytes exceeds max.message.bytes=%lld", rec->len,
                 (long long)p->cfg->max_message_bytes);
        return CM_KERR_MESSAGE_TOO_LARGE;
    }
    /* The frame is ours and writable: offsets are assigned in the request's own bytes. */
    uint8_t *batch = (uint8_t *)rec->ptr;
    cm_batch_hdr_t h;
    int err = cm_batch_validate(batch, (size_t)rec->len, &h);
    if (err != CM_BATCH_OK) {
        snprintf(msg, cap, "%s", cm_batch_strerror(err));
        return bk_produce__batch_error(err);
    }
    if (cm_batch_size(&h) != rec->len) {
        snprintf(msg, cap, "a produce request must carry exactly one record batch per partition");
        return CM_KERR_INVALID_RECORD;
    }
    if (h.attributes & (CM_BATCH_ATTR_TRANSACTIONAL | CM_BATCH_ATTR_CONTROL) ||
        h.producer_id >= 0) {
        snprintf(msg, cap,
                 "idempotent and transactional producers are not supported yet; "
                 "set enable.idempotence=false");
        return CM_KERR_INVALID_RECORD;
    }
    int16_t kerr = bk_partition_append(p, batch, (size_t)rec->len, &h, base_offset);
    if (kerr != 0) {
        snprintf(msg, cap, "the broker could not write to its disk");
        return kerr;
    }
    *last_offset = cm_batch_last_offset(&h);
    bk_metrics_add(&req->b->metrics.produce_batches, 1);
    bk_metrics_add(&req->b->metrics.produce_records, (unsigned long long)h.records_count);
    bk_metrics_add(&req->b->metrics.produce_bytes, (unsigned long long)rec->len);
    return 0;
}

int bk_handle_produce(bk_req_t *req)
{
    int16_t v = req->hdr.api_version;
    cm_arena_t *a = &req->resp->arena;
    cm_produce_req_t r;
    if (cm_produce_req_decode(&req->body, v, a, &r) != 0)
        return BK_CLOSE;

    bk_produce_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL)
        abort();
    cm_produce_resp_init(&op->out);
    int32_t n_parts = 0;
    for (int32_t i = 0; i < r.topic_data_n; i++)
        n_parts += r.topic_data[i].partition_data_n > 0 ? r.topic_data[i].partition_data_n : 0;
    op->waits = calloc((size_t)(n_parts ? n_parts : 1), sizeof(*op->waits));
    op->out.responses = cm_arena_calloc(a, (size_t)(r.topic_data_n > 0 ? r.topic_data_n : 1),
                                        sizeof(*op->out.responses));
    if (op->waits == NULL || op->out.responses == NULL) {
        free(op->waits);
        free(op);
        return BK_CLOSE;
    }
    op->out.responses_n = r.topic_data_n > 0 ? r.topic_data_n : 0;
    bool bad_acks = r.acks != 0 && r.acks != 1 && r.acks != -1;
    bool failed = false;
    int waits = 0;
    char msg[256];

    for (int32_t i = 0; i < op->out.responses_n; i++) {
        cm_produce_req_topic_produce_data_t *td = &r.topic_data[i];
        cm_produce_resp_topic_produce_response_t *to = &op->out.responses[i];
        cm_produce_resp_topic_produce_response_init(to);
        to->name = bk_req_keep(req, td->name);
        int32_t np = td->partition_data_n > 0 ? td->partition_data_n : 0;
        to->partition_responses =
            cm_arena_calloc(a, (size_t)(np ? np : 1), sizeof(*to->partition_responses));
        if (to->partition_responses == NULL)
            break;
        to->partition_responses_n = np;
        bk_topic_t *t = bk_topic_find(req->b, td->name);
        for (int32_t j = 0; j < np; j++) {
            cm_produce_req_partition_produce_data_t *pd = &td->partition_data[j];
            cm_produce_resp_partition_produce_response_t *po = &to->partition_responses[j];
            cm_produce_resp_partition_produce_response_init(po);
            po->index = pd->index;
            int16_t perr;
            bk_partition_t *p = bk_cluster_led(req->b, t, td->name, pd->index, &perr);
            msg[0] = '\0';
            int64_t base = -1, last = -1;
            if (bad_acks) {
                po->error_code = CM_KERR_INVALID_REQUIRED_ACKS;
                snprintf(msg, sizeof(msg), "acks must be -1, 0 or 1");
            } else if (p == NULL) {
                po->error_code = perr;
            } else if (r.acks == -1 && (po->error_code = bk_isr_check_produce(p)) != 0) {
                snprintf(msg, sizeof(msg),
                         "the partition has fewer in-sync replicas than min.insync.replicas");
            } else {
                po->error_code =
                    bk_produce__partition(req, p, &pd->records, &base, &last, msg, sizeof(msg));
            }
            if (po->error_code != 0) {
                failed = true;
                po->error_message = bk_req_msg(req, msg);
                bk_metrics_add(&req->b->metrics.produce_rejected_batches, 1);
                continue;
            }
            po->base_offset = base;
            po->log_start_offset = bk_partition_log_start(p);
            if (r.acks != 0) {
                bk_produce__wait_t *pw = &op->waits[waits++];
                pw->w.need = last + 1;
                pw->w.local = r.acks == 1; /* acks=1: the leader's fsync alone */
                pw->w.done = bk_produce__acked;
                pw->op = op;
                pw->p = p;
                pw->out = po;
            }
        }
    }

    if (r.acks == 0) {
        free(op->waits);
        free(op);
        if (failed)
            cm_log_warn("closing connection: an acks=0 produce failed", "peer=%s", req->conn->peer);
        return failed ? BK_CLOSE : BK_NONE;
    }
    /* One extra count keeps the op alive while waiters that are already satisfied
     * complete inside the loop. */
    op->b = req->b;
    op->resp = bk_resp_ref(req->resp);
    op->pending = waits + 1;
    op->n_waits = waits;
    bk_timer_init(&op->timer, bk_produce__on_timeout);
    for (int i = 0; i < waits; i++)
        bk_partition_wait_ack(op->waits[i].p, &op->waits[i].w);
    if (--op->pending == 0) {
        bk_produce__finish(op);
        return BK_DEFER;
    }
    bk_timer_start(req->b->loop, &op->timer,
                   r.timeout_ms > BK_PRODUCE__TIMEOUT_MIN_MS ? r.timeout_ms
                                                             : BK_PRODUCE__TIMEOUT_MIN_MS);
    return BK_DEFER;
}
