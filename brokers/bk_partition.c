#include "bk_partition.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_flusher.h"
#include "bk_partition_internal.h"
#include "cm_assert.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kproto.h"
#include "cm_log.h"
#include "cm_time.h"

static bk_partition_t *bk_partition__new(bk_broker_t *b, const cm_tconfig_t *cfg, int32_t id,
                                         const char *dir, const char *label)
{
    bk_partition_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    atomic_init(&p->refs, 1);
    p->broker = b;
    p->cfg = cfg;
    p->id = id;
    p->dir = strdup(dir);
    struct stat st;
    if (stat(dir, &st) == 0) {
        p->dir_dev = st.st_dev;
        p->dir_ino = st.st_ino;
    } else {
        p->dir_ino = 0; /* bk_partition__new's callers refuse it */
    }
    p->label = strdup(label);
    p->watches.prev = p->watches.next = &p->watches;
    p->rwatches.prev = p->rwatches.next = &p->rwatches;
    p->hw_cap = INT64_MAX;
    p->led_epoch = -1;
    bk_epochs_init(&p->epochs);
    atomic_init(&p->seals, 0);
    p->flushed_ms = cm_mono_ms();
    p->reported_bytes = -1;
    return p;
}

/*
 * Whether a segment's log descriptor may close (bk_fdcache_t): nobody but the partition
 * holds the segment, so no flusher job (queued ones hold it: p->fl.seg, seals) and no
 * response sending from it uses the descriptor. Unsynced data is no reason to keep it: an
 * fsync through any later descriptor of the file makes it durable.
 */
static bool bk_partition__may_close(void *owner, const bk_segment_t *s)
{
    const bk_partition_t *p = owner;
    return atomic_load(&s->refs) == 1 + (p->hw_seg == s);
}

void bk_partition_fdcache_init(bk_fdcache_t *c, int64_t max)
{
    *c = (bk_fdcache_t){ .max = max, .may_close = bk_partition__may_close };
}

int bk_partition_dir_open(const bk_partition_t *p)
{
    int fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != p->dir_dev || st.st_ino != p->dir_ino)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}

void bk_partition__push_seg(bk_partition_t *p, bk_segment_t *s)
{
    if (p->n_segs == p->cap_segs) {
        p->cap_segs = p->cap_segs ? p->cap_segs * 2 : 8;
        p->segs = realloc(p->segs, p->cap_segs * sizeof(*p->segs));
        if (p->segs == NULL)
            abort();
    }
    p->segs[p->n_segs++] = s;
    bk_segment_cache(s, &p->broker->fdcache, p);
}

bk_segment_t *bk_partition__active(const bk_partition_t *p)
{
    return p->segs[p->n_segs - 1];
}

void bk_partition__set_hw(bk_partition_t *p, bk_segment_t *seg, int64_t offset, int64_t pos)
{
    if (offset < p->hw)
        return; /* it never moves back */
    /* Consumers read below it: past the log end, or outside its segment, they would read
     * what is not there. */
    cm_assert(offset <= p->leo);
    cm_assert(pos >= 0 && pos <= seg->size);
    if (p->hw_seg != seg) {
        bk_segment_unref(p->hw_seg);
        p->hw_seg = bk_segment_ref(seg);
    }
    p->hw = offset;
    p->hw_pos = pos;
}

int bk_partition_create(bk_broker_t *b, const cm_tconfig_t *cfg, int32_t id, const char *dir,
                        const char *label, bk_partition_t **out)
{
    if (cm_fs_mkdirs(dir) != CM_OK) {
        cm_log_error("cannot create partition directory", "dir=%s errno=%s", dir, strerror(errno));
        return CM_EIO;
    }
    bk_segment_t *s;
    if (bk_segment_create(dir, 0, &s) != CM_OK)
        return CM_EIO;
    bk_partition_t *p = bk_partition__new(b, cfg, id, dir, label);
    bk_partition__push_seg(p, s);
    if (p->dir_ino == 0) {
        bk_partition_unref(p);
        return CM_EIO;
    }
    bk_partition__set_hw(p, s, 0, 0);
    *out = p;
    return CM_OK;
}

