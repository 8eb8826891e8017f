/*
 * HTTP path and query parsing (common/cm_http.c) as the gateway's REST API and the control
 * plane's operator API route a request. The input is a request's raw :path (query
 * included); it goes into an h2o_req_t holding only the fields these helpers read (path,
 * query_at, headers), set the way h2o sets them.
 *
 * Properties checked:
 *   - cm_http_segments yields at most CM_HTTP_SEGMENTS_MAX segments, none empty, ".",
 *     "..", or holding '/', '%' or a control character, and they spell the path again;
 *   - cm_http_route_match matches the pattern the segments spell, also with any one of
 *     them replaced by "*", and refuses one segment more or less;
 *   - cm_http_query finds every parameter of the query (and the fixed names the daemons
 *     ask for); a value is never longer than its raw text, and a value encoded again is
 *     found decoded to the same bytes;
 *   - cm_http_bearer, with the input as the Authorization header, yields a non-empty token
 *     that ends the header.
 */
#include <string.h>

#include "cm_arena.h"
#include "cm_http.h"
#include "fuzz.h"

#define FUZZ__ARENA_MAX (1u << 20)
/* Query parameters looked up per input, beyond the fixed names. */
#define FUZZ__PARAMS_MAX 16

/* Every name the gateway and the control plane look up with cm_http_query. */
static const char *const fuzz__names[] = {
    "format", "pool", "tenant", "limit", "state", "principal", "resource_type", "",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

/* A request with only what cm_http.c reads: the path, where its query starts, headers. */
static void fuzz__req(h2o_req_t *req, char *path, size_t len, h2o_header_t *auth)
{
    static h2o_iovec_t name = { "authorization", 13 };
    memset(req, 0, sizeof(*req));
    req->path = (h2o_iovec_t){ path, len };
    const char *q = memchr(path, '?', len);
    req->query_at = q != NULL ? (size_t)(q - path) : SIZE_MAX;
    *auth = (h2o_header_t){ .name = &name, .orig_name = "authorization", .value = { path, len } };
    req->headers.entries = auth;
    req->headers.size = 1;
    req->headers.capacity = 1;
}

static void fuzz__segments(const h2o_req_t *req, cm_arena_t *a)
{
    const char *seg[CM_HTTP_SEGMENTS_MAX + 1];
    int n = cm_http_segments(req, a, seg, CM_HTTP_SEGMENTS_MAX);
    if (n < 0)
        return;
    fuzz_assert(n <= CM_HTTP_SEGMENTS_MAX);
    /* "/" + the segments joined by "/" (+ a trailing "/") is the path without its query. */
    size_t end = req->query_at != SIZE_MAX ? req->query_at : req->path.len, at = 1;
    const char *p = req->path.base;
    fuzz_assert(end >= 1 && p[0] == '/');
    char *pattern = cm_arena_alloc(a, end + 1), *star = cm_arena_alloc(a, end + 2);
    fuzz_assert(pattern != NULL && star != NULL);
    size_t plen = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(seg[i]);
        fuzz_assert(l > 0 && strcmp(seg[i], ".") != 0 && strcmp(seg[i], "..") != 0);
        for (size_t k = 0; k < l; k++)
            fuzz_assert(seg[i][k] != '/' && seg[i][k] != '%' && (unsigned char)seg[i][k] >= 0x20);
        fuzz_assert(at + l <= end && memcmp(p + at, seg[i], l) == 0);
        at += l;
        fuzz_assert(at == end || p[at] == '/');
        at++;
        memcpy(pattern + plen, seg[i], l);
        plen += l;
        pattern[plen++] = '/';
    }
    fuzz_assert(at == end || at == end + 1); /* end: a trailing slash */
    if (n == 0)
        return;
    pattern[--plen] = '\0'; /* no slash after the last segment */

    if (!cm_http_route_match(pattern, seg, n))
        fuzz_fail("the segments do not match the pattern they spell: %s", pattern);
    fuzz_assert(!cm_http_route_match(pattern, seg, n - 1));
    seg[n] = "x";
    fuzz_assert(!cm_http_route_match(pattern, seg, n + 1));
    /* Any one segment as "*" still matches. */
    size_t s0 = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(seg[i]);
        memcpy(star, pattern, s0);
        star[s0] = '*';
        strcpy(star + s0 + 1, pattern + s0 + l);
        if (!cm_http_route_match(star, seg, n))
            fuzz_fail("pattern %s does not match with segment %d as \"*\"", star, i);
        s0 += l + 1;
    }
}

/* Percent-encodes every byte but unreserved ones (RFC 3986); `out` holds 3 * strlen(v). */
static size_t fuzz__encode(const char *v, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    return o;
}

/* A value found once, encoded again by us, is found decoded to the same bytes. */
static void fuzz__query_again(const char *value, cm_arena_t *a)
{
    char *path = cm_arena_alloc(a, 3 * strlen(value) + 16);
    fuzz_assert(path != NULL);
    memcpy(path, "/v1?x=1&k=", 10);
    size_t n = 10 + fuzz__encode(value, path + 10);
    h2o_req_t req;
    h2o_header_t auth;
    fuzz__req(&req, path, n, &auth);
    const char *again = cm_http_query(&req, a, "k");
    if (again == NULL || strcmp(again, value) != 0)
        fuzz_fail("a value encoded again reads back as %s", again ? again : "(none)");
}

static void fuzz__query(const h2o_req_t *req, cm_arena_t *a)
{
    if (req->query_at == SIZE_MAX) {
        fuzz_assert(cm_http_query(req, a, "format") == NULL);
        return;
    }
    /* The names in the query itself, and the fixed ones. */
    const char *names[FUZZ__PARAMS_MAX + sizeof(fuzz__names) / sizeof(fuzz__names[0])];
    size_t nn = 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (nn < FUZZ__PARAMS_MAX) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        names[nn] = cm_arena_strndup(a, q, (size_t)((eq != NULL ? eq : stop) - q));
        fuzz_assert(names[nn++] != NULL);
        if (amp == NULL)
            break;
        q = stop + 1;
    }
    for (size_t i = 0; i < sizeof(fuzz__names) / sizeof(fuzz__names[0]); i++)
        names[nn++] = fuzz__names[i];
    for (size_t i = 0; i < nn; i++) {
        const char *v = cm_http_query(req, a, names[i]);
        if (v == NULL)
            continue;
        fuzz_assert(strlen(v) < req->path.len - req->query_at);
        fuzz__query_again(v, a);
    }
}

static void fuzz__bearer(const h2o_req_t *req, cm_arena_t *a)
{
    const char *t = cm_http_bearer(req, a);
    if (t == NULL)
        return;
    size_t n = strlen(t);
    fuzz_assert(n > 0 && t[0] != ' ');
    fuzz_assert(n + 7 <= req->path.len);
    fuzz_assert(memcmp(t, req->path.base + (req->path.len - n), n) == 0 ||
                memchr(req->path.base, '\0', req->path.len) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: nothing may read past the path for a terminator. */
    char *path = malloc(size > 0 ? size : 1);
    if (path == NULL)
        abort();
    memcpy(path, data, size);
    h2o_req_t req;
    h2o_header_t auth;
    fuzz__req(&req, path, size, &auth);
    cm_arena_t a;
    cm_arena_init(&a, FUZZ__ARENA_MAX);
    fuzz__segments(&req, &a);
    fuzz__query(&req, &a);
    fuzz__bearer(&req, &a);
    cm_arena_free(&a);
    free(path);
    return 0;
}
