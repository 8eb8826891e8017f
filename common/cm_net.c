#include "cm_net.h"

#include <stdbool.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int cm_net_split(const char *hostport, char *host, size_t host_cap, int *port, char *err,
                 size_t err_cap)
{
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL) {
        snprintf(err, err_cap, "'%s' is not host:port", hostport);
        return -1;
    }
    const char *h = hostport;
    size_t hl = (size_t)(colon - hostport);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= host_cap) {
        snprintf(err, err_cap, "host in '%s' is too long", hostport);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || p < 0 || p > 65535) {
        snprintf(err, err_cap, "port in '%s' is not 0..65535", hostport);
        return -1;
    }
    *port = (int)p;
    return 0;
}

/* One listening socket on `hostport`, with port `port_override` when >= 0, and
 * SO_REUSEPORT when `reuseport`. */
static int cm_net__listen(const char *hostport, int port_override, bool reuseport, int backlog,
                          char *err, size_t err_cap)
{
    char host[256], port_s[16];
    int port;
    if (cm_net_split(hostport, host, sizeof(host), &port, err, err_cap) != 0)
        return -1;
    snprintf(port_s, sizeof(port_s), "%d", port_override >= 0 ? port_override : port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai;
    int rc = getaddrinfo(host[0] ? host : NULL, port_s, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_cap, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        snprintf(err, err_cap, "cannot listen on %s: %s", hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int cm_net_listen(const char *hostport, int backlog, char *err, size_t err_cap)
{
    return cm_net__listen(hostport, -1, false, backlog, err, err_cap);
}

int cm_net_listen_group(const char *hostport, int backlog, int n, int *fds, char *err,
                        size_t err_cap)
{
    /* A plain bind first: it fails when anything holds the port, SO_REUSEPORT sockets of
     * another process included, which would otherwise silently share the traffic. */
    int probe = cm_net__listen(hostport, -1, false, backlog, err, err_cap);
    if (probe < 0)
        return -1;
    int port = cm_net_local_port(probe);
    close(probe);
    for (int i = 0; i < n; i++) {
        fds[i] = cm_net__listen(hostport, port, true, backlog, err, err_cap);
        if (fds[i] < 0) {
            while (i-- > 0)
                close(fds[i]);
            return -1;
        }
    }
    return 0;
}

int cm_net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

void cm_net_peer_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(out, cap, "%s:%d", ip, port);
}
