/*
 * test/gc.c - the collector settings of gc.c: the budget between
 * collections (hamt_gc_set_budget, hamt_gc_set_budget_factor,
 * hamt_gc_budget, the default rule, floor and free-space divisor hamt_init
 * sets, HAMT_GC_BUDGET, GC_FREE_SPACE_DIVISOR) and the maps whose values
 * are scalars
 * (hamt_new_scalar): which kinds are refused, which blocks are
 * pointer-free, and that nothing a map needs is lost to the collector.
 *
 * Criterion runs every test in a fresh process, so each test sees the
 * collector before hamt_init() has run.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#include <gc/gc.h>
#endif
#include <string.h>

#include "internal.h"
#include "node.h"

#define V(x) ((void *)(uintptr_t)(x))
#define MIB ((size_t)1 << 20)

/*
 * The defaults documented in hamt_init(3): the minimum (the floor of the
 * proportional rule, and the budget until the first collection), the
 * factor and the divisor.
 */
#define DOC_DEFAULT (1 * MIB)
#define DOC_FACTOR 2
#define DOC_DIVISOR 1
/* The collector's own free-space divisor. */
#define GC_DIVISOR 3

#ifndef HAMT_NO_GC
Test(gc, init_sets_the_documented_default_budget)
{
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_gc_budget(), DOC_DEFAULT);
    cr_assert_eq(GC_get_min_bytes_allocd(), DOC_DEFAULT);
    cr_assert_eq(GC_get_free_space_divisor(), DOC_DIVISOR);
}

Test(gc, application_divisor_set_before_init_is_kept)
{
    GC_INIT();
    GC_set_free_space_divisor(2);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_not_null(hamt_new(HAMT_KEY_U64));
    cr_assert_eq(GC_get_free_space_divisor(), 2);
    /* The minimum is a separate choice: the library's default still. */
    cr_assert_eq(hamt_gc_budget(), DOC_DEFAULT);
}

Test(gc, application_divisor_set_after_init_wins)
{
    cr_assert_eq(hamt_init(), 0);
    GC_set_free_space_divisor(5);
    cr_assert_not_null(hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(1)));
    cr_assert_eq(hamt_gc_set_budget(2 * MIB), 0);
    cr_assert_eq(GC_get_free_space_divisor(), 5);
}

Test(gc, environment_divisor_is_kept_even_at_the_collectors_default)
{
    /* Equal to the collector's default: only the variable tells it apart. */
    cr_assert_eq(setenv("GC_FREE_SPACE_DIVISOR", "3", 1), 0);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(GC_get_free_space_divisor(), GC_DIVISOR);
    cr_assert_eq(hamt_gc_budget(), DOC_DEFAULT);
}

Test(gc, environment_budget_leaves_the_default_divisor)
{
    cr_assert_eq(setenv("HAMT_GC_BUDGET", "1", 1), 0);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_gc_budget(), 1);
    cr_assert_eq(GC_get_free_space_divisor(), DOC_DIVISOR);
}

Test(gc, budget_setting_leaves_the_divisor)
{
    cr_assert_eq(hamt_gc_set_budget(1), 0);
    cr_assert_eq(GC_get_free_space_divisor(), DOC_DIVISOR);
    cr_assert_eq(hamt_gc_set_budget(32 * MIB), 0);
    cr_assert_eq(GC_get_free_space_divisor(), DOC_DIVISOR);
}

Test(gc, set_budget_reaches_the_collector)
{
    cr_assert_eq(hamt_gc_set_budget(3 * MIB), 0);
    cr_assert_eq(hamt_gc_budget(), 3 * MIB);
    cr_assert_eq(GC_get_min_bytes_allocd(), 3 * MIB);
    /* 1 is the collector's own schedule. */
    cr_assert_eq(hamt_gc_set_budget(1), 0);
    cr_assert_eq(GC_get_min_bytes_allocd(), 1);
}

#endif /* HAMT_NO_GC */

Test(gc, zero_budget_is_refused)
{
    cr_assert_eq(hamt_gc_set_budget(5 * MIB), 0);
    errno = 0;
    cr_assert_eq(hamt_gc_set_budget(0), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_gc_budget(), 5 * MIB, "a refused call changes nothing");
}

Test(gc, budget_query_leaves_errno_alone)
{
    errno = 1234;
    cr_assert_gt(hamt_gc_budget(), 0);
    cr_assert_eq(errno, 1234);
}

