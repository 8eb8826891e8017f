/*
 * The control-plane daemon: the operator API and the reconcilers over the Postgres schema
 * (migrations/). One process may run alone or beside others against the same database:
 * every change is a transaction, leadership changes are compare-and-set on the leader
 * epoch, and the reconcilers take an advisory lock per pass so that only one daemon acts.
 *
 * Single-threaded: the h2o event loop runs the HTTP API and the reconciler timer. Queries
 * are synchronous on one connection with a statement timeout; the operator API is low
 * rate, and nothing on the data path waits on this process.
 */
#ifndef CP_H
#define CP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cm_http.h"
#include "cm_metrics.h"
#include "cm_pg.h"

typedef struct cp_config {
    char *listen;          /* operator API host:port */
    char *database_url;    /* libpq URL */
    char *operator_tokens; /* "name=token,name=token": who may call the API */
    char *default_pool;    /* pool of tenants created without one */
    char *log_level;
    int64_t db_timeout_ms;  /* statement and connect timeout */
    int64_t reconcile_ms;   /* period of the reconcilers */
    int64_t lease_grace_ms; /* after a database reconnect, leases are not expired
                               for this long, so that brokers can renew them */
    int64_t body_bytes_max; /* request body limit */
    int64_t list_max;       /* rows returned by one list call */
    int64_t partitions_max; /* partitions per topic */
    int64_t replication_factor_default;
    int64_t partitions_default;
    int64_t migrate_to; /* apply migrations up to this version (0: all) */
    bool migrate_only;  /* apply migrations and exit */
} cp_config_t;

typedef struct cp_metrics {
    atomic_ullong requests;
    atomic_ullong errors_4xx;
    atomic_ullong errors_5xx;
    atomic_ullong reconcile_passes;
    atomic_ullong brokers_expired;
    atomic_ullong leaders_elected;
    cm_hist_t request_latency;
} cp_metrics_t;

typedef struct cp {
    cp_config_t cfg;
    cm_pg_t pg;
    h2o_evloop_t *loop;
    cm_http_server_t *http;
    bool migrated;          /* the schema is at this binary's version */
    uint64_t pg_generation; /* connection generation the reconciler last saw */
    int64_t leases_from_ms; /* monotonic time before which no lease is expired */
    bool stopping;
    cp_metrics_t metrics;
} cp_t;

/** Loads the configuration; 0, 1 after --help, -1 on error (printed). */
int cp_config_load(cp_config_t *cfg, int argc, char **argv);
void cp_config_free(cp_config_t *cfg);

/**
 * Looks up the operator whose token is `token` in cfg->operator_tokens; writes its name
 * into `name` and returns true, or returns false.
 */
bool cp_config_operator(const cp_config_t *cfg, const char *token, char *name, size_t cap);

/**
 * Applies pending migrations up to version `to` (0: all) (cp_migrate.c). Returns 0 or -1
 * (logged).
 */
int cp_migrate(cm_pg_t *pg, int to);

/** The highest migration version this binary carries. */
int cp_migrate_latest(void);

/** Serves one HTTP request (cp_api.c). */
int cp_api_handle(void *cp, h2o_req_t *req);

/** One reconciler pass: lease expiry and leader election (cp_reconcile.c). */
void cp_reconcile(cp_t *cp);

#endif
