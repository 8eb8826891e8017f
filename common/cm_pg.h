/*
 * The Postgres access layer shared by the control plane, the brokers and the gateways.
 *
 * A cm_pg_t is one libpq connection that reconnects by itself: a call made while the
 * connection is down first tries to reconnect (no more often than every `retry_ms`), and a
 * call that fails because the server went away drops the connection so that the next call
 * starts afresh. Every statement is parameterised (PQexecParams); no caller builds SQL from
 * input.
 *
 * Connections are opened with a connect timeout, TCP keepalives and a statement timeout,
 * so a vanished server costs a caller seconds, never forever.
 *
 * Not thread-safe: one cm_pg_t belongs to one thread.
 */
#ifndef CM_PG_H
#define CM_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cm_pg {
    PGconn *conn;        /* NULL while disconnected */
    char *url;           /* the database URL (owned) */
    char *app_name;      /* application_name shown in pg_stat_activity (owned) */
    int64_t retry_ms;    /* least time between reconnect attempts */
    int64_t next_try;    /* monotonic ms before which no reconnect is tried */
    int64_t timeout_ms;  /* statement timeout; also bounds the connect */
    uint64_t generation; /* bumped on each new connection: callers resync when it moves */
    char err[256];       /* why the last call failed, for logs and API errors */
} cm_pg_t;

/** Prepares `pg` (no connection yet). */
void cm_pg_init(cm_pg_t *pg, const char *url, const char *app_name, int64_t timeout_ms);

/** Closes the connection and frees what `pg` owns. */
void cm_pg_free(cm_pg_t *pg);

/**
 * Makes sure the connection is up, connecting if it is down and the retry delay has
 * passed. Returns true when connected.
 */
bool cm_pg_ensure(cm_pg_t *pg);

/** Drops the connection; the next call reconnects. */
void cm_pg_reset(cm_pg_t *pg);

/**
 * Runs one parameterised statement. `params` are text values (NULL = SQL NULL). Returns the
 * result, which the caller frees with PQclear, or NULL when there is no connection (see
 * pg->err). A failed statement still returns its result; check it with cm_pg_ok().
 */
PGresult *cm_pg_exec(cm_pg_t *pg, const char *sql, int n_params, const char *const *params);

/** True when `r` is a successful command or query result. */
bool cm_pg_ok(const PGresult *r);

/** The result's SQLSTATE ("23505"), or "" when there is none. */
const char *cm_pg_sqlstate(const PGresult *r);

/** The server's primary error message, or "" . */
const char *cm_pg_message(const PGresult *r);

/**
 * Runs a statement whose result only matters as success: frees it and returns true on
 * success; on failure copies the reason into pg->err.
 */
bool cm_pg_run(cm_pg_t *pg, const char *sql, int n_params, const char *const *params);

/** BEGIN / COMMIT / ROLLBACK. cm_pg_rollback is safe to call in any state. */
bool cm_pg_begin(cm_pg_t *pg);
bool cm_pg_commit(cm_pg_t *pg);
void cm_pg_rollback(cm_pg_t *pg);

/** SQLSTATEs the callers map to API errors. */
#define CM_PG_UNIQUE_VIOLATION      "23505"
#define CM_PG_FOREIGN_KEY_VIOLATION "23503"
#define CM_PG_CHECK_VIOLATION       "23514"
#define CM_PG_SERIALIZATION_FAILURE "40001"

#endif
