#include "cm_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_err.h"
#include "cm_log.h"
#include "cm_net.h"

/* Bodies up to this many times the limit are read so that the answer is our JSON 413;
 * beyond it h2o refuses them itself (also with 413) without buffering. */
#define CM_HTTP__BODY_SLACK     2
#define CM_HTTP__JSON_DEPTH_MAX 16

typedef struct cm_http__handler {
    h2o_handler_t super;
    cm_http_server_t *server;
} cm_http__handler_t;

#define CM_HTTP__LISTENERS_MAX 4

typedef struct cm_http__listener {
    cm_http_server_t *server;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *sock;
} cm_http__listener_t;

struct cm_http_server {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_evloop_t *loop;
    cm_http__listener_t listeners[CM_HTTP__LISTENERS_MAX];
    int n_listeners;
    cm_http_handler_fn fn;
    void *ud;
    size_t body_max;
    int port;
};

static int cm_http__on_req(h2o_handler_t *self, h2o_req_t *req)
{
    cm_http_server_t *s = ((cm_http__handler_t *)self)->server;
    if (req->entity.base != NULL && req->entity.len > s->body_max) {
        cm_http_send_error(req, 413, 413, 0, "the request body is larger than %zu bytes",
                           s->body_max);
        return 0;
    }
    return s->fn(s->ud, req);
}

static void cm_http__on_accept(h2o_socket_t *listener, const char *err)
{
    cm_http__listener_t *l = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&l->accept_ctx, sock);
}

