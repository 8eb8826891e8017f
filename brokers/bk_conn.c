#include "bk_conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bk_dispatch.h"
#include "bk_sasl.h"
#include "bk_server.h"
#include "cm_log.h"
#include "cm_time.h"

#define BK_CONN__RBUF_MIN (16 * 1024)
/* Bytes read from one connection per wakeup before the others get their turn. */
#define BK_CONN__READ_BUDGET (1024 * 1024)
#define BK_CONN__IOV_MAX     64

/*
 * A response frame is sent as pieces: for k file splices, 2k+1 pieces alternate memory and
 * file: mem[0, at0), file0, mem[at0, at1), file1, ..., mem[at(k-1), len).
 */
static size_t bk_conn__pieces(const bk_resp_t *r)
{
    return 2 * r->w.n_splices + 1;
}

static void bk_conn__mem_piece(const bk_resp_t *r, size_t piece, const uint8_t **p, size_t *len)
{
    size_t k = piece / 2;
    size_t from = k == 0 ? r->frame_start : r->w.splices[k - 1].at;
    size_t to = k < r->w.n_splices ? r->w.splices[k].at : r->w.len;
    *p = r->w.buf + from;
    *len = to - from;
}

static void bk_conn__update_events(bk_conn_t *c)
{
    uint32_t ev =
        (c->paused || c->starved ? 0 : EPOLLIN) | (c->head && c->head->ready ? EPOLLOUT : 0);
    bk_loop_mod(c->broker->loop, &c->io, ev);
}

static void bk_conn__pop(bk_conn_t *c)
{
    bk_resp_t *r = c->head;
    c->head = r->next;
    if (c->head == NULL)
        c->tail = NULL;
    else
        c->head->prev = NULL;
    c->inflight--;
    c->out_bytes -= cm_kw_total(&r->w) - r->frame_start;
    bk_metrics_add(&c->broker->metrics.bytes_out, cm_kw_total(&r->w) - r->frame_start);
    if (r->api_key >= 0 && r->api_key < BK_METRICS_API_MAX)
        cm_hist_observe(&c->broker->metrics.request_latency[r->api_key],
                        cm_mono_us() - r->start_us);
    r->conn = NULL;
    bk_resp_unref(r);
}

/* Sends ready responses from the head. Returns -1 if the connection failed. */
static int bk_conn__send(bk_conn_t *c)
{
    while (c->head != NULL && c->head->ready) {
        bk_resp_t *r = c->head;
        if (r->piece % 2 == 1) {
            const cm_kext_t *e = &r->w.splices[r->piece / 2].ext;
            off_t off = (off_t)(e->off + (int64_t)r->piece_off);
            ssize_t n = sendfile(c->io.fd, e->fd, &off, e->len - r->piece_off);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
            if (n <= 0)
                return -1; /* n == 0: the file is shorter than planned */
            r->piece_off += (size_t)n;
            if (r->piece_off == e->len) {
                r->piece++;
                r->piece_off = 0;
            }
        } else {
            /* Gather consecutive memory pieces, across ready responses, into one writev. */
            struct iovec iov[BK_CONN__IOV_MAX];
            int n_iov = 0;
            for (bk_resp_t *q = r; q != NULL && q->ready && n_iov < BK_CONN__IOV_MAX; q = q->next) {
                size_t piece = q->piece, off = q->piece_off;
                if (piece % 2 == 1)
                    break;
                const uint8_t *p;
                size_t len;
                bk_conn__mem_piece(q, piece, &p, &len);
                if (len > off)
                    iov[n_iov++] = (struct iovec){ (void *)(p + off), len - off };
                if (piece + 1 < bk_conn__pieces(q))
                    break; /* a file piece follows in this response */
            }
            size_t total = 0;
            for (int i = 0; i < n_iov; i++)
                total += iov[i].iov_len;
            ssize_t n = n_iov ? writev(c->io.fd, iov, n_iov) : 0;
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
            if (n < 0)
                return -1;
            /* Advance through what was written. */
            size_t left = (size_t)n;
            for (;;) {
                bk_resp_t *q = c->head;
                const uint8_t *p;
                size_t len;
                bk_conn__mem_piece(q, q->piece, &p, &len);
                size_t take = len - q->piece_off < left ? len - q->piece_off : left;
                q->piece_off += take;
                left -= take;
                if (q->piece_off < len)
                    break;
                q->piece++;
                q->piece_off = 0;
                if (q->piece < bk_conn__pieces(q))
                    break;
                bk_conn__pop(c);
                if (c->head == NULL || !c->head->ready || left == 0)
                    break;
            }
            if ((size_t)n < total)
                return 0; /* a short write: the socket is full */
            continue;
        }
        if (r->piece == bk_conn__pieces(r))
            bk_conn__pop(c);
    }
    return 0;
}

