/*
 * streamctl's internals, shared by its files:
 *
 *   streamctl_cli.c     command line, usage, configuration, the command table, main
 *   streamctl_http.c    requests to the operator API (libcurl) and running a command
 *   streamctl_render.c  tables, "key: value" objects, terminal-safe output
 *   streamctl_cmds.c    one function per command
 */
#ifndef STREAMCTL_INTERNAL_H
#define STREAMCTL_INTERNAL_H

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cm_arena.h"
#include "cm_httpc.h"
#include "cm_json.h"
#include "cm_sbuf.h"

#define STREAMCTL__URL_DEFAULT        "http://127.0.0.1:8090"
#define STREAMCTL__CONNECT_TIMEOUT_MS 5000L
#define STREAMCTL__TIMEOUT_MS         30000L
#define STREAMCTL__ANSWER_BYTES_MAX   ((size_t)64 << 20)
#define STREAMCTL__TREE_BYTES_MAX     ((size_t)512 << 20) /* parsed tree of the largest answer */
#define STREAMCTL__ARGS_MAX           256                 /* positional arguments of a command */
#define STREAMCTL__OPTS_MAX           256                 /* options given to a command */
#define STREAMCTL__URL_BYTES_MAX      2048
#define STREAMCTL__TOKEN_BYTES_MAX    4096
#define STREAMCTL__PEM_BYTES_MAX      65536 /* the API's limit on public_keys */
#define STREAMCTL__CELL_CHARS_MAX     60    /* longer table cells are cut and end in "..." */
#define STREAMCTL__COLS_MAX           12

enum {
    STREAMCTL_EXIT_OK = 0,
    STREAMCTL_EXIT_API = 1,
    STREAMCTL_EXIT_USAGE = 2,
    STREAMCTL_EXIT_UNREACHABLE = 3,
};

typedef struct streamctl__cmd streamctl__cmd_t;

/* One option given on the command line; `spec` points into the command's table entry. */
typedef struct streamctl_opt {
    const char *spec;
    size_t name_len;
    const char *value; /* NULL for a switch */
} streamctl__opt_t;

/* Everything one run needs. Strings are borrowed from argv or the environment. */
typedef struct streamctl__ctx {
    const char *url_arg, *token_arg;
    const char *token; /* never printed */
    bool json, help;
    const char *group, *verb;
    const streamctl__cmd_t *cmd;
    const char *args[STREAMCTL__ARGS_MAX];
    int nargs;
    streamctl__opt_t opts[STREAMCTL__OPTS_MAX];
    int nopts;
    char url[STREAMCTL__URL_BYTES_MAX];       /* base URL without trailing '/' */
    char url_shown[STREAMCTL__URL_BYTES_MAX]; /* the same without a password, for messages */
    CURL *curl;
    cm_sbuf_t path; /* of the request being built: "/v1/...", segments escaped */
    cm_sbuf_t body; /* of the request being built; empty for none */
    cm_jw_t jw;
    char msg[512]; /* the view's title or completion message */
} streamctl_ctx_t;

struct streamctl__cmd {
    const char *group;
    const char *verb; /* NULL: the group word alone is the command */
    const char *args; /* names of the positional arguments, for usage and errors */
    const char *options;
    int nargs_min, nargs_max; /* nargs_max -1: any number */
    /* Options taken: the name, then "=" if it takes a value, then "!" when it is required or
     * "+" when it may be repeated. NULL-terminated. */
    const char *const *specs;
    bool anonymous; /* needs no operator token */
    int (*fn)(streamctl_ctx_t *c);
    const char *summary;
};

/* A table column: its header and the member of each row it shows. */
typedef struct streamctl__col {
    const char *header;
    const char *key;
} streamctl_col_t;

typedef enum streamctl__kind {
    STREAMCTL__LIST,   /* {"data": [...]} as a table of `cols` */
    STREAMCTL__OBJECT, /* one object as "key: value" lines */
    STREAMCTL__TOPIC,  /* a topic, then its assignments as a table */
    STREAMCTL__KEY,    /* a new API key with its secret */
    STREAMCTL__DONE,   /* no body expected: print `msg` */
} streamctl_kind_t;

/* How a successful answer is shown when --json is not given. */
typedef struct streamctl__view {
    streamctl_kind_t kind;
    const streamctl_col_t *cols; /* LIST */
    const char *noun;            /* LIST: "No <noun> found." */
    const char *null_text;       /* OBJECT: how null shows; "-" when NULL */
    bool titled;                 /* OBJECT, TOPIC: print c->msg first */
} streamctl_view_t;

