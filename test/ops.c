/*
 * test/ops.c - whole-map operations: hamt_alter, hamt_diff, hamt_merge,
 * hamt_intersect, hamt_subtract.  Randomized runs against the reference
 * map (seed printed), on integer keys and on test keys whose hashes share
 * few bits (deep paths, full collisions, entry-against-subtree shapes).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifndef HAMT_NO_GC
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif
#include "refmap.h"
#include "testkeys.h"

#define V(x) ((void *)(uintptr_t)(x))
#define CAP 600

/* A key space: integer keys, or test keys with colliding hashes. */
struct space {
    const struct hamt *empty;
    const void *key[CAP];
    bool tk;
};

static uint64_t
space_id(const struct space *s, const void *k)
{
    return s->tk ? ((const struct tk *)k)->id : HAMT_AS_U64(k);
}

static void
space_init(struct space *s, bool tk, uint64_t *seed)
{
    s->tk = tk;
    s->empty = tk ? tk_empty() : hamt_new(HAMT_KEY_U64);
    for (uint64_t i = 0; i < CAP; i++) {
        /* Few distinct hash bits: collision nodes and deep paths. */
        s->key[i] = tk ? (const void *)tk_key(
                        i, ref_rand(seed) & UINT64_C(0x800000000000003f))
                       : HAMT_U64(i);
    }
}

/* hamt_get() as ref_mismatch() calls it. */
static bool
get_map(const void *m, const void *key, void **val)
{
    return hamt_get(m, key, val);
}

/* m holds exactly r's bindings, and is canonical. */
static void
check_same(const struct space *s, const struct hamt *m, const struct refmap *r)
{
    cr_assert_not_null(m);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt_size(m), r->size);
    cr_assert_eq(ref_mismatch(r, s->key, get_map, m), -1, "a key differs");
}

/* Applies n random sets and dels (values 1..4, often equal) to m and r. */
static const struct hamt *
mutate(const struct space *s, const struct hamt *m, struct refmap *r,
       unsigned n, unsigned range, uint64_t *seed)
{
    for (unsigned j = 0; j < n; j++) {
        uint64_t x = ref_rand(seed);
        uint64_t k = (x >> 8) % range;
        if (x % 4 == 0) {
            m = hamt_remove(m, s->key[k]);
            ref_remove(r, k);
        } else {
            m = hamt_set(m, s->key[k], V(x % 4 + 1));
            ref_set(r, k, V(x % 4 + 1));
        }
        cr_assert_not_null(m);
    }
    return m;
}

static uint64_t
start_seed(const char *what)
{
    return ref_seed("ops", what);
}

/* ---- update ---- */

Test(ops, update_keep_returns_same_pointer_and_allocates_nothing)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t i = 0; i < 1000; i++) {
        m = hamt_set(m, HAMT_U64(i), V(i + 1));
    }
    unsigned long before = hamt__alloc_count();
    struct ref_upd u = {.act = HAMT_ALTER_KEEP};
    cr_assert_eq(hamt_alter(m, HAMT_U64(7), ref_upd_fn, &u), m);
    cr_assert(u.seen_present);
    cr_assert_eq(u.seen_old, V(8));
    cr_assert_eq(hamt_alter(m, HAMT_U64(5000), ref_upd_fn, &u), m);
    cr_assert(!u.seen_present);
    cr_assert_null(u.seen_old);
    u = (struct ref_upd){.act = HAMT_ALTER_SET, .val = V(8)};
    cr_assert_eq(hamt_alter(m, HAMT_U64(7), ref_upd_fn, &u), m);
    u = (struct ref_upd){.act = HAMT_ALTER_REMOVE};
    cr_assert_eq(hamt_alter(m, HAMT_U64(5000), ref_upd_fn, &u), m);
    cr_assert_eq(u.calls, 1);
    cr_assert_eq(hamt__alloc_count(), before);
}

Test(ops, update_replaces_inserts_and_removes)
{
    const struct hamt *m0 =
        hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(10));
    struct ref_upd u = {.act = HAMT_ALTER_SET, .val = V(11)};
    const struct hamt *m1 = hamt_alter(m0, HAMT_U64(1), ref_upd_fn, &u);
    void *v;

    cr_assert(hamt_get(m1, HAMT_U64(1), &v));
    cr_assert_eq(v, V(11));
    cr_assert(hamt_get(m0, HAMT_U64(1), &v));
    cr_assert_eq(v, V(10));
    u.val = V(20);
    const struct hamt *m2 = hamt_alter(m1, HAMT_U64(2), ref_upd_fn, &u);
    cr_assert_eq(hamt_size(m2), 2);
    u.act = HAMT_ALTER_REMOVE;
    const struct hamt *m3 = hamt_alter(m2, HAMT_U64(1), ref_upd_fn, &u);
    cr_assert_eq(hamt_size(m3), 1);
    cr_assert(!hamt_contains(m3, HAMT_U64(1)));
    cr_assert_eq(hamt_alter(m3, HAMT_U64(2), ref_upd_fn, &u),
                 hamt_new(HAMT_KEY_U64));
}

Test(ops, update_rejects_bad_arguments)
{
    struct ref_upd u = {.act = (enum hamt_alter_action)42};
    const struct hamt *m = hamt_new(HAMT_KEY_STRING);

    errno = 0;
    cr_assert_null(hamt_alter(NULL, "a", ref_upd_fn, &u));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_alter(m, "a", NULL, &u));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_alter(m, NULL, ref_upd_fn, &u));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_alter(m, "a", ref_upd_fn, &u));
    cr_assert_eq(errno, EINVAL);
}

Test(ops, update_randomized_against_reference)
{
    uint64_t seed = start_seed("update");
    for (int tk = 0; tk < 2; tk++) {
        static struct space s;
        space_init(&s, tk, &seed);
        struct refmap *r = ref_new(CAP);
        const struct hamt *m = s.empty;
        for (int j = 0; j < 4000; j++) {
            uint64_t x = ref_rand(&seed), k = (x >> 8) % 200;
            struct ref_upd u = {.act = (enum hamt_alter_action)(x % 3),
                                .val = V((x >> 4) % 3 + 1)};
            void *rv = NULL;
            bool rp = ref_get(r, k, &rv);
            const struct hamt *n = hamt_alter(m, s.key[k], ref_upd_fn, &u);
            cr_assert_not_null(n);
            cr_assert_eq(u.seen_present, rp);
            cr_assert_eq(u.seen_old, rp ? rv : NULL);
            bool same = u.act == HAMT_ALTER_KEEP
                        || (u.act == HAMT_ALTER_REMOVE && !rp)
                        || (u.act == HAMT_ALTER_SET && rp && rv == u.val);
            cr_assert_eq(n == m, same);
            if (u.act == HAMT_ALTER_SET) {
                ref_set(r, k, u.val);
            } else if (u.act == HAMT_ALTER_REMOVE) {
                ref_remove(r, k);
            }
            m = n;
            if (j % 500 == 0) {
                check_same(&s, m, r);
            }
        }
        check_same(&s, m, r);
        ref_free(r);
    }
}