static void bk_conn__process(bk_conn_t *c);
static void bk_conn__set_rbuf(bk_conn_t *c, uint8_t *buf, size_t cap);

/* Re-evaluates backpressure after output moved. */
static void bk_conn__after_send(bk_conn_t *c)
{
    int64_t inflight_max = c->broker->cfg.conn_inflight_max;
    size_t out_max = (size_t)c->broker->cfg.conn_output_bytes_max;
    if (c->paused && !c->processing && !c->draining && c->inflight < inflight_max &&
        c->out_bytes < out_max) {
        c->paused = false;
        /* Frames buffered while paused are handled from a timer, not here: this may run
         * inside another request's handler (a completion), which must not nest. */
        bk_timer_start(c->broker->loop, &c->resume, 0);
    }
    if (!c->closed)
        bk_conn__update_events(c);
}

void bk_resp_ready(bk_resp_t *r)
{
    cm_kframe_end(&r->w, r->frame_start);
    r->ready = true;
    cm_arena_reset(&r->arena);
    bk_conn_t *c = r->conn;
    if (c == NULL || c->closed)
        return;
    if (r->w.err) {
        /* A frame that could not be encoded whole must not go out: the client would read
         * garbage. Closing tells it to retry. */
        cm_log_error("closing connection: a response could not be encoded", "peer=%s api_key=%d",
                     c->peer, r->api_key);
        bk_conn_close(c, "response too large");
        return;
    }
    c->out_bytes += cm_kw_total(&r->w) - r->frame_start;
    if (c->head == r && !c->send_queued) {
        c->send_queued = true;
        bk_server_send_later(c->srv, c);
    }
}

void bk_conn_send_ready(bk_conn_t *c)
{
    c->send_queued = false;
    if (c->closed)
        return;
    if (bk_conn__send(c) != 0) {
        bk_conn_close(c, "write failed");
        return;
    }
    bk_conn__after_send(c);
}

static void bk_resp__release(bk_resp_t *r, int n);

bk_resp_t *bk_resp_ref(bk_resp_t *r)
{
    r->refs++;
    return r;
}

/* Drops `n` refs at once. */
static void bk_resp__release(bk_resp_t *r, int n)
{
    r->refs -= n;
    if (r->refs > 0)
        return;
    cm_kw_free(&r->w);
    cm_arena_free(&r->arena);
    free(r);
}

void bk_resp_unref(bk_resp_t *r)
{
    bk_resp__release(r, 1);
}

/* Creates the response slot for a request and queues it (not ready). */
static bk_resp_t *bk_conn__slot(bk_conn_t *c, const cm_kreq_hdr_t *h, size_t frame_len)
{
    bk_resp_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->refs = 1; /* the frame handler's; the queue takes its own */
    r->conn = c;
    r->api_key = h->api_key;
    r->api_version = h->api_version;
    r->start_us = cm_mono_us();
    /* Record data is spliced from files and only the framing is in memory, so the limit is
     * the frame's: a first batch of a fetch may exceed the fetch's own limits (KIP-74). */
    cm_kw_init(&r->w, INT32_MAX);
    /* Decoding a request may take a multiple of its size; responses draw on broker state
     * (topics, partitions), which the broker limits on its own. */
    size_t arena_max = 32 * frame_len + (64u << 20);
    cm_arena_init(&r->arena, arena_max > (256u << 20) ? (256u << 20) : arena_max);
    return r;
}

