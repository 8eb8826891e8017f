#include "bk_server.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bk_conn.h"
#include "bk_cplane.h"
#include "bk_forward.h"
#include "bk_dispatch.h"
#include "bk_forward.h"
#include "bk_flusher.h"
#include "bk_isr.h"
#include "bk_loop.h"
#include "bk_replica.h"
#include "bk_sasl.h"
#include "bk_topic.h"
#include "cm_log.h"
#include "cm_net.h"
#include "cm_time.h"

#define BK_SERVER__TICK_MS      50
#define BK_SERVER__ISR_CHECK_MS 250 /* in-sync replicas that fell behind */
/* Idle segment descriptors over the bound that one tick may look at (bk_fdcache_trim). */
#define BK_SERVER__FDCACHE_SCAN 4096

struct bk_server {
    bk_broker_t *b;
    bk_io_t listen_io;
    bk_io_t flusher_io;
    bk_conn_t *conns;  /* open connections (doubly linked) */
    bk_conn_t *closed; /* closed this batch, freed after it */
    bk_conn_t *sendq;  /* with answers completed this batch, written at its end */
    int64_t n_conns;
    bk_timer_t tick;
    int64_t last_retention_ms;
    int64_t last_idle_check_ms;
    int64_t last_isr_check_ms;
    bk_admin_t *admin;
    int port;
    bool shutting_down;
    int64_t shutdown_deadline_ms;
};

int bk_server_close_if(bk_server_t *s, bool (*pred)(const bk_conn_t *c, void *ud), void *ud,
                       const char *why)
{
    int n = 0;
    for (bk_conn_t *c = s->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (pred(c, ud)) {
            bk_conn_close(c, why);
            n++;
        }
    }
    return n;
}

bk_broker_t *bk_server_broker(bk_server_t *s)
{
    return s->b;
}

int bk_server_port(const bk_server_t *s)
{
    return s->port;
}

static void bk_server__on_accept(bk_io_t *io, uint32_t events)
{
    bk_server_t *s = (bk_server_t *)((char *)io - offsetof(bk_server_t, listen_io));
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                cm_log_warn("accept failed", "errno=%s", strerror(errno));
            if (errno == EINTR)
                continue;
            return;
        }
        if (s->n_conns >= s->b->cfg.connections_max || s->shutting_down) {
            bk_metrics_add(&s->b->metrics.connections_rejected, 1);
            cm_log_warn("refusing connection: connections_max reached", "max=%lld",
                        (long long)s->b->cfg.connections_max);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char peer[64];
        cm_net_peer_name(fd, peer, sizeof(peer));
        bk_conn_t *c = bk_conn_new(s, fd, peer);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        atomic_fetch_add(&s->b->metrics.connections_open, 1);
        bk_metrics_add(&s->b->metrics.connections_accepted, 1);
    }
    (void)events;
}

void bk_server_conn_closed(bk_server_t *s, bk_conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = s->closed;
    s->closed = c;
    s->n_conns--;
    atomic_fetch_sub(&s->b->metrics.connections_open, 1);
}

void bk_server_send_later(bk_server_t *s, bk_conn_t *c)
{
    c->send_next = s->sendq;
    s->sendq = c;
}

/* Writes the answers completed in this batch: one write per connection. */
static void bk_server__send(bk_server_t *s)
{
    while (s->sendq != NULL) {
        bk_conn_t *c = s->sendq;
        s->sendq = c->send_next;
        c->send_next = NULL;
        bk_conn_send_ready(c);
    }
}

static void bk_server__apply_syncs(bk_server_t *s);

static void bk_server__after_batch(void *arg)
{
    bk_server_t *s = arg;
    /* Answers first: the group commit below may run an fdatasync in this thread. */
    bk_server__send(s);
    if (bk_flusher_kick(s->b->flusher)) {
        bk_server__apply_syncs(s);
        bk_server__send(s);
    }
    while (s->closed != NULL) {
        bk_conn_t *c = s->closed;
        s->closed = c->next;
        bk_conn_free(c);
    }
}

static void bk_server__on_flusher(bk_io_t *io, uint32_t events)
{
    bk_server__apply_syncs((bk_server_t *)((char *)io - offsetof(bk_server_t, flusher_io)));
    (void)events;
}

