/*
 * Filesystem helpers with the durability steps spelled out: atomic replace of a small
 * file (write temp, fsync, rename, fsync directory), directory fsync, recursive removal.
 * Blocking; call them off the event loop's hot path.
 */
#ifndef CM_FS_H
#define CM_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Creates `path` and missing parents with mode 0755. Returns 0 or CM_EIO (errno set). */
int cm_fs_mkdirs(const char *path);

/** fsyncs a directory so that entries created or renamed in it are durable. */
int cm_fs_sync_dir(const char *path);

/**
 * Replaces `path` with `len` bytes atomically and durably: readers see the old or the new
 * content, never a mix, and the new content survives a crash once this returns 0.
 */
int cm_fs_write_atomic(const char *path, const void *data, size_t len);

/** cm_fs_write_atomic with the file's mode (cm_fs_write_atomic's is 0644). */
int cm_fs_write_atomic_mode(const char *path, const void *data, size_t len, mode_t mode);

/**
 * Reads a whole small file into a NUL-terminated malloc'd buffer (at most `max` bytes).
 * Returns 0, CM_ENOENT, CM_ELIMIT (bigger than max) or CM_EIO.
 */
int cm_fs_read_file(const char *path, size_t max, char **out, size_t *out_len);

/**
 * cm_fs_write_atomic for the file `name` inside the directory open as `dir_fd`. Writing
 * through the descriptor follows the directory if it is renamed meanwhile.
 */
int cm_fs_write_atomic_at(int dir_fd, const char *name, const void *data, size_t len);

/**
 * cm_fs_write_atomic_at without the fsyncs: readers see the old or the new content, but a
 * crash may leave either, or an empty file. For files that are checked against what they
 * describe when read back (a partition's leader-epoch checkpoint).
 */
int cm_fs_replace_at(int dir_fd, const char *name, const void *data, size_t len);

/** Writes all `len` bytes at `off`, retrying short writes and EINTR. 0, or -1 (errno). */
int cm_fs_pwrite_all(int fd, const void *buf, size_t len, int64_t off);

/**
 * Reads `len` bytes at `off`, retrying short reads and EINTR. Returns the bytes read (fewer
 * only at the end of the file), or -1 (errno).
 */
long cm_fs_pread_full(int fd, void *buf, size_t len, int64_t off);

/** Removes `path` and everything under it. Missing is not an error. */
int cm_fs_remove_tree(const char *path);

#endif