static void bk_conn__enqueue(bk_conn_t *c, bk_resp_t *r)
{
    r->prev = c->tail;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->inflight++;
}

/* Takes back the slot just queued for a request that gets no answer; the caller releases
 * the queue's ref. */
static void bk_conn__drop_tail(bk_conn_t *c, bk_resp_t *r)
{
    c->tail = r->prev;
    if (c->tail)
        c->tail->next = NULL;
    else
        c->head = NULL;
    c->inflight--;
    r->conn = NULL;
}

/* The largest frame the connection may send now: before authentication, one that fits its
 * first 16 KiB with its size, so an unauthenticated client never grows its buffer or takes
 * room from queued_request_bytes_max. */
static int64_t bk_conn__frame_max(const bk_conn_t *c)
{
    if (c->auth != BK_AUTH_OPEN && c->auth != BK_AUTH_OK)
        return BK_CONN__RBUF_MIN - 4;
    return c->broker->cfg.request_bytes_max;
}

/* Handles one complete frame. Returns -1 to close the connection. */
static int bk_conn__frame(bk_conn_t *c, uint8_t *frame, size_t len)
{
    cm_kr_t rd;
    cm_kreq_hdr_t h;
    cm_kr_init(&rd, frame, len);
    if (cm_kreq_hdr_decode(&rd, &h) != 0) {
        cm_log_warn("closing connection: malformed request header", "peer=%s", c->peer);
        return -1;
    }
    bk_resp_t *r = bk_conn__slot(c, &h, len);
    r->frame_start = cm_kresp_begin(&r->w, h.api_key, h.api_version, h.correlation_id);
    bk_req_t req = {
        .conn = c, .b = c->broker, .hdr = h, .body = rd, .frame = frame, .frame_len = len, .resp = r
    };
    /* The slot is queued first so that a handler completing it at once keeps the order.
     * A ref of our own keeps it alive should the handler cause this connection to close
     * (closing drops the queue's refs). */
    bk_conn__enqueue(c, bk_resp_ref(r));
    int rc = bk_dispatch(&req), refs = 1;
    if (c->closed) {
        rc = BK_CLOSE; /* closing released the queue's ref */
    } else if (rc == BK_DONE || rc == BK_DONE_CLOSE) {
        bk_resp_ready(r);
    } else if (rc != BK_DEFER) {
        bk_conn__drop_tail(c, r);
        refs = 2;
    }
    bk_resp__release(r, refs);
    if (rc == BK_DONE_CLOSE && !c->closed)
        bk_conn_close(c, "authentication failed"); /* writes the answer first */
    if (rc == BK_CLOSE || c->closed)
        return -1;
    return 0; /* BK_DEFER: the handler holds its own ref and readies the slot later */
}

