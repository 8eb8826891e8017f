/*
 * streamd-broker: loads its configuration, takes the data directory's lock, recovers every
 * partition, then serves the Kafka protocol until SIGTERM or SIGINT, when it stops
 * accepting, answers what is queued (acks included), fsyncs, and exits 0.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bk_broker.h"
#include "bk_cluster.h"
#include "bk_cplane.h"
#include "bk_forward.h"
#include "bk_flusher.h"
#include "bk_loop.h"
#include "bk_replica.h"
#include "bk_sasl.h"
#include "bk_server.h"
#include "bk_topic.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_log.h"
#include "cm_net.h"
#include "cm_time.h"

#define BK_MAIN__SHUTDOWN_GRACE_MS 5000

static bk_server_t *bk_main__server;
static bk_broker_t *bk_main__broker;

static void bk_main__on_signal(bk_io_t *io, uint32_t events)
{
    struct signalfd_siginfo si;
    if (read(io->fd, &si, sizeof(si)) != sizeof(si))
        return;
    cm_log_info("shutting down", "signal=%s", strsignal((int)si.ssi_signo));
    if (bk_main__server != NULL)
        bk_server_shutdown(bk_main__server, BK_MAIN__SHUTDOWN_GRACE_MS);
    else
        bk_loop_stop(bk_main__broker->loop);
    (void)events;
}

/* Reads or creates <data_dir>/meta.properties, which holds the cluster id. */
static int bk_main__meta(bk_broker_t *b)
{
    char path[4096], *text;
    size_t len;
    snprintf(path, sizeof(path), "%s/meta.properties", b->cfg.data_dir);
    if (cm_fs_read_file(path, 4096, &text, &len) == CM_OK) {
        char *p = strstr(text, "cluster.id=");
        if (p != NULL && sscanf(p + 11, "%63[A-Za-z0-9_-]", b->cluster_id) == 1) {
            free(text);
            return CM_OK;
        }
        free(text);
        cm_log_error("meta.properties has no cluster.id; refusing to guess", "path=%s", path);
        return CM_ECORRUPT;
    }
    /* A new data directory: a random 22-character id, like Kafka's base64 UUIDs. */
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t rnd[22];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return CM_EIO;
    for (int i = 0; i < 22; i++)
        b->cluster_id[i] = abc[rnd[i] & 63];
    b->cluster_id[22] = '\0';
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "# streamd broker metadata\ncluster.id=%s\nnode.id=%" PRId64 "\n",
                     b->cluster_id, b->cfg.node_id);
    return cm_fs_write_atomic(path, body, (size_t)n);
}

/* One broker per data directory: a second one would corrupt the logs. */
static int bk_main__lock(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        cm_log_error("the data directory is in use by another broker", "dir=%s", dir);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void bk_main__raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int bk_main__advertise(bk_broker_t *b)
{
    char host[256], err[256];
    int port;
    if (cm_net_split(b->cfg.listen, host, sizeof(host), &port, err, sizeof(err)) != 0) {
        fprintf(stderr, "streamd-broker: listen: %s\n", err);
        return -1;
    }
    const char *adv = b->cfg.advertised_host[0] ? b->cfg.advertised_host : host;
    if (adv[0] == '\0' || strcmp(adv, "0.0.0.0") == 0 || strcmp(adv, "::") == 0)
        adv = "127.0.0.1";
    snprintf(b->adv_host, sizeof(b->adv_host), "%s", adv);
    b->adv_port = (int)b->cfg.advertised_port;
    return 0;
}

int main(int argc, char **argv)
{
    static bk_broker_t broker;
    bk_broker_t *b = &broker;
    bk_main__broker = b;
    atomic_init(&b->broker_epoch, -1);
    int rc = bk_config_load(&b->cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int level = cm_log_level_parse(b->cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "streamd-broker: log_level must be debug, info, warn or error\n");
        return 2;
    }
    cm_log_init("broker", (cm_log_level_t)level);
    if (bk_main__advertise(b) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "streamd-broker: cannot initialise libcurl\n");
        return 1;
    }
    bk_main__raise_fd_limit();

    int exit_code = 1, lock_fd = -1;
    cm_strmap_init(&b->topics);
    cm_strmap_init(&b->topics_by_id);
    if (asprintf(&b->topics_dir, "%s/topics", b->cfg.data_dir) < 0 ||
        asprintf(&b->deleted_dir, "%s/deleted", b->cfg.data_dir) < 0)
        abort();
    if (cm_fs_mkdirs(b->cfg.data_dir) != CM_OK) {
        cm_log_error("cannot create the data directory", "dir=%s errno=%s", b->cfg.data_dir,
                     strerror(errno));
        goto out_config;
    }
    if ((lock_fd = bk_main__lock(b->cfg.data_dir)) < 0 || bk_main__meta(b) != CM_OK ||
        !bk_sasl_init(b))
        goto out_config;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    bk_io_t sig_io = { .fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC),
                       .cb = bk_main__on_signal };
    b->loop = bk_loop_new();
    if (b->loop == NULL || sig_io.fd < 0 || bk_loop_add(b->loop, &sig_io, EPOLLIN) != 0)
        goto out_config;
    b->flusher = bk_flusher_start(b);
    bk_partition_fdcache_init(&b->fdcache, b->cfg.open_segments_max);

    int64_t t0 = cm_mono_ms();
    if (bk_topics_load(b) != CM_OK)
        goto out_flusher;
    cm_log_info("recovery finished", "topics=%zu partitions=%" PRId64 " ms=%" PRId64,
                b->topics.size, b->n_partitions, cm_mono_ms() - t0);

    bk_main__server = bk_server_start(b);
    if (bk_main__server == NULL)
        goto out_topics;
    if (b->adv_port == 0)
        b->adv_port = bk_server_port(bk_main__server);
    if (b->cfg.database_url[0] != '\0') {
        b->cplane = bk_cplane_start(b);
        b->fwd = bk_fwd_start(b);
    }
    if (b->cplane == NULL)
        bk_server_ready(b); /* managed: once the first snapshot is applied (bk_cplane.c) */

    exit_code = bk_loop_run(b->loop) == 0 ? 0 : 1;
    bk_replica_stop(b);
    bk_fwd_stop(b->fwd); /* first: its thread asks the control-plane thread for snapshots */
    b->fwd = NULL;
    bk_cplane_stop(b->cplane);
    b->cplane = NULL;
    bk_server_free(bk_main__server);
    bk_main__server = NULL;
out_topics:
    /* Every queued sync completes before the partitions close. */
    bk_flusher_stop(b->flusher);
    b->flusher = NULL;
    bk_topics_close(b);
    bk_cluster_free(b->cluster);
    b->cluster = NULL;
out_flusher:
    if (b->flusher)
        bk_flusher_stop(b->flusher);
    bk_loop_free(b->loop);
    close(sig_io.fd);
out_config:
    bk_sasl_free(b);
    cm_strmap_free(&b->topics);
    cm_strmap_free(&b->topics_by_id);
    free(b->topics_dir);
    free(b->deleted_dir);
    if (lock_fd >= 0)
        close(lock_fd);
    if (exit_code == 0)
        cm_log_info("broker stopped cleanly", "node_id=%" PRId64, b->cfg.node_id);
    bk_config_free(&b->cfg);
    curl_global_cleanup();
    return exit_code;
}