/* Applies completed syncs: high watermarks move, acks go out, long polls wake. */
static void bk_server__apply_syncs(bk_server_t *s)
{
    bk_flush_done_t *done;
    size_t n = bk_flusher_take(s->b->flusher, &done);
    for (size_t i = 0; i < n; i++) {
        bk_partition_synced(done[i].p, done[i].seg, done[i].offset, done[i].pos, done[i].gen);
        bk_segment_unref(done[i].seg);
        bk_partition_unref(done[i].p);
    }
    free(done);
    if (n > 0)
        bk_replica_synced(s->b);
}

/* Calls fn on every partition of every topic. */
static void bk_server__each_partition(bk_broker_t *b, void (*fn)(bk_partition_t *p, int64_t arg),
                                      int64_t arg)
{
    size_t it = 0;
    bk_topic_t *t;
    while ((t = cm_strmap_next(&b->topics, &it, NULL, NULL)) != NULL)
        for (int32_t i = 0; i < t->n_parts; i++)
            if (t->parts[i] != NULL) /* NULL: a partition another broker holds */
                fn(t->parts[i], arg);
}

static void bk_server__isr_tick(bk_partition_t *p, int64_t now_ms)
{
    bk_isr_tick(p->broker, p, now_ms);
}

static void bk_server__retain(bk_partition_t *p, int64_t now_ms)
{
    bk_partition_retain(p, now_ms);
}

static bool bk_server__drained(bk_server_t *s)
{
    for (bk_conn_t *c = s->conns; c != NULL; c = c->next)
        if (c->inflight > 0)
            return false;
    return true;
}

/*
 * Measures the data directory's free space (every tick: statvfs is cheap) and refuses
 * appends below disk_free_min_bytes, so that a tenant filling the disk gets a retriable
 * error before any write of the broker's can fail with ENOSPC; reads go on.
 */
static void bk_server__check_disk(bk_broker_t *b)
{
    struct statvfs st;
    if (statvfs(b->cfg.data_dir, &st) != 0)
        return;
    b->disk_free = (int64_t)st.f_bavail * (int64_t)st.f_frsize;
    bool full = b->disk_free < b->cfg.disk_free_min_bytes;
    if (full == b->disk_full)
        return;
    b->disk_full = full;
    if (full)
        cm_log_warn("data directory nearly full: produce refused until space is freed",
                    "dir=%s free=%" PRId64 " disk_free_min_bytes=%" PRId64, b->cfg.data_dir,
                    b->disk_free, b->cfg.disk_free_min_bytes);
    else
        cm_log_info("data directory has room again: produce resumes", "dir=%s free=%" PRId64,
                    b->cfg.data_dir, b->disk_free);
}

static void bk_server__on_tick(bk_timer_t *t)
{
    bk_server_t *s = (bk_server_t *)((char *)t - offsetof(bk_server_t, tick));
    bk_broker_t *b = s->b;
    int64_t mono = cm_mono_ms();
    bk_server__check_disk(b);
    bk_fdcache_trim(&b->fdcache, BK_SERVER__FDCACHE_SCAN);
    bk_server__each_partition(b, bk_partition_tick, mono);
    if (b->cluster != NULL && mono - s->last_isr_check_ms >= BK_SERVER__ISR_CHECK_MS) {
        s->last_isr_check_ms = mono;
        bk_server__each_partition(b, bk_server__isr_tick, mono);
    }
    bk_groups_tick(b);
    if (b->cplane != NULL)
        bk_cplane_report(b->cplane, mono);
    if (bk_flusher_kick(b->flusher))
        bk_server__apply_syncs(s);
    if (mono - s->last_retention_ms >= b->cfg.retention_check_ms) {
        s->last_retention_ms = mono;
        bk_server__each_partition(b, bk_server__retain, cm_now_ms());
    }
    if (mono - s->last_idle_check_ms >= 1000) {
        s->last_idle_check_ms = mono;
        for (bk_conn_t *c = s->conns, *next; c != NULL; c = next) {
            next = c->next;
            if (c->inflight == 0 && mono - c->last_active_ms > b->cfg.conn_idle_ms)
                bk_conn_close(c, "idle");
            else if (c->auth != BK_AUTH_OPEN && c->auth != BK_AUTH_OK &&
                     mono - c->accepted_ms > b->cfg.auth_timeout_ms)
                bk_conn_close(c, "not authenticated in time");
            /* A request begun and not sent on holds request-buffer room others wait for. */
            else if (c->holding && !c->starved &&
                     mono - c->last_active_ms > b->cfg.request_read_timeout_ms)
                bk_conn_close(c, "request not finished");
        }
    }
    if (s->shutting_down && (bk_server__drained(s) || mono >= s->shutdown_deadline_ms)) {
        while (s->conns != NULL)
            bk_conn_close(s->conns, "shutdown");
        bk_loop_stop(b->loop);
        return;
    }
    bk_timer_start(b->loop, &s->tick, BK_SERVER__TICK_MS);
}

