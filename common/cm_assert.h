/*
 * Assertions that are never compiled out, for data integrity: offsets, the high watermark,
 * index entries, batch framing. A failed one logs what failed, where, and stops the
 * process (abort: a core for the operator), because going on would write or serve a log
 * that is wrong, and recovery at the next start is what restores a consistent one.
 *
 * For hot loops and checks that cost more than they guard, use assert(3), which release
 * builds compile out.
 */
#ifndef CM_ASSERT_H
#define CM_ASSERT_H

/** Stops the process when `cond` is false. */
#define cm_assert(cond)                                                                            \
    ((cond) ? (void)0 : cm_assert_fail(#cond, __FILE__, __LINE__, __func__))

/** Logs the failed assertion at error level and aborts. */
_Noreturn void cm_assert_fail(const char *expr, const char *file, int line, const char *func);

#endif
