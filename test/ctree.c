/*
 * test/ctree.c - collision trees (lib/ctree.c) and the collision level of
 * key types without an order (issue 17): keys with one hash cost O(log n)
 * compare calls with an order, and a batch over them is never quadratic in
 * anything but the equality scans an unordered key type needs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collide0.h"
#include "internal.h"
#include "stats.h"
#include "testkeys.h"

#define V(x) ((void *)(uintptr_t)(x))

static const struct tk **
same_keys(unsigned n, uint64_t hash)
{
    const struct tk **k = malloc(n * sizeof *k);

    cr_assert_not_null(k);
    for (unsigned i = 0; i < n; i++) {
        k[i] = tk_key(i, hash);
    }
    return k;
}

Test(ctree, colliding_keys_dump_in_key_order)
{
    const struct hamt *m = tk_empty_ordered();
    const unsigned order[] = {4, 0, 3, 1, 2};
    const struct tk **k = same_keys(5, 0x2a);

    for (unsigned i = 0; i < 5; i++) {
        m = hamt_set(m, k[order[i]], V(i));
    }
    cr_assert_not_null(strstr(tk_shape(m), "C{k0,k1,k2,k3,k4}"), "%s",
                       tk_shape(m));
    cr_assert_eq(hamt__validate(m), 0);
}

Test(ctree, sorted_inserts_stay_balanced_and_lookups_cost_log_n)
{
    enum { N = 4095 };
    const struct tk **k = same_keys(N, 0x77);
    const struct hamt *m = tk_empty_ordered();
    struct hamt_batch *b = hamt_batch_begin(tk_empty_ordered());

    /* Ascending keys: the worst order for an unbalanced search tree. */
    for (unsigned i = 0; i < N; i++) {
        m = hamt_set(m, k[i], V(i + 1));
        cr_assert_eq(hamt_batch_set(b, k[i], V(i + 1)), 0);
        if (i % 511 == 0) {
            cr_assert_eq(hamt__validate(m), 0, "at %u", i);
            cr_assert_eq(hamt__validate(hamt__batch_peek(b)), 0, "at %u", i);
        }
    }
    const struct hamt *mb = hamt_batch_finish(b);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt__validate(mb), 0);
    cr_assert(hamt_equal(m, mb, NULL, NULL));
    /* An AVL tree of 4095 keys is at most 17 deep (1.44 log2(n + 2)). */
    for (unsigned i = 0; i < N; i++) {
        void *v = NULL;
        unsigned long c0 = tk_compares, e0 = tk_equals;
        cr_assert(hamt_get(m, k[i], &v));
        cr_assert_eq(v, V(i + 1));
        cr_assert_leq(tk_compares - c0, 17, "key %u: %lu compares", i,
                      tk_compares - c0);
        cr_assert_eq(tk_equals - e0, 0, "a tree never calls equal");
    }
    const struct tk *absent = tk_key(N + 5, 0x77);
    unsigned long c0 = tk_compares;
    cr_assert(!hamt_get(m, absent, NULL));
    cr_assert_leq(tk_compares - c0, 17);
}

Test(ctree, compare_is_called_only_on_equal_hashes_equal_on_a_shared_path)
{
    /*
     * Hashes 1 and 33 share their first 5-bit fragment: a lookup of one
     * meets the other inline and asks equal (hamt_get(3) says so); compare
     * is only for keys whose full hashes are equal.
     */
    const struct tk *a = tk_key(1, 1), *b = tk_key(33, 33);
    const struct hamt *m = hamt_set(tk_empty_ordered(), a, V(1));
    unsigned long c0 = tk_compares, e0 = tk_equals;

    cr_assert(!hamt_get(m, b, NULL));
    cr_assert_eq(tk_equals - e0, 1);
    cr_assert_eq(tk_compares, c0);
    m = hamt_set(m, b, V(2));
    cr_assert(hamt_get(m, b, NULL));
    cr_assert_eq(tk_compares, c0, "no collision, no compare");
}

