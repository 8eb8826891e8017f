/*
 * RecordBatch v2 validation and record iteration, with decompression (common/cm_krecord.c,
 * common/cm_compress.c). The input is one record batch (or what is left of one), as it
 * arrives in a Produce request or a Fetch response.
 *
 * Each input runs twice: as it is, then with its batchLength clamped to the input and its
 * CRC recomputed, so that mutations of the covered bytes reach the record and codec code
 * instead of stopping at the CRC check.
 *
 * Paths, as the daemons take them:
 *   - the broker's Produce: cm_batch_validate (framing, CRC, codec, counts, every record of
 *     an uncompressed batch);
 *   - readers (the gateway's consume, the broker's time lookups and offsets replay):
 *     cm_batch_check, then cm_batch_records (inflating compressed data within a bound) and
 *     cm_record_next / cm_record_header_next.
 *
 * Properties checked: every view a record yields lies inside the records area; a batch
 * cm_batch_validate accepts yields exactly recordsCount records with offset deltas 0, 1,
 * ...; the records of any batch rebuilt with cm_batch_build_* validate and read back the
 * same; and inflated data compressed again with the batch's codec inflates to the same
 * bytes.
 */
#include <string.h>

#include "cm_compress.h"
#include "cm_crc32c.h"
#include "cm_kbuf.h"
#include "cm_krecord.h"
#include "fuzz.h"

/* Inflation bound: small enough that a bomb costs little here, large enough for any input
 * libFuzzer makes (the daemons use 64 MiB and 256 MiB). */
#define FUZZ__INFLATE_MAX (4u << 20)
/* Records kept for the rebuild check. */
#define FUZZ__RECORDS_MAX 256

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

/* A view must lie inside [lo, hi). */
static void fuzz__inside(const void *p, int32_t len, const uint8_t *lo, const uint8_t *hi)
{
    if (len <= 0)
        return;
    const uint8_t *b = p;
    fuzz_assert(b >= lo && b + len <= hi);
}

typedef struct fuzz__rec {
    int64_t timestamp;
    cm_kbytes_t key;
    cm_kbytes_t value;
    cm_record_header_t headers[8];
    int32_t headers_n;
} fuzz__rec_t;

/*
 * Rebuilds the records read from a batch with the builder, then checks the new batch
 * validates and reads back the same keys, values, headers and timestamps.
 */
static void fuzz__rebuild(const cm_batch_hdr_t *h, const fuzz__rec_t *recs, int n)
{
    cm_kw_t w;
    cm_batch_builder_t b;
    cm_kw_init(&w, 64u << 20);
    cm_batch_build_begin(&b, &w, h->base_timestamp);
    for (int i = 0; i < n; i++)
        cm_batch_build_add(&b, recs[i].timestamp, recs[i].key, recs[i].value, recs[i].headers,
                           recs[i].headers_n);
    int64_t size = cm_batch_build_end(&b);
    fuzz_assert(size > 0 && (size_t)size == w.len);
    cm_batch_hdr_t h2;
    int rc = cm_batch_validate(w.buf, w.len, &h2);
    if (rc != CM_BATCH_OK)
        fuzz_fail("a built batch does not validate: %s", cm_batch_strerror(rc));
    fuzz_assert(h2.records_count == n);
    cm_record_iter_t it;
    uint8_t *owned;
    fuzz_assert(cm_batch_records(w.buf, &h2, FUZZ__INFLATE_MAX, &it, &owned) == CM_BATCH_OK);
    fuzz_assert(owned == NULL);
    for (int i = 0; i < n; i++) {
        cm_record_t r;
        fuzz_assert(cm_record_next(&it, &r) == 1);
        fuzz_assert(r.offset_delta == i);
        fuzz_assert(cm_record_timestamp(&h2, &r) == recs[i].timestamp);
        fuzz_assert(cm_kstr_eq((cm_kstr_t){ (const char *)r.key.ptr, r.key.len },
                               (cm_kstr_t){ (const char *)recs[i].key.ptr, recs[i].key.len }));
        fuzz_assert(cm_kstr_eq((cm_kstr_t){ (const char *)r.value.ptr, r.value.len },
                               (cm_kstr_t){ (const char *)recs[i].value.ptr, recs[i].value.len }));
        fuzz_assert(r.headers_n == recs[i].headers_n);
        for (int32_t k = 0; k < recs[i].headers_n; k++) {
            cm_kstr_t hk;
            cm_kbytes_t hv;
            fuzz_assert(cm_record_header_next(&r, &hk, &hv) == 1);
            fuzz_assert(cm_kstr_eq(hk, recs[i].headers[k].key));
            fuzz_assert(cm_kstr_eq((cm_kstr_t){ (const char *)hv.ptr, hv.len },
                                   (cm_kstr_t){ (const char *)recs[i].headers[k].value.ptr,
                                                recs[i].headers[k].value.len }));
        }
    }
    cm_record_t r;
    fuzz_assert(cm_record_next(&it, &r) == 0);
    cm_kw_free(&w);
}

