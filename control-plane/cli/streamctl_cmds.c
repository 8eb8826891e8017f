/* streamctl: one function per command, each mapped to one operator API route. */
#include "streamctl_internal.h"

/* ---- tenants ------------------------------------------------------------------------ */

int streamctl_tenants_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "NAME", "name" },          { "PLAN", "plan" },     { "STATE", "state" },
        { "POOL", "pool" },          { "TOPICS", "topics" }, { "PARTITIONS", "partitions" },
        { "CREATED", "created_at" }, { NULL, NULL },
    };
    const char *state = streamctl_opt(c, "state");
    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "suspended") != 0)
        return streamctl_usage_error(c, "--state must be active or suspended, not \"%s\"", state);
    streamctl_path(c, "v1", "tenants", NULL);
    streamctl_query(c, "state", state);
    return streamctl_list(c, cols, "tenants");
}

int streamctl_tenants_create(streamctl_ctx_t *c)
{
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[0]);
    if (streamctl_opt(c, "plan") != NULL)
        cm_jw_kstr(w, "plan", streamctl_opt(c, "plan"));
    if (streamctl_opt(c, "pool") != NULL)
        cm_jw_kstr(w, "pool", streamctl_opt(c, "pool"));
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Tenant \"%s\" created.", c->args[0]);
    streamctl_path(c, "v1", "tenants", NULL);
    return streamctl_show(c, "POST", STREAMCTL__OBJECT, true);
}

int streamctl_tenants_get(streamctl_ctx_t *c)
{
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], NULL);
    return rc != 0 ? rc : streamctl_show(c, "GET", STREAMCTL__OBJECT, false);
}

/* PATCHes one field of a tenant. */
static int streamctl__tenants_patch(streamctl_ctx_t *c, const char *field, const char *value,
                                    const char *done)
{
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, field, value);
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Tenant \"%s\" %s.", c->args[0], done);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], NULL);
    return rc != 0 ? rc : streamctl_show(c, "PATCH", STREAMCTL__OBJECT, true);
}

int streamctl_tenants_suspend(streamctl_ctx_t *c)
{
    return streamctl__tenants_patch(c, "state", "suspended", "suspended");
}

int streamctl_tenants_resume(streamctl_ctx_t *c)
{
    return streamctl__tenants_patch(c, "state", "active", "resumed");
}

int streamctl_tenants_set_plan(streamctl_ctx_t *c)
{
    return streamctl__tenants_patch(c, "plan", c->args[1], "updated");
}

int streamctl_tenants_delete(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "Tenant \"%s\" deleted.", c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], NULL);
    return rc != 0 ? rc : streamctl_delete(c);
}

/* ---- service accounts, API keys, JWT issuers ---------------------------------------- */

int streamctl_sa_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "NAME", "name" },
        { "KIND", "kind" },
        { "ADMIN", "admin" },
        { "API_KEYS", "api_keys" },
        { "CREATED", "created_at" },
        { "DESCRIPTION", "description" },
        { NULL, NULL },
    };
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "service-accounts", NULL);
    return rc != 0 ? rc : streamctl_list(c, cols, "service accounts");
}

int streamctl_sa_create(streamctl_ctx_t *c)
{
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[1]);
    cm_jw_kbool(w, "admin", streamctl_opt(c, "admin") != NULL);
    if (streamctl_opt(c, "description") != NULL)
        cm_jw_kstr(w, "description", streamctl_opt(c, "description"));
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Service account \"%s\" created in tenant \"%s\".", c->args[1],
             c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "service-accounts", NULL);
    return rc != 0 ? rc : streamctl_show(c, "POST", STREAMCTL__OBJECT, true);
}

int streamctl_sa_delete(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg),
             "Service account \"%s\" deleted from tenant \"%s\", with its API keys.", c->args[1],
             c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "service-accounts", c->args[1], NULL);
    return rc != 0 ? rc : streamctl_delete(c);
}

int streamctl_keys_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "KEY", "key" },
        { "SERVICE_ACCOUNT", "service_account" },
        { "SECRET_PREFIX", "secret_prefix" },
        { "STATE", "state" },
        { "CREATED", "created_at" },
        { "REVOKED", "revoked_at" },
        { "DESCRIPTION", "description" },
        { NULL, NULL },
    };
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "api-keys", NULL);
    return rc != 0 ? rc : streamctl_list(c, cols, "API keys");
}

