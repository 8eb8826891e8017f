/*
 * What bk_partition.c (the log) and bk_partition_repl.c (epochs, followers, truncation)
 * share. Loop thread.
 */
#ifndef BK_PARTITION_INTERNAL_H
#define BK_PARTITION_INTERNAL_H

#include "bk_partition.h"

/** The active segment: the last one. */
bk_segment_t *bk_partition__active(const bk_partition_t *p);

/** Appends a segment to the partition's list (and its descriptor cache). */
void bk_partition__push_seg(bk_partition_t *p, bk_segment_t *s);

/** The segment holding `offset`: the last one whose base is <= offset. */
size_t bk_partition__find_seg(const bk_partition_t *p, int64_t offset);

/** Moves hw forward to `offset` at `pos` of `seg` (never back). */
void bk_partition__set_hw(bk_partition_t *p, bk_segment_t *seg, int64_t offset, int64_t pos);

/** Completes produce waiters that hw or the durable end now cover (all, with an error). */
void bk_partition__complete_acks(bk_partition_t *p, int16_t err);

/** Wakes every long poll watching the partition. */
void bk_partition__wake(bk_partition_t *p);

/** Saves the leader-epoch history (not fsynced: checked at the next open). */
void bk_partition__save_epochs(const bk_partition_t *p);

/** At open: reads the history and checks it against the recovered log, rebuilding it. */
int bk_partition__load_epochs(bk_partition_t *p);

#endif
