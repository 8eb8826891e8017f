#include "cm_kclient.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cm_kmsg.h"
#include "cm_kproto.h"
#include "cm_scram.h"
#include "cm_time.h"

static int cm_kclient__fail(cm_kclient_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cm_kclient__fail(cm_kclient_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return -1;
}

void cm_kclient_init(cm_kclient_t *c, const char *client_id, int64_t timeout_ms, size_t frame_max)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->next_corr = 1;
    c->timeout_ms = timeout_ms;
    c->frame_max = frame_max;
    c->client_id = client_id;
}

/* Waits until the socket is ready for `events`, up to the deadline. */
static int cm_kclient__wait(cm_kclient_t *c, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - cm_mono_ms();
        if (left <= 0)
            return cm_kclient__fail(c, "timed out after %lld ms", (long long)c->timeout_ms);
        struct pollfd pfd = { .fd = c->fd, .events = events };
        int n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cm_kclient__fail(c, "poll: %s", strerror(errno));
        if (n > 0)
            return 0;
    }
}

static int cm_kclient__dial(cm_kclient_t *c, const char *host, int port)
{
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0)
        return cm_kclient__fail(c, "cannot resolve %s: %s", host, gai_strerror(gai));
    int64_t deadline = cm_mono_ms() + c->timeout_ms;
    int rc = cm_kclient__fail(c, "no address for %s", host);
    for (struct addrinfo *ai = res; ai != NULL && rc != 0; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0) {
            rc = cm_kclient__fail(c, "socket: %s", strerror(errno));
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && cm_kclient__wait(c, POLLOUT, deadline) == 0 &&
             getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)) {
            rc = 0;
            break;
        }
        rc = cm_kclient__fail(c, "cannot connect to %s:%d: %s", host, port,
                              strerror(soerr ? soerr : errno));
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    return rc;
}