static int
cmp0(const void *a, const void *b, void *c)
{
    (void)c;
    return (a > b) - (a < b);
}

Test(ctree, key_type_size_versions)
{
    /* A caller built before compare existed passes the older size; what
     * lies past it is not read. */
    struct {
        struct hamt_key_type kt;
        char guard[64];
    } old;
    memset(&old, 0xa5, sizeof old);
    old.kt.size = HAMT_KEY_TYPE_SIZE_V1;
    old.kt.hash = h0;
    old.kt.equal = eq0;
    old.kt.ctx = NULL;
    const struct hamt *e1 = hamt_new_custom(&old.kt);
    cr_assert_not_null(e1);
    cr_assert_null(((const struct hamt__kt *)e1->kt)->compare);

    struct hamt_key_type kt = {.size = sizeof kt, .hash = h0, .equal = eq0};
    cr_assert_eq(hamt_new_custom(&kt), e1, "the same type, the same map");
    kt.compare = cmp0;
    const struct hamt *e2 = hamt_new_custom(&kt);
    cr_assert_not_null(e2);
    cr_assert_neq(e2, e1, "an order makes another key type");
    cr_assert_eq(hamt_new_custom(&kt), e2);

    for (size_t bad = 0; bad < sizeof kt + 16; bad++) {
        if (bad == sizeof kt || bad == HAMT_KEY_TYPE_SIZE_V1) {
            continue;
        }
        kt.size = bad;
        errno = 0;
        cr_assert_null(hamt_new_custom(&kt));
        cr_assert_eq(errno, EINVAL);
    }
}

Test(ctree, iteration_gives_every_key_once_in_key_order)
{
    enum { N = 3000 };
    const struct tk **k = same_keys(N, 0x99);
    const struct hamt *m = tk_empty_ordered();
    bool *seen = calloc(N + 2, 1);

    for (unsigned i = 0; i < N; i++) {
        m = hamt_set(m, k[(i * 7919u) % N], V(i));
    }
    const struct tk *lone = tk_key(N, 0x12), *lone2 = tk_key(N + 1, 0x13);
    m = hamt_set(hamt_set(m, lone, V(1)), lone2, V(2));
    struct hamt_iter it;
    const void *key;
    uint64_t prev = 0;
    bool first = true;
    size_t n = 0;
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &key, NULL)) {
        const struct tk *t = key;
        cr_assert(!seen[t->id], "k%lu twice", (unsigned long)t->id);
        seen[t->id] = true;
        if (t->hash == 0x99) {
            cr_assert(first || t->id > prev, "order at k%lu",
                      (unsigned long)t->id);
            prev = t->id;
            first = false;
        }
        n++;
    }
    cr_assert_eq(n, N + 2);
    cr_assert(!hamt_iter_next(&it, &key, NULL), "stays at the end");
    free(seen);
}

Test(ctree, versions_persist_and_identity_rule_holds)
{
    enum { N = 600 };
    const struct tk **k = same_keys(N, 0x31);
    const struct hamt *m = tk_empty_ordered(), *vers[N + 1];

    vers[0] = m;
    for (unsigned i = 0; i < N; i++) {
        m = hamt_set(m, k[i], V(i + 1));
        vers[i + 1] = m;
    }
    cr_assert_eq(hamt_set(m, k[7], V(8)), m, "same value: same map");
    cr_assert_eq(hamt_remove(m, tk_key(N + 3, 0x31)), m, "absent: same map");
    const struct hamt *d = m;
    for (unsigned i = 0; i + 1 < N; i++) {
        d = hamt_remove(d, k[(i * 13u) % N]);
        cr_assert_not_null(d);
        if (i % 97 == 0) {
            cr_assert_eq(hamt__validate(d), 0);
        }
    }
    /* One key left: pulled up to the root as an entry (N3, N4). */
    cr_assert_eq(hamt_size(d), 1);
    cr_assert_null(strstr(tk_shape(d), "C{"), "%s", tk_shape(d));
    for (unsigned i = 0; i <= N; i += 50) {
        cr_assert_eq(hamt_size(vers[i]), i);
        cr_assert_eq(hamt__validate(vers[i]), 0);
        for (unsigned j = 0; j < N; j++) {
            void *v = NULL;
            cr_assert_eq(hamt_get(vers[i], k[j], &v), j < i);
            cr_assert_eq(v, j < i ? V(j + 1) : NULL);
        }
    }
}

