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
 *   min.insync.replicas acks=all produces need this many in-sync replicas, or get
 *                       NOT_ENOUGH_REPLICAS; below it the high watermark stays put
 *   cleanup.policy      "delete" (the only policy; compaction is not offered)
 */
#ifndef CM_TCONFIG_H
#define CM_TCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_kbuf.h"

/**
 * The values of a topic's configs. A daemon's defaults are one of these, and each topic
 * holds its own copy.
 */
typedef struct cm_tconfig {
    int64_t retention_ms;
    int64_t retention_bytes;
    int64_t segment_bytes;
    int64_t segment_ms;
    int64_t flush_ms;
    int64_t max_message_bytes;
    int64_t min_insync_replicas;
    uint32_t set; /* bit i: key i was set explicitly on this topic */
} cm_tconfig_t;

/** DescribeConfigs config_type values (KIP-569). */
enum { CM_CTYPE_STRING = 2, CM_CTYPE_INT = 3, CM_CTYPE_LONG = 5, CM_CTYPE_LIST = 7 };

typedef struct cm_tconfig_key {
    const char *name;
    int ctype; /* CM_CTYPE_* */
    int64_t min;
    int64_t max;
    ptrdiff_t offset;  /* field in cm_tconfig_t, -1 for fixed-value keys */
    const char *fixed; /* the only value of a fixed-value key */
    const char *doc;
} cm_tconfig_key_t;

extern const cm_tconfig_key_t cm_tconfig_keys[];
extern const size_t cm_tconfig_keys_n;

/** The key named `name`, or NULL. */
const cm_tconfig_key_t *cm_tconfig_key(cm_kstr_t name);

/** Fills `tc` with `defaults`, nothing set explicitly. */
void cm_tconfig_init(cm_tconfig_t *tc, const cm_tconfig_t *defaults);

/**
 * Sets a key from its text value. Returns 0, or CM_KERR_INVALID_CONFIG with a message
 * for the client in `msg` (value not a number, out of bounds, not allowed).
 */
int cm_tconfig_set(cm_tconfig_t *tc, const cm_tconfig_key_t *k, cm_kstr_t value, char *msg,
                   size_t msg_cap);

/** Returns a key to its default. */
void cm_tconfig_reset(cm_tconfig_t *tc, const cm_tconfig_key_t *k, const cm_tconfig_t *defaults);

/** True when the key was set on the topic (its source is the topic, not the default). */
bool cm_tconfig_is_set(const cm_tconfig_t *tc, const cm_tconfig_key_t *k);

/** Writes the key's current value as text. */
void cm_tconfig_value(const cm_tconfig_t *tc, const cm_tconfig_key_t *k, char *buf, size_t cap);

/** Writes the key's default value as text. */
void cm_tconfig_default(const cm_tconfig_key_t *k, const cm_tconfig_t *defaults, char *buf,
                        size_t cap);

#endif
