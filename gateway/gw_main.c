/*
 * streamd-gateway: binds its listeners once, starts the metadata and admin threads and one
 * event-loop worker per core, and serves until SIGTERM or SIGINT. Postgres and the control
 * plane may be away at start or at any time: the gateway answers 503 until it has its
 * first snapshot, then serves from the last one it read.
 */
#include <malloc.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_httpc.h"
#include "cm_log.h"
#include "cm_net.h"
#include "cm_time.h"
#include "gw_admin.h"
#include "gw_grpc.h"
#include "gw_kafka.h"
#include "gw_meta.h"
#include "gw_rest.h"
#include "gw_session.h"

static gw_t gw_main__gw;
static atomic_bool gw_main__exit; /* workers leave their loops */
/* One listening socket per worker and listener (SO_REUSEPORT: the kernel spreads the
 * connections); -1 when there is no TLS listener. */
static int gw_main__fd_plain[GW_THREADS_MAX], gw_main__fd_tls[GW_THREADS_MAX];
static int gw_main__fd_admin = -1;

static SSL_CTX *gw_main__ssl(const gw_config_t *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char err[256];
        ERR_error_string_n(ERR_get_error(), err, sizeof(err));
        cm_log_error("cannot load the TLS certificate", "cert=%s key=%s err=\"%s\"", cfg->tls_cert,
                     cfg->tls_key, err);
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

static void *gw_main__worker(void *arg)
{
    gw_worker_t *w = arg;
    gw_t *gw = w->gw;
    h2o_timeout_init(w->loop, &w->poll_timeout, 10);
    h2o_timeout_init(w->loop, &w->grpc_hold_timeout, 1000);
    cm_strmap_init(&w->verified);
    w->kpool = gw_kpool_new(w);
    w->http = cm_http_server_new(w->loop, (size_t)gw->cfg.body_bytes_max, gw_rest_handle, w);
    /* A request of body_bytes_max (and h2o's slack, for our own 413) fits one connection's
     * share; the total bounds many such connections at once. */
    cm_http_server_preauth(w->http, &gw->metrics.preauth_bytes, gw->cfg.preauth_bytes_max,
                           2 * gw->cfg.body_bytes_max + 65536, &gw->metrics.preauth_paused);
    int i = (int)(w - gw->workers);
    cm_http_server_listen_fd(w->http, gw_main__fd_plain[i], NULL);
    if (gw->ssl != NULL)
        cm_http_server_listen_fd(w->http, gw_main__fd_tls[i], gw->ssl);
    if (i == 0 && gw_main__fd_admin >= 0) {
        w->admin_http = cm_http_server_new(w->loop, 1024, gw_rest_admin_handle, w);
        cm_http_server_listen_fd(w->admin_http, gw_main__fd_admin, NULL);
    }
    gw_consumers_start(w);
    while (!atomic_load(&gw_main__exit)) {
        h2o_evloop_run(w->loop, INT32_MAX);
        gw_kpool_flush(w->kpool);
    }
    cm_http_server_stop(w->http);
    if (w->admin_http != NULL)
        cm_http_server_stop(w->admin_http);
    gw_kpool_free(w->kpool); /* calls in progress end (their requests get 503) */
    w->kpool = NULL;
    gw_consumers_stop(w); /* their queued calls are answered 503 */
    /* Let answers go out and timers waiting on snapshots end. */
    int64_t until = cm_mono_ms() + 200;
    while (cm_mono_ms() < until)
        h2o_evloop_run(w->loop, 10);
    /* Every worker has drained its answers to the others before any queue goes. */
    pthread_barrier_wait(&gw->workers_done);
    h2o_multithread_unregister_receiver(w->queue, &w->cons_jobs);
    h2o_multithread_unregister_receiver(w->queue, &w->cons_done);
    h2o_multithread_unregister_receiver(w->queue, &w->admin_done);
    h2o_multithread_unregister_receiver(w->queue, &w->grpc_calls);
    h2o_multithread_unregister_receiver(w->queue, &w->grpc_ops);
    h2o_multithread_destroy_queue(w->queue);
    bool freed = cm_http_server_free(w->http);
    if (!cm_http_server_free(w->admin_http))
        freed = false;
    h2o_timeout_dispose(w->loop, &w->poll_timeout);
    h2o_timeout_dispose(w->loop, &w->grpc_hold_timeout); /* gw_grpc_stop answered the held */
    if (freed) /* else sockets of connections left open are still in it: the exit frees */
        h2o_evloop_destroy(w->loop);
    gw_snap_release(w->snap);
    gw_session_cache_free(w);
    return NULL;
}

static bool gw_main__listen(const char *addr, const char *what, int n, int *fds)
{
    char err[256];
    if (cm_net_listen_group(addr, 1024, n, fds, err, sizeof(err)) == 0)
        return true;
    cm_log_error("cannot listen", "what=%s listen=%s err=\"%s\"", what, addr, err);
    return false;
}

int main(int argc, char **argv)
{
    gw_t *gw = &gw_main__gw;
    if (argc == 2 && strcmp(argv[1], "--routes") == 0) {
        gw_rest_routes_print(stdout); /* for tests and docs: the REST routes served */
        return 0;
    }
    int rc = gw_config_load(&gw->cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int level = cm_log_level_parse(gw->cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "streamd-gateway: log_level must be debug, info, warn or error\n");
        gw_config_free(&gw->cfg);
        return 2;
    }
    cm_log_init("gateway", (cm_log_level_t)level);
    /* h2o grows a request body's buffer by doubling and copying. With glibc's adaptive
     * threshold those large blocks soon come from the heap and stay resident after they are
     * freed; a fixed threshold keeps every block of 256 KiB or more in its own mapping, so
     * memory given back by a closed connection leaves the process and RSS follows what is
     * held (what preauth_bytes_max bounds). */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (gw->cfg.control_plane_token[0] == '\0')
        cm_log_warn("no control_plane_token: topic changes will fail",
                    "hint=\"set GATEWAY_CONTROL_PLANE_TOKEN to an operator token\"");
    if (gw->cfg.tls_listen[0] != '\0' && (gw->ssl = gw_main__ssl(&gw->cfg)) == NULL)
        return 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    gw->n_workers = gw->cfg.threads > 0 ? (int)gw->cfg.threads : (int)(cores > 0 ? cores : 1);
    if (gw->n_workers > GW_THREADS_MAX)
        gw->n_workers = GW_THREADS_MAX;
    if (!gw_main__listen(gw->cfg.listen, "http", gw->n_workers, gw_main__fd_plain) ||
        (gw->ssl != NULL &&
         !gw_main__listen(gw->cfg.tls_listen, "https", gw->n_workers, gw_main__fd_tls)) ||
        (gw->cfg.admin_listen[0] != '\0' &&
         !gw_main__listen(gw->cfg.admin_listen, "admin", 1, &gw_main__fd_admin)))
        return 1;

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);

    gw->auth_failures =
        cm_limiter_new((size_t)gw->cfg.auth_fail_sources_max, (double)gw->cfg.auth_fail_rate,
                       (double)gw->cfg.auth_fail_burst);
    gw->meta = gw_meta_start(gw);
    gw->admin = gw_admin_start(gw);
    pthread_barrier_init(&gw->workers_done, NULL, (unsigned)gw->n_workers);
    for (int i = 0; i < gw->n_workers; i++) {
        gw_worker_t *w = &gw->workers[i];
        w->gw = gw;
        w->loop = h2o_evloop_create();
        w->queue = h2o_multithread_create_queue(w->loop);
        h2o_multithread_register_receiver(w->queue, &w->admin_done, gw_admin_on_answers);
        h2o_multithread_register_receiver(w->queue, &w->cons_jobs, gw_consumers_on_jobs);
        h2o_multithread_register_receiver(w->queue, &w->cons_done, gw_consumers_on_done);
        h2o_multithread_register_receiver(w->queue, &w->grpc_calls, gw_grpc_on_calls);
        h2o_multithread_register_receiver(w->queue, &w->grpc_ops, gw_grpc_on_ops);
        if (pthread_create(&w->thread, NULL, gw_main__worker, w) != 0)
            abort();
    }
    gw_grpc_t *grpc = gw_grpc_start(gw);
    bool want_grpc = gw->cfg.grpc_listen[0] != '\0' || gw->cfg.grpc_tls_listen[0] != '\0';
    if (want_grpc && grpc == NULL) {
        kill(getpid(), SIGTERM); /* shut down what started, through the normal path */
    } else {
        cm_log_info("gateway ready",
                    "listen=%s tls_listen=%s grpc_listen=%s grpc_tls_listen=%s threads=%d",
                    gw->cfg.listen, gw->ssl != NULL ? gw->cfg.tls_listen : "-",
                    gw->cfg.grpc_listen[0] ? gw->cfg.grpc_listen : "-",
                    gw->cfg.grpc_tls_listen[0] ? gw->cfg.grpc_tls_listen : "-", gw->n_workers);
        printf("streamd-gateway ready: REST on http://%s%s%s, gRPC on %s%s%s\n", gw->cfg.listen,
               gw->ssl != NULL ? " and https://" : "", gw->ssl != NULL ? gw->cfg.tls_listen : "",
               gw->cfg.grpc_listen[0] ? gw->cfg.grpc_listen : "-",
               gw->cfg.grpc_tls_listen[0] ? " and TLS " : "", gw->cfg.grpc_tls_listen);
    }
    fflush(stdout);

    int sig = 0;
    sigwait(&mask, &sig);
    cm_log_info("shutting down", "signal=%s", strsignal(sig));
    atomic_store(&gw->stopping, true);
    gw_admin_stop(gw->admin); /* answers what is queued; workers still run */
    gw_grpc_stop(grpc);       /* no new calls; those in progress end on the workers */
    atomic_store(&gw_main__exit, true);
    for (int i = 0; i < gw->n_workers; i++) {
        /* Wakes the loop; gw_admin_on_answers sees an empty message list. */
        h2o_multithread_send_message(&gw->workers[i].admin_done, NULL);
    }
    for (int i = 0; i < gw->n_workers; i++)
        pthread_join(gw->workers[i].thread, NULL);
    pthread_barrier_destroy(&gw->workers_done);
    gw_meta_stop(gw->meta);
    cm_limiter_free(gw->auth_failures);
    SSL_CTX_free(gw->ssl);
    curl_global_cleanup();
    int exit_code = want_grpc && grpc == NULL ? 1 : 0;
    if (exit_code == 0)
        cm_log_info("gateway stopped cleanly", "listen=%s", gw->cfg.listen);
    gw_config_free(&gw->cfg);
    return exit_code;
}
