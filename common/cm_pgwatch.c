#include "cm_pgwatch.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cm_log.h"
#include "cm_time.h"

#define CM_PGWATCH__DEBOUNCE_MS 20 /* notifications arriving together cost one snapshot */

struct cm_pgwatch {
    cm_pgwatch_opts_t o;
    const cm_pgwatch_ops_t *ops;
    void *ud;
    pthread_t thread;
    cm_pg_t pg;
    int wake_fd;        /* eventfd: the thread's poll wakes up (stop, snapshot wanted) */
    pthread_mutex_t mu; /* guards `stopping` and `wanted` */
    bool stopping;
    uint64_t wanted; /* snapshot requests (cm_pgwatch_want) */
    /* Thread-only state. */
    uint64_t served; /* requests the last published snapshot answers */
    uint64_t generation;
    bool ready; /* `connected` succeeded on this connection */
    int64_t next_tick;
    int64_t next_resync;
};

static uint64_t cm_pgwatch__wanted(cm_pgwatch_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t v = w->wanted;
    pthread_mutex_unlock(&w->mu);
    return v;
}

static bool cm_pgwatch__stopping(cm_pgwatch_t *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static bool cm_pgwatch__sync(cm_pgwatch_t *w)
{
    uint64_t ticket = cm_pgwatch__wanted(w); /* read before the snapshot starts */
    if (!w->ops->sync(w->ud, &w->pg, ticket))
        return false;
    w->served = ticket;
    w->next_resync = cm_mono_ms() + w->o.resync_ms;
    return true;
}

/* Takes the notifications libpq has queued; true when there were any. */
static bool cm_pgwatch__drain(cm_pgwatch_t *w)
{
    bool any = false;
    PGnotify *n;
    while (w->pg.conn != NULL && (n = PQnotifies(w->pg.conn)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

/* Waits for a notification, a wake-up, or `ms`; true when notifications arrived. */
static bool cm_pgwatch__wait(cm_pgwatch_t *w, int64_t ms)
{
    /* Notifications that came in while our own statements ran were read off the socket by
     * libpq then: they wait in its queue, not on the socket. */
    if (cm_pgwatch__drain(w))
        return true;
    struct pollfd fds[2] = { { .fd = w->wake_fd, .events = POLLIN },
                             { .fd = w->pg.conn ? PQsocket(w->pg.conn) : -1, .events = POLLIN } };
    if (poll(fds, 2, (int)(ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : ms)) <= 0)
        return false;
    uint64_t v;
    if ((fds[0].revents & POLLIN) && read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        cm_log_error("cannot read the wake-up eventfd", "errno=%s", strerror(errno));
    if (!(fds[1].revents & POLLIN))
        return false;
    if (!PQconsumeInput(w->pg.conn)) {
        cm_log_warn("control-plane database connection lost", "err=\"%s\"",
                    PQerrorMessage(w->pg.conn));
        cm_pg_reset(&w->pg);
        return false;
    }
    return cm_pgwatch__drain(w);
}

static bool cm_pgwatch__listen(cm_pgwatch_t *w)
{
    for (const char *const *c = w->ops->channels; *c != NULL; c++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "LISTEN %s", *c); /* channel names are the daemon's own */
        if (!cm_pg_run(&w->pg, sql, 0, NULL)) {
            cm_log_warn("cannot LISTEN", "channel=%s err=\"%s\"", *c, w->pg.err);
            return false;
        }
    }
    return true;
}

static void *cm_pgwatch__main(void *arg)
{
    cm_pgwatch_t *w = arg;
    while (!cm_pgwatch__stopping(w)) {
        int64_t now = cm_mono_ms();
        if (!cm_pg_ensure(&w->pg)) {
            cm_pgwatch__wait(w, w->o.retry_ms);
            continue;
        }
        if (w->pg.generation != w->generation) {
            /* A new connection: LISTEN first, so no change slips between it and the read. */
            if (!cm_pgwatch__listen(w)) {
                cm_pgwatch__wait(w, w->o.retry_ms);
                continue;
            }
            w->generation = w->pg.generation;
            w->ready = false;
            cm_log_info("connected to the control-plane database", "generation=%" PRIu64,
                        w->generation);
        }
        if (!w->ready) {
            w->ready = w->ops->connected == NULL || w->ops->connected(w->ud, &w->pg);
            w->next_tick = now;
            if (!w->ready || !cm_pgwatch__sync(w)) {
                cm_pgwatch__wait(w, w->o.retry_ms);
                continue;
            }
        }
        if (w->ops->tick != NULL && now >= w->next_tick) {
            w->next_tick = w->ops->tick(w->ud, &w->pg, now);
            if (w->next_tick < 0) {
                w->ready = false;
                continue;
            }
        }
        if ((now >= w->next_resync || cm_pgwatch__wanted(w) > w->served) && !cm_pgwatch__sync(w)) {
            cm_pgwatch__wait(w, w->o.retry_ms);
            continue;
        }
        int64_t until = w->next_resync;
        if (w->ops->tick != NULL && w->next_tick < until)
            until = w->next_tick;
        if (cm_pgwatch__wait(w, until - cm_mono_ms())) {
            cm_pgwatch__wait(w, CM_PGWATCH__DEBOUNCE_MS);
            cm_pgwatch__sync(w);
        }
    }
    if (w->ops->stopping != NULL)
        w->ops->stopping(w->ud, &w->pg);
    cm_pg_free(&w->pg);
    return NULL;
}

static void cm_pgwatch__wake(cm_pgwatch_t *w)
{
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        cm_log_error("cannot wake the control-plane thread", "errno=%s", strerror(errno));
}

uint64_t cm_pgwatch_want(cm_pgwatch_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t t = ++w->wanted;
    pthread_mutex_unlock(&w->mu);
    cm_pgwatch__wake(w);
    return t;
}

cm_pgwatch_t *cm_pgwatch_start(const cm_pgwatch_opts_t *o, const cm_pgwatch_ops_t *ops, void *ud)
{
    cm_pgwatch_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        abort();
    w->o = *o;
    w->ops = ops;
    w->ud = ud;
    pthread_mutex_init(&w->mu, NULL);
    cm_pg_init(&w->pg, o->database_url, o->app_name, o->timeout_ms);
    w->pg.retry_ms = o->retry_ms;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0 || pthread_create(&w->thread, NULL, cm_pgwatch__main, w) != 0)
        abort();
    return w;
}

void cm_pgwatch_stop(cm_pgwatch_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_mutex_unlock(&w->mu);
    cm_pgwatch__wake(w);
    pthread_join(w->thread, NULL);
    close(w->wake_fd);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
