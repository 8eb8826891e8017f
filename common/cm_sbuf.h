/* A growable text buffer with printf-style appends (for /metrics pages, JSON, properties). */
#ifndef CM_SBUF_H
#define CM_SBUF_H

#include <stddef.h>

typedef struct cm_sbuf {
    char *buf; /* NUL-terminated while len < cap */
    size_t len;
    size_t cap;
} cm_sbuf_t;

void cm_sbuf_init(cm_sbuf_t *s);
void cm_sbuf_free(cm_sbuf_t *s);
void cm_sbuf_printf(cm_sbuf_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cm_sbuf_append(cm_sbuf_t *s, const char *p, size_t n);

#endif