/* ---- diff ---- */

struct seen {
    const struct space *s;
    int count[CAP];
    enum hamt_diff_kind kind[CAP];
    void *oldv[CAP], *newv[CAP];
    int total;
};

static int
diff_collect(const void *key, void *old_val, void *new_val,
             enum hamt_diff_kind kind, void *ctx)
{
    struct seen *sn = ctx;
    uint64_t id = space_id(sn->s, key);

    sn->count[id]++;
    sn->kind[id] = kind;
    sn->oldv[id] = old_val;
    sn->newv[id] = new_val;
    sn->total++;
    return 0;
}

/* The diff of a and b reports exactly the differences of ra and rb. */
static void
check_diff(const struct space *s, const struct hamt *a, const struct refmap *ra,
           const struct hamt *b, const struct refmap *rb)
{
    static struct seen sn;

    memset(&sn, 0, sizeof sn);
    sn.s = s;
    cr_assert_eq(hamt_diff(a, b, NULL, diff_collect, &sn), 0);
    for (uint64_t i = 0; i < CAP; i++) {
        void *va = NULL, *vb = NULL;
        bool pa = ref_get(ra, i, &va), pb = ref_get(rb, i, &vb);
        if (pa && pb && va == vb) {
            cr_assert_eq(sn.count[i], 0, "key %llu", (unsigned long long)i);
            continue;
        }
        if (!pa && !pb) {
            cr_assert_eq(sn.count[i], 0);
            continue;
        }
        cr_assert_eq(sn.count[i], 1, "key %llu reported %d times",
                     (unsigned long long)i, sn.count[i]);
        enum hamt_diff_kind want = !pa   ? HAMT_DIFF_ADDED
                                   : !pb ? HAMT_DIFF_REMOVED
                                         : HAMT_DIFF_CHANGED;
        cr_assert_eq(sn.kind[i], want, "key %llu", (unsigned long long)i);
        cr_assert_eq(sn.oldv[i], pa ? va : NULL);
        cr_assert_eq(sn.newv[i], pb ? vb : NULL);
    }
}

Test(ops, diff_randomized_against_reference)
{
    uint64_t seed = start_seed("diff");
    for (int tk = 0; tk < 2; tk++) {
        static struct space s;
        space_init(&s, tk, &seed);
        for (int round = 0; round < 40; round++) {
            unsigned range = round % 2 ? CAP : 40;
            struct refmap *ra = ref_new(CAP);
            const struct hamt *a = mutate(&s, s.empty, ra, 300, range, &seed);
            /* b derived from a (shares subtrees), or built apart. */
            struct refmap *rb = round % 3 ? ref_clone(ra) : ref_new(CAP);
            const struct hamt *b = round % 3 ? a : s.empty;
            b = mutate(&s, b, rb, (unsigned)(ref_rand(&seed) % 60), range,
                       &seed);
            check_same(&s, a, ra);
            check_same(&s, b, rb);
            check_diff(&s, a, ra, b, rb);
            check_diff(&s, b, rb, a, ra);
            check_diff(&s, a, ra, a, ra);
            ref_free(ra);
            ref_free(rb);
        }
    }
}

Test(ops, diff_compares_an_entry_against_a_subtree_and_collisions)
{
    /* k0 inline at the root in a; in b the same fragment holds a subtree. */
    const struct tk *k0 = tk_key(0, 1), *k1 = tk_key(1, 1 | 32),
                    *k2 = tk_key(2, 1), *k3 = tk_key(3, 1);
    const struct hamt *a = hamt_set(tk_empty(), k0, V(1));
    const struct hamt *b = hamt_set(hamt_set(a, k1, V(2)), k0, V(3));
    static struct seen sn;
    struct space s = {.tk = true};

    sn.s = &s;
    cr_assert_eq(hamt_diff(a, b, NULL, diff_collect, &sn), 0);
    cr_assert_eq(sn.total, 2);
    cr_assert_eq(sn.kind[0], HAMT_DIFF_CHANGED);
    cr_assert_eq(sn.kind[1], HAMT_DIFF_ADDED);
    memset(&sn, 0, sizeof sn);
    sn.s = &s;
    cr_assert_eq(hamt_diff(b, a, NULL, diff_collect, &sn), 0);
    cr_assert_eq(sn.total, 2);
    cr_assert_eq(sn.kind[0], HAMT_DIFF_CHANGED);
    cr_assert_eq(sn.kind[1], HAMT_DIFF_REMOVED);
    /* Full collisions: k0, k2, k3 share one hash. */
    const struct hamt *c = hamt_set(hamt_set(a, k2, V(5)), k3, V(6));
    const struct hamt *d = hamt_set(hamt_remove(c, k2), k3, V(7));
    memset(&sn, 0, sizeof sn);
    sn.s = &s;
    cr_assert_eq(hamt_diff(c, d, NULL, diff_collect, &sn), 0);
    cr_assert_eq(sn.total, 2);
    cr_assert_eq(sn.kind[2], HAMT_DIFF_REMOVED);
    cr_assert_eq(sn.kind[3], HAMT_DIFF_CHANGED);
    cr_assert_eq(sn.newv[3], V(7));
}

static bool
val_eq_mod2(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return (uintptr_t)a % 2 == (uintptr_t)b % 2;
}

static int
diff_stop(const void *key, void *old_val, void *new_val,
          enum hamt_diff_kind kind, void *ctx)
{
    (void)key;
    (void)old_val;
    (void)new_val;
    (void)kind;
    /* -1, the value that once read as the walk's own EINVAL. */
    return ++*(int *)ctx == 3 ? -1 : 0;
}