#ifndef HAMT_NO_GC
Test(gc, application_budget_set_before_init_is_kept)
{
    GC_INIT();
    GC_set_min_bytes_allocd(7 * MIB);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_gc_budget(), 7 * MIB);
    cr_assert_not_null(hamt_new(HAMT_KEY_U64));
    cr_assert_eq(GC_get_min_bytes_allocd(), 7 * MIB);
}

Test(gc, application_budget_set_after_init_wins)
{
    cr_assert_eq(hamt_init(), 0);
    GC_set_min_bytes_allocd(9 * MIB);
    cr_assert_not_null(hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(1)));
    cr_assert_eq(hamt_gc_budget(), 9 * MIB);
}

/*
 * The proportional rule.  A map of BIG_N keys takes several times the
 * floor, so a rule that follows the heap lifts the budget above the floor
 * after a collection; the map lives in a static word (a root).  The rule
 * looks at the heap on the library's slow allocation path, so each check
 * collects and then makes updates enough to refill the free lists.
 */
#define BIG_N 300000
static const struct hamt *volatile big;

static void
big_build(void)
{
    struct hamt_batch *b = hamt_batch_begin(hamt_new(HAMT_KEY_U64));

    cr_assert_not_null(b);
    for (uint64_t i = 0; i < BIG_N; i++) {
        cr_assert_eq(
            hamt_batch_set(b, HAMT_U64(i * 0x9e3779b97f4a7c15u), V(i + 1)), 0);
    }
    big = hamt_batch_finish(b);
    cr_assert_not_null(big);
}

/*
 * Collects, then updates `big` until its lists have been refilled (new
 * values each time: an update that changes nothing allocates nothing).
 */
static void
collect_and_update(void)
{
    static uint64_t round;

    round++;
    GC_gcollect();
    for (uint64_t i = 0; i < 20000; i++) {
        const struct hamt *m = hamt_set(big, HAMT_U64(i * 0x9e3779b97f4a7c15u),
                                        V(round << 32 | i));

        cr_assert_not_null(m);
        big = m;
    }
}

Test(gc, default_budget_follows_the_heap, .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    big_build();
    collect_and_update();
    size_t grown = hamt_gc_budget();
    cr_assert_gt(grown, 2 * DOC_DEFAULT, "the budget stayed at %zu", grown);
    cr_assert_leq(grown, DOC_FACTOR * GC_get_heap_size());
    cr_assert_eq(GC_get_min_bytes_allocd(), grown);
}

/*
 * The rule's arithmetic, exactly: after a collection the first slow
 * allocation (here one above the free lists' sizes, which always goes the
 * slow way) sets the minimum to the factor times the heap in use.  Nothing
 * is allocated between that allocation and the look at the heap, so the
 * heap in use the rule saw is the one read here.  Twice, with the heap
 * grown in between: the rule follows it at every collection, not once.
 */
static void
budget_is_the_factor_times_the_heap_in_use(void)
{
    GC_gcollect();
    cr_assert_not_null(hamt__alloc(4096));
    size_t used = GC_get_heap_size() - GC_get_free_bytes();
    cr_assert_eq(hamt_gc_budget(), DOC_FACTOR * used,
                 "budget %zu, heap in use %zu", hamt_gc_budget(), used);
}

Test(gc, default_budget_is_the_factor_times_the_heap_in_use, .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    big_build();
    budget_is_the_factor_times_the_heap_in_use();
    const struct hamt *volatile keep = big;
    big_build(); /* a second map as large: the heap in use grows */
    budget_is_the_factor_times_the_heap_in_use();
    cr_assert_not_null(keep);
}

Test(gc, set_budget_factor_follows_the_heap, .timeout = 120)
{
    cr_assert_eq(hamt_gc_set_budget_factor(1, 64 * MIB), 0);
    cr_assert_eq(hamt_gc_budget(), 64 * MIB, "the floor at once");
    big_build();
    collect_and_update();
    cr_assert_eq(hamt_gc_budget(), 64 * MIB, "never below the floor");
    cr_assert_eq(hamt_gc_set_budget_factor(8, 1), 0);
    cr_assert_eq(hamt_gc_budget(), 1);
    collect_and_update();
    size_t b = hamt_gc_budget();
    cr_assert_geq(b, 8 * MIB, "8 x the heap in use: %zu", b);
    cr_assert_leq(b, 8 * GC_get_heap_size());
    cr_assert_eq(b % 8, 0);
}

