/*
 * Record-batch compression: round trips for every codec, the framings real clients write, and
 * hostile input (garbage, truncation, bit flips, decompression bombs).
 */
#include "cmocka_all.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <snappy-c.h>
#include <zstd.h>

#include "cm_compress.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static const int compressing_codecs[] = { CM_CODEC_GZIP, CM_CODEC_SNAPPY, CM_CODEC_LZ4,
                                          CM_CODEC_ZSTD };
#define N_COMPRESSING ((int)(sizeof(compressing_codecs) / sizeof(compressing_codecs[0])))

/* ---- inputs ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

/* Incompressible bytes. */
static void fill_random(uint8_t *buf, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(rng_next(&s) >> 56);
}

/* Text-like bytes from a small vocabulary: compresses about as well as JSON records do. */
static void fill_text(uint8_t *buf, size_t n, uint64_t seed)
{
    static const char *const words[] = { "tenant",   "topic",      "offset", "partition",
                                         "{\"id\":", "42",         "value",  "key",
                                         "\"ts\":",  "1700000000", ", ",     "}\n" };
    uint64_t s = seed | 1;
    size_t i = 0;
    while (i < n) {
        const char *w = words[rng_next(&s) % (sizeof(words) / sizeof(words[0]))];
        for (size_t j = 0; w[j] != '\0' && i < n; j++)
            buf[i++] = (uint8_t)w[j];
    }
}

static uint8_t *compress_ok(int codec, const uint8_t *in, size_t n, size_t *z_len)
{
    uint8_t *z = NULL;
    assert_int_equal(cm_compress(codec, 0, in, n, &z, z_len), 0);
    assert_non_null(z);
    return z;
}

/* The length of the xerial block whose length field is at `z + pos`. */
static size_t xerial_block_len(const uint8_t *z, size_t pos)
{
    return ((size_t)z[pos] << 24) | ((size_t)z[pos + 1] << 16) | ((size_t)z[pos + 2] << 8) |
           z[pos + 3];
}

/* Decompresses expecting failure `want`, and checks the outputs were cleared. */
static void decompress_fails(int codec, const uint8_t *z, size_t z_len, size_t out_max, int want)
{
    uint8_t *out = (uint8_t *)"sentinel";
    size_t out_len = 12345;
    assert_int_equal(cm_decompress(codec, z, z_len, out_max, &out, &out_len), want);
    assert_null(out);
    assert_int_equal(out_len, 0);
}

/*
 * Compresses `in`, decompresses it with out_max exactly its size, and checks one byte less is
 * ELIMIT.
 */
static void check_round_trip(int codec, const uint8_t *in, size_t n)
{
    size_t z_len;
    uint8_t *z = compress_ok(codec, in, n, &z_len);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cm_decompress(codec, z, z_len, n, &out, &out_len), 0);
    assert_non_null(out);
    assert_int_equal(out_len, n);
    assert_true(n == 0 || memcmp(out, in, n) == 0);
    free(out);
    if (n > 0)
        decompress_fails(codec, z, z_len, n - 1, CM_COMPRESS_ELIMIT);
    free(z);
}

static void check_round_trips(int codec)
{
    size_t n = MiB + 3;
    uint8_t *buf = malloc(n);
    assert_non_null(buf);

    check_round_trip(codec, NULL, 0);
    check_round_trip(codec, (const uint8_t *)"x", 1);
    fill_text(buf, 5000, 1);
    check_round_trip(codec, buf, 5000);
    /* Sizes around snappy's 32 KiB xerial blocks and lz4's 64 KiB blocks. */
    check_round_trip(codec, buf, 32 * KiB);
    check_round_trip(codec, buf, 32 * KiB + 1);
    fill_text(buf, n, 2);
    check_round_trip(codec, buf, 64 * KiB + 7);
    check_round_trip(codec, buf, n);
    fill_random(buf, n, 3);
    check_round_trip(codec, buf, MiB);
    check_round_trip(codec, buf, n);
    memset(buf, 0, n);
    check_round_trip(codec, buf, MiB);
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t) "abcdefgh"[i % 8];
    check_round_trip(codec, buf, n);
    free(buf);
}

static void test_compress__none_round_trip(void **state)
{
    (void)state;
    check_round_trips(CM_CODEC_NONE);
}