Test(ops, diff_uses_veq_stops_early_and_rejects_bad_arguments)
{
    const struct hamt *a = hamt_new(HAMT_KEY_U64), *b;
    int calls = 0;

    for (uint64_t i = 0; i < 100; i++) {
        a = hamt_set(a, HAMT_U64(i), V(1));
    }
    b = hamt_set(a, HAMT_U64(5), V(3));
    cr_assert_eq(hamt_diff(a, b, val_eq_mod2, diff_stop, &calls), 0);
    cr_assert_eq(calls, 0);
    b = hamt_set(hamt_set(b, HAMT_U64(6), V(2)), HAMT_U64(7), V(2));
    b = hamt_set(hamt_set(b, HAMT_U64(8), V(2)), HAMT_U64(9), V(2));
    errno = 12345;
    cr_assert_eq(hamt_diff(a, b, val_eq_mod2, diff_stop, &calls), 1,
                 "stopped, not failed");
    cr_assert_eq(calls, 3);
    cr_assert_eq(errno, 12345);
    errno = 0;
    cr_assert_eq(
        hamt_diff(a, hamt_new(HAMT_KEY_STRING), NULL, diff_stop, &calls), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_diff(a, NULL, NULL, diff_stop, &calls), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_diff(a, b, NULL, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
}

static int
diff_count(const void *key, void *old_val, void *new_val,
           enum hamt_diff_kind kind, void *ctx)
{
    (void)key;
    (void)old_val;
    (void)new_val;
    (void)kind;
    ++*(int *)ctx;
    return 0;
}

Test(ops, diff_of_1m_key_versions_visits_only_the_changed_paths, .timeout = 120)
{
    enum { N = 1000000 };
    const struct hamt *a = hamt_new(HAMT_KEY_U64), *b;
    int calls = 0;

    for (uint64_t i = 0; i < N; i++) {
        a = hamt_set(a, HAMT_U64(i), V(i));
        cr_assert_not_null(a);
    }
    b = a;
    for (uint64_t i = 0; i < 4; i++) {
        b = hamt_set(b, HAMT_U64(i * 99991), V(1)); /* changed */
    }
    for (uint64_t i = 0; i < 3; i++) {
        b = hamt_set(b, HAMT_U64(N + i * 7), V(1));  /* added */
        b = hamt_remove(b, HAMT_U64(i * 77777 + 5)); /* removed */
    }
    hamt__nodes_visited = 0;
    cr_assert_eq(hamt_diff(a, b, NULL, diff_count, &calls), 0);
    cr_assert_eq(calls, 10);
    printf("ops diff: 2 x %d keys, 10 differences, %lu nodes visited\n", N,
           hamt__nodes_visited);
    cr_assert_leq(hamt__nodes_visited, 300);
}

/* ---- merge, intersect, difference ---- */

static enum hamt_conflict_action policy_of_key;

static enum hamt_conflict_action
conflict_fn(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key;
    (void)ctx;
    *out = V((uintptr_t)va * 10 + (uintptr_t)vb);
    return policy_of_key;
}

/* The expected value of a key in both maps under the current policy. */
static bool
expect_conflict(bool null_fn, void *va, void *vb, void **out)
{
    if (null_fn) {
        *out = va;
        return true;
    }
    switch (policy_of_key) {
    case HAMT_CONFLICT_LEFT:
        *out = va;
        return true;
    case HAMT_CONFLICT_RIGHT:
        *out = vb;
        return true;
    case HAMT_CONFLICT_COMBINE:
        *out = V((uintptr_t)va * 10 + (uintptr_t)vb);
        return true;
    case HAMT_CONFLICT_DROP:
        return false;
    }
    return false;
}

Test(ops, merge_intersect_difference_randomized_against_reference)
{
    uint64_t seed = start_seed("merge");
    for (int tk = 0; tk < 2; tk++) {
        static struct space s;
        space_init(&s, tk, &seed);
        for (int round = 0; round < 90; round++) {
            unsigned range = round % 2 ? CAP : 50;
            bool null_fn = round % 5 == 4;
            policy_of_key = (enum hamt_conflict_action)(round % 4);
            /*
             * Mode 0: unrelated maps; 1: b a later version of a; 2: a and
             * b two versions of a common base (subtrees shared, and new
             * ones on each side).
             */
            int mode = round % 3;
            struct refmap *rc = ref_new(CAP);
            const struct hamt *c =
                mode == 2
                    ? mutate(&s, s.empty, rc, (unsigned)(ref_rand(&seed) % 400),
                             range, &seed)
                    : s.empty;
            struct refmap *ra = ref_clone(rc);
            const struct hamt *a = mutate(
                &s, c, ra, (unsigned)(ref_rand(&seed) % (mode == 2 ? 40 : 400)),
                range, &seed);
            struct refmap *rb = ref_clone(mode == 1 ? ra : rc);
            const struct hamt *b = mode == 1 ? a : c;
            b = mutate(&s, b, rb,
                       (unsigned)(ref_rand(&seed) % (mode == 0 ? 400 : 40)),
                       range, &seed);
            ref_free(rc);
            hamt_conflict_fn fn = null_fn ? NULL : conflict_fn;
            struct refmap *ru = ref_new(CAP), *ri = ref_new(CAP),
                          *rd = ref_new(CAP);
            for (uint64_t i = 0; i < CAP; i++) {
                void *va, *vb, *out;
                bool pa = ref_get(ra, i, &va), pb = ref_get(rb, i, &vb);
                if (pa && pb) {
                    if (expect_conflict(null_fn, va, vb, &out)) {
                        ref_set(ru, i, out);
                        ref_set(ri, i, out);
                    }
                } else if (pa) {
                    ref_set(ru, i, va);
                    ref_set(rd, i, va);
                } else if (pb) {
                    ref_set(ru, i, vb);
                }
            }
            const struct hamt *u = hamt_merge(a, b, fn, NULL);
            const struct hamt *in = hamt_intersect(a, b, fn, NULL);
            const struct hamt *d = hamt_subtract(a, b);
            check_same(&s, u, ru);
            check_same(&s, in, ri);
            check_same(&s, d, rd);
            /* The inputs are untouched. */
            check_same(&s, a, ra);
            check_same(&s, b, rb);
            /* A result equal to an input is that input. */
            cr_assert_eq(u == a || u == b,
                         hamt_equal(u, a, NULL, NULL) == 1
                             || hamt_equal(u, b, NULL, NULL) == 1);
            cr_assert_eq(in == a || in == b,
                         hamt_equal(in, a, NULL, NULL) == 1
                             || hamt_equal(in, b, NULL, NULL) == 1);
            cr_assert_eq(d == a, hamt_equal(d, a, NULL, NULL) == 1);
            ref_free(ra);
            ref_free(rb);
            ref_free(ru);
            ref_free(ri);
            ref_free(rd);
        }
    }
}

/* A key type whose hash is the key: tests choose where keys go. */
static uint64_t
ident_hash(const void *k, void *c)
{
    (void)c;
    return (uint64_t)(uintptr_t)k;
}

static bool
ident_equal(const void *a, const void *b, void *c)
{
    (void)c;
    return a == b;
}

/* Adds keys 32 i + f (i = from .. to-1), all under root fragment f. */
static const struct hamt *
frag_keys(const struct hamt *m, unsigned f, unsigned from, unsigned to,
          uintptr_t val)
{
    for (unsigned i = from; i < to; i++) {
        m = hamt_set(m, (const void *)(uintptr_t)(32 * i + f), V(val));
        cr_assert_not_null(m);
    }
    return m;
}

static unsigned long
allocs_since(unsigned long before)
{
    return hamt__alloc_count() - before;
}

/*
 * Subtrees that only one input holds are taken from it by pointer, whichever
 * side it is: the results below need a new root and nothing else.
 */
Test(ops, set_algebra_shares_the_subtrees_of_both_inputs)
{
    struct hamt_key_type kt = {
        .size = sizeof kt,
        .hash = ident_hash,
        .equal = ident_equal,
    };
    const struct hamt *e = hamt_new_custom(&kt);
    cr_assert_not_null(e);
    const struct hamt *a = frag_keys(e, 1, 1, 501, 1);
    const struct hamt *b = frag_keys(e, 2, 1, 301, 2);
    unsigned long t = hamt__alloc_count();

    const struct hamt *u = hamt_merge(a, b, NULL, NULL);
    cr_assert_eq(allocs_since(t), 1);
    cr_assert_eq(hamt_size(u), 800);
    cr_assert_eq(hamt__validate(u), 0);
    t = hamt__alloc_count();
    cr_assert_eq(hamt_size(hamt_merge(b, a, NULL, NULL)), 800);
    cr_assert_eq(allocs_since(t), 1);

    /*
     * Taking b back out of the union: a new root over a's subtree; and the
     * union's part in b is b's subtree under a root like b's: b itself.
     */
    t = hamt__alloc_count();
    const struct hamt *d = hamt_subtract(u, b);
    cr_assert_eq(allocs_since(t), 1);
    cr_assert_eq(hamt_equal(d, a, NULL, NULL), 1);
    cr_assert_eq(hamt_size(d), 500);
    t = hamt__alloc_count();
    cr_assert_eq(hamt_intersect(u, b, NULL, NULL), b);
    cr_assert_eq(allocs_since(t), 0);

    /*
     * Two versions of a, each with new keys at its own place under
     * fragment 1 (level-1 fragments 3 and 4): the merge copies the root
     * and the fragment-1 node, and takes each new subtree from its side.
     */
    const struct hamt *x = frag_keys(a, 1, 32 * 40 + 3, 32 * 40 + 4, 7);
    x = frag_keys(x, 1, 32 * 41 + 3, 32 * 41 + 4, 7);
    const struct hamt *y = frag_keys(a, 1, 32 * 40 + 4, 32 * 40 + 5, 8);
    y = frag_keys(y, 1, 32 * 41 + 4, 32 * 41 + 5, 8);
    t = hamt__alloc_count();
    const struct hamt *xy = hamt_merge(x, y, NULL, NULL);
    cr_assert_eq(allocs_since(t), 2, "%lu allocations", allocs_since(t));
    cr_assert_eq(hamt_size(xy), 504);
    cr_assert_eq(hamt__validate(xy), 0);
    void *v;
    cr_assert(
        hamt_get(xy, (const void *)(uintptr_t)(32 * (32 * 41 + 4) + 1), &v));
    cr_assert_eq(v, V(8));
    /*
     * One version minus the other: y's two new keys, which share root
     * fragment 1 and level-1 fragment 4: a root, a chain node and a node
     * of two entries, and no more.
     */
    t = hamt__alloc_count();
    const struct hamt *yx = hamt_subtract(y, x);
    cr_assert_eq(allocs_since(t), 3);
    cr_assert_eq(hamt_size(yx), 2);
    cr_assert_eq(hamt__validate(yx), 0);
}

Test(ops, set_algebra_returns_inputs_and_shares_subtrees)
{
    const struct hamt *e = hamt_new(HAMT_KEY_U64), *a = e, *small = e;

    for (uint64_t i = 0; i < 20000; i++) {
        a = hamt_set(a, HAMT_U64(i), V(i + 1));
    }
    for (uint64_t i = 0; i < 50; i++) {
        small = hamt_set(small, HAMT_U64(i * 13), V(i * 13 + 1));
    }
    cr_assert_eq(hamt_merge(a, e, NULL, NULL), a);
    cr_assert_eq(hamt_merge(e, a, NULL, NULL), a);
    cr_assert_eq(hamt_merge(a, a, NULL, NULL), a);
    cr_assert_eq(hamt_merge(a, small, NULL, NULL), a);
    cr_assert_eq(hamt_merge(small, a, NULL, NULL), a);
    cr_assert_eq(hamt_intersect(a, a, NULL, NULL), a);
    cr_assert_eq(hamt_intersect(a, small, NULL, NULL), small);
    cr_assert_eq(hamt_intersect(small, a, NULL, NULL), small);
    cr_assert_eq(hamt_intersect(a, e, NULL, NULL), e);
    cr_assert_eq(hamt_subtract(a, e), a);
    cr_assert_eq(hamt_subtract(a, a), e);
    cr_assert_eq(hamt_subtract(small, a), e);

    /* Ten new keys merged into a: the result shares all but ~10 paths. */
    const struct hamt *ten = e;
    for (uint64_t i = 0; i < 10; i++) {
        ten = hamt_set(ten, HAMT_U64(100000 + i), V(1));
    }
    const struct hamt *u = hamt_merge(ten, a, NULL, NULL);
    int calls = 0;
    hamt__nodes_visited = 0;
    cr_assert_eq(hamt_diff(a, u, NULL, diff_count, &calls), 0);
    cr_assert_eq(calls, 10);
    cr_assert_leq(hamt__nodes_visited, 100);
    cr_assert_eq(hamt__validate(u), 0);
    /* Removing them again: equal to a, and shares all but those paths. */
    const struct hamt *d = hamt_subtract(u, ten);
    cr_assert_eq(hamt_equal(d, a, NULL, NULL), 1);
    calls = 0;
    hamt__nodes_visited = 0;
    cr_assert_eq(hamt_diff(a, d, NULL, diff_count, &calls), 0);
    cr_assert_eq(calls, 0);
    cr_assert_leq(hamt__nodes_visited, 100, "visited %lu", hamt__nodes_visited);
}

Test(ops, set_algebra_rejects_different_key_types)
{
    const struct hamt *a = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(1));
    const struct hamt *b = tk_empty();

    errno = 0;
    cr_assert_null(hamt_merge(a, b, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_intersect(b, a, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_subtract(a, hamt_new(HAMT_KEY_STRING)));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_merge(NULL, a, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
}

Test(ops, set_algebra_out_of_memory_leaves_inputs_intact)
{
    const struct hamt *a = hamt_new(HAMT_KEY_U64), *b = a;

    for (uint64_t i = 0; i < 300; i++) {
        a = hamt_set(a, HAMT_U64(i), V(1));
        b = hamt_set(b, HAMT_U64(i * 3), V(2));
    }
    const struct hamt *a2 = a;
    for (uint64_t i = 0; i < 20; i++) {
        a2 = hamt_set(hamt_remove(a2, HAMT_U64(i * 7)), HAMT_U64(1000 + i),
                      V(3));
    }
    policy_of_key = HAMT_CONFLICT_COMBINE;
    for (int persistent = 0; persistent < 2; persistent++) {
        for (int op = 0; op < 6; op++) {
            unsigned n;
            const struct hamt *r = NULL;
            for (n = 1; n < 10000; n++) {
                hamt__fail_after(n, persistent);
                errno = 0;
                /* Ops 3 to 5 are on close versions (shared subtrees). */
                r = op == 0   ? hamt_merge(a, b, conflict_fn, NULL)
                    : op == 1 ? hamt_intersect(a, b, conflict_fn, NULL)
                    : op == 2 ? hamt_subtract(a, b)
                    : op == 3 ? hamt_merge(a, a2, NULL, NULL)
                    : op == 4 ? hamt_intersect(a2, a, NULL, NULL)
                              : hamt_subtract(a2, a);
                hamt__fail_after(0, false);
                cr_assert_eq(hamt__validate(a), 0);
                cr_assert_eq(hamt__validate(b), 0);
                cr_assert_eq(hamt_size(a), 300);
                cr_assert_eq(hamt_size(b), 300);
                cr_assert_eq(hamt__validate(a2), 0);
                cr_assert_eq(hamt_size(a2), 300);
                if (r != NULL) {
                    break;
                }
                cr_assert_eq(errno, ENOMEM);
            }
            cr_assert_not_null(r);
            cr_assert_eq(hamt__validate(r), 0);
        }
    }
}

static enum hamt_conflict_action
sum_conflict(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key;
    (void)ctx;
    *out = V((uintptr_t)va + (uintptr_t)vb);
    return HAMT_CONFLICT_COMBINE;
}

/*
 * Many pairs of close versions (each a different key set, so a different
 * shape): every set operation, both ways round, against what hamt_get of
 * the inputs says.  Sizes are checked by hamt__validate, which counts.
 */
static uint64_t
one_hash(const void *k, void *c)
{
    (void)k;
    (void)c;
    return 0x0123456789abcdefull;
}

/*
 * A conflict function that returns a new collector block holding the key
 * number, and runs a collection first: the blocks made for the earlier
 * keys are referenced by the half-built result alone, and must survive.
 */
static enum hamt_conflict_action
fresh_block(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)va;
    (void)vb;
    (void)ctx;
#ifndef HAMT_NO_GC
    GC_gcollect();
    uintptr_t *p = GC_MALLOC(8 * sizeof *p);
#else
    uintptr_t *p = malloc(8 * sizeof *p); /* leaked: short test */
#endif
    cr_assert_not_null(p);
    for (int i = 0; i < 8; i++) {
        p[i] = (uintptr_t)key;
    }
    *out = p;
    return HAMT_CONFLICT_COMBINE;
}

/* Values made by the conflict function stay alive while it runs again. */
Test(ops, merge_keeps_values_made_by_the_conflict_function_alive)
{
    struct hamt_key_type kt = {
        .size = sizeof kt,
        .hash = one_hash,
        .equal = ident_equal,
    };
    const struct hamt *a = hamt_new_custom(&kt), *b;
    cr_assert_not_null(a);
    /* 40 keys of one hash: a collision node, whose result the merge
     * builds from a list of the decided entries. */
    for (uintptr_t k = 1; k <= 40; k++) {
        a = hamt_set(a, (const void *)k, V(k));
    }
    b = hamt_set(a, (const void *)(uintptr_t)41, V(41));
    const struct hamt *u = hamt_merge(a, b, fresh_block, NULL);
    cr_assert_not_null(u);
    cr_assert_eq(hamt_size(u), 41);
#ifndef HAMT_NO_GC
    GC_gcollect();
    for (int i = 0; i < 3; i++) {
        /* Reuse whatever was freed, with other contents. */
        uintptr_t *junk = GC_MALLOC(8 * sizeof *junk);
        cr_assert_not_null(junk);
        memset(junk, 0xee, 8 * sizeof *junk);
    }
#endif
    for (uintptr_t k = 1; k <= 40; k++) {
        void *v;
        cr_assert(hamt_get(u, (const void *)k, &v));
        const uintptr_t *p = v;
        for (int i = 0; i < 8; i++) {
            cr_assert_eq(p[i], k, "value of key %lu was reclaimed",
                         (unsigned long)k);
        }
    }
}

Test(ops, set_algebra_of_many_close_versions)
{
    uint64_t seed = start_seed("close versions");
    for (unsigned round = 0; round < 150; round++) {
        uint64_t base = round * 100000;
        unsigned n = 50 + (unsigned)(ref_rand(&seed) % 400);
        const struct hamt *a = hamt_new(HAMT_KEY_U64), *b;
        for (uint64_t i = 0; i < n; i++) {
            a = hamt_set(a, HAMT_U64(base + i), V(i + 1));
        }
        b = a;
        for (unsigned j = 0; j < 6; j++) {
            uint64_t k = base + ref_rand(&seed) % n;
            switch (ref_rand(&seed) % 3) {
            case 0:
                b = hamt_set(b, HAMT_U64(base + n + j), V(7)); /* new */
                break;
            case 1:
                b = hamt_remove(b, HAMT_U64(k));
                break;
            default:
                b = hamt_set(b, HAMT_U64(k), V(9)); /* changed */
                break;
            }
        }
        const struct hamt *in[2] = {a, b};
        for (int d = 0; d < 2; d++) {
            const struct hamt *p = in[d], *q = in[1 - d];
            const struct hamt *r[4] = {
                hamt_merge(p, q, NULL, NULL),
                hamt_merge(p, q, sum_conflict, NULL),
                hamt_intersect(p, q, NULL, NULL),
                hamt_subtract(p, q),
            };
            for (int o = 0; o < 4; o++) {
                cr_assert_not_null(r[o]);
                cr_assert_eq(hamt__validate(r[o]), 0, "round %u, op %d, way %d",
                             round, o, d);
            }
            for (uint64_t k = base; k < base + n + 6; k++) {
                void *vp, *vq, *v;
                bool hp = hamt_get(p, HAMT_U64(k), &vp);
                bool hq = hamt_get(q, HAMT_U64(k), &vq);
                cr_assert_eq(hamt_get(r[0], HAMT_U64(k), &v), hp || hq);
                if (hp) {
                    cr_assert_eq(v, vp);
                }
                cr_assert_eq(hamt_get(r[1], HAMT_U64(k), &v), hp || hq);
                if (hp || hq) {
                    cr_assert_eq(v, hp && hq ? V((uintptr_t)vp + (uintptr_t)vq)
                                    : hp     ? vp
                                             : vq);
                }
                cr_assert_eq(hamt_get(r[2], HAMT_U64(k), &v), hp && hq);
                cr_assert_eq(hamt_get(r[3], HAMT_U64(k), &v), hp && !hq);
            }
        }
    }
}

Test(ops, set_algebra_of_close_versions_costs_only_the_differences,
     .timeout = 120)
{
    enum { N = 200000 };
    const struct hamt *a = hamt_new(HAMT_KEY_U64), *b;

    for (uint64_t i = 0; i < N; i++) {
        a = hamt_set(a, HAMT_U64(i), V(i + 1));
    }
    b = a;
    for (uint64_t i = 0; i < 5; i++) {
        b = hamt_set(b, HAMT_U64(N + i), V(1));         /* only in b */
        b = hamt_remove(b, HAMT_U64(i * 30011));        /* only in a */
        b = hamt_set(b, HAMT_U64(i * 30011 + 1), V(2)); /* changed */
    }
    unsigned long before = hamt__alloc_count();
    hamt__nodes_visited = 0;
    const struct hamt *u = hamt_merge(a, b, NULL, NULL);
    const struct hamt *in = hamt_intersect(a, b, NULL, NULL);
    const struct hamt *d = hamt_subtract(a, b);
    unsigned long allocs = hamt__alloc_count() - before;
    printf("ops merge+intersect+difference: 2 x %d keys, 15 differences, "
           "%lu nodes "
           "visited, %lu allocations\n",
           N, hamt__nodes_visited, allocs);
    cr_assert_leq(allocs, 300);
    cr_assert_leq(hamt__nodes_visited, 900);
    cr_assert_eq(hamt__validate(d), 0);
    cr_assert_eq(hamt_size(d), 5);
    cr_assert_eq(hamt__validate(u), 0);
    cr_assert_eq(hamt__validate(in), 0);
    cr_assert_eq(hamt_size(u), N + 5);
    cr_assert_eq(hamt_size(in), N - 5);
    for (uint64_t i = 0; i < 5; i++) {
        void *v;
        cr_assert(hamt_get(u, HAMT_U64(N + i), &v));
        cr_assert(hamt_get(u, HAMT_U64(i * 30011), &v));
        cr_assert(hamt_get(u, HAMT_U64(i * 30011 + 1), &v));
        cr_assert_eq(v, V(i * 30011 + 2));
        cr_assert(!hamt_contains(in, HAMT_U64(N + i)));
        cr_assert(!hamt_contains(in, HAMT_U64(i * 30011)));
        cr_assert(hamt_get(d, HAMT_U64(i * 30011), &v));
        cr_assert_eq(v, V(i * 30011 + 1));
    }
}

/*
 * A map of the test keys 0 .. n-1 (key i hashed as i), bound to i + 1;
 * *keys receives the keys (malloc'd, for the caller to free).
 */
static const struct hamt *
tk_map_of_n(unsigned n, const struct tk ***keys)
{
    const struct tk **k = malloc(n * sizeof *k);
    cr_assert_not_null(k);
    const struct hamt *a = tk_empty();
    for (unsigned i = 0; i < n; i++) {
        k[i] = tk_key(i, i);
        a = hamt_set(a, k[i], V(i + 1));
        cr_assert_not_null(a);
    }
    *keys = k;
    return a;
}

/*
 * The size of a set operation's result.  The walk keeps at most
 * SA_LIST_CAP (256) of the subtrees the two maps share and of those only a
 * holds, and counts the keys of the smaller list.  Keys whose hash is their
 * number fill a trie of 32 x 32 x 32 exactly: a holds them all, b lacks
 * every key of the first `gone` level-1 slots of each root slot, so a holds
 * 32 * gone subtrees alone and both hold the other 32 * (32 - gone).
 * With gone = 16 both lists overflow (the result is counted), with
 * gone = 28 the shared list is the smaller, with gone = 4 a's is.
 */
Test(ops, set_algebra_sizes_with_many_shared_and_lone_subtrees)
{
    enum { N = 32 * 32 * 32 };
    static const unsigned gones[] = {16, 28, 4};

    const struct tk **k;
    const struct hamt *a = tk_map_of_n(N, &k);
    cr_assert_eq(hamt_size(a), N);
    for (unsigned g = 0; g < sizeof gones / sizeof gones[0]; g++) {
        unsigned gone = gones[g];
        const struct hamt *b = a;
        size_t lone = 0;
        for (unsigned i = 0; i < N; i++) {
            if ((i >> 5 & 31) < gone) {
                b = hamt_remove(b, k[i]);
                lone++;
            }
        }
        /* One key only b holds, so that no result is a or b itself. */
        const struct tk *extra = tk_key(N, N);
        b = hamt_set(b, extra, V(N + 1));
        cr_assert_eq(hamt_size(b), N - lone + 1);

        const struct hamt *mg = hamt_merge(a, b, NULL, NULL);
        const struct hamt *in = hamt_intersect(a, b, NULL, NULL);
        const struct hamt *sb = hamt_subtract(a, b);
        cr_assert(mg != NULL && in != NULL && sb != NULL);
        cr_assert(mg != a && mg != b && sb != a && in != b, "gone %u", gone);
        cr_assert_eq(hamt_size(mg), N + 1, "gone %u", gone);
        cr_assert_eq(hamt_size(in), N - lone, "gone %u", gone);
        cr_assert_eq(hamt_size(sb), lone, "gone %u", gone);
        /* hamt__validate counts every key against the size. */
        cr_assert_eq(hamt__validate(mg), 0, "gone %u", gone);
        cr_assert_eq(hamt__validate(in), 0, "gone %u", gone);
        cr_assert_eq(hamt__validate(sb), 0, "gone %u", gone);
        cr_assert(hamt_get(mg, extra, NULL));
        cr_assert(!hamt_get(in, extra, NULL));
        cr_assert(!hamt_get(sb, extra, NULL));
    }
    free(k);
}

/* Keys are pointers to ints, equal when the ints are: equal keys can be
 * different objects.  `ctx` non-NULL: every key hashes alike. */
static uint64_t
int_hash(const void *k, void *c)
{
    const int *i = k;

    return c != NULL ? 7 : (uint64_t)i[0] * 0x9e3779b97f4a7c15ull;
}

static bool
int_equal(const void *a, const void *b, void *c)
{
    (void)c;
    return *(const int *)a == *(const int *)b;
}

static enum hamt_conflict_action
take_left(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key, (void)va, (void)vb, (void)out, (void)ctx;
    return HAMT_CONFLICT_LEFT;
}

static enum hamt_conflict_action
take_right(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key, (void)va, (void)vb, (void)out, (void)ctx;
    return HAMT_CONFLICT_RIGHT;
}

static enum hamt_conflict_action
take_sum(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key, (void)ctx;
    *out = V((uintptr_t)va + (uintptr_t)vb);
    return HAMT_CONFLICT_COMBINE;
}

/* Whether every key of m is an object of `objs` (n of them). */
static bool
keys_are_from(const struct hamt *m, const int *objs, size_t n)
{
    struct hamt_iter it;
    const void *k;

    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &k, NULL)) {
        if ((const int *)k < objs || (const int *)k >= objs + n) {
            return false;
        }
    }
    return true;
}

static int
int_compare(const void *a, const void *b, void *c)
{
    (void)c;
    return (*(const int *)a > *(const int *)b)
           - (*(const int *)a < *(const int *)b);
}

/* Any non-NULL ctx makes int_hash give every key one hash. */
static int int_one_hash;

/*
 * The empty map of int keys in layout `lay` of the key-object tests:
 * 0 spread hashes, 1 one hash, 2 one hash and ordered by int_compare.
 */
static const struct hamt *
int_empty(int lay)
{
    struct hamt_key_type kt = {
        .size = sizeof kt,
        .hash = int_hash,
        .equal = int_equal,
        .compare = lay == 2 ? int_compare : NULL,
        .ctx = lay > 0 ? &int_one_hash : NULL,
    };
    const struct hamt *e = hamt_new_custom(&kt);

    cr_assert_not_null(e);
    return e;
}

/* m with key k[i] = i bound to v for every i < n with i % every == 0. */
static const struct hamt *
int_fill(const struct hamt *m, int *k, int n, int every, uintptr_t v)
{
    for (int i = 0; i < n; i++) {
        k[i] = i;
        if (i % every == 0) {
            m = hamt_set(m, &k[i], V(v));
            cr_assert_not_null(m);
        }
    }
    return m;
}

/* COMBINE, binding b's value or a's: the key stays a's either way. */
static enum hamt_conflict_action
combine_to_vb(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key, (void)va, (void)ctx;
    *out = vb;
    return HAMT_CONFLICT_COMBINE;
}

static enum hamt_conflict_action
combine_to_va(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key, (void)vb, (void)ctx;
    *out = va;
    return HAMT_CONFLICT_COMBINE;
}

/*
 * hamt_ops(3): a key bound in both keeps b's key object for RIGHT and a's
 * otherwise, whatever the values, in entries, subtrees, collision nodes
 * and collision trees alike.  The key follows fn's action, not the value
 * bound: RIGHT over equal values keeps b's key, and COMBINE binding b's
 * value keeps a's (both kept the other side's key before the fix).
 */
Test(ops, set_algebra_keeps_the_key_object_of_the_winning_side)
{
    enum { N = 300 };
    static int ka[N], kb[N];
    static const char *const layout[] = {"spread", "one hash",
                                         "one hash, ordered"};

    for (int lay = 0; lay < 3; lay++) {
        for (int same = 0; same < 2; same++) {
            const struct hamt *a = int_fill(int_empty(lay), ka, N, 1, 1);
            const struct hamt *b =
                int_fill(int_empty(lay), kb, N, 1, same ? 1 : 2);

            cr_assert_eq(hamt_size(a), N);
            struct {
                hamt_conflict_fn fn;
                bool right;
            } cases[] = {{NULL, false},          {take_left, false},
                         {take_right, true},     {take_sum, false},
                         {combine_to_vb, false}, {combine_to_va, false}};
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
                const struct hamt *u = hamt_merge(a, b, cases[c].fn, NULL);
                const struct hamt *x = hamt_intersect(a, b, cases[c].fn, NULL);
                const int *want = cases[c].right ? kb : ka;

                cr_assert_not_null(u);
                cr_assert_not_null(x);
                cr_assert_eq(hamt_size(u), N);
                cr_assert_eq(hamt_size(x), N);
                cr_assert(keys_are_from(u, want, N),
                          "merge, case %zu, %s, %s values", c, layout[lay],
                          same ? "equal" : "different");
                cr_assert(keys_are_from(x, want, N),
                          "intersect, case %zu, %s, %s values", c, layout[lay],
                          same ? "equal" : "different");
                cr_assert_eq(hamt__validate(u), 0);
                cr_assert_eq(hamt__validate(x), 0);
            }
            /*
             * b a subset of a with a's values: the intersection equals b
             * by value, but its keys must be a's, so it is not b itself.
             */
            const struct hamt *half = int_fill(int_empty(lay), kb, N / 2, 1, 1);
            const struct hamt *x = hamt_intersect(a, half, NULL, NULL);
            cr_assert_not_null(x);
            cr_assert_eq(hamt_size(x), N / 2);
            cr_assert(keys_are_from(x, ka, N), "subset, %s", layout[lay]);
        }
    }
}