static void bk_conn__process(bk_conn_t *c)
{
    int64_t inflight_max = c->broker->cfg.conn_inflight_max;
    size_t out_max = (size_t)c->broker->cfg.conn_output_bytes_max;
    /* Never re-entered: handlers may complete responses, which may resume reading. */
    c->processing = true;
    while (!c->closed && c->rlen - c->rpos >= 4) {
        if (c->inflight >= inflight_max || c->out_bytes >= out_max) {
            c->paused = true;
            break;
        }
        uint8_t *p = c->rbuf + c->rpos;
        int32_t size = (int32_t)cm_be32(p);
        if (size < 8 || size > bk_conn__frame_max(c)) {
            cm_log_warn("closing connection: request size out of bounds",
                        "peer=%s size=%d max=%lld", c->peer, size,
                        (long long)c->broker->cfg.request_bytes_max);
            bk_metrics_add(&c->broker->metrics.requests_rejected, 1);
            bk_conn_close(c, "bad frame size");
            break;
        }
        if (c->rlen - c->rpos < 4 + (size_t)size)
            break;
        c->rpos += 4 + (size_t)size;
        bk_metrics_add(&c->broker->metrics.bytes_in, 4 + (unsigned long long)size);
        if (bk_conn__frame(c, p + 4, (size_t)size) != 0) {
            if (!c->closed) {
                bk_metrics_add(&c->broker->metrics.requests_rejected, 1);
                bk_conn_close(c, "bad request");
            }
            break;
        }
    }
    c->processing = false;
    if (c->closed)
        return;
    /* Keep only the unprocessed tail, at the front of the buffer. */
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    /* A buffer grown for one big request shrinks back once it is empty. */
    if (c->rlen == 0 && c->rcap > 4 * BK_CONN__RBUF_MIN) {
        free(c->rbuf);
        uint8_t *buf = malloc(BK_CONN__RBUF_MIN);
        if (buf == NULL)
            abort();
        bk_conn__set_rbuf(c, buf, BK_CONN__RBUF_MIN);
    }
    bk_conn__update_events(c);
}

/* True when the next frame's size field is already known to be out of bounds. */
static bool bk_conn__bad_size(const bk_conn_t *c)
{
    if (c->rlen - c->rpos < 4)
        return false;
    int32_t size = (int32_t)cm_be32(c->rbuf + c->rpos);
    return size < 8 || size > bk_conn__frame_max(c);
}

/* True when the buffer holds at least one whole unprocessed request frame. */
static bool bk_conn__has_frame(const bk_conn_t *c)
{
    size_t avail = c->rlen - c->rpos;
    return avail >= 4 && avail - 4 >= (size_t)cm_be32(c->rbuf + c->rpos);
}

/* Makes room for the next read: the whole pending frame, or at least 16 KiB. */
/*
 * Sets a connection's request buffer to `cap` bytes, accounting what is beyond the first
 * BK_CONN__RBUF_MIN in the broker's rbuf_held; connections that waited for room are woken
 * when it falls.
 */
static void bk_conn__starved_unlink(bk_conn_t *c)
{
    bk_broker_t *b = c->broker;
    if (!c->starved)
        return;
    if (c->starved_prev != NULL)
        c->starved_prev->starved_next = c->starved_next;
    else
        b->starved = c->starved_next;
    if (c->starved_next != NULL)
        c->starved_next->starved_prev = c->starved_prev;
    else
        b->starved_tail = c->starved_prev;
    c->starved_prev = c->starved_next = NULL;
    c->starved = false;
}

static void bk_conn__starve(bk_conn_t *c, int64_t need)
{
    bk_broker_t *b = c->broker;
    c->starved = true;
    c->starved_need = need;
    c->starved_prev = b->starved_tail;
    c->starved_next = NULL;
    if (b->starved_tail != NULL)
        b->starved_tail->starved_next = c;
    else
        b->starved = c;
    b->starved_tail = c;
    bk_conn__update_events(c);
}

/* Keeps the list of connections whose buffers hold request bytes, oldest first. */
static void bk_conn__holding(bk_conn_t *c, bool holding)
{
    bk_broker_t *b = c->broker;
    if (holding == c->holding)
        return;
    c->holding = holding;
    if (holding) {
        c->hold_prev = b->holders_tail;
        c->hold_next = NULL;
        if (b->holders_tail != NULL)
            b->holders_tail->hold_next = c;
        else
            b->holders = c;
        b->holders_tail = c;
        return;
    }
    if (c->hold_prev != NULL)
        c->hold_prev->hold_next = c->hold_next;
    else
        b->holders = c->hold_next;
    if (c->hold_next != NULL)
        c->hold_next->hold_prev = c->hold_prev;
    else
        b->holders_tail = c->hold_prev;
    c->hold_prev = c->hold_next = NULL;
}

