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

    fprintf(stderr, "random: seed %" PRIu64 " (HAMT_TEST_SEED=%" PRIu64
                    " reproduces)\n", seed, seed);
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
            cr_assert_eq(n == m, same, "identity rule, op %lu seed %" PRIu64,
                         i, seed);
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
                cr_assert_eq(hamt_equal(old[slot], m, NULL, NULL),
                             oldr[slot]->size == r->size &&
                                 memcmp(oldr[slot]->present, r->present,
                                        kspace) == 0 &&
                                 memcmp(oldr[slot]->val, r->val,
                                        kspace * sizeof(void *)) == 0);
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
