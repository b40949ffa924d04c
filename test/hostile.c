/*
 * test/hostile.c - keys chosen to hurt: every key with the same
 * hash, keys sharing long hash prefixes (the deepest paths), and the public
 * functions test/api.c does not already cover called with NULL or otherwise
 * invalid arguments (EINVAL or a documented no-op, never a crash).  The
 * cell's functions are covered by test/cell.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "internal.h"
#include "testkeys.h"

/* ---- one hash for every key ---- */

/*
 * One collision node is a flat array, so n keys cost O(n^2): 100,000 keys
 * take minutes (several more under the sanitizers).  make check uses 5,000;
 * HAMT_HOSTILE_KEYS=100000 test/hostile runs the full size.
 */
static unsigned
nsame(void)
{
    const char *e = getenv("HAMT_HOSTILE_KEYS");
    unsigned long n = e ? strtoul(e, NULL, 10) : 0;

    return n >= 4 && n <= 10000000 ? (unsigned)n : 5000u;
}

static uint64_t
same_hash(const void *k, void *c)
{
    (void)k;
    (void)c;
    return 0x5a5a5a5a5a5a5a5aull;
}

static bool
id_equal(const void *a, const void *b, void *c)
{
    (void)c;
    return *(const uint32_t *)a == *(const uint32_t *)b;
}

static const struct hamt *
same_empty(void)
{
    struct hamt_key_type kt = {
        .size = sizeof kt,
        .hash = same_hash,
        .equal = id_equal,
    };
    const struct hamt *e = hamt_new_custom(&kt);

    cr_assert_not_null(e);
    return e;
}

static uint32_t *
ids(unsigned n)
{
    uint32_t *k = malloc(n * sizeof *k);

    cr_assert_not_null(k);
    for (unsigned i = 0; i < n; i++) {
        k[i] = i;
    }
    return k;
}

static void *
val_of(uint32_t id)
{
    return (void *)(uintptr_t)(id * 2u + 1u);
}

static unsigned long id_compares;

static int
id_compare(const void *a, const void *b, void *c)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    (void)c;
    id_compares++;
    return (x > y) - (x < y);
}

static const struct hamt *
same_empty_ordered(void)
{
    struct hamt_key_type kt = {
        .size = sizeof kt,
        .hash = same_hash,
        .equal = id_equal,
        .compare = id_compare,
    };
    const struct hamt *e = hamt_new_custom(&kt);

    cr_assert_not_null(e);
    return e;
}

static void many_equal_hashes(const struct hamt *empty, unsigned NSAME);

/* Many keys (100,000 with HAMT_HOSTILE_KEYS) with one hash: exact. */
Test(hostile, many_equal_hashes_set_get_del_iterate, .timeout = 3600)
{
    many_equal_hashes(same_empty(), nsame());
}

/*
 * The same with an order: a collision tree, O(log n) compare calls per
 * operation, so 20,000 keys are the default here (HAMT_HOSTILE_KEYS sets
 * both tests' size).  An AVL tree of n keys
 * is at most 1.44 log2(n + 2) deep, so no lookup may take more compares.
 */
Test(hostile, many_equal_hashes_with_an_order_cost_log_n, .timeout = 3600)
{
    const char *e = getenv("HAMT_HOSTILE_KEYS");
    unsigned n = e != NULL ? nsame() : 20000u;
    unsigned long bound = 2;

    for (unsigned long x = (unsigned long)n + 2; x > 1; x >>= 1) {
        bound += 3; /* 1.5 per bit of n, rounded up */
    }
    bound /= 2;
    many_equal_hashes(same_empty_ordered(), n);

    uint32_t *k = ids(n);
    const struct hamt *m = same_empty_ordered();
    struct hamt_batch *b = hamt_batch_begin(m);
    for (unsigned i = 0; i < n; i++) {
        /* Ascending ids: a plain search tree would degenerate. */
        cr_assert_eq(hamt_batch_set(b, &k[i], val_of(i)), 0);
    }
    m = hamt_batch_finish(b);
    cr_assert_eq(hamt__validate(m), 0);
    for (unsigned i = 0; i < n; i += 7) {
        uint32_t probe = i;
        unsigned long c0 = id_compares;
        cr_assert(hamt_get(m, &probe, NULL));
        cr_assert_leq(id_compares - c0, bound, "key %u: %lu compares", i,
                      id_compares - c0);
        c0 = id_compares;
        cr_assert_not_null(hamt_remove(m, &probe));
        cr_assert_leq(id_compares - c0, bound, "del %u", i);
    }
    free(k);
}

