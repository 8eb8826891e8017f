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
typedef struct streamctl__opt {
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
} streamctl__ctx_t;

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
    int (*fn)(streamctl__ctx_t *c);
    const char *summary;
};

/* A table column: its header and the member of each row it shows. */
typedef struct streamctl__col {
    const char *header;
    const char *key;
} streamctl__col_t;

typedef enum streamctl__kind {
    STREAMCTL__LIST,   /* {"data": [...]} as a table of `cols` */
    STREAMCTL__OBJECT, /* one object as "key: value" lines */
    STREAMCTL__TOPIC,  /* a topic, then its assignments as a table */
    STREAMCTL__KEY,    /* a new API key with its secret */
    STREAMCTL__DONE,   /* no body expected: print `msg` */
} streamctl__kind_t;

/* How a successful answer is shown when --json is not given. */
typedef struct streamctl__view {
    streamctl__kind_t kind;
    const streamctl__col_t *cols; /* LIST */
    const char *noun;             /* LIST: "No <noun> found." */
    const char *null_text;        /* OBJECT: how null shows; "-" when NULL */
    bool titled;                  /* OBJECT, TOPIC: print c->msg first */
} streamctl__view_t;

/* The answer to one request. */
typedef struct streamctl__answer {
    long status;
    cm_sbuf_t body;
    bool too_big;
} streamctl__answer_t;

static const char *const streamctl__global_specs[] = { "url=", "token=", "json", NULL };
static const char *const streamctl__no_specs[] = { NULL };

/* ---- output ------------------------------------------------------------------------- */

/*
 * Replaces control characters (C0, DEL and C1) with '?' in place and returns the new
 * length, so that text stored by someone else cannot move the cursor or recolour the
 * terminal. A tab becomes a space; with `keep_newlines`, '\n' stays.
 */
static size_t streamctl__clean(char *s, size_t n, bool keep_newlines)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9F) {
            s[o++] = '?';
            i++;
            continue;
        }
        if (ch == '\t')
            ch = ' ';
        else if ((ch < 0x20 && !(keep_newlines && ch == '\n')) || ch == 0x7F)
            ch = '?';
        s[o++] = (char)ch;
    }
    return o;
}

/* printf to `f` through streamctl__clean (newlines kept). */
static void streamctl__vout(FILE *f, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void streamctl__vout(FILE *f, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf == NULL) {
        va_end(again);
        return;
    }
    vsnprintf(buf, (size_t)n + 1, fmt, again);
    va_end(again);
    fwrite(buf, 1, streamctl__clean(buf, (size_t)n, true), f);
    free(buf);
}

