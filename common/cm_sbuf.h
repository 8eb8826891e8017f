/* A growable text buffer with printf-style appends (for /metrics pages, JSON, properties). */
#ifndef CM_SBUF_H
#define CM_SBUF_H

#include <stddef.h>
#include <string.h>

typedef struct cm_sbuf {
    char *buf; /* NUL-terminated while len < cap */
    size_t len;
    size_t cap;
} cm_sbuf_t;

void cm_sbuf_init(cm_sbuf_t *s);
void cm_sbuf_free(cm_sbuf_t *s);
void cm_sbuf_printf(cm_sbuf_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Makes room for `n` more bytes (and the NUL after them). */
void cm_sbuf_reserve(cm_sbuf_t *s, size_t n);

/** Appends `n` bytes (inline: JSON answers append a few bytes at a time). */
static inline void cm_sbuf_append(cm_sbuf_t *s, const char *p, size_t n)
{
    if (s->cap - s->len <= n)
        cm_sbuf_reserve(s, n);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

#endif