int streamctl_keys_create(streamctl_ctx_t *c)
{
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    if (streamctl_opt(c, "service-account") != NULL)
        cm_jw_kstr(w, "service_account", streamctl_opt(c, "service-account"));
    if (streamctl_opt(c, "description") != NULL)
        cm_jw_kstr(w, "description", streamctl_opt(c, "description"));
    cm_jw_obj_end(w);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "api-keys", NULL);
    return rc != 0 ? rc : streamctl_show(c, "POST", STREAMCTL__KEY, false);
}

int streamctl_keys_revoke(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "API key \"%s\" of tenant \"%s\" revoked.", c->args[1],
             c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "api-keys", c->args[1], NULL);
    return rc != 0 ? rc : streamctl_show(c, "DELETE", STREAMCTL__OBJECT, true);
}

int streamctl_issuers_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "ID", "id" },
        { "ISSUER", "issuer" },
        { "AUDIENCE", "audience" },
        { "ALGORITHM", "algorithm" },
        { "PRINCIPAL_CLAIM", "principal_claim" },
        { "CREATED", "created_at" },
        { NULL, NULL },
    };
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "jwt-issuers", NULL);
    return rc != 0 ? rc : streamctl_list(c, cols, "JWT issuers");
}

/* Reads at most STREAMCTL__PEM_BYTES_MAX bytes of `path` ("-": standard input) into `out`. */
static int streamctl__read_file(const streamctl_ctx_t *c, const char *path, cm_sbuf_t *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char buf[4096];
    size_t n;
    int rc = 0;
    if (f == NULL)
        return streamctl_usage_error(c, "cannot open %s: %s", path, strerror(errno));
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (n > STREAMCTL__PEM_BYTES_MAX - out->len)
            rc = streamctl_usage_error(c, "%s is larger than %d bytes, the API's limit", path,
                                       STREAMCTL__PEM_BYTES_MAX);
        else
            cm_sbuf_append(out, buf, n);
    }
    if (rc == 0 && ferror(f))
        rc = streamctl_usage_error(c, "cannot read %s: %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);
    return rc;
}

int streamctl_issuers_create(streamctl_ctx_t *c)
{
    cm_sbuf_t pem;
    cm_sbuf_init(&pem);
    int rc = streamctl__read_file(c, streamctl_opt(c, "public-keys-file"), &pem);
    if (rc != 0)
        goto out;
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "issuer", streamctl_opt(c, "issuer"));
    cm_jw_kstr(w, "audience", streamctl_opt(c, "audience"));
    cm_jw_kstr(w, "algorithm", streamctl_opt(c, "algorithm"));
    cm_jw_key(w, "public_keys");
    cm_jw_strn(w, pem.buf != NULL ? pem.buf : "", pem.len);
    if (streamctl_opt(c, "principal-claim") != NULL)
        cm_jw_kstr(w, "principal_claim", streamctl_opt(c, "principal-claim"));
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "JWT issuer created in tenant \"%s\".", c->args[0]);
    if ((rc = streamctl_path(c, "v1", "tenants", c->args[0], "jwt-issuers", NULL)) == 0)
        rc = streamctl_show(c, "POST", STREAMCTL__OBJECT, true);
out:
    cm_sbuf_free(&pem);
    return rc;
}

int streamctl_issuers_delete(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "JWT issuer %s deleted from tenant \"%s\".", c->args[1],
             c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "jwt-issuers", c->args[1], NULL);
    return rc != 0 ? rc : streamctl_delete(c);
}

/* ---- quotas ------------------------------------------------------------------------- */

/* The options of "quotas set"; each is the API field with '_' for '-'. */
const char *const streamctl_quota_specs[] = {
    "produce-bytes-per-sec=",
    "consume-bytes-per-sec=",
    "requests-per-sec=",
    "connections=",
    "partitions=",
    "storage-bytes=",
    NULL,
};

int streamctl_quotas_get(streamctl_ctx_t *c)
{
    streamctl_view_t v = { .kind = STREAMCTL__OBJECT, .null_text = "none" };
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "quotas", NULL);
    return rc != 0 ? rc : streamctl_run(c, "GET", &v);
}

