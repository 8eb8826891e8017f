/*
 * JSON: a strict RFC 8259 parser into an arena-allocated tree, and a compact writer.
 *
 * The parser is for input a tenant controls (admin API bodies, config documents), so it
 * refuses everything the RFC does not allow instead of guessing, and bounds what a document
 * can cost: the tree, the decoded strings and the parser's scratch memory all come from
 * the caller's arena, whose limit is the size limit; nesting is bounded by `depth_max`; the
 * parser is iterative, so a deep document cannot exhaust the stack. Refusals carry a byte
 * offset and say what was expected, so they can be shown to the user as they are.
 *
 * Strings in the tree are decoded copies (escapes resolved, NUL-terminated), so the text
 * may be freed once cm_json_parse() returns; the tree lives until the arena is reset.
 *
 * Numbers are converted with strtod() and written with printf(), which read LC_NUMERIC;
 * the project never calls setlocale(), so the decimal point is always '.'.
 *
 * No global state: any thread may parse or write, one tree or writer per thread at a time.
 */
#ifndef CM_JSON_H
#define CM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_arena.h"
#include "cm_sbuf.h"

/** Longest number text the parser accepts, in bytes (a double needs at most 24). */
#define CM_JSON_NUMBER_LEN_MAX 256

typedef enum cm_json_type {
    CM_JSON_NULL,
    CM_JSON_BOOL,
    CM_JSON_NUMBER,
    CM_JSON_STRING,
    CM_JSON_ARRAY,
    CM_JSON_OBJECT
} cm_json_type_t;

typedef struct cm_json cm_json_t;

/** One value of a parsed document. Every pointer points into the parser's arena. */
struct cm_json {
    cm_json_type_t type;
    bool b;           /* BOOL */
    bool is_int;      /* NUMBER: written without fraction/exponent and fits int64 */
    int64_t i;        /* NUMBER when is_int */
    double num;       /* NUMBER (always set) */
    const char *str;  /* STRING: decoded UTF-8, NUL-terminated (NUL inside is refused) */
    size_t len;       /* STRING: bytes; ARRAY/OBJECT: number of children */
    const char *key;  /* member name when the parent is an OBJECT, else NULL */
    cm_json_t *child; /* ARRAY/OBJECT: first child, in document order */
    cm_json_t *next;  /* next sibling */
    size_t off;       /* byte offset in the text of the member's key, or else of the value */
};

/**
 * Parses `len` bytes of `text` (which need not be NUL-terminated) into a tree allocated in
 * `a`, and sets *out to its root.
 *
 * Strict RFC 8259: one value, optional surrounding whitespace, no comments, no trailing
 * commas, valid UTF-8 (overlong forms, surrogates encoded directly and code points above
 * U+10FFFF are refused), \u escapes including surrogate pairs (lone surrogates are refused),
 * no NUL in strings (not even as \u0000), no duplicate keys within an object, containers
 * nested at most `depth_max` deep (`[[1]]` is 2 deep; 0 allows scalars only), numbers at
 * most CM_JSON_NUMBER_LEN_MAX bytes that are finite as doubles.
 *
 * Returns CM_OK; or CM_EINVAL with a message in `err` such as
 * "at byte 17: expected ':' after an object key" (offsets count from 0); or CM_ELIMIT when
 * the arena's limit is reached ("at byte N: document too large ..."). On failure *out is
 * NULL and what was allocated stays in the arena until it is reset. `err` may be NULL; a
 * message longer than `err_cap` is truncated.
 */
int cm_json_parse(cm_arena_t *a, const char *text, size_t len, int depth_max, cm_json_t **out,
                  char *err, size_t err_cap);

/** The member `key` of an object, or NULL (also when `obj` is NULL or not an object). */
const cm_json_t *cm_json_get(const cm_json_t *obj, const char *key);

/** The string member `key`, or NULL when absent or not a string. */
const char *cm_json_get_str(const cm_json_t *obj, const char *key);

/** Sets *out to the integer member `key`; false when absent or not an integer. */
bool cm_json_get_int(const cm_json_t *obj, const char *key, int64_t *out);

