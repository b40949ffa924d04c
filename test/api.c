/*
 * test/api.c - every public map function with NULL or otherwise invalid
 * arguments: EINVAL or a documented no-op, never a crash.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "collide0.h"
#include "expect.h"
#include "internal.h"

Test(api, null_map_given_to_an_update_sets_einval)
{
    EXPECT_EINVAL(hamt_set(NULL, HAMT_U64(1), NULL), NULL);
    EXPECT_EINVAL(hamt_remove(NULL, HAMT_U64(1)), NULL);
    EXPECT_EINVAL(hamt_new_like(NULL), NULL);
}

Test(api, queries_read_a_null_map_as_empty_and_leave_errno_alone)
{
    void *v = (void *)1;
    const struct hamt *one =
        hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);

    EXPECT_QUIET(hamt_get(NULL, HAMT_U64(1), &v), false);
    cr_assert_eq(v, (void *)1, "value untouched");
    EXPECT_QUIET(hamt_contains(NULL, HAMT_U64(1)), false);
    EXPECT_QUIET(hamt_size(NULL), 0);
    EXPECT_QUIET(hamt_key_kind(NULL), 0);
    EXPECT_QUIET(hamt_equal(NULL, hamt_new(HAMT_KEY_U64), NULL, NULL), true);
    EXPECT_QUIET(hamt_equal(hamt_new(HAMT_KEY_U64), NULL, NULL, NULL), true);
    EXPECT_QUIET(hamt_equal(one, NULL, NULL, NULL), false);
    EXPECT_QUIET(hamt_equal(NULL, one, NULL, NULL), false);
}

Test(api, bad_key_kinds_and_key_types_set_einval)
{
    EXPECT_EINVAL(hamt_new((enum hamt_key_kind)0), NULL);
    EXPECT_EINVAL(hamt_new(HAMT_KEY_CUSTOM), NULL);
    EXPECT_EINVAL(hamt_new((enum hamt_key_kind)99), NULL);
    EXPECT_EINVAL(hamt_new_custom(NULL), NULL);
    struct hamt_key_type kt = {.size = sizeof kt, .hash = h0, .equal = eq0};
    kt.size = 8;
    EXPECT_EINVAL(hamt_new_custom(&kt), NULL);
    kt.size = sizeof kt;
    kt.hash = NULL;
    EXPECT_EINVAL(hamt_new_custom(&kt), NULL);
    kt.hash = h0;
    kt.equal = NULL;
    EXPECT_EINVAL(hamt_new_custom(&kt), NULL);
    kt.equal = eq0;
    cr_assert_not_null(hamt_new_custom(&kt));
}

Test(api, null_string_and_bytes_keys_set_einval_and_are_never_found)
{
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    const struct hamt *b = hamt_new(HAMT_KEY_BYTES);
    struct hamt_bytes bad = {.len = 3, .data = NULL};

    EXPECT_EINVAL(hamt_set(s, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_remove(s, NULL), NULL);
    EXPECT_QUIET(hamt_get(s, NULL, NULL), false);
    EXPECT_EINVAL(hamt_set(b, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_set(b, &bad, NULL), NULL);
    EXPECT_QUIET(hamt_get(b, &bad, NULL), false);
    EXPECT_EINVAL(hamt_remove(b, &bad), NULL);
}

Test(api, absent_key_leaves_errno_alone)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);

    errno = 1234;
    cr_assert(!hamt_get(m, HAMT_U64(2), NULL));
    cr_assert(hamt_get(m, HAMT_U64(1), NULL));
    cr_assert_eq(hamt_set(m, HAMT_U64(1), NULL), m);
    cr_assert_not_null(hamt_set(m, HAMT_U64(3), NULL));
    cr_assert_eq(errno, 1234);
}

Test(api, init_is_idempotent)
{
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_init(), 0);
}