/* Writes one quota member: "none" is null (no limit), else a non-negative integer. */
static int streamctl__quota_member(const streamctl_ctx_t *c, cm_jw_t *w, const char *spec,
                                   const char *value)
{
    char field[64];
    int64_t n = 0;
    bool none = strcmp(value, "none") == 0;
    snprintf(field, sizeof(field), "%.*s", (int)streamctl_spec_len(spec), spec);
    if (!none && !streamctl_strtoi(value, 0, INT64_MAX, &n))
        return streamctl_usage_error(c, "--%s must be a non-negative integer or none, not \"%s\"",
                                     field, value);
    for (char *p = field; *p != '\0'; p++)
        *p = *p == '-' ? '_' : *p;
    cm_jw_key(w, field);
    if (none)
        cm_jw_null(w);
    else
        cm_jw_int(w, n);
    return 0;
}

int streamctl_quotas_set(streamctl_ctx_t *c)
{
    cm_jw_t *w = streamctl_body(c);
    int given = 0, rc;
    cm_jw_obj(w);
    for (const char *const *s = streamctl_quota_specs; *s != NULL; s++) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)streamctl_spec_len(*s), *s);
        const char *value = streamctl_opt(c, name);
        if (value == NULL)
            continue;
        if ((rc = streamctl__quota_member(c, w, *s, value)) != 0)
            return rc;
        given++;
    }
    cm_jw_obj_end(w);
    if (given == 0)
        return streamctl_usage_error(c, "give at least one limit to change");
    snprintf(c->msg, sizeof(c->msg), "Quotas of tenant \"%s\" updated.", c->args[0]);
    streamctl_view_t v = { .kind = STREAMCTL__OBJECT, .null_text = "none", .titled = true };
    rc = streamctl_path(c, "v1", "tenants", c->args[0], "quotas", NULL);
    return rc != 0 ? rc : streamctl_run(c, "PATCH", &v);
}

/* ---- topics ------------------------------------------------------------------------- */

int streamctl_topics_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "NAME", "name" },
        { "PARTITIONS", "partitions" },
        { "REPLICATION", "replication_factor" },
        { "UNAVAILABLE", "unavailable_partitions" },
        { "CREATED", "created_at" },
        { "CONFIGS", "configs" },
        { NULL, NULL },
    };
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "topics", NULL);
    return rc != 0 ? rc : streamctl_list(c, cols, "topics");
}

/*
 * Writes "configs": {...} from KEY=VALUE words; with `resets`, "KEY=" is null (back to
 * the default). A key given twice is refused here, as the server's parser would refuse it.
 */
static int streamctl__configs(const streamctl_ctx_t *c, cm_jw_t *w, const char *const *kv, int n,
                              bool resets)
{
    cm_jw_key(w, "configs");
    cm_jw_obj(w);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        size_t klen = eq != NULL ? (size_t)(eq - kv[i]) : 0;
        if (klen == 0)
            return streamctl_usage_error(c, "\"%s\" is not KEY=VALUE", kv[i]);
        if (eq[1] == '\0' && !resets)
            return streamctl_usage_error(c,
                                         "\"%s\" has no value (use set-config to reset a "
                                         "config to its default)",
                                         kv[i]);
        for (int j = 0; j < i; j++)
            if (strncmp(kv[j], kv[i], klen + 1) == 0)
                return streamctl_usage_error(c, "config %.*s is given twice", (int)klen, kv[i]);
        char key[256];
        if (klen >= sizeof(key))
            return streamctl_usage_error(c, "config name \"%.*s...\" is too long", 32, kv[i]);
        snprintf(key, sizeof(key), "%.*s", (int)klen, kv[i]);
        cm_jw_key(w, key);
        cm_jw_str(w, eq[1] != '\0' ? eq + 1 : NULL);
    }
    cm_jw_obj_end(w);
    return 0;
}