static void
many_equal_hashes(const struct hamt *empty, unsigned NSAME)
{
    uint32_t *k = ids(NSAME);
    uint32_t probe;
    const struct hamt *m = empty;
    const struct hamt *e = m;
    const struct hamt *half = NULL;
    unsigned char *seen = calloc(NSAME, 1);
    struct hamt_iter it;
    const void *key;
    void *v;
    size_t n = 0;

    for (unsigned i = 0; i < NSAME; i++) {
        m = hamt_set(m, &k[i], val_of(i));
        cr_assert_not_null(m);
        if (i + 1 == NSAME / 2) {
            half = m;
        }
    }
    cr_assert_eq(hamt_size(m), NSAME);
    cr_assert_eq(hamt__validate(m), 0);
    for (unsigned i = 0; i < NSAME; i++) {
        probe = i; /* a different pointer to an equal key */
        cr_assert(hamt_get(m, &probe, &v), "key %u", i);
        cr_assert_eq(v, val_of(i));
    }
    probe = NSAME;
    cr_assert(!hamt_get(m, &probe, NULL));
    cr_assert_eq(hamt_set(m, &k[7], val_of(7)), m, "no-op returns m");
    cr_assert_eq(hamt_remove(m, &probe), m, "absent key returns m");

    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &key, &v)) {
        uint32_t id = *(const uint32_t *)key;
        cr_assert_lt(id, NSAME);
        cr_assert(!seen[id], "key %u twice", id);
        seen[id] = 1;
        cr_assert_eq(v, val_of(id));
        n++;
    }
    cr_assert_eq(n, NSAME);

    /* Remove the odd keys, then everything; the old versions stay intact. */
    const struct hamt *d = m;
    for (unsigned i = 1; i < NSAME; i += 2) {
        d = hamt_remove(d, &k[i]);
        cr_assert_not_null(d);
    }
    cr_assert_eq(hamt_size(d), NSAME / 2);
    cr_assert_eq(hamt__validate(d), 0);
    for (unsigned i = 0; i < NSAME; i++) {
        cr_assert_eq(hamt_contains(d, &k[i]), i % 2 == 0, "key %u", i);
    }
    for (unsigned i = 0; i < NSAME; i += 2) {
        d = hamt_remove(d, &k[i]);
        cr_assert_not_null(d);
    }
    cr_assert_eq(d, e, "removing every key gives the empty map");
    cr_assert_eq(hamt_size(m), NSAME);
    cr_assert_eq(hamt_size(half), NSAME / 2);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt__validate(half), 0);
    cr_assert(hamt_contains(half, &k[NSAME / 2 - 1]));
    cr_assert(!hamt_contains(half, &k[NSAME / 2]));
    free(seen);
}

/* Collision nodes at every size from 2 to 64, growing and shrinking. */
Test(hostile, collision_node_behaves_at_every_size)
{
    uint32_t *k = ids(64);
    const struct hamt *v[65];

    v[0] = same_empty();
    for (unsigned n = 1; n <= 64; n++) {
        v[n] = hamt_set(v[n - 1], &k[n - 1], val_of(n - 1));
        cr_assert_not_null(v[n]);
    }
    for (unsigned n = 0; n <= 64; n++) {
        cr_assert_eq(hamt__validate(v[n]), 0);
        cr_assert_eq(hamt_size(v[n]), n);
        for (unsigned i = 0; i < 64; i++) {
            cr_assert_eq(hamt_contains(v[n], &k[i]), i < n);
        }
        /* Shrinking back from the full node reaches an equal map. */
        const struct hamt *s = v[64];
        for (unsigned i = n; i < 64; i++) {
            s = hamt_remove(s, &k[i]);
        }
        cr_assert_eq(hamt_equal(s, v[n], NULL, NULL), 1, "size %u", n);
        cr_assert_eq(hamt__validate(s), 0);
    }
}

/* ---- long shared hash prefixes ---- */

