/*
 * test/random.c - randomized differential test against a trivial reference
 * map: at least 1,000,000 mixed operations, seed printed, reproducible with
 * HAMT_TEST_SEED=<seed>.  Old versions are kept with their reference copies
 * and re-checked later, so a version that changed is caught too.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "refmap.h"
#include "testkeys.h"

#define V(x) ((void *)(uintptr_t)(x))

static uint64_t
test_seed(void)
{
    const char *s = getenv("HAMT_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);

    fprintf(stderr,
            "random: seed %" PRIu64 " (HAMT_TEST_SEED=%" PRIu64
            " reproduces)\n",
            seed, seed);
    return seed;
}

static void
check_equal(const struct hamt *m, const struct refmap *r, uint64_t kspace,
            const void *(*key)(uint64_t), uint64_t seed)
{
    cr_assert_eq(hamt_size(m), r->size, "size, seed %" PRIu64, seed);
    for (uint64_t k = 0; k < kspace; k++) {
        void *v = NULL, *rv = NULL;
        bool f = hamt_get(m, key(k), &v), rf = ref_get(r, k, &rv);
        cr_assert_eq(f, rf, "key %" PRIu64 " presence, seed %" PRIu64, k, seed);
        cr_assert_eq(v, rv, "key %" PRIu64 " value, seed %" PRIu64, k, seed);
    }
    struct hamt_iter it;
    size_t n = 0;
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, NULL, NULL)) {
        n++;
    }
    cr_assert_eq(n, r->size, "iteration count, seed %" PRIu64, seed);
    cr_assert_eq(hamt__validate(m), 0, "invariants, seed %" PRIu64, seed);
}

static const void *
key_u64(uint64_t k)
{
    return HAMT_U64(k);
}

/* Test keys with 12 hash bits spread over the levels: deep and colliding. */
static const struct tk *narrow[4096];
static const void *
key_narrow(uint64_t k)
{
    return narrow[k];
}

static void
run(const struct hamt *m, uint64_t kspace, unsigned long ops,
    const void *(*key)(uint64_t), uint64_t seed)
{
    enum { KEEP = 8 };
    struct refmap *r = ref_new(kspace);
    const struct hamt *old[KEEP] = {0};
    struct refmap *oldr[KEEP] = {0};
    uint64_t st = seed;

    for (unsigned long i = 0; i < ops; i++) {
        uint64_t x = ref_rand(&st);
        uint64_t k = (x >> 8) % kspace;
        unsigned op = x & 15;
        const struct hamt *n;
        void *v;
        if (op < 7) { /* set */
            void *val = V(x >> 40);
            n = hamt_set(m, key(k), val);
            cr_assert_not_null(n);
            bool same = ref_get(r, k, &v) && v == val;
            cr_assert_eq(n == m, same, "identity rule, op %lu seed %" PRIu64, i,
                         seed);
            ref_set(r, k, val);
            m = n;
        } else if (op < 12) { /* del */
            n = hamt_remove(m, key(k));
            cr_assert_not_null(n);
            cr_assert_eq(n == m, !ref_get(r, k, NULL));
            ref_remove(r, k);
            m = n;
        } else if (op < 15) { /* get */
            void *rv = NULL;
            v = NULL;
            cr_assert_eq(hamt_get(m, key(k), &v), ref_get(r, k, &rv),
                         "get, op %lu seed %" PRIu64, i, seed);
            cr_assert_eq(v, rv);
        } else { /* keep this version, or check a kept one */
            unsigned slot = (unsigned)(x >> 60) % KEEP;
            if (old[slot] != NULL) {
                check_equal(old[slot], oldr[slot], kspace, key, seed);
                cr_assert_eq(
                    hamt_equal(old[slot], m, NULL, NULL),
                    oldr[slot]->size == r->size
                        && memcmp(oldr[slot]->present, r->present, kspace) == 0
                        && memcmp(oldr[slot]->val, r->val,
                                  kspace * sizeof(void *))
                               == 0);
                ref_free(oldr[slot]);
            }
            old[slot] = m;
            oldr[slot] = ref_clone(r);
        }
        if (i % 65536 == 0) {
            check_equal(m, r, kspace, key, seed);
        }
    }
    check_equal(m, r, kspace, key, seed);
    for (unsigned s = 0; s < KEEP; s++) {
        if (old[s] != NULL) {
            check_equal(old[s], oldr[s], kspace, key, seed);
            ref_free(oldr[s]);
        }
    }
    ref_free(r);
}

Test(random, million_mixed_u64_ops_match_reference, .timeout = 600)
{
    uint64_t seed = test_seed();

    run(hamt_new(HAMT_KEY_U64), 3000, 1000000, key_u64, seed);
}