Test(gc, zero_budget_factor_or_floor_is_refused)
{
    cr_assert_eq(hamt_gc_set_budget(5 * MIB), 0);
    errno = 0;
    cr_assert_eq(hamt_gc_set_budget_factor(0, MIB), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_gc_set_budget_factor(2, 0), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_gc_budget(), 5 * MIB, "a refused call changes nothing");
}

/* Each of the application's choices keeps the budget where it put it. */
static void
budget_stays(size_t want)
{
    big_build();
    collect_and_update();
    collect_and_update();
    cr_assert_eq(hamt_gc_budget(), want);
    cr_assert_eq(GC_get_min_bytes_allocd(), want);
}

Test(gc, set_budget_ends_the_rule, .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_gc_set_budget(DOC_DEFAULT), 0);
    budget_stays(DOC_DEFAULT);
}

Test(gc, set_budget_after_a_factor_ends_the_rule, .timeout = 120)
{
    cr_assert_eq(hamt_gc_set_budget_factor(4, MIB), 0);
    cr_assert_eq(hamt_gc_set_budget(3 * MIB), 0);
    budget_stays(3 * MIB);
}

Test(gc, environment_budget_has_no_rule, .timeout = 120)
{
    cr_assert_eq(setenv("HAMT_GC_BUDGET", "4M", 1), 0);
    cr_assert_eq(hamt_init(), 0);
    budget_stays(4 * MIB);
}

Test(gc, environment_divisor_has_no_rule, .timeout = 120)
{
    cr_assert_eq(setenv("GC_FREE_SPACE_DIVISOR", "1", 1), 0);
    cr_assert_eq(hamt_init(), 0);
    budget_stays(DOC_DEFAULT);
}

Test(gc, application_divisor_before_init_has_no_rule, .timeout = 120)
{
    GC_INIT();
    GC_set_free_space_divisor(2);
    cr_assert_eq(hamt_init(), 0);
    budget_stays(DOC_DEFAULT);
}

Test(gc, application_divisor_after_init_ends_the_rule, .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    GC_set_free_space_divisor(2);
    budget_stays(DOC_DEFAULT);
}

Test(gc, application_minimum_after_init_ends_the_rule, .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    big_build();
    collect_and_update();
    cr_assert_gt(hamt_gc_budget(), DOC_DEFAULT, "the rule ran first");
    GC_set_min_bytes_allocd(5 * MIB);
    collect_and_update();
    collect_and_update();
    cr_assert_eq(hamt_gc_budget(), 5 * MIB);
}

/*
 * Threads that allocate at once, with collections among them: the rule
 * runs under the collector's lock, once per collection, and every thread
 * sees the same budget.
 */
#define FOLLOW_THREADS 3
static void *
follow_thread(void *arg)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    (void)arg;
    if (hamt_thread_register() != 0) {
        return NULL;
    }
    for (uint64_t i = 0; i < 200000; i++) {
        m = hamt_set(m, HAMT_U64(i % 50000), V(i + 1));
        if (m == NULL) {
            return NULL;
        }
        if (i % 40000 == 0) {
            GC_gcollect();
        }
    }
    return (void *)(uintptr_t)(hamt_size(m) == 50000);
}

Test(gc, budget_follows_with_threads_allocating, .timeout = 120)
{
    pthread_t t[FOLLOW_THREADS];

    cr_assert_eq(hamt_init(), 0);
    big_build();
    for (int i = 0; i < FOLLOW_THREADS; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, follow_thread, NULL), 0);
    }
    for (int i = 0; i < FOLLOW_THREADS; i++) {
        void *ok;
        cr_assert_eq(pthread_join(t[i], &ok), 0);
        cr_assert_not_null(ok);
    }
    collect_and_update();
    cr_assert_gt(hamt_gc_budget(), 2 * DOC_DEFAULT);
}

#endif /* HAMT_NO_GC */

Test(gc, environment_budget_is_read_at_init)
{
    cr_assert_eq(setenv("HAMT_GC_BUDGET", "12M", 1), 0);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_gc_budget(), 12 * MIB);
}

