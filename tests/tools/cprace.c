/*
 * cprace: races cp_partition_cas_leader against itself, to show that exactly one of any
 * number of concurrent leader changes at the same epoch wins.
 *
 *   cprace DATABASE_URL TOPIC_ID PARTITION ROUNDS [CONTENDERS]
 *
 * CONTENDERS threads (default 2), each with its own connection, meet at a barrier every
 * round and call the compare-and-set at once with the same expected epoch (read by the
 * main thread before the round) and different target leaders taken in turn from the
 * partition's in-sync replicas. Exits 0 when every round had exactly one winner, the winner
 * saw the epoch go up by one, the row holds the winner's leader, and the final epoch is the
 * starting one plus ROUNDS; otherwise prints the round and what went wrong and exits 1.
 * Exit 2: bad arguments or no database.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_pg.h"
#include "cp_place.h"

#define CPRACE_CONTENDERS_MAX 64
#define CPRACE_TIMEOUT_MS     10000

typedef struct cprace_contender {
    pthread_t thread;
    cm_pg_t pg;
    int32_t target; /* the leader this contender asks for */
    int rc;         /* this round: cp_partition_cas_leader's answer */
    int32_t new_epoch;
    char err[256];
    long wins;
} cprace_contender_t;

static struct {
    const char *topic_id;
    int32_t partition;
    long rounds;
    int32_t expected; /* this round's epoch, written by the main thread before the barrier */
    pthread_barrier_t start, done;
} cprace;

static void *cprace__contend(void *arg)
{
    cprace_contender_t *c = arg;
    for (long round = 0; round < cprace.rounds; round++) {
        pthread_barrier_wait(&cprace.start);
        c->new_epoch = -1;
        c->rc = cp_partition_cas_leader(&c->pg, cprace.topic_id, cprace.partition, c->target,
                                        cprace.expected, false, &c->new_epoch);
        if (c->rc < 0)
            snprintf(c->err, sizeof(c->err), "%s", c->pg.err);
        pthread_barrier_wait(&cprace.done);
    }
    return NULL;
}

/* The partition's leader and epoch, read on the main thread's connection. */
static void cprace__read(cm_pg_t *pg, int32_t *leader, int32_t *epoch, char *isr, size_t cap)
{
    char part[16];
    snprintf(part, sizeof(part), "%d", cprace.partition);
    const char *p[] = { cprace.topic_id, part };
    PGresult *r = cm_pg_exec(pg,
                             "SELECT leader, leader_epoch, array_to_string(isr, ',')"
                             " FROM partitions WHERE topic_id = $1 AND partition = $2::int",
                             2, p);
    if (!cm_pg_ok(r) || PQntuples(r) != 1) {
        fprintf(stderr, "cprace: cannot read partition %d of topic %s: %s\n", cprace.partition,
                cprace.topic_id, cm_pg_ok(r) ? "no such partition" : pg->err);
        exit(2);
    }
    *leader = atoi(PQgetvalue(r, 0, 0));
    *epoch = atoi(PQgetvalue(r, 0, 1));
    if (isr != NULL)
        snprintf(isr, cap, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
}

static void cprace__connect(cm_pg_t *pg, const char *url, const char *name)
{
    cm_pg_init(pg, url, name, CPRACE_TIMEOUT_MS);
    if (!cm_pg_ensure(pg)) {
        fprintf(stderr, "cprace: cannot connect: %s\n", pg->err);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: cprace DATABASE_URL TOPIC_ID PARTITION ROUNDS [CONTENDERS]\n");
        return 2;
    }
    const char *url = argv[1];
    cprace.topic_id = argv[2];
    cprace.partition = (int32_t)atoi(argv[3]);
    cprace.rounds = atol(argv[4]);
    int n = argc == 6 ? atoi(argv[5]) : 2;
    if (cprace.rounds < 1 || n < 2 || n > CPRACE_CONTENDERS_MAX) {
        fprintf(stderr, "cprace: ROUNDS must be >= 1 and CONTENDERS in [2, %d]\n",
                CPRACE_CONTENDERS_MAX);
        return 2;
    }

    cm_pg_t pg;
    cprace__connect(&pg, url, "cprace-main");
    int32_t leader, epoch;
    char isr_text[512];
    cprace__read(&pg, &leader, &epoch, isr_text, sizeof(isr_text));
    int32_t isr[CPRACE_CONTENDERS_MAX];
    int n_isr = 0;
    for (char *s = isr_text; *s != '\0' && n_isr < CPRACE_CONTENDERS_MAX;) {
        isr[n_isr++] = (int32_t)strtol(s, &s, 10);
        if (*s == ',')
            s++;
    }
    if (n_isr == 0) {
        fprintf(stderr, "cprace: the partition's ISR is empty; nothing can win\n");
        return 2;
    }
    const int32_t start_epoch = epoch;

    static cprace_contender_t c[CPRACE_CONTENDERS_MAX];
    pthread_barrier_init(&cprace.start, NULL, (unsigned)n + 1);
    pthread_barrier_init(&cprace.done, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cprace-%d", i);
        cprace__connect(&c[i].pg, url, name);
        c[i].target = isr[i % n_isr];
        if (pthread_create(&c[i].thread, NULL, cprace__contend, &c[i]) != 0) {
            fprintf(stderr, "cprace: cannot start a thread\n");
            return 2;
        }
    }

    for (long round = 0; round < cprace.rounds; round++) {
        cprace__read(&pg, &leader, &epoch, NULL, 0);
        cprace.expected = epoch;
        pthread_barrier_wait(&cprace.start);
        pthread_barrier_wait(&cprace.done);
        int winners = 0, winner = -1;
        for (int i = 0; i < n; i++) {
            if (c[i].rc < 0) {
                fprintf(stderr, "cprace: round %ld: contender %d: database error: %s\n", round, i,
                        c[i].err);
                return 1;
            }
            if (c[i].rc == 1) {
                winners++;
                winner = i;
            }
        }
        if (winners != 1) {
            fprintf(stderr, "cprace: round %ld: %d contenders won at epoch %d (want exactly 1)\n",
                    round, winners, epoch);
            return 1;
        }
        c[winner].wins++;
        int32_t now_leader, now_epoch;
        cprace__read(&pg, &now_leader, &now_epoch, NULL, 0);
        if (c[winner].new_epoch != epoch + 1 || now_epoch != epoch + 1 ||
            now_leader != c[winner].target) {
            fprintf(stderr,
                    "cprace: round %ld: contender %d won epoch %d -> %d for leader %d, but the "
                    "row holds leader %d at epoch %d\n",
                    round, winner, epoch, c[winner].new_epoch, c[winner].target, now_leader,
                    now_epoch);
            return 1;
        }
    }

    for (int i = 0; i < n; i++) {
        pthread_join(c[i].thread, NULL);
        cm_pg_free(&c[i].pg);
    }
    cprace__read(&pg, &leader, &epoch, NULL, 0);
    cm_pg_free(&pg);
    if (epoch != start_epoch + cprace.rounds) {
        fprintf(stderr, "cprace: the epoch went from %d to %d in %ld rounds\n", start_epoch, epoch,
                cprace.rounds);
        return 1;
    }
    printf("cprace: %ld rounds, %d contenders: one winner every round; epoch %d -> %d; wins:",
           cprace.rounds, n, start_epoch, epoch);
    for (int i = 0; i < n; i++)
        printf(" %ld", c[i].wins);
    printf("\n");
    return 0;
}