/* Deepest brace nesting of a debug shape: R, bitmap levels, collisions. */
static int
shape_depth(const char *s)
{
    int d = 0, max = 0;

    for (; *s; s++) {
        if (*s == '{') {
            d++;
            if (d > max) {
                max = d;
            }
        } else if (*s == '}') {
            d--;
        }
    }
    return max;
}

static int
map_depth(const struct hamt *m)
{
    char *s = hamt__debug_shape(m, tk_label);
    int d;

    cr_assert_not_null(s);
    d = shape_depth(s);
    free(s);
    return d;
}

/*
 * Hashes equal in their low 60 bits (the first twelve 5-bit levels) and
 * different in the top 4 bits meet only at the last bitmap level: the path
 * is root + 12 bitmap nodes.  Equal full hashes add the collision node.
 */
Test(hostile, shared_prefixes_take_the_deepest_path_and_no_deeper)
{
    const uint64_t low = 0x0123456789abcdefull & ((1ull << 60) - 1);
    uint64_t h[6] = {
        low,
        low | (1ull << 60),
        low | (15ull << 60),
        low | (15ull << 60), /* full collision with the previous key */
        low ^ (1ull << 55),  /* splits at level 11 */
        low ^ 1,             /* splits at the root */
    };
    const struct hamt *m = tk_map(6, h);

    cr_assert_not_null(m);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt_size(m), 6);
    /* R{ N{ ... 12 levels ... C{..} } }: root + 12 bitmap + collision. */
    cr_assert_eq(map_depth(m), 1 + (HAMT_LEVELS - 1) + 1, "%s", tk_shape(m));
    cr_assert_leq(map_depth(m), HAMT_ITER_DEPTH);

    /* Removing the colliding key collapses the path canonically. */
    const struct hamt *m2 = hamt_remove(m, tk_key(3, h[3]));
    cr_assert_not_null(m2);
    cr_assert_eq(hamt__validate(m2), 0);
    cr_assert_eq(map_depth(m2), HAMT_LEVELS, "%s", tk_shape(m2));
    cr_assert_eq(map_depth(m), 1 + (HAMT_LEVELS - 1) + 1, "old unchanged");
}

/* Many keys on deep paths: validate and the depth bound at every step. */
Test(hostile, many_deep_keys_keep_the_depth_bound)
{
    uint64_t h[200];

    for (unsigned i = 0; i < 200; i++) {
        /* 5 distinct top nibbles, 40 distinct level-11 fragments, 5 equal
         * full hashes each, all sharing the low 55 bits. */
        h[i] = 0x00abcdef01234567ull | ((uint64_t)(i % 5) << 60)
               | ((uint64_t)((i / 5) % 8) << 55);
    }
    const struct hamt *m = tk_map(200, h);
    cr_assert_not_null(m);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt_size(m), 200);
    cr_assert_leq(map_depth(m), 1 + HAMT_LEVELS, "%s", tk_shape(m));
    for (unsigned i = 0; i < 200; i++) {
        void *v;
        cr_assert(hamt_get(m, tk_key(i, h[i]), &v));
    }
    for (unsigned i = 0; i < 200; i += 3) {
        m = hamt_remove(m, tk_key(i, h[i]));
        cr_assert_not_null(m);
        cr_assert_eq(hamt__validate(m), 0);
        cr_assert_leq(map_depth(m), 1 + HAMT_LEVELS);
    }
}

/* ---- invalid arguments not covered by test/api.c ---- */

static int
count_fn(const void *k, void *v, void *c)
{
    (void)k;
    (void)v;
    ++*(int *)c;
    return 0;
}

static int
diff_fn(const void *k, void *o, void *n, enum hamt_diff_kind kd, void *c)
{
    (void)k;
    (void)o;
    (void)n;
    (void)kd;
    (void)c;
    return 0;
}

static enum hamt_conflict_action
bad_conflict(const void *k, void *va, void *vb, void **out, void *c)
{
    (void)k;
    (void)va;
    (void)vb;
    (void)out;
    (void)c;
    return (enum hamt_conflict_action)77;
}

