/*
 * streamd-control-plane: applies the schema migrations, then serves the operator API and
 * runs the reconcilers until SIGTERM or SIGINT. The database may be away at start or at
 * any time: the daemon keeps running, answers 503 meanwhile, and reconnects by itself.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cm_log.h"
#include "cm_time.h"
#include "cp.h"

static cp_t cp_main__cp;
static h2o_timeout_t cp_main__timeout;
static h2o_timeout_entry_t cp_main__tick;

static void cp_main__on_tick(h2o_timeout_entry_t *e)
{
    cp_t *cp = &cp_main__cp;
    if (cp->stopping)
        return;
    cp_reconcile(cp);
    h2o_timeout_link(cp->loop, &cp_main__timeout, e);
}

static void cp_main__on_signal(h2o_socket_t *sock, const char *err)
{
    /* h2o has already read the signalfd into the socket's input buffer. */
    if (err != NULL || sock->input->size < sizeof(struct signalfd_siginfo))
        return;
    struct signalfd_siginfo si; /* copied out: h2o's buffer gives no alignment */
    memcpy(&si, sock->input->bytes, sizeof(si));
    cm_log_info("shutting down", "signal=%s", strsignal((int)si.ssi_signo));
    h2o_buffer_consume(&sock->input, sock->input->size);
    cp_main__cp.stopping = true;
}

static int cp_main__migrate_only(cp_t *cp)
{
    /* A deploy step: wait for the database for up to the connect timeout, then migrate. */
    int64_t until = cm_mono_ms() + cp->cfg.db_timeout_ms;
    while (!cm_pg_ensure(&cp->pg) && cm_mono_ms() < until)
        usleep(200 * 1000);
    if (cp->pg.conn == NULL) {
        cm_log_error("cannot reach the database", "err=\"%s\"", cp->pg.err);
        return 1;
    }
    return cp_migrate(&cp->pg, (int)cp->cfg.migrate_to) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    cp_t *cp = &cp_main__cp;
    int rc = cp_config_load(&cp->cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int level = cm_log_level_parse(cp->cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "streamd-control-plane: log_level must be debug, info, warn or error\n");
        return 2;
    }
    cm_log_init("control-plane", (cm_log_level_t)level);
    signal(SIGPIPE, SIG_IGN);
    cm_pg_init(&cp->pg, cp->cfg.database_url, "streamd-control-plane", cp->cfg.db_timeout_ms);
    cp->pg.retry_ms = 500;
    if (cp->cfg.migrate_to != 0 && !cp->cfg.migrate_only) {
        /* A daemon on an older schema than it was built for would fail at the first
         * statement that needs a newer one. */
        fprintf(stderr, "streamd-control-plane: migrate_to is for --migrate_only deploy steps; "
                        "the daemon always runs the newest schema\n");
        cp_config_free(&cp->cfg);
        return 2;
    }
    if (cp->cfg.migrate_only) {
        rc = cp_main__migrate_only(cp);
        cm_pg_free(&cp->pg);
        cp_config_free(&cp->cfg);
        return rc;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    cp->loop = h2o_evloop_create();
    h2o_socket_t *sig = h2o_evloop_socket_create(cp->loop, sfd, 0);
    h2o_socket_read_start(sig, cp_main__on_signal);

    char err[256];
    cp->http = cm_http_server_start(cp->loop, cp->cfg.listen, (size_t)cp->cfg.body_bytes_max,
                                    cp_api_handle, cp, err, sizeof(err));
    if (cp->http == NULL) {
        cm_log_error("cannot listen", "listen=%s err=\"%s\"", cp->cfg.listen, err);
        return 1;
    }
    cp_reconcile(cp); /* connects and migrates when the database is there */
    if (!cp->migrated)
        cm_log_warn("database not ready yet; retrying in the background", "err=\"%s\"", cp->pg.err);
    h2o_timeout_init(cp->loop, &cp_main__timeout, (uint64_t)cp->cfg.reconcile_ms);
    cp_main__tick.cb = cp_main__on_tick;
    h2o_timeout_link(cp->loop, &cp_main__timeout, &cp_main__tick);
    cm_log_info("control plane ready", "listen=%s port=%d migrated=%d", cp->cfg.listen,
                cm_http_server_port(cp->http), cp->migrated);
    printf("streamd-control-plane ready: operator API on http://%s\n", cp->cfg.listen);
    fflush(stdout);

    while (!cp->stopping && h2o_evloop_run(cp->loop, INT32_MAX) == 0)
        ;
    cm_http_server_stop(cp->http);
    if (h2o_timeout_is_linked(&cp_main__tick))
        h2o_timeout_unlink(&cp_main__tick);
    h2o_socket_read_stop(sig);
    h2o_socket_close(sig);
    /* Let h2o finish closing sockets before the context goes. */
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(cp->loop, 10);
    bool freed = cm_http_server_free(cp->http);
    h2o_timeout_dispose(cp->loop, &cp_main__timeout);
    if (freed) /* else sockets of connections left open are still in it: the exit frees */
        h2o_evloop_destroy(cp->loop);
    cm_pg_free(&cp->pg);
    cm_log_info("control plane stopped cleanly", "listen=%s", cp->cfg.listen);
    cp_config_free(&cp->cfg);
    return 0;
}
