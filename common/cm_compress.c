#include "cm_compress.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#define ZLIB_CONST /* a const next_in: the input needs no cast */
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "cm_kbuf.h"

/* A record batch's length is an int32, so no Kafka producer compresses more than this. */
#define CM_COMPRESS__IN_MAX ((size_t)INT32_MAX)

/* The first decompression buffer: 4 times the input (a usual ratio), at least 4 KiB. */
#define CM_COMPRESS__OUT_MIN   4096
#define CM_COMPRESS__OUT_RATIO 4

#define CM_COMPRESS__GZIP_LEVEL_MAX     9
#define CM_COMPRESS__LZ4_LEVEL_MAX      12 /* LZ4HC_CLEVEL_MAX; LZ4F clamps there too */
#define CM_COMPRESS__ZSTD_LEVEL_DEFAULT 3

/* Java's xerial SnappyOutputStream: magic, version, min-compatible version, then blocks. */
static const uint8_t cm_compress__xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
#define CM_COMPRESS__XERIAL_HEADER   16
#define CM_COMPRESS__XERIAL_VERSION  1
#define CM_COMPRESS__XERIAL_BLOCK_IN (32 * 1024)

/*
 * Streaming zstd producers (the Java client) declare a window from their level without knowing
 * the size: at most 8 MiB up to level 19. We accept that much, or a window covering out_max.
 */
#define CM_COMPRESS__ZSTD_WINDOW_LOG_MIN 23

static const char *const cm_compress__names[] = {
    [CM_CODEC_NONE] = "none", [CM_CODEC_GZIP] = "gzip", [CM_CODEC_SNAPPY] = "snappy",
    [CM_CODEC_LZ4] = "lz4",   [CM_CODEC_ZSTD] = "zstd",
};
#define CM_COMPRESS__N_CODECS ((int)(sizeof(cm_compress__names) / sizeof(cm_compress__names[0])))

/* Stands in for a NULL input of length 0, so no library sees a NULL pointer. */
static const uint8_t cm_compress__empty[1];

const char *cm_codec_name(int codec)
{
    if (codec < 0 || codec >= CM_COMPRESS__N_CODECS)
        return "unknown";
    return cm_compress__names[codec];
}

int cm_codec_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int c = 0; c < CM_COMPRESS__N_CODECS; c++)
        if (strcmp(name, cm_compress__names[c]) == 0)
            return c;
    return -1;
}

/* ---- the bounded output buffer ---- */

/* Decompression output: grows geometrically and never past `lim` = out_max + 1 bytes. */
typedef struct cm_compress__out {
    uint8_t *buf;
    size_t len;   /* bytes written */
    size_t cap;   /* bytes allocated at buf */
    size_t max;   /* the caller's out_max */
    size_t lim;   /* max + 1: filling it proves the output is too large */
    size_t first; /* capacity of the first allocation */
} cm_compress__out_t;

static void cm_compress__out_init(cm_compress__out_t *o, size_t out_max, size_t first)
{
    o->buf = NULL;
    o->len = 0;
    o->cap = 0;
    o->max = out_max;
    o->lim = out_max < SIZE_MAX ? out_max + 1 : SIZE_MAX;
    if (first < CM_COMPRESS__OUT_MIN)
        first = CM_COMPRESS__OUT_MIN;
    o->first = first < o->lim ? first : o->lim;
}

/* Makes room for at least `need` (and at least 1) more bytes; ELIMIT past o->lim. */
static int cm_compress__out_reserve(cm_compress__out_t *o, size_t need)
{
    if (need == 0)
        need = 1;
    if (need > o->lim - o->len)
        return CM_COMPRESS_ELIMIT;
    if (need <= o->cap - o->len)
        return 0;
    size_t cap;
    if (o->cap == 0)
        cap = o->first;
    else /* doubling keeps the copying done by realloc linear in the output size */
        cap = o->cap > o->lim / 2 ? o->lim : o->cap * 2;
    if (cap < o->len + need)
        cap = o->len + need;
    uint8_t *buf = realloc(o->buf, cap);
    if (buf == NULL)
        return CM_COMPRESS_ENOMEM;
    o->buf = buf;
    o->cap = cap;
    return 0;
}

