/*
 * The broker's event loop: epoll for file descriptors and a binary heap of timers.
 * One loop, one thread: every callback runs on it and must not block.
 */
#ifndef BK_LOOP_H
#define BK_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_loop bk_loop_t;
typedef struct bk_io bk_io_t;
typedef struct bk_timer bk_timer_t;

/** A watched descriptor. `cb` gets the epoll event mask. */
struct bk_io {
    int fd;
    uint32_t events;
    void (*cb)(bk_io_t *io, uint32_t events);
};

/** A one-shot timer; re-arm it from its callback for periodic work. */
struct bk_timer {
    int64_t at_ms; /* monotonic deadline */
    size_t heap_i; /* position in the heap, SIZE_MAX when not armed */
    void (*cb)(bk_timer_t *t);
};

bk_loop_t *bk_loop_new(void);
void bk_loop_free(bk_loop_t *l);

/** Starts watching `io->fd` for `events` (EPOLLIN, EPOLLOUT, ...). */
int bk_loop_add(bk_loop_t *l, bk_io_t *io, uint32_t events);
/** Changes the watched events. */
int bk_loop_mod(bk_loop_t *l, bk_io_t *io, uint32_t events);
/** Stops watching (before closing the descriptor). */
void bk_loop_del(bk_loop_t *l, bk_io_t *io);

/** Initialises a timer (not armed). */
void bk_timer_init(bk_timer_t *t, void (*cb)(bk_timer_t *t));
/** Arms (or re-arms) a timer to fire `delay_ms` from now. */
void bk_timer_start(bk_loop_t *l, bk_timer_t *t, int64_t delay_ms);
/** Disarms a timer; harmless if not armed. */
void bk_timer_stop(bk_loop_t *l, bk_timer_t *t);

/**
 * Sets a function run after each batch of events and after each run of timers: objects
 * closed by a callback are freed there, never while later events of the same batch may
 * still point at them.
 */
void bk_loop_set_after(bk_loop_t *l, void (*fn)(void *arg), void *arg);

/**
 * Shutdown: fires every armed timer now, until none is left (callbacks must not re-arm
 * forever). Requests waiting on timers see their connections gone and free themselves.
 */
void bk_loop_fire_timers(bk_loop_t *l);

/** Runs until bk_loop_stop(). Returns 0. */
int bk_loop_run(bk_loop_t *l);
/** Makes bk_loop_run return after the current iteration. Async-signal-safe. */
void bk_loop_stop(bk_loop_t *l);

#endif
