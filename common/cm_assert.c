#include "cm_assert.h"

#include <stdlib.h>

#include "cm_log.h"

void cm_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    cm_log_error("assertion failed: stopping before the log can go wrong",
                 "expr=\"%s\" at=%s:%d func=%s", expr, file, line, func);
    abort();
}
