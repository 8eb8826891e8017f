#include "cm_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_err.h"

/* Objects up to this size are checked for duplicate keys pair by pair; larger ones are sorted,
 * so a tenant cannot make the check quadratic. */
#define CM_JSON__DUP_SCAN_MAX 16

/* How much of a key a duplicate-key message quotes. */
#define CM_JSON__EXCERPT_MAX 40

typedef struct cm_json__parser {
    cm_arena_t *a;
    const char *text;
    size_t len;
    size_t pos; /* next byte to read; never above len */
    int depth;  /* open containers */
    int depth_max;
    cm_json_t *root;
    cm_json_t *cur;  /* the innermost open container, NULL at the top level */
    cm_json_t *tail; /* cur's last child so far */
    char *err;
    size_t err_cap;
} cm_json__parser_t;

/* ---- errors ---- */

static int cm_json__fail(cm_json__parser_t *ps, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "at byte N: <message>" into the caller's buffer. */
static int cm_json__fail(cm_json__parser_t *ps, size_t off, const char *fmt, ...)
{
    if (ps->err == NULL || ps->err_cap == 0)
        return CM_EINVAL;
    int n = snprintf(ps->err, ps->err_cap, "at byte %zu: ", off);
    if (n >= 0 && (size_t)n < ps->err_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->err_cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return CM_EINVAL;
}

static int cm_json__too_large(cm_json__parser_t *ps)
{
    if (ps->err != NULL && ps->err_cap > 0)
        snprintf(ps->err, ps->err_cap,
                 "at byte %zu: document too large (over the %zu-byte memory limit)", ps->pos,
                 ps->a->limit);
    return CM_ELIMIT;
}

/* Describes the byte at `off` for a message: "'x'", "byte 0x01" or "end of input". */
static const char *cm_json__what(const cm_json__parser_t *ps, size_t off, char *buf, size_t cap)
{
    if (off >= ps->len)
        return "end of input";
    unsigned char c = (unsigned char)ps->text[off];
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

/* Copies the start of a user-supplied key for a message, so that control characters or a
 * huge key cannot garble the message or the log line it ends up in. */
static void cm_json__excerpt(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0' && n < CM_JSON__EXCERPT_MAX && n + 4 < cap; n++) {
        unsigned char c = (unsigned char)s[n];
        dst[n] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
    }
    if (s[n] != '\0') {
        /* Do not cut a UTF-8 sequence in half. */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

/* ---- strings ---- */

/* Checks the UTF-8 sequence at `i` (a byte >= 0x80), which must end before `end`, and sets
 * *n to its length. The ranges are those of Unicode's table 3-7 of well-formed sequences. */
static int cm_json__utf8(cm_json__parser_t *ps, size_t i, size_t end, size_t *n)
{
    const unsigned char *p = (const unsigned char *)ps->text + i;
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    size_t len;
    if (c < 0xc0)
        return cm_json__fail(ps, i, "invalid UTF-8: unexpected continuation byte 0x%02x", c);
    if (c < 0xc2)
        return cm_json__fail(ps, i, "invalid UTF-8: overlong encoding");
    if (c < 0xe0) {
        len = 2;
    } else if (c < 0xf0) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c < 0xf5) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else if (c < 0xf8) {
        return cm_json__fail(ps, i, "invalid UTF-8: code point above U+10FFFF");
    } else {
        return cm_json__fail(ps, i, "invalid UTF-8: byte 0x%02x", c);
    }
    if (len > end - i)
        return cm_json__fail(ps, i, "invalid UTF-8: truncated sequence");
    if (p[1] < lo || p[1] > hi) {
        if (c == 0xe0 && p[1] >= 0x80 && p[1] < lo)
            return cm_json__fail(ps, i, "invalid UTF-8: overlong encoding");
        if (c == 0xf0 && p[1] >= 0x80 && p[1] < lo)
            return cm_json__fail(ps, i, "invalid UTF-8: overlong encoding");
        if (c == 0xed && p[1] > hi && p[1] <= 0xbf)
            return cm_json__fail(ps, i, "invalid UTF-8: UTF-16 surrogate (use a \\u pair)");
        if (c == 0xf4 && p[1] > hi && p[1] <= 0xbf)
            return cm_json__fail(ps, i, "invalid UTF-8: code point above U+10FFFF");
        return cm_json__fail(ps, i + 1, "invalid UTF-8: byte 0x%02x is not a continuation byte",
                             p[1]);
    }
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return cm_json__fail(ps, i + k, "invalid UTF-8: byte 0x%02x is not a continuation byte",
                                 p[k]);
    *n = len;
    return CM_OK;
}

/* Reads the 4 hex digits at `i`, all before `end`; -1 when they are not there. */
static long cm_json__hex4(const cm_json__parser_t *ps, size_t i, size_t end)
{
    if (end - i < 4)
        return -1;
    long v = 0;
    for (size_t k = i; k < i + 4; k++) {
        char c = ps->text[k];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t cm_json__put_utf8(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xc0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xe0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        dst[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    dst[0] = (char)(0xf0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    dst[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the \u escape at *ip (the backslash), with its low surrogate if it is a high one. */
static int cm_json__unicode(cm_json__parser_t *ps, size_t *ip, size_t end, char *dst, size_t *np)
{
    size_t i = *ip;
    long cp = cm_json__hex4(ps, i + 2, end);
    if (cp < 0)
        return cm_json__fail(ps, i, "invalid \\u escape (expected 4 hex digits)");
    if (cp == 0)
        return cm_json__fail(ps, i, "\\u0000 is not allowed in strings");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return cm_json__fail(ps, i, "lone low surrogate \\u%04lx", cp);
    i += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        long lo = -1;
        if (end - i >= 2 && ps->text[i] == '\\' && ps->text[i + 1] == 'u')
            lo = cm_json__hex4(ps, i + 2, end);
        if (lo < 0xdc00 || lo > 0xdfff)
            return cm_json__fail(ps, *ip,
                                 "lone high surrogate \\u%04lx (expected a low one after it)", cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i += 6;
    }
    *np += cm_json__put_utf8(dst + *np, (uint32_t)cp);
    *ip = i;
    return CM_OK;
}

/* Decodes the escape at *ip (the backslash) into dst + *np and advances both. */
static int cm_json__escape(cm_json__parser_t *ps, size_t *ip, size_t end, char *dst, size_t *np)
{
    size_t i = *ip;
    char buf[16];
    char c = i + 1 < end ? ps->text[i + 1] : '\0';
    switch (c) {
    case '"':
    case '\\':
    case '/':
        break;
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'u':
        return cm_json__unicode(ps, ip, end, dst, np);
    default:
        return cm_json__fail(ps, i, "invalid escape: backslash before %s",
                             cm_json__what(ps, i + 1, buf, sizeof(buf)));
    }
    dst[(*np)++] = c;
    *ip = i + 2;
    return CM_OK;
}

/* Parses the string starting at ps->pos (a '"') into a NUL-terminated copy in the arena. */
static int cm_json__string(cm_json__parser_t *ps, const char **out, size_t *out_len)
{
    size_t start = ps->pos;
    /* Find the closing quote first so the copy is allocated once: decoding only shrinks. */
    size_t end = start + 1;
    while (end < ps->len && ps->text[end] != '"')
        end += ps->text[end] == '\\' ? 2 : 1;
    if (end >= ps->len)
        return cm_json__fail(ps, start, "unterminated string");
    char *dst = cm_arena_alloc(ps->a, end - start);
    if (dst == NULL)
        return cm_json__too_large(ps);
    size_t n = 0;
    size_t i = start + 1;
    while (i < end) {
        unsigned char c = (unsigned char)ps->text[i];
        int rc = CM_OK;
        if (c == '\\') {
            rc = cm_json__escape(ps, &i, end, dst, &n);
        } else if (c < 0x20) {
            rc = cm_json__fail(ps, i, "control character 0x%02x in a string (escape it)", c);
        } else if (c < 0x80) {
            dst[n++] = (char)c;
            i++;
        } else {
            size_t k = 0;
            rc = cm_json__utf8(ps, i, end, &k);
            if (rc == CM_OK) {
                memcpy(dst + n, ps->text + i, k);
                n += k;
                i += k;
            }
        }
        if (rc != CM_OK)
            return rc;
    }
    dst[n] = '\0';
    *out = dst;
    *out_len = n;
    ps->pos = end + 1;
    return CM_OK;
}

/* ---- numbers and literals ---- */

static bool cm_json__digit(const cm_json__parser_t *ps, size_t i)
{
    return i < ps->len && ps->text[i] >= '0' && ps->text[i] <= '9';
}

static size_t cm_json__digits(const cm_json__parser_t *ps, size_t i)
{
    while (cm_json__digit(ps, i))
        i++;
    return i;
}

/* Checks the RFC 8259 number grammar at ps->pos, then converts it. */
static int cm_json__number(cm_json__parser_t *ps, cm_json_t *v)
{
    size_t start = ps->pos, i = start;
    bool is_int = true;
    if (ps->text[i] == '-')
        i++;
    if (!cm_json__digit(ps, i))
        return cm_json__fail(ps, i, "expected a digit after '-'");
    if (ps->text[i] == '0' && cm_json__digit(ps, i + 1))
        return cm_json__fail(ps, i, "leading zero in a number");
    i = cm_json__digits(ps, i);
    if (i < ps->len && ps->text[i] == '.') {
        is_int = false;
        if (!cm_json__digit(ps, ++i))
            return cm_json__fail(ps, i, "expected a digit after '.'");
        i = cm_json__digits(ps, i);
    }
    if (i < ps->len && (ps->text[i] == 'e' || ps->text[i] == 'E')) {
        is_int = false;
        i++;
        if (i < ps->len && (ps->text[i] == '+' || ps->text[i] == '-'))
            i++;
        if (!cm_json__digit(ps, i))
            return cm_json__fail(ps, i, "expected a digit in the exponent");
        i = cm_json__digits(ps, i);
    }

    /* strtod needs a NUL-terminated string and the text is not one. */
    char buf[CM_JSON_NUMBER_LEN_MAX + 1];
    size_t n = i - start;
    if (n > CM_JSON_NUMBER_LEN_MAX)
        return cm_json__fail(ps, start, "number longer than %d bytes", CM_JSON_NUMBER_LEN_MAX);
    memcpy(buf, ps->text + start, n);
    buf[n] = '\0';
    v->type = CM_JSON_NUMBER;
    v->num = strtod(buf, NULL);
    if (isinf(v->num))
        return cm_json__fail(ps, start, "number out of range");
    if (is_int) {
        errno = 0;
        long long x = strtoll(buf, NULL, 10);
        /* Beyond int64 the number stays a double, like any other JSON reader sees it. */
        if (errno == 0) {
            v->is_int = true;
            v->i = x;
        }
    }
    ps->pos = i;
    return CM_OK;
}

static bool cm_json__literal(cm_json__parser_t *ps, const char *word)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->text + ps->pos, word, n) != 0)
        return false;
    ps->pos += n;
    return true;
}

/* ---- structure ---- */

static int cm_json__cmp_members(const void *pa, const void *pb)
{
    const cm_json_t *a = *(const cm_json_t *const *)pa, *b = *(const cm_json_t *const *)pb;
    int c = strcmp(a->key, b->key);
    if (c != 0)
        return c;
    return a->off < b->off ? -1 : a->off > b->off;
}

/* Refuses a closed object that has a key twice, naming the first repeat in document order. */
static int cm_json__check_dups(cm_json__parser_t *ps, const cm_json_t *obj)
{
    const cm_json_t *dup = NULL;
    if (obj->len <= CM_JSON__DUP_SCAN_MAX) {
        for (const cm_json_t *b = obj->child; b != NULL && dup == NULL; b = b->next)
            for (const cm_json_t *a = obj->child; a != b && dup == NULL; a = a->next)
                if (strcmp(a->key, b->key) == 0)
                    dup = b;
    } else {
        /* The scratch array comes from the arena so the limit also bounds it. */
        const cm_json_t **v = cm_arena_calloc(ps->a, obj->len, sizeof(*v));
        if (v == NULL)
            return cm_json__too_large(ps);
        size_t n = 0;
        for (const cm_json_t *c = obj->child; c != NULL; c = c->next)
            v[n++] = c;
        qsort(v, n, sizeof(*v), cm_json__cmp_members);
        for (size_t k = 1; k < n; k++)
            if (strcmp(v[k - 1]->key, v[k]->key) == 0 && (dup == NULL || v[k]->off < dup->off))
                dup = v[k];
    }
    if (dup == NULL)
        return CM_OK;
    char ex[CM_JSON__EXCERPT_MAX + 8];
    cm_json__excerpt(ex, sizeof(ex), dup->key);
    return cm_json__fail(ps, dup->off, "duplicate key \"%s\"", ex);
}

static void cm_json__skip_ws(cm_json__parser_t *ps)
{
    while (ps->pos < ps->len) {
        char c = ps->text[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        ps->pos++;
    }
}

static char cm_json__peek(const cm_json__parser_t *ps)
{
    return ps->pos < ps->len ? ps->text[ps->pos] : '\0';
}

static void cm_json__link(cm_json__parser_t *ps, cm_json_t *v)
{
    if (ps->cur == NULL) {
        ps->root = v;
    } else {
        if (ps->tail == NULL)
            ps->cur->child = v;
        else
            ps->tail->next = v;
        ps->cur->len++;
    }
    ps->tail = v;
}

/* Opens the container `v`. While it is open its `next` field, which only its next sibling
 * would fill, holds its parent: the walk back up needs no stack of its own. */
static int cm_json__open(cm_json__parser_t *ps, cm_json_t *v, cm_json_type_t type)
{
    if (ps->depth >= ps->depth_max)
        return cm_json__fail(ps, ps->pos, "nesting deeper than %d levels", ps->depth_max);
    v->type = type;
    cm_json__link(ps, v);
    v->next = ps->cur;
    ps->cur = v;
    ps->tail = NULL;
    ps->depth++;
    ps->pos++;
    return CM_OK;
}

/* Closes the innermost container; the byte at ps->pos is its bracket. */
static int cm_json__close(cm_json__parser_t *ps)
{
    cm_json_t *v = ps->cur;
    if (v->type == CM_JSON_OBJECT && v->len > 1) {
        int rc = cm_json__check_dups(ps, v);
        if (rc != CM_OK)
            return rc;
    }
    ps->cur = v->next;
    v->next = NULL;
    ps->tail = v; /* it was the last child of its parent */
    ps->depth--;
    ps->pos++;
    return CM_OK;
}

/* Parses the key and ':' of an object member into `v`. */
static int cm_json__key(cm_json__parser_t *ps, cm_json_t *v)
{
    char buf[16];
    size_t n;
    if (cm_json__peek(ps) != '"')
        return cm_json__fail(ps, ps->pos, "expected '\"' to start an object key, got %s",
                             cm_json__what(ps, ps->pos, buf, sizeof(buf)));
    int rc = cm_json__string(ps, &v->key, &n);
    if (rc != CM_OK)
        return rc;
    cm_json__skip_ws(ps);
    if (cm_json__peek(ps) != ':')
        return cm_json__fail(ps, ps->pos, "expected ':' after an object key");
    ps->pos++;
    cm_json__skip_ws(ps);
    return CM_OK;
}

/* Parses one element of the current container (or the root): a scalar whole, a container
 * only its opening bracket. */
static int cm_json__element(cm_json__parser_t *ps)
{
    char buf[16];
    cm_json_t *v = cm_arena_alloc(ps->a, sizeof(*v));
    if (v == NULL)
        return cm_json__too_large(ps);
    v->off = ps->pos;
    if (ps->cur != NULL && ps->cur->type == CM_JSON_OBJECT) {
        int rc = cm_json__key(ps, v);
        if (rc != CM_OK)
            return rc;
    }
    size_t at = ps->pos;
    int rc = CM_OK;
    switch (cm_json__peek(ps)) {
    case '{':
        return cm_json__open(ps, v, CM_JSON_OBJECT);
    case '[':
        return cm_json__open(ps, v, CM_JSON_ARRAY);
    case '"':
        v->type = CM_JSON_STRING;
        rc = cm_json__string(ps, &v->str, &v->len);
        break;
    default:
        if (cm_json__peek(ps) == '-' || cm_json__digit(ps, at)) {
            rc = cm_json__number(ps, v);
        } else if (cm_json__literal(ps, "true")) {
            v->type = CM_JSON_BOOL;
            v->b = true;
        } else if (cm_json__literal(ps, "false")) {
            v->type = CM_JSON_BOOL;
        } else if (!cm_json__literal(ps, "null")) { /* a zeroed node is already null */
            return cm_json__fail(ps, at, "expected a value, got %s",
                                 cm_json__what(ps, at, buf, sizeof(buf)));
        }
    }
    if (rc == CM_OK)
        cm_json__link(ps, v);
    return rc;
}

/* After an element: the current container's closing bracket, or a comma that no closing
 * bracket may follow. Sets *more when another element follows. */
static int cm_json__after(cm_json__parser_t *ps, bool *more)
{
    char buf[16];
    bool obj = ps->cur->type == CM_JSON_OBJECT;
    char close = obj ? '}' : ']';
    char c = cm_json__peek(ps);
    *more = false;
    if (c == close)
        return cm_json__close(ps);
    if (c != ',')
        return cm_json__fail(ps, ps->pos, "expected ',' or '%c' after %s, got %s", close,
                             obj ? "an object member" : "an array element",
                             cm_json__what(ps, ps->pos, buf, sizeof(buf)));
    size_t comma = ps->pos++;
    cm_json__skip_ws(ps);
    if (cm_json__peek(ps) == close)
        return cm_json__fail(ps, comma, "trailing comma before '%c'", close);
    *more = true;
    return CM_OK;
}

int cm_json_parse(cm_arena_t *a, const char *text, size_t len, int depth_max, cm_json_t **out,
                  char *err, size_t err_cap)
{
    cm_json__parser_t ps = {
        .a = a, .text = text, .len = len, .depth_max = depth_max, .err = err, .err_cap = err_cap
    };
    int rc = CM_OK;
    bool want = true; /* an element is expected next */
    *out = NULL;
    if (err != NULL && err_cap > 0)
        err[0] = '\0';
    for (;;) {
        cm_json__skip_ws(&ps);
        if (want) {
            rc = cm_json__element(&ps);
            if (rc != CM_OK)
                return rc;
            want = false;
            /* A container just opened either closes at once or wants its first element. */
            if (ps.tail == NULL && ps.cur != NULL) {
                cm_json__skip_ws(&ps);
                char c = cm_json__peek(&ps);
                want = c != (ps.cur->type == CM_JSON_OBJECT ? '}' : ']');
            }
        } else if (ps.cur != NULL) {
            rc = cm_json__after(&ps, &want);
            if (rc != CM_OK)
                return rc;
        } else {
            break;
        }
    }
    if (ps.pos < len)
        return cm_json__fail(&ps, ps.pos, "unexpected data after the JSON value");
    *out = ps.root;
    return CM_OK;
}

/* ---- lookups ---- */

const cm_json_t *cm_json_get(const cm_json_t *obj, const char *key)
{
    if (obj == NULL || obj->type != CM_JSON_OBJECT || key == NULL)
        return NULL;
    for (const cm_json_t *c = obj->child; c != NULL; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

const char *cm_json_get_str(const cm_json_t *obj, const char *key)
{
    const cm_json_t *v = cm_json_get(obj, key);
    return v != NULL && v->type == CM_JSON_STRING ? v->str : NULL;
}

bool cm_json_get_int(const cm_json_t *obj, const char *key, int64_t *out)
{
    const cm_json_t *v = cm_json_get(obj, key);
    if (v == NULL || v->type != CM_JSON_NUMBER || !v->is_int)
        return false;
    *out = v->i;
    return true;
}

bool cm_json_get_bool(const cm_json_t *obj, const char *key, bool *out)
{
    const cm_json_t *v = cm_json_get(obj, key);
    if (v == NULL || v->type != CM_JSON_BOOL)
        return false;
    *out = v->b;
    return true;
}

/* ---- writer ---- */

/* Bytes a JSON string cannot hold as they are: controls, '"' and '\\'. */
static const bool cm_json__needs_escape[256] = {
    [0 ... 0x1f] = true,
    ['"'] = true,
    ['\\'] = true,
};

void cm_json_quote(cm_sbuf_t *s, const char *v, size_t n)
{
    cm_sbuf_append(s, "\"", 1);
    size_t run = 0; /* start of the bytes not yet appended */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!cm_json__needs_escape[c])
            continue;
        const char *esc;
        char buf[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            snprintf(buf, sizeof(buf), "\\u%04x", c);
            esc = buf;
        }
        if (i > run)
            cm_sbuf_append(s, v + run, i - run);
        cm_sbuf_append(s, esc, strlen(esc));
        run = i + 1;
    }
    if (n > run)
        cm_sbuf_append(s, v + run, n - run);
    cm_sbuf_append(s, "\"", 1);
}

void cm_jw_init(cm_jw_t *w, cm_sbuf_t *s)
{
    memset(w, 0, sizeof(*w));
    w->s = s;
}

/* Writes the comma a value or key needs before it, if any. */
static void cm_jw__pre(cm_jw_t *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (!w->first[w->depth - 1])
        cm_sbuf_append(w->s, ",", 1);
    w->first[w->depth - 1] = false;
}

static void cm_jw__open(cm_jw_t *w, const char *bracket)
{
    if (w->depth >= CM_JW_DEPTH_MAX)
        abort();
    cm_jw__pre(w);
    cm_sbuf_append(w->s, bracket, 1);
    w->first[w->depth++] = true;
}

static void cm_jw__close(cm_jw_t *w, const char *bracket)
{
    if (w->depth == 0 || w->after_key)
        abort();
    w->depth--;
    cm_sbuf_append(w->s, bracket, 1);
}

void cm_jw_obj(cm_jw_t *w)
{
    cm_jw__open(w, "{");
}

void cm_jw_obj_end(cm_jw_t *w)
{
    cm_jw__close(w, "}");
}

void cm_jw_arr(cm_jw_t *w)
{
    cm_jw__open(w, "[");
}

void cm_jw_arr_end(cm_jw_t *w)
{
    cm_jw__close(w, "]");
}

void cm_jw_key(cm_jw_t *w, const char *key)
{
    if (w->after_key)
        abort();
    cm_jw__pre(w);
    cm_json_quote(w->s, key, strlen(key));
    cm_sbuf_append(w->s, ":", 1);
    w->after_key = true;
}

void cm_jw_strn(cm_jw_t *w, const char *v, size_t n)
{
    if (v == NULL) {
        cm_jw_null(w);
        return;
    }
    cm_jw__pre(w);
    cm_json_quote(w->s, v, n);
}

void cm_jw_str(cm_jw_t *w, const char *v)
{
    cm_jw_strn(w, v, v != NULL ? strlen(v) : 0);
}

void cm_jw_int(cm_jw_t *w, int64_t v)
{
    cm_jw__pre(w);
    char buf[24], *p = buf + sizeof(buf);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    cm_sbuf_append(w->s, p, (size_t)(buf + sizeof(buf) - p));
}

void cm_jw_double(cm_jw_t *w, double v)
{
    if (!isfinite(v)) {
        cm_jw_null(w);
        return;
    }
    /* The shortest of 15, 16 or 17 significant digits that reads back exactly: 0.1 stays
     * "0.1" rather than "0.10000000000000001", and 17 always round-trips. */
    char buf[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    cm_jw__pre(w);
    cm_sbuf_append(w->s, buf, strlen(buf));
}

void cm_jw_bool(cm_jw_t *w, bool v)
{
    cm_jw_raw(w, v ? "true" : "false");
}

void cm_jw_null(cm_jw_t *w)
{
    cm_jw_raw(w, "null");
}

void cm_jw_raw(cm_jw_t *w, const char *json)
{
    cm_jw__pre(w);
    cm_sbuf_append(w->s, json, strlen(json));
}

char *cm_jw_raw_space(cm_jw_t *w, size_t n)
{
    cm_jw__pre(w);
    cm_sbuf_reserve(w->s, n);
    char *at = w->s->buf + w->s->len;
    w->s->len += n;
    w->s->buf[w->s->len] = '\0';
    return at;
}

void cm_jw_kstr(cm_jw_t *w, const char *key, const char *v)
{
    cm_jw_key(w, key);
    cm_jw_str(w, v);
}

void cm_jw_kint(cm_jw_t *w, const char *key, int64_t v)
{
    cm_jw_key(w, key);
    cm_jw_int(w, v);
}

void cm_jw_kbool(cm_jw_t *w, const char *key, bool v)
{
    cm_jw_key(w, key);
    cm_jw_bool(w, v);
}

void cm_json_write(cm_jw_t *w, const cm_json_t *v)
{
    switch (v->type) {
    case CM_JSON_NULL:
        cm_jw_null(w);
        break;
    case CM_JSON_BOOL:
        cm_jw_bool(w, v->b);
        break;
    case CM_JSON_NUMBER:
        if (v->is_int)
            cm_jw_int(w, v->i);
        else
            cm_jw_double(w, v->num);
        break;
    case CM_JSON_STRING:
        cm_jw_strn(w, v->str, v->len);
        break;
    case CM_JSON_ARRAY:
        cm_jw_arr(w);
        for (const cm_json_t *c = v->child; c != NULL; c = c->next)
            cm_json_write(w, c);
        cm_jw_arr_end(w);
        break;
    case CM_JSON_OBJECT:
        cm_jw_obj(w);
        for (const cm_json_t *c = v->child; c != NULL; c = c->next) {
            cm_jw_key(w, c->key);
            cm_json_write(w, c);
        }
        cm_jw_obj_end(w);
        break;
    }
}
