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
        uint64_t x = (uint64_t)(uintptr_t)k * 0x9e3779b97f4a7c15u
                     ^ (uint64_t)(uintptr_t)v;
        sum += x ^ (x >> 29);
    }
    return sum;
}

/*
 * Returns the number of failure points tried.  An operation that still
 * fails after FAIL_EACH_MAX failure points never succeeds: the bound is far
 * above what any operation here allocates, since the number of nodes of a
 * map depends on the keyed hash, whose key changes with every process.
 */
#define FAIL_EACH_MAX 1024
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
        cr_assert_lt(n, FAIL_EACH_MAX, "operation never succeeds");
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
        fail_each(m, op_update, HAMT_U64(23), p); /* remove */
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
    static const op_fn ops[] = {op_merge, op_merge_fn, op_intersect_fn,
                                op_difference};
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
     * Two close versions: new, removed and changed keys (small, since a
     * conflict function combining every common key rebuilds the whole map,
     * and fail_each runs it once per failure point).
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

/*
 * alter and the set algebra on maps of scalar values, whose leaves come
 * from the library's pointer-free kind: each failure point of either kind
 * of node leaves the inputs intact and fails with ENOMEM.
 */
Test(oom, scalar_map_alter_and_set_algebra_fail_cleanly)
{
    const struct hamt *m = fill_u64(hamt_new_scalar(HAMT_KEY_U64), 3000);
    unsigned tried = 0;

    for (int p = 0; p < 2; p++) {
        oom_remove = false;
        tried += fail_each(m, op_update, HAMT_U64(17), p);   /* replace */
        tried += fail_each(m, op_update, HAMT_U64(9999), p); /* insert */
        oom_remove = true;
        tried += fail_each(m, op_update, HAMT_U64(23), p); /* remove */
    }
    /* Each of the six calls allocates, so each met a failure first. */
    cr_assert_geq(tried, 12);
    const struct hamt *a = fill_u64(hamt_new_scalar(HAMT_KEY_U64), 200);
    const struct hamt *b = a;
    for (uint64_t i = 0; i < 4; i++) {
        b = hamt_set(b, HAMT_U64(500 + i), V(1));
        b = hamt_remove(b, HAMT_U64(i * 41));
        b = hamt_set(b, HAMT_U64(i * 41 + 3), V(2));
    }
    cr_assert_not_null(b);
    set_algebra_fails_cleanly(a, b);
}

/* ---- collision trees and batches over colliding keys (issue 17) ---- */

Test(oom, collision_tree_updates_fail_cleanly)
{
    const struct hamt *m = tk_empty_ordered();
    const struct tk *c[40];

    for (unsigned i = 0; i < 40; i++) {
        c[i] = tk_key(i, 0x55);
        m = hamt_set(m, c[i], V(i + 1));
    }
    m = hamt_set(m, tk_key(99, 0x66), V(5));
    for (int p = 0; p < 2; p++) {
        /* Insert copies the trie path, the header and the tree path. */
        cr_assert_geq(fail_each(m, op_set, tk_key(100, 0x55), p), 16);
        fail_each(m, op_set, c[5], p); /* replace a value */
        for (unsigned i = 0; i < 40; i += 3) {
            fail_each(m, op_del, c[i], p); /* leaves, inner nodes, root */
        }
        oom_remove = false;
        fail_each(m, op_update, c[7], p);
        oom_remove = true;
        fail_each(m, op_update, c[8], p);
    }
    const struct hamt *two = tk_empty_ordered();
    two = hamt_set(hamt_set(two, c[0], NULL), c[1], NULL);
    fail_each(two, op_del, c[1], false); /* the last key is pulled up */
    fail_each(two, op_del, c[1], true);
    fail_each(tk_empty_ordered(), op_set, c[1], true);
    fail_each(hamt_set(tk_empty_ordered(), c[0], NULL), op_set, c[1], true);

    /* The set algebra on two trees, and on a tree and one entry. */
    const struct hamt *x = tk_empty_ordered(), *y = tk_empty_ordered();
    for (unsigned i = 0; i < 6; i++) {
        x = hamt_set(x, c[i], V(i + 1));
        y = hamt_set(y, c[i + 3], V(i + 10));
    }
    set_algebra_fails_cleanly(x, y);
    set_algebra_fails_cleanly(x, hamt_set(tk_empty_ordered(), c[4], V(3)));
}

typedef int (*batch_op)(struct hamt_batch *b, const void *key);

