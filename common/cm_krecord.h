/*
 * Kafka RecordBatch v2 (magic 2): the unit stored on disk and sent on the wire.
 *
 *   offset  size  field
 *        0     8  baseOffset            (assigned by the partition leader)
 *        8     4  batchLength           (bytes after this field)
 *       12     4  partitionLeaderEpoch  (assigned by the leader; outside the CRC)
 *       16     1  magic = 2
 *       17     4  crc                   (CRC32C of bytes 21 .. end)
 *       21     2  attributes            (bits 0-2 codec, 3 timestamp type, 4 transactional,
 *                                        5 control)
 *       23     4  lastOffsetDelta
 *       27     8  baseTimestamp
 *       35     8  maxTimestamp
 *       43     8  producerId
 *       51     2  producerEpoch
 *       53     4  baseSequence
 *       57     4  recordsCount
 *       61        records (compressed as a whole when the codec is not 0)
 *
 * The broker validates batches and rewrites only baseOffset and partitionLeaderEpoch, which
 * the CRC does not cover, so stored batches are byte for byte what the producer sent.
 */
#ifndef CM_KRECORD_H
#define CM_KRECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_kbuf.h"

#define CM_BATCH_HEADER_SIZE  61 /* bytes before the first record */
#define CM_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define CM_BATCH_CRC_START    21 /* first byte covered by the CRC */
#define CM_BATCH_MAGIC        2

#define CM_BATCH_ATTR_CODEC_MASK    0x07
#define CM_BATCH_ATTR_LOG_APPEND_TS 0x08
#define CM_BATCH_ATTR_TRANSACTIONAL 0x10
#define CM_BATCH_ATTR_CONTROL       0x20

/** A parsed batch header. */
typedef struct cm_batch_hdr {
    int64_t base_offset;
    int32_t batch_length;
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} cm_batch_hdr_t;

/** Validation failures, each a distinct reason a batch is refused. */
typedef enum cm_batch_err {
    CM_BATCH_OK = 0,
    CM_BATCH_ETRUNC = -1,  /* fewer bytes than the header or batchLength claims */
    CM_BATCH_ELENGTH = -2, /* batchLength too small for a v2 header */
    CM_BATCH_EMAGIC = -3,  /* magic is not 2 */
    CM_BATCH_ECRC = -4,    /* CRC32C mismatch */
    CM_BATCH_ECOUNT = -5,  /* recordsCount / lastOffsetDelta inconsistent */
    CM_BATCH_ERECORD = -6, /* a record is malformed or offsets are not consecutive */
    CM_BATCH_ECODEC = -7,  /* unknown compression codec */
} cm_batch_err_t;

/** A short description of a validation failure, for errors that reach users. */
const char *cm_batch_strerror(int err);

/** Parses the fixed header; `p` must hold at least CM_BATCH_HEADER_SIZE bytes. */
void cm_batch_hdr_parse(const uint8_t *p, cm_batch_hdr_t *h);

/** Total bytes of the batch whose header starts at `p` (12 + batchLength). */
static inline int64_t cm_batch_size(const cm_batch_hdr_t *h)
{
    return CM_BATCH_LOG_OVERHEAD + (int64_t)h->batch_length;
}

/** Offset of the batch's last record. */
static inline int64_t cm_batch_last_offset(const cm_batch_hdr_t *h)
{
    return h->base_offset + h->last_offset_delta;
}

/**
 * Checks the batch framing: enough bytes, sane batchLength, magic 2, CRC. `len` may
 * exceed the batch (the rest is not looked at). On success fills `h`.
 */
int cm_batch_check(const uint8_t *p, size_t len, cm_batch_hdr_t *h);

/**
 * Everything cm_batch_check does, plus the record-level checks a leader applies to a
 * produced batch: a known codec, recordsCount = lastOffsetDelta + 1 > 0, and for
 * uncompressed batches every record well formed with offset deltas 0, 1, 2, ... filling
 * the batch exactly. Compressed record data is not inflated here.
 */
int cm_batch_validate(const uint8_t *p, size_t len, cm_batch_hdr_t *h);

/** Rewrites the fields the leader assigns (outside the CRC). */
void cm_batch_assign(uint8_t *p, int64_t base_offset, int32_t leader_epoch);

/** One record, as views into the (decompressed) records area. */
typedef struct cm_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    cm_kbytes_t key;   /* len -1: null key */
    cm_kbytes_t value; /* len -1: null value (tombstone) */
    int32_t headers_n;
    cm_kr_t headers; /* reader over the header entries, for cm_record_header_next */
} cm_record_t;

/** Iterates over the records of an uncompressed records area. */
typedef struct cm_record_iter {
    cm_kr_t r;
    int32_t remaining;
} cm_record_iter_t;

/** Starts iterating `count` records in `len` bytes at `p`. */
void cm_record_iter_init(cm_record_iter_t *it, const uint8_t *p, size_t len, int32_t count);

/**
 * Opens the records of a checked batch for iteration. Compressed record data is inflated
 * into a malloc'd buffer of at most `out_max` bytes returned in *owned (NULL when the
 * batch is not compressed); the caller frees it once done with the records. Returns 0,
 * CM_BATCH_ECODEC, or CM_BATCH_ERECORD when the data does not inflate within out_max.
 */
int cm_batch_records(const uint8_t *batch, const cm_batch_hdr_t *h, size_t out_max,
                     cm_record_iter_t *it, uint8_t **owned);

/** A record's timestamp: base + delta, or the batch max for log-append-time batches. */
static inline int64_t cm_record_timestamp(const cm_batch_hdr_t *h, const cm_record_t *r)
{
    if (h->attributes & CM_BATCH_ATTR_LOG_APPEND_TS)
        return h->max_timestamp;
    return h->base_timestamp + r->timestamp_delta;
}

/** Yields the next record: 1 when one was read, 0 at the end, -1 if malformed. */
int cm_record_next(cm_record_iter_t *it, cm_record_t *rec);

/** Yields a record's next header: 1, 0 at the end, -1 if malformed. */
int cm_record_header_next(cm_record_t *rec, cm_kstr_t *key, cm_kbytes_t *value);

/** A header to add to a built record. */
typedef struct cm_record_header {
    cm_kstr_t key;
    cm_kbytes_t value;
} cm_record_header_t;

/**
 * Builds one uncompressed batch into a writer: cm_batch_build_begin(), then
 * cm_batch_build_add() per record, then cm_batch_build_end() fills lengths, counts,
 * timestamps and the CRC. Used by clients (tests, the gateway) to produce.
 */
typedef struct cm_batch_builder {
    cm_kw_t *w;
    size_t start; /* offset of the batch in w */
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
} cm_batch_builder_t;

void cm_batch_build_begin(cm_batch_builder_t *b, cm_kw_t *w, int64_t base_timestamp);
void cm_batch_build_add(cm_batch_builder_t *b, int64_t timestamp, cm_kbytes_t key,
                        cm_kbytes_t value, const cm_record_header_t *headers, int32_t headers_n);
/** Finishes the batch; returns its size in bytes, or -1 if the writer failed. */
int64_t cm_batch_build_end(cm_batch_builder_t *b);

#endif
