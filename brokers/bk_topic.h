/*
 * Topics: the registry of this broker's topics, their partitions and configs, and their
 * place on disk:
 *
 *   <data_dir>/topics/<name>/topic.properties   id, partition count, explicitly set configs
 *   <data_dir>/topics/<name>/<partition>/        segments (see bk_segment.h)
 *
 * A managed broker holds only the partitions the control plane assigns it: the others are
 * NULL in `parts` and listed as not hosted in topic.properties ("hosted=0,2"; absent: all).
 *
 * topic.properties is written last on create (atomically), so a directory without it is
 * an interrupted creation and is removed at start. Deletion renames the directory into
 * <data_dir>/deleted/ first (atomic), then removes it in the background.
 *
 * Event-loop thread only.
 */
#ifndef BK_TOPIC_H
#define BK_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_broker.h"
#include "bk_partition.h"
#include "cm_tconfig.h"
#include "cm_kbuf.h"

struct bk_topic {
    char *name;
    cm_kuuid_t id;
    int32_t n_parts;        /* the topic's partition count, hosted here or not */
    bk_partition_t **parts; /* n_parts entries; NULL: held by other brokers */
    cm_tconfig_t cfg;
    char *dir;
};

/** Topic name rules (Kafka's): 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool bk_topic_name_valid(cm_kstr_t name, char *msg, size_t cap);

/** Opens every topic under the data directory, recovering their partitions. */
int bk_topics_load(bk_broker_t *b);

/** Closes every topic (shutdown). */
void bk_topics_close(bk_broker_t *b);

/** Looks a topic up by name or by id; NULL if there is none. */
bk_topic_t *bk_topic_find(bk_broker_t *b, cm_kstr_t name);
bk_topic_t *bk_topic_find_id(bk_broker_t *b, cm_kuuid_t id);

/** A partition of a topic, or NULL when out of range or not hosted here. */
bk_partition_t *bk_topic_partition(bk_topic_t *t, int32_t id);

/**
 * Checks a creation (name, count, limits) and, unless `validate_only`, creates the topic
 * on disk and registers it, with topic id `id` (NULL: a random one), holding the
 * partitions `hosted` marks (n_parts entries; NULL: all). Returns 0 or a Kafka error with
 * a message in `msg`.
 */
int16_t bk_topic_create(bk_broker_t *b, cm_kstr_t name, const cm_kuuid_t *id, int32_t n_parts,
                        const bool *hosted, const cm_tconfig_t *cfg, bool validate_only, char *msg,
                        size_t cap, bk_topic_t **out);

/**
 * Adds partitions to a topic until it has `n` (CreatePartitions; a managed broker when the
 * control plane's count grows). Returns 0 or a Kafka error with a message in `msg`; on an
 * error the topic is as it was.
 */
int16_t bk_topic_grow(bk_broker_t *b, bk_topic_t *t, int32_t n, bool validate_only, char *msg,
                      size_t cap);

/**
 * A managed broker's assignment: the count grows to `n` (if larger) and every partition
 * `hosted` marks (n entries) that is not open here is created empty. Partitions no longer
 * marked stay as they are. Returns 0 or a Kafka error with `msg`; on an error the topic is
 * as it was.
 */
int16_t bk_topic_assign(bk_broker_t *b, bk_topic_t *t, int32_t n, const bool *hosted, char *msg,
                        size_t cap);

/** Unregisters a topic and removes its data. Its waiters fail; readers finish first. */
void bk_topic_delete(bk_broker_t *b, bk_topic_t *t);

/** Persists a topic's configs after an alter. Returns 0 or a Kafka error. */
int16_t bk_topic_save(bk_broker_t *b, bk_topic_t *t);

/** Formats a topic id as 32 hex digits. */
void bk_uuid_hex(cm_kuuid_t id, char out[33]);

#endif
