#include "cm_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_log.h"
#include "cm_time.h"

void cm_pg_init(cm_pg_t *pg, const char *url, const char *app_name, int64_t timeout_ms)
{
    memset(pg, 0, sizeof(*pg));
    pg->url = strdup(url);
    pg->app_name = strdup(app_name);
    if (pg->url == NULL || pg->app_name == NULL)
        abort();
    pg->retry_ms = 1000;
    pg->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
}

void cm_pg_free(cm_pg_t *pg)
{
    cm_pg_reset(pg);
    free(pg->url);
    free(pg->app_name);
    pg->url = pg->app_name = NULL;
}

void cm_pg_reset(cm_pg_t *pg)
{
    if (pg->conn != NULL)
        PQfinish(pg->conn);
    pg->conn = NULL;
}

static void cm_pg__copy_err(cm_pg_t *pg, const char *msg)
{
    snprintf(pg->err, sizeof(pg->err), "%s", msg != NULL && msg[0] ? msg : "unknown error");
    /* libpq messages end in a newline; logs and JSON are nicer without it. */
    size_t n = strlen(pg->err);
    while (n > 0 && (pg->err[n - 1] == '\n' || pg->err[n - 1] == ' '))
        pg->err[--n] = '\0';
}

bool cm_pg_ensure(cm_pg_t *pg)
{
    if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK)
        return true;
    cm_pg_reset(pg);
    int64_t now = cm_mono_ms();
    if (now < pg->next_try) {
        if (pg->err[0] == '\0')
            cm_pg__copy_err(pg, "the database is unreachable");
        return false;
    }
    pg->next_try = now + pg->retry_ms;

    /* The URL comes last so that whatever it sets wins over these defaults. */
    char timeout_s[24], options[64];
    snprintf(timeout_s, sizeof(timeout_s), "%lld", (long long)((pg->timeout_ms + 999) / 1000));
    snprintf(options, sizeof(options), "-c statement_timeout=%lld", (long long)pg->timeout_ms);
    const char *keys[] = { "connect_timeout",
                           "keepalives_idle",
                           "keepalives_interval",
                           "keepalives_count",
                           "application_name",
                           "options",
                           "dbname",
                           NULL };
    const char *vals[] = { timeout_s, "5", "2", "3", pg->app_name, options, pg->url, NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL)
        abort();
    if (PQstatus(c) != CONNECTION_OK) {
        cm_pg__copy_err(pg, PQerrorMessage(c));
        PQfinish(c);
        return false;
    }
    pg->conn = c;
    pg->generation++;
    pg->err[0] = '\0';
    return true;
}

PGresult *cm_pg_exec(cm_pg_t *pg, const char *sql, int n_params, const char *const *params)
{
    if (!cm_pg_ensure(pg))
        return NULL;
    PGresult *r = PQexecParams(pg->conn, sql, n_params, NULL, params, NULL, NULL, 0);
    if (r == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        cm_pg__copy_err(pg, PQerrorMessage(pg->conn));
        cm_log_warn("database connection lost", "err=\"%s\"", pg->err);
        PQclear(r);
        cm_pg_reset(pg);
        return NULL;
    }
    if (!cm_pg_ok(r))
        cm_pg__copy_err(pg, PQresultErrorMessage(r));
    return r;
}

bool cm_pg_ok(const PGresult *r)
{
    if (r == NULL)
        return false;
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

const char *cm_pg_sqlstate(const PGresult *r)
{
    const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s != NULL ? s : "";
}

const char *cm_pg_message(const PGresult *r)
{
    const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return s != NULL ? s : "";
}

bool cm_pg_run(cm_pg_t *pg, const char *sql, int n_params, const char *const *params)
{
    PGresult *r = cm_pg_exec(pg, sql, n_params, params);
    bool ok = cm_pg_ok(r);
    PQclear(r);
    return ok;
}

bool cm_pg_begin(cm_pg_t *pg)
{
    return cm_pg_run(pg, "BEGIN", 0, NULL);
}

bool cm_pg_commit(cm_pg_t *pg)
{
    return cm_pg_run(pg, "COMMIT", 0, NULL);
}

void cm_pg_rollback(cm_pg_t *pg)
{
    if (pg->conn != NULL && PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(pg->conn, "ROLLBACK");
        PQclear(r);
    }
}
