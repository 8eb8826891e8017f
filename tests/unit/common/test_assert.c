/* cm_assert: it does not depend on NDEBUG; a failure logs and aborts (a SIGABRT). */
#include "cmocka_all.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cm_assert.h"

static int assert_in_child(int value)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2); /* its log line is expected; keep the test's output quiet */
        cm_assert(value == 1);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void test_assert__true_goes_on(void **state)
{
    (void)state;
    int status = assert_in_child(1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_assert__false_aborts(void **state)
{
    (void)state;
    int status = assert_in_child(2);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assert__true_goes_on),
        cmocka_unit_test(test_assert__false_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