Test(gc, environment_budget_syntax)
{
    static const struct {
        const char *s;
        size_t v;
    } ok[] = {{"1", 1},     {"4096", 4096},  {"3k", 3072},
              {"3K", 3072}, {"5m", 5 * MIB}, {"2G", (size_t)2 << 30}};
    static const char *const bad[] = {"",
                                      "0",
                                      "0M",
                                      "-1",
                                      " 1",
                                      "1 ",
                                      "12 MB",
                                      "1MB",
                                      "1T",
                                      "M",
                                      "0x10",
                                      "99999999999999999999",
                                      "17179869184G"};
    size_t v;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        v = 0;
        cr_assert(hamt__gc_budget_parse(ok[i].s, &v), "%s", ok[i].s);
        cr_assert_eq(v, ok[i].v, "%s", ok[i].s);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 77;
        cr_assert_not(hamt__gc_budget_parse(bad[i], &v), "'%s'", bad[i]);
        cr_assert_eq(v, 77, "'%s' wrote the result", bad[i]);
    }
}

Test(gc, malformed_environment_budget_fails_init)
{
    cr_assert_eq(setenv("HAMT_GC_BUDGET", "12 MB", 1), 0);
    errno = 0;
    cr_assert_eq(hamt_init(), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(hamt_new(HAMT_KEY_U64));
    cr_assert_eq(errno, EINVAL);
}

/* ---- maps whose values are scalars ---- */

Test(gc, scalar_maps_only_for_integer_keys)
{
    static const int bad[] = {
        0, HAMT_KEY_STRING, HAMT_KEY_BYTES, HAMT_KEY_PTR, HAMT_KEY_CUSTOM, 99};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        cr_assert_null(hamt_new_scalar((enum hamt_key_kind)bad[i]), "kind %d",
                       bad[i]);
        cr_assert_eq(errno, EINVAL);
    }
    const struct hamt *e = hamt_new_scalar(HAMT_KEY_U64);
    cr_assert_not_null(e);
    cr_assert_eq(hamt_new_scalar(HAMT_KEY_U64), e, "one shared empty map");
    cr_assert_neq(e, hamt_new(HAMT_KEY_U64));
    cr_assert_eq(hamt_key_kind(e), HAMT_KEY_U64);
    const struct hamt *m = hamt_set(e, HAMT_U64(5), V(6));
    cr_assert_eq(hamt_new_like(m), e, "derived maps keep the key type");
    cr_assert_eq(hamt_remove(m, HAMT_U64(5)), e);
}

