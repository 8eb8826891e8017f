/*
 * A partition's log: an ordered list of segments (the last one active), the offsets that
 * matter (log start, high watermark, log end), and the requests waiting on them.
 *
 *   log_start  first offset still stored (retention moves it)
 *   hw         high watermark: consumers read below it. With flush.ms=0 it is the durable
 *              offset (fsynced), so nobody reads what a crash could take back; with
 *              flush.ms>0 it follows the log end.
 *   leo        log end offset: the next offset to assign.
 *
 * Produce requests with acks != 0 wait in `acks` (FIFO, by offset) until hw reaches their
 * last offset. Long-poll fetches register a watch and are woken when hw moves.
 *
 * Threads: the event loop owns everything except `fl`, which the flusher shares under its
 * mutex. Partitions are refcounted: the topic, the flusher and waiting requests hold refs.
 */
#ifndef BK_PARTITION_H
#define BK_PARTITION_H

#include <stdatomic.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "bk_broker.h"
#include "bk_epochs.h"
#include "bk_segment.h"
#include "cm_tconfig.h"
#include "cm_krecord.h"

typedef struct bk_partition bk_partition_t;

/** A produce waiting for the high watermark to reach `need`. */
typedef struct bk_ack_waiter {
    struct bk_ack_waiter *next;
    int64_t need;
    bool local; /* acks=1: the leader's own durable log (not hw) reaching `need` will do */
    /** Called once on the event loop, with 0 or a Kafka error code. */
    void (*done)(struct bk_ack_waiter *w, int16_t err);
} bk_ack_waiter_t;

/** A long-poll fetch watching a partition for new data. */
typedef struct bk_watch {
    struct bk_watch *prev;
    struct bk_watch *next;
    void (*wake)(struct bk_watch *w);
} bk_watch_t;

/** What a leader knows of one follower of a partition (bk_fetch.c keeps it up to date). */
typedef struct bk_follower {
    int32_t id;
    int64_t leo;                 /* its log end, durable there, at its last fetch; -1: none */
    int64_t epoch;               /* the broker epoch its last fetch carried */
    int64_t fetch_ms;            /* monotonic ms of its last fetch; 0: none */
    int64_t caught_up_ms;        /* monotonic ms when it last had all the leader had */
    int64_t leader_leo_at_fetch; /* the leader's log end at its last fetch */
} bk_follower_t;

struct bk_partition {
    atomic_int refs;
    bk_broker_t *broker;
    const cm_tconfig_t *cfg; /* the topic's config, NULL once the topic is deleted */
    int32_t id;
    char *dir;
    dev_t dir_dev; /* the directory itself (bk_partition_dir_open): not another one made */
    ino_t dir_ino; /* under its name after the topic was renamed away */
    char *label;   /* "topic/partition" for logs */

    bk_segment_t **segs; /* by base offset; segs[n_segs - 1] is active */
    size_t n_segs;
    size_t cap_segs;
    int64_t log_bytes;

    int64_t leo;
    int64_t hw;
    bk_segment_t *hw_seg; /* ref: the segment holding hw's position */
    int64_t hw_pos;
    int64_t durable;    /* fsynced through this offset */
    int64_t hw_cap;     /* hw goes no further: a follower's leader's hw (INT64_MAX: none) */
    int64_t flushed_ms; /* monotonic time of the last flush request (flush.ms > 0) */
    bool dirty;         /* appended since the last flush request */

    /* Leader epochs: the newest this replica knows (a leader stamps its appends with it),
     * and which epoch wrote which offsets, kept in leader-epoch-checkpoint. */
    int32_t leader_epoch;
    bk_epochs_t epochs;
    uint32_t gen;     /* truncations so far: a sync taken before the last one is stale */
    atomic_int seals; /* seal jobs of the flusher not finished yet */

    bk_ack_waiter_t *acks_head; /* acks=all, waiting for hw */
    bk_ack_waiter_t *acks_tail;
    bk_ack_waiter_t *lacks_head; /* acks=1, waiting for the leader's durable log end */
    bk_ack_waiter_t *lacks_tail;

