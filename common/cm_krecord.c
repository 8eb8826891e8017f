#include "cm_krecord.h"

#include <string.h>

#include "cm_compress.h"
#include "cm_crc32c.h"

const char *cm_batch_strerror(int err)
{
    switch (err) {
    case CM_BATCH_OK:
        return "ok";
    case CM_BATCH_ETRUNC:
        return "record batch is truncated";
    case CM_BATCH_ELENGTH:
        return "record batch length is smaller than a v2 header";
    case CM_BATCH_EMAGIC:
        return "record batch magic is not 2 (only RecordBatch v2 is accepted)";
    case CM_BATCH_ECRC:
        return "record batch CRC32C does not match its contents";
    case CM_BATCH_ECOUNT:
        return "record count does not match the last offset delta";
    case CM_BATCH_ERECORD:
        return "a record in the batch is malformed";
    case CM_BATCH_ECODEC:
        return "unknown compression codec in batch attributes";
    }
    return "unknown record batch error";
}

void cm_batch_hdr_parse(const uint8_t *p, cm_batch_hdr_t *h)
{
    h->base_offset = (int64_t)cm_be64(p);
    h->batch_length = (int32_t)cm_be32(p + 8);
    h->leader_epoch = (int32_t)cm_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = cm_be32(p + 17);
    h->attributes = (int16_t)cm_be16(p + 21);
    h->last_offset_delta = (int32_t)cm_be32(p + 23);
    h->base_timestamp = (int64_t)cm_be64(p + 27);
    h->max_timestamp = (int64_t)cm_be64(p + 35);
    h->producer_id = (int64_t)cm_be64(p + 43);
    h->producer_epoch = (int16_t)cm_be16(p + 51);
    h->base_sequence = (int32_t)cm_be32(p + 53);
    h->records_count = (int32_t)cm_be32(p + 57);
}

int cm_batch_check(const uint8_t *p, size_t len, cm_batch_hdr_t *h)
{
    /* The magic byte decides how the rest is read, so look at it as soon as it is there. */
    if (len < 17)
        return CM_BATCH_ETRUNC;
    if (p[16] != CM_BATCH_MAGIC)
        return CM_BATCH_EMAGIC;
    if (len < CM_BATCH_HEADER_SIZE)
        return CM_BATCH_ETRUNC;
    cm_batch_hdr_parse(p, h);
    if (h->batch_length < CM_BATCH_HEADER_SIZE - CM_BATCH_LOG_OVERHEAD)
        return CM_BATCH_ELENGTH;
    if ((uint64_t)cm_batch_size(h) > len)
        return CM_BATCH_ETRUNC;
    size_t crc_len = (size_t)cm_batch_size(h) - CM_BATCH_CRC_START;
    if (cm_crc32c(0, p + CM_BATCH_CRC_START, crc_len) != h->crc)
        return CM_BATCH_ECRC;
    return CM_BATCH_OK;
}

int cm_batch_validate(const uint8_t *p, size_t len, cm_batch_hdr_t *h)
{
    int rc = cm_batch_check(p, len, h);
    if (rc != CM_BATCH_OK)
        return rc;
    int codec = h->attributes & CM_BATCH_ATTR_CODEC_MASK;
    if (codec > 4)
        return CM_BATCH_ECODEC;
    if (h->records_count <= 0 || h->last_offset_delta != h->records_count - 1)
        return CM_BATCH_ECOUNT;
    if (codec != 0)
        return CM_BATCH_OK;

    cm_record_iter_t it;
    cm_record_t rec;
    size_t body = (size_t)cm_batch_size(h) - CM_BATCH_HEADER_SIZE;
    cm_record_iter_init(&it, p + CM_BATCH_HEADER_SIZE, body, h->records_count);
    for (int32_t i = 0;; i++) {
        int got = cm_record_next(&it, &rec);
        if (got < 0)
            return CM_BATCH_ERECORD;
        if (got == 0)
            break;
        if (rec.offset_delta != i)
            return CM_BATCH_ERECORD;
    }
    /* Every byte of the batch belongs to a record. */
    return cm_kr_left(&it.r) == 0 ? CM_BATCH_OK : CM_BATCH_ERECORD;
}