/* Hands the buffer to the caller, giving back the slack of geometric growth. */
static int cm_compress__out_finish(cm_compress__out_t *o, uint8_t **out, size_t *out_len)
{
    if (o->len > o->max) {
        free(o->buf);
        return CM_COMPRESS_ELIMIT;
    }
    uint8_t *buf = realloc(o->buf, o->len > 0 ? o->len : 1);
    if (buf == NULL) {
        if (o->buf == NULL)
            return CM_COMPRESS_ENOMEM;
        buf = o->buf; /* a failed shrink leaves the block as it was */
    }
    *out = buf;
    *out_len = o->len;
    return 0;
}

/* ---- decompression, one function per codec ---- */

static int cm_compress__copy(const uint8_t *in, size_t in_len, cm_compress__out_t *o)
{
    if (in_len > o->max)
        return CM_COMPRESS_ELIMIT;
    int err = cm_compress__out_reserve(o, in_len);
    if (err)
        return err;
    memcpy(o->buf, in, in_len);
    o->len = in_len;
    return 0;
}

static int cm_compress__gunzip(const uint8_t *in, size_t in_len, cm_compress__out_t *o)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return CM_COMPRESS_ENOMEM;

    size_t unfed = in_len; /* zlib counts in uInt, so big inputs go in pieces */
    int err = 0;
    for (;;) {
        if (zs.avail_in == 0 && unfed > 0) {
            zs.next_in = in + (in_len - unfed);
            zs.avail_in = unfed < UINT_MAX ? (uInt)unfed : UINT_MAX;
            unfed -= zs.avail_in;
        }
        if (o->len == o->cap && (err = cm_compress__out_reserve(o, 1)) != 0)
            break;
        size_t room = o->cap - o->len;
        zs.next_out = o->buf + o->len;
        zs.avail_out = room < UINT_MAX ? (uInt)room : UINT_MAX;
        int rc = inflate(&zs, Z_NO_FLUSH);
        o->len = (size_t)(zs.next_out - o->buf);
        if (rc == Z_OK)
            continue;
        if (rc == Z_STREAM_END) {
            err = 0;
            if (zs.avail_in == 0 && unfed == 0)
                break;
            /* Another member follows (gzip a b > ab); anything else fails its header. */
            if (inflateReset(&zs) != Z_OK) {
                err = CM_COMPRESS_ECORRUPT;
                break;
            }
            continue;
        }
        /* Z_BUF_ERROR here means the input ended before the stream did. */
        err = rc == Z_MEM_ERROR ? CM_COMPRESS_ENOMEM : CM_COMPRESS_ECORRUPT;
        break;
    }
    inflateEnd(&zs);
    return err;
}

/* One raw snappy block, appended to the output. */
static int cm_compress__unsnappy_block(const uint8_t *blk, size_t blk_len, cm_compress__out_t *o)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)blk, blk_len, &ulen) != SNAPPY_OK)
        return CM_COMPRESS_ECORRUPT;
    /* The length is a claim; checking it first keeps a lie from sizing the allocation. */
    if (ulen > o->max - o->len)
        return CM_COMPRESS_ELIMIT;
    int err = cm_compress__out_reserve(o, ulen);
    if (err)
        return err;
    size_t got = ulen;
    if (snappy_uncompress((const char *)blk, blk_len, (char *)o->buf + o->len, &got) != SNAPPY_OK ||
        got != ulen)
        return CM_COMPRESS_ECORRUPT;
    o->len += ulen;
    return 0;
}

