#include "bk_isr.h"

#include <inttypes.h>
#include <string.h>

#include "bk_cplane.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_time.h"

static bool bk_isr__in(const int32_t *v, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

bool bk_isr_has(const bk_partition_t *p, int32_t id)
{
    return bk_isr__in(p->isr, p->n_isr, id);
}

static int64_t bk_isr__min(const bk_partition_t *p)
{
    return p->cfg != NULL ? p->cfg->min_insync_replicas : 1;
}

static const bk_cluster_broker_t *bk_isr__broker(const bk_broker_t *b, int32_t id)
{
    for (int32_t i = 0; b->cluster != NULL && i < b->cluster->n_brokers; i++)
        if (b->cluster->brokers[i].id == id)
            return &b->cluster->brokers[i];
    return NULL;
}

/* Where the high watermark may go: the lowest durable log end of the maximal ISR's other
 * members (one that has not fetched in this leadership holds it where it is), or nowhere
 * while the committed ISR is below min.insync.replicas. */
static int64_t bk_isr__cap(const bk_broker_t *b, bk_partition_t *p)
{
    if (p->n_isr < bk_isr__min(p))
        return p->hw;
    int32_t me = (int32_t)b->cfg.node_id;
    int64_t cap = INT64_MAX;
    for (int pass = 0; pass < 2; pass++) {
        const int32_t *v = pass == 0 ? p->isr : p->isr_want;
        int32_t n = pass == 0 ? p->n_isr : (p->isr_ticket != 0 ? p->n_isr_want : 0);
        for (int32_t i = 0; i < n; i++) {
            if (v[i] == me)
                continue;
            const bk_follower_t *f = bk_partition_follower(p, v[i]);
            int64_t end = f != NULL && f->leo >= 0 ? f->leo : p->hw;
            if (end < cap)
                cap = end;
        }
    }
    return cap;
}

static void bk_isr__propose(bk_broker_t *b, bk_partition_t *p, const int32_t *isr, int32_t n,
                            const char *why, int32_t who)
{
    if (b->cplane == NULL || p->deleted)
        return;
    memcpy(p->isr_want, isr, (size_t)n * sizeof(*isr));
    p->n_isr_want = n;
    p->isr_ticket =
        bk_cplane_propose_isr(b->cplane, &p->topic_id, p->id, p->led_epoch, p->isr_version, isr, n);
    cm_log_info(n > p->n_isr ? "proposing to add a replica to the in-sync replicas"
                             : "proposing to remove replicas from the in-sync replicas",
                "partition=%s replica=%d why=\"%s\" isr_size=%d proposed_size=%d epoch=%d",
                p->label, who, why, p->n_isr, n, p->led_epoch);
    bk_metrics_add(n > p->n_isr ? &b->metrics.isr_expands : &b->metrics.isr_shrinks, 1);
}

void bk_isr_sync(bk_broker_t *b, bk_partition_t *p, const cm_kuuid_t *topic_id,
                 const bk_cluster_part_t *x, uint64_t ticket)
{
    int32_t me = (int32_t)b->cfg.node_id;
    p->topic_id = *topic_id;
    if (x->leader != me) {
        p->led_epoch = -1;
        p->isr_ticket = 0;
        p->n_isr = 0;
        bk_partition_set_followers(p, NULL, 0, true, 0);
        return;
    }
    int32_t others[16], n = 0;
    for (int32_t r = 0; r < x->n_replicas && n < 16; r++)
        if (x->replicas[r] != me)
            others[n++] = x->replicas[r];
    bool fresh = p->led_epoch != x->epoch;
    bk_partition_set_followers(p, others, n, fresh, cm_mono_ms());
    if (fresh || x->isr_version >= p->isr_version) {
        p->n_isr = x->n_isr < 16 ? x->n_isr : 16;
        memcpy(p->isr, x->isr, (size_t)p->n_isr * sizeof(*p->isr));
        p->isr_version = x->isr_version;
    }
    if (fresh)
        p->isr_ticket = 0;
    p->led_epoch = x->epoch;
    if (p->isr_ticket != 0 && ticket >= p->isr_ticket)
        p->isr_ticket = 0; /* this snapshot shows what became of the proposal */
    bk_partition_set_hw_cap(p, bk_isr__cap(b, p));
}

void bk_isr_fetched(bk_broker_t *b, bk_partition_t *p, const bk_follower_t *f)
{
    if (p->led_epoch < 0)
        return;
    bk_partition_set_hw_cap(p, bk_isr__cap(b, p));
    if (p->isr_ticket != 0 || bk_isr_has(p, f->id) || p->n_isr >= 16)
        return;
    /* It has everything acknowledged, and this leadership's first offset (so its log
     * holds no tail of an older epoch that this leader does not have). */
    int64_t start = p->leo;
    for (size_t i = 0; i < p->epochs.n; i++)
        if (p->epochs.v[i].epoch == p->led_epoch)
            start = p->epochs.v[i].start;
    const bk_cluster_broker_t *cb = bk_isr__broker(b, f->id);
    if (f->leo < p->hw || f->leo < start || cb == NULL || !cb->up || f->epoch != cb->epoch)
        return;
    int32_t next[16];
    memcpy(next, p->isr, (size_t)p->n_isr * sizeof(*next));
    next[p->n_isr] = f->id;
    bk_isr__propose(b, p, next, p->n_isr + 1, "caught up", f->id);
}

void bk_isr_tick(bk_broker_t *b, bk_partition_t *p, int64_t now_ms)
{
    if (p->led_epoch < 0 || p->isr_ticket != 0 || p->deleted)
        return;
    int32_t me = (int32_t)b->cfg.node_id, next[16], n = 0, gone = -1;
    const char *why = NULL;
    for (int32_t i = 0; i < p->n_isr; i++) {
        int32_t id = p->isr[i];
        const bk_follower_t *f = bk_partition_follower(p, id);
        const bk_cluster_broker_t *cb = bk_isr__broker(b, id);
        bool keep = id == me;
        if (!keep && f != NULL && (cb == NULL || !cb->up)) {
            why = "its broker is down";
        } else if (!keep && f != NULL &&
                   now_ms - f->caught_up_ms > b->cfg.replica_lag_time_max_ms) {
            why = "not caught up for replica_lag_time_max_ms";
        } else {
            keep = true;
        }
        if (keep)
            next[n++] = id;
        else
            gone = id;
    }
    if (n < p->n_isr)
        bk_isr__propose(b, p, next, n, why, gone);
}

int16_t bk_isr_check_produce(const bk_partition_t *p)
{
    return p->led_epoch >= 0 && p->n_isr < bk_isr__min(p) ? CM_KERR_NOT_ENOUGH_REPLICAS : 0;
}