static void streamctl__out(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void streamctl__out(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    streamctl__vout(f, fmt, ap);
    va_end(ap);
}

static void streamctl__sbuf_reset(cm_sbuf_t *s)
{
    s->len = 0;
    if (s->buf != NULL)
        s->buf[0] = '\0';
}

/* Characters on screen: UTF-8 code points, which is right for all but wide scripts. */
static size_t streamctl__width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

/* Cuts `s` to at most `max` (> 3) characters, ending it with "..." when it was longer. */
static void streamctl__cut(cm_sbuf_t *s, size_t max)
{
    size_t chars = 0, keep = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (((unsigned char)s->buf[i] & 0xC0) == 0x80)
            continue;
        if (chars == max - 3)
            keep = i;
        chars++;
    }
    if (chars <= max)
        return;
    s->len = keep;
    cm_sbuf_append(s, "...", 3);
}

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
static int streamctl__usage_error(const streamctl__ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int streamctl__usage_error(const streamctl__ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "streamctl: ");
    streamctl__vout(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (c->cmd != NULL) {
        fprintf(stderr, "usage: ");
        streamctl__usage_line(stderr, c->cmd);
        fprintf(stderr, "Run 'streamctl %s --help' for more.\n", c->cmd->group);
    } else if (c->group != NULL) {
        streamctl__out(stderr, "Run 'streamctl %s --help' for its commands.\n", c->group);
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

static size_t streamctl__spec_len(const char *spec)
{
    return strcspn(spec, "=");
}

/* The value of option `name` (the last one given), or NULL. */
static const char *streamctl__opt(const streamctl__ctx_t *c, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < c->nopts; i++)
        if (c->opts[i].name_len == strlen(name) &&
            strncmp(c->opts[i].spec, name, c->opts[i].name_len) == 0)
            v = c->opts[i].value != NULL ? c->opts[i].value : "";
    return v;
}

static int streamctl__add_opt(streamctl__ctx_t *c, const char *spec, size_t n, const char *value)
{
    bool repeats = spec[n] == '=' && spec[n + 1] == '+';
    for (int i = 0; i < c->nopts && !repeats; i++)
        if (c->opts[i].spec == spec)
            return streamctl__usage_error(c, "--%.*s is given twice", (int)n, spec);
    if (c->nopts == STREAMCTL__OPTS_MAX)
        return streamctl__usage_error(c, "more than %d options", STREAMCTL__OPTS_MAX);
    c->opts[c->nopts++] = (streamctl__opt_t){ .spec = spec, .name_len = n, .value = value };
    return 0;
}

static void streamctl__set_global(streamctl__ctx_t *c, const char *spec, const char *value)
{
    if (strncmp(spec, "url", 3) == 0)
        c->url_arg = value;
    else if (strncmp(spec, "token", 5) == 0)
        c->token_arg = value;
    else
        c->json = true;
}

/* Parses the option at argv[*i], taking its value from the next word when needed. */
static int streamctl__parse_opt(streamctl__ctx_t *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        c->help = true;
        return 0;
    }
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
        return streamctl__usage_error(c, "unknown option \"%s\"", a);
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t n = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const char *spec = streamctl__spec(streamctl__global_specs, name, n);
    bool global = spec != NULL;
    if (spec == NULL && c->cmd != NULL)
        spec = streamctl__spec(c->cmd->specs, name, n);
    if (spec == NULL)
        return streamctl__usage_error(c, "unknown option --%.*s%s", (int)n, name,
                                      c->cmd != NULL ? "" : " (a command's options follow it)");
    const char *value = NULL;
    if (spec[n] != '=' && eq != NULL)
        return streamctl__usage_error(c, "--%.*s takes no value", (int)n, name);
    if (spec[n] == '=' && eq != NULL)
        value = eq + 1;
    else if (spec[n] == '=' && *i + 1 < argc)
        value = argv[++*i];
    else if (spec[n] == '=')
        return streamctl__usage_error(c, "--%.*s needs a value", (int)n, name);
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
static int streamctl__parse_word(streamctl__ctx_t *c, const char *w)
{
    if (c->cmd != NULL) {
        if (c->nargs == STREAMCTL__ARGS_MAX)
            return streamctl__usage_error(c, "more than %d arguments", STREAMCTL__ARGS_MAX);
        c->args[c->nargs++] = w;
        return 0;
    }
    if (c->group == NULL && strcmp(w, "help") == 0 && !c->help) {
        c->help = true;
        return 0;
    }
    if (c->group == NULL) {
        if (!streamctl__group_known(w))
            return streamctl__usage_error(c, "unknown command \"%s\"", w);
        c->group = w;
        c->cmd = streamctl__find(w, NULL);
        return 0;
    }
    c->verb = w;
    c->cmd = streamctl__find(c->group, w);
    if (c->cmd == NULL)
        return streamctl__usage_error(c, "unknown command \"%s %s\"", c->group, w);
    return 0;
}

static int streamctl__parse(streamctl__ctx_t *c, int argc, char **argv)
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
static int streamctl__check(const streamctl__ctx_t *c)
{
    const streamctl__cmd_t *cmd = c->cmd;
    char name[64];
    if (c->nargs < cmd->nargs_min) {
        streamctl__arg_name(cmd, c->nargs, name, sizeof(name));
        return streamctl__usage_error(c, "missing %s", name);
    }
    if (cmd->nargs_max >= 0 && c->nargs > cmd->nargs_max)
        return streamctl__usage_error(c, "unexpected argument \"%s\"", c->args[cmd->nargs_max]);
    for (int i = 0; i < c->nargs; i++) {
        streamctl__arg_name(cmd, i, name, sizeof(name));
        if (c->args[i][0] == '\0')
            return streamctl__usage_error(c, "%s must not be empty", name);
    }
    for (const char *const *s = cmd->specs; *s != NULL; s++) {
        size_t n = streamctl__spec_len(*s);
        char opt[64];
        snprintf(opt, sizeof(opt), "%.*s", (int)n, *s);
        if ((*s)[n] == '=' && (*s)[n + 1] == '!' && streamctl__opt(c, opt) == NULL)
            return streamctl__usage_error(c, "missing --%s", opt);
    }
    return 0;
}

/* Parses all of `s` as a decimal integer in [lo, hi]. */
static bool streamctl__strtoi(const char *s, int64_t lo, int64_t hi, int64_t *out)
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

static int streamctl__int(const streamctl__ctx_t *c, const char *what, const char *s, int64_t lo,
                          int64_t hi, int64_t *out)
{
    if (streamctl__strtoi(s, lo, hi, out))
        return 0;
    return streamctl__usage_error(c, "%s must be an integer from %lld to %lld, not \"%s\"", what,
                                  (long long)lo, (long long)hi, s);
}

/* ---- configuration ------------------------------------------------------------------ */

/* Checks the base URL and keeps it, and a form without password for messages. */
static int streamctl__set_url(streamctl__ctx_t *c, const char *url)
{
    size_t n = strlen(url);
    if (n >= sizeof(c->url))
        return streamctl__usage_error(c, "the URL is longer than %zu bytes", sizeof(c->url) - 1);
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return streamctl__usage_error(c, "the URL must start with http:// or https://");
    if (strpbrk(url, "?# \t\r\n") != NULL)
        return streamctl__usage_error(c, "the URL must not hold '?', '#' or white space");
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
        rc = streamctl__usage_error(c, "the URL is not valid (%s)", curl_url_strerror(e));
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

static int streamctl__configure(streamctl__ctx_t *c)
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
        return streamctl__usage_error(c, "no operator token: set STREAMD_TOKEN or pass --token");
    if (!streamctl__token_ok(c->token))
        return streamctl__usage_error(c,
                                      "the operator token must be 1 to %d printable ASCII "
                                      "characters without spaces",
                                      STREAMCTL__TOKEN_BYTES_MAX);
    return 0;
}

/* ---- requests ----------------------------------------------------------------------- */

/*
 * Appends "/seg" for each segment to c->path, percent-encoded. The server decodes the path
 * before routing and resolves "." and "..", so a name holding '/' or being a dot segment
 * would reach another route (even a DELETE of another resource); such names are refused.
 */
static int streamctl__path(streamctl__ctx_t *c, ...) __attribute__((sentinel));

static int streamctl__path(streamctl__ctx_t *c, ...)
{
    va_list ap;
    int rc = 0;
    streamctl__sbuf_reset(&c->path);
    va_start(ap, c);
    for (const char *seg = va_arg(ap, const char *); seg != NULL && rc == 0;
         seg = va_arg(ap, const char *)) {
        if (strchr(seg, '/') != NULL || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
            rc = streamctl__usage_error(c, "\"%s\" cannot be used as a name in the API", seg);
            break;
        }
        char *e = curl_easy_escape(c->curl, seg, 0);
        if (e == NULL)
            abort();
        cm_sbuf_printf(&c->path, "/%s", e);
        curl_free(e);
    }
    va_end(ap);
    return rc;
}

/* Appends "?name=value" or "&name=value" to c->path; nothing when `value` is NULL. */
static void streamctl__query(streamctl__ctx_t *c, const char *name, const char *value)
{
    if (value == NULL)
        return;
    char *e = curl_easy_escape(c->curl, value, 0);
    if (e == NULL)
        abort();
    cm_sbuf_printf(&c->path, "%s%s=%s", strchr(c->path.buf, '?') != NULL ? "&" : "?", name, e);
    curl_free(e);
}

/* Starts the request body and returns its writer. */
static cm_jw_t *streamctl__body(streamctl__ctx_t *c)
{
    streamctl__sbuf_reset(&c->body);
    cm_jw_init(&c->jw, &c->body);
    return &c->jw;
}

static size_t streamctl__on_data(char *p, size_t size, size_t n, void *ud)
{
    streamctl__answer_t *a = ud;
    size_t len = size * n;
    if (len > STREAMCTL__ANSWER_BYTES_MAX - a->body.len) {
        a->too_big = true;
        return 0;
    }
    cm_sbuf_append(&a->body, p, len);
    return len;
}

static void streamctl__setup(streamctl__ctx_t *c, const char *method, const char *url,
                             struct curl_slist *headers, streamctl__answer_t *a, char *err)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, STREAMCTL__CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, STREAMCTL__TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "streamctl");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, streamctl__on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    if (c->body.len > 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body.buf);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
    }
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

static void streamctl__header(struct curl_slist **list, const char *h)
{
    struct curl_slist *l = curl_slist_append(*list, h);
    if (l == NULL)
        abort();
    *list = l;
}

/*
 * Sends c->path with c->body (if any) and fills `a`, which the caller frees. Returns 0 when
 * an answer arrived, whatever its status; else prints why and returns 1 or 3.
 */
static int streamctl__http(streamctl__ctx_t *c, const char *method, streamctl__answer_t *a)
{
    char auth[sizeof("Authorization: Bearer ") + STREAMCTL__TOKEN_BYTES_MAX];
    char err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    cm_sbuf_t url;
    int rc = STREAMCTL_EXIT_UNREACHABLE;
    *a = (streamctl__answer_t){ 0 };
    cm_sbuf_init(&a->body);
    cm_sbuf_init(&url);
    cm_sbuf_printf(&url, "%s%s", c->url, c->path.buf);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token != NULL ? c->token : "");
    streamctl__header(&headers, "Accept: application/json");
    streamctl__header(&headers, "Expect:"); /* no 100-continue round trip */
    if (c->body.len > 0)
        streamctl__header(&headers, "Content-Type: application/json");
    if (c->token != NULL)
        streamctl__header(&headers, auth);
    streamctl__setup(c, method, url.buf, headers, a, err);
    CURLcode e = curl_easy_perform(c->curl);
    if (a->too_big) {
        streamctl__out(stderr, "streamctl: the answer from %s is larger than %zu MiB\n",
                       c->url_shown, STREAMCTL__ANSWER_BYTES_MAX >> 20);
        rc = STREAMCTL_EXIT_API;
    } else if (e != CURLE_OK) {
        streamctl__out(stderr, "streamctl: cannot reach the control plane at %s: %s\n",
                       c->url_shown, err[0] != '\0' ? err : curl_easy_strerror(e));
    } else {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &a->status);
        rc = 0;
    }
    curl_slist_free_all(headers);
    explicit_bzero(auth, sizeof(auth));
    cm_sbuf_free(&url);
    return rc;
}