static int streamctl__topics_create_body(streamctl_ctx_t *c)
{
    const char *kv[STREAMCTL__OPTS_MAX];
    int nkv = 0, rc;
    int64_t n = 0;
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[1]);
    if (streamctl_opt(c, "partitions") != NULL) {
        if ((rc = streamctl_int(c, "--partitions", streamctl_opt(c, "partitions"), 1, INT32_MAX,
                                &n)) != 0)
            return rc;
        cm_jw_kint(w, "partitions", n);
    }
    if (streamctl_opt(c, "replication-factor") != NULL) {
        if ((rc = streamctl_int(c, "--replication-factor", streamctl_opt(c, "replication-factor"),
                                1, INT32_MAX, &n)) != 0)
            return rc;
        cm_jw_kint(w, "replication_factor", n);
    }
    for (int i = 0; i < c->nopts; i++)
        if (strncmp(c->opts[i].spec, "config=", 7) == 0)
            kv[nkv++] = c->opts[i].value;
    if (nkv > 0 && (rc = streamctl__configs(c, w, kv, nkv, false)) != 0)
        return rc;
    cm_jw_obj_end(w);
    return 0;
}

int streamctl_topics_create(streamctl_ctx_t *c)
{
    int rc = streamctl__topics_create_body(c);
    if (rc == 0)
        rc = streamctl_path(c, "v1", "tenants", c->args[0], "topics", NULL);
    snprintf(c->msg, sizeof(c->msg), "Topic \"%s\" created in tenant \"%s\".", c->args[1],
             c->args[0]);
    return rc != 0 ? rc : streamctl_show(c, "POST", STREAMCTL__TOPIC, true);
}

int streamctl_topics_get(streamctl_ctx_t *c)
{
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "topics", c->args[1], NULL);
    return rc != 0 ? rc : streamctl_show(c, "GET", STREAMCTL__TOPIC, false);
}

int streamctl_topics_delete(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "Topic \"%s\" deleted from tenant \"%s\".", c->args[1],
             c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "topics", c->args[1], NULL);
    return rc != 0 ? rc : streamctl_delete(c);
}

int streamctl_topics_set_config(streamctl_ctx_t *c)
{
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    int rc = streamctl__configs(c, w, c->args + 2, c->nargs - 2, true);
    if (rc != 0)
        return rc;
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Configs of topic \"%s\" in tenant \"%s\" updated.",
             c->args[1], c->args[0]);
    rc = streamctl_path(c, "v1", "tenants", c->args[0], "topics", c->args[1], NULL);
    return rc != 0 ? rc : streamctl_show(c, "PATCH", STREAMCTL__TOPIC, true);
}

int streamctl_topics_add_partitions(streamctl_ctx_t *c)
{
    int64_t count = 0;
    int rc = streamctl_int(c, "--count", streamctl_opt(c, "count"), 1, INT32_MAX, &count);
    if (rc != 0)
        return rc;
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kint(w, "count", count);
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Topic \"%s\" in tenant \"%s\" now has %lld partitions.",
             c->args[1], c->args[0], (long long)count);
    rc = streamctl_path(c, "v1", "tenants", c->args[0], "topics", c->args[1], "partitions", NULL);
    return rc != 0 ? rc : streamctl_show(c, "POST", STREAMCTL__TOPIC, true);
}

int streamctl_topics_set_leader(streamctl_ctx_t *c)
{
    int64_t part = 0, leader = 0, epoch = 0;
    char num[24];
    int rc;
    if ((rc = streamctl_int(c, "PARTITION", c->args[2], 0, INT32_MAX, &part)) != 0 ||
        (rc = streamctl_int(c, "--leader", streamctl_opt(c, "leader"), -1, INT32_MAX, &leader)) !=
            0 ||
        (rc = streamctl_int(c, "--epoch", streamctl_opt(c, "epoch"), 0, INT32_MAX, &epoch)) != 0)
        return rc;
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kint(w, "leader", leader);
    cm_jw_kint(w, "leader_epoch", epoch);
    cm_jw_obj_end(w);
    snprintf(num, sizeof(num), "%lld", (long long)part);
    snprintf(c->msg, sizeof(c->msg), "Leader of partition %lld of topic \"%s\" set to broker %lld.",
             (long long)part, c->args[1], (long long)leader);
    rc = streamctl_path(c, "v1", "tenants", c->args[0], "topics", c->args[1], "partitions", num,
                        "leader", NULL);
    return rc != 0 ? rc : streamctl_show(c, "PUT", STREAMCTL__TOPIC, true);
}

/* ---- ACLs --------------------------------------------------------------------------- */