/*
 * HAMT_CONFLICT_RIGHT takes b's key object even where the result is a new
 * node (a's lone keys beside the common ones), not only where the result
 * is b's own node.
 */
Test(ops, merge_taking_right_keeps_the_key_objects_of_b_beside_lone_keys)
{
    enum { N = 300 };
    static int ka[N], kb[N];

    for (int lay = 0; lay < 3; lay++) {
        const struct hamt *a = int_fill(int_empty(lay), ka, N, 1, 1);
        const struct hamt *b = int_fill(int_empty(lay), kb, N / 2, 1, 2);
        const struct hamt *u = hamt_merge(a, b, take_right, NULL);
        cr_assert_not_null(u);
        cr_assert_eq(hamt_size(u), N);
        cr_assert_eq(hamt__validate(u), 0);
        struct hamt_iter it;
        const void *k;
        void *v;
        unsigned wrong = 0;
        hamt_iter_init(&it, u);
        while (hamt_iter_next(&it, &k, &v)) {
            int id = *(const int *)k;
            const int *want = id < N / 2 ? &kb[id] : &ka[id];
            wrong += (const int *)k != want;
            cr_assert_eq(v, V(id < N / 2 ? 2 : 1));
        }
        cr_assert_eq(wrong, 0, "layout %d: %u keys from the wrong side", lay,
                     wrong);
    }
}

