/*
 * Operator-set bounds on tenant-settable topic configs, per broker pool. Tenants share the
 * brokers of a pool: a segment.bytes of 14 or a segment.ms of 1 would make a broker roll a
 * segment (files, fsyncs) per batch for everyone, so every numeric topic config has a range
 * that the pool's operator sets and that the control plane enforces on every topic creation
 * and config change, whichever API it came through.
 *
 * A pool stores only its overrides, a JSON object {"segment.bytes": {"min": N, "max": M}};
 * a key or an end it leaves out takes the built-in default below, chosen for a shared
 * service (as managed Kafka services allow tenants: segments of tens of MiB and more, rolled
 * after minutes, not bytes and milliseconds). For retention.ms and retention.bytes, -1
 * (keep forever) counts as larger than any number.
 *
 * Pure functions: any thread.
 */
#ifndef CP_BOUNDS_H
#define CP_BOUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_json.h"

/**
 * Checks `value` (a config's text) of topic config `key` against the bounds of a pool whose
 * overrides are the JSON text `pool_json` (NULL or "" for none). True when within; else
 * false with a message for the tenant in `why`. Keys without bounds (cleanup.policy) pass.
 */
bool cp_bounds_check(const char *pool_json, const char *key, const char *value, char *why,
                     size_t cap);

/**
 * Validates an operator's overrides object `o`: known numeric keys only, each an object of
 * integer "min" and/or "max" (or null to drop the override) within the key's own limits,
 * min <= max once merged with the defaults. False with `why` when not.
 */
bool cp_bounds_valid(const cm_json_t *o, char *why, size_t cap);

/** Writes the effective bounds (`pool_json` over the defaults) as a JSON object into `w`. */
void cp_bounds_write(cm_jw_t *w, const char *pool_json);

#endif
