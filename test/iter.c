/* test/iter.c - allocation-free iteration and hamt_foreach. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "testkeys.h"

#define V(x) ((void *)(uintptr_t)(x))

Test(iter, visits_every_entry_exactly_once)
{
    enum { N = 20000 };
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    unsigned char *seen = calloc(N, 1);

    for (uint64_t i = 0; i < N; i++) {
        m = hamt_set(m, HAMT_U64(i * 3), V(i));
    }
    struct hamt_iter it;
    const void *k;
    void *v;
    size_t n = 0;
    unsigned long before = hamt__alloc_count();
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &k, &v)) {
        uint64_t key = HAMT_AS_U64(k);
        cr_assert_eq(key % 3, 0);
        cr_assert_eq(v, V(key / 3));
        cr_assert_eq(seen[key / 3], 0, "key %llu twice",
                     (unsigned long long)key);
        seen[key / 3] = 1;
        n++;
    }
    cr_assert_eq(hamt__alloc_count(), before, "iteration allocated");
    cr_assert_eq(n, N);
    cr_assert(!hamt_iter_next(&it, &k, &v), "stays finished");
    free(seen);
}

Test(iter, empty_and_null_maps_iterate_nothing)
{
    struct hamt_iter it;

    hamt_iter_init(&it, hamt_new(HAMT_KEY_STRING));
    cr_assert(!hamt_iter_next(&it, NULL, NULL));
    hamt_iter_init(&it, NULL);
    cr_assert(!hamt_iter_next(&it, NULL, NULL));
    hamt_iter_init(NULL, NULL); /* documented no-op */
    cr_assert(!hamt_iter_next(NULL, NULL, NULL));
}

/*
 * A zero-initialised iterator, never given to hamt_iter_init() (one in a
 * zeroed struct, say), has no entries; it used to crash on its NULL node.
 */
Test(iter, zeroed_iterator_iterates_nothing)
{
    struct hamt_iter it = {0};
    const void *k = "untouched";
    void *v = &it;

    cr_assert(!hamt_iter_next(&it, &k, &v));
    cr_assert(!hamt_iter_next(&it, &k, &v), "and keeps returning false");
    cr_assert_str_eq(k, "untouched");
    cr_assert_eq(v, &it);
}

Test(iter, reaches_collision_nodes_at_maximum_depth)
{
    const struct hamt *m = tk_empty();

    for (unsigned i = 0; i < 10; i++) {
        m = hamt_set(m, tk_key(i, i < 5 ? 0x99 : (uint64_t)i << 59), V(i));
    }
    struct hamt_iter it;
    const void *k;
    void *v;
    unsigned mask = 0;
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &k, &v)) {
        const struct tk *t = k;
        cr_assert_eq(v, V(t->id));
        mask |= 1u << t->id;
    }
    cr_assert_eq(mask, 0x3ff);
}

Test(iter, old_version_iterates_its_own_contents)
{
    const struct hamt *a = hamt_new(HAMT_KEY_U64);
    for (uint64_t i = 0; i < 100; i++) {
        a = hamt_set(a, HAMT_U64(i), V(i));
    }
    const struct hamt *b =
        hamt_remove(hamt_set(a, HAMT_U64(500), NULL), HAMT_U64(3));
    struct hamt_iter it;
    const void *k;
    size_t n = 0;
    hamt_iter_init(&it, a);
    while (hamt_iter_next(&it, &k, NULL)) {
        cr_assert_lt(HAMT_AS_U64(k), 100);
        n++;
    }
    cr_assert_eq(n, 100);
    cr_assert_eq(hamt_size(b), 100);
}

static int
sum_cb(const void *k, void *v, void *ctx)
{
    (void)v;
    *(uint64_t *)ctx += HAMT_AS_U64(k);
    return 0;
}

static int
stop_cb(const void *k, void *v, void *ctx)
{
    (void)k;
    (void)v;
    /* -1, the value that once read as the walk's own EINVAL. */
    return ++*(int *)ctx == 5 ? -1 : 0;
}

Test(iter, foreach_calls_back_per_entry_and_stops_on_nonzero)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    uint64_t sum = 0;
    int calls = 0;

    for (uint64_t i = 1; i <= 1000; i++) {
        m = hamt_set(m, HAMT_U64(i), NULL);
    }
    cr_assert_eq(hamt_foreach(m, sum_cb, &sum), 0);
    cr_assert_eq(sum, 500500);
    errno = 12345;
    cr_assert_eq(hamt_foreach(m, stop_cb, &calls), 1, "stopped, not failed");
    cr_assert_eq(calls, 5);
    cr_assert_eq(errno, 12345);
    errno = 0;
    cr_assert_eq(hamt_foreach(NULL, sum_cb, &sum), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_foreach(m, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
}