/* Parses an answer's body into `arena`; prints why and returns NULL when it is not JSON. */
static const cm_json_t *streamctl__parse_answer(const streamctl__answer_t *a, cm_arena_t *arena,
                                                bool quiet)
{
    cm_json_t *doc = NULL;
    char err[256];
    if (a->body.len == 0) {
        snprintf(err, sizeof(err), "the body is empty");
    } else if (cm_json_parse(arena, a->body.buf, a->body.len, CM_JW_DEPTH_MAX, &doc, err,
                             sizeof(err)) == 0) {
        return doc;
    }
    if (!quiet)
        streamctl__out(stderr, "streamctl: cannot read the control plane's answer: %s\n", err);
    return NULL;
}

/* Prints the server's error message for a non-2xx answer and returns exit 1. */
static int streamctl__api_error(const streamctl__ctx_t *c, const streamctl__answer_t *a)
{
    cm_arena_t arena;
    cm_arena_init(&arena, STREAMCTL__TREE_BYTES_MAX);
    const char *msg = cm_json_get_str(streamctl__parse_answer(a, &arena, true), "message");
    if (msg != NULL)
        streamctl__out(stderr, "streamctl: %s (HTTP %ld)\n", msg, a->status);
    else
        streamctl__out(stderr, "streamctl: %s answered HTTP %ld without an error message\n",
                       c->url_shown, a->status);
    if (a->status == 401)
        fprintf(stderr, "Check the operator token (--token or STREAMD_TOKEN).\n");
    cm_arena_free(&arena);
    return STREAMCTL_EXIT_API;
}

/* ---- rendering ---------------------------------------------------------------------- */

static bool streamctl__is_time(const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "at") == 0 || (n > 3 && strcmp(key + n - 3, "_at") == 0);
}

/* Postgres writes 2026-11-22T15:01:02.563123+00:00; to the second is enough for a person. */
static void streamctl__time(const char *s, cm_sbuf_t *out)
{
    size_t n = strlen(s);
    if (n < 19 || s[10] != 'T') {
        cm_sbuf_append(out, s, n);
        return;
    }
    cm_sbuf_append(out, s, 19);
    const char *zone = s + 19;
    if (*zone == '.')
        while (isdigit((unsigned char)*++zone))
            ;
    cm_sbuf_printf(out, "%s", strcmp(zone, "+00:00") == 0 ? "Z" : zone);
}

/* Writes `v` as compact JSON (for containers nested inside a cell). */
static void streamctl__json(cm_jw_t *w, const cm_json_t *v)
{
    switch (v->type) {
    case CM_JSON_NULL:
        cm_jw_null(w);
        break;
    case CM_JSON_BOOL:
        cm_jw_bool(w, v->b);
        break;
    case CM_JSON_NUMBER:
        if (v->is_int)
            cm_jw_int(w, v->i);
        else
            cm_jw_double(w, v->num);
        break;
    case CM_JSON_STRING:
        cm_jw_strn(w, v->str, v->len);
        break;
    case CM_JSON_ARRAY:
        cm_jw_arr(w);
        for (const cm_json_t *m = v->child; m != NULL; m = m->next)
            streamctl__json(w, m);
        cm_jw_arr_end(w);
        break;
    case CM_JSON_OBJECT:
        cm_jw_obj(w);
        for (const cm_json_t *m = v->child; m != NULL; m = m->next) {
            cm_jw_key(w, m->key);
            streamctl__json(w, m);
        }
        cm_jw_obj_end(w);
        break;
    }
}

static void streamctl__text(const cm_json_t *v, bool time, const char *null_text, cm_sbuf_t *out);

/* An array as "1,2,3", an object as "k=v,k=v"; "-" when empty. */
static void streamctl__members(const cm_json_t *v, cm_sbuf_t *out)
{
    if (v->child == NULL)
        cm_sbuf_append(out, "-", 1);
    for (const cm_json_t *m = v->child; m != NULL; m = m->next) {
        if (m != v->child)
            cm_sbuf_append(out, ",", 1);
        if (m->key != NULL)
            cm_sbuf_printf(out, "%s=", m->key);
        if (m->type == CM_JSON_ARRAY || m->type == CM_JSON_OBJECT) {
            cm_jw_t w;
            cm_jw_init(&w, out);
            streamctl__json(&w, m);
        } else {
            streamctl__text(m, false, "null", out);
        }
    }
}

/* Appends the text a person reads for `v`. */
static void streamctl__text(const cm_json_t *v, bool time, const char *null_text, cm_sbuf_t *out)
{
    if (v == NULL || v->type == CM_JSON_NULL || (v->type == CM_JSON_STRING && v->len == 0)) {
        cm_sbuf_printf(out, "%s", null_text);
        return;
    }
    if (v->type == CM_JSON_BOOL)
        cm_sbuf_printf(out, "%s", v->b ? "true" : "false");
    else if (v->type == CM_JSON_NUMBER && v->is_int)
        cm_sbuf_printf(out, "%lld", (long long)v->i);
    else if (v->type == CM_JSON_NUMBER)
        cm_sbuf_printf(out, "%g", v->num);
    else if (v->type == CM_JSON_STRING && time)
        streamctl__time(v->str, out);
    else if (v->type == CM_JSON_STRING)
        cm_sbuf_append(out, v->str, v->len);
    else
        streamctl__members(v, out);
}

/* The cell of `row` under `col`, cleaned and cut, in `cell`. */
static void streamctl__cell(const cm_json_t *row, const streamctl__col_t *col, cm_sbuf_t *cell)
{
    streamctl__sbuf_reset(cell);
    streamctl__text(cm_json_get(row, col->key), streamctl__is_time(col->key), "-", cell);
    if (cell->buf == NULL)
        cm_sbuf_append(cell, "", 0);
    cell->len = streamctl__clean(cell->buf, cell->len, false);
    streamctl__cut(cell, STREAMCTL__CELL_CHARS_MAX);
}

static void streamctl__pad(size_t have, size_t want)
{
    for (; have < want; have++)
        putchar(' ');
}

/* Ends a table cell: pads it to its column's width, or ends the line after the last. */
static void streamctl__cell_end(size_t i, size_t ncols, size_t have, size_t width)
{
    if (i + 1 < ncols)
        streamctl__pad(have, width + 3);
    else
        putchar('\n');
}

/* Prints the array `rows` as a table; the last column is not padded. */
static void streamctl__table(const cm_json_t *rows, const streamctl__col_t *cols)
{
    size_t width[STREAMCTL__COLS_MAX], ncols = 0;
    cm_sbuf_t cell;
    cm_sbuf_init(&cell);
    for (; ncols < STREAMCTL__COLS_MAX && cols[ncols].header != NULL; ncols++)
        width[ncols] = strlen(cols[ncols].header);
    for (const cm_json_t *r = rows->child; r != NULL; r = r->next)
        for (size_t i = 0; i < ncols; i++) {
            streamctl__cell(r, &cols[i], &cell);
            size_t w = streamctl__width(cell.buf, cell.len);
            width[i] = w > width[i] ? w : width[i];
        }
    for (size_t i = 0; i < ncols; i++) {
        fputs(cols[i].header, stdout);
        streamctl__cell_end(i, ncols, strlen(cols[i].header), width[i]);
    }
    for (const cm_json_t *r = rows->child; r != NULL; r = r->next)
        for (size_t i = 0; i < ncols; i++) {
            streamctl__cell(r, &cols[i], &cell);
            fwrite(cell.buf, 1, cell.len, stdout);
            streamctl__cell_end(i, ncols, streamctl__width(cell.buf, cell.len), width[i]);
        }
    cm_sbuf_free(&cell);
}