static int cm_compress__unxerial(const uint8_t *in, size_t in_len, cm_compress__out_t *o)
{
    if (in_len < CM_COMPRESS__XERIAL_HEADER)
        return CM_COMPRESS_ECORRUPT;
    /* The writer names the oldest reader version that understands it; we are version 1. */
    if (cm_be32(in + 12) > CM_COMPRESS__XERIAL_VERSION)
        return CM_COMPRESS_ECORRUPT;
    /*
     * The Java writer emits the header with its first block, and a batch always holds a
     * record, so a bare header is a truncated stream.
     */
    if (in_len == CM_COMPRESS__XERIAL_HEADER)
        return CM_COMPRESS_ECORRUPT;

    size_t pos = CM_COMPRESS__XERIAL_HEADER;
    while (pos < in_len) {
        if (in_len - pos < 4)
            return CM_COMPRESS_ECORRUPT;
        uint32_t blk_len = cm_be32(in + pos);
        pos += 4;
        if (blk_len > INT32_MAX || blk_len > in_len - pos)
            return CM_COMPRESS_ECORRUPT;
        int err = cm_compress__unsnappy_block(in + pos, blk_len, o);
        if (err)
            return err;
        pos += blk_len;
    }
    return 0;
}

static int cm_compress__unsnappy(const uint8_t *in, size_t in_len, cm_compress__out_t *o)
{
    /*
     * A raw block cannot begin with the xerial magic: after its length varint (0x82 0x53) the
     * next byte 'N' would be a back-reference into an empty output.
     */
    if (in_len >= sizeof(cm_compress__xerial_magic) &&
        memcmp(in, cm_compress__xerial_magic, sizeof(cm_compress__xerial_magic)) == 0)
        return cm_compress__unxerial(in, in_len, o);
    return cm_compress__unsnappy_block(in, in_len, o);
}

static int cm_compress__unlz4(const uint8_t *in, size_t in_len, cm_compress__out_t *o)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return CM_COMPRESS_ENOMEM;

    size_t pos = 0;
    size_t hint = 1; /* 0 once a frame is complete */
    int err = 0;
    for (;;) {
        if (o->len == o->cap && (err = cm_compress__out_reserve(o, 1)) != 0)
            break;
        size_t room = o->cap - o->len;
        size_t dst_n = room;
        size_t src_n = in_len - pos;
        hint = LZ4F_decompress(dctx, o->buf + o->len, &dst_n, in + pos, &src_n, NULL);
        if (LZ4F_isError(hint)) {
            err = CM_COMPRESS_ECORRUPT;
            break;
        }
        pos += src_n;
        o->len += dst_n;
        /* With input left, or a full buffer, the frame may have more to give. */
        if (pos == in_len && (hint == 0 || dst_n < room))
            break;
        if (src_n == 0 && dst_n == 0) {
            err = CM_COMPRESS_ECORRUPT; /* no progress: never loop on hostile input */
            break;
        }
    }
    if (err == 0 && hint != 0)
        err = CM_COMPRESS_ECORRUPT; /* the input ended inside a frame */
    LZ4F_freeDecompressionContext(dctx);
    return err;
}

/* The largest window log to accept: see CM_COMPRESS__ZSTD_WINDOW_LOG_MIN. */
static int cm_compress__zstd_window_log(size_t out_max)
{
    ZSTD_bounds b = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax);
    int log = CM_COMPRESS__ZSTD_WINDOW_LOG_MIN;
    while (log < b.upperBound && ((size_t)1 << log) < out_max)
        log++;
    return log;
}

static int cm_compress__zstd_err(size_t rc)
{
    switch (ZSTD_getErrorCode(rc)) {
    case ZSTD_error_frameParameter_windowTooLarge:
        return CM_COMPRESS_ELIMIT;
    case ZSTD_error_memory_allocation:
        return CM_COMPRESS_ENOMEM;
    default:
        return CM_COMPRESS_ECORRUPT;
    }
}

