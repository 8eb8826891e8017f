/*
 * A log segment: `<base offset, 20 digits>.log` holding record batches back to back, byte
 * for byte as produced (only baseOffset and partitionLeaderEpoch assigned), with its
 * offset index (.index) and time index (.timeindex); see bk_index.h.
 *
 * Threads: everything runs on the event loop except the flusher's fdatasync on `fd` and
 * its writing of a sealed segment's index files. Segments are shared through refcounts
 * (the partition, the flusher, and responses that sendfile from them each hold one); the
 * files stay open until the last reference goes, so deleting a segment under a reader is
 * safe.
 *
 * Descriptors. A broker hosts many partitions, most of them idle, so a segment holds no
 * descriptor it does not use: index files are opened only to be written when it is sealed,
 * and the log file's descriptor is in a bounded cache (bk_fdcache_t): past its bound, the
 * least recently used ones that the cache's owner says may close (nobody else holds the
 * segment, its data is durable) are closed, and reopened by their next use.
 */
#ifndef BK_SEGMENT_H
#define BK_SEGMENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bk_index.h"
#include "cm_krecord.h"

typedef struct bk_segment bk_segment_t;

/** Open log files of segments, most recently used first. Loop thread only. */
typedef struct bk_fdcache {
    bk_segment_t *head, *tail;
    int64_t n;   /* segments listed (each with an open log file) */
    int64_t max; /* the bound; 0: none */
    /* Whether `s`'s descriptor may close now (NULL: always). */
    bool (*may_close)(void *owner, const bk_segment_t *s);
    uint64_t opens, closes; /* reopenings after a close, closes for the bound */
} bk_fdcache_t;

struct bk_segment {
    atomic_int refs;
    int64_t base_offset;
    atomic_int fd;       /* the .log file; -1 while closed by its cache (bk_segment_fd) */
    bool index_due;      /* active (this run): index files to write when sealed */
    bk_fdcache_t *cache; /* NULL: the descriptor stays open */
    void *owner;         /* the cache's may_close argument */
    bk_segment_t *lru_prev, *lru_next;
    bool in_lru;
    int64_t size;            /* bytes of whole batches in the log file */
    int64_t alloc_end;       /* file length on disk: size plus preallocated zeros */
    int64_t next_offset;     /* offset after the last batch */
    int64_t max_timestamp;   /* newest record timestamp, -1 when empty */
    int64_t first_append_ms; /* wall clock of the first append, for segment.ms; -1 */
    int64_t oidx_since;      /* log bytes since the last offset-index entry */
    int64_t tidx_since;      /* log bytes since the last time-index entry */
    bk_index_t oidx;
    bk_index_t tidx;
    bool sealed;
    bool deleted;
    atomic_bool dir_synced; /* the flusher has fsynced the directory entry */
    char *path;             /* "<dir>/<base>" without extension */
};

/** Why recovery cut a segment short. */
typedef struct bk_scan_result {
    int64_t batches;
    int64_t truncated_bytes; /* bytes cut off the end, 0 if the segment was whole */
    int reason;              /* cm_batch_err_t, or BK_SCAN_EOFFSET for an offset gap */
    int64_t at;              /* file position of the first bad byte */
    int64_t zero_tail;       /* preallocated zeros after the last batch (not damage) */
} bk_scan_result_t;

#define BK_SCAN_EOFFSET (-100)

/** Creates a new empty segment (its three files) in `dir`. */
int bk_segment_create(const char *dir, int64_t base, bk_segment_t **out);

/** Opens an existing segment's log file; call bk_segment_load or bk_segment_recover next. */
int bk_segment_open(const char *dir, int64_t base, bk_segment_t **out);

/**
 * Trusts a segment that a recovery point says is durable: maps its indexes and checks
 * they agree with the log (the last batch ends exactly at the end of the file and at
 * `next_base`). Returns CM_ECORRUPT when they do not: recover it instead.
 */
int bk_segment_load(bk_segment_t *s, int64_t next_base, int64_t index_interval);

/**
 * Reads the whole log, checks every batch (framing, CRC32C, contiguous offsets), rebuilds
 * both indexes and fills `res`. The segment then ends at the first bad batch; with
 * `repair` the file is truncated there too (a torn tail), else the file is left as it is
 * (a damaged segment that acknowledged data follows: nothing is thrown away).
 */
int bk_segment_recover(bk_segment_t *s, int64_t index_interval, bk_scan_result_t *res, bool repair);