    /* Leading, in a managed pool (bk_isr.h): the leader epoch the followers' state belongs
     * to (-1: not leading), the in-sync replicas as committed in the control plane (this
     * broker among them), and a change proposed there and not answered yet. */
    int32_t led_epoch;
    cm_kuuid_t topic_id;
    int32_t isr[16];
    int32_t n_isr;
    int32_t isr_version;
    int32_t isr_want[16];
    int32_t n_isr_want;
    uint64_t isr_ticket;      /* the snapshot that answers the proposal; 0: none */
    bk_watch_t watches;       /* sentinel of a circular list */
    bk_watch_t rwatches;      /* followers' long polls, woken by appends (not by hw) */
    bk_follower_t *followers; /* led here: the other replicas */
    int32_t n_followers;

    /* Shared with the flusher under its mutex: the newest sync wanted. */
    struct {
        bk_segment_t *seg;
        int64_t offset;
        int64_t pos;
        uint32_t gen;
        bool queued;
    } fl;
    bool deleted;
    /* Recovery found a damaged segment with acknowledged data after it: everything is kept
     * as found, and produce, fetch and offsets answer KAFKA_STORAGE_ERROR until an operator
     * repairs it. NULL while the partition is online. */
    const char *offline;
    char offline_why[256];
    /* What the last usage report to the control plane said (bk_cplane_report): -1 never. */
    int64_t reported_bytes;
    bool reported_offline;
};

/** What a read found: a file range to send, or nothing (len 0), and the offsets. */
typedef struct bk_read {
    int16_t err;
    int64_t hw;
    int64_t leo;
    int64_t log_start;
    bk_segment_t *seg; /* a ref when len > 0; release with bk_segment_unref */
    int64_t pos;
    int64_t len;
} bk_read_t;

/** Creates an empty partition (directory and first segment) under `dir`. */
int bk_partition_create(bk_broker_t *b, const cm_tconfig_t *cfg, int32_t id, const char *dir,
                        const char *label, bk_partition_t **out);

/**
 * Opens an existing partition: trusts segments below its recovery point, recovers the rest
 * (CRC check, index rebuild, tail truncation), and makes the log end durable.
 */
int bk_partition_open(bk_broker_t *b, const cm_tconfig_t *cfg, int32_t id, const char *dir,
                      const char *label, bk_partition_t **out);

/**
 * Appends one validated batch: assigns its offsets (rewriting its header in place), rolls
 * the segment when due, writes it, and schedules the fsync. Returns 0 with the batch's
 * base offset, or a Kafka error (KAFKA_STORAGE_ERROR).
 */
int16_t bk_partition_append(bk_partition_t *p, uint8_t *batch, size_t len, cm_batch_hdr_t *h,
                            int64_t *base_offset);

/**
 * A follower's append: a batch of its leader's, offsets and leader epoch as they are, at
 * the log end. CORRUPT_MESSAGE when it is not the next batch of this log.
 */
int16_t bk_partition_append_replica(bk_partition_t *p, uint8_t *batch, size_t len,
                                    cm_batch_hdr_t *h);

/** Caps the high watermark at `cap` (a follower: its leader's) and moves it up to that. */
void bk_partition_set_hw_cap(bk_partition_t *p, int64_t cap);

/** Takes a queued waiter out without calling it; false when it is not queued here. */
bool bk_partition_cancel_ack(bk_partition_t *p, bk_ack_waiter_t *w);

/** Queues `w` until hw >= w->need, or for a `local` waiter until the durable log end is (or
 * calls it at once if already so). */
void bk_partition_wait_ack(bk_partition_t *p, bk_ack_waiter_t *w);

/** Plans a read of up to `max_bytes` from `offset` below hw (KIP-74: `min_one` batch). */
void bk_partition_read(bk_partition_t *p, int64_t offset, int64_t max_bytes, bool min_one,
                       bk_read_t *out);

/**
 * A follower's read: as bk_partition_read, but up to the log end rather than the high
 * watermark (a follower copies what the leader has, acknowledged or not).
 */
void bk_partition_read_replica(bk_partition_t *p, int64_t offset, int64_t max_bytes, bool min_one,
                               bk_read_t *out);

/**
 * The replicas other than this one, as the snapshot places them. The state of known ids is
 * kept, unless `fresh` (a new leadership): then nothing is known of where they are, and
 * each counts as caught up at `now_ms` (it has replica_lag_time_max_ms to show it is).
 */
void bk_partition_set_followers(bk_partition_t *p, const int32_t *ids, int32_t n, bool fresh,
                                int64_t now_ms);

/** The follower `id`, or NULL when it is not a replica of this partition. */
bk_follower_t *bk_partition_follower(bk_partition_t *p, int32_t id);