static int streamctl__render_list(const cm_json_t *doc, const streamctl__view_t *v)
{
    const cm_json_t *rows = cm_json_get(doc, "data");
    if (rows == NULL || rows->type != CM_JSON_ARRAY) {
        fprintf(stderr, "streamctl: the control plane's answer has no \"data\" list\n");
        return STREAMCTL_EXIT_API;
    }
    if (rows->child == NULL)
        fprintf(stderr, "No %s found.\n", v->noun);
    else
        streamctl__table(rows, v->cols);
    return 0;
}

static bool streamctl__skipped(const char *key, const char *const *skip)
{
    for (; skip != NULL && *skip != NULL; skip++)
        if (strcmp(key, *skip) == 0)
            return true;
    return false;
}

/* One "key: value" line; a value of several lines goes below its key, indented. */
static void streamctl__kv_line(const cm_json_t *m, int indent, size_t width, const char *null_text)
{
    cm_sbuf_t val;
    cm_sbuf_init(&val);
    streamctl__text(m, streamctl__is_time(m->key), null_text, &val);
    cm_sbuf_append(&val, "", 0); /* so that val.buf is not NULL */
    val.len = streamctl__clean(val.buf, val.len, true);
    while (val.len > 0 && val.buf[val.len - 1] == '\n')
        val.len--;
    if (memchr(val.buf, '\n', val.len) != NULL) {
        streamctl__out(stdout, "%*s%s:\n", indent, "", m->key);
        for (const char *p = val.buf, *end = val.buf + val.len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
            printf("%*s%.*s\n", indent + 4, "", (int)n, p);
            p += n + 1;
        }
    } else {
        streamctl__out(stdout, "%*s%s:", indent, "", m->key);
        streamctl__pad(strlen(m->key) + 1, width + 2);
        printf("%.*s\n", (int)val.len, val.buf);
    }
    cm_sbuf_free(&val);
}

/* Prints an object's members as aligned "key: value" lines; non-empty objects nest. */
static void streamctl__kv(const cm_json_t *obj, const char *const *skip, int indent,
                          const char *null_text)
{
    size_t width = 0;
    for (const cm_json_t *m = obj->child; m != NULL; m = m->next)
        if (!streamctl__skipped(m->key, skip) && strlen(m->key) > width)
            width = strlen(m->key);
    for (const cm_json_t *m = obj->child; m != NULL; m = m->next) {
        if (streamctl__skipped(m->key, skip))
            continue;
        if (m->type == CM_JSON_OBJECT && m->child != NULL && indent < 8) {
            streamctl__out(stdout, "%*s%s:\n", indent, "", m->key);
            streamctl__kv(m, NULL, indent + 2, null_text);
        } else {
            streamctl__kv_line(m, indent, width, null_text);
        }
    }
}

static int streamctl__render_object(const streamctl__ctx_t *c, const cm_json_t *doc,
                                    const streamctl__view_t *v, const char *const *skip)
{
    if (doc->type != CM_JSON_OBJECT) {
        fprintf(stderr, "streamctl: the control plane's answer is not an object\n");
        return STREAMCTL_EXIT_API;
    }
    if (v->titled)
        streamctl__out(stdout, "%s\n\n", c->msg);
    streamctl__kv(doc, skip, 0, v->null_text != NULL ? v->null_text : "-");
    return 0;
}

static int streamctl__render_topic(const streamctl__ctx_t *c, const cm_json_t *doc,
                                   const streamctl__view_t *v)
{
    static const char *const skip[] = { "assignments", NULL };
    static const streamctl__col_t cols[] = {
        { "PARTITION", "partition" },
        { "LEADER", "leader" },
        { "EPOCH", "leader_epoch" },
        { "REPLICAS", "replicas" },
        { "ISR", "isr" },
        { "AVAILABLE", "available" },
        { NULL, NULL },
    };
    int rc = streamctl__render_object(c, doc, v, skip);
    const cm_json_t *a = cm_json_get(doc, "assignments");
    if (rc == 0 && a != NULL && a->type == CM_JSON_ARRAY && a->child != NULL) {
        printf("\n");
        streamctl__table(a, cols);
    }
    return rc;
}

static int streamctl__render_key(const cm_json_t *doc)
{
    const char *key = cm_json_get_str(doc, "key"), *secret = cm_json_get_str(doc, "secret");
    const char *sa = cm_json_get_str(doc, "service_account");
    const char *tenant = cm_json_get_str(doc, "tenant");
    if (key == NULL || secret == NULL) {
        fprintf(stderr, "streamctl: the control plane's answer has no key and secret\n");
        return STREAMCTL_EXIT_API;
    }
    streamctl__out(stdout, "API key created for service account \"%s\" of tenant \"%s\".\n\n",
                   sa != NULL ? sa : "?", tenant != NULL ? tenant : "?");
    streamctl__out(stdout, "    key:     %s\n    secret:  %s\n\n", key, secret);
    printf("WARNING: the secret is shown only this once and cannot be retrieved later.\n"
           "Store it now; if it is lost, revoke the key and create another.\n");
    return 0;
}

/* Shows a successful answer as `v` says. */
static int streamctl__render(const streamctl__ctx_t *c, const streamctl__answer_t *a,
                             const streamctl__view_t *v)
{
    if (v->kind == STREAMCTL__DONE || a->status == 204) {
        streamctl__out(stdout, "%s\n", c->msg);
        return 0;
    }
    cm_arena_t arena;
    cm_arena_init(&arena, STREAMCTL__TREE_BYTES_MAX);
    const cm_json_t *doc = streamctl__parse_answer(a, &arena, false);
    int rc = STREAMCTL_EXIT_API;
    if (doc == NULL)
        goto out;
    switch (v->kind) {
    case STREAMCTL__LIST:
        rc = streamctl__render_list(doc, v);
        break;
    case STREAMCTL__TOPIC:
        rc = streamctl__render_topic(c, doc, v);
        break;
    case STREAMCTL__KEY:
        rc = streamctl__render_key(doc);
        break;
    default:
        rc = streamctl__render_object(c, doc, v, NULL);
        break;
    }
out:
    cm_arena_free(&arena);
    return rc;
}

/* Sends the request built in c->path and c->body and shows the answer. */
static int streamctl__run(streamctl__ctx_t *c, const char *method, const streamctl__view_t *v)
{
    streamctl__answer_t a;
    int rc = streamctl__http(c, method, &a);
    if (rc != 0)
        goto out;
    if (a.status < 200 || a.status > 299) {
        rc = streamctl__api_error(c, &a);
        goto out;
    }
    if (!c->json) {
        rc = streamctl__render(c, &a, v);
        goto out;
    }
    fwrite(a.body.buf != NULL ? a.body.buf : "", 1, a.body.len, stdout);
    if (a.body.len > 0 && a.body.buf[a.body.len - 1] != '\n')
        putchar('\n');
    if (v->kind == STREAMCTL__KEY)
        fprintf(stderr, "streamctl: the secret is shown only this once; store it now\n");
out:
    cm_sbuf_free(&a.body);
    return rc;
}

/* The common shapes of a command: GET a list or an object, change and show, delete. */
static int streamctl__list(streamctl__ctx_t *c, const streamctl__col_t *cols, const char *noun)
{
    streamctl__view_t v = { .kind = STREAMCTL__LIST, .cols = cols, .noun = noun };
    return streamctl__run(c, "GET", &v);
}

static int streamctl__show(streamctl__ctx_t *c, const char *method, streamctl__kind_t kind,
                           bool titled)
{
    streamctl__view_t v = { .kind = kind, .titled = titled };
    return streamctl__run(c, method, &v);
}

static int streamctl__delete(streamctl__ctx_t *c)
{
    streamctl__view_t v = { .kind = STREAMCTL__DONE };
    return streamctl__run(c, "DELETE", &v);
}

