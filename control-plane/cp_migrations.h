/* The schema migrations compiled into the control plane (generated from migrations/). */
#ifndef CP_MIGRATIONS_H
#define CP_MIGRATIONS_H

typedef struct cp_migration {
    int version;
    const char *name; /* "0001_init" */
    const char *sql;
} cp_migration_t;

/** Every migration, in ascending version order. */
extern const cp_migration_t cp_migrations[];
extern const int cp_migrations_n;

#endif