/**
 * A follower fetched from `offset` (its durable log end) with broker epoch `epoch`: records
 * where it is and when it last had everything (Kafka's lastCaughtUpTimeMs rule).
 */
void bk_partition_follower_fetched(bk_partition_t *p, bk_follower_t *f, int64_t offset,
                                   int64_t epoch, int64_t now_ms);

/** ListOffsets by timestamp: first offset with timestamp >= ts, or -1 (offset and ts). */
int16_t bk_partition_offset_for_time(bk_partition_t *p, int64_t ts, int64_t *offset,
                                     int64_t *found_ts);

/** Registers and unregisters a long-poll watch: woken when hw moves, or, for a follower's
 * (`replica`), when the log end does. */
void bk_partition_watch(bk_partition_t *p, bk_watch_t *w, bool replica);
void bk_partition_unwatch(bk_watch_t *w);

/**
 * Opens the partition's directory for an fsync or an atomic write; -1 with errno ENOENT
 * once it is not the directory the partition was opened in (the topic was deleted, and
 * maybe created again under its name). Any thread; the caller closes it.
 */
int bk_partition_dir_open(const bk_partition_t *p);

/** Sets up the broker's cache of segment log descriptors (bk_fdcache_t), bounded by `max`. */
void bk_partition_fdcache_init(bk_fdcache_t *c, int64_t max);

/**
 * Flusher completion: data through `offset` (at `pos` of `seg`) is durable, unless the log
 * was truncated since the sync was asked for (`gen` is not p->gen): then it says nothing.
 */
void bk_partition_synced(bk_partition_t *p, bk_segment_t *seg, int64_t offset, int64_t pos,
                         uint32_t gen);

/**
 * The snapshot's leader epoch for this partition. A newer epoch with `leading` starts a
 * new entry of the epoch history at the log end (a new leader's first offset).
 */
void bk_partition_set_leader_epoch(bk_partition_t *p, int32_t epoch, bool leading);

/**
 * Checks a client's current_leader_epoch against this replica's (-1: no check):
 * FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when newer, else 0.
 */
int16_t bk_partition_check_epoch(const bk_partition_t *p, int32_t current);

/** The end offset of `epoch` in this log (bk_epochs_end_offset), at most `limit`. */
void bk_partition_epoch_end(const bk_partition_t *p, int32_t epoch, int64_t limit,
                            int32_t *out_epoch, int64_t *out_end);

/**
 * Cuts the log at `offset` (a follower's tail that diverged from its leader): segments past
 * it go, the one holding it is cut and becomes active, the high watermark and the epoch
 * history follow, waiting produces past it fail. Only with no flusher job in flight for
 * the partition (its log end durable and no seal pending): CM_AGAIN otherwise, to retry
 * once it is. Below the log start, or at or past the log end, it does nothing.
 */
int bk_partition_truncate(bk_partition_t *p, int64_t offset);

/**
 * Empties the log and starts it again at `start` (a follower whose leader deleted what it
 * had yet to copy). As bk_partition_truncate for when it may run.
 */
int bk_partition_truncate_fully(bk_partition_t *p, int64_t start);

/** Periodic work: interval flushes (flush.ms > 0). */
void bk_partition_tick(bk_partition_t *p, int64_t now_mono_ms);

/** Applies retention.ms and retention.bytes; returns segments deleted. */
int bk_partition_retain(bk_partition_t *p, int64_t now_ms);

/** Seals the active segment and starts a new one at the log end (nothing if it is empty). */
int bk_partition_roll(bk_partition_t *p);

/**
 * Deletes the oldest segments while they end at or before `offset` (and below hw), never
 * the active one: the log start moves to the first segment kept. Returns how many.
 */
int bk_partition_drop_before(bk_partition_t *p, int64_t offset);

/** Log start offset. */
static inline int64_t bk_partition_log_start(const bk_partition_t *p)
{
    return p->segs[0]->base_offset;
}

/** Records that everything below `offset` is durable (flusher, after sealing a segment). */
int bk_partition_write_rp(const bk_partition_t *p, int64_t offset);

/** Detaches a partition from its deleted topic: waiters fail, no more appends. */
void bk_partition_close(bk_partition_t *p);

bk_partition_t *bk_partition_ref(bk_partition_t *p);
void bk_partition_unref(bk_partition_t *p);

#endif