Test(ctree, a_batch_edits_its_own_tree_nodes_in_place)
{
    enum { N = 2000 };
    const struct tk **k = same_keys(N + 10, 0x44);
    struct hamt_batch *b = hamt_batch_begin(tk_empty_ordered());

    for (unsigned i = 0; i < N; i++) {
        cr_assert_eq(hamt_batch_set(b, k[i], V(i)), 0);
    }
    for (unsigned i = N; i < N + 10; i++) {
        unsigned long a0 = hamt__alloc_count();
        cr_assert_eq(hamt_batch_set(b, k[i], V(i)), 0);
        cr_assert_eq(hamt__alloc_count() - a0, 1, "one new node, no copies");
    }
    unsigned long a0 = hamt__alloc_count();
    cr_assert_eq(hamt_batch_set(b, k[3], V(77)), 0);
    cr_assert_eq(hamt__alloc_count(), a0, "a value written in place");
    const struct hamt *m = hamt_batch_finish(b);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt_size(m), N + 10);
}

Test(ctree, unordered_batches_append_and_remove_in_place)
{
    enum { N = 2000 };
    const struct tk **k = same_keys(N, 0x45);
    struct hamt_batch *b = hamt_batch_begin(tk_empty());
    unsigned long a0 = hamt__alloc_count();

    for (unsigned i = 0; i < N; i++) {
        cr_assert_eq(hamt_batch_set(b, k[i], V(i)), 0);
    }
    /* The node grows by half each time it is full: O(log n) copies, not
     * one copy per key. */
    cr_assert_lt(hamt__alloc_count() - a0, 60, "%lu allocations",
                 hamt__alloc_count() - a0);
    a0 = hamt__alloc_count();
    for (unsigned i = 0; i < N / 2; i++) {
        cr_assert_eq(hamt_batch_remove(b, k[i * 2]), 0);
    }
    cr_assert_eq(hamt__alloc_count(), a0, "removed in place");
    const struct hamt *m = hamt_batch_finish(b);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt_size(m), N / 2);
    for (unsigned i = 0; i < N; i++) {
        cr_assert_eq(hamt_get(m, k[i], NULL), i % 2 == 1);
    }
}

Test(ctree, batch_set_many_searches_colliding_keys_once)
{
    enum { N = 1500 };
    const struct tk **k = same_keys(N, 0x46);
    void **v = malloc(N * sizeof *v);
    struct hamt_batch *b = hamt_batch_begin(tk_empty());

    for (unsigned i = 0; i < N; i++) {
        v[i] = V(i);
    }
    unsigned long e0 = tk_equals, h0 = tk_hashes;
    cr_assert_eq(hamt_batch_set_many(b, N, (const void *const *)k, v, NULL), 0);
    /* One hash call per key (the updates take the walk's hashes), and one
     * for the stored key the second key meets, when the two form a pair. */
    cr_assert_leq(tk_hashes - h0, N + 1, "%lu hash calls", tk_hashes - h0);
    /* Key i is compared with the i keys before it, once: the walk ahead
     * of the updates does not scan the collision node again. */
    cr_assert_leq(tk_equals - e0, (unsigned long)N * (N - 1) / 2 + N,
                  "%lu equal calls", tk_equals - e0);
    cr_assert_eq(hamt_size(hamt_batch_finish(b)), N);
    free(v);
}

