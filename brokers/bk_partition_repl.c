/*
 * A partition's replication state (bk_partition.h): its leader-epoch history and the
 * checkpoint that keeps it, a leader's view of its followers, and a follower's truncation
 * where its log diverged from its leader's. The log itself is in bk_partition.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk_flusher.h"
#include "bk_partition.h"
#include "bk_partition_internal.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kproto.h"
#include "cm_log.h"

#define BK_PARTITION__EPOCHS_FILE     "leader-epoch-checkpoint"
#define BK_PARTITION__EPOCHS_FILE_MAX ((size_t)32 << 20)

/* ---- the leader-epoch history ---- */

/* Saves the epoch history. Not fsynced: bk_partition__load_epochs checks it against the
 * log at the next open and rebuilds it when a crash left an older or empty file. */
void bk_partition__save_epochs(const bk_partition_t *p)
{
    size_t len;
    char *text = bk_epochs_format(&p->epochs, &len);
    int dfd = bk_partition_dir_open(p);
    if (dfd < 0 || cm_fs_replace_at(dfd, BK_PARTITION__EPOCHS_FILE, text, len) != CM_OK)
        cm_log_warn("cannot save the leader-epoch checkpoint; the next start rebuilds it",
                    "partition=%s errno=%s", p->label, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    free(text);
}

static int bk_partition__epochs_fn(void *ctx, int64_t pos, const cm_batch_hdr_t *h)
{
    (void)pos;
    bk_epochs_assign(ctx, h->leader_epoch, h->base_offset);
    return 0;
}

/* The leader epoch of the log's last batch, or -1 when the log is empty. */
static int32_t bk_partition__last_epoch(bk_partition_t *p)
{
    for (size_t i = p->n_segs; i > 0; i--) {
        bk_segment_t *s = p->segs[i - 1];
        int64_t pos;
        cm_batch_hdr_t h;
        if (s->size > 0 && bk_segment_locate(s, s->next_offset - 1, s->size, &pos, &h) == 1)
            return h.leader_epoch;
        if (s->size > 0)
            return -2; /* unreadable: the caller rebuilds, which reports it */
    }
    return -1;
}

/*
 * Reads the epoch history at open and checks it against the recovered log: entries at or
 * past the log end are dropped (a tail lost in a crash, or an epoch that never wrote), and
 * when the last batch's epoch is not the newest entry's (a checkpoint older than the log,
 * missing or damaged), the history is rebuilt from the batch headers.
 */
int bk_partition__load_epochs(bk_partition_t *p)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", p->dir, BK_PARTITION__EPOCHS_FILE);
    int rc = cm_fs_read_file(path, BK_PARTITION__EPOCHS_FILE_MAX, &text, &len);
    bool parsed = rc == CM_OK && bk_epochs_parse(&p->epochs, text, len) == 0;
    free(text);
    bool changed = bk_epochs_truncate(&p->epochs, p->leo);
    int32_t last = bk_partition__last_epoch(p);
    if (!parsed || (last >= 0 && bk_epochs_latest(&p->epochs) != last) || last == -2) {
        if (rc != CM_ENOENT || p->leo > bk_partition_log_start(p))
            cm_log_info("rebuilding the leader-epoch history from the log",
                        "partition=%s checkpoint=%s", p->label,
                        rc == CM_ENOENT ? "missing"
                        : parsed        ? "behind the log"
                                        : "unreadable");
        bk_epochs_free(&p->epochs);
        for (size_t i = 0; i < p->n_segs; i++) {
            /* Epochs never decrease along a log: a segment that starts and ends in the same
             * epoch needs no walk (a log written before epochs were kept is all epoch 0). */
            bk_segment_t *sg = p->segs[i];
            int64_t pos;
            cm_batch_hdr_t first, end;
            int r =
                sg->size == 0 ? 0 : bk_segment_locate(sg, sg->base_offset, sg->size, &pos, &first);
            if (r == 1)
                r = bk_segment_locate(sg, sg->next_offset - 1, sg->size, &pos, &end);
            if (r == 1 && first.leader_epoch == end.leader_epoch)
                bk_epochs_assign(&p->epochs, first.leader_epoch, first.base_offset);
            else if (r >= 0)
                r = bk_segment_walk(sg, 0, sg->size, bk_partition__epochs_fn, &p->epochs);
            if (r < 0) {
                cm_log_error("cannot read a segment's batch headers", "partition=%s segment=%s",
                             p->label, p->segs[i]->path);
                return CM_EIO;
            }
        }
        changed = true;
    }
    if (changed)
        bk_partition__save_epochs(p);
    p->leader_epoch = bk_epochs_latest(&p->epochs) > 0 ? bk_epochs_latest(&p->epochs) : 0;
    return CM_OK;
}