/* The same on a map whose values are scalars: pointer-free leaves. */
Test(random, scalar_map_ops_match_reference, .timeout = 600)
{
    uint64_t seed = test_seed();

    run(hamt_new_scalar(HAMT_KEY_U64), 3000, 300000, key_u64, seed);
}

Test(random, narrow_hashes_deep_paths_and_collisions_match_reference,
     .timeout = 600)
{
    uint64_t seed = test_seed(), st = seed ^ 0xabcdef;

    for (uint64_t k = 0; k < 4096; k++) {
        /* 12 random bits placed at shifts 0, 30 and 60: few distinct hashes. */
        uint64_t b = ref_rand(&st) & 0xfff;
        uint64_t h = (b & 0xf) | ((b >> 4 & 0xf) << 30) | ((b >> 8) << 60);
        narrow[k] = tk_key(k, h);
    }
    run(tk_empty(), 4096, 300000, key_narrow, seed);
}

/* ---- colliding keys (issue 17): collision trees and collision nodes ---- */

/*
 * Most keys share one hash; some share it but for the top bit (the same
 * path down to the last level, a separate collision group), a few differ
 * at the first level.  With tk_empty_ordered() the groups are collision
 * trees, with tk_empty() collision nodes.
 */
#define NCOLL 512
static const struct tk *coll[NCOLL];

static const void *
key_coll(uint64_t k)
{
    return coll[k];
}

static void
make_coll(void)
{
    for (uint64_t k = 0; k < NCOLL; k++) {
        uint64_t h = k % 7 == 3    ? 0x55 ^ (UINT64_C(1) << 63)
                     : k % 31 == 5 ? 0x66 + k
                                   : 0x55;
        coll[k] = tk_key(k, h);
    }
}

static uint64_t
coll_id(const void *key)
{
    return ((const struct tk *)key)->id;
}

/* Checks hamt_diff(a, b) against the reference maps ra, rb. */
struct diff_check {
    const struct refmap *ra, *rb;
    size_t calls;
};

static int
diff_check_fn(const void *key, void *va, void *vb, enum hamt_diff_kind kind,
              void *ctx)
{
    struct diff_check *dc = ctx;
    uint64_t k = coll_id(key);
    void *xa = NULL, *xb = NULL;
    bool ina = ref_get(dc->ra, k, &xa), inb = ref_get(dc->rb, k, &xb);

    dc->calls++;
    if (kind == HAMT_DIFF_ADDED) {
        cr_assert(!ina && inb && vb == xb && va == NULL, "added k%lu",
                  (unsigned long)k);
    } else if (kind == HAMT_DIFF_REMOVED) {
        cr_assert(ina && !inb && va == xa && vb == NULL, "removed k%lu",
                  (unsigned long)k);
    } else {
        cr_assert(ina && inb && va == xa && vb == xb && xa != xb,
                  "changed k%lu", (unsigned long)k);
    }
    return 0;
}

static enum hamt_conflict_action
sum_conflict(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key;
    (void)ctx;
    *out = V((uintptr_t)va + (uintptr_t)vb);
    return HAMT_CONFLICT_COMBINE;
}

static enum hamt_alter_action
bump(void *old, bool present, void **nv, void *ctx)
{
    (void)ctx;
    if (present && ((uintptr_t)old & 3) == 0) {
        return HAMT_ALTER_REMOVE;
    }
    *nv = V((uintptr_t)old + 1);
    return HAMT_ALTER_SET;
}

/* hamt_diff, hamt_equal and the set algebra of a and b against the refs. */
static void
check_pair(const struct hamt *a, const struct refmap *ra, const struct hamt *b,
           const struct refmap *rb, uint64_t seed)
{
    struct diff_check dc = {.ra = ra, .rb = rb};
    size_t ndiff = 0;
    bool same = true;
    struct refmap *mg = ref_new(NCOLL), *mgf = ref_new(NCOLL);
    struct refmap *is = ref_new(NCOLL), *df = ref_new(NCOLL);

    for (uint64_t k = 0; k < NCOLL; k++) {
        void *xa = NULL, *xb = NULL;
        bool ina = ref_get(ra, k, &xa), inb = ref_get(rb, k, &xb);
        if (ina != inb || (ina && xa != xb)) {
            ndiff++;
            same = false;
        }
        if (ina || inb) {
            ref_set(mg, k, ina ? xa : xb);
            ref_set(mgf, k,
                    ina && inb ? V((uintptr_t)xa + (uintptr_t)xb)
                    : ina      ? xa
                               : xb);
        }
        if (ina && inb) {
            ref_set(is, k, V((uintptr_t)xa + (uintptr_t)xb));
        }
        if (ina && !inb) {
            ref_set(df, k, xa);
        }
    }
    cr_assert_eq(hamt_diff(a, b, NULL, diff_check_fn, &dc), 0);
    cr_assert_eq(dc.calls, ndiff, "diff calls, seed %" PRIu64, seed);
    cr_assert_eq(hamt_equal(a, b, NULL, NULL), same ? 1 : 0,
                 "equal, seed %" PRIu64, seed);
    check_equal(hamt_merge(a, b, NULL, NULL), mg, NCOLL, key_coll, seed);
    check_equal(hamt_merge(a, b, sum_conflict, NULL), mgf, NCOLL, key_coll,
                seed);
    check_equal(hamt_intersect(a, b, sum_conflict, NULL), is, NCOLL, key_coll,
                seed);
    check_equal(hamt_subtract(a, b), df, NCOLL, key_coll, seed);
    ref_free(mg);
    ref_free(mgf);
    ref_free(is);
    ref_free(df);
}