static void test_compress__gzip_round_trip(void **state)
{
    (void)state;
    check_round_trips(CM_CODEC_GZIP);
}

static void test_compress__snappy_round_trip(void **state)
{
    (void)state;
    check_round_trips(CM_CODEC_SNAPPY);
}

static void test_compress__lz4_round_trip(void **state)
{
    (void)state;
    check_round_trips(CM_CODEC_LZ4);
}

static void test_compress__zstd_round_trip(void **state)
{
    (void)state;
    check_round_trips(CM_CODEC_ZSTD);
}

/* Compressible data shrinks, and out-of-range levels are clamped rather than refused. */
static void test_compress__levels_are_clamped(void **state)
{
    (void)state;
    static const int levels[] = { -7, 0, 1, 3, 9, 12, 19, 22, 1000 };
    uint8_t buf[20000];
    fill_text(buf, sizeof(buf), 4);
    for (int c = 0; c < N_COMPRESSING; c++) {
        for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
            uint8_t *z = NULL;
            uint8_t *out = NULL;
            size_t z_len, out_len;
            int codec = compressing_codecs[c];
            assert_int_equal(cm_compress(codec, levels[l], buf, sizeof(buf), &z, &z_len), 0);
            assert_true(z_len < sizeof(buf) / 2);
            assert_int_equal(cm_decompress(codec, z, z_len, sizeof(buf), &out, &out_len), 0);
            assert_int_equal(out_len, sizeof(buf));
            assert_memory_equal(out, buf, sizeof(buf));
            free(out);
            free(z);
        }
    }
}

static void test_compress__codec_name_parse_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = { "none", "gzip", "snappy", "lz4", "zstd" };
    for (int c = CM_CODEC_NONE; c <= CM_CODEC_ZSTD; c++) {
        assert_string_equal(cm_codec_name(c), names[c]);
        assert_int_equal(cm_codec_parse(cm_codec_name(c)), c);
    }
    assert_string_equal(cm_codec_name(-1), "unknown");
    assert_string_equal(cm_codec_name(5), "unknown");
    assert_string_equal(cm_codec_name(7), "unknown");
    assert_int_equal(cm_codec_parse("unknown"), -1);
    assert_int_equal(cm_codec_parse("GZIP"), -1);
    assert_int_equal(cm_codec_parse(""), -1);
    assert_int_equal(cm_codec_parse(NULL), -1);
}

static void test_compress__unknown_codec_is_ecodec(void **state)
{
    (void)state;
    static const int bad[] = { -1, 5, 6, 7, 1000 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *out = (uint8_t *)"sentinel";
        size_t out_len = 1;
        assert_int_equal(cm_compress(bad[i], 0, (const uint8_t *)"abc", 3, &out, &out_len),
                         CM_COMPRESS_ECODEC);
        assert_null(out);
        assert_int_equal(out_len, 0);
        decompress_fails(bad[i], (const uint8_t *)"abc", 3, MiB, CM_COMPRESS_ECODEC);
    }
}

/* NONE copies, empty included, and still honours out_max. */
static void test_compress__none_copies_within_limit(void **state)
{
    (void)state;
    uint8_t *out = NULL;
    size_t out_len = 1;
    assert_int_equal(cm_decompress(CM_CODEC_NONE, NULL, 0, 0, &out, &out_len), 0);
    assert_non_null(out);
    assert_int_equal(out_len, 0);
    free(out);
    assert_int_equal(
        cm_decompress(CM_CODEC_NONE, (const uint8_t *)"0123456789", 10, 10, &out, &out_len), 0);
    assert_int_equal(out_len, 10);
    assert_memory_equal(out, "0123456789", 10);
    free(out);
    decompress_fails(CM_CODEC_NONE, (const uint8_t *)"0123456789", 10, 9, CM_COMPRESS_ELIMIT);
}

static void test_compress__empty_input_is_corrupt(void **state)
{
    (void)state;
    for (int c = 0; c < N_COMPRESSING; c++) {
        decompress_fails(compressing_codecs[c], NULL, 0, MiB, CM_COMPRESS_ECORRUPT);
        decompress_fails(compressing_codecs[c], (const uint8_t *)"x", 0, MiB, CM_COMPRESS_ECORRUPT);
    }
}