Test(ctree, trees_of_other_shapes_compare_equal)
{
    enum { N = 500 };
    const struct tk **k = same_keys(N, 0x47);
    const struct hamt *a = tk_empty_ordered(), *b = tk_empty_ordered();

    for (unsigned i = 0; i < N; i++) {
        a = hamt_set(a, k[i], V(i));
        b = hamt_set(b, k[N - 1 - i], V(N - 1 - i));
    }
    cr_assert(hamt_equal(a, b, NULL, NULL));
    cr_assert_eq(hamt_diff(a, b, NULL, NULL, NULL), -1, "fn is required");
    const struct hamt *c = hamt_set(b, k[9], V(1000));
    cr_assert(!hamt_equal(a, c, NULL, NULL));
    cr_assert_eq(hamt_subtract(a, b), tk_empty_ordered());
    cr_assert_eq(hamt_size(hamt_merge(a, c, NULL, NULL)), N);
}

static int
count_diff(const void *key, void *a, void *b, enum hamt_diff_kind kind,
           void *ctx)
{
    (void)key;
    (void)a;
    (void)b;
    (void)kind;
    ++*(unsigned *)ctx;
    return 0;
}

Test(ctree, diff_and_equal_of_close_versions_skip_shared_subtrees)
{
    enum { N = 4000 };
    const struct tk **k = same_keys(N + 1, 0x48);
    const struct hamt *a = tk_empty_ordered();

    for (unsigned i = 0; i < N; i++) {
        a = hamt_set(a, k[(i * 2003u) % N], V(i));
    }
    const struct hamt *b = hamt_set(a, k[N], V(1));
    b = hamt_set(b, k[1234], V(77));
    b = hamt_remove(b, k[99]);
    unsigned calls = 0;
    unsigned long c0 = tk_compares;
    cr_assert_eq(hamt_diff(a, b, NULL, count_diff, &calls), 0);
    cr_assert_eq(calls, 3);
    cr_assert_lt(tk_compares - c0, N / 4, "%lu compares", tk_compares - c0);
    const struct hamt *c1 = hamt_set(hamt_set(a, k[N], V(1)), k[N], V(2));
    const struct hamt *c2 = hamt_set(a, k[N], V(2));
    c0 = tk_compares;
    cr_assert(hamt_equal(c1, c2, NULL, NULL));
    cr_assert_lt(tk_compares - c0, N / 4, "%lu compares", tk_compares - c0);
    void *v5;
    cr_assert(hamt_get(c2, k[5], &v5));
    const struct hamt *d = hamt_set(c2, k[5], V((uintptr_t)v5 + 1));
    cr_assert(!hamt_equal(c2, d, NULL, NULL));
    cr_assert(!hamt_equal(d, c1, NULL, NULL));
}

Test(ctree, stats_count_a_collision_tree)
{
    enum { N = 300 };
    const struct tk **k = same_keys(N, 0x49);
    const struct hamt *m = tk_empty_ordered();
    struct hamt__stats st;

    for (unsigned i = 0; i < N; i++) {
        m = hamt_set(m, k[i], V(i));
    }
    cr_assert_eq(hamt__stats(m, &st), 0);
    cr_assert_eq(st.entries, N);
    cr_assert_eq(st.collision_nodes, 1);
    /* Each tree node is a block of at least its 56 bytes. */
    cr_assert_geq(st.node_bytes, (size_t)N * 56, "%zu", st.node_bytes);
}

