#include "cm_kbuf.h"

#include <stdlib.h>
#include <string.h>

cm_kstr_t cm_kstr_c(const char *s)
{
    if (s == NULL)
        return CM_KSTR_NULL;
    return (cm_kstr_t){ s, (int32_t)strlen(s) };
}

bool cm_kstr_eq(cm_kstr_t a, cm_kstr_t b)
{
    if (a.len < 0 || b.len < 0)
        return a.len < 0 && b.len < 0;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

bool cm_kstr_eq_c(cm_kstr_t a, const char *s)
{
    return cm_kstr_eq(a, cm_kstr_c(s));
}

bool cm_kuuid_is_zero(cm_kuuid_t u)
{
    static const uint8_t zero[16];
    return memcmp(u.b, zero, 16) == 0;
}

/* ---- reader ---- */

/* Where a reader over nothing points: NULL + 0 is undefined in C, and an empty view often
 * comes with a NULL buffer (a null value, a writer that wrote nothing). */
static const uint8_t cm_kr__empty[1];

void cm_kr_init(cm_kr_t *r, const void *buf, size_t len)
{
    r->p = buf != NULL ? buf : cm_kr__empty;
    r->end = r->p + (buf != NULL ? len : 0);
    r->err = 0;
}

const uint8_t *cm_kr_raw(cm_kr_t *r, size_t n)
{
    if (r->err || cm_kr_left(r) < n) {
        r->err = 1;
        r->p = r->end;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

int8_t cm_kr_i8(cm_kr_t *r)
{
    const uint8_t *p = cm_kr_raw(r, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t cm_kr_i16(cm_kr_t *r)
{
    const uint8_t *p = cm_kr_raw(r, 2);
    return p ? (int16_t)cm_be16(p) : 0;
}

uint16_t cm_kr_u16(cm_kr_t *r)
{
    const uint8_t *p = cm_kr_raw(r, 2);
    return p ? cm_be16(p) : 0;
}

int32_t cm_kr_i32(cm_kr_t *r)
{
    const uint8_t *p = cm_kr_raw(r, 4);
    return p ? (int32_t)cm_be32(p) : 0;
}

uint32_t cm_kr_u32(cm_kr_t *r)
{
    const uint8_t *p = cm_kr_raw(r, 4);
    return p ? cm_be32(p) : 0;
}

int64_t cm_kr_i64(cm_kr_t *r)
{
    const uint8_t *p = cm_kr_raw(r, 8);
    return p ? (int64_t)cm_be64(p) : 0;
}

bool cm_kr_bool(cm_kr_t *r)
{
    return cm_kr_i8(r) != 0;
}

double cm_kr_f64(cm_kr_t *r)
{
    uint64_t u = (uint64_t)cm_kr_i64(r);
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

cm_kuuid_t cm_kr_uuid(cm_kr_t *r)
{
    cm_kuuid_t u = { { 0 } };
    const uint8_t *p = cm_kr_raw(r, 16);
    if (p)
        memcpy(u.b, p, 16);
    return u;
}

/* Reads an unsigned LEB128 of at most `max_bytes`; the last byte may not carry bits that
 * do not fit in `bits`. */
static uint64_t cm_kr__leb128(cm_kr_t *r, int max_bytes, int bits)
{
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        const uint8_t *p = cm_kr_raw(r, 1);
        if (p == NULL)
            return 0;
        int shift = 7 * i;
        if (shift + 7 > bits && (p[0] & 0x7f) >> (bits - shift) != 0)
            break; /* overflow */
        v |= (uint64_t)(p[0] & 0x7f) << shift;
        if ((p[0] & 0x80) == 0)
            return v;
    }
    r->err = 1;
    r->p = r->end;
    return 0;
}

uint32_t cm_kr_uvarint(cm_kr_t *r)
{
    return (uint32_t)cm_kr__leb128(r, 5, 32);
}

int32_t cm_kr_varint(cm_kr_t *r)
{
    uint32_t u = (uint32_t)cm_kr__leb128(r, 5, 32);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t cm_kr_varlong(cm_kr_t *r)
{
    uint64_t u = cm_kr__leb128(r, 10, 64);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Reads a length prefix: int16/int32 or uvarint N+1. Returns -1 for null, -2 on error. */
static int64_t cm_kr__len(cm_kr_t *r, bool compact, bool wide, bool nullable)
{
    int64_t n;
    if (compact)
        n = (int64_t)cm_kr_uvarint(r) - 1;
    else
        n = wide ? cm_kr_i32(r) : cm_kr_i16(r);
    if (r->err || n < -1 || (n == -1 && !nullable) || (n > 0 && (size_t)n > cm_kr_left(r))) {
        r->err = 1;
        r->p = r->end;
        return -2;
    }
    return n;
}

cm_kstr_t cm_kr_str(cm_kr_t *r, bool compact, bool nullable)
{
    int64_t n = cm_kr__len(r, compact, false, nullable);
    if (n < 0)
        return CM_KSTR_NULL;
    const uint8_t *p = cm_kr_raw(r, (size_t)n);
    return (cm_kstr_t){ (const char *)p, (int32_t)n };
}

cm_kbytes_t cm_kr_bytes(cm_kr_t *r, bool compact, bool nullable)
{
    int64_t n = cm_kr__len(r, compact, true, nullable);
    if (n < 0)
        return (cm_kbytes_t){ NULL, -1 };
    const uint8_t *p = cm_kr_raw(r, (size_t)n);
    return (cm_kbytes_t){ p, (int32_t)n };
}

cm_krecords_t cm_kr_records(cm_kr_t *r, bool compact)
{
    cm_kbytes_t b = cm_kr_bytes(r, compact, true);
    return (cm_krecords_t){ b.ptr, b.len, NULL };
}

int32_t cm_kr_array_len(cm_kr_t *r, bool compact, bool nullable, size_t elem_min)
{
    int64_t n = compact ? (int64_t)cm_kr_uvarint(r) - 1 : cm_kr_i32(r);
    if (r->err || n < -1 || (n == -1 && !nullable) ||
        (n > 0 && elem_min > 0 && (size_t)n > cm_kr_left(r) / elem_min) || n > INT32_MAX) {
        r->err = 1;
        r->p = r->end;
        return -1;
    }
    return (int32_t)n;
}

void cm_kr_skip_tags(cm_kr_t *r)
{
    uint32_t n = cm_kr_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)cm_kr_uvarint(r); /* tag */
        uint32_t size = cm_kr_uvarint(r);
        (void)cm_kr_raw(r, size);
    }
}

/* ---- writer ---- */

void cm_kw_init(cm_kw_t *w, size_t limit)
{
    memset(w, 0, sizeof(*w));
    w->limit = limit;
}

static void cm_kw__drop_splices(cm_kw_t *w)
{
    for (size_t i = 0; i < w->n_splices; i++)
        if (w->splices[i].ext.unref)
            w->splices[i].ext.unref(w->splices[i].ext.obj);
    w->n_splices = 0;
    w->splice_bytes = 0;
}

void cm_kw_free(cm_kw_t *w)
{
    cm_kw__drop_splices(w);
    free(w->splices);
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

void cm_kw_reset(cm_kw_t *w)
{
    cm_kw__drop_splices(w);
    w->len = 0;
    w->err = 0;
}

uint8_t *cm_kw_reserve(cm_kw_t *w, size_t n)
{
    if (w->err)
        return NULL;
    if (n > w->limit || cm_kw_total(w) > w->limit - n) {
        w->err = 1;
        return NULL;
    }
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        while (cap - w->len < n)
            cap *= 2;
        uint8_t *b = realloc(w->buf, cap);
        if (b == NULL)
            abort();
        w->buf = b;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

void cm_kw_raw(cm_kw_t *w, const void *src, size_t n)
{
    uint8_t *p = cm_kw_reserve(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void cm_kw_i8(cm_kw_t *w, int8_t v)
{
    uint8_t *p = cm_kw_reserve(w, 1);
    if (p)
        p[0] = (uint8_t)v;
}

void cm_kw_i16(cm_kw_t *w, int16_t v)
{
    uint8_t *p = cm_kw_reserve(w, 2);
    if (p)
        cm_put_be16(p, (uint16_t)v);
}

void cm_kw_u16(cm_kw_t *w, uint16_t v)
{
    uint8_t *p = cm_kw_reserve(w, 2);
    if (p)
        cm_put_be16(p, v);
}

void cm_kw_i32(cm_kw_t *w, int32_t v)
{
    uint8_t *p = cm_kw_reserve(w, 4);
    if (p)
        cm_put_be32(p, (uint32_t)v);
}

void cm_kw_u32(cm_kw_t *w, uint32_t v)
{
    uint8_t *p = cm_kw_reserve(w, 4);
    if (p)
        cm_put_be32(p, v);
}

void cm_kw_i64(cm_kw_t *w, int64_t v)
{
    uint8_t *p = cm_kw_reserve(w, 8);
    if (p)
        cm_put_be64(p, (uint64_t)v);
}

void cm_kw_bool(cm_kw_t *w, bool v)
{
    cm_kw_i8(w, v ? 1 : 0);
}

void cm_kw_f64(cm_kw_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    cm_kw_i64(w, (int64_t)u);
}

void cm_kw_uuid(cm_kw_t *w, cm_kuuid_t v)
{
    cm_kw_raw(w, v.b, 16);
}

size_t cm_uvarint_size(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void cm_kw__leb128(cm_kw_t *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    cm_kw_raw(w, tmp, n);
}

void cm_kw_uvarint(cm_kw_t *w, uint32_t v)
{
    cm_kw__leb128(w, v);
}

void cm_kw_varint(cm_kw_t *w, int32_t v)
{
    cm_kw__leb128(w, cm_zigzag32(v));
}

void cm_kw_varlong(cm_kw_t *w, int64_t v)
{
    cm_kw__leb128(w, cm_zigzag64(v));
}

static void cm_kw__len(cm_kw_t *w, int32_t n, bool compact, bool wide)
{
    if (compact)
        cm_kw_uvarint(w, (uint32_t)(n + 1));
    else if (wide)
        cm_kw_i32(w, n);
    else
        cm_kw_i16(w, (int16_t)n);
}

void cm_kw_str(cm_kw_t *w, cm_kstr_t s, bool compact, bool nullable)
{
    if (s.len < 0 && !nullable)
        s = (cm_kstr_t){ "", 0 };
    if (s.len > INT16_MAX && !compact) {
        w->err = 1;
        return;
    }
    cm_kw__len(w, s.len < 0 ? -1 : s.len, compact, false);
    if (s.len > 0)
        cm_kw_raw(w, s.ptr, (size_t)s.len);
}

void cm_kw_bytes(cm_kw_t *w, cm_kbytes_t b, bool compact, bool nullable)
{
    if (b.len < 0 && !nullable)
        b = (cm_kbytes_t){ NULL, 0 };
    cm_kw__len(w, b.len < 0 ? -1 : b.len, compact, true);
    if (b.len > 0)
        cm_kw_raw(w, b.ptr, (size_t)b.len);
}

void cm_kw_records(cm_kw_t *w, const cm_krecords_t *r, bool compact)
{
    if (r->ext == NULL) {
        cm_kw_bytes(w, (cm_kbytes_t){ r->ptr, r->len }, compact, true);
        return;
    }
    cm_kext_t ext = *r->ext;
    cm_kw__len(w, (int32_t)ext.len, compact, true);
    if (w->err || ext.len > w->limit - cm_kw_total(w)) {
        w->err = 1;
        if (ext.unref)
            ext.unref(ext.obj);
        return;
    }
    if (w->n_splices == w->cap_splices) {
        size_t cap = w->cap_splices ? w->cap_splices * 2 : 8;
        cm_kw_splice_t *s = realloc(w->splices, cap * sizeof(*s));
        if (s == NULL)
            abort();
        w->splices = s;
        w->cap_splices = cap;
    }
    w->splices[w->n_splices++] = (cm_kw_splice_t){ w->len, ext };
    w->splice_bytes += ext.len;
}

void cm_kw_array_len(cm_kw_t *w, int32_t n, bool compact)
{
    cm_kw__len(w, n, compact, true);
}

void cm_kw_i32_at(cm_kw_t *w, size_t at, int32_t v)
{
    if (!w->err && at + 4 <= w->len)
        cm_put_be32(w->buf + at, (uint32_t)v);
}