void cm_batch_assign(uint8_t *p, int64_t base_offset, int32_t leader_epoch)
{
    cm_put_be64(p, (uint64_t)base_offset);
    cm_put_be32(p + 12, (uint32_t)leader_epoch);
}

void cm_record_iter_init(cm_record_iter_t *it, const uint8_t *p, size_t len, int32_t count)
{
    cm_kr_init(&it->r, p, len);
    it->remaining = count;
}

/* A varint-length byte string: -1 is null, other negatives and overruns are errors. */
static cm_kbytes_t cm_record__varbytes(cm_kr_t *r)
{
    int32_t n = cm_kr_varint(r);
    if (n < -1 || (n > 0 && (size_t)n > cm_kr_left(r))) {
        r->err = 1;
        return (cm_kbytes_t){ NULL, -1 };
    }
    if (n == -1)
        return (cm_kbytes_t){ NULL, -1 };
    return (cm_kbytes_t){ cm_kr_raw(r, (size_t)n), n };
}

int cm_batch_records(const uint8_t *batch, const cm_batch_hdr_t *h, size_t out_max,
                     cm_record_iter_t *it, uint8_t **owned)
{
    const uint8_t *area = batch + CM_BATCH_HEADER_SIZE;
    size_t len = (size_t)cm_batch_size(h) - CM_BATCH_HEADER_SIZE;
    int codec = h->attributes & CM_BATCH_ATTR_CODEC_MASK;
    *owned = NULL;
    if (codec > CM_CODEC_ZSTD)
        return CM_BATCH_ECODEC;
    if (codec != CM_CODEC_NONE) {
        size_t out_len;
        if (cm_decompress(codec, area, len, out_max, owned, &out_len) != 0)
            return CM_BATCH_ERECORD;
        area = *owned;
        len = out_len;
    }
    cm_record_iter_init(it, area, len, h->records_count);
    return CM_BATCH_OK;
}

int cm_record_next(cm_record_iter_t *it, cm_record_t *rec)
{
    if (it->remaining <= 0)
        return 0;
    int32_t len = cm_kr_varint(&it->r);
    if (it->r.err || len <= 0 || (size_t)len > cm_kr_left(&it->r))
        return -1;
    cm_kr_t r;
    cm_kr_init(&r, cm_kr_raw(&it->r, (size_t)len), (size_t)len);
    rec->attributes = cm_kr_i8(&r);
    rec->timestamp_delta = cm_kr_varlong(&r);
    rec->offset_delta = cm_kr_varint(&r);
    rec->key = cm_record__varbytes(&r);
    rec->value = cm_record__varbytes(&r);
    rec->headers_n = cm_kr_varint(&r);
    if (r.err || rec->headers_n < 0)
        return -1;
    rec->headers = r;
    /* Walk the headers once so a record is known whole before it is handed out. */
    cm_record_t probe = *rec;
    cm_kstr_t k;
    cm_kbytes_t v;
    int got;
    while ((got = cm_record_header_next(&probe, &k, &v)) == 1)
        ;
    if (got < 0 || cm_kr_left(&probe.headers) != 0)
        return -1;
    it->remaining--;
    return 1;
}

int cm_record_header_next(cm_record_t *rec, cm_kstr_t *key, cm_kbytes_t *value)
{
    if (rec->headers_n <= 0)
        return 0;
    cm_kr_t *r = &rec->headers;
    cm_kbytes_t k = cm_record__varbytes(r);
    if (r->err || k.len < 0)
        return -1;
    *value = cm_record__varbytes(r);
    if (r->err)
        return -1;
    *key = (cm_kstr_t){ (const char *)k.ptr, k.len };
    rec->headers_n--;
    return 1;
}