/* `printf 'hello' | gzip -n`, as the gzip command writes it. */
static void test_compress__gzip_decodes_gzip_n_vector(void **state)
{
    (void)state;
    static const uint8_t hello_gz[25] = {
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd,
        0xc9, 0xc9, 0x07, 0x00, 0x86, 0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
    };
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cm_decompress(CM_CODEC_GZIP, hello_gz, sizeof(hello_gz), 5, &out, &out_len),
                     0);
    assert_int_equal(out_len, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    decompress_fails(CM_CODEC_GZIP, hello_gz, sizeof(hello_gz), 4, CM_COMPRESS_ELIMIT);

    /* A flipped bit in the data fails the member's CRC-32. */
    uint8_t bad[sizeof(hello_gz)];
    memcpy(bad, hello_gz, sizeof(bad));
    bad[18] ^= 0x01;
    decompress_fails(CM_CODEC_GZIP, bad, sizeof(bad), 5, CM_COMPRESS_ECORRUPT);
}

/* Two members (gzip) or frames (lz4, zstd) one after the other decode as one stream. */
static void test_compress__concatenated_streams_decode(void **state)
{
    (void)state;
    static const int codecs[] = { CM_CODEC_GZIP, CM_CODEC_LZ4, CM_CODEC_ZSTD };
    for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        size_t a_len, b_len;
        uint8_t *a = compress_ok(codecs[c], (const uint8_t *)"hello ", 6, &a_len);
        uint8_t *b = compress_ok(codecs[c], (const uint8_t *)"world", 5, &b_len);
        uint8_t *ab = malloc(a_len + b_len);
        assert_non_null(ab);
        memcpy(ab, a, a_len);
        memcpy(ab + a_len, b, b_len);

        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(cm_decompress(codecs[c], ab, a_len + b_len, 11, &out, &out_len), 0);
        assert_int_equal(out_len, 11);
        assert_memory_equal(out, "hello world", 11);
        free(out);
        decompress_fails(codecs[c], ab, a_len + b_len, 10, CM_COMPRESS_ELIMIT);
        free(ab);
        free(b);
        free(a);
    }
}

/* librdkafka sends snappy as one raw block, without xerial framing. */
static void test_compress__snappy_raw_block_decodes(void **state)
{
    (void)state;
    uint8_t in[5000];
    fill_text(in, sizeof(in), 5);
    size_t z_len = snappy_max_compressed_length(sizeof(in));
    char *z = malloc(z_len);
    assert_non_null(z);
    assert_int_equal(snappy_compress((const char *)in, sizeof(in), z, &z_len), SNAPPY_OK);

    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(
        cm_decompress(CM_CODEC_SNAPPY, (const uint8_t *)z, z_len, sizeof(in), &out, &out_len), 0);
    assert_int_equal(out_len, sizeof(in));
    assert_memory_equal(out, in, sizeof(in));
    free(out);
    decompress_fails(CM_CODEC_SNAPPY, (const uint8_t *)z, z_len, sizeof(in) - 1,
                     CM_COMPRESS_ELIMIT);
    free(z);

    /* The raw block of nothing is one byte, the length 0. */
    static const uint8_t empty_block[1] = { 0 };
    assert_int_equal(cm_decompress(CM_CODEC_SNAPPY, empty_block, 1, 0, &out, &out_len), 0);
    assert_int_equal(out_len, 0);
    free(out);
}

/* What the Java client writes and reads: magic, version 1, compat 1, blocks of <= 32 KiB. */
static void test_compress__snappy_writes_xerial_framing(void **state)
{
    (void)state;
    static const uint8_t header[16] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                        0,    0,   0,   1,   0,   0,   0,   1 };
    size_t n = 3 * 32 * KiB + 1696;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    fill_text(in, n, 6);
    size_t z_len;
    uint8_t *z = compress_ok(CM_CODEC_SNAPPY, in, n, &z_len);
    assert_true(z_len > sizeof(header));
    assert_memory_equal(z, header, sizeof(header));

    static const size_t want_ulen[] = { 32 * KiB, 32 * KiB, 32 * KiB, 1696 };
    size_t pos = sizeof(header);
    size_t blocks = 0;
    while (pos < z_len) {
        assert_true(z_len - pos >= 4);
        size_t blk_len = xerial_block_len(z, pos);
        pos += 4;
        assert_true(blk_len <= z_len - pos);
        size_t ulen;
        assert_int_equal(snappy_uncompressed_length((const char *)z + pos, blk_len, &ulen),
                         SNAPPY_OK);
        assert_true(blocks < 4);
        assert_int_equal(ulen, want_ulen[blocks]);
        pos += blk_len;
        blocks++;
    }
    assert_int_equal(blocks, 4);
    free(z);
    free(in);

    /* Nothing compresses to the header and one empty block, never to a bare header. */
    z = compress_ok(CM_CODEC_SNAPPY, NULL, 0, &z_len);
    assert_int_equal(z_len, sizeof(header) + 4 + 1);
    assert_memory_equal(z, header, sizeof(header));
    free(z);
}

