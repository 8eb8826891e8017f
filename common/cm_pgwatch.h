/*
 * A thread that keeps a daemon's cached view of the control plane fresh: it owns one
 * Postgres connection, LISTENs on the daemon's channels, and calls `sync` to read and
 * publish a fresh snapshot
 *
 *   - after every (re)connect, since notifications sent while it was cut off are lost;
 *   - on every notification (those arriving within 20 ms of each other cost one read);
 *   - when another thread asks for one (cm_pgwatch_want), for read-your-writes;
 *   - every `resync_ms`, as a safety net.
 *
 * Brokers (bk_cplane.c) add registration and lease renewal through `connected` and
 * `tick`; gateways only read. When Postgres is away the daemon keeps its last snapshot
 * and the thread retries every `retry_ms`.
 */
#ifndef CM_PGWATCH_H
#define CM_PGWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "cm_pg.h"

typedef struct cm_pgwatch cm_pgwatch_t;

typedef struct cm_pgwatch_ops {
    /* The channels to LISTEN on (NULL-terminated), on every new connection. */
    const char *const *channels;
    /* Optional: runs after LISTEN on a new connection, and again whenever `tick` asked
     * for it; false: try again after retry_ms. A snapshot is read right after it. */
    bool (*connected)(void *ud, cm_pg_t *pg);
    /* Optional periodic work (a lease renewal). Returns the monotonic ms at which it wants
     * to run next, or -1 to have `connected` run again first. */
    int64_t (*tick)(void *ud, cm_pg_t *pg, int64_t now_ms);
    /* Reads a snapshot and hands it to the daemon, telling it that the snapshot answers
     * cm_pgwatch_want tickets up to `ticket`. False when the read failed. */
    bool (*sync)(void *ud, cm_pg_t *pg, uint64_t ticket);
    /* Optional: runs on the thread as it stops; pg->conn may be NULL. */
    void (*stopping)(void *ud, cm_pg_t *pg);
} cm_pgwatch_ops_t;

typedef struct cm_pgwatch_opts {
    const char *database_url;
    const char *app_name;
    int64_t timeout_ms; /* statement and connect timeout */
    int64_t retry_ms;   /* between attempts while the database is away */
    int64_t resync_ms;  /* a fresh snapshot at least this often */
} cm_pgwatch_opts_t;

/** Starts the thread. `ops` and `ud` must outlive it. Aborts if a thread cannot start. */
cm_pgwatch_t *cm_pgwatch_start(const cm_pgwatch_opts_t *o, const cm_pgwatch_ops_t *ops, void *ud);

/**
 * Asks for a fresh snapshot now (any thread). Returns a ticket: `sync` is later called with
 * a ticket at least this large, for a snapshot whose read began after this call.
 */
uint64_t cm_pgwatch_want(cm_pgwatch_t *w);

/** Stops and joins the thread, then frees it. NULL is harmless. */
void cm_pgwatch_stop(cm_pgwatch_t *w);

#endif
