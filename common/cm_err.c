#include "cm_err.h"

const char *cm_err_name(int err)
{
    switch (err) {
    case CM_OK:
        return "OK";
    case CM_ERROR:
        return "ERROR";
    case CM_AGAIN:
        return "AGAIN";
    case CM_EINVAL:
        return "EINVAL";
    case CM_ENOENT:
        return "ENOENT";
    case CM_EEXIST:
        return "EEXIST";
    case CM_ELIMIT:
        return "ELIMIT";
    case CM_EIO:
        return "EIO";
    case CM_ECORRUPT:
        return "ECORRUPT";
    }
    return "UNKNOWN";
}
