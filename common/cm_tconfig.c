#include "cm_tconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_kproto.h"

/* clang-format off */
#define KEY(name, ctype, lo, hi, field, doc) \
    { name, ctype, lo, hi, offsetof(cm_tconfig_t, field), NULL, doc }
/* clang-format on */

const cm_tconfig_key_t cm_tconfig_keys[] = {
    KEY("retention.ms", CM_CTYPE_LONG, -1, INT64_MAX, retention_ms,
        "Delete sealed segments whose newest record is older than this; -1 keeps them."),
    KEY("retention.bytes", CM_CTYPE_LONG, -1, INT64_MAX, retention_bytes,
        "Delete the oldest sealed segments while a partition is larger; -1 for no limit."),
    KEY("segment.bytes", CM_CTYPE_INT, 14, INT32_MAX, segment_bytes,
        "Roll the active segment when it would grow past this size."),
    KEY("segment.ms", CM_CTYPE_LONG, 1, INT64_MAX, segment_ms,
        "Roll the active segment when it is older than this."),
    KEY("flush.ms", CM_CTYPE_LONG, 0, INT64_MAX, flush_ms,
        "0: acknowledged writes are fsynced before the ack. N: fsync every N ms without "
        "waiting; a machine crash can lose the last N ms of acknowledged records."),
    KEY("max.message.bytes", CM_CTYPE_INT, 0, 1073741824, max_message_bytes,
        "The largest record batch the topic accepts."),
    KEY("min.insync.replicas", CM_CTYPE_INT, 1, 16, min_insync_replicas,
        "An acks=all produce needs this many in-sync replicas (else NOT_ENOUGH_REPLICAS), "
        "and records become visible only while the in-sync replicas are this many."),
    { "cleanup.policy", CM_CTYPE_LIST, 0, 0, -1, "delete",
      "Old segments are deleted by retention; compaction is not offered." },
};

const size_t cm_tconfig_keys_n = sizeof(cm_tconfig_keys) / sizeof(cm_tconfig_keys[0]);

const cm_tconfig_key_t *cm_tconfig_key(cm_kstr_t name)
{
    for (size_t i = 0; i < cm_tconfig_keys_n; i++)
        if (cm_kstr_eq_c(name, cm_tconfig_keys[i].name))
            return &cm_tconfig_keys[i];
    return NULL;
}

static uint32_t cm_tconfig__bit(const cm_tconfig_key_t *k)
{
    return 1u << (k - cm_tconfig_keys);
}

void cm_tconfig_init(cm_tconfig_t *tc, const cm_tconfig_t *defaults)
{
    *tc = *defaults;
    tc->set = 0;
}

void cm_tconfig_reset(cm_tconfig_t *tc, const cm_tconfig_key_t *k, const cm_tconfig_t *defaults)
{
    if (k->offset >= 0)
        *(int64_t *)((char *)tc + k->offset) =
            *(const int64_t *)((const char *)defaults + k->offset);
    tc->set &= ~cm_tconfig__bit(k);
}

int cm_tconfig_set(cm_tconfig_t *tc, const cm_tconfig_key_t *k, cm_kstr_t value, char *msg,
                   size_t msg_cap)
{
    char text[64];
    if (value.len < 0 || value.len >= (int32_t)sizeof(text)) {
        snprintf(msg, msg_cap, "%s needs a value of at most 63 characters", k->name);
        return CM_KERR_INVALID_CONFIG;
    }
    memcpy(text, value.ptr, (size_t)value.len);
    text[value.len] = '\0';
    if (k->offset < 0) {
        if (strcmp(text, k->fixed) != 0) {
            snprintf(msg, msg_cap, "%s=%s is not supported; the only value is '%s'", k->name, text,
                     k->fixed);
            return CM_KERR_INVALID_CONFIG;
        }
        tc->set |= cm_tconfig__bit(k);
        return 0;
    }
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        snprintf(msg, msg_cap, "%s=%s is not an integer", k->name, text);
        return CM_KERR_INVALID_CONFIG;
    }
    if (v < k->min || v > k->max) {
        snprintf(msg, msg_cap, "%s=%lld is out of range [%" PRId64 ", %" PRId64 "]", k->name, v,
                 k->min, k->max);
        return CM_KERR_INVALID_CONFIG;
    }
    *(int64_t *)((char *)tc + k->offset) = v;
    tc->set |= cm_tconfig__bit(k);
    return 0;
}

bool cm_tconfig_is_set(const cm_tconfig_t *tc, const cm_tconfig_key_t *k)
{
    return (tc->set & cm_tconfig__bit(k)) != 0;
}

void cm_tconfig_value(const cm_tconfig_t *tc, const cm_tconfig_key_t *k, char *buf, size_t cap)
{
    if (k->offset < 0)
        snprintf(buf, cap, "%s", k->fixed);
    else
        snprintf(buf, cap, "%" PRId64, *(const int64_t *)((const char *)tc + k->offset));
}

void cm_tconfig_default(const cm_tconfig_key_t *k, const cm_tconfig_t *defaults, char *buf,
                        size_t cap)
{
    if (k->offset < 0)
        snprintf(buf, cap, "%s", k->fixed);
    else
        cm_tconfig_value(defaults, k, buf, cap);
}