int cm_kclient_send_raw(cm_kclient_t *c, const void *p, size_t len)
{
    const uint8_t *b = p;
    int64_t deadline = cm_mono_ms() + c->timeout_ms;
    while (len > 0) {
        ssize_t w = send(c->fd, b, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (cm_kclient__wait(c, POLLOUT, deadline) != 0)
                return -1;
            continue;
        }
        if (w <= 0)
            return cm_kclient__fail(c, "send: %s", w < 0 ? strerror(errno) : "closed");
        b += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads exactly `len` bytes before the deadline. */
static int cm_kclient__read(cm_kclient_t *c, uint8_t *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t r = recv(c->fd, p, len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (cm_kclient__wait(c, POLLIN, deadline) != 0)
                return -1;
            continue;
        }
        if (r <= 0)
            return cm_kclient__fail(c, "%s",
                                    r < 0 ? strerror(errno) : "the peer closed the connection");
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int cm_kclient_recv_frame(cm_kclient_t *c, uint8_t **frame, size_t *len)
{
    int64_t deadline = cm_mono_ms() + c->timeout_ms;
    uint8_t hdr[4];
    *frame = NULL;
    if (cm_kclient__read(c, hdr, 4, deadline) != 0)
        return -1;
    uint32_t size = cm_be32(hdr);
    if (size > c->frame_max)
        return cm_kclient__fail(c, "a response of %u bytes is over the limit of %zu", size,
                                c->frame_max);
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        abort();
    if (cm_kclient__read(c, buf, size, deadline) != 0) {
        free(buf);
        return -1;
    }
    *frame = buf;
    *len = size;
    return 0;
}

int32_t cm_kclient_send(cm_kclient_t *c, int16_t key, int16_t v, cm_kclient_enc_fn enc,
                        const void *req)
{
    cm_kw_t w;
    cm_kw_init(&w, 1 << 30);
    int32_t corr = c->next_corr++;
    if (c->next_corr < 0)
        c->next_corr = 1;
    size_t start = cm_kreq_begin(&w, key, v, corr, c->client_id);
    enc(&w, v, req);
    cm_kframe_end(&w, start);
    int rc = w.err ? cm_kclient__fail(c, "cannot encode the request")
                   : cm_kclient_send_raw(c, w.buf, w.len);
    cm_kw_free(&w);
    return rc == 0 ? corr : -1;
}

int cm_kclient_recv(cm_kclient_t *c, int32_t corr, int16_t key, int16_t v, uint8_t **frame,
                    cm_kr_t *body)
{
    size_t len;
    if (cm_kclient_recv_frame(c, frame, &len) != 0)
        return -1;
    cm_kr_init(body, *frame, len);
    int32_t got = cm_kr_i32(body);
    if (cm_kresp_hdr_version(key, v) == 1)
        cm_kr_skip_tags(body);
    if (body->err || got != corr) {
        free(*frame);
        *frame = NULL;
        return cm_kclient__fail(c, "a response to request %d, not %d", got, corr);
    }
    return 0;
}

int cm_kclient_call(cm_kclient_t *c, int16_t key, int16_t v, cm_kclient_enc_fn enc, const void *req,
                    cm_kclient_dec_fn dec, cm_arena_t *a, void *resp)
{
    int32_t corr = cm_kclient_send(c, key, v, enc, req);
    uint8_t *frame;
    cm_kr_t body;
    if (corr < 0 || cm_kclient_recv(c, corr, key, v, &frame, &body) != 0)
        return -1;
    /* Decoded views point into the frame: it lives as long as the arena. */
    size_t rest = (size_t)(body.end - body.p);
    uint8_t *keep = cm_arena_alloc(a, rest ? rest : 1);
    if (keep == NULL) {
        free(frame);
        return cm_kclient__fail(c, "out of memory for the response");
    }
    memcpy(keep, body.p, rest);
    free(frame);
    cm_kr_t r;
    cm_kr_init(&r, keep, rest);
    if (dec(&r, v, a, resp) != 0)
        return cm_kclient__fail(c, "a malformed response to API %d v%d", key, v);
    return 0;
}

/* SaslHandshake v1, then SaslAuthenticate v2 twice (client-first, client-final). */
static int cm_kclient__scram(cm_kclient_t *c, const char *user, const char *password)
{
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    char out[CM_SCRAM_MSG_MAX], err[160] = "";
    cm_sasl_handshake_req_t hs;
    cm_sasl_handshake_req_init(&hs);
    hs.mechanism = cm_kstr_c("SCRAM-SHA-256");
    cm_sasl_handshake_resp_t hr;
    cm_scram_client_t sc;
    int n = cm_scram_client_start(&sc, user, password, NULL, out, sizeof(out));
    int rc = n < 0 ? cm_kclient__fail(c, "a user name or password too long") : 0;
    if (rc == 0 && cm_kclient_call(c, CM_KAPI_SASL_HANDSHAKE, 1,
                                   (cm_kclient_enc_fn)cm_sasl_handshake_req_encode, &hs,
                                   (cm_kclient_dec_fn)cm_sasl_handshake_resp_decode, &a, &hr) != 0)
        rc = -1;
    if (rc == 0 && hr.error_code != 0)
        rc = cm_kclient__fail(c, "SASL handshake refused: %s", cm_kerr_name(hr.error_code));
    for (int step = 0; rc == 0 && step < 2; step++) {
        cm_sasl_authenticate_req_t rq;
        cm_sasl_authenticate_req_init(&rq);
        rq.auth_bytes = (cm_kbytes_t){ (const uint8_t *)out, n };
        cm_sasl_authenticate_resp_t r;
        if (cm_kclient_call(c, CM_KAPI_SASL_AUTHENTICATE, 2,
                            (cm_kclient_enc_fn)cm_sasl_authenticate_req_encode, &rq,
                            (cm_kclient_dec_fn)cm_sasl_authenticate_resp_decode, &a, &r) != 0) {
            rc = -1;
            break;
        }
        if (r.error_code != 0) {
            rc = cm_kclient__fail(c, "SASL/SCRAM as %s refused: %s", user,
                                  cm_kerr_name(r.error_code));
            break;
        }
        size_t len = r.auth_bytes.len > 0 ? (size_t)r.auth_bytes.len : 0;
        if (step == 0 && (n = cm_scram_client_proof(&sc, r.auth_bytes.ptr, len, out, sizeof(out),
                                                    err, sizeof(err))) < 0)
            rc = cm_kclient__fail(c, "SASL/SCRAM as %s: %s", user, err);
        else if (step == 1 && !cm_scram_client_verify(&sc, r.auth_bytes.ptr, len, err, sizeof(err)))
            rc = cm_kclient__fail(c, "SASL/SCRAM as %s: %s", user, err);
    }
    cm_arena_free(&a);
    return rc;
}

int cm_kclient_connect(cm_kclient_t *c, const char *host, int port, const char *user,
                       const char *password)
{
    cm_kclient_close(c);
    if (cm_kclient__dial(c, host, port) != 0)
        return -1;
    if (user != NULL && user[0] != '\0' && cm_kclient__scram(c, user, password) != 0) {
        cm_kclient_close(c);
        return -1;
    }
    return 0;
}

void cm_kclient_abort(cm_kclient_t *c)
{
    int fd = c->fd;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

void cm_kclient_close(cm_kclient_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