/* ---- tenants ------------------------------------------------------------------------ */

static int streamctl__tenants_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "NAME", "name" },          { "PLAN", "plan" },     { "STATE", "state" },
        { "POOL", "pool" },          { "TOPICS", "topics" }, { "PARTITIONS", "partitions" },
        { "CREATED", "created_at" }, { NULL, NULL },
    };
    const char *state = streamctl__opt(c, "state");
    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "suspended") != 0)
        return streamctl__usage_error(c, "--state must be active or suspended, not \"%s\"", state);
    streamctl__path(c, "v1", "tenants", NULL);
    streamctl__query(c, "state", state);
    return streamctl__list(c, cols, "tenants");
}

static int streamctl__tenants_create(streamctl__ctx_t *c)
{
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[0]);
    if (streamctl__opt(c, "plan") != NULL)
        cm_jw_kstr(w, "plan", streamctl__opt(c, "plan"));
    if (streamctl__opt(c, "pool") != NULL)
        cm_jw_kstr(w, "pool", streamctl__opt(c, "pool"));
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Tenant \"%s\" created.", c->args[0]);
    streamctl__path(c, "v1", "tenants", NULL);
    return streamctl__show(c, "POST", STREAMCTL__OBJECT, true);
}

static int streamctl__tenants_get(streamctl__ctx_t *c)
{
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], NULL);
    return rc != 0 ? rc : streamctl__show(c, "GET", STREAMCTL__OBJECT, false);
}

/* PATCHes one field of a tenant. */
static int streamctl__tenants_patch(streamctl__ctx_t *c, const char *field, const char *value,
                                    const char *done)
{
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, field, value);
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Tenant \"%s\" %s.", c->args[0], done);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], NULL);
    return rc != 0 ? rc : streamctl__show(c, "PATCH", STREAMCTL__OBJECT, true);
}

static int streamctl__tenants_suspend(streamctl__ctx_t *c)
{
    return streamctl__tenants_patch(c, "state", "suspended", "suspended");
}

static int streamctl__tenants_resume(streamctl__ctx_t *c)
{
    return streamctl__tenants_patch(c, "state", "active", "resumed");
}

static int streamctl__tenants_set_plan(streamctl__ctx_t *c)
{
    return streamctl__tenants_patch(c, "plan", c->args[1], "updated");
}

static int streamctl__tenants_delete(streamctl__ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "Tenant \"%s\" deleted.", c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], NULL);
    return rc != 0 ? rc : streamctl__delete(c);
}

/* ---- service accounts, API keys, JWT issuers ---------------------------------------- */

static int streamctl__sa_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "NAME", "name" },
        { "KIND", "kind" },
        { "ADMIN", "admin" },
        { "API_KEYS", "api_keys" },
        { "CREATED", "created_at" },
        { "DESCRIPTION", "description" },
        { NULL, NULL },
    };
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "service-accounts", NULL);
    return rc != 0 ? rc : streamctl__list(c, cols, "service accounts");
}

static int streamctl__sa_create(streamctl__ctx_t *c)
{
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[1]);
    cm_jw_kbool(w, "admin", streamctl__opt(c, "admin") != NULL);
    if (streamctl__opt(c, "description") != NULL)
        cm_jw_kstr(w, "description", streamctl__opt(c, "description"));
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Service account \"%s\" created in tenant \"%s\".", c->args[1],
             c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "service-accounts", NULL);
    return rc != 0 ? rc : streamctl__show(c, "POST", STREAMCTL__OBJECT, true);
}

static int streamctl__sa_delete(streamctl__ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg),
             "Service account \"%s\" deleted from tenant \"%s\", with its API keys.", c->args[1],
             c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "service-accounts", c->args[1], NULL);
    return rc != 0 ? rc : streamctl__delete(c);
}

static int streamctl__keys_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "KEY", "key" },
        { "SERVICE_ACCOUNT", "service_account" },
        { "SECRET_PREFIX", "secret_prefix" },
        { "STATE", "state" },
        { "CREATED", "created_at" },
        { "REVOKED", "revoked_at" },
        { "DESCRIPTION", "description" },
        { NULL, NULL },
    };
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "api-keys", NULL);
    return rc != 0 ? rc : streamctl__list(c, cols, "API keys");
}

static int streamctl__keys_create(streamctl__ctx_t *c)
{
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    if (streamctl__opt(c, "service-account") != NULL)
        cm_jw_kstr(w, "service_account", streamctl__opt(c, "service-account"));
    if (streamctl__opt(c, "description") != NULL)
        cm_jw_kstr(w, "description", streamctl__opt(c, "description"));
    cm_jw_obj_end(w);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "api-keys", NULL);
    return rc != 0 ? rc : streamctl__show(c, "POST", STREAMCTL__KEY, false);
}

static int streamctl__keys_revoke(streamctl__ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "API key \"%s\" of tenant \"%s\" revoked.", c->args[1],
             c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "api-keys", c->args[1], NULL);
    return rc != 0 ? rc : streamctl__show(c, "DELETE", STREAMCTL__OBJECT, true);
}

static int streamctl__issuers_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "ID", "id" },
        { "ISSUER", "issuer" },
        { "AUDIENCE", "audience" },
        { "ALGORITHM", "algorithm" },
        { "PRINCIPAL_CLAIM", "principal_claim" },
        { "CREATED", "created_at" },
        { NULL, NULL },
    };
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "jwt-issuers", NULL);
    return rc != 0 ? rc : streamctl__list(c, cols, "JWT issuers");
}

/* Reads at most STREAMCTL__PEM_BYTES_MAX bytes of `path` ("-": standard input) into `out`. */
static int streamctl__read_file(const streamctl__ctx_t *c, const char *path, cm_sbuf_t *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char buf[4096];
    size_t n;
    int rc = 0;
    if (f == NULL)
        return streamctl__usage_error(c, "cannot open %s: %s", path, strerror(errno));
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (n > STREAMCTL__PEM_BYTES_MAX - out->len)
            rc = streamctl__usage_error(c, "%s is larger than %d bytes, the API's limit", path,
                                        STREAMCTL__PEM_BYTES_MAX);
        else
            cm_sbuf_append(out, buf, n);
    }
    if (rc == 0 && ferror(f))
        rc = streamctl__usage_error(c, "cannot read %s: %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);
    return rc;
}

static int streamctl__issuers_create(streamctl__ctx_t *c)
{
    cm_sbuf_t pem;
    cm_sbuf_init(&pem);
    int rc = streamctl__read_file(c, streamctl__opt(c, "public-keys-file"), &pem);
    if (rc != 0)
        goto out;
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "issuer", streamctl__opt(c, "issuer"));
    cm_jw_kstr(w, "audience", streamctl__opt(c, "audience"));
    cm_jw_kstr(w, "algorithm", streamctl__opt(c, "algorithm"));
    cm_jw_key(w, "public_keys");
    cm_jw_strn(w, pem.buf != NULL ? pem.buf : "", pem.len);
    if (streamctl__opt(c, "principal-claim") != NULL)
        cm_jw_kstr(w, "principal_claim", streamctl__opt(c, "principal-claim"));
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "JWT issuer created in tenant \"%s\".", c->args[0]);
    if ((rc = streamctl__path(c, "v1", "tenants", c->args[0], "jwt-issuers", NULL)) == 0)
        rc = streamctl__show(c, "POST", STREAMCTL__OBJECT, true);
out:
    cm_sbuf_free(&pem);
    return rc;
}

static int streamctl__issuers_delete(streamctl__ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "JWT issuer %s deleted from tenant \"%s\".", c->args[1],
             c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "jwt-issuers", c->args[1], NULL);
    return rc != 0 ? rc : streamctl__delete(c);
}

