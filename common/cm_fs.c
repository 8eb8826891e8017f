#include "cm_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_err.h"

int cm_fs_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return CM_EIO;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return CM_EIO;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return CM_EIO;
    return CM_OK;
}

int cm_fs_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return CM_EIO;
    int rc = fsync(fd) == 0 ? CM_OK : CM_EIO;
    close(fd);
    return rc;
}

int cm_fs_pwrite_all(int fd, const void *buf, size_t len, int64_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        off += w;
        len -= (size_t)w;
    }
    return 0;
}

long cm_fs_pread_full(int fd, void *buf, size_t len, int64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

int cm_fs_write_atomic(const char *path, const void *data, size_t len)
{
    return cm_fs_write_atomic_mode(path, data, len, 0644);
}

int cm_fs_write_atomic_mode(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4096], dir[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return CM_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return CM_EIO;
    /* A file left by a crash keeps the mode it was made with: set this one. */
    if (fchmod(fd, mode) != 0 || cm_fs_pwrite_all(fd, data, len, 0) != 0 || fsync(fd) != 0)
        goto out_unlink;
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out_unlink;
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        return cm_fs_sync_dir(dir[0] ? dir : "/");
    }
    return cm_fs_sync_dir(".");

out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return CM_EIO;
}

static int cm_fs__replace_at(int dir_fd, const char *name, const void *data, size_t len,
                             bool durable)
{
    char tmp[512];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
        return CM_EINVAL;
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return CM_EIO;
    if (cm_fs_pwrite_all(fd, data, len, 0) != 0 || (durable && fsync(fd) != 0)) {
        close(fd);
        unlinkat(dir_fd, tmp, 0);
        return CM_EIO;
    }
    close(fd);
    if (renameat(dir_fd, tmp, dir_fd, name) != 0) {
        unlinkat(dir_fd, tmp, 0);
        return CM_EIO;
    }
    return !durable || fsync(dir_fd) == 0 ? CM_OK : CM_EIO;
}

int cm_fs_write_atomic_at(int dir_fd, const char *name, const void *data, size_t len)
{
    return cm_fs__replace_at(dir_fd, name, data, len, true);
}

int cm_fs_replace_at(int dir_fd, const char *name, const void *data, size_t len)
{
    return cm_fs__replace_at(dir_fd, name, data, len, false);
}

int cm_fs_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CM_ENOENT : CM_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CM_EIO;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return CM_ELIMIT;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        abort();
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    return CM_OK;
}

int cm_fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? CM_OK : CM_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? CM_OK : CM_EIO;
    DIR *d = opendir(path);
    if (d == NULL)
        return CM_EIO;
    int rc = CM_OK;
    struct dirent *e;
    char child[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >= (int)sizeof(child)) {
            rc = CM_EIO;
            continue;
        }
        if (cm_fs_remove_tree(child) != CM_OK)
            rc = CM_EIO;
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT)
        rc = CM_EIO;
    return rc;
}