Test(gc, scalar_maps_do_not_mix_with_plain_ones)
{
    const struct hamt *s =
        hamt_set(hamt_new_scalar(HAMT_KEY_U64), HAMT_U64(1), V(1));
    const struct hamt *p = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(2), V(2));

    errno = 0;
    cr_assert_null(hamt_merge(s, p, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_merge(p, s, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_intersect(p, s, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
}

#ifndef HAMT_NO_GC
/* Counts of the blocks of a map's nodes: pointer-free or scanned. */
struct kinds {
    size_t leaf_free, leaf_scanned, inner_free, inner_scanned;
};

static void
kinds_walk(const void *p, unsigned shift, struct kinds *k)
{
    int kind = hamt__alloc_kind(p);

    cr_assert_neq(kind, -1, "a node outside the collector's heap");
    if (nd_is_collision_shift(shift)) {
        *(kind ? &k->leaf_free : &k->leaf_scanned) += 1;
        return;
    }
    const struct node *n = p;
    if (n->nodemap == 0) {
        *(kind ? &k->leaf_free : &k->leaf_scanned) += 1;
        return;
    }
    *(kind ? &k->inner_free : &k->inner_scanned) += 1;
    for (uint32_t rest = n->nodemap; rest != 0; rest &= rest - 1) {
        kinds_walk(nd_child(n, rest & -rest), shift + HAMT_BITS, k);
    }
}

static struct kinds
kinds_of(const struct hamt *m)
{
    struct kinds k = {0};

    kinds_walk(hamt__root(m), 0, &k);
    return k;
}

static const struct hamt *
build_persistent(const struct hamt *m, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        m = hamt_set(m, HAMT_U64(i * 0x9e3779b97f4a7c15u), V(i));
        cr_assert_not_null(m);
    }
    return m;
}

Test(gc, childless_nodes_of_scalar_maps_are_pointer_free)
{
    struct kinds s =
        kinds_of(build_persistent(hamt_new_scalar(HAMT_KEY_U64), 20000));
    struct kinds p = kinds_of(build_persistent(hamt_new(HAMT_KEY_U64), 20000));

    /* Persistent updates build every node fresh: the rule is exact. */
    cr_assert_gt(s.leaf_free, 100);
    cr_assert_eq(s.leaf_scanned, 0);
    cr_assert_eq(s.inner_free, 0, "a node with children is pointer-free");
    cr_assert_gt(s.inner_scanned, 0);
    cr_assert_eq(p.leaf_free + p.inner_free, 0, "plain maps are all scanned");
    cr_assert_eq(p.leaf_scanned, s.leaf_free, "same keys, same shape");
}

#endif /* HAMT_NO_GC */

/*
 * A batch that turns an entry of a pointer-free node it owns into a child
 * must rebuild the node as a scanned one (N6): random batch edits over a
 * key space that makes new children often, with hamt__validate's N6 check
 * and a walk of the kinds after every round.
 */
Test(gc, batches_never_put_a_child_in_a_pointer_free_node)
{
    const struct hamt *m = hamt_new_scalar(HAMT_KEY_U64);
    uint64_t st = 42;
    size_t grown = 0;

    for (unsigned round = 0; round < 30; round++) {
        struct hamt_batch *b = hamt_batch_begin(m);
        cr_assert_not_null(b);
        for (unsigned j = 0; j < 3000; j++) {
            st = st * 6364136223846793005u + 1442695040888963407u;
            uint64_t k = (st >> 20) % 20000;
            if ((st >> 8) % 4 == 0) {
                cr_assert_geq(hamt_batch_remove(b, HAMT_U64(k)), 0);
            } else {
                cr_assert_geq(hamt_batch_set(b, HAMT_U64(k), V(k + 1)), 0);
            }
        }
        cr_assert_eq(hamt__validate(hamt__batch_peek(b)), 0);
        m = hamt_batch_finish(b);
        cr_assert_eq(hamt__validate(m), 0);
#ifndef HAMT_NO_GC
        struct kinds k = kinds_of(m);
        cr_assert_eq(k.inner_free, 0, "round %u", round);
        grown += k.leaf_free;
#else
        grown += hamt_size(m);
#endif
    }
    cr_assert_gt(grown, 0, "batches made no pointer-free leaves");
}

/* A reference of what a scalar map holds, checked after collections. */
static void
check_contents(const struct hamt *m, const uint64_t *ref, uint64_t n)
{
    size_t count = 0;

    for (uint64_t k = 0; k < n; k++) {
        void *v = NULL;
        bool f = hamt_get(m, HAMT_U64(k), &v);
        cr_assert_eq(f, ref[k] != 0, "key %lu presence", (unsigned long)k);
        if (f) {
            cr_assert_eq(v, V(ref[k]), "key %lu value", (unsigned long)k);
            count++;
        }
    }
    cr_assert_eq(hamt_size(m), count);
    cr_assert_eq(hamt__validate(m), 0);
}

#ifndef HAMT_NO_GC
/* Fills freed memory with junk, so that a reclaimed node reads wrong. */
static void
churn(void)
{
    for (unsigned i = 0; i < 20000; i++) {
        unsigned char *p = GC_MALLOC(16 + 16 * (i % 16));
        memset(p, 0xa5, 16 + 16 * (i % 16));
    }
}

#define COLLECT() (GC_gcollect(), churn(), GC_gcollect())
#else
#define COLLECT() ((void)0) /* nothing is freed without the collector */
#endif                      /* HAMT_NO_GC */

/*
 * Only the pointer-free leaves are unscanned: every node a map reaches
 * through a child pointer stays alive across collections, whether the
 * map was built by persistent updates, batches or a merge.
 */
Test(gc, scalar_maps_survive_collections, .timeout = 120)
{
    enum { N = 6000 };
    static uint64_t ref[N];
    const struct hamt *m = hamt_new_scalar(HAMT_KEY_U64);
    uint64_t st = 7;

    for (unsigned round = 0; round < 12; round++) {
        struct hamt_batch *b = round % 2 ? hamt_batch_begin(m) : NULL;
        for (unsigned j = 0; j < 1500; j++) {
            st = st * 6364136223846793005u + 1442695040888963407u;
            uint64_t k = (st >> 20) % N, v = (st >> 40) + 1;
            bool del = (st >> 8) % 3 == 0;
            if (b != NULL) {
                cr_assert_geq(del ? hamt_batch_remove(b, HAMT_U64(k))
                                  : hamt_batch_set(b, HAMT_U64(k), V(v)),
                              0);
            } else {
                m = del ? hamt_remove(m, HAMT_U64(k))
                        : hamt_set(m, HAMT_U64(k), V(v));
                cr_assert_not_null(m);
            }
            ref[k] = del ? 0 : v;
        }
        if (b != NULL) {
            m = hamt_batch_finish(b);
        }
        COLLECT();
        check_contents(m, ref, N);
    }
    /* A merge of two halves builds its nodes bottom up (ops.c). */
    const struct hamt *lo = hamt_new_scalar(HAMT_KEY_U64), *hi = lo;
    for (uint64_t k = 0; k < N; k++) {
        if (ref[k] != 0) {
            if (k < N / 2) {
                lo = hamt_set(lo, HAMT_U64(k), V(ref[k]));
            } else {
                hi = hamt_set(hi, HAMT_U64(k), V(ref[k]));
            }
        }
    }
    const struct hamt *u = hamt_merge(lo, hi, NULL, NULL);
    cr_assert_not_null(u);
    lo = hi = NULL;
    COLLECT();
    check_contents(u, ref, N);
#ifndef HAMT_NO_GC
    cr_assert_eq(kinds_of(u).inner_free, 0);
#endif
}

/*
 * gc.c's per-thread free lists of scanned objects: an object handed out
 * is zeroed and never handed out again while it is reachable, across
 * collections, in every size class the lists serve and beyond it.  If the
 * lists were not traced, a collection would reclaim the objects waiting on
 * them and a later refill would hand the same memory out a second time:
 * the stamps below would be overwritten or a fresh object would not be
 * zero.
 */
#define FL_SLOTS 3000

static void *fl_live[FL_SLOTS]; /* static: scanned, keeps objects alive */

static size_t
fl_size(uint64_t st)
{
    return (size_t)(st >> 33) % 2200; /* up to beyond the small objects */
}

static void
fl_stamp(void *p, size_t n, unsigned i)
{
    memset(p, (int)(i % 251) + 1, n);
}

static void
fl_check_stamp(const void *p, size_t n, unsigned i)
{
    const unsigned char *b = p;

    for (size_t j = 0; j < n; j++) {
        cr_assert_eq(b[j], (unsigned char)(i % 251 + 1),
                     "object %u byte %zu overwritten", i, j);
    }
}

static void
fl_churn(unsigned rounds, uint64_t seed)
{
    static size_t len[FL_SLOTS];
    uint64_t st = seed;

    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned j = 0; j < 4 * FL_SLOTS; j++) {
            st = st * 6364136223846793005u + 1442695040888963407u;
            unsigned i = (unsigned)((st >> 17) % FL_SLOTS);
            size_t n = fl_size(st);
            unsigned char *p = hamt__alloc(n);

            cr_assert_not_null(p);
            for (size_t k = 0; k < n; k++) {
                cr_assert_eq(p[k], 0, "fresh object not zero at byte %zu", k);
            }
            if (fl_live[i] != NULL) {
                fl_check_stamp(fl_live[i], len[i], i);
            }
            fl_stamp(p, n, i);
            fl_live[i] = p; /* the old one becomes garbage */
            len[i] = n;
        }
        COLLECT();
        for (unsigned i = 0; i < FL_SLOTS; i++) {
            if (fl_live[i] != NULL) {
                fl_check_stamp(fl_live[i], len[i], i);
            }
        }
    }
}