static int
bop_set(struct hamt_batch *b, const void *key)
{
    return hamt_batch_set(b, key, V(123));
}

static int
bop_del(struct hamt_batch *b, const void *key)
{
    return hamt_batch_remove(b, key);
}

/* A batch operation failing at its 1st, 2nd, ... allocation leaves the
 * batch's map as it was; returns the failure points tried. */
static unsigned
batch_fail_each(struct hamt_batch *b, batch_op op, const void *key,
                bool persistent)
{
    unsigned n;

    for (n = 1;; n++) {
        uint64_t fp = fingerprint(hamt__batch_peek(b));
        hamt__fail_after(n, persistent);
        errno = 0;
        int rc = op(b, key);
        hamt__fail_after(0, false);
        if (rc >= 0) {
            cr_assert_eq(hamt__validate(hamt__batch_peek(b)), 0);
            break;
        }
        cr_assert_eq(errno, ENOMEM);
        cr_assert_eq(fingerprint(hamt__batch_peek(b)), fp,
                     "batch changed at failure %u", n);
        cr_assert_lt(n, 400, "operation never succeeds");
    }
    return n;
}

/* allocs: whether the operations must allocate (trees copy paths; a
 * collision node the batch owns is edited in place, often with none). */
static void
batch_over_collisions_fails_cleanly(const struct hamt *empty, bool allocs)
{
    const struct hamt *m = empty;
    const struct tk *c[300];

    for (unsigned i = 0; i < 300; i++) {
        c[i] = tk_key(i, 0x77);
        m = hamt_set(m, c[i], V(i + 1));
    }
    for (int p = 0; p < 2; p++) {
        /* Partly owned: a few paths already copied by the batch. */
        struct hamt_batch *b = hamt_batch_begin(m);
        for (unsigned i = 0; i < 300; i += 50) {
            cr_assert_geq(hamt_batch_set(b, c[i], V(7)), 0);
        }
        unsigned total = 0;
        for (unsigned i = 1; i < 300; i += 7) {
            total += batch_fail_each(b, bop_set, tk_key(1000 + i, 0x77), p);
            total += batch_fail_each(b, bop_set, c[i + 1], p);
        }
        /* Removing the lower half one by one rotates the tree at many
         * levels, with siblings the batch does not own yet. */
        for (unsigned i = 0; i < 150; i++) {
            total += batch_fail_each(b, bop_del, c[i], p);
        }
        cr_assert_geq(total, 2 * 43 + 150);
        cr_assert(!allocs || total > 2 * 43 + 150 + 100, "%u", total);
        const struct hamt *r = hamt_batch_finish(b);
        cr_assert_eq(hamt__validate(r), 0);
        cr_assert_eq(hamt_size(r), 150 + 43);
        for (unsigned i = 0; i < 150; i++) {
            cr_assert(!hamt_get(r, c[i], NULL));
        }
    }
}

Test(oom, batches_over_collision_trees_fail_cleanly)
{
    batch_over_collisions_fails_cleanly(tk_empty_ordered(), true);
}

Test(oom, batches_over_collision_nodes_fail_cleanly)
{
    batch_over_collisions_fails_cleanly(tk_empty(), false);
}

/*
 * A fresh key that meets an entry (the old entry moves down into a pair)
 * copies the key first, on both the update and the batch path, and byte
 * strings are copied as strings are.  Which fresh keys meet an entry
 * depends on the keyed hash, so many are tried: with 2000 keys in the map
 * both the pair and the insert path are taken.
 */
#define FRESH_KEYS 64

/* A map of the strings "s0" .. "s1999". */
static const struct hamt *
strings_2000(void)
{
    const struct hamt *m = hamt_new(HAMT_KEY_STRING);
    char key[16];

    for (unsigned i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "s%u", i);
        m = hamt_set(m, key, V(i));
        cr_assert_not_null(m);
    }
    return m;
}

Test(oom, string_key_meeting_an_entry_fails_cleanly)
{
    const struct hamt *m = strings_2000();
    static char fresh[FRESH_KEYS][16];

    for (int p = 0; p < 2; p++) {
        for (unsigned i = 0; i < FRESH_KEYS; i++) {
            snprintf(fresh[i], sizeof fresh[i], "fresh%u", i);
            /* The copy of the key and at least one node. */
            cr_assert_geq(fail_each(m, op_set, fresh[i], p), 2);
        }
    }
}