void cm_batch_build_begin(cm_batch_builder_t *b, cm_kw_t *w, int64_t base_timestamp)
{
    b->w = w;
    b->start = w->len;
    b->count = 0;
    b->base_timestamp = base_timestamp;
    b->max_timestamp = base_timestamp;
    uint8_t *p = cm_kw_reserve(w, CM_BATCH_HEADER_SIZE);
    if (p != NULL)
        memset(p, 0, CM_BATCH_HEADER_SIZE);
}

static size_t cm_record__varint_size(int64_t v)
{
    uint64_t u = cm_zigzag64(v);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

static size_t cm_record__varbytes_size(cm_kbytes_t b)
{
    return b.len < 0 ? 1 : cm_record__varint_size(b.len) + (size_t)b.len;
}

static void cm_record__put_varbytes(cm_kw_t *w, cm_kbytes_t b)
{
    cm_kw_varint(w, b.len < 0 ? -1 : b.len);
    if (b.len > 0)
        cm_kw_raw(w, b.ptr, (size_t)b.len);
}

void cm_batch_build_add(cm_batch_builder_t *b, int64_t timestamp, cm_kbytes_t key,
                        cm_kbytes_t value, const cm_record_header_t *headers, int32_t headers_n)
{
    int64_t ts_delta = timestamp - b->base_timestamp;
    size_t body = 1 + cm_record__varint_size(ts_delta) + cm_record__varint_size(b->count) +
                  cm_record__varbytes_size(key) + cm_record__varbytes_size(value) +
                  cm_record__varint_size(headers_n);
    for (int32_t i = 0; i < headers_n; i++)
        body += cm_record__varbytes_size(
                    (cm_kbytes_t){ (const uint8_t *)headers[i].key.ptr, headers[i].key.len }) +
                cm_record__varbytes_size(headers[i].value);
    cm_kw_varint(b->w, (int32_t)body);
    cm_kw_i8(b->w, 0);
    cm_kw_varlong(b->w, ts_delta);
    cm_kw_varint(b->w, b->count);
    cm_record__put_varbytes(b->w, key);
    cm_record__put_varbytes(b->w, value);
    cm_kw_varint(b->w, headers_n);
    for (int32_t i = 0; i < headers_n; i++) {
        cm_record__put_varbytes(
            b->w, (cm_kbytes_t){ (const uint8_t *)headers[i].key.ptr, headers[i].key.len });
        cm_record__put_varbytes(b->w, headers[i].value);
    }
    if (timestamp > b->max_timestamp)
        b->max_timestamp = timestamp;
    b->count++;
}

int64_t cm_batch_build_end(cm_batch_builder_t *b)
{
    cm_kw_t *w = b->w;
    if (w->err || b->count == 0)
        return -1;
    uint8_t *p = w->buf + b->start;
    size_t size = w->len - b->start;
    cm_put_be64(p, 0);
    cm_put_be32(p + 8, (uint32_t)(size - CM_BATCH_LOG_OVERHEAD));
    cm_put_be32(p + 12, 0);
    p[16] = CM_BATCH_MAGIC;
    cm_put_be16(p + 21, 0);
    cm_put_be32(p + 23, (uint32_t)(b->count - 1));
    cm_put_be64(p + 27, (uint64_t)b->base_timestamp);
    cm_put_be64(p + 35, (uint64_t)b->max_timestamp);
    cm_put_be64(p + 43, (uint64_t)-1); /* no producer id: not idempotent */
    cm_put_be16(p + 51, (uint16_t)-1);
    cm_put_be32(p + 53, (uint32_t)-1);
    cm_put_be32(p + 57, (uint32_t)b->count);
    cm_put_be32(p + 17, cm_crc32c(0, p + CM_BATCH_CRC_START, size - CM_BATCH_CRC_START));
    return (int64_t)size;
}
