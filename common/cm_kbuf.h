/*
 * Kafka wire primitives: a bounds-checked reader and a growable, size-limited writer.
 *
 * The reader never reads past its end: a short or malformed input sets a sticky error
 * flag and later reads return zeros, so decoders check the flag once at the end. Strings,
 * bytes and records are returned as views into the input (no copy); they live as long as
 * the caller's buffer.
 *
 * The writer appends into one heap buffer. Records that live in a file (segment data
 * served with sendfile) are not copied: cm_kw_records() records a splice point, and the
 * connection later sends memory and file ranges in order. See cm_kw_ext_t.
 *
 * Neither is thread-safe; each belongs to one request on one thread.
 */
#ifndef CM_KBUF_H
#define CM_KBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A string view: `len` bytes at `ptr`, not NUL-terminated. `len < 0` is a null string. */
typedef struct cm_kstr {
    const char *ptr;
    int32_t len;
} cm_kstr_t;

/** A bytes view, `len < 0` is null. */
typedef struct cm_kbytes {
    const uint8_t *ptr;
    int32_t len;
} cm_kbytes_t;

/**
 * A range of a file to splice into an encoded message. `obj` keeps `fd` open: the writer
 * (and whoever it hands its splices to) calls `unref(obj)` once when done with the range.
 */
typedef struct cm_kext {
    int fd;
    int64_t off;
    uint32_t len;
    void (*unref)(void *obj);
    void *obj;
} cm_kext_t;

/**
 * A records field: either bytes in memory (`ptr`, `len`; `len < 0` is null) or, when `ext`
 * is set, a file range whose length is ext->len. Decoding always yields the memory form.
 */
typedef struct cm_krecords {
    const uint8_t *ptr;
    int32_t len;
    const cm_kext_t *ext;
} cm_krecords_t;

/** A UUID (Kafka topic ids); all zeros is Kafka's "zero UUID" meaning none. */
typedef struct cm_kuuid {
    uint8_t b[16];
} cm_kuuid_t;

/** True when every byte of `u` is zero. */
bool cm_kuuid_is_zero(cm_kuuid_t u);

#define CM_KSTR(s)   ((cm_kstr_t){ (s), (int32_t)sizeof(s) - 1 })
#define CM_KSTR_NULL ((cm_kstr_t){ NULL, -1 })

/** Makes a view of a C string; NULL gives a null string. */
cm_kstr_t cm_kstr_c(const char *s);

/** True when two views hold the same bytes (two nulls are equal). */
bool cm_kstr_eq(cm_kstr_t a, cm_kstr_t b);

/** True when the view equals the C string `s`. */
bool cm_kstr_eq_c(cm_kstr_t a, const char *s);

/* ---- reader ---- */

typedef struct cm_kr {
    const uint8_t *p;
    const uint8_t *end;
    int err; /* 0, or set once on the first short or malformed read */
} cm_kr_t;

/** Starts reading `len` bytes at `buf`. */
void cm_kr_init(cm_kr_t *r, const void *buf, size_t len);

/** Bytes left to read. */
static inline size_t cm_kr_left(const cm_kr_t *r)
{
    return (size_t)(r->end - r->p);
}

int8_t cm_kr_i8(cm_kr_t *r);
int16_t cm_kr_i16(cm_kr_t *r);
int32_t cm_kr_i32(cm_kr_t *r);
int64_t cm_kr_i64(cm_kr_t *r);
uint16_t cm_kr_u16(cm_kr_t *r);
uint32_t cm_kr_u32(cm_kr_t *r);
bool cm_kr_bool(cm_kr_t *r);
double cm_kr_f64(cm_kr_t *r);
/** Unsigned LEB128 of at most 5 bytes (Kafka UNSIGNED_VARINT). */
uint32_t cm_kr_uvarint(cm_kr_t *r);
/** Zigzag VARINT (at most 5 bytes) and VARLONG (at most 10 bytes). */
int32_t cm_kr_varint(cm_kr_t *r);
int64_t cm_kr_varlong(cm_kr_t *r);
cm_kuuid_t cm_kr_uuid(cm_kr_t *r);
/** Takes `n` raw bytes; returns NULL (and sets err) if fewer are left. */
const uint8_t *cm_kr_raw(cm_kr_t *r, size_t n);