/* ---- quotas ------------------------------------------------------------------------- */

/* The options of "quotas set"; each is the API field with '_' for '-'. */
static const char *const streamctl__quota_specs[] = {
    "produce-bytes-per-sec=",
    "consume-bytes-per-sec=",
    "requests-per-sec=",
    "connections=",
    "partitions=",
    "storage-bytes=",
    NULL,
};

static int streamctl__quotas_get(streamctl__ctx_t *c)
{
    streamctl__view_t v = { .kind = STREAMCTL__OBJECT, .null_text = "none" };
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "quotas", NULL);
    return rc != 0 ? rc : streamctl__run(c, "GET", &v);
}

/* Writes one quota member: "none" is null (no limit), else a non-negative integer. */
static int streamctl__quota_member(const streamctl__ctx_t *c, cm_jw_t *w, const char *spec,
                                   const char *value)
{
    char field[64];
    int64_t n = 0;
    bool none = strcmp(value, "none") == 0;
    snprintf(field, sizeof(field), "%.*s", (int)streamctl__spec_len(spec), spec);
    if (!none && !streamctl__strtoi(value, 0, INT64_MAX, &n))
        return streamctl__usage_error(c, "--%s must be a non-negative integer or none, not \"%s\"",
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

static int streamctl__quotas_set(streamctl__ctx_t *c)
{
    cm_jw_t *w = streamctl__body(c);
    int given = 0, rc;
    cm_jw_obj(w);
    for (const char *const *s = streamctl__quota_specs; *s != NULL; s++) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)streamctl__spec_len(*s), *s);
        const char *value = streamctl__opt(c, name);
        if (value == NULL)
            continue;
        if ((rc = streamctl__quota_member(c, w, *s, value)) != 0)
            return rc;
        given++;
    }
    cm_jw_obj_end(w);
    if (given == 0)
        return streamctl__usage_error(c, "give at least one limit to change");
    snprintf(c->msg, sizeof(c->msg), "Quotas of tenant \"%s\" updated.", c->args[0]);
    streamctl__view_t v = { .kind = STREAMCTL__OBJECT, .null_text = "none", .titled = true };
    rc = streamctl__path(c, "v1", "tenants", c->args[0], "quotas", NULL);
    return rc != 0 ? rc : streamctl__run(c, "PATCH", &v);
}

/* ---- topics ------------------------------------------------------------------------- */

static int streamctl__topics_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "NAME", "name" },
        { "PARTITIONS", "partitions" },
        { "REPLICATION", "replication_factor" },
        { "UNAVAILABLE", "unavailable_partitions" },
        { "CREATED", "created_at" },
        { "CONFIGS", "configs" },
        { NULL, NULL },
    };
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "topics", NULL);
    return rc != 0 ? rc : streamctl__list(c, cols, "topics");
}

/*
 * Writes "configs": {...} from KEY=VALUE words; with `resets`, "KEY=" is null (back to
 * the default). A key given twice is refused here, as the server's parser would refuse it.
 */
static int streamctl__configs(const streamctl__ctx_t *c, cm_jw_t *w, const char *const *kv, int n,
                              bool resets)
{
    cm_jw_key(w, "configs");
    cm_jw_obj(w);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        size_t klen = eq != NULL ? (size_t)(eq - kv[i]) : 0;
        if (klen == 0)
            return streamctl__usage_error(c, "\"%s\" is not KEY=VALUE", kv[i]);
        if (eq[1] == '\0' && !resets)
            return streamctl__usage_error(c,
                                          "\"%s\" has no value (use set-config to reset a "
                                          "config to its default)",
                                          kv[i]);
        for (int j = 0; j < i; j++)
            if (strncmp(kv[j], kv[i], klen + 1) == 0)
                return streamctl__usage_error(c, "config %.*s is given twice", (int)klen, kv[i]);
        char key[256];
        if (klen >= sizeof(key))
            return streamctl__usage_error(c, "config name \"%.*s...\" is too long", 32, kv[i]);
        snprintf(key, sizeof(key), "%.*s", (int)klen, kv[i]);
        cm_jw_key(w, key);
        cm_jw_str(w, eq[1] != '\0' ? eq + 1 : NULL);
    }
    cm_jw_obj_end(w);
    return 0;
}

static int streamctl__topics_create_body(streamctl__ctx_t *c)
{
    const char *kv[STREAMCTL__OPTS_MAX];
    int nkv = 0, rc;
    int64_t n = 0;
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[1]);
    if (streamctl__opt(c, "partitions") != NULL) {
        if ((rc = streamctl__int(c, "--partitions", streamctl__opt(c, "partitions"), 1, INT32_MAX,
                                 &n)) != 0)
            return rc;
        cm_jw_kint(w, "partitions", n);
    }
    if (streamctl__opt(c, "replication-factor") != NULL) {
        if ((rc = streamctl__int(c, "--replication-factor", streamctl__opt(c, "replication-factor"),
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

static int streamctl__topics_create(streamctl__ctx_t *c)
{
    int rc = streamctl__topics_create_body(c);
    if (rc == 0)
        rc = streamctl__path(c, "v1", "tenants", c->args[0], "topics", NULL);
    snprintf(c->msg, sizeof(c->msg), "Topic \"%s\" created in tenant \"%s\".", c->args[1],
             c->args[0]);
    return rc != 0 ? rc : streamctl__show(c, "POST", STREAMCTL__TOPIC, true);
}

static int streamctl__topics_get(streamctl__ctx_t *c)
{
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "topics", c->args[1], NULL);
    return rc != 0 ? rc : streamctl__show(c, "GET", STREAMCTL__TOPIC, false);
}

static int streamctl__topics_delete(streamctl__ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "Topic \"%s\" deleted from tenant \"%s\".", c->args[1],
             c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "topics", c->args[1], NULL);
    return rc != 0 ? rc : streamctl__delete(c);
}

static int streamctl__topics_set_config(streamctl__ctx_t *c)
{
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    int rc = streamctl__configs(c, w, c->args + 2, c->nargs - 2, true);
    if (rc != 0)
        return rc;
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Configs of topic \"%s\" in tenant \"%s\" updated.",
             c->args[1], c->args[0]);
    rc = streamctl__path(c, "v1", "tenants", c->args[0], "topics", c->args[1], NULL);
    return rc != 0 ? rc : streamctl__show(c, "PATCH", STREAMCTL__TOPIC, true);
}

static int streamctl__topics_add_partitions(streamctl__ctx_t *c)
{
    int64_t count = 0;
    int rc = streamctl__int(c, "--count", streamctl__opt(c, "count"), 1, INT32_MAX, &count);
    if (rc != 0)
        return rc;
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kint(w, "count", count);
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Topic \"%s\" in tenant \"%s\" now has %lld partitions.",
             c->args[1], c->args[0], (long long)count);
    rc = streamctl__path(c, "v1", "tenants", c->args[0], "topics", c->args[1], "partitions", NULL);
    return rc != 0 ? rc : streamctl__show(c, "POST", STREAMCTL__TOPIC, true);
}

