/*
 * Kafka's default partitioner: the Java client's Utils.murmur2 (seed 0x9747b28c) and
 * partition = (hash & 0x7fffffff) % partitions, so a key sent through the gateway lands on
 * the partition a Kafka client would have chosen for it.
 */
#ifndef CM_MURMUR2_H
#define CM_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/** The 32-bit murmur2 hash of `len` bytes, as Kafka's Java client computes it. */
int32_t cm_murmur2(const void *data, size_t len);

/** The partition of a keyed record among `partitions` (> 0). */
int32_t cm_murmur2_partition(const void *key, size_t len, int32_t partitions);

#endif
