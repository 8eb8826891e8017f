#include "cm_http.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cm_err.h"
#include "cm_log.h"
#include "cm_net.h"
#include "cm_time.h"

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

/* A client connection, from accept to close (the socket's on_close hook is ours). */
typedef struct cm_http__conn cm_http__conn_t;
struct cm_http__conn {
    cm_http_server_t *server;
    h2o_socket_t *sock;
    cm_http__conn_t *prev, *next;   /* the server's connections not yet authenticated */
    cm_http__conn_t *aprev, *anext; /* all the server's connections */
    bool authenticated;
    bool paused; /* held back by the pre-auth budget */
    bool muted;  /* held back until mute_until_ms (cm_http_conn_mute) */
    int64_t mute_until_ms;
    cm_http__conn_t *mprev, *mnext; /* the server's muted connections */
    /* HTTP/1.1: the refusal that muted it, sent when the time is up (h2o reads the next
     * request only once an answer went out, so holding it back is what mutes). */
    h2o_req_t *held_req;
    int held_status;
    h2o_iovec_t held_body; /* in held_req's pool */
    bool resume_read;      /* ... while h2o wants to read it: read again on resume */
    bool in_read;          /* h2o's read callback runs (cm_http__on_read) */
    bool closed;           /* ... and closed the socket: freed once it returns */
    h2o_socket_cb inner;   /* h2o's read callback, which ours wraps while not authenticated */
    size_t counted;        /* bytes read while not authenticated, in the budget */
    void *ud;              /* the application's (cm_http_conn_set) */
    void (*ud_free)(void *ud);
};

/* The pre-authentication budget's check runs this often while anything is counted. */
#define CM_HTTP__PREAUTH_TICK_MS 2
/* How long cm_http_server_free waits for its connections to end. */
#define CM_HTTP__CLOSE_WAIT_MS 2000
/*
 * The receive buffer asked for a connection that has not authenticated. h2o 2.2 reads a
 * socket until EAGAIN, so what one read callback brings in is bounded by the kernel's
 * buffer, which autotuning lets grow to megabytes; with a fixed one, each read is at most
 * about twice this (the kernel doubles it for its bookkeeping), and that is what a
 * connection can overshoot the budget by. Once it authenticates, it gets the larger one
 * (the kernel caps it at net.core.rmem_max; autotuning stays off for the socket).
 */
#define CM_HTTP__PREAUTH_RCVBUF (16 << 10)
#define CM_HTTP__AUTH_RCVBUF    (1 << 20)
/*
 * What a connection may read before the total budget holds it back: the headers and body
 * of an ordinary small request. Clients that fill the budget with large bodies would
 * otherwise stall every new connection, the authenticated ones among them, until they
 * time out; this way they hold back only requests larger than this.
 */
#define CM_HTTP__PREAUTH_FREE (16 << 10)

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
    /* Pre-authentication budget (cm_http_server_preauth); total == NULL: none. */
    atomic_llong *preauth_total;
    int64_t preauth_total_max;
    int64_t preauth_conn_max;
    atomic_ullong *preauth_paused; /* connections paused, counter */
    cm_http__conn_t *unauth;       /* connections not authenticated yet */
    cm_http__conn_t *conns;        /* every connection, until h2o closes it */
    cm_http__conn_t *muted;        /* connections muted (cm_http_conn_mute) */
    int64_t preauth_read_max;      /* what one read of such a connection can bring in */
    h2o_timeout_t preauth_timeout;
    h2o_timeout_entry_t preauth_tick;
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

/* ---- connections and the pre-authentication budget ------------------------------------ */