/*
 * Rounds of batches (set, set_many, del, update_key) on colliding keys,
 * each finished version checked against the reference, then diffed,
 * compared and combined with the version before it.
 */
static void
run_bulk(const struct hamt *m, unsigned rounds, uint64_t seed)
{
    struct refmap *r = ref_new(NCOLL);
    uint64_t st = seed;

    for (unsigned round = 0; round < rounds; round++) {
        const struct hamt *prev = m;
        struct refmap *rprev = ref_clone(r);
        struct hamt_batch *b = hamt_batch_begin(m);
        unsigned nops = 1 + (unsigned)(ref_rand(&st) % 300);
        cr_assert_not_null(b);
        for (unsigned i = 0; i < nops; i++) {
            uint64_t x = ref_rand(&st), k = (x >> 8) % NCOLL;
            switch (x & 7) {
            case 0:
            case 1:
            case 2: {
                void *val = V((x >> 40) | 1);
                cr_assert_geq(hamt_batch_set(b, key_coll(k), val), 0);
                ref_set(r, k, val);
                break;
            }
            case 3: {
                const void *ks[8];
                void *vs[8];
                size_t g = 1 + (x >> 20) % 8, done;
                for (size_t j = 0; j < g; j++) {
                    uint64_t kj = (k + j * 37) % NCOLL;
                    ks[j] = key_coll(kj);
                    vs[j] = V(((x >> 40) + j) | 1);
                    ref_set(r, kj, vs[j]);
                }
                cr_assert_eq(hamt_batch_set_many(b, g, ks, vs, &done), 0);
                cr_assert_eq(done, g);
                break;
            }
            case 4:
            case 5:
                cr_assert_geq(hamt_batch_remove(b, key_coll(k)), 0);
                ref_remove(r, k);
                break;
            case 6: {
                void *old = NULL;
                bool present = ref_get(r, k, &old);
                cr_assert_eq(hamt_batch_alter(b, key_coll(k), bump, NULL), 0);
                if (present && ((uintptr_t)old & 3) == 0) {
                    ref_remove(r, k);
                } else {
                    ref_set(r, k, V((uintptr_t)old + 1));
                }
                break;
            }
            default: {
                void *v = NULL, *rv = NULL;
                cr_assert_eq(hamt_batch_get(b, key_coll(k), &v),
                             ref_get(r, k, &rv), "batch get, seed %" PRIu64,
                             seed);
                cr_assert_eq(v, rv);
                cr_assert_eq(hamt_batch_size(b), r->size);
                break;
            }
            }
        }
        m = hamt_batch_finish(b);
        check_equal(m, r, NCOLL, key_coll, seed);
        check_equal(prev, rprev, NCOLL, key_coll, seed); /* unchanged */
        check_pair(prev, rprev, m, r, seed);
        check_pair(m, r, prev, rprev, seed);
        /* Persistent updates on top, checked the same way. */
        const struct hamt *p = m;
        for (unsigned i = 0; i < 20; i++) {
            uint64_t x = ref_rand(&st), k = (x >> 8) % NCOLL;
            p = x & 1 ? hamt_set(p, key_coll(k), V(x >> 40))
                      : hamt_alter(p, key_coll(k), bump, NULL);
            cr_assert_not_null(p);
        }
        ref_free(rprev);
    }
    ref_free(r);
}

Test(random, colliding_keys_with_an_order_match_reference, .timeout = 600)
{
    uint64_t seed = test_seed();

    make_coll();
    run(tk_empty_ordered(), NCOLL, 200000, key_coll, seed);
    run_bulk(tk_empty_ordered(), 60, seed);
}

Test(random, colliding_keys_without_an_order_match_reference, .timeout = 600)
{
    uint64_t seed = test_seed();

    make_coll();
    run(tk_empty(), NCOLL, 100000, key_coll, seed);
    run_bulk(tk_empty(), 60, seed);
}