/* ---- opening and recovery ---- */

static int bk_partition__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the base offsets of the segments in `dir`, sorted. */
static int bk_partition__list(const char *dir, int64_t **bases, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return CM_EIO;
    size_t cap = 16;
    *bases = malloc(cap * sizeof(**bases));
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t base = bk_segment_parse_name(e->d_name);
        if (base < 0)
            continue;
        if (*n == cap) {
            cap *= 2;
            *bases = realloc(*bases, cap * sizeof(**bases));
        }
        if (*bases == NULL)
            abort();
        (*bases)[(*n)++] = base;
    }
    closedir(d);
    qsort(*bases, *n, sizeof(**bases), bk_partition__cmp_i64);
    return CM_OK;
}

static int64_t bk_partition__read_rp(const char *dir)
{
    char path[4096], *text;
    size_t len;
    snprintf(path, sizeof(path), "%s/recovery-point", dir);
    if (cm_fs_read_file(path, 64, &text, &len) != CM_OK)
        return 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    int ok = end != text && (*end == '\n' || *end == '\0') && v >= 0;
    free(text);
    return ok ? v : 0;
}

int bk_partition_write_rp(const bk_partition_t *p, int64_t offset)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%" PRId64 "\n", offset);
    int dfd = bk_partition_dir_open(p);
    if (dfd < 0)
        return CM_EIO;
    int rc = cm_fs_write_atomic_at(dfd, "recovery-point", text, (size_t)n);
    close(dfd);
    return rc;
}

static const char *bk_partition__reason(int reason)
{
    return reason == BK_SCAN_EOFFSET ? "offsets are not contiguous" : cm_batch_strerror(reason);
}

/*
 * Recovers a segment; returns CM_OK and whether it was cut short. Only the last segment is
 * repaired (its torn tail truncated); any other is left as found, and a cut there makes the
 * partition offline (bk_partition__offline).
 */
static int bk_partition__recover_seg(bk_partition_t *p, bk_segment_t *s, bool repair, bool *cut,
                                     bk_scan_result_t *res_out)
{
    bk_scan_result_t res;
    int64_t interval = p->broker->cfg.index_interval_bytes;
    if (bk_segment_recover(s, interval, &res, repair) != CM_OK) {
        cm_log_error("cannot read segment during recovery", "partition=%s segment=%s", p->label,
                     s->path);
        return CM_EIO;
    }
    *res_out = res;
    *cut = res.truncated_bytes > 0;
    if (*cut && repair) {
        cm_log_warn("recovery truncated a corrupt or torn segment tail",
                    "partition=%s segment=%s at=%" PRId64 " bytes=%" PRId64 " reason=\"%s\"",
                    p->label, s->path, res.at, res.truncated_bytes,
                    bk_partition__reason(res.reason));
        bk_metrics_add(&p->broker->metrics.recovery_truncated_bytes,
                       (unsigned long long)res.truncated_bytes);
    }
    return CM_OK;
}

/*
 * A sealed segment is damaged (a bad batch, or offsets that do not reach the next segment)
 * and acknowledged data follows it. Cutting the log there would throw that data away, so
 * nothing is changed: the partition is kept offline, and the operator is told what and
 * where.
 */