void bk_partition_set_leader_epoch(bk_partition_t *p, int32_t epoch, bool leading)
{
    if (epoch < 0)
        return;
    if (!leading)
        /* A replica that stops leading acknowledges nothing more: the new leader decides
         * what its log keeps. */
        bk_partition__complete_acks(p, CM_KERR_NOT_LEADER_OR_FOLLOWER);
    if (epoch > p->leader_epoch || (leading && epoch > bk_epochs_latest(&p->epochs))) {
        p->leader_epoch = epoch;
        if (leading && bk_epochs_assign(&p->epochs, epoch, p->leo))
            bk_partition__save_epochs(p);
    }
}

int16_t bk_partition_check_epoch(const bk_partition_t *p, int32_t current)
{
    if (current < 0 || current == p->leader_epoch)
        return 0;
    return current < p->leader_epoch ? CM_KERR_FENCED_LEADER_EPOCH : CM_KERR_UNKNOWN_LEADER_EPOCH;
}

void bk_partition_epoch_end(const bk_partition_t *p, int32_t epoch, int64_t limit,
                            int32_t *out_epoch, int64_t *out_end)
{
    bk_epochs_end_offset(&p->epochs, epoch, p->leo, out_epoch, out_end);
    if (*out_end > limit)
        *out_end = limit;
}

/* ---- followers (on the leader) ---- */

void bk_partition_set_followers(bk_partition_t *p, const int32_t *ids, int32_t n, bool fresh,
                                int64_t now_ms)
{
    bk_follower_t *v = calloc((size_t)n + 1, sizeof(*v));
    if (v == NULL)
        abort();
    for (int32_t i = 0; i < n; i++) {
        const bk_follower_t *old = fresh ? NULL : bk_partition_follower(p, ids[i]);
        v[i] =
            old != NULL
                ? *old
                : (bk_follower_t){ .id = ids[i], .leo = -1, .epoch = -1, .caught_up_ms = now_ms };
    }
    free(p->followers);
    p->followers = v;
    p->n_followers = n;
}

bk_follower_t *bk_partition_follower(bk_partition_t *p, int32_t id)
{
    for (int32_t i = 0; i < p->n_followers; i++)
        if (p->followers[i].id == id)
            return &p->followers[i];
    return NULL;
}

void bk_partition_follower_fetched(bk_partition_t *p, bk_follower_t *f, int64_t offset,
                                   int64_t epoch, int64_t now_ms)
{
    /* Caught up: it has all the leader has now, or all the leader had at its previous
     * fetch (then it was caught up as of that fetch). */
    if (offset >= p->leo)
        f->caught_up_ms = now_ms;
    else if (f->fetch_ms > 0 && offset >= f->leader_leo_at_fetch && f->fetch_ms > f->caught_up_ms)
        f->caught_up_ms = f->fetch_ms;
    f->leo = offset;
    f->epoch = epoch;
    f->fetch_ms = now_ms;
    f->leader_leo_at_fetch = p->leo;
}

/* ---- truncation ---- */