Test(oom, bytes_key_copy_failure_is_clean)
{
    const struct hamt *m = hamt_new(HAMT_KEY_BYTES);
    static char data[2000 + FRESH_KEYS][16];
    static struct hamt_bytes keys[2000 + FRESH_KEYS];

    for (unsigned i = 0; i < 2000 + FRESH_KEYS; i++) {
        keys[i].len = (size_t)snprintf(data[i], sizeof data[i], "b%u", i);
        keys[i].data = data[i];
    }
    for (unsigned i = 0; i < 2000; i++) {
        m = hamt_set(m, &keys[i], V(i));
    }
    for (int p = 0; p < 2; p++) {
        for (unsigned i = 2000; i < 2000 + FRESH_KEYS; i++) {
            cr_assert_geq(fail_each(m, op_set, &keys[i], p), 2);
        }
        fail_each(m, op_set, &keys[7], p);
        fail_each(m, op_del, &keys[9], p);
    }
}

Test(oom, batch_string_key_copy_failure_leaves_the_batch_as_it_was)
{
    const struct hamt *m = strings_2000();
    static char fresh[FRESH_KEYS][16];
    char key[16];

    for (int p = 0; p < 2; p++) {
        /* Partly owned: some paths copied by the batch already. */
        struct hamt_batch *b = hamt_batch_begin(m);
        for (unsigned i = 0; i < 2000; i += 40) {
            snprintf(key, sizeof key, "s%u", i);
            cr_assert_eq(hamt_batch_set(b, key, V(7)), 0);
        }
        for (unsigned i = 0; i < FRESH_KEYS; i++) {
            snprintf(fresh[i], sizeof fresh[i], "fresh%u", i);
            size_t before = hamt_batch_size(b);
            /* The first allocation is the key's copy: it must fail. */
            cr_assert_geq(batch_fail_each(b, bop_set, fresh[i], p), 2);
            cr_assert_eq(hamt_batch_size(b), before + 1);
        }
        const struct hamt *r = hamt_batch_finish(b);
        cr_assert_eq(hamt__validate(r), 0);
        cr_assert_eq(hamt_size(r), 2000 + FRESH_KEYS);
        for (unsigned i = 0; i < FRESH_KEYS; i++) {
            void *v = NULL;
            cr_assert(hamt_get(r, fresh[i], &v));
            cr_assert_eq(v, V(123));
        }
    }
}

/*
 * hamt_alter() with string and byte-string keys: a fresh key is copied
 * before the path, as by hamt_set(), so its copy is one more failure point
 * (the integer-key alter tests above never reach it).
 */
Test(oom, alter_of_string_and_bytes_keys_fails_cleanly)
{
    const struct hamt *m = strings_2000();
    static char fresh[FRESH_KEYS][16];
    static struct hamt_bytes bk[FRESH_KEYS];

    for (int p = 0; p < 2; p++) {
        oom_remove = false;
        for (unsigned i = 0; i < FRESH_KEYS; i++) {
            snprintf(fresh[i], sizeof fresh[i], "fresh%u", i);
            /* The copy of the key and at least one node. */
            cr_assert_geq(fail_each(m, op_update, fresh[i], p), 2);
        }
        fail_each(m, op_update, "s7", p); /* replace: no key copy */
        oom_remove = true;
        fail_each(m, op_update, "s9", p);
    }
    const struct hamt *b = hamt_new(HAMT_KEY_BYTES);
    for (unsigned i = 0; i < FRESH_KEYS; i++) {
        bk[i].len = (size_t)snprintf(fresh[i], sizeof fresh[i], "b%u", i);
        bk[i].data = fresh[i];
        if (i % 2 == 0) {
            b = hamt_set(b, &bk[i], V(i));
        }
    }
    for (int p = 0; p < 2; p++) {
        oom_remove = false;
        for (unsigned i = 1; i < FRESH_KEYS; i += 2) {
            cr_assert_geq(fail_each(b, op_update, &bk[i], p), 2);
        }
        fail_each(b, op_update, &bk[4], p);
        oom_remove = true;
        fail_each(b, op_update, &bk[6], p);
    }
}

/* Calls of the alter functions below, to check each call ran fn once. */
static unsigned alter_calls;

static enum hamt_alter_action
counted_set(void *old, bool present, void **new_val, void *ctx)
{
    (void)ctx;
    alter_calls++;
    *new_val = V((uintptr_t)old + (present ? 1 : 1000));
    return HAMT_ALTER_SET;
}

static enum hamt_alter_action
counted_remove(void *old, bool present, void **new_val, void *ctx)
{
    (void)old;
    (void)present;
    (void)new_val;
    (void)ctx;
    alter_calls++;
    return HAMT_ALTER_REMOVE;
}

