/*
 * The project's error vocabulary for system-level paths: 0 or a negative code. Kafka wire
 * errors are cm_kerr_t (cm_kproto.h) and never mixed with these.
 */
#ifndef CM_ERR_H
#define CM_ERR_H

enum {
    CM_OK = 0,
    CM_ERROR = -1,   /* unspecified failure; the log says why */
    CM_AGAIN = -2,   /* non-blocking path: try again when ready */
    CM_EINVAL = -3,  /* invalid argument or input */
    CM_ENOENT = -4,  /* no such thing */
    CM_EEXIST = -5,  /* already exists */
    CM_ELIMIT = -6,  /* a configured limit would be exceeded */
    CM_EIO = -7,     /* the disk or the network failed */
    CM_ECORRUPT = -8 /* data on disk or on the wire failed an integrity check */
};

/** A short name of a project error code ("EINVAL"). */
const char *cm_err_name(int err);

#endif