static void bk_partition__offline(bk_partition_t *p, const bk_segment_t *s,
                                  const bk_scan_result_t *res, int64_t expect_next,
                                  const int64_t *later, size_t n_later)
{
    int64_t later_bytes = 0;
    for (size_t k = 0; k < n_later; k++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", p->dir, later[k]);
        if (stat(path, &st) == 0)
            later_bytes += st.st_size;
    }
    if (res->truncated_bytes > 0)
        snprintf(p->offline_why, sizeof(p->offline_why),
                 "segment %" PRId64 " is damaged at byte %" PRId64 " (%s)", s->base_offset, res->at,
                 bk_partition__reason(res->reason));
    else
        snprintf(p->offline_why, sizeof(p->offline_why),
                 "segment %" PRId64 " ends at offset %" PRId64 " but the next starts at %" PRId64,
                 s->base_offset, s->next_offset, expect_next);
    p->offline = p->offline_why;
    bk_metrics_add(&p->broker->metrics.partitions_offline, 1);
    cm_log_error("partition offline: a damaged segment has acknowledged data after it",
                 "partition=%s why=\"%s\" later_segments=%zu later_bytes=%" PRId64
                 " hint=\"nothing was deleted or truncated; restore the damaged segment from a "
                 "copy (or move it and every later segment aside to drop them) and restart\"",
                 p->label, p->offline_why, n_later, later_bytes);
}

int bk_partition_open(bk_broker_t *b, const cm_tconfig_t *cfg, int32_t id, const char *dir,
                      const char *label, bk_partition_t **out)
{
    int64_t *bases = NULL;
    size_t n = 0;
    if (bk_partition__list(dir, &bases, &n) != CM_OK || n == 0) {
        free(bases);
        if (n == 0 && cm_fs_mkdirs(dir) == CM_OK) {
            cm_log_warn("partition had no segments; starting it empty", "partition=%s", label);
            return bk_partition_create(b, cfg, id, dir, label, out);
        }
        return CM_EIO;
    }
    int64_t rp = bk_partition__read_rp(dir);
    bk_partition_t *p = bk_partition__new(b, cfg, id, dir, label);
    int rc = p->dir_ino != 0 ? CM_OK : CM_EIO;
    for (size_t i = 0; rc == CM_OK && i < n; i++) {
        bk_segment_t *s;
        if (bk_segment_open(dir, bases[i], &s) != CM_OK) {
            rc = CM_EIO;
            break;
        }
        bk_partition__push_seg(p, s);
        bool last = i + 1 == n, cut = false;
        int64_t expect_next = last ? -1 : bases[i + 1];
        /* Segments wholly below the recovery point were fsynced with their indexes. */
        if (!last && expect_next <= rp &&
            bk_segment_load(s, expect_next, b->cfg.index_interval_bytes) == CM_OK)
            continue;
        bk_scan_result_t res;
        if ((rc = bk_partition__recover_seg(p, s, last && p->offline == NULL, &cut, &res)) != CM_OK)
            break;
        if (!last && p->offline == NULL && (cut || s->next_offset != expect_next))
            bk_partition__offline(p, s, &res, expect_next, bases + i + 1, n - i - 1);
        if (!last && p->offline == NULL) {
            /* What the scan found may exist only in the page cache (a kill -9): make it
             * durable before the recovery point moves past it. */
            bk_segment_seal(s);
            if (bk_segment_reset_indexes(s) != CM_OK || bk_segment_write_indexes(s) != CM_OK ||
                fdatasync(bk_segment_fd(s)) != 0) {
                rc = CM_EIO;
                break;
            }
        } else if (!last) {
            bk_segment_seal(s);
        }
    }
    free(bases);
    if (rc != CM_OK) {
        bk_partition_unref(p);
        return rc;
    }
    bk_segment_t *active = bk_partition__active(p);
    active->sealed = false;
    if (!active->index_due && bk_segment_reset_indexes(active) != CM_OK) {
        bk_partition_unref(p);
        return CM_EIO;
    }
    /* What survived recovery is the log; make it durable before anyone reads it. At a
     * broker's start with the recovery point staying where it is, one syncfs after every
     * topic is open does it for all (bk_topics_load): two syncs a partition cost minutes
     * for 100,000 partitions. */
    bool deferred = b->loading && rp == active->base_offset;
    b->load_unsynced |= deferred;
    if (p->offline == NULL && !deferred &&
        (fdatasync(bk_segment_fd(active)) != 0 || cm_fs_sync_dir(dir) != CM_OK)) {
        bk_partition_unref(p);
        return CM_EIO;
    }
    for (size_t k = 0; k < p->n_segs; k++)
        p->log_bytes += p->segs[k]->size;
    p->leo = active->next_offset;
    p->durable = p->leo;
    bk_partition__set_hw(p, active, p->leo, active->size);
    if (p->offline == NULL && bk_partition__load_epochs(p) != CM_OK) {
        bk_partition_unref(p);
        return CM_EIO;
    }
    /* The recovery point moves to the active segment; unchanged (a partition idle since its
     * last open, most of them on a broker of many small tenants), it costs no write. */
    if (p->offline == NULL && rp != active->base_offset &&
        bk_partition_write_rp(p, active->base_offset) != CM_OK) {
        bk_partition_unref(p);
        return CM_EIO;
    }
    *out = p;
    return CM_OK;
}