int streamctl_acls_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "ID", "id" },
        { "PRINCIPAL", "principal" },
        { "PERMISSION", "permission" },
        { "OPERATION", "operation" },
        { "RESOURCE_TYPE", "resource_type" },
        { "PATTERN", "pattern_type" },
        { "RESOURCE_NAME", "resource_name" },
        { NULL, NULL },
    };
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "acls", NULL);
    if (rc != 0)
        return rc;
    streamctl_query(c, "principal", streamctl_opt(c, "principal"));
    streamctl_query(c, "resource_type", streamctl_opt(c, "resource-type"));
    return streamctl_list(c, cols, "ACLs");
}

int streamctl_acls_create(streamctl_ctx_t *c)
{
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "principal", streamctl_opt(c, "principal"));
    cm_jw_kstr(w, "resource_type", streamctl_opt(c, "resource-type"));
    cm_jw_kstr(w, "resource_name", streamctl_opt(c, "resource-name"));
    cm_jw_kstr(w, "operation", streamctl_opt(c, "operation"));
    if (streamctl_opt(c, "pattern") != NULL)
        cm_jw_kstr(w, "pattern_type", streamctl_opt(c, "pattern"));
    cm_jw_kstr(w, "permission", streamctl_opt(c, "deny") != NULL ? "deny" : "allow");
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "ACL created in tenant \"%s\".", c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "acls", NULL);
    return rc != 0 ? rc : streamctl_show(c, "POST", STREAMCTL__OBJECT, true);
}

int streamctl_acls_delete(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "ACL %s deleted from tenant \"%s\".", c->args[1], c->args[0]);
    int rc = streamctl_path(c, "v1", "tenants", c->args[0], "acls", c->args[1], NULL);
    return rc != 0 ? rc : streamctl_delete(c);
}

/* ---- pools, brokers, audit, health -------------------------------------------------- */

int streamctl_pools_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "NAME", "name" },       { "BROKERS", "brokers" },    { "BROKERS_UP", "brokers_up" },
        { "TENANTS", "tenants" }, { "CREATED", "created_at" }, { NULL, NULL },
    };
    streamctl_path(c, "v1", "pools", NULL);
    return streamctl_list(c, cols, "pools");
}

int streamctl_pools_create(streamctl_ctx_t *c)
{
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[0]);
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Pool \"%s\" created.", c->args[0]);
    streamctl_path(c, "v1", "pools", NULL);
    return streamctl_show(c, "POST", STREAMCTL__OBJECT, true);
}

int streamctl_pools_get(streamctl_ctx_t *c)
{
    int rc = streamctl_path(c, "v1", "pools", c->args[0], NULL);
    return rc != 0 ? rc : streamctl_show(c, "GET", STREAMCTL__OBJECT, false);
}

int streamctl_pools_delete(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "Pool \"%s\" deleted.", c->args[0]);
    int rc = streamctl_path(c, "v1", "pools", c->args[0], NULL);
    return rc != 0 ? rc : streamctl_delete(c);
}

int streamctl_brokers_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "ID", "id" },
        { "POOL", "pool" },
        { "HOST", "host" },
        { "PORT", "port" },
        { "RACK", "rack" },
        { "STATE", "state" },
        { "LEASE_EXPIRES", "lease_expires_at" },
        { "REPLICAS", "replicas" },
        { "LEADERS", "leaders" },
        { NULL, NULL },
    };
    streamctl_path(c, "v1", "brokers", NULL);
    streamctl_query(c, "pool", streamctl_opt(c, "pool"));
    return streamctl_list(c, cols, "brokers");
}

/* Sets c->path to the broker ID given as the first argument, checked as a number. */
static int streamctl__broker_path(streamctl_ctx_t *c)
{
    int64_t id = 0;
    char num[24];
    int rc = streamctl_int(c, "ID", c->args[0], 0, INT32_MAX, &id);
    if (rc != 0)
        return rc;
    snprintf(num, sizeof(num), "%lld", (long long)id);
    snprintf(c->msg, sizeof(c->msg), "Broker %lld deleted.", (long long)id);
    return streamctl_path(c, "v1", "brokers", num, NULL);
}

