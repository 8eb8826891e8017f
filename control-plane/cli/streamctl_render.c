/* streamctl: rendering answers as tables and "key: value" lines, safely for terminals. */
#include "streamctl_internal.h"

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

void streamctl_vout(FILE *f, const char *fmt, va_list ap)
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

void streamctl_out(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    streamctl_vout(f, fmt, ap);
    va_end(ap);
}

void streamctl_sbuf_reset(cm_sbuf_t *s)
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
            cm_json_write(&w, m);
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
static void streamctl__cell(const cm_json_t *row, const streamctl_col_t *col, cm_sbuf_t *cell)
{
    streamctl_sbuf_reset(cell);
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
static void streamctl__table(const cm_json_t *rows, const streamctl_col_t *cols)
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

static int streamctl__render_list(const cm_json_t *doc, const streamctl_view_t *v)
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
        streamctl_out(stdout, "%*s%s:\n", indent, "", m->key);
        for (const char *p = val.buf, *end = val.buf + val.len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
            printf("%*s%.*s\n", indent + 4, "", (int)n, p);
            p += n + 1;
        }
    } else {
        streamctl_out(stdout, "%*s%s:", indent, "", m->key);
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
            streamctl_out(stdout, "%*s%s:\n", indent, "", m->key);
            streamctl__kv(m, NULL, indent + 2, null_text);
        } else {
            streamctl__kv_line(m, indent, width, null_text);
        }
    }
}

static int streamctl__render_object(const streamctl_ctx_t *c, const cm_json_t *doc,
                                    const streamctl_view_t *v, const char *const *skip)
{
    if (doc->type != CM_JSON_OBJECT) {
        fprintf(stderr, "streamctl: the control plane's answer is not an object\n");
        return STREAMCTL_EXIT_API;
    }
    if (v->titled)
        streamctl_out(stdout, "%s\n\n", c->msg);
    streamctl__kv(doc, skip, 0, v->null_text != NULL ? v->null_text : "-");
    return 0;
}

static int streamctl__render_topic(const streamctl_ctx_t *c, const cm_json_t *doc,
                                   const streamctl_view_t *v)
{
    static const char *const skip[] = { "assignments", NULL };
    static const streamctl_col_t cols[] = {
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
    streamctl_out(stdout, "API key created for service account \"%s\" of tenant \"%s\".\n\n",
                  sa != NULL ? sa : "?", tenant != NULL ? tenant : "?");
    streamctl_out(stdout, "    key:     %s\n    secret:  %s\n\n", key, secret);
    printf("WARNING: the secret is shown only this once and cannot be retrieved later.\n"
           "Store it now; if it is lost, revoke the key and create another.\n");
    return 0;
}

/* Shows a successful answer as `v` says. */
int streamctl_render(const streamctl_ctx_t *c, const streamctl_answer_t *a,
                     const streamctl_view_t *v)
{
    if (v->kind == STREAMCTL__DONE || a->status == 204) {
        streamctl_out(stdout, "%s\n", c->msg);
        return 0;
    }
    cm_arena_t arena;
    cm_arena_init(&arena, STREAMCTL__TREE_BYTES_MAX);
    const cm_json_t *doc = streamctl_parse_answer(a, &arena, false);
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