static void bk_conn__set_rbuf(bk_conn_t *c, uint8_t *buf, size_t cap)
{
    bk_broker_t *b = c->broker;
    b->rbuf_held += (int64_t)cap - (int64_t)c->rcap;
    bool fell = cap < c->rcap;
    c->rbuf = buf;
    c->rcap = cap;
    bk_conn__holding(c, cap > BK_CONN__RBUF_MIN);
    if (!fell)
        return;
    /* The oldest waiting connections read again, as many as the room now fits (one whose
     * request no longer fits when it reads waits again, at the back): waking all of them at
     * every release would cost the loop work in proportion to how many wait. */
    /* The oldest holder may always grow (bk_conn__reserve): it reads again whatever the room. */
    if (b->holders != NULL && b->holders->starved) {
        bk_conn_t *w = b->holders;
        bk_conn__starved_unlink(w);
        bk_conn__update_events(w);
    }
    int64_t room = b->cfg.queued_request_bytes_max - b->rbuf_held;
    while (b->starved != NULL &&
           (b->starved->starved_need <= room || b->starved == b->holders || b->holders == NULL)) {
        bk_conn_t *w = b->starved;
        bool alone = b->holders == NULL;
        room -= w->starved_need;
        bk_conn__starved_unlink(w);
        bk_conn__update_events(w);
        if (alone)
            break; /* the oldest may grow past the room: one at a time */
    }
}

/*
 * Makes room for the rest of the request being read (the whole of it, from its size
 * prefix) or for a read ahead. False, with the connection no longer read, when that would
 * take the broker's request buffers past queued_request_bytes_max and others hold some:
 * it is read again once they are processed (a request of any allowed size fits when it
 * is alone).
 */
static bool bk_conn__reserve(bk_conn_t *c)
{
    /* Room for the next read: the buffer grows as the request arrives (doubling, never
     * past the request's end by more than a read ahead), so what it holds is what was sent,
     * not what a size prefix claims. */
    size_t want = c->rlen + BK_CONN__RBUF_MIN;
    if (want <= c->rcap)
        return true;
    size_t cap = c->rcap * 2 > want ? c->rcap * 2 : want;
    if (c->rlen >= 4) {
        size_t frame = 4 + (size_t)cm_be32(c->rbuf);
        if (frame >= want && cap > frame)
            cap = frame;
    }
    bk_broker_t *b = c->broker;
    int64_t grow = (int64_t)(cap - c->rcap);
    /* The oldest holder may always grow: it finishes its request and gives the room back,
     * so connections that each hold part of a request never wait on each other for good. The
     * budget is exceeded by one request at most. */
    bool oldest = b->rbuf_held == 0 || b->holders == c || (b->holders == NULL && !c->holding);
    if (!oldest && b->rbuf_held + grow > b->cfg.queued_request_bytes_max) {
        if (!c->starved) {
            bk_metrics_add(&b->metrics.requests_starved, 1);
            bk_conn__starve(c, grow);
        }
        return false;
    }
    uint8_t *buf = realloc(c->rbuf, cap);
    if (buf == NULL)
        abort();
    bk_conn__set_rbuf(c, buf, cap);
    return true;
}

static void bk_conn__on_resume(bk_timer_t *t)
{
    bk_conn_t *c = (bk_conn_t *)((char *)t - offsetof(bk_conn_t, resume));
    if (!c->closed && !c->paused)
        bk_conn__process(c);
}

