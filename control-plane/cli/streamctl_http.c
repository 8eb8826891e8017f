/* streamctl: requests to the operator API over libcurl, and running a command. */
#include "streamctl_internal.h"

/* ---- requests ----------------------------------------------------------------------- */

/*
 * Appends "/seg" for each segment to c->path, percent-encoded. A name holding '/' or being
 * a dot segment would address another route (even a DELETE of another resource), and the
 * server refuses '%' and dot segments anyway: such names are refused here.
 */

int streamctl_path(streamctl_ctx_t *c, ...)
{
    va_list ap;
    int rc = 0;
    streamctl_sbuf_reset(&c->path);
    va_start(ap, c);
    for (const char *seg = va_arg(ap, const char *); seg != NULL && rc == 0;
         seg = va_arg(ap, const char *)) {
        if (strchr(seg, '/') != NULL || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
            rc = streamctl_usage_error(c, "\"%s\" cannot be used as a name in the API", seg);
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
void streamctl_query(streamctl_ctx_t *c, const char *name, const char *value)
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
cm_jw_t *streamctl_body(streamctl_ctx_t *c)
{
    streamctl_sbuf_reset(&c->body);
    cm_jw_init(&c->jw, &c->body);
    return &c->jw;
}

/*
 * Sends c->path with c->body (if any) and fills `a`, which the caller frees. Returns 0 when
 * an answer arrived, whatever its status; else prints why and returns 1 or 3.
 */
int streamctl_http(streamctl_ctx_t *c, const char *method, streamctl_answer_t *a)
{
    cm_sbuf_t url;
    cm_sbuf_init(&url);
    cm_sbuf_printf(&url, "%s%s", c->url, c->path.buf);
    cm_httpc_req_t q = {
        .method = method,
        .url = url.buf,
        .token = c->token,
        .body = c->body.len > 0 ? c->body.buf : NULL,
        .body_len = c->body.len,
        .connect_timeout_ms = STREAMCTL__CONNECT_TIMEOUT_MS,
        .timeout_ms = STREAMCTL__TIMEOUT_MS,
        .answer_bytes_max = STREAMCTL__ANSWER_BYTES_MAX,
        .user_agent = "streamctl",
    };
    int rc = 0;
    if (cm_httpc_call(c->curl, &q, a) != 0) {
        if (a->too_big) {
            streamctl_out(stderr, "streamctl: the answer from %s is larger than %zu MiB\n",
                          c->url_shown, STREAMCTL__ANSWER_BYTES_MAX >> 20);
            rc = STREAMCTL_EXIT_API;
        } else {
            streamctl_out(stderr, "streamctl: cannot reach the control plane at %s: %s\n",
                          c->url_shown, a->err);
            rc = STREAMCTL_EXIT_UNREACHABLE;
        }
    }
    cm_sbuf_free(&url);
    return rc;
}

/* Parses an answer's body into `arena`; prints why and returns NULL when it is not JSON. */
const cm_json_t *streamctl_parse_answer(const streamctl_answer_t *a, cm_arena_t *arena, bool quiet)
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
        streamctl_out(stderr, "streamctl: cannot read the control plane's answer: %s\n", err);
    return NULL;
}

/* Prints the server's error message for a non-2xx answer and returns exit 1. */
static int streamctl__api_error(const streamctl_ctx_t *c, const streamctl_answer_t *a)
{
    cm_arena_t arena;
    cm_arena_init(&arena, STREAMCTL__TREE_BYTES_MAX);
    const char *msg = cm_json_get_str(streamctl_parse_answer(a, &arena, true), "message");
    if (msg != NULL)
        streamctl_out(stderr, "streamctl: %s (HTTP %ld)\n", msg, a->status);
    else
        streamctl_out(stderr, "streamctl: %s answered HTTP %ld without an error message\n",
                      c->url_shown, a->status);
    if (a->status == 401)
        fprintf(stderr, "Check the operator token (--token or STREAMD_TOKEN).\n");
    cm_arena_free(&arena);
    return STREAMCTL_EXIT_API;
}

int streamctl_run(streamctl_ctx_t *c, const char *method, const streamctl_view_t *v)
{
    streamctl_answer_t a;
    int rc = streamctl_http(c, method, &a);
    if (rc != 0)
        goto out;
    if (a.status < 200 || a.status > 299) {
        rc = streamctl__api_error(c, &a);
        goto out;
    }
    if (!c->json) {
        rc = streamctl_render(c, &a, v);
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
int streamctl_list(streamctl_ctx_t *c, const streamctl_col_t *cols, const char *noun)
{
    streamctl_view_t v = { .kind = STREAMCTL__LIST, .cols = cols, .noun = noun };
    return streamctl_run(c, "GET", &v);
}

int streamctl_show(streamctl_ctx_t *c, const char *method, streamctl_kind_t kind, bool titled)
{
    streamctl_view_t v = { .kind = kind, .titled = titled };
    return streamctl_run(c, method, &v);
}

int streamctl_delete(streamctl_ctx_t *c)
{
    streamctl_view_t v = { .kind = STREAMCTL__DONE };
    return streamctl_run(c, "DELETE", &v);
}