Test(hostile, get_many_finds_nothing_for_null_and_invalid_arguments)
{
    const struct hamt *u = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);
    const struct hamt *s = hamt_set(hamt_new(HAMT_KEY_STRING), "a", NULL);
    const void *keys[2] = {HAMT_U64(1), HAMT_U64(2)};
    const void *skeys[2] = {"a", NULL};
    bool found[2] = {true, true};

    EXPECT_QUIET(hamt_get_many(NULL, 2, keys, NULL, found), 0);
    cr_assert(!found[0] && !found[1], "found[] cleared");
    EXPECT_QUIET(hamt_get_many(u, 2, NULL, NULL, found), 0);
    EXPECT_QUIET(hamt_get_many(u, 2, keys, NULL, NULL), 0);
    found[0] = true;
    EXPECT_QUIET(hamt_get_many(s, 2, skeys, NULL, found), 0);
    cr_assert(!found[0] && !found[1], "found[] cleared");
    /* n = 0 is a no-op, whatever the arrays. */
    errno = 0;
    cr_assert_eq(hamt_get_many(u, 0, NULL, NULL, NULL), 0);
    cr_assert_eq(errno, 0);
    cr_assert_eq(hamt_get_many(u, 2, keys, NULL, found), 1);
}

Test(hostile, contains_never_finds_a_null_string_key)
{
    EXPECT_QUIET(hamt_contains(hamt_new(HAMT_KEY_STRING), NULL), false);
    EXPECT_QUIET(hamt_contains(hamt_new(HAMT_KEY_BYTES), NULL), false);
}

Test(hostile, foreach_rejects_null_map_and_function)
{
    int n = 0;
    const struct hamt *u = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);

    EXPECT_EINVAL(hamt_foreach(NULL, count_fn, &n), -1);
    EXPECT_EINVAL(hamt_foreach(u, NULL, &n), -1);
    cr_assert_eq(n, 0);
    cr_assert_eq(hamt_foreach(u, count_fn, &n), 0);
    cr_assert_eq(n, 1);
}

Test(hostile, iterating_a_null_map_yields_nothing)
{
    struct hamt_iter it;
    const void *k = (void *)1;
    void *v = (void *)1;

    hamt_iter_init(&it, NULL);
    cr_assert(!hamt_iter_next(&it, &k, &v));
    cr_assert(!hamt_iter_next(&it, NULL, NULL), "stays done");
}

Test(hostile, set_seed_rejects_null)
{
    EXPECT_EINVAL(hamt_set_seed(NULL), -1);
}

Test(hostile, maps_of_different_key_types_are_never_equal)
{
    EXPECT_QUIET(
        hamt_equal(hamt_new(HAMT_KEY_U64), hamt_new(HAMT_KEY_PTR), NULL, NULL),
        false);
    EXPECT_QUIET(hamt_equal(hamt_new(HAMT_KEY_U64), same_empty(), NULL, NULL),
                 false);
}

Test(hostile, structural_operations_reject_null_and_mixed_maps)
{
    const struct hamt *u = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);
    const struct hamt *p = hamt_new(HAMT_KEY_PTR);

    EXPECT_EINVAL(hamt_diff(NULL, u, NULL, diff_fn, NULL), -1);
    EXPECT_EINVAL(hamt_diff(u, NULL, NULL, diff_fn, NULL), -1);
    EXPECT_EINVAL(hamt_diff(u, u, NULL, NULL, NULL), -1);
    EXPECT_EINVAL(hamt_diff(u, p, NULL, diff_fn, NULL), -1);
    EXPECT_EINVAL(hamt_merge(NULL, u, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_merge(u, NULL, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_merge(u, p, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_intersect(NULL, u, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_intersect(u, NULL, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_intersect(u, p, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_subtract(NULL, u), NULL);
    EXPECT_EINVAL(hamt_subtract(u, NULL), NULL);
    EXPECT_EINVAL(hamt_subtract(u, p), NULL);
}

Test(hostile, merge_and_intersect_reject_an_unknown_conflict_action)
{
    const struct hamt *a =
        hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), (void *)1);
    const struct hamt *b =
        hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), (void *)2);

    EXPECT_EINVAL(hamt_merge(a, b, bad_conflict, NULL), NULL);
    EXPECT_EINVAL(hamt_intersect(a, b, bad_conflict, NULL), NULL);
    cr_assert_eq(hamt_size(a), 1);
    cr_assert_eq(hamt__validate(a), 0);
}