/* The Java client reads only LZ4 frames (KIP-57) of independent blocks. */
static void test_compress__lz4_writes_independent_block_frames(void **state)
{
    (void)state;
    static const uint8_t magic[4] = { 0x04, 0x22, 0x4d, 0x18 };
    /* Several blocks: for one, LZ4F_compressFrame picks independence by itself. */
    size_t n = 200 * KiB;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    fill_text(in, n, 15);
    size_t z_len;
    uint8_t *z = compress_ok(CM_CODEC_LZ4, in, n, &z_len);
    assert_true(z_len > 7);
    assert_memory_equal(z, magic, sizeof(magic));
    assert_int_equal(z[4] >> 6, 1);         /* FLG: frame version 01 */
    assert_int_equal(z[4] & 0x20, 0x20);    /* FLG: block independence */
    assert_int_equal((z[5] >> 4) & 0x7, 4); /* BD: 64 KiB blocks, the library default */
    free(z);
    free(in);
}

/* Clearly invalid input for each codec; raw snappy included, since any bytes might be one. */
static void test_compress__garbage_is_corrupt(void **state)
{
    (void)state;
    static const uint8_t magics[][8] = {
        { 0x1f, 0x8b, 0x08, 0x00 },                /* gzip */
        { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 }, /* xerial */
        { 0x04, 0x22, 0x4d, 0x18 },                /* lz4 frame */
        { 0x28, 0xb5, 0x2f, 0xfd },                /* zstd frame */
    };
    static const size_t magic_len[] = { 4, 8, 4, 4 };
    uint8_t buf[1000];
    for (int c = 0; c < N_COMPRESSING; c++) {
        int codec = compressing_codecs[c];
        const char *text = "this is not compressed data, just some words";
        decompress_fails(codec, (const uint8_t *)text, strlen(text), MiB, CM_COMPRESS_ECORRUPT);
        fill_random(buf, sizeof(buf), 7);
        decompress_fails(codec, buf, sizeof(buf), MiB, CM_COMPRESS_ECORRUPT);
        memset(buf, 0xff, 64);
        decompress_fails(codec, buf, 64, MiB, CM_COMPRESS_ECORRUPT);
        memset(buf, 0, 64);
        decompress_fails(codec, buf, 64, MiB, CM_COMPRESS_ECORRUPT);
        /* A right magic number and nothing sensible after it. */
        for (int fill = 0; fill < 2; fill++) {
            memset(buf, fill ? 0xff : 0, 64);
            memcpy(buf, magics[c], magic_len[c]);
            decompress_fails(codec, buf, 64, MiB, CM_COMPRESS_ECORRUPT);
        }
    }
}

/* A valid stream followed by junk is not a valid stream. */
static void test_compress__trailing_junk_is_corrupt(void **state)
{
    (void)state;
    uint8_t in[3000];
    fill_text(in, sizeof(in), 8);
    for (int c = 0; c < N_COMPRESSING; c++) {
        size_t z_len;
        uint8_t *z = compress_ok(compressing_codecs[c], in, sizeof(in), &z_len);
        uint8_t *zj = malloc(z_len + 4);
        assert_non_null(zj);
        memcpy(zj, z, z_len);
        memcpy(zj + z_len, "junk", 4);
        decompress_fails(compressing_codecs[c], zj, z_len + 4, MiB, CM_COMPRESS_ECORRUPT);
        free(zj);
        free(z);
    }
}