struct diff_keys {
    const int *ka, *kb;
    unsigned changed, wrong;
};

static int
diff_key_check(const void *key, void *va, void *vb, enum hamt_diff_kind kind,
               void *ctx)
{
    struct diff_keys *d = ctx;
    int id = *(const int *)key;

    (void)va;
    (void)vb;
    if (kind == HAMT_DIFF_CHANGED) {
        d->changed++;
        d->wrong += (const int *)key != &d->kb[id];
    } else {
        /* REMOVED: a's key. */
        d->wrong += kind != HAMT_DIFF_REMOVED || (const int *)key != &d->ka[id];
    }
    return 0;
}

/*
 * hamt_ops(3): diff passes the key stored in b (a's for a removed key),
 * also where a holds a subtree and b the key inline (b has fewer keys).
 */
Test(ops, diff_passes_the_key_objects_of_b_against_a_subtree)
{
    enum { N = 300 };
    static int ka[N], kb[N];

    for (int lay = 0; lay < 3; lay++) {
        const struct hamt *a = int_fill(int_empty(lay), ka, N, 1, 1);
        const struct hamt *b = int_fill(int_empty(lay), kb, N, 7, 2);
        struct diff_keys d = {.ka = ka, .kb = kb};
        cr_assert_eq(hamt_diff(a, b, NULL, diff_key_check, &d), 0);
        cr_assert_eq(d.changed, (N + 6) / 7);
        cr_assert_eq(d.wrong, 0, "layout %d: %u keys from the wrong side", lay,
                     d.wrong);
    }
}

