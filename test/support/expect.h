/*
 * expect.h - assertions on the return convention (include/hamt.h, hamt(3)),
 * shared by the Criterion tests.  Include after <criterion/criterion.h>.
 *
 * EXPECT_EINVAL(expr, bad): a call that must fail on bad input: it returns
 *   `bad` (NULL, -1, ...) and sets errno to EINVAL.
 * EXPECT_QUIET(expr, want): a query, which cannot fail: it returns `want`
 *   and leaves errno exactly as it was (a sentinel no call sets).
 */
#ifndef HAMT_TEST_EXPECT_H
#define HAMT_TEST_EXPECT_H

#include <errno.h>

#define EXPECT_EINVAL(expr, bad)                                               \
    do {                                                                       \
        errno = 0;                                                             \
        cr_assert((expr) == (bad), #expr);                                     \
        cr_assert_eq(errno, EINVAL, #expr ": errno %d", errno);                \
    } while (0)

#define EXPECT_QUIET(expr, want)                                               \
    do {                                                                       \
        errno = 12345;                                                         \
        cr_assert((expr) == (want), #expr);                                    \
        cr_assert_eq(errno, 12345, #expr ": errno %d", errno);                 \
    } while (0)

#endif /* HAMT_TEST_EXPECT_H */