static int
bop_alter_set(struct hamt_batch *b, const void *key)
{
    return hamt_batch_alter(b, key, counted_set, NULL);
}

static int
bop_alter_remove(struct hamt_batch *b, const void *key)
{
    return hamt_batch_alter(b, key, counted_remove, NULL);
}

/*
 * batch_fail_each() of a hamt_batch_alter() operation: besides the batch
 * being as it was after each failure, fn ran exactly once per call.
 */
static unsigned
batch_alter_fail_each(struct hamt_batch *b, batch_op op, const void *key,
                      bool persistent)
{
    alter_calls = 0;
    unsigned n = batch_fail_each(b, op, key, persistent);
    cr_assert_eq(alter_calls, n, "fn ran %u times in %u calls", alter_calls,
                 n);
    return n;
}

/*
 * hamt_batch_alter() failing at its 1st, 2nd, ... allocation: -1 with
 * ENOMEM, the batch (fresh and partly owned paths alike) and its source
 * unchanged; then it succeeds.  Insert, replace and remove, integer keys
 * and string keys (whose copy is one more failure point).
 */
static void
batch_alter_fails_cleanly(const struct hamt *m, const void *const fresh[],
                          const void *const old[], size_t n)
{
    uint64_t fp = fingerprint(m);

    for (int p = 0; p < 2; p++) {
        struct hamt_batch *b = hamt_batch_begin(m);
        unsigned tried = 0;
        cr_assert_not_null(b);
        /* Owns the paths of old[0], old[2], ... once they are replaced. */
        for (size_t i = 0; i < n; i++) {
            tried += batch_alter_fail_each(b, bop_alter_set, fresh[i], p);
            tried += batch_alter_fail_each(b, bop_alter_set, old[i], p);
            tried += batch_alter_fail_each(b, bop_alter_remove, old[i], p);
        }
        /* Each call allocates on a path the batch does not own yet. */
        cr_assert_geq(tried, 3 * n + n);
        const struct hamt *r = hamt_batch_finish(b);
        cr_assert_eq(hamt__validate(r), 0);
        cr_assert_eq(hamt_size(r), hamt_size(m));
        for (size_t i = 0; i < n; i++) {
            void *v = NULL;
            cr_assert(hamt_get(r, fresh[i], &v));
            cr_assert_eq(v, V(1000));
            cr_assert(!hamt_get(r, old[i], NULL));
        }
        cr_assert_eq(fingerprint(m), fp, "the source map changed");
    }
}

Test(oom, batch_alter_fails_cleanly_at_every_allocation)
{
    enum { N = 8 };
    const void *fresh[N], *old[N];

    for (unsigned i = 0; i < N; i++) {
        fresh[i] = HAMT_U64(100000 + i);
        old[i] = HAMT_U64(i * 311);
    }
    batch_alter_fails_cleanly(big_u64(3000), fresh, old, N);

    static char sfresh[N][16], sold[N][16];
    for (unsigned i = 0; i < N; i++) {
        snprintf(sfresh[i], sizeof sfresh[i], "fresh%u", i);
        snprintf(sold[i], sizeof sold[i], "s%u", i * 211);
        fresh[i] = sfresh[i];
        old[i] = sold[i];
    }
    batch_alter_fails_cleanly(strings_2000(), fresh, old, N);
}

/*
 * The set algebra at a collision node takes a scratch array from malloc
 * (ops.c, sa_cnode) besides its collector allocations.  Its failure is a
 * failure point too: fail_each() tries one point per counted allocation,
 * plus that one, plus the success.  It used to be a plain calloc() that no
 * test could fail.
 */
Test(oom, set_algebra_at_a_collision_node_fails_at_its_scratch_array)
{
    static const op_fn ops[] = {op_merge, op_merge_fn, op_intersect_fn,
                                op_difference};
    const struct hamt *x = tk_empty(), *y = tk_empty();

    for (unsigned i = 0; i < 6; i++) {
        x = hamt_set(x, tk_key(i, 0x55), V(i + 1));
        y = hamt_set(y, tk_key(i + 3, 0x55), V(i + 10));
    }
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        unsigned long before = hamt__alloc_count();
        cr_assert_not_null(ops[i](x, y));
        unsigned long allocs = hamt__alloc_count() - before;
        for (int p = 0; p < 2; p++) {
            cr_assert_eq(fail_each(x, ops[i], y, p), allocs + 2,
                         "op %u: %lu allocations", i, allocs);
        }
    }
}