/* The answer to one request. */
typedef cm_httpc_answer_t streamctl_answer_t;

static const char *const streamctl__global_specs[] = { "url=", "token=", "json", NULL };
static const char *const streamctl__no_specs[] = { NULL };

/* Functions one file defines and another calls. */
void streamctl_vout(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void streamctl_out(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void streamctl_sbuf_reset(cm_sbuf_t *s);
int streamctl_render(const streamctl_ctx_t *c, const streamctl_answer_t *a,
                     const streamctl_view_t *v);
int streamctl_usage_error(const streamctl_ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t streamctl_spec_len(const char *spec);
const char *streamctl_opt(const streamctl_ctx_t *c, const char *name);
bool streamctl_strtoi(const char *s, int64_t lo, int64_t hi, int64_t *out);
int streamctl_int(const streamctl_ctx_t *c, const char *what, const char *s, int64_t lo, int64_t hi,
                  int64_t *out);
int streamctl_path(streamctl_ctx_t *c, ...) __attribute__((sentinel));
void streamctl_query(streamctl_ctx_t *c, const char *name, const char *value);
cm_jw_t *streamctl_body(streamctl_ctx_t *c);
int streamctl_http(streamctl_ctx_t *c, const char *method, streamctl_answer_t *a);
const cm_json_t *streamctl_parse_answer(const streamctl_answer_t *a, cm_arena_t *arena, bool quiet);
int streamctl_run(streamctl_ctx_t *c, const char *method, const streamctl_view_t *v);
int streamctl_list(streamctl_ctx_t *c, const streamctl_col_t *cols, const char *noun);
int streamctl_show(streamctl_ctx_t *c, const char *method, streamctl_kind_t kind, bool titled);
int streamctl_delete(streamctl_ctx_t *c);
int streamctl_tenants_list(streamctl_ctx_t *c);
int streamctl_tenants_create(streamctl_ctx_t *c);
int streamctl_tenants_get(streamctl_ctx_t *c);
int streamctl_tenants_suspend(streamctl_ctx_t *c);
int streamctl_tenants_resume(streamctl_ctx_t *c);
int streamctl_tenants_set_plan(streamctl_ctx_t *c);
int streamctl_tenants_delete(streamctl_ctx_t *c);
int streamctl_sa_list(streamctl_ctx_t *c);
int streamctl_sa_create(streamctl_ctx_t *c);
int streamctl_sa_delete(streamctl_ctx_t *c);
int streamctl_keys_list(streamctl_ctx_t *c);
int streamctl_keys_create(streamctl_ctx_t *c);
int streamctl_keys_revoke(streamctl_ctx_t *c);
int streamctl_issuers_list(streamctl_ctx_t *c);
int streamctl_issuers_create(streamctl_ctx_t *c);
int streamctl_issuers_delete(streamctl_ctx_t *c);
int streamctl_quotas_get(streamctl_ctx_t *c);
int streamctl_quotas_set(streamctl_ctx_t *c);
int streamctl_topics_list(streamctl_ctx_t *c);
int streamctl_topics_create(streamctl_ctx_t *c);
int streamctl_topics_get(streamctl_ctx_t *c);
int streamctl_topics_delete(streamctl_ctx_t *c);
int streamctl_topics_set_config(streamctl_ctx_t *c);
int streamctl_topics_add_partitions(streamctl_ctx_t *c);
int streamctl_topics_set_leader(streamctl_ctx_t *c);
int streamctl_acls_list(streamctl_ctx_t *c);
int streamctl_acls_create(streamctl_ctx_t *c);
int streamctl_acls_delete(streamctl_ctx_t *c);
int streamctl_pools_list(streamctl_ctx_t *c);
int streamctl_pools_create(streamctl_ctx_t *c);
int streamctl_pools_get(streamctl_ctx_t *c);
int streamctl_pools_delete(streamctl_ctx_t *c);
int streamctl_brokers_list(streamctl_ctx_t *c);
int streamctl_brokers_get(streamctl_ctx_t *c);
int streamctl_brokers_delete(streamctl_ctx_t *c);
int streamctl_components_list(streamctl_ctx_t *c);
int streamctl_components_create(streamctl_ctx_t *c);
int streamctl_components_revoke(streamctl_ctx_t *c);
int streamctl_audit(streamctl_ctx_t *c);
int streamctl_health(streamctl_ctx_t *c);
extern const char *const streamctl_quota_specs[];

#endif
