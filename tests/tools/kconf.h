/*
 * $KCAT_CONFIG for the test tools: the property=value lines of the file kcat reads too, so
 * that kcat, kclient, kadmin and kprobe reach a broker with internal_auth=scram (every
 * managed broker by default) with the same credential. '#' starts a comment. Unset or
 * empty: nothing.
 */
#ifndef KCONF_H
#define KCONF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*kconf_each_fn)(const char *key, const char *value, void *ud);

/* Calls `each` for every property of $KCAT_CONFIG; exits 2 when the file cannot be read. */
static inline void kconf_each(const char *tool, kconf_each_fn each, void *ud)
{
    const char *path = getenv("KCAT_CONFIG");
    if (path == NULL || path[0] == '\0')
        return;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot read KCAT_CONFIG %s\n", tool, path);
        exit(2);
    }
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL)
            continue;
        *eq = '\0';
        each(line, eq + 1, ud);
    }
    fclose(f);
}

#endif