Test(gc, free_lists_never_hand_out_a_live_object, .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    fl_churn(6, 11);
}

static void *
fl_thread(void *arg)
{
    cr_assert_eq(hamt_thread_register(), 0);
    fl_churn(1, (uint64_t)(uintptr_t)arg);
    return NULL; /* the lists go back at exit (a key destructor) */
}

/*
 * Threads that allocate and exit, one after another: their lists are given
 * back at exit, and what was on them is reclaimed, never handed out while
 * some other object still uses the memory.
 */
Test(gc, free_lists_of_exited_threads, .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    for (uintptr_t t = 0; t < 8; t++) {
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, fl_thread, (void *)(t + 3)), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        COLLECT();
    }
    fl_churn(2, 5);
}

#ifndef HAMT_NO_GC
/*
 * A node the batch made and then replaced is given back at once (batch.c,
 * "Freeing"): a batch load frees bytes explicitly.
 */
Test(gc, batch_frees_the_nodes_it_replaced)
{
    cr_assert_eq(hamt_init(), 0);
    struct hamt_batch *b = hamt_batch_begin(hamt_new(HAMT_KEY_U64));
    cr_assert_not_null(b);
    GC_gcollect();
    size_t f0 = GC_get_expl_freed_bytes_since_gc();
    for (uint64_t k = 0; k < 2000; k++) {
        cr_assert_eq(hamt_batch_set(b, HAMT_U64(k), V(k + 1)), 0);
    }
    size_t freed = GC_get_expl_freed_bytes_since_gc() - f0;
    cr_assert_gt(freed, 0, "the batch freed nothing it replaced");
    cr_assert_eq(hamt_size(hamt_batch_finish(b)), 2000);
}