Test(ctree, get_many_searches_a_collision_tree_as_get_does)
{
    enum { N = 300, Q = 40 };
    const struct tk **k = same_keys(N, 0x5c);
    const struct hamt *m = tk_empty_ordered();
    const void *keys[Q];
    void *vals[Q];
    bool found[Q];

    /* Every third key is left out, so the tree answers misses too. */
    for (unsigned i = 0; i < N; i++) {
        if (i % 3 != 0) {
            m = hamt_set(m, k[i], V(i + 1));
        }
    }
    /* One key of another hash: a group mixes the tree with a plain entry. */
    const struct tk *other = tk_key(N + 1, 0x5d);
    m = hamt_set(m, other, V(7));
    cr_assert_eq(hamt__validate(m), 0);
    for (unsigned i = 0; i < Q; i++) {
        keys[i] = i == Q - 1 ? (const void *)other : (const void *)k[i * 7];
        vals[i] = V(0xdead);
    }
    unsigned long e0 = tk_equals, c0 = tk_compares;
    size_t hits = hamt_get_many(m, Q, keys, vals, found), want = 0;
    /* A tree never calls equal; the plain entry of `other` calls it once. */
    cr_assert_eq(tk_equals - e0, 1, "%lu equal calls", tk_equals - e0);
    /* A search of 200 keys' tree is at most 11 deep (1.44 log2(n + 2)). */
    cr_assert_leq(tk_compares - c0, (unsigned long)Q * 11, "%lu compares",
                  tk_compares - c0);
    for (unsigned i = 0; i < Q; i++) {
        void *v = V(0xdead);
        bool f = hamt_get(m, keys[i], &v);
        cr_assert_eq(found[i], f, "key %u", i);
        cr_assert_eq(vals[i], v, "key %u", i);
        if (i < Q - 1) {
            cr_assert_eq(f, (i * 7) % 3 != 0, "key %u", i);
        }
        want += f;
    }
    cr_assert(found[Q - 1]);
    cr_assert_eq(vals[Q - 1], V(7));
    cr_assert_eq(hits, want);
    free(k);
}

/* Values of one parity are "equal". */
static bool
same_parity(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return ((uintptr_t)a & 1) == ((uintptr_t)b & 1);
}

struct changed {
    const struct tk **kb; /* b's key objects, by id */
    unsigned n, wrong_key;
};

static int
check_changed(const void *key, void *a, void *b, enum hamt_diff_kind kind,
              void *ctx)
{
    struct changed *c = ctx;
    const struct tk *k = key;

    (void)a;
    (void)b;
    cr_assert_eq(kind, HAMT_DIFF_CHANGED);
    c->n++;
    c->wrong_key += k != c->kb[k->id];
    return 0;
}

/*
 * Two collision trees built apart (no node shared): equality honours veq,
 * and diff reports each changed key with the key object stored in b
 * (hamt_ops(3)), as it does above the collision level.
 */
Test(ctree, equal_and_diff_of_unrelated_trees_use_veq_and_the_keys_of_b)
{
    enum { N = 50 };
    const struct tk **ka = same_keys(N, 0x49), **kb = same_keys(N, 0x49);
    const struct hamt *a = tk_empty_ordered(), *b = tk_empty_ordered();

    for (unsigned i = 0; i < N; i++) {
        a = hamt_set(a, ka[i], V(1000 + i));
        b = hamt_set(b, kb[i], V(2000 + i));
    }
    cr_assert(!hamt_equal(a, b, NULL, NULL));
    cr_assert(hamt_equal(a, b, same_parity, NULL), "veq was not used");
    const struct hamt *c = hamt_set(b, kb[3], V(2000 + 3 + 1));
    cr_assert(!hamt_equal(a, c, same_parity, NULL));

    struct changed ch = {.kb = kb};
    cr_assert_eq(hamt_diff(a, b, NULL, check_changed, &ch), 0);
    cr_assert_eq(ch.n, N);
    cr_assert_eq(ch.wrong_key, 0, "%u changed keys were a's, not b's",
                 ch.wrong_key);
}

/*
 * Equal sizes do not make equal trees: a's tree at one hash holds one key
 * more than b's (the last in key order), and b's at another hash one more
 * than a's.  Each tree is a prefix of the other side's in key order.
 */