static int
stop_at_once(const void *key, void *va, void *vb, enum hamt_diff_kind kind,
             void *ctx)
{
    (void)key, (void)va, (void)vb, (void)kind;
    ++*(unsigned *)ctx;
    return 1;
}

/*
 * A non-zero return stops the diff at once, also inside a subtree that
 * only one map holds (walked whole, several levels deep).
 */
Test(ops, diff_stops_at_once_inside_a_subtree_held_by_one_map)
{
    const struct hamt *e = hamt_new(HAMT_KEY_U64), *b = e;

    /* 100000 keys: the level-1 nodes hold children only, so a walk of
     * one of them stops from inside a grandchild. */
    struct hamt_batch *bb = hamt_batch_begin(e);
    for (uint64_t k = 0; k < 100000; k++) {
        cr_assert_eq(hamt_batch_set(bb, HAMT_U64(k), V(k + 1)), 0);
    }
    b = hamt_batch_finish(bb);
    /* a holds one key at a fragment where b's subtree is deep. */
    const struct hamt *a = hamt_set(e, HAMT_U64(123456789), V(1));
    unsigned calls = 0;
    cr_assert_eq(hamt_diff(e, b, NULL, stop_at_once, &calls), 1);
    cr_assert_eq(calls, 1, "added: %u calls after a stop", calls);
    calls = 0;
    cr_assert_eq(hamt_diff(b, e, NULL, stop_at_once, &calls), 1);
    cr_assert_eq(calls, 1, "removed: %u calls after a stop", calls);
    calls = 0;
    cr_assert_eq(hamt_diff(a, b, NULL, stop_at_once, &calls), 1);
    cr_assert_eq(calls, 1, "mixed: %u calls after a stop", calls);
    /* Two keys at the same fragment of the root, one in each map: the
     * removal is reported, and nothing after it. */
    uint64_t k2 = 1;
    while ((hamt__hash_u64(k2) & HAMT_MASK)
           != (hamt__hash_u64(0) & HAMT_MASK)) {
        k2++;
    }
    const struct hamt *x = hamt_set(e, HAMT_U64(0), V(1));
    const struct hamt *y = hamt_set(e, HAMT_U64(k2), V(1));
    calls = 0;
    cr_assert_eq(hamt_diff(x, y, NULL, stop_at_once, &calls), 1);
    cr_assert_eq(calls, 1, "entry against entry: %u calls after a stop", calls);
}

