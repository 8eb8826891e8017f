/*
 * Compression of Kafka record batches: gzip, snappy, lz4 and zstd, as real clients write them.
 *
 * A record batch names its codec in the low 3 bits of its attributes; its records section is
 * one compressed buffer. Decompression is the dangerous direction: the input comes from a
 * tenant, and a few kilobytes can claim (or really expand to) gigabytes. cm_decompress()
 * therefore never holds more than `out_max` bytes of output, whatever the headers say, and
 * grows its buffer geometrically so a small batch costs a small allocation.
 *
 * Formats, per codec:
 *   gzip    an RFC 1952 stream; concatenated members decode as one.
 *   snappy  either a raw snappy block (librdkafka) or xerial framing (the Java client); the
 *           xerial magic tells them apart. Compression writes xerial framing in blocks of at
 *           most 32 KiB of input, which both clients read.
 *   lz4     the LZ4 frame format (KIP-57); concatenated frames decode as one.
 *   zstd    zstd frames, with or without a recorded content size; concatenated frames decode
 *           as one.
 *
 * Every function is thread-safe: no state is shared between calls.
 */
#ifndef CM_COMPRESS_H
#define CM_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/** Kafka record-batch compression codecs: the low 3 bits of the batch attributes. */
typedef enum cm_codec {
    CM_CODEC_NONE = 0,
    CM_CODEC_GZIP = 1,
    CM_CODEC_SNAPPY = 2,
    CM_CODEC_LZ4 = 3,
    CM_CODEC_ZSTD = 4
} cm_codec_t;

/*
 * Error codes, all negative. They are this module's own: map them before they meet the
 * project-wide codes of cm_err.h, whose values overlap.
 */
/** The input is not valid for the codec (garbage, truncated, bad checksum). */
#define CM_COMPRESS_ECORRUPT (-1)
/**
 * Decompression: the output would exceed `out_max` (or, for zstd, the frame asks for a
 * window far larger than `out_max`). Compression: the input is too large for the format.
 */
#define CM_COMPRESS_ELIMIT (-2)
/** The codec value is not one of cm_codec_t. */
#define CM_COMPRESS_ECODEC (-3)
/** An allocation failed, or a codec library could not set itself up. */
#define CM_COMPRESS_ENOMEM (-4)

/** The codec's Kafka name: "none", "gzip", "snappy", "lz4", "zstd", or "unknown". */
const char *cm_codec_name(int codec);

/**
 * The codec named `name` (the inverse of cm_codec_name(), case-sensitive like Kafka's
 * compression.type), or -1 when `name` is NULL or names no codec.
 */
int cm_codec_parse(const char *name);

/**
 * Decompresses the `in_len` bytes at `in` into a new buffer of at most `out_max` bytes.
 *
 * On success returns 0 and sets *out to a malloc'd buffer of *out_len bytes, which the caller
 * frees with free(); *out is non-NULL even when *out_len is 0. On failure returns a negative
 * CM_COMPRESS_E* code and sets *out to NULL and *out_len to 0.
 *
 * Empty input is ECORRUPT for every codec but CM_CODEC_NONE, which copies. At most about
 * `out_max` bytes are allocated for the output whatever the input claims; when the real output
 * is larger the call stops at that point and returns ELIMIT. A zstd frame may also make the
 * library hold a window of up to max(8 MiB, twice `out_max`).
 */
int cm_decompress(int codec, const uint8_t *in, size_t in_len, size_t out_max, uint8_t **out,
                  size_t *out_len);

/**
 * Compresses the `in_len` bytes at `in` with `codec` at `level`, in the form Kafka clients
 * write (see the top of this file).
 *
 * `level <= 0` means the codec's default (gzip 6, lz4 0 = fast, zstd 3); levels above the
 * codec's maximum are clamped to it; snappy has no levels. On success returns 0 and sets *out
 * to a malloc'd buffer of *out_len bytes, which the caller frees with free(). On failure
 * returns a negative CM_COMPRESS_E* code and sets *out to NULL and *out_len to 0.
 */
int cm_compress(int codec, int level, const uint8_t *in, size_t in_len, uint8_t **out,
                size_t *out_len);

#endif
