/*
 * Topic configs: the per-topic settings a tenant can describe and alter with Kafka's
 * admin APIs, their bounds, and their broker-wide defaults.
 *
 *   retention.ms        delete sealed segments whose newest record is older (-1: never)
 *   retention.bytes     delete oldest sealed segments beyond this size (-1: never)
 *   segment.bytes       roll the active segment at this size
 *   segment.ms          roll the active segment at this age
 *   flush.ms            0: every acknowledged write is fsynced before the ack (default);
 *                       N > 0: acks do not wait, data is fsynced every N ms: a machine
 *                       crash can lose up to the last N ms of acknowledged records
 *   max.message.bytes   largest record batch accepted
 *   cleanup.policy      "delete" (the only policy; compaction is not offered)
 */
#ifndef BK_TCONFIG_H
#define BK_TCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_config.h"
#include "cm_kbuf.h"

/** DescribeConfigs config_type values (KIP-569). */
enum { BK_CTYPE_STRING = 2, BK_CTYPE_INT = 3, BK_CTYPE_LONG = 5, BK_CTYPE_LIST = 7 };

typedef struct bk_tconfig_key {
    const char *name;
    int ctype; /* BK_CTYPE_* */
    int64_t min;
    int64_t max;
    ptrdiff_t offset;  /* field in bk_tconfig_t, -1 for fixed-value keys */
    const char *fixed; /* the only value of a fixed-value key */
    const char *doc;
} bk_tconfig_key_t;

extern const bk_tconfig_key_t bk_tconfig_keys[];
extern const size_t bk_tconfig_keys_n;

/** The key named `name`, or NULL. */
const bk_tconfig_key_t *bk_tconfig_key(cm_kstr_t name);

/** Fills `tc` with the broker's defaults, nothing set explicitly. */
void bk_tconfig_init(bk_tconfig_t *tc, const bk_config_t *cfg);

/**
 * Sets a key from its text value. Returns 0, or CM_KERR_INVALID_CONFIG with a message
 * for the client in `msg` (value not a number, out of bounds, not allowed).
 */
int bk_tconfig_set(bk_tconfig_t *tc, const bk_tconfig_key_t *k, cm_kstr_t value, char *msg,
                   size_t msg_cap);

/** Returns a key to its default. */
void bk_tconfig_reset(bk_tconfig_t *tc, const bk_tconfig_key_t *k, const bk_config_t *cfg);

/** True when the key was set on the topic (its source is the topic, not the default). */
bool bk_tconfig_is_set(const bk_tconfig_t *tc, const bk_tconfig_key_t *k);

/** Writes the key's current value as text. */
void bk_tconfig_value(const bk_tconfig_t *tc, const bk_tconfig_key_t *k, char *buf, size_t cap);

/** Writes the key's default value as text. */
void bk_tconfig_default(const bk_tconfig_key_t *k, const bk_config_t *cfg, char *buf, size_t cap);

#endif
