#!/usr/bin/env bash
# Schema migrations against a real Postgres: from empty, again as a no-op, from every
# intermediate version to the same schema, and the two refusals (an applied migration
# that was altered, a database newer than the binary).
. "$(dirname "$0")/../lib/harness.sh"
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
pg_start
export CP_OPERATOR_TOKENS=x=y

# migrate DB [flags]: the daemon's deploy step against database DB; output in $T/migrate.out.
migrate() {
    local db=$1
    shift
    "$BIN/streamd-control-plane" --migrate_only \
        --database_url="postgresql://streamd@127.0.0.1:$PGPORT/$db" "$@" >"$T/migrate.out" 2>&1
}

# psql_db DB SQL: one query against database DB.
psql_db() {
    psql -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U streamd -d "$1" -c "$2"
}

# schema DB: the schema of DB as pg_dump prints it, without the random \restrict keys of
# recent pg_dump versions.
schema() {
    pg_dump --schema-only -h 127.0.0.1 -p "$PGPORT" -U streamd -d "$1" |
        grep -v -e '^\\restrict ' -e '^\\unrestrict '
}

# The versions recorded in schema_migrations of DB, "1 2 3".
applied() {
    psql_db "$1" "SELECT coalesce(string_agg(version::text, ' ' ORDER BY version), '')
                  FROM schema_migrations"
}

latest=$(ls "$TOP/control-plane/migrations" | sed -n 's/^\([0-9]\{4\}\)_[a-z0-9_]*\.sql$/\1/p' |
    sort -n | tail -n 1)