static void cm_http__unlink(cm_http__conn_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else if (c->server->unauth == c)
        c->server->unauth = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Gives back what `c` holds of the budget. */
static void cm_http__uncount(cm_http__conn_t *c)
{
    if (c->server->preauth_total != NULL && c->counted > 0)
        atomic_fetch_sub(c->server->preauth_total, (long long)c->counted);
    c->counted = 0;
}

static void cm_http__mute_unlink(cm_http__conn_t *c)
{
    if (!c->muted)
        return;
    if (c->mprev != NULL)
        c->mprev->mnext = c->mnext;
    else
        c->server->muted = c->mnext;
    if (c->mnext != NULL)
        c->mnext->mprev = c->mprev;
    c->mprev = c->mnext = NULL;
    c->muted = false;
}

static void cm_http__conn_closed(void *data)
{
    cm_http__conn_t *c = data;
    c->held_req = NULL; /* gone with the connection */
    cm_http__mute_unlink(c);
    if (c->aprev != NULL)
        c->aprev->anext = c->anext;
    else
        c->server->conns = c->anext;
    if (c->anext != NULL)
        c->anext->aprev = c->aprev;
    if (!c->authenticated) {
        cm_http__unlink(c);
        cm_http__uncount(c);
    }
    if (c->ud_free != NULL)
        c->ud_free(c->ud);
    c->ud_free = NULL;
    if (c->in_read)
        c->closed = true; /* freed when h2o's callback returns */
    else
        free(c);
}

static void cm_http__on_read(h2o_socket_t *sock, const char *err);
static cm_http__conn_t *cm_http__conn(h2o_req_t *req);

/* Puts our read callback in front of h2o's, if h2o reads and it is not there yet. */
static void cm_http__wrap(cm_http__conn_t *c)
{
    h2o_socket_cb cb = c->sock->_cb.read;
    if (cb != NULL && cb != cm_http__on_read) {
        c->inner = cb;
        c->sock->_cb.read = cm_http__on_read;
    }
}

/* Stops reading a paused connection that h2o (re)started reading: on resume it reads on
 * with the callback h2o gave. */
static void cm_http__hold(cm_http__conn_t *c)
{
    h2o_socket_cb cb = c->sock->_cb.read;
    if (cb == NULL)
        return;
    if (cb != cm_http__on_read)
        c->inner = cb;
    c->resume_read = true;
    h2o_socket_read_stop(c->sock);
}

static void cm_http__pause(cm_http__conn_t *c)
{
    if (c->paused)
        return;
    c->paused = true;
    c->resume_read = false;
    cm_http__hold(c);
    if (c->server->preauth_paused != NULL)
        atomic_fetch_add(c->server->preauth_paused, 1);
}

/* Reads on, if nothing else holds it back and h2o wanted to read when it was stopped or
 * started to since. */
static void cm_http__read_on(cm_http__conn_t *c)
{
    if (!c->paused && !c->muted && c->resume_read && !h2o_socket_is_reading(c->sock))
        h2o_socket_read_start(c->sock, c->authenticated ? c->inner : cm_http__on_read);
}

static void cm_http__resume(cm_http__conn_t *c)
{
    if (!c->paused)
        return;
    c->paused = false;
    cm_http__read_on(c);
}

static void cm_http__unmute(cm_http__conn_t *c)
{
    if (!c->muted)
        return;
    cm_http__mute_unlink(c);
    h2o_req_t *req = c->held_req;
    c->held_req = NULL;
    if (req != NULL)
        cm_http_send(req, c->held_status, "application/json", c->held_body.base, c->held_body.len);
    cm_http__read_on(c);
}

/* Counts what `c` just read (h2o 2.2's bytes_read is what the last read brought in, not a
 * running total): true when it is over a budget. */
static bool cm_http__count(cm_http__conn_t *c)
{
    cm_http_server_t *s = c->server;
    size_t grew = c->sock->bytes_read;
    c->counted += grew;
    long long total = atomic_fetch_add(s->preauth_total, (long long)grew) + (long long)grew;
    return (int64_t)c->counted > s->preauth_conn_max ||
           (grew > 0 && c->counted > CM_HTTP__PREAUTH_FREE && total > s->preauth_total_max);
}

/*
 * h2o's read callback, wrapped while the connection has not authenticated: what it read is
 * counted before h2o sees it, and once h2o is done with it, the connection stops reading
 * if it is over budget. In its callback h2o may close the socket (cm_http__conn_closed
 * then leaves `c` to us), start reading with another callback (wrapped again), or stop
 * reading (a request is complete: it starts again itself, and cm_http__hold sees that).
 */
static void cm_http__on_read(h2o_socket_t *sock, const char *err)
{
    cm_http__conn_t *c = sock->on_close.data;
    bool over = !c->authenticated && cm_http__count(c);
    c->in_read = true;
    c->inner(sock, err);
    c->in_read = false;
    if (c->closed) {
        free(c);
        return;
    }
    if (c->authenticated) {
        if (sock->_cb.read == cm_http__on_read)
            sock->_cb.read = c->inner; /* h2o's own from here */
        if (c->muted)
            cm_http__hold(c);
    } else if (c->paused) {
        cm_http__hold(c);
    } else {
        cm_http__wrap(c);
        if (over)
            cm_http__pause(c);
    }
}

/*
 * Every tick: wraps h2o's read callback again where h2o restarted reading outside ours
 * (after a response, say; what such a read brings in before the tick goes uncounted, at
 * most a receive buffer), keeps paused connections stopped, and resumes paused ones while the total
 * is under budget, only as many at once as can each read a buffer's worth without going over. h2o
 * buffers a whole request body before any handler runs, so this is the one place where what an
 * unauthenticated client makes the server hold can be bounded; a connection that stays
 * paused is closed by h2o's request or idle timeout.
 */
static void cm_http__preauth_on_tick(h2o_timeout_entry_t *e)
{
    cm_http_server_t *s =
        (cm_http_server_t *)((char *)e - offsetof(cm_http_server_t, preauth_tick));
    for (cm_http__conn_t *c = s->unauth; c != NULL; c = c->next) {
        if (c->paused)
            cm_http__hold(c);
        else
            cm_http__wrap(c);
    }
    long long room = s->preauth_total_max - atomic_load(s->preauth_total);
    for (cm_http__conn_t *c = s->unauth; c != NULL && room >= s->preauth_read_max; c = c->next)
        if (c->paused && (int64_t)c->counted + s->preauth_read_max <= s->preauth_conn_max) {
            cm_http__resume(c);
            room -= s->preauth_read_max;
        }
    /* Muted connections: kept stopped (h2o restarts reading after each response) until
     * their time is up. */
    int64_t now = cm_mono_ms();
    for (cm_http__conn_t *c = s->muted, *next; c != NULL; c = next) {
        next = c->mnext;
        if (now >= c->mute_until_ms)
            cm_http__unmute(c);
        else
            cm_http__hold(c);
    }
    if (s->unauth != NULL || s->muted != NULL)
        h2o_timeout_link(s->loop, &s->preauth_timeout, &s->preauth_tick);
}

void cm_http_conn_mute(h2o_req_t *req, int64_t ms)
{
    cm_http__conn_t *c = cm_http__conn(req);
    if (c == NULL || ms <= 0)
        return;
    cm_http_server_t *s = c->server;
    int64_t until = cm_mono_ms() + ms;
    if (c->muted) {
        if (until > c->mute_until_ms)
            c->mute_until_ms = until;
        return;
    }
    c->muted = true;
    c->mute_until_ms = until;
    c->mnext = s->muted;
    if (c->mnext != NULL)
        c->mnext->mprev = c;
    s->muted = c;
    if (!c->paused)
        c->resume_read = false;
    /* Inside h2o's read callback, it may restart reading when it returns: the wrapper or
     * the tick stops it then. */
    if (!c->in_read)
        cm_http__hold(c);
    if (!h2o_timeout_is_linked(&s->preauth_tick))
        h2o_timeout_link(s->loop, &s->preauth_timeout, &s->preauth_tick);
}

static void cm_http__on_accept(h2o_socket_t *listener, const char *err)
{
    cm_http__listener_t *l = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL)
        return;
    cm_http_server_t *s = l->server;
    cm_http__conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->server = s;
    c->sock = sock;
    sock->on_close.cb = cm_http__conn_closed;
    sock->on_close.data = c;
    c->anext = s->conns;
    if (c->anext != NULL)
        c->anext->aprev = c;
    s->conns = c;
    if (s->preauth_total == NULL) {
        c->authenticated = true; /* no budget: nothing to count */
        h2o_accept(&l->accept_ctx, sock);
        return;
    }
    int rcvbuf = CM_HTTP__PREAUTH_RCVBUF;
    (void)setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    c->next = s->unauth;
    if (c->next != NULL)
        c->next->prev = c;
    s->unauth = c;
    if (!h2o_timeout_is_linked(&s->preauth_tick))
        h2o_timeout_link(s->loop, &s->preauth_timeout, &s->preauth_tick);
    c->in_read = true; /* h2o may close it at once */
    h2o_accept(&l->accept_ctx, sock);
    c->in_read = false;
    if (c->closed) {
        free(c);
        return;
    }
    cm_http__wrap(c);
}

