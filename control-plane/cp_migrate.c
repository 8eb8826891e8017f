/*
 * Schema migrations, applied at start and never by hand.
 *
 * The migrations compiled into this binary (cp_migrations.c, generated from migrations/)
 * are applied in version order, each in its own transaction together with its row in
 * schema_migrations, under an advisory lock so that control planes starting together do
 * not race. An applied migration whose text changed since, or a database newer than this
 * binary, stops the start-up: running on a schema we do not understand would be worse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_log.h"
#include "cm_secret.h"
#include "cp.h"
#include "cp_migrations.h"

/* Any constant works; it only has to be the same in every control plane. */
#define CP_MIGRATE__LOCK_KEY "7201853"

int cp_migrate_latest(void)
{
    return cp_migrations[cp_migrations_n - 1].version;
}

static int cp_migrate__apply(cm_pg_t *pg, const cp_migration_t *m, const char *sum)
{
    if (!cm_pg_begin(pg))
        return -1;
    PGresult *r = PQexec(pg->conn, m->sql); /* several statements: no parameters here */
    if (!cm_pg_ok(r)) {
        cm_log_error("migration failed", "migration=%s err=\"%s\"", m->name, cm_pg_message(r));
        PQclear(r);
        cm_pg_rollback(pg);
        return -1;
    }
    PQclear(r);
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[] = { version, m->name, sum };
    if (!cm_pg_run(pg,
                   "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3,
                   params) ||
        !cm_pg_commit(pg)) {
        cm_log_error("migration not recorded", "migration=%s err=\"%s\"", m->name, pg->err);
        cm_pg_rollback(pg);
        return -1;
    }
    cm_log_info("migration applied", "migration=%s", m->name);
    return 0;
}

/* Checks what is applied against what we carry; returns the count applied, or -1. */
static int cp_migrate__check(PGresult *r)
{
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        if (v > cp_migrate_latest()) {
            cm_log_error("the database schema is newer than this control plane; upgrade it",
                         "database_version=%d binary_version=%d", v, cp_migrate_latest());
            return -1;
        }
        const cp_migration_t *m = NULL;
        for (int k = 0; k < cp_migrations_n; k++)
            if (cp_migrations[k].version == v)
                m = &cp_migrations[k];
        char sum[65];
        if (m != NULL)
            cm_secret_sha256_hex(m->sql, strlen(m->sql), sum);
        if (m == NULL || strcmp(sum, PQgetvalue(r, i, 1)) != 0) {
            cm_log_error("an applied migration differs from this binary's copy",
                         "version=%d name=%s", v, PQgetvalue(r, i, 2));
            return -1;
        }
    }
    return n;
}

int cp_migrate(cm_pg_t *pg, int to)
{
    const char *lock[] = { CP_MIGRATE__LOCK_KEY };
    if (!cm_pg_run(pg, "SELECT pg_advisory_lock($1::bigint)", 1, lock)) {
        cm_log_error("cannot lock the schema for migration", "err=\"%s\"", pg->err);
        return -1;
    }
    int rc = -1;
    if (!cm_pg_run(pg,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   0, NULL)) {
        cm_log_error("cannot create schema_migrations", "err=\"%s\"", pg->err);
        goto out_unlock;
    }
    PGresult *r = cm_pg_exec(
        pg, "SELECT version, checksum, name FROM schema_migrations ORDER BY version", 0, NULL);
    if (!cm_pg_ok(r)) {
        PQclear(r);
        goto out_unlock;
    }
    int applied = cp_migrate__check(r);
    int top = 0;
    for (int i = 0; i < PQntuples(r); i++)
        top = atoi(PQgetvalue(r, i, 0));
    PQclear(r);
    if (applied < 0)
        goto out_unlock;
    for (int k = 0; k < cp_migrations_n; k++) {
        if (cp_migrations[k].version <= top)
            continue;
        if (to > 0 && cp_migrations[k].version > to)
            break;
        char sum[65];
        cm_secret_sha256_hex(cp_migrations[k].sql, strlen(cp_migrations[k].sql), sum);
        if (cp_migrate__apply(pg, &cp_migrations[k], sum) != 0)
            goto out_unlock;
    }
    rc = 0;
out_unlock:
    cm_pg_run(pg, "SELECT pg_advisory_unlock($1::bigint)", 1, lock);
    return rc;
}