/* Every proper prefix of `z` fails as corrupt. */
static void check_every_truncation(int codec, const uint8_t *z, size_t z_len)
{
    for (size_t cut = 0; cut < z_len; cut++)
        decompress_fails(codec, z, cut, MiB, CM_COMPRESS_ECORRUPT);
}

static void test_compress__every_truncation_is_corrupt(void **state)
{
    (void)state;
    uint8_t in[5000];
    fill_text(in, sizeof(in), 9);
    for (int c = 0; c < N_COMPRESSING; c++) {
        size_t z_len;
        uint8_t *z = compress_ok(compressing_codecs[c], in, sizeof(in), &z_len);
        check_every_truncation(compressing_codecs[c], z, z_len);
        free(z);
        /* An empty input's stream is the shortest each codec has. */
        z = compress_ok(compressing_codecs[c], NULL, 0, &z_len);
        check_every_truncation(compressing_codecs[c], z, z_len);
        free(z);
    }

    /* A raw snappy block knows its length, so it too notices any cut. */
    size_t z_len = snappy_max_compressed_length(sizeof(in));
    char *z = malloc(z_len);
    assert_non_null(z);
    assert_int_equal(snappy_compress((const char *)in, sizeof(in), z, &z_len), SNAPPY_OK);
    check_every_truncation(CM_CODEC_SNAPPY, (const uint8_t *)z, z_len);
    free(z);
}

/* True when `cut` falls between two blocks of the xerial stream `z` (after the first). */
static bool xerial_is_block_end(const uint8_t *z, size_t cut)
{
    size_t pos = 16;
    while (pos < cut)
        pos += 4 + xerial_block_len(z, pos);
    return pos == cut && cut > 16;
}

/* Streams of several blocks, cut at sampled points. */
static void test_compress__multi_block_truncation_is_corrupt(void **state)
{
    (void)state;
    size_t n = 200 * KiB;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    fill_text(in, n, 10);
    for (int c = 0; c < N_COMPRESSING; c++) {
        int codec = compressing_codecs[c];
        size_t z_len;
        uint8_t *z = compress_ok(codec, in, n, &z_len);
        for (size_t cut = 0; cut < z_len; cut += cut < 64 || z_len - cut < 64 ? 1 : 97) {
            /* See test_compress__xerial_cut_between_blocks_reads_as_shorter. */
            if (codec == CM_CODEC_SNAPPY && xerial_is_block_end(z, cut))
                continue;
            decompress_fails(codec, z, cut, n, CM_COMPRESS_ECORRUPT);
        }
        free(z);
    }
    free(in);
}

/*
 * Xerial framing has neither an end marker nor a total length, so a stream cut exactly between
 * two blocks reads as a shorter valid one. The record batch's CRC and record count are what
 * catch that, not the codec.
 */
static void test_compress__xerial_cut_between_blocks_reads_as_shorter(void **state)
{
    (void)state;
    size_t n = 200 * KiB;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    fill_text(in, n, 10);
    size_t z_len;
    uint8_t *z = compress_ok(CM_CODEC_SNAPPY, in, n, &z_len);
    size_t pos = 16;
    size_t blocks = 0;
    while (pos < z_len) {
        pos += 4 + xerial_block_len(z, pos);
        blocks++;
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal(cm_decompress(CM_CODEC_SNAPPY, z, pos, n, &out, &out_len), 0);
        size_t want = blocks * 32 * KiB < n ? blocks * 32 * KiB : n;
        assert_int_equal(out_len, want);
        assert_memory_equal(out, in, want);
        free(out);
    }
    assert_int_equal(pos, z_len);
    assert_int_equal(blocks, 7); /* 200 KiB in blocks of 32 KiB */
    free(z);
    free(in);
}