/** STRING / NULLABLE_STRING, or their COMPACT forms when `compact`. */
cm_kstr_t cm_kr_str(cm_kr_t *r, bool compact, bool nullable);
/** BYTES / NULLABLE_BYTES, or their COMPACT forms. */
cm_kbytes_t cm_kr_bytes(cm_kr_t *r, bool compact, bool nullable);
/** RECORDS: nullable bytes. */
cm_krecords_t cm_kr_records(cm_kr_t *r, bool compact);

/**
 * Reads an array length (ARRAY: int32, COMPACT_ARRAY: uvarint N+1). Returns -1 for null
 * (an error unless `nullable`). Each element takes at least `elem_min` bytes, so a count
 * that cannot fit in what is left is an error: a hostile count never drives an allocation.
 */
int32_t cm_kr_array_len(cm_kr_t *r, bool compact, bool nullable, size_t elem_min);

/** Skips a whole tagged-field section (all fields unknown to the caller). */
void cm_kr_skip_tags(cm_kr_t *r);

/* ---- writer ---- */

typedef struct cm_kw_splice {
    size_t at; /* offset in buf where the file range goes */
    cm_kext_t ext;
} cm_kw_splice_t;

typedef struct cm_kw {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t limit; /* bytes of buf and splices together; beyond it err is set */
    int err;
    cm_kw_splice_t *splices;
    size_t n_splices;
    size_t cap_splices;
    size_t splice_bytes;
} cm_kw_t;

/** Starts an empty writer that refuses to grow past `limit` bytes in total. */
void cm_kw_init(cm_kw_t *w, size_t limit);

/** Frees the buffer and drops every splice (calling its unref). */
void cm_kw_free(cm_kw_t *w);

/** Empties the writer, dropping splices, keeping the buffer for reuse. */
void cm_kw_reset(cm_kw_t *w);

/** Total encoded size: memory plus spliced file ranges. */
static inline size_t cm_kw_total(const cm_kw_t *w)
{
    return w->len + w->splice_bytes;
}

/** Makes room for `n` more bytes and returns where they go, or NULL (err set). */
uint8_t *cm_kw_reserve(cm_kw_t *w, size_t n);

void cm_kw_raw(cm_kw_t *w, const void *p, size_t n);
void cm_kw_i8(cm_kw_t *w, int8_t v);
void cm_kw_i16(cm_kw_t *w, int16_t v);
void cm_kw_i32(cm_kw_t *w, int32_t v);
void cm_kw_i64(cm_kw_t *w, int64_t v);
void cm_kw_u16(cm_kw_t *w, uint16_t v);
void cm_kw_u32(cm_kw_t *w, uint32_t v);
void cm_kw_bool(cm_kw_t *w, bool v);
void cm_kw_f64(cm_kw_t *w, double v);
void cm_kw_uvarint(cm_kw_t *w, uint32_t v);
void cm_kw_varint(cm_kw_t *w, int32_t v);
void cm_kw_varlong(cm_kw_t *w, int64_t v);
void cm_kw_uuid(cm_kw_t *w, cm_kuuid_t v);
/** Writes a string; a null view is written as null when `nullable`, else as "". */
void cm_kw_str(cm_kw_t *w, cm_kstr_t s, bool compact, bool nullable);
void cm_kw_bytes(cm_kw_t *w, cm_kbytes_t b, bool compact, bool nullable);
/**
 * Writes a records field. With r->ext set, only the length goes into the buffer and the
 * file range is recorded as a splice; the writer takes over the caller's reference.
 */
void cm_kw_records(cm_kw_t *w, const cm_krecords_t *r, bool compact);
/** Writes an array length; `n < 0` is null. */
void cm_kw_array_len(cm_kw_t *w, int32_t n, bool compact);
/** Overwrites 4 bytes at `at` (a length reserved earlier). */
void cm_kw_i32_at(cm_kw_t *w, size_t at, int32_t v);

/** Size of `v` as an unsigned varint. */
size_t cm_uvarint_size(uint32_t v);

/** Zigzag helpers used by record encoding. */
static inline uint32_t cm_zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline uint64_t cm_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/** Big-endian loads and stores for fixed layouts (record batch headers, index files). */
static inline uint16_t cm_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t cm_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t cm_be64(const uint8_t *p)
{
    return ((uint64_t)cm_be32(p) << 32) | cm_be32(p + 4);
}
static inline void cm_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void cm_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void cm_put_be64(uint8_t *p, uint64_t v)
{
    cm_put_be32(p, (uint32_t)(v >> 32));
    cm_put_be32(p + 4, (uint32_t)v);
}

#endif