static int streamctl__topics_set_leader(streamctl__ctx_t *c)
{
    int64_t part = 0, leader = 0, epoch = 0;
    char num[24];
    int rc;
    if ((rc = streamctl__int(c, "PARTITION", c->args[2], 0, INT32_MAX, &part)) != 0 ||
        (rc = streamctl__int(c, "--leader", streamctl__opt(c, "leader"), -1, INT32_MAX, &leader)) !=
            0 ||
        (rc = streamctl__int(c, "--epoch", streamctl__opt(c, "epoch"), 0, INT32_MAX, &epoch)) != 0)
        return rc;
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kint(w, "leader", leader);
    cm_jw_kint(w, "leader_epoch", epoch);
    cm_jw_obj_end(w);
    snprintf(num, sizeof(num), "%lld", (long long)part);
    snprintf(c->msg, sizeof(c->msg), "Leader of partition %lld of topic \"%s\" set to broker %lld.",
             (long long)part, c->args[1], (long long)leader);
    rc = streamctl__path(c, "v1", "tenants", c->args[0], "topics", c->args[1], "partitions", num,
                         "leader", NULL);
    return rc != 0 ? rc : streamctl__show(c, "PUT", STREAMCTL__TOPIC, true);
}

/* ---- ACLs --------------------------------------------------------------------------- */

static int streamctl__acls_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "ID", "id" },
        { "PRINCIPAL", "principal" },
        { "PERMISSION", "permission" },
        { "OPERATION", "operation" },
        { "RESOURCE_TYPE", "resource_type" },
        { "PATTERN", "pattern_type" },
        { "RESOURCE_NAME", "resource_name" },
        { NULL, NULL },
    };
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "acls", NULL);
    if (rc != 0)
        return rc;
    streamctl__query(c, "principal", streamctl__opt(c, "principal"));
    streamctl__query(c, "resource_type", streamctl__opt(c, "resource-type"));
    return streamctl__list(c, cols, "ACLs");
}

static int streamctl__acls_create(streamctl__ctx_t *c)
{
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "principal", streamctl__opt(c, "principal"));
    cm_jw_kstr(w, "resource_type", streamctl__opt(c, "resource-type"));
    cm_jw_kstr(w, "resource_name", streamctl__opt(c, "resource-name"));
    cm_jw_kstr(w, "operation", streamctl__opt(c, "operation"));
    if (streamctl__opt(c, "pattern") != NULL)
        cm_jw_kstr(w, "pattern_type", streamctl__opt(c, "pattern"));
    cm_jw_kstr(w, "permission", streamctl__opt(c, "deny") != NULL ? "deny" : "allow");
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "ACL created in tenant \"%s\".", c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "acls", NULL);
    return rc != 0 ? rc : streamctl__show(c, "POST", STREAMCTL__OBJECT, true);
}

static int streamctl__acls_delete(streamctl__ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "ACL %s deleted from tenant \"%s\".", c->args[1], c->args[0]);
    int rc = streamctl__path(c, "v1", "tenants", c->args[0], "acls", c->args[1], NULL);
    return rc != 0 ? rc : streamctl__delete(c);
}

/* ---- pools, brokers, audit, health -------------------------------------------------- */

static int streamctl__pools_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "NAME", "name" },       { "BROKERS", "brokers" },    { "BROKERS_UP", "brokers_up" },
        { "TENANTS", "tenants" }, { "CREATED", "created_at" }, { NULL, NULL },
    };
    streamctl__path(c, "v1", "pools", NULL);
    return streamctl__list(c, cols, "pools");
}

static int streamctl__pools_create(streamctl__ctx_t *c)
{
    cm_jw_t *w = streamctl__body(c);
    cm_jw_obj(w);
    cm_jw_kstr(w, "name", c->args[0]);
    cm_jw_obj_end(w);
    snprintf(c->msg, sizeof(c->msg), "Pool \"%s\" created.", c->args[0]);
    streamctl__path(c, "v1", "pools", NULL);
    return streamctl__show(c, "POST", STREAMCTL__OBJECT, true);
}

static int streamctl__pools_get(streamctl__ctx_t *c)
{
    int rc = streamctl__path(c, "v1", "pools", c->args[0], NULL);
    return rc != 0 ? rc : streamctl__show(c, "GET", STREAMCTL__OBJECT, false);
}

static int streamctl__pools_delete(streamctl__ctx_t *c)
{
    snprintf(c->msg, sizeof(c->msg), "Pool \"%s\" deleted.", c->args[0]);
    int rc = streamctl__path(c, "v1", "pools", c->args[0], NULL);
    return rc != 0 ? rc : streamctl__delete(c);
}

static int streamctl__brokers_list(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
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
    streamctl__path(c, "v1", "brokers", NULL);
    streamctl__query(c, "pool", streamctl__opt(c, "pool"));
    return streamctl__list(c, cols, "brokers");
}

/* Sets c->path to the broker ID given as the first argument, checked as a number. */
static int streamctl__broker_path(streamctl__ctx_t *c)
{
    int64_t id = 0;
    char num[24];
    int rc = streamctl__int(c, "ID", c->args[0], 0, INT32_MAX, &id);
    if (rc != 0)
        return rc;
    snprintf(num, sizeof(num), "%lld", (long long)id);
    snprintf(c->msg, sizeof(c->msg), "Broker %lld deleted.", (long long)id);
    return streamctl__path(c, "v1", "brokers", num, NULL);
}

static int streamctl__brokers_get(streamctl__ctx_t *c)
{
    int rc = streamctl__broker_path(c);
    return rc != 0 ? rc : streamctl__show(c, "GET", STREAMCTL__OBJECT, false);
}

static int streamctl__brokers_delete(streamctl__ctx_t *c)
{
    int rc = streamctl__broker_path(c);
    return rc != 0 ? rc : streamctl__delete(c);
}

static int streamctl__audit(streamctl__ctx_t *c)
{
    static const streamctl__col_t cols[] = {
        { "ID", "id" },           { "AT", "at" },         { "ACTOR", "actor" },
        { "ACTION", "action" },   { "TENANT", "tenant" }, { "TARGET", "target" },
        { "DETAILS", "details" }, { NULL, NULL },
    };
    const char *limit = streamctl__opt(c, "limit");
    int64_t n = 0;
    int rc;
    if (limit != NULL && (rc = streamctl__int(c, "--limit", limit, 1, 1000000, &n)) != 0)
        return rc;
    streamctl__path(c, "v1", "audit", NULL);
    streamctl__query(c, "tenant", streamctl__opt(c, "tenant"));
    streamctl__query(c, "limit", limit);
    return streamctl__list(c, cols, "audit records");
}

/* GET /readyz: 200 is ready; anything else carries the reason. */
static int streamctl__health(streamctl__ctx_t *c)
{
    streamctl__answer_t a;
    cm_arena_t arena;
    cm_arena_init(&arena, STREAMCTL__TREE_BYTES_MAX);
    streamctl__path(c, "readyz", NULL);
    int rc = streamctl__http(c, "GET", &a);
    if (rc != 0)
        goto out;
    bool ready = a.status == 200;
    const char *msg = ready ? "ready" : NULL;
    if (!ready)
        msg = cm_json_get_str(streamctl__parse_answer(&a, &arena, true), "message");
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
        streamctl__out(stdout, "%s%s (HTTP %ld)\n",
                       strncmp(msg, "not ready", 9) == 0 ? "" : "not ready: ", msg, a.status);
    }
    rc = ready ? 0 : STREAMCTL_EXIT_API;
out:
    cm_sbuf_free(&a.body);
    cm_arena_free(&arena);
    return rc;
}

/* ---- the command table -------------------------------------------------------------- */