/**
 * Appends one validated batch (offsets already assigned) at the end of the log and
 * updates the indexes. On a write error the file is cut back to its previous size.
 *
 * With `prealloc` > 0 the file is extended with fallocate() in steps of that many bytes
 * ahead of the data, so that most appends land in allocated space and their fdatasync
 * flushes data alone instead of also committing the filesystem journal (file growth).
 * The zeros are cut off when the segment is sealed or trimmed, and recovery treats a zero
 * tail as the clean end of the log.
 */
int bk_segment_append(bk_segment_t *s, const uint8_t *batch, size_t len, const cm_batch_hdr_t *h,
                      int64_t index_interval, int64_t prealloc, int64_t now_ms);

/** Cuts preallocated zeros off the end of the file (seal, shutdown). */
int bk_segment_trim(bk_segment_t *s);

/** Marks the segment read-only and closes its time index with the final entry. */
void bk_segment_seal(bk_segment_t *s);

/**
 * Empties the index files (created if missing) of a segment that becomes active: they are
 * written when it is sealed.
 */
int bk_segment_reset_indexes(bk_segment_t *s);

/** Flusher: writes a sealed segment's index files (if it was active in this run) and
 * fsyncs them. */
int bk_segment_write_indexes(bk_segment_t *s);

/**
 * Finds the batch holding `offset`, or the first batch after it, below file position
 * `limit`. Returns 1 with its position and header, 0 if none, CM_EIO/CM_ECORRUPT.
 */
int bk_segment_locate(bk_segment_t *s, int64_t offset, int64_t limit, int64_t *pos,
                      cm_batch_hdr_t *h);

/**
 * The end of the last whole batch in [from, to), where `from` is a batch boundary; `from`
 * itself when not even the first batch fits. Returns CM_EIO/CM_ECORRUPT on a bad read.
 */
int64_t bk_segment_batch_end(bk_segment_t *s, int64_t from, int64_t to);

/**
 * Walks batch headers from `pos` (a batch boundary) towards `limit`, calling `fn` on each
 * until it returns non-zero, which it then returns; 0 at `limit`, CM_EIO/CM_ECORRUPT on a
 * bad read. Reads headers through a small buffer so that many small batches cost one pread.
 */
typedef int (*bk_segment_hdr_fn)(void *ctx, int64_t pos, const cm_batch_hdr_t *h);
int bk_segment_walk(bk_segment_t *s, int64_t pos, int64_t limit, bk_segment_hdr_fn fn, void *ctx);

/**
 * Cuts the log at `pos` (a batch boundary) and makes the segment active again, its indexes
 * rebuilt from what is left (a follower truncating a tail that diverged from its leader).
 * The caller makes sure no flusher job holds the segment.
 */
int bk_segment_truncate(bk_segment_t *s, int64_t pos, int64_t index_interval);

/**
 * The offset of the first record with timestamp >= `ts` below `limit`, with its timestamp,
 * or 0 when there is none in this segment. Inflates compressed batches to look inside.
 */
int bk_segment_find_time(bk_segment_t *s, int64_t ts, int64_t limit, int64_t *offset,
                         int64_t *found_ts);

/**
 * The log file's descriptor, opened again if its cache closed it (then the segment becomes
 * the most recently used); -1 with errno when it cannot be. Loop thread.
 */
int bk_segment_fd(bk_segment_t *s);

/**
 * Puts the segment's descriptor under `cache`, as the most recently used, and closes what
 * is over the bound. `owner` is passed to cache->may_close.
 */
void bk_segment_cache(bk_segment_t *s, bk_fdcache_t *cache, void *owner);

/**
 * Closes what may close of what is over the cache's bound, looking at `scan` of the least
 * recently used at most: descriptors busy when they were last used (a sync pending, a
 * response sending) close here once they are idle.
 */
void bk_fdcache_trim(bk_fdcache_t *c, int64_t scan);

/** Takes the segment out of its cache (its descriptor then stays open until the last
 * unref, for readers that still hold it). */
void bk_segment_uncache(bk_segment_t *s);

/** Removes the segment's files; the open descriptors live until the last unref. */
void bk_segment_delete(bk_segment_t *s);

bk_segment_t *bk_segment_ref(bk_segment_t *s);
void bk_segment_unref(bk_segment_t *s);

/** Parses "<20 digits>.log" into a base offset; -1 if the name is not a segment. */
int64_t bk_segment_parse_name(const char *name);

#endif