Test(ctree, trees_where_one_is_a_prefix_of_the_other_are_not_equal)
{
    const struct hamt *a = tk_empty_ordered(), *b = tk_empty_ordered();

    for (uint64_t id = 0; id < 3; id++) {
        const struct tk *k = tk_key(id, 0x4a);
        a = hamt_set(a, k, V(1));
        if (id < 2) {
            b = hamt_set(b, k, V(1));
        }
    }
    for (uint64_t id = 10; id < 13; id++) {
        const struct tk *k = tk_key(id, 0x4b);
        b = hamt_set(b, k, V(1));
        if (id < 12) {
            a = hamt_set(a, k, V(1));
        }
    }
    cr_assert_eq(hamt_size(a), 5);
    cr_assert_eq(hamt_size(b), 5);
    cr_assert(!hamt_equal(a, b, NULL, NULL));
    cr_assert(!hamt_equal(b, a, NULL, NULL));
}

/* The next permutation of p[0..n-1] in lexicographic order; false after
 * the last. */
static bool
next_perm(unsigned *p, unsigned n)
{
    unsigned i = n - 1, j = n - 1, t;

    while (i > 0 && p[i - 1] >= p[i]) {
        i--;
    }
    if (i == 0) {
        return false;
    }
    while (p[j] <= p[i - 1]) {
        j--;
    }
    t = p[i - 1], p[i - 1] = p[j], p[j] = t;
    for (j = n - 1; i < j; i++, j--) {
        t = p[i], p[i] = p[j], p[j] = t;
    }
    return true;
}

/* Every key of k[0..n-1] but `gone` is bound to its own value. */
static void
check_tree(const struct hamt *m, const struct tk **k, unsigned n, unsigned gone,
           const char *what)
{
    cr_assert_eq(hamt__validate(m), 0, "%s", what);
    cr_assert_eq(hamt_size(m), gone < n ? n - 1 : n, "%s", what);
    for (unsigned i = 0; i < n; i++) {
        void *v = NULL;
        bool hit = hamt_get(m, k[i], &v);

        cr_assert_eq(hit, i != gone, "%s: key %u", what, i);
        cr_assert(i == gone || v == V(100 + i), "%s: key %u's value", what, i);
    }
}

/*
 * Every insertion order of seven keys of one hash, through hamt_set and a
 * batch, and every removal from each result: the tree stays balanced and
 * ordered (hamt__validate) through every rotation, single or double, and a
 * removal of a key with two children keeps the successor's value.  Such
 * cases were reached only by some seeds of test/random.
 */
Test(ctree, every_insertion_order_and_removal_of_seven_keys)
{
    enum { N = 7 };
    const struct tk **k = same_keys(N, 0x5e);
    unsigned p[N];
    char what[64];

    for (unsigned i = 0; i < N; i++) {
        p[i] = i;
    }
    do {
        const struct hamt *m = tk_empty_ordered();
        struct hamt_batch *b = hamt_batch_begin(tk_empty_ordered());

        cr_assert_not_null(b);
        for (unsigned i = 0; i < N; i++) {
            m = hamt_set(m, k[p[i]], V(100 + p[i]));
            cr_assert_not_null(m);
            cr_assert_eq(hamt_batch_set(b, k[p[i]], V(100 + p[i])), 0);
            cr_assert_eq(hamt__validate(m), 0);
            cr_assert_eq(hamt__validate(hamt__batch_peek(b)), 0);
        }
        const struct hamt *mb = hamt_batch_finish(b);
        check_tree(m, k, N, N, "built");
        check_tree(mb, k, N, N, "built by a batch");
        for (unsigned g = 0; g < N; g++) {
            struct hamt_batch *rb = hamt_batch_begin(mb);

            snprintf(what, sizeof what, "order %u%u%u%u%u%u%u, remove %u", p[0],
                     p[1], p[2], p[3], p[4], p[5], p[6], g);
            check_tree(hamt_remove(m, k[g]), k, N, g, what);
            cr_assert_not_null(rb);
            cr_assert_eq(hamt_batch_remove(rb, k[g]), 0);
            check_tree(hamt_batch_finish(rb), k, N, g, what);
            /* In place: the batch removes from the tree it built. */
            rb = hamt_batch_begin(tk_empty_ordered());
            cr_assert_not_null(rb);
            for (unsigned i = 0; i < N; i++) {
                cr_assert_eq(hamt_batch_set(rb, k[p[i]], V(100 + p[i])), 0);
            }
            cr_assert_eq(hamt_batch_remove(rb, k[g]), 0);
            check_tree(hamt_batch_finish(rb), k, N, g, what);
        }
    } while (next_perm(p, N));
    free(k);
}