/* ---- appending ---- */

static bool bk_partition__roll_due(const bk_partition_t *p, const bk_segment_t *s, size_t len,
                                   const cm_batch_hdr_t *h, int64_t now_ms)
{
    if (s->size == 0)
        return false;
    return s->size + (int64_t)len > p->cfg->segment_bytes ||
           (s->first_append_ms >= 0 && now_ms - s->first_append_ms >= p->cfg->segment_ms &&
            (p->broker->cfg.segments_per_partition_max <= 0 ||
             (int64_t)p->n_segs < p->broker->cfg.segments_per_partition_max)) ||
           p->leo + h->last_offset_delta - s->base_offset >= INT32_MAX ||
           s->size + (int64_t)len > UINT32_MAX;
}

/* Seals the active segment and starts a new one at the log end. */
static int bk_partition__roll(bk_partition_t *p)
{
    bk_segment_t *old = bk_partition__active(p), *s;
    if (bk_segment_create(p->dir, p->leo, &s) != CM_OK)
        return CM_EIO;
    bk_segment_seal(old);
    bk_partition__push_seg(p, s);
    bk_flusher_seal(p->broker->flusher, p, old);
    bk_metrics_add(&p->broker->metrics.segments_rolled, 1);
    cm_log_debug("segment rolled", "partition=%s base=%" PRId64, p->label, p->leo);
    return CM_OK;
}

/* Wakes every long-poll watch (they re-check and may re-register). */
int bk_partition_roll(bk_partition_t *p)
{
    if (p->deleted || bk_partition__active(p)->size == 0)
        return CM_OK;
    return bk_partition__roll(p);
}

static void bk_partition__wake_list(bk_watch_t *head)
{
    bk_watch_t *w = head->next;
    while (w != head) {
        bk_watch_t *next = w->next;
        w->wake(w);
        w = next;
    }
}

void bk_partition__wake(bk_partition_t *p)
{
    bk_partition__wake_list(&p->watches);
    bk_partition__wake_list(&p->rwatches);
}

/* Completes produce waiters whose offsets are now below the high watermark. */
/* Completes the waiters of one queue that `upto` covers (all of them with an error). */
static void bk_partition__complete_queue(bk_ack_waiter_t **head, bk_ack_waiter_t **tail,
                                         int64_t upto, int16_t err)
{
    while (*head != NULL && (err != 0 || (*head)->need <= upto)) {
        bk_ack_waiter_t *w = *head;
        *head = w->next;
        if (*head == NULL)
            *tail = NULL;
        w->done(w, err);
    }
}

/* The leader's own durable log end (in interval mode, what is written). */
static int64_t bk_partition__local_end(const bk_partition_t *p)
{
    return p->cfg != NULL && p->cfg->flush_ms > 0 ? p->leo : p->durable;
}

/* Completes produce waiters: acks=all below hw, acks=1 below the local durable end. */
void bk_partition__complete_acks(bk_partition_t *p, int16_t err)
{
    bk_partition__complete_queue(&p->acks_head, &p->acks_tail, p->hw, err);
    bk_partition__complete_queue(&p->lacks_head, &p->lacks_tail, bk_partition__local_end(p), err);
}

