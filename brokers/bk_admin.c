/*
 * The admin HTTP listener: GET /healthz (the process is up), /readyz (recovery is done and
 * the Kafka listener is open), /metrics (Prometheus text). One request per connection;
 * anything else gets 404 or 405. Requests are capped at 8 KiB.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bk_loop.h"
#include "bk_server.h"
#include "cm_log.h"
#include "cm_net.h"
#include "cm_sbuf.h"

#define BK_ADMIN__REQ_MAX 8192

typedef struct bk_admin__conn bk_admin__conn_t;

struct bk_admin {
    bk_io_t io;
    bk_broker_t *b;
    bk_admin__conn_t *conns; /* open connections, freed with the listener */
};

struct bk_admin__conn {
    bk_io_t io;
    bk_broker_t *b;
    bk_admin_t *admin;
    bk_admin__conn_t *prev;
    bk_admin__conn_t *next;
    char req[BK_ADMIN__REQ_MAX];
    size_t req_len;
    cm_sbuf_t out;
    size_t sent;
};

static void bk_admin__close(bk_admin__conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->admin->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bk_loop_del(c->b->loop, &c->io);
    close(c->io.fd);
    cm_sbuf_free(&c->out);
    free(c);
}

static void bk_admin__respond(bk_admin__conn_t *c, int status, const char *type, const char *body,
                              size_t len)
{
    const char *reason = status == 200   ? "OK"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 503 ? "Service Unavailable"
                                         : "Bad Request";
    cm_sbuf_printf(&c->out,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   status, reason, type, len);
    cm_sbuf_append(&c->out, body, len);
}

static void bk_admin__route(bk_admin__conn_t *c)
{
    char method[8] = "", path[256] = "";
    if (sscanf(c->req, "%7s %255s", method, path) != 2) {
        bk_admin__respond(c, 400, "text/plain", "bad request\n", 12);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        bk_admin__respond(c, 405, "text/plain", "only GET\n", 9);
        return;
    }
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    if (strcmp(path, "/healthz") == 0) {
        bk_admin__respond(c, 200, "text/plain", "ok\n", 3);
    } else if (strcmp(path, "/readyz") == 0) {
        if (c->b->ready)
            bk_admin__respond(c, 200, "text/plain", "ready\n", 6);
        else {
            static const char why[] = "not ready: recovering, or waiting for the control "
                                      "plane's first snapshot\n";
            bk_admin__respond(c, 503, "text/plain", why, sizeof(why) - 1);
        }
    } else if (strcmp(path, "/metrics") == 0) {
        cm_sbuf_t m;
        cm_sbuf_init(&m);
        bk_metrics_render(c->b, &m);
        bk_admin__respond(c, 200, "text/plain; version=0.0.4", m.buf ? m.buf : "", m.len);
        cm_sbuf_free(&m);
    } else {
        bk_admin__respond(c, 404, "text/plain", "not found\n", 10);
    }
}

static void bk_admin__on_conn(bk_io_t *io, uint32_t events)
{
    bk_admin__conn_t *c = (bk_admin__conn_t *)io;
    if (events & (EPOLLERR | EPOLLHUP)) {
        bk_admin__close(c);
        return;
    }
    if (c->out.len == 0) {
        ssize_t n = read(io->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            bk_admin__close(c);
            return;
        }
        if (n > 0)
            c->req_len += (size_t)n;
        c->req[c->req_len] = '\0';
        if (strstr(c->req, "\r\n\r\n") == NULL) {
            if (c->req_len == sizeof(c->req) - 1)
                bk_admin__close(c); /* oversize request */
            return;
        }
        bk_admin__route(c);
    }
    while (c->sent < c->out.len) {
        ssize_t n = write(io->fd, c->out.buf + c->sent, c->out.len - c->sent);
        if (n < 0 && errno == EAGAIN) {
            bk_loop_mod(c->b->loop, io, EPOLLOUT);
            return;
        }
        if (n <= 0) {
            bk_admin__close(c);
            return;
        }
        c->sent += (size_t)n;
    }
    bk_admin__close(c);
}

static void bk_admin__on_accept(bk_io_t *io, uint32_t events)
{
    bk_admin_t *a = (bk_admin_t *)io;
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        bk_admin__conn_t *c = calloc(1, sizeof(*c));
        if (c == NULL)
            abort();
        c->io = (bk_io_t){ .fd = fd, .cb = bk_admin__on_conn };
        c->b = a->b;
        c->admin = a;
        cm_sbuf_init(&c->out);
        if (bk_loop_add(a->b->loop, &c->io, EPOLLIN) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = a->conns;
        if (a->conns)
            a->conns->prev = c;
        a->conns = c;
    }
    (void)events;
}

bk_admin_t *bk_admin_start(bk_broker_t *b, const char *hostport)
{
    char err[256];
    int fd = cm_net_listen(hostport, 64, err, sizeof(err));
    if (fd < 0) {
        cm_log_error("cannot open the admin listener", "reason=\"%s\"", err);
        return NULL;
    }
    bk_admin_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        abort();
    a->b = b;
    a->io = (bk_io_t){ .fd = fd, .cb = bk_admin__on_accept };
    if (bk_loop_add(b->loop, &a->io, EPOLLIN) != 0) {
        close(fd);
        free(a);
        return NULL;
    }
    return a;
}

void bk_admin_free(bk_admin_t *a)
{
    while (a->conns != NULL)
        bk_admin__close(a->conns);
    bk_loop_del(a->b->loop, &a->io);
    close(a->io.fd);
    free(a);
}
