/*
 * streamctl: the operator's command line for the control plane's operator API.
 *
 * A thin client: every command is one HTTP request (libcurl) to one route of the table in
 * control-plane/cp_api.c. Request bodies are written with cm_jw_*; answers are parsed with
 * cm_json_parse and shown as aligned tables (lists) or "key: value" lines (one object), or
 * with --json printed as the server sent them. docs/cli.md is the user's guide.
 *
 * Exit status: 0 success; 1 the control plane refused the request or answered something
 * unreadable (its message is printed); 2 the command line is wrong; 3 the control plane
 * could not be reached. The operator token is sent only in the Authorization header and is
 * never printed.
 */
#include "streamctl_internal.h"

/* ---- usage -------------------------------------------------------------------------- */

/* The command table, defined at the end of the file; ends with a NULL group. */
static const streamctl__cmd_t *streamctl__commands(void);

static void streamctl__usage_line(FILE *f, const streamctl__cmd_t *cmd)
{
    fprintf(f, "streamctl %s%s%s%s%s%s%s\n", cmd->group, cmd->verb != NULL ? " " : "",
            cmd->verb != NULL ? cmd->verb : "", cmd->args[0] != '\0' ? " " : "", cmd->args,
            cmd->options[0] != '\0' ? " " : "", cmd->options);
}

static void streamctl__help_group(FILE *f, const char *group)
{
    fprintf(f, "usage:\n");
    for (const streamctl__cmd_t *cmd = streamctl__commands(); cmd->group != NULL; cmd++) {
        if (strcmp(cmd->group, group) != 0)
            continue;
        fprintf(f, "  ");
        streamctl__usage_line(f, cmd);
        fprintf(f, "      %s\n", cmd->summary);
    }
    fprintf(f, "\nGlobal options (--url, --token, --json) are described by 'streamctl --help'.\n");
}

static void streamctl__help_all(FILE *f)
{
    fprintf(f, "usage: streamctl [--url URL] [--token TOKEN] [--json] COMMAND [ARGS] [OPTIONS]\n"
               "\nThe operator's command line for the streamd control plane.\n\nCommands:\n");
    const char *group = NULL;
    for (const streamctl__cmd_t *cmd = streamctl__commands(); cmd->group != NULL; cmd++) {
        if (group != NULL && strcmp(group, cmd->group) != 0)
            fprintf(f, "\n");
        group = cmd->group;
        fprintf(f, "  ");
        streamctl__usage_line(f, cmd);
    }
    fprintf(f,
            "\nGlobal options (anywhere on the line):\n"
            "  --url URL      the operator API (env STREAMD_URL; default %s)\n"
            "  --token TOKEN  operator token (env STREAMD_TOKEN, preferred: argv is visible\n"
            "                 to other users); every command but health needs one\n"
            "  --json         print the server's JSON answers as they are, for scripts\n"
            "  -h, --help     this text; 'streamctl GROUP --help' explains one group\n"
            "\nExit status: 0 success, 1 the control plane refused the request, 2 usage error,\n"
            "3 the control plane cannot be reached.\n",
            STREAMCTL__URL_DEFAULT);
}

/* Prints a usage error with a hint for the command being parsed and returns exit 2. */

int streamctl_usage_error(const streamctl_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "streamctl: ");
    streamctl_vout(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (c->cmd != NULL) {
        fprintf(stderr, "usage: ");
        streamctl__usage_line(stderr, c->cmd);
        fprintf(stderr, "Run 'streamctl %s --help' for more.\n", c->cmd->group);
    } else if (c->group != NULL) {
        streamctl_out(stderr, "Run 'streamctl %s --help' for its commands.\n", c->group);
    } else {
        fprintf(stderr, "Run 'streamctl --help' for the list of commands.\n");
    }
    return STREAMCTL_EXIT_USAGE;
}

/* ---- command line ------------------------------------------------------------------- */