/* Fisher-Yates shuffle of 0 .. n-1 with a fixed generator (xorshift). */
static void
shuffle(unsigned *p, unsigned n, uint64_t *state)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = i;
    }
    for (unsigned i = n - 1; i > 0; i--) {
        uint64_t x = *state;
        unsigned j, t;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        *state = x;
        j = (unsigned)(x % (i + 1));
        t = p[i], p[i] = p[j], p[j] = t;
    }
}

/*
 * Removals in many orders from trees built in many orders (a fixed
 * generator, so every run checks the same trees): among them removals that
 * leave the heavy child of a node with two subtrees of one height, where
 * only a single rotation rebalances.  The tree is checked after each step.
 */
Test(ctree, shuffled_builds_and_removals_stay_balanced)
{
    enum { N = 48, ROUNDS = 300 };
    const struct tk **k = same_keys(N, 0x5f);
    unsigned in[N], out[N];
    uint64_t state = 0x9e3779b97f4a7c15ull;

    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned n = 8 + r % (N - 7);
        const struct hamt *m = tk_empty_ordered();

        shuffle(in, n, &state);
        shuffle(out, n, &state);
        for (unsigned i = 0; i < n; i++) {
            m = hamt_set(m, k[in[i]], V(100 + in[i]));
            cr_assert_not_null(m);
        }
        for (unsigned i = 0; i < n; i++) {
            m = hamt_remove(m, k[out[i]]);
            cr_assert_not_null(m);
            cr_assert_eq(hamt__validate(m), 0, "round %u, removal %u", r, i);
            cr_assert_eq(hamt_size(m), n - i - 1);
        }
    }
    free(k);
}

/*
 * A compare that is no total order (here: every key sorts before every
 * other) builds a tree whose search cannot find its own keys.  Iteration
 * found the successor of a node without a right child by such a search,
 * which could land on an earlier node: hamt_iter_next never returned
 * false.  It must still give every entry exactly once and end.
 */
static uint64_t
bad_hash(const void *k, void *ctx)
{
    (void)k;
    (void)ctx;
    return 42;
}

static bool
bad_equal(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return a == b;
}

static int
bad_compare(const void *a, const void *b, void *ctx)
{
    (void)a;
    (void)b;
    (void)ctx;
    return -1;
}

Test(ctree, iteration_ends_with_a_compare_that_is_no_order)
{
    struct hamt_key_type kt = {.size = sizeof kt,
                               .hash = bad_hash,
                               .equal = bad_equal,
                               .compare = bad_compare};
    const struct hamt *m = hamt_new_custom(&kt);
    enum { N = 40 };
    unsigned seen[N + 1] = {0};

    cr_assert_not_null(m);
    for (uintptr_t i = 1; i <= N; i++) {
        m = hamt_set(m, (const void *)i, V(i));
        cr_assert_not_null(m);
    }
    cr_assert_eq(hamt_size(m), N);
    struct hamt_iter it;
    const void *key;
    size_t n = 0;
    hamt_iter_init(&it, m);
    while (n <= 4 * N && hamt_iter_next(&it, &key, NULL)) {
        cr_assert((uintptr_t)key >= 1 && (uintptr_t)key <= N);
        seen[(uintptr_t)key]++;
        n++;
    }
    cr_assert_eq(n, N, "iterated %zu entries of %d", n, N);
    for (unsigned i = 1; i <= N; i++) {
        cr_assert_eq(seen[i], 1, "key %u seen %u times", i, seen[i]);
    }
    cr_assert(!hamt_iter_next(&it, &key, NULL), "stays at the end");
}