int streamctl_brokers_get(streamctl_ctx_t *c)
{
    int rc = streamctl__broker_path(c);
    return rc != 0 ? rc : streamctl_show(c, "GET", STREAMCTL__OBJECT, false);
}

int streamctl_brokers_delete(streamctl_ctx_t *c)
{
    int rc = streamctl__broker_path(c);
    return rc != 0 ? rc : streamctl_delete(c);
}

int streamctl_components_list(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "NAME", "name" },
        { "KIND", "kind" },
        { "POOL", "pool" },
        { "BROKER", "broker_id" },
        { "CREATED", "created_at" },
        { "REVOKED", "revoked_at" },
        { NULL, NULL },
    };
    streamctl_path(c, "v1", "components", NULL);
    return streamctl_list(c, cols, "components");
}

int streamctl_components_create(streamctl_ctx_t *c)
{
    const char *broker = streamctl_opt(c, "broker-id"), *pool = streamctl_opt(c, "pool");
    int64_t id = 0;
    int rc;
    if (broker != NULL && (rc = streamctl_int(c, "--broker-id", broker, 0, 1000000, &id)) != 0)
        return rc;
    cm_jw_t *w = streamctl_body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[0]);
    cm_jw_kstr(w, "kind", streamctl_opt(c, "kind"));
    if (pool != NULL)
        cm_jw_kstr(w, "pool", pool);
    if (broker != NULL)
        cm_jw_kint(w, "broker_id", id);
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg),
             "Component \"%s\" created. Its credential is shown only this once.", c->args[0]);
    streamctl_path(c, "v1", "components", NULL);
    return streamctl_show(c, "POST", STREAMCTL__OBJECT, true);
}

int streamctl_components_revoke(streamctl_ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "Component \"%s\" revoked.", c->args[0]);
    int rc = streamctl_path(c, "v1", "components", c->args[0], NULL);
    return rc != 0 ? rc : streamctl_delete(c);
}

int streamctl_audit(streamctl_ctx_t *c)
{
    static const streamctl_col_t cols[] = {
        { "ID", "id" },           { "AT", "at" },         { "ACTOR", "actor" },
        { "ACTION", "action" },   { "TENANT", "tenant" }, { "TARGET", "target" },
        { "DETAILS", "details" }, { NULL, NULL },
    };
    const char *limit = streamctl_opt(c, "limit");
    int64_t n = 0;
    int rc;
    if (limit != NULL && (rc = streamctl_int(c, "--limit", limit, 1, 1000000, &n)) != 0)
        return rc;
    streamctl_path(c, "v1", "audit", NULL);
    streamctl_query(c, "tenant", streamctl_opt(c, "tenant"));
    streamctl_query(c, "limit", limit);
    return streamctl_list(c, cols, "audit records");
}

/* GET /readyz: 200 is ready; anything else carries the reason. */
int streamctl_health(streamctl_ctx_t *c)
{
    streamctl_answer_t a;
    cm_arena_t arena;
    cm_arena_init(&arena, STREAMCTL__TREE_BYTES_MAX);
    streamctl_path(c, "readyz", NULL);
    int rc = streamctl_http(c, "GET", &a);
    if (rc != 0)
        goto out;
    bool ready = a.status == 200;
    const char *msg = ready ? "ready" : NULL;
    if (!ready)
        msg = cm_json_get_str(streamctl_parse_answer(&a, &arena, true), "message");
    if (msg == NULL)
        msg = "not ready: no reason given";
    if (c->json) {
        cm_sbuf_t out;
        cm_sbuf_init(&out);
        cm_jw_t w;
        cm_jw_init(&w, &out);
        cm_jw_obj(&w);
        cm_jw_kbool(&w, "ready", ready);
        cm_jw_kint(&w, "status", a.status);
        cm_jw_kstr(&w, "message", msg);
        cm_jw_obj_end(&w);
        printf("%s\n", out.buf);
        cm_sbuf_free(&out);
    } else if (ready) {
        printf("ready\n");
    } else {
        streamctl_out(stdout, "%s%s (HTTP %ld)\n",
                      strncmp(msg, "not ready", 9) == 0 ? "" : "not ready: ", msg, a.status);
    }
    rc = ready ? 0 : STREAMCTL_EXIT_API;
out:
    cm_sbuf_free(&a.body);
    cm_arena_free(&arena);
    return rc;
}