/* Random damage never crashes, leaks or exceeds the limit; it may go unnoticed (no checksum). */
static void test_compress__survives_bit_flips(void **state)
{
    (void)state;
    uint8_t in[5000];
    fill_text(in, sizeof(in), 11);
    uint64_t s = 12;
    for (int c = 0; c < N_COMPRESSING; c++) {
        size_t z_len;
        uint8_t *z = compress_ok(compressing_codecs[c], in, sizeof(in), &z_len);
        uint8_t *bad = malloc(z_len);
        assert_non_null(bad);
        for (int iter = 0; iter < 3000; iter++) {
            memcpy(bad, z, z_len);
            int flips = 1 + (int)(rng_next(&s) % 3);
            for (int f = 0; f < flips; f++)
                bad[rng_next(&s) % z_len] ^= (uint8_t)(1u << (rng_next(&s) % 8));
            size_t len = iter % 4 == 0 ? (size_t)(rng_next(&s) % z_len) + 1 : z_len;
            uint8_t *out = NULL;
            size_t out_len = 0;
            int rc = cm_decompress(compressing_codecs[c], bad, len, sizeof(in), &out, &out_len);
            assert_true(rc == 0 || rc == CM_COMPRESS_ECORRUPT || rc == CM_COMPRESS_ELIMIT);
            if (rc == 0) {
                assert_non_null(out);
                assert_true(out_len <= sizeof(in));
            } else {
                assert_null(out);
            }
            free(out);
        }
        free(bad);
        free(z);
    }
}

/* ---- decompression bombs ---- */

/* The process's data segment (heap and private mappings), as the kernel counts it. */
static size_t vm_data_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmData:", 7) == 0)
            kb = strtoull(line + 7, NULL, 10);
    fclose(f);
    return kb * 1024;
}

#define BOMB_HEADROOM (32 * MiB)
#define BOMB_WALL_SEC 20
#define CHILD_OK      10 /* exit status for 0; a failure -e exits CHILD_OK + e */

/*
 * Decompresses in a child whose data segment may grow by only BOMB_HEADROOM (less than the
 * bombs' 64 MiB) and which is killed after BOMB_WALL_SEC, and returns cm_decompress's result.
 * An allocation past the cap makes malloc fail (ENOMEM) or ASan die; both fail the test. The
 * alarm matters under ASan: out of memory, its report can itself block on a lock forever.
 */
static int decompress_in_small_heap(int codec, const uint8_t *z, size_t z_len, size_t out_max)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t cap = vm_data_bytes() + BOMB_HEADROOM;
        struct rlimit data = { cap, cap };
        if (setrlimit(RLIMIT_DATA, &data) != 0)
            _exit(2);
        alarm(BOMB_WALL_SEC);
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc = cm_decompress(codec, z, z_len, out_max, &out, &out_len);
        free(out);
        _exit(CHILD_OK - rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) < CHILD_OK)
        fail_msg("%s bomb: the child died (status 0x%x): it allocated or took too much",
                 cm_codec_name(codec), (unsigned)status);
    return CHILD_OK - WEXITSTATUS(status);
}

static void test_compress__bomb_stops_at_limit_without_big_alloc(void **state)
{
    (void)state;
    size_t n = 64 * MiB;
    uint8_t *zeros = calloc(n, 1);
    assert_non_null(zeros);
    for (int c = 0; c < N_COMPRESSING; c++) {
        int codec = compressing_codecs[c];
        size_t z_len;
        uint8_t *z = compress_ok(codec, zeros, n, &z_len);
        assert_true(z_len < n / 16);
        assert_int_equal(decompress_in_small_heap(codec, z, z_len, MiB), CM_COMPRESS_ELIMIT);
        free(z);
    }

    /* A raw snappy block states its length up front; a lie costs nothing either. */
    size_t z_len = snappy_max_compressed_length(n);
    char *z = malloc(z_len);
    assert_non_null(z);
    assert_int_equal(snappy_compress((const char *)zeros, n, z, &z_len), SNAPPY_OK);
    free(zeros);
    assert_int_equal(decompress_in_small_heap(CM_CODEC_SNAPPY, (const uint8_t *)z, z_len, MiB),
                     CM_COMPRESS_ELIMIT);
    free(z);
    static const uint8_t claims_4gib[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 'x' };
    assert_int_equal(
        decompress_in_small_heap(CM_CODEC_SNAPPY, claims_4gib, sizeof(claims_4gib), MiB),
        CM_COMPRESS_ELIMIT);
}

/*
 * Compresses like a streaming producer (the Java client's ZstdOutputStream): the content size
 * is not recorded, and the window comes from `window_log`.
 */