/* The connection `req` came on, or NULL (not a socket of ours). */
static cm_http__conn_t *cm_http__conn(h2o_req_t *req)
{
    h2o_conn_t *conn = req->conn;
    h2o_socket_t *sock =
        conn->callbacks->get_socket != NULL ? conn->callbacks->get_socket(conn) : NULL;
    return sock != NULL && sock->on_close.cb == cm_http__conn_closed ? sock->on_close.data : NULL;
}

void cm_http_conn_authenticated(h2o_req_t *req)
{
    cm_http__conn_t *c = cm_http__conn(req);
    if (c == NULL || c->authenticated)
        return;
    c->authenticated = true;
    int rcvbuf = CM_HTTP__AUTH_RCVBUF;
    (void)setsockopt(h2o_socket_get_fd(c->sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    cm_http__unlink(c);
    cm_http__uncount(c);
    cm_http__resume(c);
    if (!c->in_read && c->sock->_cb.read == cm_http__on_read)
        c->sock->_cb.read = c->inner; /* h2o's own from here */
}

void *cm_http_conn_get(h2o_req_t *req)
{
    cm_http__conn_t *c = cm_http__conn(req);
    return c != NULL ? c->ud : NULL;
}

bool cm_http_conn_set(h2o_req_t *req, void *ud, void (*ud_free)(void *ud))
{
    cm_http__conn_t *c = cm_http__conn(req);
    if (c == NULL || c->ud != NULL)
        return false;
    c->ud = ud;
    c->ud_free = ud_free;
    return true;
}

void cm_http_server_preauth(cm_http_server_t *s, atomic_llong *total, int64_t total_max,
                            int64_t conn_max, atomic_ullong *paused)
{
    s->preauth_total = total;
    s->preauth_total_max = total_max;
    s->preauth_conn_max = conn_max;
    s->preauth_paused = paused;
    s->preauth_read_max = 2 * CM_HTTP__PREAUTH_RCVBUF;
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
    h2o_timeout_init(loop, &s->preauth_timeout, CM_HTTP__PREAUTH_TICK_MS);
    s->preauth_tick.cb = cm_http__preauth_on_tick;
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
    if (s->preauth_total != NULL) {
        /* Connections start with the pre-authentication receive buffer (and so with the
         * window it advertises) from their handshake on: cm_http__on_accept. */
        int rcvbuf = CM_HTTP__PREAUTH_RCVBUF;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
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
    /* Clients read no more: each connection ends once what it is answering went out (h2o
     * sees the end of its input when it reads on), and the budget holds none back. */
    for (cm_http__conn_t *c = s->conns; c != NULL; c = c->anext) {
        (void)shutdown(h2o_socket_get_fd(c->sock), SHUT_RD);
        cm_http__unmute(c);
        cm_http__resume(c);
    }
}

bool cm_http_server_free(cm_http_server_t *s)
{
    if (s == NULL)
        return true;
    cm_http_server_stop(s);
    /* h2o has no call that closes its connections, and disposing of a context that still has
     * one aborts: let them end (cm_http_server_stop made them see the end of their input). */
    int64_t until = cm_mono_ms() + CM_HTTP__CLOSE_WAIT_MS;
    while (s->conns != NULL && cm_mono_ms() < until)
        h2o_evloop_run(s->loop, 10);
    /* Linux still delivers what arrives after SHUT_RD, so a client in the middle of a long
     * body keeps its connection going: reset the ones left (connect(2) to AF_UNSPEC
     * dissolves a TCP connection with a RST), and h2o ends each on its next read or write. */
    int aborted = 0;
    for (cm_http__conn_t *c = s->conns; c != NULL; c = c->anext) {
        struct sockaddr unspec = { .sa_family = AF_UNSPEC };
        if (connect(h2o_socket_get_fd(c->sock), &unspec, sizeof(unspec)) == 0)
            aborted++;
    }
    if (aborted > 0)
        cm_log_warn("connections reset at shutdown", "port=%d connections=%d", s->port, aborted);
    until = cm_mono_ms() + CM_HTTP__CLOSE_WAIT_MS;
    while (s->conns != NULL && cm_mono_ms() < until)
        h2o_evloop_run(s->loop, 10);
    if (s->conns != NULL) {
        cm_log_warn("connections still open at shutdown; their memory is left to the exit",
                    "port=%d", s->port);
        return false;
    }
    if (h2o_timeout_is_linked(&s->preauth_tick))
        h2o_timeout_unlink(&s->preauth_tick);
    h2o_timeout_dispose(s->loop, &s->preauth_timeout);
    /* h2o 2.2's dispose leaves the context's 88-byte queue allocated, and destroying it
     * afterwards crashes; tests/lsan.supp names that one leak. */
    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    free(s);
    return true;
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
    cm_http__conn_t *c = cm_http__conn(req);
    if (c != NULL && c->muted && c->held_req == NULL && req->version < 0x200 && status == 429) {
        /* Answered when the connection's time is up: a client that does not wait for
         * Retry-After waits for its answer instead. */
        c->held_req = req;
        c->held_status = status;
        c->held_body.base = h2o_mem_alloc_pool(&req->pool, body.len + 1);
        memcpy(c->held_body.base, body.buf != NULL ? body.buf : "", body.len);
        c->held_body.len = body.len;
        cm_sbuf_free(&body);
        return;
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
