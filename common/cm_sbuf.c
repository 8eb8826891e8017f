#include "cm_sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cm_sbuf_init(cm_sbuf_t *s)
{
    s->buf = NULL;
    s->len = s->cap = 0;
}

void cm_sbuf_free(cm_sbuf_t *s)
{
    free(s->buf);
    cm_sbuf_init(s);
}

void cm_sbuf_reserve(cm_sbuf_t *s, size_t n)
{
    if (s->cap - s->len > n)
        return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap - s->len <= n)
        cap *= 2;
    s->buf = realloc(s->buf, cap);
    if (s->buf == NULL)
        abort();
    s->cap = cap;
}

void cm_sbuf_printf(cm_sbuf_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        cm_sbuf_append(s, tmp, (size_t)n);
        return;
    }
    cm_sbuf_reserve(s, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}