int bk_partition_truncate(bk_partition_t *p, int64_t offset)
{
    if (p->deleted || p->offline != NULL || offset >= p->leo || offset < bk_partition_log_start(p))
        return CM_OK;
    if (p->durable != p->leo || atomic_load(&p->seals) != 0)
        return CM_AGAIN;
    size_t k = bk_partition__find_seg(p, offset);
    bk_segment_t *s = p->segs[k];
    int64_t pos = s->size;
    cm_batch_hdr_t h;
    int r = bk_segment_locate(s, offset, s->size, &pos, &h);
    if (r < 0)
        return CM_EIO;
    if (r == 1 && h.base_offset != offset) {
        /* Inside a batch: followers cut at batch boundaries, which is where epochs start;
         * keep the whole batch rather than split it. */
        offset = cm_batch_last_offset(&h) + 1;
        pos += cm_batch_size(&h);
        if (offset >= p->leo)
            return CM_OK;
    }
    cm_log_warn("truncating the log", "partition=%s from=%" PRId64 " to=%" PRId64, p->label, p->leo,
                offset);
    /* Whole segments past the cut. */
    while (p->n_segs > k + 1) {
        bk_segment_t *gone = p->segs[--p->n_segs];
        p->log_bytes -= gone->size;
        bk_segment_uncache(gone);
        bk_segment_delete(gone);
        bk_segment_unref(gone);
    }
    int64_t before = s->size;
    int rc = bk_segment_truncate(s, pos, p->broker->cfg.index_interval_bytes);
    p->log_bytes -= before - s->size;
    if (rc != CM_OK) {
        snprintf(p->offline_why, sizeof(p->offline_why), "truncation at offset %" PRId64 " failed",
                 offset);
        p->offline = p->offline_why;
        bk_metrics_add(&p->broker->metrics.partitions_offline, 1);
        return rc;
    }
    p->gen++;
    p->leo = s->next_offset;
    p->durable = p->leo; /* below the cut nothing changed; the cut itself is synced next */
    if (p->hw > p->leo || p->hw_seg->base_offset > s->base_offset) { /* past the cut */
        bk_segment_unref(p->hw_seg);
        p->hw_seg = bk_segment_ref(s);
        p->hw = p->leo;
        p->hw_pos = s->size;
    }
    if (bk_epochs_truncate(&p->epochs, p->leo))
        bk_partition__save_epochs(p);
    if (bk_partition_write_rp(p, s->base_offset) != CM_OK)
        cm_log_warn("cannot write recovery point", "partition=%s", p->label);
    /* Only a follower truncates: nothing it holds is acknowledged here any more. */
    bk_partition__complete_acks(p, CM_KERR_NOT_LEADER_OR_FOLLOWER);
    bk_flusher_sync(p->broker->flusher, p, s, p->leo, s->size);
    bk_partition__wake(p);
    return CM_OK;
}

int bk_partition_truncate_fully(bk_partition_t *p, int64_t start)
{
    if (p->deleted || p->offline != NULL || start < 0)
        return CM_OK;
    if (p->durable != p->leo || atomic_load(&p->seals) != 0)
        return CM_AGAIN;
    bk_segment_t *s;
    if (bk_segment_create(p->dir, start, &s) != CM_OK)
        return CM_EIO;
    cm_log_warn("emptying the log to start where the leader's starts",
                "partition=%s leo=%" PRId64 " start=%" PRId64, p->label, p->leo, start);
    /* The new segment first, so that a crash in between leaves a log that starts there. */
    if (bk_partition_write_rp(p, start) != CM_OK)
        cm_log_warn("cannot write recovery point", "partition=%s", p->label);
    while (p->n_segs > 0) {
        bk_segment_t *gone = p->segs[--p->n_segs];
        if (gone->base_offset == start)
            continue; /* the same file as the new one: created again just now */
        bk_segment_uncache(gone);
        bk_segment_delete(gone);
        bk_segment_unref(gone);
    }
    bk_partition__push_seg(p, s);
    p->gen++;
    p->log_bytes = 0;
    p->leo = p->durable = start;
    bk_segment_unref(p->hw_seg);
    p->hw_seg = bk_segment_ref(s);
    p->hw = start;
    p->hw_pos = 0;
    bk_epochs_truncate(&p->epochs, 0);
    bk_partition__save_epochs(p);
    bk_partition__complete_acks(p, CM_KERR_NOT_LEADER_OR_FOLLOWER);
    bk_partition__wake(p);
    return CM_OK;
}
