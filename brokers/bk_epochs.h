/*
 * A partition's leader-epoch history (KIP-101, KIP-279): for each leader epoch that wrote
 * to the log, the offset of its first batch, in increasing order of both. Followers and
 * consumers ask for the end of an epoch to find where their log diverges from the
 * leader's, and truncate there instead of at a high watermark.
 *
 * Saved as `leader-epoch-checkpoint` in the partition's directory, in Kafka's layout:
 *
 *   0              version
 *   2              entries
 *   0 0            epoch start_offset
 *   3 1200
 *
 * Pure data here; bk_partition.c keeps it in step with the log (appends, truncation,
 * recovery). Loop thread.
 */
#ifndef BK_EPOCHS_H
#define BK_EPOCHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_epoch_entry {
    int32_t epoch;
    int64_t start;
} bk_epoch_entry_t;

typedef struct bk_epochs {
    bk_epoch_entry_t *v;
    size_t n;
    size_t cap;
} bk_epochs_t;

#define BK_EPOCHS_UNDEFINED (-1)

void bk_epochs_init(bk_epochs_t *e);
void bk_epochs_free(bk_epochs_t *e);

/** The newest epoch, or BK_EPOCHS_UNDEFINED when there is none. */
int32_t bk_epochs_latest(const bk_epochs_t *e);

/**
 * Records that `epoch` starts at `start`. True when that changed anything: an epoch newer
 * than the latest adds an entry; the latest again with an earlier start (nothing was
 * written under it between) moves it; anything older is ignored, as Kafka does.
 */
bool bk_epochs_assign(bk_epochs_t *e, int32_t epoch, int64_t start);

/** Forgets the epochs starting at or after `offset` (the log was cut there). True when any. */
bool bk_epochs_truncate(bk_epochs_t *e, int64_t offset);

/**
 * The end of `epoch` in a log ending at `leo` (Kafka's endOffsetFor): the latest epoch ends
 * at the log end; an older one at the start of the next epoch that wrote, reported with the
 * newest epoch at or below it; an epoch older than every entry ends where the first entry
 * starts; an undefined or unknown newer epoch gives (-1, -1).
 */
void bk_epochs_end_offset(const bk_epochs_t *e, int32_t epoch, int64_t leo, int32_t *out_epoch,
                          int64_t *out_end);

/** The epoch that wrote `offset` (the newest entry starting at or before it), or -1. */
int32_t bk_epochs_at(const bk_epochs_t *e, int64_t offset);

/** Writes the checkpoint text into a malloc'd buffer. */
char *bk_epochs_format(const bk_epochs_t *e, size_t *len);

/**
 * Parses checkpoint text into `e` (emptied first). -1 when it is not a checkpoint of
 * version 0 with increasing epochs and non-decreasing, non-negative offsets; `e` is then
 * empty.
 */
int bk_epochs_parse(bk_epochs_t *e, const char *text, size_t len);

#endif
