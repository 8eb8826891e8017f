/*
 * Helpers shared by the JSON unit tests (test_json.c: the parser; test_json_writer.c: the
 * writer and round trips): parse and check, or check a refusal and its byte offset.
 */
#ifndef TESTS_UNIT_COMMON_JSON_HELPERS_H
#define TESTS_UNIT_COMMON_JSON_HELPERS_H

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cm_err.h"
#include "cm_json.h"

#define ARENA_LIMIT ((size_t)1 << 20)
#define DEPTH       64

/* ---- helpers ---- */

/* The input with non-printable bytes as \xNN, for failure messages. */
static inline const char *shown(const char *text, size_t len)
{
    static char buf[512];
    size_t n = 0;
    for (size_t i = 0; i < len && n + 8 < sizeof(buf); i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f)
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\x%02x", c);
    }
    buf[n] = '\0';
    return buf;
}

/* Parses an exact-size heap copy of `text`, so AddressSanitizer catches any read past len. */
static inline int parse_n(cm_arena_t *a, const char *text, size_t len, int depth_max,
                          cm_json_t **out, char *err, size_t err_cap)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = cm_json_parse(a, copy, len, depth_max, out, err, err_cap);
    /* Strings in the tree are copies, so the text may go now. */
    memset(copy, 'X', len);
    free(copy);
    return rc;
}

/* Parses `text`, which must be accepted. */
static inline cm_json_t *parse_ok(cm_arena_t *a, const char *text)
{
    char err[256] = "";
    cm_json_t *root = NULL;
    int rc = parse_n(a, text, strlen(text), DEPTH, &root, err, sizeof(err));
    if (rc != CM_OK || root == NULL)
        fail_msg("%s: refused (%d): %s", shown(text, strlen(text)), rc, err);
    return root;
}

/* Checks that `len` bytes of `text` are refused with `want_rc`, at byte `off`, saying `want`. */
static inline void check_refused(const char *text, size_t len, int depth_max, int want_rc,
                                 size_t off, const char *want)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    char err[256] = "";
    cm_json_t *root = (cm_json_t *)&a; /* must be cleared */
    int rc = parse_n(&a, text, len, depth_max, &root, err, sizeof(err));
    char prefix[48];
    snprintf(prefix, sizeof(prefix), "at byte %zu: ", off);
    if (rc != want_rc || root != NULL || strncmp(err, prefix, strlen(prefix)) != 0 ||
        strstr(err, want) == NULL)
        fail_msg("%s: got %d \"%s\", want %d \"%s...%s...\"", shown(text, len), rc, err, want_rc,
                 prefix, want);
    cm_arena_free(&a);
}

/* For string literals, which may hold NUL bytes. */
#define REFUSED(text, off, want) check_refused(text, sizeof(text) - 1, DEPTH, CM_EINVAL, off, want)

/* Parses a one-string document and checks its decoded bytes. */
#define DECODES_TO(text, want)                                                                     \
    do {                                                                                           \
        cm_json_t *v_ = parse_ok(&a, text);                                                        \
        assert_int_equal(v_->type, CM_JSON_STRING);                                                \
        assert_int_equal(v_->len, sizeof(want) - 1);                                               \
        assert_memory_equal(v_->str, want, sizeof(want));                                          \
    } while (0)

/* ---- values ---- */

#endif
