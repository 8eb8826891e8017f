#include "bk_loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cm_log.h"
#include "cm_time.h"

#define BK_LOOP__EVENTS 256

struct bk_loop {
    int epfd;
    volatile sig_atomic_t stop;
    bk_timer_t **heap;
    size_t n;
    size_t cap;
    void (*after)(void *arg);
    void *after_arg;
};

void bk_loop_set_after(bk_loop_t *l, void (*fn)(void *arg), void *arg)
{
    l->after = fn;
    l->after_arg = arg;
}

bk_loop_t *bk_loop_new(void)
{
    bk_loop_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void bk_loop_free(bk_loop_t *l)
{
    close(l->epfd);
    free(l->heap);
    free(l);
}

int bk_loop_add(bk_loop_t *l, bk_io_t *io, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };
    io->events = events;
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int bk_loop_mod(bk_loop_t *l, bk_io_t *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    struct epoll_event ev = { .events = events, .data.ptr = io };
    io->events = events;
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void bk_loop_del(bk_loop_t *l, bk_io_t *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* ---- timer heap: O(log n) arm, disarm and pop ---- */

static void bk_loop__swap(bk_loop_t *l, size_t a, size_t b)
{
    bk_timer_t *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->heap_i = a;
    l->heap[b]->heap_i = b;
}

static void bk_loop__up(bk_loop_t *l, size_t i)
{
    while (i > 0 && l->heap[(i - 1) / 2]->at_ms > l->heap[i]->at_ms) {
        bk_loop__swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void bk_loop__down(bk_loop_t *l, size_t i)
{
    for (;;) {
        size_t m = i, a = 2 * i + 1, b = 2 * i + 2;
        if (a < l->n && l->heap[a]->at_ms < l->heap[m]->at_ms)
            m = a;
        if (b < l->n && l->heap[b]->at_ms < l->heap[m]->at_ms)
            m = b;
        if (m == i)
            return;
        bk_loop__swap(l, i, m);
        i = m;
    }
}

void bk_timer_init(bk_timer_t *t, void (*cb)(bk_timer_t *t))
{
    t->at_ms = 0;
    t->heap_i = SIZE_MAX;
    t->cb = cb;
}

void bk_timer_stop(bk_loop_t *l, bk_timer_t *t)
{
    size_t i = t->heap_i;
    if (i == SIZE_MAX)
        return;
    t->heap_i = SIZE_MAX;
    l->n--;
    if (i == l->n)
        return;
    l->heap[i] = l->heap[l->n];
    l->heap[i]->heap_i = i;
    bk_loop__up(l, i);
    bk_loop__down(l, l->heap[i]->heap_i);
}

void bk_timer_start(bk_loop_t *l, bk_timer_t *t, int64_t delay_ms)
{
    bk_timer_stop(l, t);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->heap = realloc(l->heap, l->cap * sizeof(*l->heap));
        if (l->heap == NULL)
            abort();
    }
    t->at_ms = cm_mono_ms() + delay_ms;
    t->heap_i = l->n;
    l->heap[l->n++] = t;
    bk_loop__up(l, t->heap_i);
}

static int bk_loop__run_timers(bk_loop_t *l)
{
    int64_t now = cm_mono_ms();
    while (l->n > 0 && l->heap[0]->at_ms <= now) {
        bk_timer_t *t = l->heap[0];
        bk_timer_stop(l, t);
        t->cb(t);
    }
    if (l->n == 0)
        return 1000;
    int64_t wait = l->heap[0]->at_ms - now;
    return wait > 1000 ? 1000 : (int)wait;
}

void bk_loop_fire_timers(bk_loop_t *l)
{
    for (int guard = 0; l->n > 0 && guard < 1000000; guard++) {
        bk_timer_t *t = l->heap[0];
        bk_timer_stop(l, t);
        t->cb(t);
    }
}

int bk_loop_run(bk_loop_t *l)
{
    struct epoll_event evs[BK_LOOP__EVENTS];
    while (!l->stop) {
        int timeout = bk_loop__run_timers(l);
        /* Timers handle requests too (resumed connections): their work gets the same
         * end-of-batch step (the group-commit kick) as events do. */
        if (l->after)
            l->after(l->after_arg);
        if (l->stop)
            break; /* a timer asked to stop: do not sleep in epoll_wait first */
        int n = epoll_wait(l->epfd, evs, BK_LOOP__EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            cm_log_error("epoll_wait failed", "errno=%s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            bk_io_t *io = evs[i].data.ptr;
            io->cb(io, evs[i].events);
        }
        if (l->after)
            l->after(l->after_arg);
    }
    return 0;
}

void bk_loop_stop(bk_loop_t *l)
{
    l->stop = 1;
}