/** Sets *out to the boolean member `key`; false when absent or not a boolean. */
bool cm_json_get_bool(const cm_json_t *obj, const char *key, bool *out);

/*
 * The writer appends compact JSON to a cm_sbuf_t and places the commas itself:
 *
 *     cm_jw_obj(&w); cm_jw_kstr(&w, "topic", t); cm_jw_key(&w, "sizes"); cm_jw_arr(&w);
 *     cm_jw_int(&w, 1); cm_jw_int(&w, 2); cm_jw_arr_end(&w); cm_jw_obj_end(&w);
 *
 * writes {"topic":"...","sizes":[1,2]}. The caller keeps keys and values in order; nesting
 * deeper than CM_JW_DEPTH_MAX, closing more than was opened, or closing after a key with no
 * value are programming errors and abort().
 */

/**
 * Deepest nesting the writer supports. cm_json_write() must be able to write any document
 * the parser accepted, at the deepest `depth_max` a caller parses with (64: record values a
 * consumer reads as JSON), inside the answer that carries it: past this limit the writer
 * aborts, so a tenant's document would stop the process.
 */
#define CM_JW_DEPTH_MAX 128

/** Writer state; `s` is borrowed and must outlive the writer. */
typedef struct cm_jw {
    cm_sbuf_t *s;
    int depth;                   /* open containers */
    bool first[CM_JW_DEPTH_MAX]; /* no element written yet in container [depth - 1] */
    bool after_key;              /* a key was written and its value is next */
} cm_jw_t;

/** Starts writing into `s`, appending to what it already holds. */
void cm_jw_init(cm_jw_t *w, cm_sbuf_t *s);

/** Opens an object: `{`. */
void cm_jw_obj(cm_jw_t *w);

/** Closes the innermost object: `}`. */
void cm_jw_obj_end(cm_jw_t *w);

/** Opens an array: `[`. */
void cm_jw_arr(cm_jw_t *w);

/** Closes the innermost array: `]`. */
void cm_jw_arr_end(cm_jw_t *w);

/** Writes a member name; the next value written is its value. */
void cm_jw_key(cm_jw_t *w, const char *key);

/** Writes the NUL-terminated string `v`, or null when `v` is NULL. */
void cm_jw_str(cm_jw_t *w, const char *v);

/** Writes the `n` bytes at `v` as a string (NUL bytes become \u0000), or null if `v` is NULL. */
void cm_jw_strn(cm_jw_t *w, const char *v, size_t n);

/** Writes an integer. */
void cm_jw_int(cm_jw_t *w, int64_t v);

/** Writes the shortest decimal that reads back as `v`; null when `v` is not finite. */
void cm_jw_double(cm_jw_t *w, double v);

/** Writes true or false. */
void cm_jw_bool(cm_jw_t *w, bool v);

/** Writes null. */
void cm_jw_null(cm_jw_t *w);

/** Writes a parsed value (and everything under it) compactly. */
void cm_json_write(cm_jw_t *w, const cm_json_t *v);

/** Writes `json`, an already-encoded JSON value, as it is (it is not checked). */
void cm_jw_raw(cm_jw_t *w, const char *json);

/** Makes room for a value of exactly `n` bytes of JSON text, for the caller to fill in. */
char *cm_jw_raw_space(cm_jw_t *w, size_t n);

/** Writes the member `key` with the string value `v` (null when `v` is NULL). */
void cm_jw_kstr(cm_jw_t *w, const char *key, const char *v);

/** Writes the member `key` with the integer value `v`. */
void cm_jw_kint(cm_jw_t *w, const char *key, int64_t v);

/** Writes the member `key` with the boolean value `v`. */
void cm_jw_kbool(cm_jw_t *w, const char *key, bool v);

/**
 * Appends the `n` bytes at `v` as a quoted JSON string: `"` and `\` are escaped, control
 * characters become \n, \t etc. or \uXXXX, and bytes >= 0x80 are copied as they are (the
 * caller supplies UTF-8).
 */
void cm_json_quote(cm_sbuf_t *s, const char *v, size_t n);

#endif
