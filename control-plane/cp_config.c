#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cm_config.h"
#include "cm_secret.h"
#include "cp.h"

/* clang-format off */
#define STR(f, def, help) { #f, CM_OPT_STR, def, 0, 0, offsetof(cp_config_t, f), help }
#define BOOL(f, def, help) { #f, CM_OPT_BOOL, def, 0, 0, offsetof(cp_config_t, f), help }
#define INT(f, def, lo, hi, help) { #f, CM_OPT_INT, def, lo, hi, offsetof(cp_config_t, f), help }
/* clang-format on */

static const cm_opt_t cp_config__opts[] = {
    STR(listen, "127.0.0.1:8090", "operator API listener (host:port)"),
    STR(database_url, "postgresql://streamd@127.0.0.1:55432/streamd", "Postgres URL"),
    STR(operator_tokens, "",
        "operator credentials, \"name=token,name=token\" (names go to the audit log)"),
    STR(default_pool, "default", "broker pool of tenants created without one"),
    STR(log_level, "info", "debug, info, warn or error"),
    INT(db_timeout_ms, "5000", 100, 600000, "database statement and connect timeout"),
    INT(reconcile_ms, "1000", 50, 600000, "period of the lease and leadership reconcilers"),
    INT(lease_grace_ms, "15000", 0, 3600000,
        "after a database reconnect, no lease expires for this long"),
    INT(body_bytes_max, "1048576", 1024, 67108864, "largest request body"),
    INT(list_max, "10000", 1, 1000000, "rows returned by one list call"),
    INT(partitions_max, "1000", 1, 100000, "partitions per topic"),
    INT(replication_factor_default, "1", 1, 16, "replication factor of topics created without one"),
    INT(partitions_default, "1", 1, 100000, "partitions of topics created without a count"),
    INT(migrate_to, "0", 0, 9999, "apply schema migrations up to this version (0: all)"),
    BOOL(migrate_only, "false", "apply schema migrations, then exit"),
};

static const cm_config_spec_t cp_config__spec = {
    .program = "streamd-control-plane",
    .summary = "the streamd control plane: operator API and reconcilers over Postgres",
    .env_prefix = "CP_",
    .opts = cp_config__opts,
    .n_opts = sizeof(cp_config__opts) / sizeof(cp_config__opts[0]),
};

int cp_config_load(cp_config_t *cfg, int argc, char **argv)
{
    int rc = cm_config_load(&cp_config__spec, cfg, argc, argv);
    if (rc == 0 && cfg->operator_tokens[0] == '\0') {
        fprintf(stderr, "streamd-control-plane: operator_tokens is empty; set CP_OPERATOR_TOKENS="
                        "\"admin=<a long random secret>\" (see --help)\n");
        return -1;
    }
    return rc;
}

void cp_config_free(cp_config_t *cfg)
{
    cm_config_free(&cp_config__spec, cfg);
}

bool cp_config_operator(const cp_config_t *cfg, const char *token, char *name, size_t cap)
{
    bool found = false;
    const char *p = cfg->operator_tokens;
    /* Every entry is compared, so the time taken does not say which one matched. */
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq != NULL) {
            char want[512];
            size_t tlen = len - (size_t)(eq + 1 - p);
            if (tlen > 0 && tlen < sizeof(want)) {
                memcpy(want, eq + 1, tlen);
                want[tlen] = '\0';
                if (cm_secret_equal(want, token) && !found) {
                    snprintf(name, cap, "%.*s", (int)(eq - p), p);
                    found = true;
                }
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return found;
}
