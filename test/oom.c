/*
 * test/oom.c - fail the 1st, 2nd, ... N-th allocation of each allocating
 * operation until it succeeds, once with a transient failure and once with
 * a persistent one.  After each failure: NULL, errno == ENOMEM, the input
 * map unchanged and valid, and the same operation succeeds afterwards.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "testkeys.h"

#define V(x) ((void *)(uintptr_t)(x))

typedef const struct hamt *(*op_fn)(const struct hamt *m, const void *arg);

/* Contents fingerprint: size, validity and an order-independent checksum. */
static uint64_t
fingerprint(const struct hamt *m)
{
    struct hamt_iter it;
    const void *k;
    void *v;
    uint64_t sum = hamt_size(m);

    cr_assert_eq(hamt__validate(m), 0);
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &k, &v)) {
        uint64_t x = (uint64_t)(uintptr_t)k * 0x9e3779b97f4a7c15u ^
                     (uint64_t)(uintptr_t)v;
        sum += x ^ (x >> 29);
    }
    return sum;
}

/* Returns the number of failure points tried. */
static unsigned
fail_each(const struct hamt *m, op_fn op, const void *arg, bool persistent)
{
    uint64_t fp = fingerprint(m);
    unsigned n;

    for (n = 1;; n++) {
        hamt__fail_after(n, persistent);
        errno = 0;
        const struct hamt *r = op(m, arg);
        hamt__fail_after(0, false);
        cr_assert_eq(fingerprint(m), fp, "input changed at failure %u", n);
        if (r != NULL) {
            cr_assert_eq(errno, 0, "errno set on success");
            int rc = hamt__validate(r);
            cr_assert_eq(rc, 0, "invalid result (%d) after %u failures", rc,
                         n - 1);
            break;
        }
        cr_assert_eq(errno, ENOMEM, "failure %u: errno %d", n, errno);
        cr_assert_lt(n, 64, "operation never succeeds");
    }
    return n;
}

static const struct hamt *
op_set(const struct hamt *m, const void *arg)
{
    return hamt_set(m, arg, V(99));
}

static const struct hamt *
op_del(const struct hamt *m, const void *arg)
{
    return hamt_remove(m, arg);
}

static const struct hamt *
fill_u64(const struct hamt *m, unsigned n)
{
    for (uint64_t i = 0; i < n; i++) {
        m = hamt_set(m, HAMT_U64(i), V(i));
    }
    return m;
}

static const struct hamt *
big_u64(unsigned n)
{
    return fill_u64(hamt_new(HAMT_KEY_U64), n);
}

Test(oom, set_and_del_fail_cleanly_at_every_allocation)
{
    const struct hamt *m = big_u64(5000);
    unsigned total = 0;

    for (int p = 0; p < 2; p++) {
        for (uint64_t k = 0; k < 10000; k += 997) {
            total += fail_each(m, op_set, HAMT_U64(k), p);
            total += fail_each(m, op_del, HAMT_U64(k), p);
        }
    }
    cr_assert_gt(total, 40);
}

/* The same on a map whose values are scalars (pointer-free leaves). */
Test(oom, scalar_map_set_and_del_fail_cleanly_at_every_allocation)
{
    const struct hamt *m = fill_u64(hamt_new_scalar(HAMT_KEY_U64), 5000);
    unsigned total = 0;

    for (int p = 0; p < 2; p++) {
        for (uint64_t k = 0; k < 10000; k += 997) {
            total += fail_each(m, op_set, HAMT_U64(k), p);
            total += fail_each(m, op_del, HAMT_U64(k), p);
        }
    }
    cr_assert_gt(total, 40);
}

Test(oom, string_key_copy_failure_is_clean)
{
    const struct hamt *m = hamt_new(HAMT_KEY_STRING);
    char key[32];

    for (unsigned i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "s%u", i);
        m = hamt_set(m, key, V(i));
    }
    for (int p = 0; p < 2; p++) {
        /* Key copy, then nodes: at least two failure points each. */
        cr_assert_geq(fail_each(m, op_set, "new-key", p), 2);
        fail_each(m, op_set, "s7", p);
        fail_each(m, op_del, "s9", p);
    }
}

Test(oom, collision_and_deep_paths_fail_cleanly)
{
    const struct hamt *m = tk_empty();
    const struct tk *c[6];

    for (unsigned i = 0; i < 6; i++) {
        c[i] = tk_key(i, 0x55);
        m = hamt_set(m, c[i], V(i));
    }
    const struct tk *deep = tk_key(100, 0x55 ^ (UINT64_C(1) << 63));
    for (int p = 0; p < 2; p++) {
        /* A new key that splits the path at the last level: 13 nodes. */
        cr_assert_geq(fail_each(m, op_set, deep, p), 13);
        fail_each(m, op_set, tk_key(101, 0x55), p);
        fail_each(m, op_set, c[2], p);
        fail_each(m, op_del, c[3], p);
    }
    /* Delete down to one colliding key: pull-up through all levels. */
    const struct hamt *two = tk_empty();
    two = hamt_set(hamt_set(two, c[0], NULL), c[1], NULL);
    fail_each(two, op_del, c[0], false);
    fail_each(two, op_del, c[0], true);
}