/*
 * A stop from inside a full collision (a collision node, or a collision
 * tree for an ordered key type) ends the walk there, whichever side the
 * colliding keys are on: changed, added, removed, and removed or added as
 * a whole subtree against an empty map.
 */
static void
diff_stops_inside_collisions(const struct hamt *empty)
{
    const struct hamt *c = empty, *d, *e;
    const struct tk *k[8];
    int calls;

    for (unsigned i = 0; i < 8; i++) {
        k[i] = tk_key(i, 0x55);
    }
    for (unsigned i = 0; i < 2; i++) {
        c = hamt_set(c, k[i], V(i + 1));
    }
    e = c;
    d = c;
    for (unsigned i = 0; i < 8; i++) {
        d = hamt_set(d, k[i], V(i + 100));
        e = hamt_set(e, k[i], V(i + 1));
    }
    const struct hamt *pairs[][2] = {
        {c, d},     /* two changed, six added: the stop is in the loop */
        {d, c},     /* two changed, six removed */
        {c, e},     /* six added only */
        {e, c},     /* six removed only */
        {e, empty}, /* a whole collision subtree removed */
        {empty, e}, /* ... and added */
        {d, e},     /* eight changed */
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        calls = 0;
        errno = 12345;
        cr_assert_eq(
            hamt_diff(pairs[i][0], pairs[i][1], NULL, diff_stop, &calls), 1,
            "pair %zu: not stopped", i);
        cr_assert_eq(calls, 3, "pair %zu: %d calls, stopped at the third", i,
                     calls);
        cr_assert_eq(errno, 12345);
    }
}

