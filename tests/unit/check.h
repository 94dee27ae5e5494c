/* A minimal test harness: CHECK-style macros that report the failing
 * expression with file and line, count failures, and a CHECK_DONE() that
 * turns the count into the exit status meson test reads. */
#ifndef CS_TEST_CHECK_H
#define CS_TEST_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "capsearch/capsearch.h"

static int check_failures;

/* A function, not an inline ?:, so passing &err does not trip -Waddress. */
static inline const char *check_error_message(const cs_error *err)
{
    return err ? err->message : "";
}

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            check_failures++;                                                \
        }                                                                    \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                        \
    do {                                                                          \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);           \
        if (check_a_ != check_b_) {                                               \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,   \
                    __LINE__, #a, #b, check_a_, check_b_);                        \
            check_failures++;                                                     \
        }                                                                         \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                        \
    do {                                                                          \
        const char *check_a_ = (a), *check_b_ = (b);                              \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {          \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  got      [%s]\n  expected [%s]\n", \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",   \
                    check_b_ ? check_b_ : "(null)");                              \
            check_failures++;                                                     \
        }                                                                         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                     \
    do {                                                                          \
        double check_a_ = (double)(a), check_b_ = (double)(b);                    \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                              \
            fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n",     \
                    __FILE__, __LINE__, #a, #b, (double)(tol), check_a_, check_b_); \
            check_failures++;                                                     \
        }                                                                         \
    } while (0)

#define CHECK_OK(expr, errp)                                                      \
    do {                                                                          \
        cs_status check_rc_ = (expr);                                             \
        if (check_rc_ != CS_OK) {                                                 \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__,    \
                    #expr, (int)check_rc_, check_error_message(errp));           \
            check_failures++;                                                     \
        }                                                                         \
    } while (0)

#define CHECK_DONE()                                                              \
    do {                                                                          \
        if (check_failures)                                                       \
            fprintf(stderr, "%d check(s) failed\n", check_failures);              \
        return check_failures ? 1 : 0;                                            \
    } while (0)

#endif