/* The spec of the option named by the `n` bytes at `name` in `specs`, or NULL. */
static const char *streamctl__spec(const char *const *specs, const char *name, size_t n)
{
    for (; *specs != NULL; specs++)
        if (strncmp(*specs, name, n) == 0 && ((*specs)[n] == '\0' || (*specs)[n] == '='))
            return *specs;
    return NULL;
}

size_t streamctl_spec_len(const char *spec)
{
    return strcspn(spec, "=");
}

/* The value of option `name` (the last one given), or NULL. */
const char *streamctl_opt(const streamctl_ctx_t *c, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < c->nopts; i++)
        if (c->opts[i].name_len == strlen(name) &&
            strncmp(c->opts[i].spec, name, c->opts[i].name_len) == 0)
            v = c->opts[i].value != NULL ? c->opts[i].value : "";
    return v;
}

static int streamctl__add_opt(streamctl_ctx_t *c, const char *spec, size_t n, const char *value)
{
    bool repeats = spec[n] == '=' && spec[n + 1] == '+';
    for (int i = 0; i < c->nopts && !repeats; i++)
        if (c->opts[i].spec == spec)
            return streamctl_usage_error(c, "--%.*s is given twice", (int)n, spec);
    if (c->nopts == STREAMCTL__OPTS_MAX)
        return streamctl_usage_error(c, "more than %d options", STREAMCTL__OPTS_MAX);
    c->opts[c->nopts++] = (streamctl__opt_t){ .spec = spec, .name_len = n, .value = value };
    return 0;
}

static void streamctl__set_global(streamctl_ctx_t *c, const char *spec, const char *value)
{
    if (strncmp(spec, "url", 3) == 0)
        c->url_arg = value;
    else if (strncmp(spec, "token", 5) == 0)
        c->token_arg = value;
    else
        c->json = true;
}

/* Parses the option at argv[*i], taking its value from the next word when needed. */
static int streamctl__parse_opt(streamctl_ctx_t *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        c->help = true;
        return 0;
    }
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
        return streamctl_usage_error(c, "unknown option \"%s\"", a);
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const char *spec = streamctl__spec(streamctl__global_specs, name, n);
    bool global = spec != NULL;
    if (spec == NULL && c->cmd != NULL)
        spec = streamctl__spec(c->cmd->specs, name, n);
    if (spec == NULL)
        return streamctl_usage_error(c, "unknown option --%.*s%s", (int)n, name,
                                     c->cmd != NULL ? "" : " (a command's options follow it)");
    const char *value = NULL;
    if (spec[n] != '=' && eq != NULL)
        return streamctl_usage_error(c, "--%.*s takes no value", (int)n, name);
    if (spec[n] == '=' && eq != NULL)
        value = eq + 1;
    else if (spec[n] == '=' && *i + 1 < argc)
        value = argv[++*i];
    else if (spec[n] == '=')
        return streamctl_usage_error(c, "--%.*s needs a value", (int)n, name);
    if (!global)
        return streamctl__add_opt(c, spec, n, value);
    streamctl__set_global(c, spec, value);
    return 0;
}

static const streamctl__cmd_t *streamctl__find(const char *group, const char *verb)
{
    for (const streamctl__cmd_t *cmd = streamctl__commands(); cmd->group != NULL; cmd++)
        if (strcmp(cmd->group, group) == 0 &&
            (verb == NULL ? cmd->verb == NULL : cmd->verb != NULL && strcmp(cmd->verb, verb) == 0))
            return cmd;
    return NULL;
}

static bool streamctl__group_known(const char *group)
{
    for (const streamctl__cmd_t *cmd = streamctl__commands(); cmd->group != NULL; cmd++)
        if (strcmp(cmd->group, group) == 0)
            return true;
    return false;
}

