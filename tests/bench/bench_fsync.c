/*
 * bench-fsync: what the disk itself costs. Appends --size bytes and fdatasyncs, at --rate
 * per second for --seconds, into a file in --target (a directory), and reports the
 * latency of each write+fdatasync in the shared format (system=disk). It runs in the same
 * benchmark session as the brokers, so every figure has the device's own floor beside it.
 */
#include <fcntl.h>

#include "bench_common.h"

int main(int argc, char **argv)
{
    bench_opts_t o;
    bench_parse(argc, argv, "-", &o);
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench-fsync.dat", o.target);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        return 2;
    }
    char *buf = malloc((size_t)o.size);
    bench_payload(buf, o.size, 0);
    bench_lat_t lat = { 0 };
    long n = (long)o.rate * o.seconds;
    uint64_t interval = 1000000000ull / (uint64_t)o.rate, t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        bench_sleep_until(t0 + (uint64_t)i * interval);
        uint64_t t = bench_now_ns();
        if (write(fd, buf, (size_t)o.size) != o.size || fdatasync(fd) != 0) {
            perror("write/fdatasync");
            return 1;
        }
        bench_lat_add(&lat, bench_now_ns() - t);
    }
    bench_report("disk", &o, n, (double)(bench_now_ns() - t0) / 1e9, &lat);
    close(fd);
    unlink(path);
    free(buf);
    free(lat.v);
    return 0;
}
