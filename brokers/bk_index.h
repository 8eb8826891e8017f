/*
 * Sparse segment indexes: fixed-size big-endian entries, sorted, searched by bisection.
 *
 *   offset index (<base>.index, 8 bytes):     relative offset u32, file position u32
 *       an entry for a batch every index_interval_bytes of log: where to start scanning
 *       for an offset.
 *   time index (<base>.timeindex, 12 bytes):  timestamp i64, relative offset u32
 *       entry (T, r) means: every record before offset base+r in this segment has a
 *       timestamp <= T, and T < the timestamps seen after it (entries are added only when
 *       the running maximum grows). The last entry of a sealed segment is (segment max
 *       timestamp, next offset - base).
 *
 * The active segment's indexes live in memory (they are rebuilt by recovery after a crash,
 * so they are written to disk only when the segment is sealed); sealed segments loaded at
 * start are mapped from their files.
 */
#ifndef BK_INDEX_H
#define BK_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_OINDEX_ENTRY 8
#define BK_TINDEX_ENTRY 12

typedef struct bk_index {
    uint8_t *data;
    size_t n;     /* entries */
    size_t cap;   /* entries allocated (memory mode) */
    size_t esize; /* BK_OINDEX_ENTRY or BK_TINDEX_ENTRY */
    size_t map_len;
    bool mapped;
} bk_index_t;

/** An empty in-memory index of `esize`-byte entries. */
void bk_index_init(bk_index_t *ix, size_t esize);

/** Frees or unmaps the entries. */
void bk_index_free(bk_index_t *ix);

/** Empties an index (recovery rebuilds it). A mapped index becomes an empty memory one. */
void bk_index_clear(bk_index_t *ix);

/** Appends an offset-index entry. */
void bk_index_add_offset(bk_index_t *ix, uint32_t rel, uint32_t pos);

/** Appends a time-index entry. */
void bk_index_add_time(bk_index_t *ix, int64_t ts, uint32_t rel);

/** Entry accessors. */
uint32_t bk_index_rel(const bk_index_t *ix, size_t i);
uint32_t bk_index_pos(const bk_index_t *ix, size_t i);
int64_t bk_index_ts(const bk_index_t *ix, size_t i);

/**
 * Offset index: the file position of the last entry whose relative offset is <= `rel`,
 * and that entry's relative offset in *found_rel (0 and 0 when there is none).
 */
uint32_t bk_index_lookup_offset(const bk_index_t *ix, uint32_t rel, uint32_t *found_rel);

/** Offset index: the file position of the last entry at or before position `pos`, or 0. */
uint32_t bk_index_lookup_pos(const bk_index_t *ix, uint32_t pos);

/** Time index: the relative offset of the last entry with timestamp < `ts`, or 0. */
uint32_t bk_index_lookup_time(const bk_index_t *ix, int64_t ts);

/**
 * Maps an index file. Fails with CM_ECORRUPT when its size is not a whole number of
 * entries or its entries are not strictly increasing, CM_ENOENT when it is missing.
 */
int bk_index_load(bk_index_t *ix, const char *path, size_t esize);

/** Writes all entries to `fd` from position 0 and truncates the file to them. */
int bk_index_write(const bk_index_t *ix, int fd);

#endif