cm_http_server_t *cm_http_server_new(h2o_evloop_t *loop, size_t body_max, cm_http_handler_fn fn,
                                     void *ud)
{
    cm_http_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->fn = fn;
    s->ud = ud;
    s->loop = loop;
    s->body_max = body_max;
    s->port = -1;
    h2o_config_init(&s->config);
    s->config.max_request_entity_size = body_max * CM_HTTP__BODY_SLACK;
    s->config.server_name = h2o_iovec_init(H2O_STRLIT("streamd"));
    h2o_hostconf_t *host =
        h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    cm_http__handler_t *h = (cm_http__handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = cm_http__on_req;
    h->server = s;
    h2o_context_init(&s->ctx, loop, &s->config);
    return s;
}

int cm_http_server_listen_fd(cm_http_server_t *s, int fd, SSL_CTX *ssl)
{
    if (s->n_listeners == CM_HTTP__LISTENERS_MAX)
        return -1;
    cm_http__listener_t *l = &s->listeners[s->n_listeners++];
    l->server = s;
    l->accept_ctx.ctx = &s->ctx;
    l->accept_ctx.hosts = s->config.hosts;
    l->accept_ctx.ssl_ctx = ssl;
    l->sock = h2o_evloop_socket_create(s->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    l->sock->data = l;
    h2o_socket_read_start(l->sock, cm_http__on_accept);
    if (s->port < 0)
        s->port = cm_net_local_port(fd);
    return 0;
}

cm_http_server_t *cm_http_server_start(h2o_evloop_t *loop, const char *addr, size_t body_max,
                                       cm_http_handler_fn fn, void *ud, char *err, size_t cap)
{
    int fd = cm_net_listen(addr, 128, err, cap);
    if (fd < 0)
        return NULL;
    cm_http_server_t *s = cm_http_server_new(loop, body_max, fn, ud);
    cm_http_server_listen_fd(s, fd, NULL);
    return s;
}

int cm_http_server_port(const cm_http_server_t *s)
{
    return s->port;
}

void cm_http_server_stop(cm_http_server_t *s)
{
    for (int i = 0; i < s->n_listeners; i++) {
        cm_http__listener_t *l = &s->listeners[i];
        if (l->sock != NULL) {
            h2o_socket_read_stop(l->sock);
            h2o_socket_close(l->sock);
            l->sock = NULL;
        }
    }
}

void cm_http_server_free(cm_http_server_t *s)
{
    if (s == NULL)
        return;
    cm_http_server_stop(s);
    /* h2o 2.2's dispose leaves the context's 88-byte queue allocated, and destroying it
     * afterwards crashes; tests/lsan.supp names that one leak. */
    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    free(s);
}

const char *cm_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

void cm_http_send_owned(h2o_req_t *req, int status, const char *type, const char *body, size_t len)
{
    /* Sent whole at once: nothing for h2o to ask for more of, or to stop. */
    static h2o_generator_t generator = { NULL, NULL };
    req->res.status = status;
    req->res.reason = cm_http_reason(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_start_response(req, &generator);
    h2o_iovec_t buf = h2o_iovec_init(body, len);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void cm_http_send(h2o_req_t *req, int status, const char *type, const char *body, size_t len)
{
    /* A copy in the request's pool, which lives as long as the request. */
    h2o_iovec_t copy = h2o_strdup(&req->pool, body, len);
    cm_http_send_owned(req, status, type, copy.base, copy.len);
}

void cm_http_send_json(h2o_req_t *req, int status, const cm_sbuf_t *body)
{
    cm_http_send(req, status, "application/json", body->buf != NULL ? body->buf : "", body->len);
}

void cm_http_send_error(h2o_req_t *req, int status, int code, int retry_after_s, const char *fmt,
                        ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cm_sbuf_t body;
    cm_sbuf_init(&body);
    cm_jw_t w;
    cm_jw_init(&w, &body);
    cm_jw_obj(&w);
    cm_jw_kint(&w, "error_code", code);
    cm_jw_kstr(&w, "message", msg);
    cm_jw_obj_end(&w);
    if (retry_after_s > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 16);
        int n = snprintf(v, 16, "%d", retry_after_s);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    /* h2o_send_inline copies the body into the request's pool. */
    cm_http_send_json(req, status, &body);
    cm_sbuf_free(&body);
}

bool cm_http_method_is(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

int cm_http_segments(const h2o_req_t *req, cm_arena_t *a, const char **seg, int max)
{
    /* The raw path, never h2o's normalized one: that one decodes %2F and resolves "..",
     * which would let an encoded name step into another resource's path. Segments are
     * names that never need escaping, so '%', "." and ".." are refused outright. */
    const char *p = req->path.base;
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len, i = 0;
    int n = 0;
    if (len == 0 || p[0] != '/')
        return -1;
    i = 1;
    while (i < len) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        if (j == i || n == max)
            return j == i && j == len ? n : -1; /* a trailing slash is allowed */
        for (size_t k = i; k < j; k++)
            if (p[k] == '%' || (unsigned char)p[k] < 0x20)
                return -1;
        if ((j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
            return -1;
        seg[n] = cm_arena_strndup(a, p + i, j - i);
        if (seg[n] == NULL)
            return -1;
        n++;
        i = j + 1;
    }
    return n;
}

bool cm_http_route_match(const char *pattern, const char *const *seg, int nseg)
{
    const char *p = pattern;
    int i = 0;
    while (*p != '\0') {
        if (i >= nseg)
            return false;
        if (p[0] == '*' && (p[1] == '/' || p[1] == '\0')) {
            p++;
        } else {
            const char *s = seg[i];
            while (*p != '\0' && *p != '/' && *p == *s) {
                p++;
                s++;
            }
            if (*s != '\0' || (*p != '\0' && *p != '/'))
                return false;
        }
        i++;
        if (*p == '/')
            p++;
    }
    return i == nseg;
}

static int cm_http__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decoded copy (%XX and '+'); NULL for broken escapes or an encoded NUL. */
static char *cm_http__unescape(cm_arena_t *a, const char *s, size_t n)
{
    char *out = cm_arena_alloc(a, n + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return NULL;
            int h = cm_http__hex(s[i + 1]), l = cm_http__hex(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return NULL;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

const char *cm_http_query(const h2o_req_t *req, cm_arena_t *a, const char *name)
{
    if (req->query_at == SIZE_MAX)
        return NULL;
    const char *q = req->path.base + req->query_at + 1;
    const char *end = req->path.base + req->path.len;
    size_t name_len = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *key_end = eq != NULL ? eq : stop;
        if ((size_t)(key_end - q) == name_len && memcmp(q, name, name_len) == 0)
            return eq != NULL ? cm_http__unescape(a, eq + 1, (size_t)(stop - eq - 1))
                              : cm_arena_strndup(a, "", 0);
        q = stop + 1;
    }
    return NULL;
}

const char *cm_http_header(const h2o_req_t *req, cm_arena_t *a, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (h2o_memis(h->name->base, h->name->len, name, n))
            return cm_arena_strndup(a, h->value.base, h->value.len);
    }
    return NULL;
}

const char *cm_http_bearer(const h2o_req_t *req, cm_arena_t *a)
{
    const char *v = cm_http_header(req, a, "authorization");
    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    while (*v == ' ')
        v++;
    return *v != '\0' ? v : NULL;
}

const cm_json_t *cm_http_json_body(h2o_req_t *req, cm_arena_t *a)
{
    if (req->entity.base == NULL || req->entity.len == 0) {
        cm_http_send_error(req, 400, 400, 0, "the request needs a JSON object body");
        return NULL;
    }
    /* The body is read as JSON whatever its declared type: `curl -d` labels it a form, and
     * refusing that would only get in the way. A body that is not JSON is refused below. */
    cm_json_t *doc;
    char err[160];
    int rc = cm_json_parse(a, req->entity.base, req->entity.len, CM_HTTP__JSON_DEPTH_MAX, &doc, err,
                           sizeof(err));
    if (rc != 0) {
        cm_http_send_error(req, rc == CM_ELIMIT ? 413 : 400, rc == CM_ELIMIT ? 413 : 400, 0,
                           "the body is not valid JSON: %s", err);
        return NULL;
    }
    if (doc->type != CM_JSON_OBJECT) {
        cm_http_send_error(req, 400, 400, 0, "the body must be a JSON object");
        return NULL;
    }
    return doc;
}