static int cm_compress__unzstd(const uint8_t *in, size_t in_len, cm_compress__out_t *o)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (dctx == NULL)
        return CM_COMPRESS_ENOMEM;
    int err = 0;
    size_t rc =
        ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, cm_compress__zstd_window_log(o->max));
    if (ZSTD_isError(rc)) {
        err = CM_COMPRESS_ENOMEM;
        goto out_free_dctx;
    }

    /*
     * Streaming, because producers need not record the content size. The loop ends: zstd
     * fails a call after a few that could make no progress.
     */
    ZSTD_inBuffer src = { in, in_len, 0 };
    for (;;) {
        if (o->len == o->cap && (err = cm_compress__out_reserve(o, 1)) != 0)
            break;
        ZSTD_outBuffer dst = { o->buf + o->len, o->cap - o->len, 0 };
        rc = ZSTD_decompressStream(dctx, &dst, &src);
        o->len += dst.pos;
        if (ZSTD_isError(rc)) {
            err = cm_compress__zstd_err(rc);
            break;
        }
        /* rc is 0 when a frame is done and flushed; a full buffer may hide more output. */
        if (src.pos == src.size && (rc == 0 || dst.pos < dst.size))
            break;
    }
    if (err == 0 && rc != 0)
        err = CM_COMPRESS_ECORRUPT; /* the input ended inside a frame */
out_free_dctx:
    ZSTD_freeDCtx(dctx);
    return err;
}

int cm_decompress(int codec, const uint8_t *in, size_t in_len, size_t out_max, uint8_t **out,
                  size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (codec < 0 || codec >= CM_COMPRESS__N_CODECS)
        return CM_COMPRESS_ECODEC;
    if (in_len == 0) {
        if (codec != CM_CODEC_NONE)
            return CM_COMPRESS_ECORRUPT;
        in = cm_compress__empty;
    }

    cm_compress__out_t o;
    size_t guess =
        in_len <= SIZE_MAX / CM_COMPRESS__OUT_RATIO ? in_len * CM_COMPRESS__OUT_RATIO : SIZE_MAX;
    cm_compress__out_init(&o, out_max, guess);
    int err;
    switch ((cm_codec_t)codec) {
    case CM_CODEC_NONE:
        err = cm_compress__copy(in, in_len, &o);
        break;
    case CM_CODEC_GZIP:
        err = cm_compress__gunzip(in, in_len, &o);
        break;
    case CM_CODEC_SNAPPY:
        err = cm_compress__unsnappy(in, in_len, &o);
        break;
    case CM_CODEC_LZ4:
        err = cm_compress__unlz4(in, in_len, &o);
        break;
    case CM_CODEC_ZSTD:
        err = cm_compress__unzstd(in, in_len, &o);
        break;
    default:
        err = CM_COMPRESS_ECODEC;
        break;
    }
    if (err) {
        free(o.buf);
        return err;
    }
    return cm_compress__out_finish(&o, out, out_len);
}

/* ---- compression: each writes into one buffer sized by the codec's worst case ---- */

static int cm_compress__gzip(int level, const uint8_t *in, size_t in_len, uint8_t **out,
                             size_t *out_len)
{
    if (level <= 0)
        level = Z_DEFAULT_COMPRESSION;
    else if (level > CM_COMPRESS__GZIP_LEVEL_MAX)
        level = CM_COMPRESS__GZIP_LEVEL_MAX;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return CM_COMPRESS_ENOMEM;

    int err = 0;
    /* in_len <= INT32_MAX, so the input and its bound each fit zlib's uInt. */
    size_t cap = deflateBound(&zs, (uLong)in_len);
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        err = CM_COMPRESS_ENOMEM;
        goto out_deflate_end;
    }
    zs.next_in = in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    /* With deflateBound's room, one Z_FINISH call is documented to finish the stream. */
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        free(buf);
        err = CM_COMPRESS_ENOMEM;
        goto out_deflate_end;
    }
    *out = buf;
    *out_len = zs.total_out;
out_deflate_end:
    deflateEnd(&zs);
    return err;
}