[ -n "$latest" ] || fail "no NNNN_name.sql files under control-plane/migrations"
latest=$((10#$latest))
want_all=$(seq -s ' ' 1 "$latest")

step "from empty: every migration (1..$latest) is applied"
migrate streamd || { cat "$T/migrate.out"; fail "--migrate_only failed on an empty database"; }
[ "$(applied streamd)" = "$want_all" ] || fail "schema_migrations holds '$(applied streamd)', want '$want_all'"
for table in tenants principals api_keys jwt_issuers quotas brokers broker_pools topics \
    partitions acls audit_log; do
    psql_q "SELECT 1 FROM $table LIMIT 0" >/dev/null || fail "table $table missing after migration"
done
schema streamd >"$T/schema.empty"
[ -s "$T/schema.empty" ] || fail "pg_dump printed nothing"
psql_q "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version" \
    >"$T/migrations.1"
awk -F'|' 'length($3) != 64 { exit 1 }' "$T/migrations.1" || fail "checksums are not SHA-256 hex"

step "again: a no-op (schema_migrations and the schema unchanged)"
migrate streamd || { cat "$T/migrate.out"; fail "a second --migrate_only failed"; }
psql_q "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version" \
    >"$T/migrations.2"
cmp -s "$T/migrations.1" "$T/migrations.2" || fail "schema_migrations changed on a re-run"
schema streamd >"$T/schema.again"
diff -u "$T/schema.empty" "$T/schema.again" >"$T/diff" || { cat "$T/diff"; fail "schema changed on a re-run"; }

for k in $(seq 1 "$latest"); do
    step "from version $k: --migrate_to=$k applies exactly 1..$k, then the rest gives the same schema"
    psql_db postgres "CREATE DATABASE m_$k"
    migrate "m_$k" --migrate_to="$k" || { cat "$T/migrate.out"; fail "--migrate_to=$k failed"; }
    want=$(seq -s ' ' 1 "$k")
    [ "$(applied "m_$k")" = "$want" ] || fail "--migrate_to=$k: schema_migrations holds '$(applied "m_$k")', want '$want'"
    migrate "m_$k" || { cat "$T/migrate.out"; fail "migrating m_$k from version $k failed"; }
    [ "$(applied "m_$k")" = "$want_all" ] || fail "m_$k: schema_migrations holds '$(applied "m_$k")' after the rest"
    schema "m_$k" >"$T/schema.m_$k"
    diff -u "$T/schema.empty" "$T/schema.m_$k" >"$T/diff" ||
        { cat "$T/diff"; fail "the schema migrated through version $k differs from the one migrated from empty"; }
done

step "an applied migration that was altered is refused, and nothing is applied"
sum=$(psql_q "SELECT checksum FROM schema_migrations WHERE version = 1")
psql_q "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1"
if migrate streamd; then
    fail "--migrate_only accepted a database whose migration 1 was altered"
fi
grep -q 'an applied migration differs' "$T/migrate.out" ||
    { cat "$T/migrate.out"; fail "the refusal does not say that migration 1 differs"; }
grep -q 'version=1' "$T/migrate.out" || fail "the refusal does not name the version"
[ "$(psql_q "SELECT checksum FROM schema_migrations WHERE version = 1")" = x ] ||
    fail "the refusal rewrote the checksum"

step "the daemon on that database stays unready and answers 503"
CP="127.0.0.1:$(free_port)"
CP_OPERATOR_TOKENS="admin=$OPTOKEN" "$BIN/streamd-control-plane" --listen="$CP" \
    --database_url="$PG_URL" --reconcile_ms=100 >>"$T/control-plane.log" 2>&1 &
CP_PID=$!
# Healthy (its listener is up) but, on this database, never ready.
healthy() {
    kill -0 "$CP_PID" 2>/dev/null || fail "the daemon exited instead of waiting"
    curl -sf "http://$CP/healthz" >/dev/null 2>&1
}
wait_for 60 "the daemon's /healthz" healthy
code=$(curl -s -o "$T/readyz" -w '%{http_code}' "http://$CP/readyz")
[ "$code" = 503 ] || fail "/readyz answered $code on a database with an altered migration"
grep -q 'not migrated' "$T/readyz" || fail "/readyz does not say why: $(cat "$T/readyz")"
expect_status 503 GET /v1/tenants
cp_stop
psql_q "UPDATE schema_migrations SET checksum = '$sum' WHERE version = 1"
migrate streamd || { cat "$T/migrate.out"; fail "the restored database is refused"; }

step "a database newer than the binary is refused"
psql_q "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future', 'abc')"
if migrate streamd; then
    fail "--migrate_only accepted a database at version 9999"
fi
grep -q 'newer than this control plane' "$T/migrate.out" ||
    { cat "$T/migrate.out"; fail "the refusal does not say that the database is newer"; }
grep -q 'database_version=9999' "$T/migrate.out" || fail "the refusal does not name version 9999"
psql_q "DELETE FROM schema_migrations WHERE version = 9999"
migrate streamd || { cat "$T/migrate.out"; fail "the database is refused after removing version 9999"; }

step "no database: --migrate_only gives up after db_timeout_ms and says so"
# How soon it gives up is not checked (that depends on the machine); that it gives up is:
# timeout(1) ends a hang at 60 s, with status 124.
rc=0
timeout 60 "$BIN/streamd-control-plane" --migrate_only --db_timeout_ms=300 \
    --database_url="postgresql://streamd@127.0.0.1:$(free_port)/streamd" >"$T/migrate.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "--migrate_only succeeded without a database"
[ $rc -ne 124 ] || fail "--migrate_only did not give up without a database (still waiting after 60 s)"
grep -q 'cannot reach the database' "$T/migrate.out" || { cat "$T/migrate.out"; fail "no reason given"; }

step "the daemon refuses --migrate_to: it always runs the newest schema"
rc=0
"$BIN/streamd-control-plane" --migrate_to=1 --database_url="$PG_URL" >"$T/migrate.out" 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "the daemon with --migrate_to exited $rc, want 2"
grep -q 'migrate_only' "$T/migrate.out" || { cat "$T/migrate.out"; fail "no reason given"; }

[ "$(schema streamd)" = "$(cat "$T/schema.empty")" ] || fail "the schema changed during the refusals"
echo PASS