Test(oom, custom_key_type_creation_fails_cleanly)
{
    static int ctx_token;

    /* The test key type's callbacks with a new ctx: a new registry entry. */
    const struct hamt *base = tk_empty();
    cr_assert_not_null(base);
    struct hamt_key_type k2;
    memset(&k2, 0, sizeof k2);
    k2.size = sizeof k2;
    k2.hash = ((const struct hamt__kt *)base->kt)->hash;
    k2.equal = ((const struct hamt__kt *)base->kt)->equal;
    k2.ctx = &ctx_token;
    hamt__fail_after(1, false);
    errno = 0;
    cr_assert_null(hamt_new_custom(&k2));
    cr_assert_eq(errno, ENOMEM);
    hamt__fail_after(2, false);
    cr_assert_null(hamt_new_custom(&k2));
    hamt__fail_after(0, false);
    const struct hamt *e = hamt_new_custom(&k2);
    cr_assert_not_null(e);
    cr_assert_eq(hamt_new_custom(&k2), e);
    cr_assert_neq(e, base);
}

/* Replaces the value by old + 1, or removes the key when ctx says so. */
static enum hamt_alter_action
bump_or_remove(void *old, bool present, void **new_val, void *ctx)
{
    if (*(const bool *)ctx) {
        return HAMT_ALTER_REMOVE;
    }
    *new_val = V((uintptr_t)old + (present ? 1 : 1000));
    return HAMT_ALTER_SET;
}

static bool oom_remove;

static const struct hamt *
op_update(const struct hamt *m, const void *arg)
{
    return hamt_alter(m, arg, bump_or_remove, &oom_remove);
}

Test(oom, alter_fails_cleanly_at_every_allocation)
{
    const struct hamt *m = big_u64(3000);

    for (int p = 0; p < 2; p++) {
        oom_remove = false;
        fail_each(m, op_update, HAMT_U64(17), p);   /* replace */
        fail_each(m, op_update, HAMT_U64(9999), p); /* insert */
        oom_remove = true;
        fail_each(m, op_update, HAMT_U64(23), p);   /* remove */
    }
}

/* The set algebra, with the other map as the argument. */
static enum hamt_conflict_action
sum_values(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key;
    (void)ctx;
    *out = V((uintptr_t)va + (uintptr_t)vb);
    return HAMT_CONFLICT_COMBINE;
}

static const struct hamt *
op_merge(const struct hamt *m, const void *arg)
{
    return hamt_merge(m, arg, NULL, NULL);
}

static const struct hamt *
op_merge_fn(const struct hamt *m, const void *arg)
{
    return hamt_merge(m, arg, sum_values, NULL);
}

static const struct hamt *
op_intersect_fn(const struct hamt *m, const void *arg)
{
    return hamt_intersect(m, arg, sum_values, NULL);
}

static const struct hamt *
op_difference(const struct hamt *m, const void *arg)
{
    return hamt_subtract(m, arg);
}

/* Every set operation, each way round; the argument map stays intact too. */
static void
set_algebra_fails_cleanly(const struct hamt *a, const struct hamt *b)
{
    static const op_fn ops[] = { op_merge, op_merge_fn, op_intersect_fn,
                                 op_difference };
    uint64_t fa = fingerprint(a), fb = fingerprint(b);

    for (int p = 0; p < 2; p++) {
        for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            fail_each(a, ops[i], b, p);
            fail_each(b, ops[i], a, p);
            cr_assert_eq(fingerprint(a), fa);
            cr_assert_eq(fingerprint(b), fb);
        }
    }
}

Test(oom, set_algebra_fails_cleanly_at_every_allocation)
{
    /*
     * Two close versions: new, removed and changed keys (small enough that
     * a conflict function combining every common key, which rebuilds the
     * whole map, stays under fail_each's 64 allocations).
     */
    const struct hamt *a = big_u64(200), *b = a;
    for (uint64_t i = 0; i < 4; i++) {
        b = hamt_set(b, HAMT_U64(500 + i), V(1));
        b = hamt_remove(b, HAMT_U64(i * 41));
        b = hamt_set(b, HAMT_U64(i * 41 + 3), V(2));
    }
    set_algebra_fails_cleanly(a, b);

    /* Unrelated small maps of colliding keys (collision nodes). */
    const struct hamt *x = tk_empty(), *y = tk_empty();
    for (unsigned i = 0; i < 6; i++) {
        x = hamt_set(x, tk_key(i, 0x55), V(i + 1));
        y = hamt_set(y, tk_key(i + 3, 0x55), V(i + 10));
    }
    x = hamt_set(x, tk_key(50, 0x66), V(7));
    y = hamt_set(y, tk_key(51, 0x77), V(8));
    set_algebra_fails_cleanly(x, y);
}
