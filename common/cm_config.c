#include "cm_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cm_err.h"
#include "cm_fs.h"

#define CM_CONFIG__FILE_MAX (1 << 20)

static const cm_opt_t *cm_config__find(const cm_config_spec_t *spec, const char *name, size_t len)
{
    for (size_t i = 0; i < spec->n_opts; i++) {
        const char *o = spec->opts[i].name;
        if (strlen(o) != len)
            continue;
        /* '-', '.' and '_' are interchangeable so that kafka-style names also work. */
        size_t k = 0;
        for (; k < len; k++) {
            char a = o[k], b = name[k];
            if (b == '-' || b == '.')
                b = '_';
            if (a != b)
                break;
        }
        if (k == len)
            return &spec->opts[i];
    }
    return NULL;
}

static int cm_config__set(const cm_opt_t *o, void *cfg, const char *value, const char *from)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case CM_OPT_STR: {
        char **s = (char **)field;
        free(*s);
        *s = strdup(value);
        return 0;
    }
    case CM_OPT_INT: {
        errno = 0;
        char *end;
        long long v = strtoll(value, &end, 0);
        if (errno != 0 || end == value || *end != '\0' || v < o->min || v > o->max) {
            fprintf(stderr, "%s: %s=%s is not an integer in [%lld, %lld]\n", from, o->name, value,
                    (long long)o->min, (long long)o->max);
            return -1;
        }
        *(int64_t *)field = v;
        return 0;
    }
    case CM_OPT_BOOL: {
        static const char *yes[] = { "1", "true", "yes", "on" },
                          *no[] = { "0", "false", "no", "off" };
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(value, yes[i]) == 0) {
                *(bool *)field = true;
                return 0;
            }
            if (strcasecmp(value, no[i]) == 0) {
                *(bool *)field = false;
                return 0;
            }
        }
        fprintf(stderr, "%s: %s=%s is not a boolean (true/false)\n", from, o->name, value);
        return -1;
    }
    }
    return -1;
}

static char *cm_config__trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int cm_config__file(const cm_config_spec_t *spec, void *cfg, const char *path)
{
    char *text;
    size_t len;
    int rc = cm_fs_read_file(path, CM_CONFIG__FILE_MAX, &text, &len);
    if (rc != CM_OK) {
        fprintf(stderr, "config file %s: cannot read it (%s)\n", path,
                rc == CM_ELIMIT ? "larger than 1 MiB" : strerror(errno));
        return -1;
    }
    int lineno = 0, bad = 0;
    for (char *line = text, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = cm_config__trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        char where[512];
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (eq == NULL) {
            fprintf(stderr, "%s: expected `name = value`\n", where);
            bad = 1;
            continue;
        }
        *eq = '\0';
        char *key = cm_config__trim(s), *val = cm_config__trim(eq + 1);
        const cm_opt_t *o = cm_config__find(spec, key, strlen(key));
        if (o == NULL) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", where, key);
            bad = 1;
            continue;
        }
        if (cm_config__set(o, cfg, val, where) != 0)
            bad = 1;
    }
    free(text);
    return bad ? -1 : 0;
}

static void cm_config__env_name(const cm_config_spec_t *spec, const char *name, char *out,
                                size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", spec->env_prefix);
    for (const char *p = name; *p && n + 1 < cap; p++)
        out[n++] = (char)toupper((unsigned char)*p);
    out[n < cap ? n : cap - 1] = '\0';
}

int cm_config_load(const cm_config_spec_t *spec, void *cfg, int argc, char **argv)
{
    for (size_t i = 0; i < spec->n_opts; i++)
        if (cm_config__set(&spec->opts[i], cfg, spec->opts[i].def, "default") != 0)
            return -1;

    /* The config file comes first so that environment and flags override it. */
    const char *file = NULL;
    char env[256];
    cm_config__env_name(spec, "config", env, sizeof(env));
    file = getenv(env);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cm_config_help(spec, stdout);
            return 1;
        }
        if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[++i];
    }
    if (file != NULL && cm_config__file(spec, cfg, file) != 0)
        return -1;

    for (size_t i = 0; i < spec->n_opts; i++) {
        cm_config__env_name(spec, spec->opts[i].name, env, sizeof(env));
        const char *v = getenv(env);
        if (v != NULL && cm_config__set(&spec->opts[i], cfg, v, env) != 0)
            return -1;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", spec->program, a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len == 6 && strncmp(a, "config", 6) == 0) {
            if (eq == NULL)
                i++;
            continue;
        }
        const cm_opt_t *o = cm_config__find(spec, a, len);
        if (o == NULL) {
            fprintf(stderr, "%s: unknown option '--%.*s' (see --help)\n", spec->program, (int)len,
                    a);
            return -1;
        }
        const char *v;
        if (eq != NULL)
            v = eq + 1;
        else if (o->type == CM_OPT_BOOL)
            v = "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            fprintf(stderr, "%s: option '--%s' needs a value\n", spec->program, o->name);
            return -1;
        }
        if (cm_config__set(o, cfg, v, "flag") != 0)
            return -1;
    }
    return 0;
}

void cm_config_free(const cm_config_spec_t *spec, void *cfg)
{
    for (size_t i = 0; i < spec->n_opts; i++) {
        if (spec->opts[i].type != CM_OPT_STR)
            continue;
        char **s = (char **)((char *)cfg + spec->opts[i].offset);
        free(*s);
        *s = NULL;
    }
}

void cm_config_help(const cm_config_spec_t *spec, FILE *out)
{
    char env[256];
    fprintf(out, "%s: %s\n\nusage: %s [--config=FILE] [--option=value ...]\n\n", spec->program,
            spec->summary, spec->program);
    fprintf(out, "Options (flag, environment variable, default):\n");
    for (size_t i = 0; i < spec->n_opts; i++) {
        const cm_opt_t *o = &spec->opts[i];
        cm_config__env_name(spec, o->name, env, sizeof(env));
        fprintf(out, "  --%-28s %-36s default: %s\n      %s\n", o->name, env,
                o->def[0] ? o->def : "\"\"", o->help);
    }
    cm_config__env_name(spec, "config", env, sizeof(env));
    fprintf(out,
            "\nA config file (--config or %s) holds `name = value` lines; environment\n"
            "variables override it and flags override both.\n",
            env);
}
