/*
 * Daemon configuration from one defaults table.
 *
 * Each daemon describes its options once (name, type, default, bounds, help, where the
 * value goes). Values are applied in this order, later ones winning:
 *   1. the table's defaults;
 *   2. the config file given by --config=PATH or the PREFIX_CONFIG environment variable
 *      (`name = value` lines, `#` comments);
 *   3. environment variables PREFIX_NAME (upper case, e.g. BROKER_LISTEN);
 *   4. command-line flags --name=value or --name value (`--name` alone sets a bool).
 * `--help` prints every option with its default and environment variable.
 */
#ifndef CM_CONFIG_H
#define CM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cm_opt_type {
    CM_OPT_STR,  /* char * (malloc'd; freed by cm_config_free) */
    CM_OPT_INT,  /* int64_t, within [min, max] */
    CM_OPT_BOOL, /* bool: true/false, yes/no, on/off, 1/0 */
} cm_opt_type_t;

typedef struct cm_opt {
    const char *name;
    cm_opt_type_t type;
    const char *def;
    int64_t min;
    int64_t max;
    size_t offset; /* offsetof() the field in the daemon's config struct */
    const char *help;
} cm_opt_t;

typedef struct cm_config_spec {
    const char *program;    /* shown in --help */
    const char *summary;    /* one line: what the program is */
    const char *env_prefix; /* e.g. "BROKER_" */
    const cm_opt_t *opts;
    size_t n_opts;
} cm_config_spec_t;

/**
 * Fills `cfg` from defaults, file, environment and flags. Returns 0; 1 when --help was
 * printed (the caller exits 0); -1 after printing what is wrong to stderr.
 */
int cm_config_load(const cm_config_spec_t *spec, void *cfg, int argc, char **argv);

/** Frees the strings cm_config_load allocated in `cfg`. */
void cm_config_free(const cm_config_spec_t *spec, void *cfg);

/** Prints the options table. */
void cm_config_help(const cm_config_spec_t *spec, FILE *out);

#endif
