/*
 * The JSON parser and writer (common/cm_json.c). The input is a document as a tenant sends
 * it (a REST body, a record value shown as JSON, a JWT part).
 *
 * It is parsed with the deepest nesting a caller allows (64: the gateway reading record
 * values for format=json consumers) and an arena limit. What parses must:
 *   - be found again member by member with cm_json_get (no duplicate keys got through);
 *   - be writable with cm_json_write where the gateway writes it: as a record's "value"
 *     inside its consume answer, {"records":[{"value":{"type":"JSON","data":<doc>}}]};
 *   - parse again from what was written into the same values (numbers compare as doubles:
 *     -0 is written "-0", which reads back as the integer 0), and write the same bytes
 *     from then on.
 */
#include <stdbool.h>
#include <string.h>

#include "cm_arena.h"
#include "cm_json.h"
#include "cm_sbuf.h"
#include "fuzz.h"

/* The deepest nesting any caller parses with (gateway/gw_records.c, gw_consumer_calls.c). */
#define FUZZ__DEPTH_MAX 64
#define FUZZ__ARENA_MAX (4u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

/* Every member of every object can be looked up by its key and is the first with it. */
static void fuzz__lookup(const cm_json_t *v)
{
    size_t n = 0;
    for (const cm_json_t *c = v->child; c != NULL; c = c->next, n++) {
        if (v->type == CM_JSON_OBJECT) {
            fuzz_assert(c->key != NULL);
            if (cm_json_get(v, c->key) != c)
                fuzz_fail("object member \"%s\" is not the one found by its key", c->key);
        } else {
            fuzz_assert(c->key == NULL);
        }
        fuzz__lookup(c);
    }
    if (v->type == CM_JSON_ARRAY || v->type == CM_JSON_OBJECT)
        fuzz_assert(n == v->len);
    if (v->type == CM_JSON_STRING)
        fuzz_assert(strlen(v->str) == v->len);
}

/* The same document: types, keys in order, strings byte for byte, numbers as doubles. */
static bool fuzz__same(const cm_json_t *x, const cm_json_t *y)
{
    if (x->type != y->type || x->len != y->len || (x->key == NULL) != (y->key == NULL) ||
        (x->key != NULL && strcmp(x->key, y->key) != 0))
        return false;
    switch (x->type) {
    case CM_JSON_NULL:
        return true;
    case CM_JSON_BOOL:
        return x->b == y->b;
    case CM_JSON_NUMBER:
        return x->num == y->num && (!x->is_int || !y->is_int || x->i == y->i);
    case CM_JSON_STRING:
        return memcmp(x->str, y->str, x->len) == 0;
    case CM_JSON_ARRAY:
    case CM_JSON_OBJECT:
        break;
    }
    const cm_json_t *a = x->child, *b = y->child;
    for (; a != NULL && b != NULL; a = a->next, b = b->next)
        if (!fuzz__same(a, b))
            return false;
    return a == NULL && b == NULL;
}

/* Writes `doc` where a consume answer puts a record value; returns the bytes of `doc`. */
static void fuzz__write(const cm_json_t *doc, cm_sbuf_t *out, size_t *from, size_t *to)
{
    cm_jw_t w;
    cm_jw_init(&w, out);
    cm_jw_obj(&w);
    cm_jw_key(&w, "records");
    cm_jw_arr(&w);
    cm_jw_obj(&w);
    cm_jw_key(&w, "value");
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "type", "JSON");
    cm_jw_key(&w, "data");
    *from = out->len;
    cm_json_write(&w, doc);
    *to = out->len;
    cm_jw_obj_end(&w);
    cm_jw_obj_end(&w);
    cm_jw_arr_end(&w);
    cm_jw_obj_end(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: the parser must never look past `len` for a terminator. */
    char *text = malloc(size > 0 ? size : 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    cm_arena_t a;
    cm_arena_init(&a, FUZZ__ARENA_MAX);
    cm_json_t *doc;
    char err[160];
    int rc = cm_json_parse(&a, text, size, FUZZ__DEPTH_MAX, &doc, err, sizeof(err));
    if (rc != 0) {
        fuzz_assert(doc == NULL && err[0] != '\0' && strlen(err) < sizeof(err));
        goto out;
    }
    fuzz_assert(doc != NULL);
    fuzz__lookup(doc);

    cm_sbuf_t s1, s2;
    size_t from1, to1, from2, to2;
    cm_sbuf_init(&s1);
    cm_sbuf_init(&s2);
    fuzz__write(doc, &s1, &from1, &to1);
    /* Parsing again needs what the first parse needed, in an arena of its own. */
    cm_arena_t b;
    cm_arena_init(&b, 8 * FUZZ__ARENA_MAX);
    cm_json_t *again, *third;
    rc = cm_json_parse(&b, s1.buf + from1, to1 - from1, FUZZ__DEPTH_MAX, &again, err, sizeof(err));
    if (rc != 0)
        fuzz_fail("what cm_json_write wrote does not parse: %s", err);
    if (!fuzz__same(doc, again))
        fuzz_fail("written and read back, the document changed: %.*s", (int)(to1 - from1),
                  s1.buf + from1);
    fuzz__write(again, &s2, &from2, &to2);
    rc = cm_json_parse(&b, s2.buf + from2, to2 - from2, FUZZ__DEPTH_MAX, &third, err, sizeof(err));
    fuzz_assert(rc == 0);
    cm_sbuf_t s3;
    size_t from3, to3;
    cm_sbuf_init(&s3);
    fuzz__write(third, &s3, &from3, &to3);
    if (to2 - from2 != to3 - from3 || memcmp(s2.buf + from2, s3.buf + from3, to2 - from2) != 0)
        fuzz_fail("writing is not stable: %.*s then %.*s", (int)(to2 - from2), s2.buf + from2,
                  (int)(to3 - from3), s3.buf + from3);
    /* The whole answer is JSON too. */
    cm_arena_reset(&b);
    rc = cm_json_parse(&b, s1.buf, s1.len, FUZZ__DEPTH_MAX + 4, &again, err, sizeof(err));
    if (rc != 0)
        fuzz_fail("the answer around the value does not parse: %s", err);
    cm_arena_free(&b);
    cm_sbuf_free(&s1);
    cm_sbuf_free(&s2);
    cm_sbuf_free(&s3);
out:
    cm_arena_free(&a);
    free(text);
    return 0;
}