/* Compressing inflated records again with the same codec must give them back. */
static void fuzz__recompress(int codec, const uint8_t *area, size_t len)
{
    uint8_t *z, *back;
    size_t zlen, back_len;
    if (cm_compress(codec, 0, area, len, &z, &zlen) != 0)
        fuzz_fail("%s: cannot compress %zu bytes it inflated", cm_codec_name(codec), len);
    int rc = cm_decompress(codec, z, zlen, len, &back, &back_len);
    if (rc != 0)
        fuzz_fail("%s: its own output does not inflate (%d)", cm_codec_name(codec), rc);
    fuzz_assert(back_len == len && (len == 0 || memcmp(back, area, len) == 0));
    free(z);
    free(back);
}

/* The readers' path: records of a batch cm_batch_check accepted. */
static void fuzz__read(const uint8_t *p, const cm_batch_hdr_t *h, bool validated)
{
    cm_record_iter_t it;
    uint8_t *owned;
    int codec = h->attributes & CM_BATCH_ATTR_CODEC_MASK;
    if (cm_batch_records(p, h, FUZZ__INFLATE_MAX, &it, &owned) != CM_BATCH_OK) {
        fuzz_assert(owned == NULL);
        return;
    }
    const uint8_t *lo = owned != NULL ? owned : p + CM_BATCH_HEADER_SIZE;
    const uint8_t *hi = it.r.end;
    fuzz_assert(hi >= lo);
    if (owned != NULL)
        fuzz__recompress(codec, owned, (size_t)(hi - lo));

    static fuzz__rec_t recs[FUZZ__RECORDS_MAX];
    int n = 0, got;
    bool rebuild = true;
    cm_record_t r;
    while ((got = cm_record_next(&it, &r)) == 1) {
        fuzz__inside(r.key.ptr, r.key.len, lo, hi);
        fuzz__inside(r.value.ptr, r.value.len, lo, hi);
        if (validated && codec == CM_CODEC_NONE)
            fuzz_assert(r.offset_delta == n);
        fuzz__rec_t *k = n < FUZZ__RECORDS_MAX ? &recs[n] : NULL;
        if (k == NULL || r.headers_n > 8 || r.timestamp_delta > INT64_MAX / 2 ||
            r.timestamp_delta < INT64_MIN / 2 || h->base_timestamp > INT64_MAX / 2 ||
            h->base_timestamp < INT64_MIN / 2)
            rebuild = false;
        else
            *k = (fuzz__rec_t){ .timestamp = h->base_timestamp + r.timestamp_delta,
                                .key = r.key,
                                .value = r.value,
                                .headers_n = r.headers_n };
        cm_kstr_t hk;
        cm_kbytes_t hv;
        int32_t nh = 0, hgot;
        while ((hgot = cm_record_header_next(&r, &hk, &hv)) == 1) {
            fuzz__inside(hk.ptr, hk.len, lo, hi);
            fuzz__inside(hv.ptr, hv.len, lo, hi);
            fuzz_assert(hk.len >= 0);
            if (k != NULL && nh < 8)
                k->headers[nh] = (cm_record_header_t){ hk, hv };
            nh++;
        }
        /* cm_record_next walked the headers already: they cannot be malformed now. */
        fuzz_assert(hgot == 0);
        n++;
    }
    fuzz_assert(n <= (h->records_count > 0 ? h->records_count : 0));
    if (validated && codec == CM_CODEC_NONE)
        fuzz_assert(got == 0 && n == h->records_count);
    if (got == 0 && n > 0 && rebuild)
        fuzz__rebuild(h, recs, n);
    free(owned);
}

static void fuzz__batch(const uint8_t *p, size_t len)
{
    cm_batch_hdr_t h;
    int rc = cm_batch_validate(p, len, &h);
    if (rc == CM_BATCH_OK)
        fuzz_assert(cm_batch_size(&h) <= (int64_t)len && h.records_count > 0 &&
                    h.last_offset_delta == h.records_count - 1);
    if (cm_batch_check(p, len, &h) != CM_BATCH_OK) {
        fuzz_assert(rc != CM_BATCH_OK);
        return;
    }
    fuzz_assert(cm_batch_size(&h) <= (int64_t)len);
    fuzz__read(p, &h, rc == CM_BATCH_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copies: ASan sees any read past the input. */
    uint8_t *p = malloc(size > 0 ? size : 1);
    if (p == NULL)
        abort();
    memcpy(p, data, size);
    fuzz__batch(p, size);
    if (size >= CM_BATCH_HEADER_SIZE && p[16] == CM_BATCH_MAGIC) {
        int64_t len = (int64_t)cm_be32(p + 8) + CM_BATCH_LOG_OVERHEAD;
        if (len < CM_BATCH_HEADER_SIZE || len > (int64_t)size)
            cm_put_be32(p + 8, (uint32_t)(size - CM_BATCH_LOG_OVERHEAD));
        len = (int64_t)cm_be32(p + 8) + CM_BATCH_LOG_OVERHEAD;
        cm_put_be32(p + 17, cm_crc32c(0, p + CM_BATCH_CRC_START, (size_t)len - CM_BATCH_CRC_START));
        fuzz__batch(p, size);
    }
    free(p);
    return 0;
}