Test(ops, diff_stops_inside_collision_nodes)
{
    diff_stops_inside_collisions(tk_empty());
}

Test(ops, diff_stops_inside_collision_trees)
{
    diff_stops_inside_collisions(tk_empty_ordered());
}

static enum hamt_conflict_action
bad_conflict(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key, (void)va, (void)vb, (void)out;
    ++*(unsigned *)ctx;
    return (enum hamt_conflict_action)77;
}

/*
 * A conflict function's invalid answer for colliding keys (in a collision
 * node or a collision tree, or one entry against them) fails the whole
 * operation with EINVAL and leaves both inputs as they were.
 */
static void
conflict_fails_inside_collisions(const struct hamt *empty)
{
    const struct hamt *x = empty, *y = empty;
    const struct tk *k[9];

    for (unsigned i = 0; i < 9; i++) {
        k[i] = tk_key(i, 0x77);
    }
    for (unsigned i = 0; i < 6; i++) {
        x = hamt_set(x, k[i], V(i + 1));
        y = hamt_set(y, k[i + 3], V(i + 10));
    }
    const struct hamt *one = hamt_set(empty, k[4], V(3));
    const struct hamt *sides[][2] = {{x, y}, {y, x}, {x, one}, {one, x}};
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        const struct hamt *a = sides[i][0], *b = sides[i][1];
        size_t na = hamt_size(a), nb = hamt_size(b);
        unsigned calls = 0;
        errno = 0;
        cr_assert_null(hamt_merge(a, b, bad_conflict, &calls), "pair %zu", i);
        cr_assert_eq(errno, EINVAL, "pair %zu: errno %d", i, errno);
        cr_assert_eq(calls, 1, "pair %zu: went on after the failure", i);
        calls = 0;
        errno = 0;
        cr_assert_null(hamt_intersect(a, b, bad_conflict, &calls));
        cr_assert_eq(errno, EINVAL);
        cr_assert_eq(calls, 1);
        cr_assert_eq(hamt_size(a), na);
        cr_assert_eq(hamt_size(b), nb);
        cr_assert_eq(hamt__validate(a), 0);
        cr_assert_eq(hamt__validate(b), 0);
    }
    for (unsigned i = 0; i < 6; i++) {
        void *v = NULL;
        cr_assert(hamt_get(x, k[i], &v));
        cr_assert_eq(v, V(i + 1));
    }
}

Test(ops, conflict_failure_inside_collision_nodes_is_einval)
{
    conflict_fails_inside_collisions(tk_empty());
}

Test(ops, conflict_failure_inside_collision_trees_is_einval)
{
    conflict_fails_inside_collisions(tk_empty_ordered());
}

/*
 * Few large subtrees on each side (a's own: whole children of the root that
 * b lacks; shared: the other children of the root), each too big to count
 * within the first budgets of sa_shared_keys: the sizes must still come out
 * exact once a budget is large enough.
 */
Test(ops, set_algebra_sizes_when_counting_needs_several_budgets)
{
    enum { N = 32 * 32 * 32 };
    static const unsigned gones[] = {1, 2, 4, 8};

    const struct tk **k;
    const struct hamt *a = tk_map_of_n(N, &k);
    for (unsigned g = 0; g < sizeof gones / sizeof gones[0]; g++) {
        unsigned gone = gones[g];
        const struct hamt *b = a;
        size_t lone = 0;
        for (unsigned i = 0; i < N; i++) {
            if ((i & 31) < gone) { /* whole children of the root */
                b = hamt_remove(b, k[i]);
                lone++;
            }
        }
        const struct tk *extra = tk_key(N, N);
        b = hamt_set(b, extra, V(N + 1));

        const struct hamt *mg = hamt_merge(a, b, NULL, NULL);
        const struct hamt *in = hamt_intersect(a, b, NULL, NULL);
        const struct hamt *sb = hamt_subtract(a, b);
        const struct hamt *mr = hamt_merge(b, a, NULL, NULL);
        cr_assert(mg != NULL && in != NULL && sb != NULL && mr != NULL);
        cr_assert_eq(hamt_size(mg), N + 1, "gone %u", gone);
        cr_assert_eq(hamt_size(mr), N + 1, "gone %u", gone);
        cr_assert_eq(hamt_size(in), N - lone, "gone %u", gone);
        cr_assert_eq(hamt_size(sb), lone, "gone %u", gone);
        cr_assert_eq(hamt__validate(mg), 0, "gone %u", gone);
        cr_assert_eq(hamt__validate(mr), 0, "gone %u", gone);
        cr_assert_eq(hamt__validate(in), 0, "gone %u", gone);
        cr_assert_eq(hamt__validate(sb), 0, "gone %u", gone);
    }
    free(k);
}