static void bk_conn__on_io(bk_io_t *io, uint32_t events)
{
    bk_conn_t *c = (bk_conn_t *)io;
    if (c->closed)
        return;
    c->last_active_ms = cm_mono_ms();
    if (events & (EPOLLERR | EPOLLHUP)) {
        bk_conn_close(c, "peer closed");
        return;
    }
    if (events & EPOLLOUT) {
        if (bk_conn__send(c) != 0) {
            bk_conn_close(c, "write failed");
            return;
        }
        bk_conn__after_send(c);
        if (c->closed)
            return;
    }
    /* Read and process in turns until the socket is drained, reading is paused, or this
     * wakeup's budget is spent (the other connections get their turn; level-triggered
     * epoll brings us back). A pipelining client (the gateway multiplexes many callers
     * on one connection) thus gets all its queued requests into the same group commit. */
    size_t budget = BK_CONN__READ_BUDGET;
    bool drained = false;
    while ((events & EPOLLIN) && !c->paused && !c->starved && !c->closed && !drained &&
           budget > 0) {
        for (;;) {
            /* A size out of bounds is refused before the buffer grows for it. */
            if (bk_conn__bad_size(c) || !bk_conn__reserve(c))
                break;
            size_t room = c->rcap - c->rlen;
            ssize_t n = read(c->io.fd, c->rbuf + c->rlen, room);
            if (n > 0) {
                c->rlen += (size_t)n;
                budget -= (size_t)n < budget ? (size_t)n : budget;
                drained = (size_t)n < room; /* a short read took all there was */
                /* Stop once a whole request is buffered: it is processed before more is
                 * read, so the buffer never holds more than one request and a read ahead. */
                if (c->rlen < c->rcap || bk_conn__has_frame(c))
                    break;
                continue;
            }
            if (n == 0) {
                bk_conn_close(c, "peer closed");
                return;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                drained = true;
                break;
            }
            bk_conn_close(c, "read failed");
            return;
        }
        bool had_frame = bk_conn__has_frame(c);
        bk_conn__process(c);
        if (!had_frame)
            break; /* a partial request: wait for the rest */
    }
}

bk_conn_t *bk_conn_new(bk_server_t *srv, int fd, const char *peer)
{
    bk_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->io.fd = fd;
    c->io.cb = bk_conn__on_io;
    c->srv = srv;
    c->broker = bk_server_broker(srv);
    c->rcap = BK_CONN__RBUF_MIN;
    c->rbuf = malloc(c->rcap);
    if (c->rbuf == NULL)
        abort();
    c->last_active_ms = cm_mono_ms();
    c->accepted_ms = c->last_active_ms;
    c->auth = bk_sasl_conn_start(c->broker);
    bk_timer_init(&c->resume, bk_conn__on_resume);
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    if (bk_loop_add(c->broker->loop, &c->io, EPOLLIN) != 0) {
        free(c->rbuf);
        free(c);
        return NULL;
    }
    return c;
}

void bk_conn_close(bk_conn_t *c, const char *why)
{
    if (c->closed)
        return;
    /* Answers completed in this loop pass are not written yet: they go first, as far as
     * the socket takes them (a request's answer before a malformed frame that follows). */
    if (c->send_queued)
        (void)bk_conn__send(c);
    c->closed = true;
    bk_sasl_conn_free(c);
    bk_timer_stop(c->broker->loop, &c->resume);
    cm_log_debug("connection closed", "peer=%s why=\"%s\"", c->peer, why);
    bk_loop_del(c->broker->loop, &c->io);
    close(c->io.fd);
    bk_resp_t *r = c->head;
    while (r != NULL) {
        bk_resp_t *next = r->next;
        r->conn = NULL;
        bk_resp_unref(r);
        r = next;
    }
    c->head = c->tail = NULL;
    c->inflight = 0;
    bk_conn__starved_unlink(c);
    bk_conn__holding(c, false);
    /* Its buffer goes with it: the room it held is others'. */
    free(c->rbuf);
    c->rlen = c->rpos = 0;
    bk_conn__set_rbuf(c, NULL, BK_CONN__RBUF_MIN);
    bk_server_conn_closed(c->srv, c);
}

void bk_conn_free(bk_conn_t *c)
{
    free(c->rbuf);
    free(c);
}