/* The segment holding `offset`: the last one whose base is <= offset. */
size_t bk_partition__find_seg(const bk_partition_t *p, int64_t offset)
{
    size_t lo = 0, hi = p->n_segs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

/* The high watermark's position: where the batch holding `*offset` starts (offsets a
 * leader or follower sets it to are batch boundaries; anything else rounds down). */
static bk_segment_t *bk_partition__position(bk_partition_t *p, int64_t *offset, int64_t *pos)
{
    bk_segment_t *s = p->segs[bk_partition__find_seg(p, *offset)];
    cm_batch_hdr_t h;
    *pos = s->size;
    if (*offset < s->next_offset && bk_segment_locate(s, *offset, s->size, pos, &h) == 1 &&
        h.base_offset < *offset)
        *offset = h.base_offset;
    return s;
}

/* Moves hw to what is durable (in interval mode: written), at most hw_cap. */
static void bk_partition__advance_hw(bk_partition_t *p)
{
    int64_t target = p->cfg != NULL && p->cfg->flush_ms > 0 ? p->leo : p->durable;
    if (target > p->hw_cap)
        target = p->hw_cap;
    if (target <= p->hw || p->deleted)
        return;
    int64_t pos;
    bk_segment_t *s = bk_partition__position(p, &target, &pos);
    if (target <= p->hw)
        return;
    bk_partition__set_hw(p, s, target, pos);
    bk_partition__complete_acks(p, 0);
    bk_partition__wake(p);
}

void bk_partition_set_hw_cap(bk_partition_t *p, int64_t cap)
{
    p->hw_cap = cap;
    bk_partition__advance_hw(p);
}

/* Writes one batch whose offsets and epoch are set, at the log end. */
static int16_t bk_partition__write(bk_partition_t *p, uint8_t *batch, size_t len, cm_batch_hdr_t *h,
                                   int64_t now_ms)
{
    bk_segment_t *s = bk_partition__active(p);
    if (bk_epochs_assign(&p->epochs, h->leader_epoch, h->base_offset))
        bk_partition__save_epochs(p);
    /* Preallocating past segment.bytes is wasted: the segment rolls there. */
    int64_t prealloc = p->broker->cfg.segment_preallocate_bytes;
    int64_t room = p->cfg->segment_bytes - (s->size + (int64_t)len);
    if (prealloc > room)
        prealloc = room > 0 ? room : 0;
    if (bk_segment_append(s, batch, len, h, p->broker->cfg.index_interval_bytes, prealloc,
                          now_ms) != CM_OK)
        return CM_KERR_KAFKA_STORAGE_ERROR;
    p->leo = cm_batch_last_offset(h) + 1;
    p->log_bytes += (int64_t)len;
    /* The partition's log end is its active segment's, offsets without a gap. */
    cm_assert(p->leo == s->next_offset && p->leo > h->base_offset);
    bk_partition__wake_list(&p->rwatches); /* followers copy it while it is being synced */

    if (p->cfg->flush_ms == 0) {
        bk_flusher_sync(p->broker->flusher, p, s, p->leo, s->size);
    } else {
        /* Interval mode: visible and acknowledged now, fsynced by the next tick. */
        p->dirty = true;
        bk_partition__advance_hw(p);
        if (p->lacks_head != NULL)
            bk_partition__complete_queue(&p->lacks_head, &p->lacks_tail, p->leo, 0);
    }
    return 0;
}

/* Refuses an append to a partition that cannot take one; rolls the segment when due. */
static int16_t bk_partition__prepare(bk_partition_t *p, size_t len, const cm_batch_hdr_t *h,
                                     int64_t now_ms)
{
    if (p->deleted || p->cfg == NULL)
        return CM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (p->offline != NULL || p->broker->disk_full)
        return CM_KERR_KAFKA_STORAGE_ERROR;
    if (bk_partition__roll_due(p, bk_partition__active(p), len, h, now_ms) &&
        bk_partition__roll(p) != CM_OK)
        return CM_KERR_KAFKA_STORAGE_ERROR;
    return 0;
}

int16_t bk_partition_append(bk_partition_t *p, uint8_t *batch, size_t len, cm_batch_hdr_t *h,
                            int64_t *base_offset)
{
    int64_t now_ms = cm_now_ms();
    int16_t err = bk_partition__prepare(p, len, h, now_ms);
    if (err != 0)
        return err;
    cm_batch_assign(batch, p->leo, p->leader_epoch);
    h->base_offset = p->leo;
    h->leader_epoch = p->leader_epoch;
    *base_offset = p->leo;
    return bk_partition__write(p, batch, len, h, now_ms);
}

int16_t bk_partition_append_replica(bk_partition_t *p, uint8_t *batch, size_t len,
                                    cm_batch_hdr_t *h)
{
    if (h->base_offset != p->leo || h->leader_epoch < bk_epochs_latest(&p->epochs))
        return CM_KERR_CORRUPT_MESSAGE; /* not the next batch of this log */
    int64_t now_ms = cm_now_ms();
    int16_t err = bk_partition__prepare(p, len, h, now_ms);
    return err != 0 ? err : bk_partition__write(p, batch, len, h, now_ms);
}

bool bk_partition_cancel_ack(bk_partition_t *p, bk_ack_waiter_t *w)
{
    bk_ack_waiter_t **head = w->local ? &p->lacks_head : &p->acks_head;
    bk_ack_waiter_t **tail = w->local ? &p->lacks_tail : &p->acks_tail;
    bk_ack_waiter_t *prev = NULL;
    for (bk_ack_waiter_t *x = *head; x != NULL; prev = x, x = x->next) {
        if (x != w)
            continue;
        if (prev != NULL)
            prev->next = x->next;
        else
            *head = x->next;
        if (*tail == x)
            *tail = prev;
        x->next = NULL;
        return true;
    }
    return false;
}

void bk_partition_wait_ack(bk_partition_t *p, bk_ack_waiter_t *w)
{
    w->next = NULL;
    if (w->need <= (w->local ? bk_partition__local_end(p) : p->hw)) {
        w->done(w, 0);
        return;
    }
    bk_ack_waiter_t **head = w->local ? &p->lacks_head : &p->acks_head;
    bk_ack_waiter_t **tail = w->local ? &p->lacks_tail : &p->acks_tail;
    if (*tail)
        (*tail)->next = w;
    else
        *head = w;
    *tail = w;
}

void bk_partition_synced(bk_partition_t *p, bk_segment_t *seg, int64_t offset, int64_t pos,
                         uint32_t gen)
{
    if (gen != p->gen)
        return; /* asked for before a truncation: the bytes it synced may be gone */
    cm_assert(offset <= p->leo); /* nothing past the log end was ever written */
    if (offset > p->durable)
        p->durable = offset;
    if (p->deleted)
        return;
    if (p->lacks_head != NULL)
        bk_partition__complete_queue(&p->lacks_head, &p->lacks_tail, p->durable, 0);
    /* In either mode a durable offset is visible (a topic may have switched modes while
     * this sync was in flight), up to hw_cap. */
    if (offset > p->hw && offset <= p->hw_cap) {
        bk_partition__set_hw(p, seg, offset, pos);
        bk_partition__complete_acks(p, 0);
        bk_partition__wake(p);
    } else if (offset > p->hw) {
        bk_partition__advance_hw(p);
    }
}

void bk_partition_tick(bk_partition_t *p, int64_t now_mono_ms)
{
    if (p->deleted || p->cfg == NULL)
        return;
    /* A topic switched back to fsync-per-ack still owes its pending waiters a flush. */
    if (p->cfg->flush_ms == 0 && p->dirty) {
        p->dirty = false;
        bk_segment_t *s = bk_partition__active(p);
        bk_flusher_sync(p->broker->flusher, p, s, p->leo, s->size);
        return;
    }
    if (p->cfg->flush_ms > 0 && p->dirty && now_mono_ms - p->flushed_ms >= p->cfg->flush_ms) {
        bk_segment_t *s = bk_partition__active(p);
        p->dirty = false;
        p->flushed_ms = now_mono_ms;
        bk_flusher_sync(p->broker->flusher, p, s, p->leo, s->size);
    }
}

/* ---- reading ---- */

/* The file position below which `s` is visible to consumers (to followers: all of it). */
static int64_t bk_partition__visible_end(const bk_partition_t *p, const bk_segment_t *s,
                                         bool to_leo)
{
    if (to_leo)
        return s->size;
    if (p->hw_seg == NULL || s->base_offset > p->hw_seg->base_offset)
        return 0;
    if (s == p->hw_seg)
        return p->hw_pos;
    return s->size;
}

static void bk_partition__read(bk_partition_t *p, int64_t offset, int64_t max_bytes, bool min_one,
                               bool to_leo, bk_read_t *out)
{
    memset(out, 0, sizeof(*out));
    out->hw = p->hw;
    out->leo = p->leo;
    out->log_start = bk_partition_log_start(p);
    if (p->offline != NULL) {
        out->err = CM_KERR_KAFKA_STORAGE_ERROR;
        return;
    }
    if (offset < out->log_start || offset > p->leo) {
        out->err = CM_KERR_OFFSET_OUT_OF_RANGE;
        return;
    }
    if (offset >= (to_leo ? p->leo : p->hw))
        return;
    for (size_t i = bk_partition__find_seg(p, offset); i < p->n_segs; i++) {
        bk_segment_t *s = p->segs[i];
        int64_t limit = bk_partition__visible_end(p, s, to_leo);
        int64_t pos;
        cm_batch_hdr_t h;
        int r = bk_segment_locate(s, offset, limit, &pos, &h);
        if (r < 0) {
            cm_log_error("cannot read segment", "partition=%s segment=%s err=%s", p->label, s->path,
                         cm_err_name(r));
            out->err = CM_KERR_KAFKA_STORAGE_ERROR;
            return;
        }
        if (r == 0)
            continue;
        int64_t len = limit - pos;
        if (len > max_bytes) {
            /* Whole batches only: a partial tail would be read, thrown away by the client
             * and sent again by the next fetch. */
            int64_t end = bk_segment_batch_end(s, pos, pos + max_bytes);
            if (end < 0) {
                out->err = CM_KERR_KAFKA_STORAGE_ERROR;
                return;
            }
            len = end - pos;
        }
        /* KIP-74: the first batch goes out whole even past the limits, so progress is
         * always possible. */
        if (min_one && len < cm_batch_size(&h))
            len = cm_batch_size(&h) < limit - pos ? cm_batch_size(&h) : limit - pos;
        if (len <= 0)
            return;
        /* Whole batches of this segment only, below the high watermark's position. */
        cm_assert(pos >= 0 && len > 0 && pos + len <= s->size);
        out->seg = bk_segment_ref(s);
        out->pos = pos;
        out->len = len;
        return;
    }
}

void bk_partition_read(bk_partition_t *p, int64_t offset, int64_t max_bytes, bool min_one,
                       bk_read_t *out)
{
    bk_partition__read(p, offset, max_bytes, min_one, false, out);
}

void bk_partition_read_replica(bk_partition_t *p, int64_t offset, int64_t max_bytes, bool min_one,
                               bk_read_t *out)
{
    bk_partition__read(p, offset, max_bytes, min_one, true, out);
}

int16_t bk_partition_offset_for_time(bk_partition_t *p, int64_t ts, int64_t *offset,
                                     int64_t *found_ts)
{
    *offset = -1;
    *found_ts = -1;
    for (size_t i = 0; i < p->n_segs; i++) {
        bk_segment_t *s = p->segs[i];
        int r =
            bk_segment_find_time(s, ts, bk_partition__visible_end(p, s, false), offset, found_ts);
        if (r < 0)
            return CM_KERR_KAFKA_STORAGE_ERROR;
        if (r == 1)
            return 0;
    }
    return 0;
}

void bk_partition_watch(bk_partition_t *p, bk_watch_t *w, bool replica)
{
    bk_watch_t *head = replica ? &p->rwatches : &p->watches;
    w->next = head;
    w->prev = head->prev;
    head->prev->next = w;
    head->prev = w;
}

void bk_partition_unwatch(bk_watch_t *w)
{
    if (w->next == NULL)
        return;
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

/* ---- retention ---- */

/* Deletes the oldest segment (never the active one: the callers check). */
static void bk_partition__drop_first(bk_partition_t *p, const char *why)
{
    bk_segment_t *s = p->segs[0];
    cm_log_info("segment deleted",
                "partition=%s base=%" PRId64 " next=%" PRId64 " bytes=%" PRId64 " by=%s", p->label,
                s->base_offset, s->next_offset, s->size, why);
    p->log_bytes -= s->size;
    memmove(p->segs, p->segs + 1, (p->n_segs - 1) * sizeof(*p->segs));
    p->n_segs--;
    bk_segment_uncache(s);
    bk_segment_delete(s);
    bk_segment_unref(s);
    bk_metrics_add(&p->broker->metrics.segments_deleted, 1);
}

int bk_partition_retain(bk_partition_t *p, int64_t now_ms)
{
    if (p->deleted || p->cfg == NULL || p->offline != NULL)
        return 0;
    int deleted = 0;
    int64_t rms = p->cfg->retention_ms, rbytes = p->cfg->retention_bytes;
    for (;;) {
        bk_segment_t *s = p->segs[0];
        bool by_time = rms >= 0 && s->size > 0 && s->max_timestamp < now_ms - rms;
        bool by_size = rbytes >= 0 && p->log_bytes - s->size >= rbytes && s->size > 0;
        if (!by_time && !by_size)
            break;
        /* Only what every consumer may already have read (below hw) is deleted. */
        if (s->next_offset > p->hw)
            break;
        if (p->n_segs == 1) {
            /* The active segment expired whole: roll, then delete it like any other. */
            if (!by_time || bk_partition__roll(p) != CM_OK)
                break;
            if (p->hw_seg == s)
                bk_partition__set_hw(p, bk_partition__active(p), p->hw, 0);
        }
        if (p->hw_seg == s)
            break;
        bk_partition__drop_first(p, by_time ? "time" : "size");
        deleted++;
    }
    return deleted;
}

int bk_partition_drop_before(bk_partition_t *p, int64_t offset)
{
    int dropped = 0;
    while (!p->deleted && p->n_segs > 1 && p->segs[0]->next_offset <= offset &&
           p->segs[0]->next_offset <= p->hw) {
        /* hw at the very end of the segment is also the start of the next one. */
        if (p->hw_seg == p->segs[0] && p->hw == p->segs[1]->base_offset)
            bk_partition__set_hw(p, p->segs[1], p->hw, 0);
        if (p->hw_seg == p->segs[0])
            break;
        bk_partition__drop_first(p, "compaction");
        dropped++;
    }
    return dropped;
}

/* ---- lifetime ---- */

void bk_partition_close(bk_partition_t *p)
{
    if (!p->deleted && p->n_segs > 0)
        bk_segment_trim(bk_partition__active(p));
    p->deleted = true;
    p->cfg = NULL;
    bk_partition__complete_acks(p, CM_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    bk_partition__wake(p);
}

bk_partition_t *bk_partition_ref(bk_partition_t *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void bk_partition_unref(bk_partition_t *p)
{
    if (p == NULL || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < p->n_segs; i++) {
        bk_segment_uncache(p->segs[i]);
        bk_segment_unref(p->segs[i]);
    }
    bk_segment_unref(p->hw_seg);
    bk_segment_unref(p->fl.seg);
    bk_epochs_free(&p->epochs);
    free(p->followers);
    free(p->segs);
    free(p->dir);
    free(p->label);
    free(p);
}