/* Takes a word that is not an option: the group, the verb, or an argument. */
static int streamctl__parse_word(streamctl_ctx_t *c, const char *w)
{
    if (c->cmd != NULL) {
        if (c->nargs == STREAMCTL__ARGS_MAX)
            return streamctl_usage_error(c, "more than %d arguments", STREAMCTL__ARGS_MAX);
        c->args[c->nargs++] = w;
        return 0;
    }
    if (c->group == NULL && strcmp(w, "help") == 0 && !c->help) {
        c->help = true;
        return 0;
    }
    if (c->group == NULL) {
        if (!streamctl__group_known(w))
            return streamctl_usage_error(c, "unknown command \"%s\"", w);
        c->group = w;
        c->cmd = streamctl__find(w, NULL);
        return 0;
    }
    c->verb = w;
    c->cmd = streamctl__find(c->group, w);
    if (c->cmd == NULL)
        return streamctl_usage_error(c, "unknown command \"%s %s\"", c->group, w);
    return 0;
}

static int streamctl__parse(streamctl_ctx_t *c, int argc, char **argv)
{
    bool words_only = false;
    for (int i = 1; i < argc; i++) {
        int rc = 0;
        if (!words_only && strcmp(argv[i], "--") == 0)
            words_only = true;
        else if (!words_only && argv[i][0] == '-' && argv[i][1] != '\0')
            rc = streamctl__parse_opt(c, argc, argv, &i);
        else
            rc = streamctl__parse_word(c, argv[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The `k`th word of the command's argument names, for "missing NAME". */
static void streamctl__arg_name(const streamctl__cmd_t *cmd, int k, char *out, size_t cap)
{
    const char *p = cmd->args;
    for (int i = 0; i < k && strchr(p, ' ') != NULL; i++)
        p = strchr(p, ' ') + 1;
    snprintf(out, cap, "%.*s", (int)strcspn(p, " "), p);
}

/* Checks the parsed line against the command: argument count, required options. */
static int streamctl__check(const streamctl_ctx_t *c)
{
    const streamctl__cmd_t *cmd = c->cmd;
    char name[64];
    if (c->nargs < cmd->nargs_min) {
        streamctl__arg_name(cmd, c->nargs, name, sizeof(name));
        return streamctl_usage_error(c, "missing %s", name);
    }
    if (cmd->nargs_max >= 0 && c->nargs > cmd->nargs_max)
        return streamctl_usage_error(c, "unexpected argument \"%s\"", c->args[cmd->nargs_max]);
    for (int i = 0; i < c->nargs; i++) {
        streamctl__arg_name(cmd, i, name, sizeof(name));
        if (c->args[i][0] == '\0')
            return streamctl_usage_error(c, "%s must not be empty", name);
    }
    for (const char *const *s = cmd->specs; *s != NULL; s++) {
        size_t n = streamctl_spec_len(*s);
        char opt[64];
        snprintf(opt, sizeof(opt), "%.*s", (int)n, *s);
        if ((*s)[n] == '=' && (*s)[n + 1] == '!' && streamctl_opt(c, opt) == NULL)
            return streamctl_usage_error(c, "missing --%s", opt);
    }
    return 0;
}

/* Parses all of `s` as a decimal integer in [lo, hi]. */
bool streamctl_strtoi(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    if (s[0] == '\0' || isspace((unsigned char)s[0]))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int streamctl_int(const streamctl_ctx_t *c, const char *what, const char *s, int64_t lo, int64_t hi,
                  int64_t *out)
{
    if (streamctl_strtoi(s, lo, hi, out))
        return 0;
    return streamctl_usage_error(c, "%s must be an integer from %lld to %lld, not \"%s\"", what,
                                 (long long)lo, (long long)hi, s);
}

/* ---- configuration ------------------------------------------------------------------ */

/* Checks the base URL and keeps it, and a form without password for messages. */
static int streamctl__set_url(streamctl_ctx_t *c, const char *url)
{
    size_t n = strlen(url);
    if (n >= sizeof(c->url))
        return streamctl_usage_error(c, "the URL is longer than %zu bytes", sizeof(c->url) - 1);
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return streamctl_usage_error(c, "the URL must start with http:// or https://");
    if (strpbrk(url, "?# \t\r\n") != NULL)
        return streamctl_usage_error(c, "the URL must not hold '?', '#' or white space");
    CURLU *u = curl_url();
    char *shown = NULL;
    int rc = 0;
    if (u == NULL)
        abort();
    CURLUcode e = curl_url_set(u, CURLUPART_URL, url, 0);
    if (e == CURLUE_OK)
        e = curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    if (e == CURLUE_OK)
        e = curl_url_get(u, CURLUPART_URL, &shown, 0);
    if (e != CURLUE_OK) {
        rc = streamctl_usage_error(c, "the URL is not valid (%s)", curl_url_strerror(e));
        goto out;
    }
    snprintf(c->url_shown, sizeof(c->url_shown), "%s", shown);
    while (n > 0 && url[n - 1] == '/')
        n--;
    snprintf(c->url, sizeof(c->url), "%.*s", (int)n, url);
out:
    curl_free(shown);
    curl_url_cleanup(u);
    return rc;
}

/* A token must fit in a header line: printable ASCII, no spaces. */
static bool streamctl__token_ok(const char *t)
{
    size_t n = strlen(t);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7F)
            return false;
    return n > 0 && n <= STREAMCTL__TOKEN_BYTES_MAX;
}

static int streamctl__configure(streamctl_ctx_t *c)
{
    const char *url = c->url_arg;
    if (url == NULL || url[0] == '\0')
        url = getenv("STREAMD_URL");
    if (url == NULL || url[0] == '\0')
        url = STREAMCTL__URL_DEFAULT;
    int rc = streamctl__set_url(c, url);
    if (rc != 0 || c->cmd->anonymous)
        return rc;
    c->token = c->token_arg;
    if (c->token == NULL || c->token[0] == '\0')
        c->token = getenv("STREAMD_TOKEN");
    if (c->token == NULL || c->token[0] == '\0')
        return streamctl_usage_error(c, "no operator token: set STREAMD_TOKEN or pass --token");
    if (!streamctl__token_ok(c->token))
        return streamctl_usage_error(c,
                                     "the operator token must be 1 to %d printable ASCII "
                                     "characters without spaces",
                                     STREAMCTL__TOKEN_BYTES_MAX);
    return 0;
}

/* ---- the command table -------------------------------------------------------------- */

#define STREAMCTL__SPECS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const streamctl__cmd_t streamctl__cmds[] = {
    { "tenants", "list", "", "[--state active|suspended]", 0, 0, STREAMCTL__SPECS("state="), false,
      streamctl_tenants_list, "List tenants, optionally only those in one state." },
    { "tenants", "create", "NAME", "[--plan PLAN] [--pool POOL]", 1, 1,
      STREAMCTL__SPECS("plan=", "pool="), false, streamctl_tenants_create,
      "Create a tenant, with an admin service account \"owner\" and default quotas." },
    { "tenants", "get", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl_tenants_get,
      "Show one tenant." },
    { "tenants", "set-plan", "NAME PLAN", "", 2, 2, streamctl__no_specs, false,
      streamctl_tenants_set_plan, "Change a tenant's plan." },
    { "tenants", "suspend", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl_tenants_suspend,
      "Suspend a tenant (its state becomes suspended)." },
    { "tenants", "resume", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl_tenants_resume,
      "Make a suspended tenant active again." },
    { "tenants", "delete", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl_tenants_delete,
      "Delete a tenant that has no topics left." },
    { "service-accounts", "list", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl_sa_list,
      "List a tenant's service accounts." },
    { "service-accounts", "create", "TENANT NAME", "[--admin] [--description TEXT]", 2, 2,
      STREAMCTL__SPECS("admin", "description="), false, streamctl_sa_create,
      "Create a service account; --admin makes it the tenant's administrator." },
    { "service-accounts", "delete", "TENANT NAME", "", 2, 2, streamctl__no_specs, false,
      streamctl_sa_delete, "Delete a service account and its API keys (ACLs naming it stay)." },
    { "keys", "list", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl_keys_list,
      "List a tenant's API keys (secrets are never shown again)." },
    { "keys", "create", "TENANT", "[--service-account SA] [--description TEXT]", 1, 1,
      STREAMCTL__SPECS("service-account=", "description="), false, streamctl_keys_create,
      "Create an API key (for \"owner\" by default); prints its secret, only this once." },
    { "keys", "revoke", "TENANT KEY", "", 2, 2, streamctl__no_specs, false, streamctl_keys_revoke,
      "Revoke an API key." },
    { "issuers", "list", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl_issuers_list,
      "List the JWT issuers a tenant's clients may authenticate with." },
    { "issuers", "create", "TENANT",
      "--issuer ISS --audience AUD --algorithm ALG --public-keys-file PEMFILE "
      "[--principal-claim CLAIM]",
      1, 1,
      STREAMCTL__SPECS("issuer=!", "audience=!", "algorithm=!", "public-keys-file=!",
                       "principal-claim="),
      false, streamctl_issuers_create,
      "Trust a JWT issuer; PEMFILE (\"-\": standard input) holds its PEM public keys." },
    { "issuers", "delete", "TENANT ID", "", 2, 2, streamctl__no_specs, false,
      streamctl_issuers_delete, "Stop trusting a JWT issuer." },
    { "quotas", "get", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl_quotas_get,
      "Show a tenant's quotas (\"none\": no limit)." },
    { "quotas", "set", "TENANT",
      "[--produce-bytes-per-sec N] [--consume-bytes-per-sec N] [--requests-per-sec N] "
      "[--connections N] [--partitions N] [--storage-bytes N]",
      1, 1, streamctl_quota_specs, false, streamctl_quotas_set,
      "Change some of a tenant's quotas; N is an integer, or none for no limit." },
    { "topics", "list", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl_topics_list,
      "List a tenant's topics." },
    { "topics", "create", "TENANT NAME",
      "[--partitions N] [--replication-factor N] [--config KEY=VALUE]...", 2, 2,
      STREAMCTL__SPECS("partitions=", "replication-factor=", "config=+"), false,
      streamctl_topics_create, "Create a topic, placed on the tenant's pool." },
    { "topics", "get", "TENANT NAME", "", 2, 2, streamctl__no_specs, false, streamctl_topics_get,
      "Show a topic and where its partitions are." },
    { "topics", "delete", "TENANT NAME", "", 2, 2, streamctl__no_specs, false,
      streamctl_topics_delete, "Delete a topic." },
    { "topics", "set-config", "TENANT NAME KEY=VALUE...", "", 3, -1, streamctl__no_specs, false,
      streamctl_topics_set_config,
      "Change topic configs; KEY= (empty) resets a config to its default." },
    { "topics", "add-partitions", "TENANT NAME", "--count N", 2, 2, STREAMCTL__SPECS("count=!"),
      false, streamctl_topics_add_partitions,
      "Grow a topic to N partitions in all (partitions cannot be removed)." },
    { "topics", "set-leader", "TENANT NAME PARTITION", "--leader BROKER --epoch EPOCH", 3, 3,
      STREAMCTL__SPECS("leader=!", "epoch=!"), false, streamctl_topics_set_leader,
      "Move a partition's leadership to an in-sync replica; EPOCH is its current epoch." },
    { "acls", "list", "TENANT", "[--principal P] [--resource-type TYPE]", 1, 1,
      STREAMCTL__SPECS("principal=", "resource-type="), false, streamctl_acls_list,
      "List a tenant's ACLs." },
    { "acls", "create", "TENANT",
      "--principal P --resource-type TYPE --resource-name NAME --operation OP "
      "[--pattern literal|prefixed] [--deny]",
      1, 1,
      STREAMCTL__SPECS("principal=!", "resource-type=!", "resource-name=!", "operation=!",
                       "pattern=", "deny"),
      false, streamctl_acls_create,
      "Allow (or with --deny, deny) an operation; P and NAME may be \"*\"." },
    { "acls", "delete", "TENANT ID", "", 2, 2, streamctl__no_specs, false, streamctl_acls_delete,
      "Delete an ACL." },
    { "pools", "list", "", "", 0, 0, streamctl__no_specs, false, streamctl_pools_list,
      "List broker pools." },
    { "pools", "create", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl_pools_create,
      "Create a broker pool." },
    { "pools", "get", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl_pools_get,
      "Show a broker pool." },
    { "pools", "delete", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl_pools_delete,
      "Delete a pool that has no brokers and no tenants." },
    { "brokers", "list", "", "[--pool POOL]", 0, 0, STREAMCTL__SPECS("pool="), false,
      streamctl_brokers_list, "List brokers, optionally of one pool." },
    { "brokers", "get", "ID", "", 1, 1, streamctl__no_specs, false, streamctl_brokers_get,
      "Show a broker." },
    { "brokers", "delete", "ID", "", 1, 1, streamctl__no_specs, false, streamctl_brokers_delete,
      "Forget a broker that is down and holds no replicas." },
    { "components", "list", "", "", 0, 0, streamctl__no_specs, false, streamctl_components_list,
      "List the service's components (brokers, gateways, tools), never their credentials." },
    { "components", "create", "NAME", "--kind broker|gateway|tool [--pool POOL --broker-id N]", 1,
      1, STREAMCTL__SPECS("kind=!", "pool=", "broker-id="), false, streamctl_components_create,
      "Make a component's credential (shown once); a broker's is scoped to its pool." },
    { "components", "revoke", "NAME", "", 1, 1, streamctl__no_specs, false,
      streamctl_components_revoke, "Revoke a component's credential, at once." },
    { "audit", NULL, "", "[--tenant TENANT] [--limit N]", 0, 0,
      STREAMCTL__SPECS("tenant=", "limit="), false, streamctl_audit,
      "Show the newest audit records (100 unless --limit)." },
    { "health", NULL, "", "", 0, 0, streamctl__no_specs, true, streamctl_health,
      "Ask whether the control plane is ready (no token needed)." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, false, NULL, NULL },
};

static const streamctl__cmd_t *streamctl__commands(void)
{
    return streamctl__cmds;
}

/* ---- main --------------------------------------------------------------------------- */

/* After parsing: help, or a complete command, or a usage error. -1 means "run it". */
static int streamctl__dispatch(const streamctl_ctx_t *c)
{
    if (c->help && c->group != NULL)
        streamctl__help_group(stdout, c->group);
    else if (c->help)
        streamctl__help_all(stdout);
    if (c->help)
        return STREAMCTL_EXIT_OK;
    if (c->group == NULL) {
        streamctl__help_all(stderr);
        return STREAMCTL_EXIT_USAGE;
    }
    if (c->cmd == NULL) {
        streamctl_out(stderr, "streamctl: \"%s\" needs a command\n", c->group);
        streamctl__help_group(stderr, c->group);
        return STREAMCTL_EXIT_USAGE;
    }
    int rc = streamctl__check(c);
    return rc != 0 ? rc : -1;
}

int main(int argc, char **argv)
{
    streamctl_ctx_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    cm_sbuf_init(&c->path);
    cm_sbuf_init(&c->body);
    int rc = streamctl__parse(c, argc, argv);
    if (rc != 0 || (rc = streamctl__dispatch(c)) >= 0)
        goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "streamctl: cannot initialise libcurl\n");
        rc = STREAMCTL_EXIT_UNREACHABLE;
        goto out;
    }
    if ((rc = streamctl__configure(c)) != 0)
        goto out_global;
    if ((c->curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "streamctl: cannot initialise libcurl\n");
        rc = STREAMCTL_EXIT_UNREACHABLE;
        goto out_global;
    }
    rc = c->cmd->fn(c);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "streamctl: cannot write the output: %s\n", strerror(errno));
        rc = STREAMCTL_EXIT_API;
    }
    curl_easy_cleanup(c->curl);
out_global:
    curl_global_cleanup();
out:
    cm_sbuf_free(&c->path);
    cm_sbuf_free(&c->body);
    free(c);
    return rc;
}