/*
 * A heap the collector may not grow (GC_set_max_heap_size): once it is
 * full, an update fails with NULL and ENOMEM (hamt_set(3)) and its input
 * stays whole, whether the allocation that failed is a node (the free
 * lists' refill) or a key's copy (pointer-free memory).
 */
static const struct hamt *
set_until_enomem(const struct hamt *m, const void *(*key)(unsigned i),
                 unsigned *n)
{
    for (;; ++*n) {
        size_t size = hamt_size(m);
        errno = 0;
        const struct hamt *r = hamt_set(m, key(*n), V(*n + 1));
        if (r == NULL) {
            cr_assert_eq(errno, ENOMEM, "errno %d after %u keys", errno, *n);
            cr_assert_eq(hamt_size(m), size);
            return m;
        }
        cr_assert_lt(*n, 10u * 1000 * 1000, "the heap never filled up");
        m = r;
    }
}

static const void *
int_key(unsigned i)
{
    return HAMT_U64(i);
}

static const void *
long_string_key(unsigned i)
{
    static char buf[4096];

    memset(buf, 'x', sizeof buf - 1);
    snprintf(buf, 16, "%u", i);
    buf[strlen(buf)] = '-';
    return buf;
}

Test(gc, a_full_heap_fails_updates_with_enomem_and_keeps_their_input,
     .timeout = 120)
{
    cr_assert_eq(hamt_init(), 0);
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    unsigned ns = 0, nm = 0;

    GC_gcollect();
    GC_set_max_heap_size(GC_get_heap_size() + 16 * MIB);
    s = set_until_enomem(s, long_string_key, &ns);
    m = set_until_enomem(m, int_key, &nm);
    cr_assert_gt(ns, 0);
    cr_assert_eq(hamt_size(s), ns);
    cr_assert_eq(hamt_size(m), nm);
    cr_assert_eq(hamt__validate(s), 0);
    cr_assert_eq(hamt__validate(m), 0);
    for (unsigned i = 0; i < nm; i += 97) {
        void *v = NULL;
        cr_assert(hamt_get(m, HAMT_U64(i), &v));
        cr_assert_eq(v, V(i + 1));
    }
}
#endif /* HAMT_NO_GC */

/*
 * The fault injection the out-of-memory tests rest on: hamt__fail_after(n,
 * false) fails the n-th allocation from now and only that one; with
 * persistent, that one and every later one until hamt__fail_after(0, ...).
 */
Test(gc, fault_injection_fails_one_allocation_or_all_from_then_on)
{
    cr_assert_eq(hamt_init(), 0);
    hamt__fail_after(2, false);
    cr_assert_not_null(hamt__alloc(16));
    errno = 0;
    cr_assert_null(hamt__alloc(16));
    cr_assert_eq(errno, ENOMEM);
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(hamt__alloc(16), "a transient failure recurred");
    }
    hamt__fail_after(2, true);
    cr_assert_not_null(hamt__alloc(16));
    for (int i = 0; i < 3; i++) {
        errno = 0;
        cr_assert_null(hamt__alloc(16), "a persistent failure stopped");
        cr_assert_eq(errno, ENOMEM);
    }
    hamt__fail_after(0, false);
    cr_assert_not_null(hamt__alloc(16));
}