bk_server_t *bk_server_start(bk_broker_t *b)
{
    char err[256];
    int fd = cm_net_listen(b->cfg.listen, 1024, err, sizeof(err));
    if (fd < 0) {
        cm_log_error("cannot open the Kafka listener", "reason=\"%s\"", err);
        return NULL;
    }
    bk_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->b = b;
    s->port = cm_net_local_port(fd);
    s->listen_io = (bk_io_t){ .fd = fd, .cb = bk_server__on_accept };
    s->flusher_io = (bk_io_t){ .fd = bk_flusher_fd(b->flusher), .cb = bk_server__on_flusher };
    if (bk_loop_add(b->loop, &s->listen_io, EPOLLIN) != 0 ||
        bk_loop_add(b->loop, &s->flusher_io, EPOLLIN) != 0) {
        close(fd);
        free(s);
        return NULL;
    }
    if (b->cfg.admin_listen[0] != '\0') {
        s->admin = bk_admin_start(b, b->cfg.admin_listen);
        if (s->admin == NULL) {
            bk_loop_del(b->loop, &s->listen_io);
            bk_loop_del(b->loop, &s->flusher_io);
            close(fd);
            free(s);
            return NULL;
        }
    }
    if (bk_groups_start(b) != 0) {
        if (s->admin)
            bk_admin_free(s->admin);
        bk_loop_del(b->loop, &s->listen_io);
        bk_loop_del(b->loop, &s->flusher_io);
        close(fd);
        free(s);
        return NULL;
    }
    bk_loop_set_after(b->loop, bk_server__after_batch, s);
    s->last_retention_ms = s->last_idle_check_ms = cm_mono_ms();
    bk_server__check_disk(b);
    bk_timer_init(&s->tick, bk_server__on_tick);
    bk_timer_start(b->loop, &s->tick, BK_SERVER__TICK_MS);
    b->server = s;
    return s;
}

void bk_server_shutdown(bk_server_t *s, int64_t grace_ms)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    s->shutdown_deadline_ms = cm_mono_ms() + grace_ms;
    s->b->stopping = true;
    bk_fetch_release_all(s->b);
    bk_fwd_release_all(s->b->fwd); /* admin answers waiting for a snapshot go now */
    bk_groups_stop(s->b);          /* members waiting on a rebalance: NOT_COORDINATOR */
    bk_loop_del(s->b->loop, &s->listen_io);
    close(s->listen_io.fd);
    /* No new requests; what is queued still gets its answer. */
    for (bk_conn_t *c = s->conns; c != NULL; c = c->next) {
        c->paused = true;
        c->draining = true;
        bk_loop_mod(s->b->loop, &c->io, c->head && c->head->ready ? EPOLLOUT : 0);
    }
    bk_timer_start(s->b->loop, &s->tick, 0);
}

void bk_server_ready(bk_broker_t *b)
{
    if (b->ready)
        return;
    b->ready = true;
    cm_log_info("broker ready",
                "kafka=%s:%d admin=%s node_id=%" PRId64 " cluster_id=%s data_dir=%s", b->adv_host,
                b->adv_port, b->cfg.admin_listen, b->cfg.node_id, b->cluster_id, b->cfg.data_dir);
    printf("streamd-broker ready: Kafka on %s:%d, admin http://%s, data in %s\n", b->adv_host,
           b->adv_port, b->cfg.admin_listen, b->cfg.data_dir);
    fflush(stdout);
}

void bk_server_free(bk_server_t *s)
{
    s->b->server = NULL;
    while (s->conns != NULL)
        bk_conn_close(s->conns, "shutdown");
    bk_timer_stop(s->b->loop, &s->tick);
    bk_loop_fire_timers(s->b->loop);
    bk_server__after_batch(s);
    bk_loop_del(s->b->loop, &s->flusher_io);
    if (!s->shutting_down) {
        bk_loop_del(s->b->loop, &s->listen_io);
        close(s->listen_io.fd);
    }
    if (s->admin)
        bk_admin_free(s->admin);
    bk_groups_close(s->b);
    free(s);
}