#define STREAMCTL__SPECS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const streamctl__cmd_t streamctl__cmds[] = {
    { "tenants", "list", "", "[--state active|suspended]", 0, 0, STREAMCTL__SPECS("state="), false,
      streamctl__tenants_list, "List tenants, optionally only those in one state." },
    { "tenants", "create", "NAME", "[--plan PLAN] [--pool POOL]", 1, 1,
      STREAMCTL__SPECS("plan=", "pool="), false, streamctl__tenants_create,
      "Create a tenant, with an admin service account \"owner\" and default quotas." },
    { "tenants", "get", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl__tenants_get,
      "Show one tenant." },
    { "tenants", "set-plan", "NAME PLAN", "", 2, 2, streamctl__no_specs, false,
      streamctl__tenants_set_plan, "Change a tenant's plan." },
    { "tenants", "suspend", "NAME", "", 1, 1, streamctl__no_specs, false,
      streamctl__tenants_suspend, "Suspend a tenant (its state becomes suspended)." },
    { "tenants", "resume", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl__tenants_resume,
      "Make a suspended tenant active again." },
    { "tenants", "delete", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl__tenants_delete,
      "Delete a tenant that has no topics left." },
    { "service-accounts", "list", "TENANT", "", 1, 1, streamctl__no_specs, false,
      streamctl__sa_list, "List a tenant's service accounts." },
    { "service-accounts", "create", "TENANT NAME", "[--admin] [--description TEXT]", 2, 2,
      STREAMCTL__SPECS("admin", "description="), false, streamctl__sa_create,
      "Create a service account; --admin makes it the tenant's administrator." },
    { "service-accounts", "delete", "TENANT NAME", "", 2, 2, streamctl__no_specs, false,
      streamctl__sa_delete, "Delete a service account and its API keys (ACLs naming it stay)." },
    { "keys", "list", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl__keys_list,
      "List a tenant's API keys (secrets are never shown again)." },
    { "keys", "create", "TENANT", "[--service-account SA] [--description TEXT]", 1, 1,
      STREAMCTL__SPECS("service-account=", "description="), false, streamctl__keys_create,
      "Create an API key (for \"owner\" by default); prints its secret, only this once." },
    { "keys", "revoke", "TENANT KEY", "", 2, 2, streamctl__no_specs, false, streamctl__keys_revoke,
      "Revoke an API key." },
    { "issuers", "list", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl__issuers_list,
      "List the JWT issuers a tenant's clients may authenticate with." },
    { "issuers", "create", "TENANT",
      "--issuer ISS --audience AUD --algorithm ALG --public-keys-file PEMFILE "
      "[--principal-claim CLAIM]",
      1, 1,
      STREAMCTL__SPECS("issuer=!", "audience=!", "algorithm=!", "public-keys-file=!",
                       "principal-claim="),
      false, streamctl__issuers_create,
      "Trust a JWT issuer; PEMFILE (\"-\": standard input) holds its PEM public keys." },
    { "issuers", "delete", "TENANT ID", "", 2, 2, streamctl__no_specs, false,
      streamctl__issuers_delete, "Stop trusting a JWT issuer." },
    { "quotas", "get", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl__quotas_get,
      "Show a tenant's quotas (\"none\": no limit)." },
    { "quotas", "set", "TENANT",
      "[--produce-bytes-per-sec N] [--consume-bytes-per-sec N] [--requests-per-sec N] "
      "[--connections N] [--partitions N] [--storage-bytes N]",
      1, 1, streamctl__quota_specs, false, streamctl__quotas_set,
      "Change some of a tenant's quotas; N is an integer, or none for no limit." },
    { "topics", "list", "TENANT", "", 1, 1, streamctl__no_specs, false, streamctl__topics_list,
      "List a tenant's topics." },
    { "topics", "create", "TENANT NAME",
      "[--partitions N] [--replication-factor N] [--config KEY=VALUE]...", 2, 2,
      STREAMCTL__SPECS("partitions=", "replication-factor=", "config=+"), false,
      streamctl__topics_create, "Create a topic, placed on the tenant's pool." },
    { "topics", "get", "TENANT NAME", "", 2, 2, streamctl__no_specs, false, streamctl__topics_get,
      "Show a topic and where its partitions are." },
    { "topics", "delete", "TENANT NAME", "", 2, 2, streamctl__no_specs, false,
      streamctl__topics_delete, "Delete a topic." },
    { "topics", "set-config", "TENANT NAME KEY=VALUE...", "", 3, -1, streamctl__no_specs, false,
      streamctl__topics_set_config,
      "Change topic configs; KEY= (empty) resets a config to its default." },
    { "topics", "add-partitions", "TENANT NAME", "--count N", 2, 2, STREAMCTL__SPECS("count=!"),
      false, streamctl__topics_add_partitions,
      "Grow a topic to N partitions in all (partitions cannot be removed)." },
    { "topics", "set-leader", "TENANT NAME PARTITION", "--leader BROKER --epoch EPOCH", 3, 3,
      STREAMCTL__SPECS("leader=!", "epoch=!"), false, streamctl__topics_set_leader,
      "Move a partition's leadership to an in-sync replica; EPOCH is its current epoch." },
    { "acls", "list", "TENANT", "[--principal P] [--resource-type TYPE]", 1, 1,
      STREAMCTL__SPECS("principal=", "resource-type="), false, streamctl__acls_list,
      "List a tenant's ACLs." },
    { "acls", "create", "TENANT",
      "--principal P --resource-type TYPE --resource-name NAME --operation OP "
      "[--pattern literal|prefixed] [--deny]",
      1, 1,
      STREAMCTL__SPECS("principal=!", "resource-type=!", "resource-name=!", "operation=!",
                       "pattern=", "deny"),
      false, streamctl__acls_create,
      "Allow (or with --deny, deny) an operation; P and NAME may be \"*\"." },
    { "acls", "delete", "TENANT ID", "", 2, 2, streamctl__no_specs, false, streamctl__acls_delete,
      "Delete an ACL." },
    { "pools", "list", "", "", 0, 0, streamctl__no_specs, false, streamctl__pools_list,
      "List broker pools." },
    { "pools", "create", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl__pools_create,
      "Create a broker pool." },
    { "pools", "get", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl__pools_get,
      "Show a broker pool." },
    { "pools", "delete", "NAME", "", 1, 1, streamctl__no_specs, false, streamctl__pools_delete,
      "Delete a pool that has no brokers and no tenants." },
    { "brokers", "list", "", "[--pool POOL]", 0, 0, STREAMCTL__SPECS("pool="), false,
      streamctl__brokers_list, "List brokers, optionally of one pool." },
    { "brokers", "get", "ID", "", 1, 1, streamctl__no_specs, false, streamctl__brokers_get,
      "Show a broker." },
    { "brokers", "delete", "ID", "", 1, 1, streamctl__no_specs, false, streamctl__brokers_delete,
      "Forget a broker that is down and holds no replicas." },
    { "audit", NULL, "", "[--tenant TENANT] [--limit N]", 0, 0,
      STREAMCTL__SPECS("tenant=", "limit="), false, streamctl__audit,
      "Show the newest audit records (100 unless --limit)." },
    { "health", NULL, "", "", 0, 0, streamctl__no_specs, true, streamctl__health,
      "Ask whether the control plane is ready (no token needed)." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, false, NULL, NULL },
};

static const streamctl__cmd_t *streamctl__commands(void)
{
    return streamctl__cmds;
}

/* ---- main --------------------------------------------------------------------------- */

/* After parsing: help, or a complete command, or a usage error. -1 means "run it". */
static int streamctl__dispatch(const streamctl__ctx_t *c)
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
        streamctl__out(stderr, "streamctl: \"%s\" needs a command\n", c->group);
        streamctl__help_group(stderr, c->group);
        return STREAMCTL_EXIT_USAGE;
    }
    int rc = streamctl__check(c);
    return rc != 0 ? rc : -1;
}

int main(int argc, char **argv)
{
    streamctl__ctx_t *c = calloc(1, sizeof(*c));
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