static int cm_compress__xerial(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    /* An empty input still gets one (empty) block: a bare header reads as truncated. */
    size_t n_blocks = in_len == 0 ? 1 : (in_len - 1) / CM_COMPRESS__XERIAL_BLOCK_IN + 1;
    size_t cap = CM_COMPRESS__XERIAL_HEADER +
                 n_blocks * (4 + snappy_max_compressed_length(CM_COMPRESS__XERIAL_BLOCK_IN));
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return CM_COMPRESS_ENOMEM;

    memcpy(buf, cm_compress__xerial_magic, sizeof(cm_compress__xerial_magic));
    cm_put_be32(buf + 8, CM_COMPRESS__XERIAL_VERSION);
    cm_put_be32(buf + 12, CM_COMPRESS__XERIAL_VERSION);
    size_t pos = CM_COMPRESS__XERIAL_HEADER;
    size_t done = 0;
    do {
        size_t n = in_len - done;
        if (n > CM_COMPRESS__XERIAL_BLOCK_IN)
            n = CM_COMPRESS__XERIAL_BLOCK_IN;
        size_t blk_len = cap - pos - 4;
        if (snappy_compress((const char *)in + done, n, (char *)buf + pos + 4, &blk_len) !=
            SNAPPY_OK) {
            free(buf);
            return CM_COMPRESS_ENOMEM;
        }
        cm_put_be32(buf + pos, (uint32_t)blk_len);
        pos += 4 + blk_len;
        done += n;
    } while (done < in_len);
    *out = buf;
    *out_len = pos;
    return 0;
}

static int cm_compress__lz4(int level, const uint8_t *in, size_t in_len, uint8_t **out,
                            size_t *out_len)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    /* The Java client reads only independent blocks. */
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.compressionLevel = level <= 0                           ? 0
                             : level > CM_COMPRESS__LZ4_LEVEL_MAX ? CM_COMPRESS__LZ4_LEVEL_MAX
                                                                  : level;
    size_t cap = LZ4F_compressFrameBound(in_len, &prefs);
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return CM_COMPRESS_ENOMEM;
    size_t n = LZ4F_compressFrame(buf, cap, in, in_len, &prefs);
    if (LZ4F_isError(n)) {
        free(buf);
        return CM_COMPRESS_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static int cm_compress__zstd(int level, const uint8_t *in, size_t in_len, uint8_t **out,
                             size_t *out_len)
{
    if (level <= 0)
        level = CM_COMPRESS__ZSTD_LEVEL_DEFAULT;
    else if (level > ZSTD_maxCLevel())
        level = ZSTD_maxCLevel();
    size_t cap = ZSTD_compressBound(in_len);
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return CM_COMPRESS_ENOMEM;
    size_t n = ZSTD_compress(buf, cap, in, in_len, level);
    if (ZSTD_isError(n)) {
        free(buf);
        return CM_COMPRESS_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int cm_compress(int codec, int level, const uint8_t *in, size_t in_len, uint8_t **out,
                size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (codec < 0 || codec >= CM_COMPRESS__N_CODECS)
        return CM_COMPRESS_ECODEC;
    if (in_len > CM_COMPRESS__IN_MAX)
        return CM_COMPRESS_ELIMIT;
    if (in_len == 0)
        in = cm_compress__empty;

    uint8_t *buf = NULL;
    size_t len = 0;
    int err;
    switch ((cm_codec_t)codec) {
    case CM_CODEC_NONE:
        buf = malloc(in_len > 0 ? in_len : 1);
        err = buf == NULL ? CM_COMPRESS_ENOMEM : 0;
        if (buf != NULL) {
            memcpy(buf, in, in_len);
            len = in_len;
        }
        break;
    case CM_CODEC_GZIP:
        err = cm_compress__gzip(level, in, in_len, &buf, &len);
        break;
    case CM_CODEC_SNAPPY:
        err = cm_compress__xerial(in, in_len, &buf, &len);
        break;
    case CM_CODEC_LZ4:
        err = cm_compress__lz4(level, in, in_len, &buf, &len);
        break;
    case CM_CODEC_ZSTD:
        err = cm_compress__zstd(level, in, in_len, &buf, &len);
        break;
    default:
        err = CM_COMPRESS_ECODEC;
        break;
    }
    if (err)
        return err;
    /* The worst-case buffer can be far larger than what compressible data needs. */
    uint8_t *fit = realloc(buf, len > 0 ? len : 1);
    *out = fit != NULL ? fit : buf;
    *out_len = len;
    return 0;
}