static uint8_t *zstd_stream_compress(const uint8_t *in, size_t n, int window_log, size_t *z_len)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    assert_non_null(cctx);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window_log)));
    size_t cap = ZSTD_compressBound(n) + 64;
    uint8_t *z = malloc(cap);
    assert_non_null(z);
    ZSTD_outBuffer dst = { z, cap, 0 };
    ZSTD_inBuffer src = { in, n, 0 };
    /* Data first, end later: a single ZSTD_e_end call would record the size. */
    while (src.pos < n)
        assert_false(ZSTD_isError(ZSTD_compressStream2(cctx, &dst, &src, ZSTD_e_continue)));
    size_t left;
    do {
        left = ZSTD_compressStream2(cctx, &dst, &src, ZSTD_e_end);
        assert_false(ZSTD_isError(left));
    } while (left != 0);
    ZSTD_freeCCtx(cctx);
    assert_int_equal(ZSTD_getFrameContentSize(z, dst.pos), ZSTD_CONTENTSIZE_UNKNOWN);
    /* Frame header: no single-segment flag, so a window descriptor of 2^(10 + exponent). */
    assert_int_equal(z[4] & 0x20, 0);
    assert_int_equal(z[5] >> 3, window_log - 10);
    *z_len = dst.pos;
    return z;
}

static void test_compress__zstd_frame_without_size_decodes(void **state)
{
    (void)state;
    size_t n = 300 * KiB;
    uint8_t *in = malloc(n);
    assert_non_null(in);
    fill_text(in, n, 13);
    /* 2^23 is the window of the Java client's levels up to 19 with no size known. */
    size_t z_len;
    uint8_t *z = zstd_stream_compress(in, n, 23, &z_len);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(cm_decompress(CM_CODEC_ZSTD, z, z_len, n, &out, &out_len), 0);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, in, n);
    free(out);
    decompress_fails(CM_CODEC_ZSTD, z, z_len, n - 1, CM_COMPRESS_ELIMIT);
    check_every_truncation(CM_CODEC_ZSTD, z, z_len > 300 ? 300 : z_len);
    free(z);
    free(in);
}

/* A frame that asks for a window far beyond out_max would make zstd allocate it: refused. */
static void test_compress__zstd_window_beyond_limit_is_elimit(void **state)
{
    (void)state;
    uint8_t in[1000];
    fill_text(in, sizeof(in), 14);
    size_t z_len;
    uint8_t *z = zstd_stream_compress(in, sizeof(in), 25, &z_len);
    decompress_fails(CM_CODEC_ZSTD, z, z_len, MiB, CM_COMPRESS_ELIMIT);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compress__codec_name_parse_round_trip),
        cmocka_unit_test(test_compress__unknown_codec_is_ecodec),
        cmocka_unit_test(test_compress__none_copies_within_limit),
        cmocka_unit_test(test_compress__none_round_trip),
        cmocka_unit_test(test_compress__gzip_round_trip),
        cmocka_unit_test(test_compress__snappy_round_trip),
        cmocka_unit_test(test_compress__lz4_round_trip),
        cmocka_unit_test(test_compress__zstd_round_trip),
        cmocka_unit_test(test_compress__levels_are_clamped),
        cmocka_unit_test(test_compress__empty_input_is_corrupt),
        cmocka_unit_test(test_compress__gzip_decodes_gzip_n_vector),
        cmocka_unit_test(test_compress__concatenated_streams_decode),
        cmocka_unit_test(test_compress__snappy_raw_block_decodes),
        cmocka_unit_test(test_compress__snappy_writes_xerial_framing),
        cmocka_unit_test(test_compress__lz4_writes_independent_block_frames),
        cmocka_unit_test(test_compress__garbage_is_corrupt),
        cmocka_unit_test(test_compress__trailing_junk_is_corrupt),
        cmocka_unit_test(test_compress__every_truncation_is_corrupt),
        cmocka_unit_test(test_compress__multi_block_truncation_is_corrupt),
        cmocka_unit_test(test_compress__xerial_cut_between_blocks_reads_as_shorter),
        cmocka_unit_test(test_compress__survives_bit_flips),
        cmocka_unit_test(test_compress__bomb_stops_at_limit_without_big_alloc),
        cmocka_unit_test(test_compress__zstd_frame_without_size_decodes),
        cmocka_unit_test(test_compress__zstd_window_beyond_limit_is_elimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
