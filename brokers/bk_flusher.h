/*
 * The flusher: one thread that makes appended data durable, with group commit.
 *
 * The event loop appends with write(2) and asks for a sync; at the end of its batch of
 * events it starts a round (bk_flusher_kick). While a round's fdatasync runs, further
 * requests accumulate, and the next round covers all of them with one fdatasync per dirty
 * segment. A round:
 *   1. seals: write the sealed segments' index files, fsync them and the log, then record
 *      the partition's recovery point (everything below it is durable);
 *   2. syncs: fdatasync each dirty active segment (and its directory once, when new);
 *   3. reports each partition's newest durable offset back to the loop (eventfd).
 * Seals run before syncs, so a partition's newer segment is never reported durable
 * before its older one.
 *
 * An fsync failure aborts the process: after one, the page cache can no longer be trusted
 * to hold what was written, and recovery from disk is the only safe state.
 */
#ifndef BK_FLUSHER_H
#define BK_FLUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_broker.h"
#include "bk_partition.h"

/** A completed sync, handed back to the event loop. Holds refs on `p` and `seg`. */
typedef struct bk_flush_done {
    bk_partition_t *p;
    bk_segment_t *seg;
    int64_t offset;
    int64_t pos;
    uint32_t gen; /* the partition's truncations when the sync was asked for */
} bk_flush_done_t;

/** Starts the flusher thread. */
bk_flusher_t *bk_flusher_start(bk_broker_t *b);

/** Finishes every queued job, then stops and frees the flusher. */
void bk_flusher_stop(bk_flusher_t *f);

/**
 * Loop thread: asks that `seg` be durable through file position `pos` (offset `offset`).
 * Nothing happens until bk_flusher_kick(), which the loop calls after each batch of events,
 * so that every request of the batch shares one round.
 */
void bk_flusher_sync(bk_flusher_t *f, bk_partition_t *p, bk_segment_t *seg, int64_t offset,
                     int64_t pos);

/**
 * Loop thread, after a batch of events: starts a round for the queued syncs. When the
 * flusher thread is idle and sync_in_loop is on, the loop runs the round itself (no thread
 * hand-offs: the lowest latency for light loads) and returns true with the completions
 * ready for bk_flusher_take(); otherwise the thread runs it and signals the eventfd.
 */
bool bk_flusher_kick(bk_flusher_t *f);

/** Loop thread: a segment was sealed; persist its indexes and the recovery point. */
void bk_flusher_seal(bk_flusher_t *f, bk_partition_t *p, bk_segment_t *seg);

/** Loop thread: removes a directory tree in the background (deleted topics). */
void bk_flusher_remove(bk_flusher_t *f, const char *path);

/** An eventfd that becomes readable when completions are waiting. */
int bk_flusher_fd(const bk_flusher_t *f);

/**
 * Loop thread: takes the completions gathered so far (clears the eventfd). The caller
 * applies them, releases each entry's refs, and frees the array with free().
 */
size_t bk_flusher_take(bk_flusher_t *f, bk_flush_done_t **out);

#endif
