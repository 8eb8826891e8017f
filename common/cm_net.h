/* Socket helpers: "host:port" parsing and non-blocking listeners. */
#ifndef CM_NET_H
#define CM_NET_H

#include <stddef.h>

/**
 * Splits "host:port" (or "[v6]:port") into its parts. Returns 0, or -1 with a reason in
 * `err` when the text is not an address with a port in 1..65535.
 */
int cm_net_split(const char *hostport, char *host, size_t host_cap, int *port, char *err,
                 size_t err_cap);

/**
 * Opens a non-blocking listening TCP socket on `hostport` (SO_REUSEADDR). Returns the
 * descriptor, or -1 with a reason in `err`. Port 0 picks a free port: read it back with
 * cm_net_local_port().
 */
int cm_net_listen(const char *hostport, int backlog, char *err, size_t err_cap);

/**
 * Opens `n` listening sockets on the same address with SO_REUSEPORT, so that the kernel
 * spreads new connections over them (one per event-loop thread). Fails, like
 * cm_net_listen, when the address is already in use, by another process's SO_REUSEPORT
 * group too. Port 0 picks one free port for all of them. Returns 0 and fills `fds`, or -1.
 */
int cm_net_listen_group(const char *hostport, int backlog, int n, int *fds, char *err,
                        size_t err_cap);

/** The local port a socket is bound to, or -1. */
int cm_net_local_port(int fd);

/** Writes a peer address "ip:port" for logs. */
void cm_net_peer_name(int fd, char *out, size_t cap);

#endif
