/*
 * edits.c - the bench rows of the batch editor and the whole-map
 * operations (issue 5), at N u64 keys, against GHashTable measured in the
 * same run, each timed way in a process of its own (see the cases below):
 *
 *   build      N keys from empty: GHashTable inserts, libhamt persistent
 *              sets, one batch of hamt_batch_set calls, and one batch fed
 *              by hamt_batch_set_many (ns per key; collections and the
 *              longest pause for the batch builds)
 *   k updates  k random existing keys given new values: one batch
 *              (begin, k hamt_batch_set calls, finish), one batch fed by
 *              hamt_batch_set_many, against k persistent hamt_set calls
 *              (ns, bytes allocated, and time stopped for collections per
 *              update), for k = 10 ... 100,000;
 *              and the allocation floor of hamt_batch_set_many: its bytes
 *              allocated with no tree work, which bounds what any batch
 *              allocating that much can gain
 *   diff       hamt_diff of the map and its version after the k updates,
 *              ns per reported difference
 *   merge      hamt_merge of two versions that each added k/2 new keys to
 *              the map, ns per differing key
 *
 * Every result is checked (sizes, hamt_equal, difference counts); a wrong
 * answer is reported as an error like any other in the bench.  The report
 * (in the parent, from the records) prints the tables of this section.
 */
#include "bench.h"

#include <hamt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V(x) ((void *)(uintptr_t)(x))

static const size_t edit_ks[] = {10, 100, 1000, 10000, 100000};
/* Updates of each kind per k and run. */
#define EDIT_UPDATES 300000

static int
count_diff(const void *key, void *old_val, void *new_val,
           enum hamt_diff_kind kind, void *ctx)
{
    (void)key;
    (void)old_val;
    (void)new_val;
    (void)kind;
    ++*(size_t *)ctx;
    return 0;
}

/* GC figures of one timed libhamt phase. */
static void
edits_gc(const char *metric, size_t n, unsigned run)
{
    struct bench_gc_stats st;
    char name[64];

    bench_gc_read(&st, NULL);
    snprintf(name, sizeof name, "%s_gcs", metric);
    bench_rec("edits", "libhamt", n, name, run, (double)st.collections);
    snprintf(name, sizeof name, "%s_gc_max_ms", metric);
    bench_rec("edits", "libhamt", n, name, run, st.max_ms);
}

/*
 * k updates of m (keys uk, values uv) one way: 0 = k persistent hamt_set
 * calls, 1 = one batch of hamt_batch_set calls, 2 = one batch fed by
 * hamt_batch_set_many.  Returns the new map, NULL on a failure.
 */
static const struct hamt *
edits_way(unsigned way, const struct hamt *m, size_t k, const void *const *uk,
          void *const *uv)
{
    const struct hamt *q = m;
    struct hamt_batch *b;

    if (way == 0) {
        for (size_t j = 0; j < k && q != NULL; j++) {
            q = hamt_set(q, uk[j], uv[j]);
        }
        return q;
    }
    b = hamt_batch_begin(m);
    if (b == NULL) {
        return NULL;
    }
    if (way == 1) {
        for (size_t j = 0; j < k; j++) {
            if (hamt_batch_set(b, uk[j], uv[j]) < 0) {
                hamt_batch_discard(b);
                return NULL;
            }
        }
    } else if (hamt_batch_set_many(b, k, uk, uv, NULL) != 0) {
        hamt_batch_discard(b);
        return NULL;
    }
    return hamt_batch_finish(b);
}

/* Keys 0 .. n-1 of the bench and values 1 .. n. */
static void
edits_keys(size_t n, const void ***keys, void ***vals)
{
    *keys = bench_xmalloc(n * sizeof **keys);
    *vals = bench_xmalloc(n * sizeof **vals);
    for (size_t i = 0; i < n; i++) {
        (*keys)[i] = HAMT_U64(bench_key_u64(i));
        (*vals)[i] = V(i + 1);
    }
}

/* The map of keys 0 .. n-1, loaded (untimed) through one batch. */
static const struct hamt *
edits_map(size_t n, const void *const *keys, void *const *vals)
{
    struct hamt_batch *b = hamt_batch_begin(hamt_new(HAMT_KEY_U64));

    if (b == NULL || hamt_batch_set_many(b, n, keys, vals, NULL) != 0) {
        bench_fail("edits: loading %zu keys failed", n);
        return NULL;
    }
    return hamt_batch_finish(b);
}

static size_t
edits_nks(size_t n)
{
    size_t nk = 0;

    while (nk < sizeof edit_ks / sizeof edit_ks[0] && edit_ks[nk] <= n) {
        nk++;
    }
    return nk;
}

/*
 * Cases.  Every timed way runs alone in a process of its own (the driver
 * runs one child per case), so that the collector's work is charged to the
 * way that caused it.  When the ways took turns in one process, a
 * collection fell on whichever way next ran out of free blocks of some
 * size, not on the way whose garbage filled the heap: two ways that
 * allocate the same bytes per update could have every collection charged
 * to one of them, and the k = 1,000 speedup swung from run to run
 * (bench/FINDINGS.md, "Variance", gives the measurement).  Each
 * process first does its work once untimed, so that the timed runs find
 * the heap at the size the way keeps it at, its pages faulted in (a first
 * touch of a page is dear on a virtual machine, and a 1M-key map spans
 * thousands of pages): the figures are those of a program that does this
 * all day, not of its first minute.
 *
 *   0 .. 3       build from empty, every run: GHashTable, hamt_batch_set,
 *                hamt_batch_set_many, hamt_set
 *   4 .. 4K+3    k updates, every run: k index (c - 4) / 4, way (c - 4) % 4
 *                (way 3: the allocation floor of way 2)
 *   4K+4         diff and merge, every run, after checking that the three
 *                ways of updating agree
 *
 * with K values of k (at most n).
 */
static unsigned
edits_ncases(size_t n)
{
    return 4 + 4 * (unsigned)edits_nks(n) + 1;
}

/* Builds the map of n keys one way; run -1 is the untimed warm-up. */
static void
edits_build(size_t n, unsigned way, int run, const void *const *keys,
            void *const *vals, const struct bench_adapter *ghash)
{
    static const char *const metric[4] = {
        "build", "batch_build", "batch_build_many", "persistent_build"};
    const struct hamt *m;
    struct hamt_batch *b;
    uint64_t t0, t1;

    if (way == 0) {
        void *g = ghash->create(BK_U64, n);
        void *gt = ghash->thread_enter(g);
        size_t fresh = 0;
        /* The same precomputed keys and values as libhamt's builds. */
        t0 = bench_now_ns();
        for (size_t i = 0; i < n; i++) {
            fresh += ghash->insert(g, gt, (bkey)(uintptr_t)keys[i],
                                   (uint64_t)(uintptr_t)vals[i]);
        }
        t1 = bench_now_ns();
        if (fresh != n) {
            bench_fail("edits: ghash build made %zu of %zu keys", fresh, n);
        }
        if (run >= 0) {
            bench_rec("edits", "ghash", n, metric[0], (unsigned)run,
                      (double)(t1 - t0) / (double)n);
        }
        ghash->thread_exit(g, gt);
        ghash->destroy(g);
        return;
    }
    m = hamt_new(HAMT_KEY_U64);
    GC_gcollect();
    bench_gc_reset();
    t0 = bench_now_ns();
    if (way == 3) {
        for (size_t i = 0; i < n && m != NULL; i++) {
            m = hamt_set(m, keys[i], vals[i]);
        }
    } else {
        b = hamt_batch_begin(m);
        if (way == 1) {
            for (size_t i = 0; i < n; i++) {
                if (hamt_batch_set(b, keys[i], vals[i]) != 0) {
                    bench_fail("edits: hamt_batch_set of key %zu failed", i);
                    break;
                }
            }
        } else if (hamt_batch_set_many(b, n, keys, vals, NULL) != 0) {
            bench_fail("edits: hamt_batch_set_many failed");
        }
        m = hamt_batch_finish(b);
    }
    t1 = bench_now_ns();
    if (run >= 0) {
        bench_rec("edits", "libhamt", n, metric[way], (unsigned)run,
                  (double)(t1 - t0) / (double)n);
        edits_gc(metric[way], n, (unsigned)run);
    }
    /* Untimed: every key is there with its value. */
    for (size_t i = 0; i < n && m != NULL; i++) {
        void *v;
        if (!hamt_get(m, keys[i], &v) || v != vals[i]) {
            m = NULL;
        }
    }
    if (m == NULL || hamt_size(m) != n) {
        bench_fail("edits: the %s map is wrong", metric[way]);
    }
}

/*
 * The allocation floor of a batch: per round, the bytes hamt_batch_set_many
 * allocated for k updates (measured in the untimed pass), allocated and
 * filled in blocks of the size of a full node (272 B) with no tree work,
 * chained so that they stay reachable until the round ends, as a batch's
 * nodes do.  No batch allocating that much can cost less per update.
 * False if the collector ran out of memory.
 */
static bool
edits_floor_round(size_t k, double bytes_per_update)
{
    static const char fill[264];
    size_t nblocks = (size_t)(bytes_per_update * (double)k / 272.0 + 0.5);
    void **head = NULL;

    for (size_t i = 0; i < nblocks; i++) {
        void **b = GC_MALLOC(271);
        if (b == NULL) {
            return false;
        }
        memcpy(b, fill, sizeof fill);
        b[0] = head;
        head = b;
    }
    return true;
}

/*
 * Rounds of k updates of m (n keys), one way, each round with fresh random
 * keys, until EDIT_UPDATES updates are done: small k then pays its share of
 * the collections and lazy sweeping that its garbage causes.  Run -1 is
 * the untimed warm-up.  Records ns, bytes allocated, collections, and the
 * time the world was stopped for them, per update.  Way 3 is the
 * allocation floor of way 2 (edits_floor_round), whose warm-up pass is way
 * 2 itself.
 */
static void
edits_updates(const struct hamt *m, size_t n, const void *const *keys, size_t k,
              unsigned way, int run)
{
    static const char *const prefix[4] = {"sets", "batch", "batch_many",
                                          "floor_many"};
    static double floor_bytes; /* way 2's bytes per update (warm-up) */
    const void **uk = bench_xmalloc(k * sizeof *uk);
    void **uv = bench_xmalloc(k * sizeof *uv);
    size_t rounds = EDIT_UPDATES / k ? EDIT_UPDATES / k : 1;
    uint64_t rng = 0x5eed0000u + 7919u * (unsigned)(run + 1) + k, t = 0;
    char metric[64];

    GC_gcollect();
    bench_gc_reset();
    size_t bytes0 = GC_get_total_bytes();
    for (size_t r = 0; r < rounds; r++) {
        for (size_t j = 0; j < k; j++) {
            uk[j] = keys[bench_below(&rng, n)];
            uv[j] = V(n + j + 1);
        }
        if (way == 3 && run >= 0) {
            uint64_t t0 = bench_now_ns();
            bool ok = edits_floor_round(k, floor_bytes);
            t += bench_now_ns() - t0;
            if (!ok) {
                bench_fail("edits: the allocation floor ran out of memory");
                break;
            }
            continue;
        }
        uint64_t t0 = bench_now_ns();
        const struct hamt *q = edits_way(way == 3 ? 2 : way, m, k, uk, uv);
        t += bench_now_ns() - t0;
        if (q == NULL || hamt_size(q) != n) {
            bench_fail("edits: %zu updates, way %u failed", k, way);
            break;
        }
    }
    double upd = (double)(rounds * k);
    size_t bytes = GC_get_total_bytes() - bytes0;
    if (way == 3 && run < 0) {
        floor_bytes = (double)bytes / upd;
    }
    struct bench_gc_stats st;
    bench_gc_read(&st, NULL);
    free(uk);
    free(uv);
    if (run < 0) {
        return;
    }
    snprintf(metric, sizeof metric, "%s_k%zu", prefix[way], k);
    bench_rec("edits", "libhamt", n, metric, (unsigned)run, (double)t / upd);
    snprintf(metric, sizeof metric, "%s_k%zu_bytes", prefix[way], k);
    bench_rec("edits", "libhamt", n, metric, (unsigned)run,
              (double)bytes / upd);
    snprintf(metric, sizeof metric, "%s_k%zu_gcs", prefix[way], k);
    bench_rec("edits", "libhamt", n, metric, (unsigned)run,
              (double)st.collections);
    /* Time the world stood still for the collector (marking; the sweep is
     * lazy and falls in later allocations), per update. */
    snprintf(metric, sizeof metric, "%s_k%zu_gc_ns", prefix[way], k);
    bench_rec("edits", "libhamt", n, metric, (unsigned)run,
              st.total_ms * 1e6 / upd);
}

/* Diff and merge after k updates, for every k; each run in turn. */
static void
edits_diff_merge(size_t n, unsigned runs, const void *const *keys,
                 void *const *vals)
{
    char metric[64];
    uint64_t t0, t1;
    const struct hamt *m = edits_map(n, keys, vals);
    for (unsigned run = 0; run < runs && m != NULL; run++) {
        uint64_t rng = 0xd1ff0000u + run;
        for (size_t ki = 0; ki < edits_nks(n); ki++) {
            size_t k = edit_ks[ki];
            const void **uk = bench_xmalloc(k * sizeof *uk);
            void **uv = bench_xmalloc(k * sizeof *uv);
            const struct hamt *got[3];
            /* A collected heap first, so that diff and merge seldom pay for
             * garbage not their own. */
            GC_gcollect();
            for (size_t j = 0; j < k; j++) {
                uk[j] = keys[bench_below(&rng, n)];
                uv[j] = V(n + j + 1);
            }
            /* The three ways of updating must agree. */
            for (unsigned way = 0; way < 3; way++) {
                got[way] = edits_way(way, m, k, uk, uv);
            }
            if (got[0] == NULL || got[1] == NULL || got[2] == NULL
                || !hamt_equal(got[1], got[0], NULL, NULL)
                || !hamt_equal(got[2], got[0], NULL, NULL)) {
                bench_fail("edits: batches of %zu updates differ from the "
                           "sets",
                           k);
            }
            const struct hamt *bm = got[1];
            free(uk);
            free(uv);

            size_t nd = 0;
            t0 = bench_now_ns();
            int rc = hamt_diff(m, bm, NULL, count_diff, &nd);
            t1 = bench_now_ns();
            if (rc != 0 || nd == 0 || nd > k) {
                bench_fail("edits: diff after %zu updates: rc %d, %zu "
                           "changes",
                           k, rc, nd);
            }
            snprintf(metric, sizeof metric, "diff_k%zu", k);
            bench_rec("edits", "libhamt", n, metric, run,
                      (double)(t1 - t0) / (double)(nd ? nd : 1));

            /* Two branches, each adding k/2 new keys (keys n, n+1, ...). */
            size_t h = k / 2;
            struct hamt_batch *ba = hamt_batch_begin(m);
            struct hamt_batch *bb = hamt_batch_begin(m);
            for (size_t j = 0; j < h; j++) {
                hamt_batch_set(ba, HAMT_U64(bench_key_u64(n + 2 * j)), V(1));
                hamt_batch_set(bb, HAMT_U64(bench_key_u64(n + 2 * j + 1)),
                               V(2));
            }
            const struct hamt *ma = hamt_batch_finish(ba);
            const struct hamt *mb = hamt_batch_finish(bb);
            t0 = bench_now_ns();
            const struct hamt *mu = hamt_merge(ma, mb, NULL, NULL);
            t1 = bench_now_ns();
            if (mu == NULL || hamt_size(mu) != n + 2 * h) {
                bench_fail("edits: merge of two branches of %zu keys: size "
                           "%zu",
                           h, mu ? hamt_size(mu) : 0);
            }
            snprintf(metric, sizeof metric, "merge_k%zu", k);
            bench_rec("edits", "libhamt", n, metric, run,
                      (double)(t1 - t0) / (double)(h ? 2 * h : 1));
        }
    }
}

static void
edits_case(size_t n, unsigned runs, unsigned c,
           const struct bench_adapter *ghash)
{
    unsigned nk = (unsigned)edits_nks(n);
    const void **keys;
    void **vals;

    if (c == 0 && ghash == NULL) {
        return;
    }
    edits_keys(n, &keys, &vals);
    if (c < 4) {
        for (int run = -1; run < (int)runs; run++) {
            edits_build(n, c, run, keys, vals, ghash);
        }
    } else if (c < 4 + 4 * nk) {
        const struct hamt *m = edits_map(n, keys, vals);
        for (int run = -1; run < (int)runs && m != NULL; run++) {
            edits_updates(m, n, keys, edit_ks[(c - 4) / 4], (c - 4) % 4, run);
        }
    } else {
        edits_diff_merge(n, runs, keys, vals);
    }
    free(keys);
    free(vals);
}

size_t
edits_n(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < bench_cfg.nns; i++) {
        n = bench_cfg.ns[i] > n ? bench_cfg.ns[i] : n;
    }
    return n;
}

/*
 * The edits section: with `only` >= 0 measures that case (in a child), and
 * returns the number of cases (0 when libhamt is not selected).
 */
static unsigned
edits_all(long only)
{
    if (!bench_selected(&bench_hamt)) {
        return 0;
    }
    unsigned ncases = edits_ncases(edits_n());
    if (only >= 0 && only < (long)ncases) {
        edits_case(edits_n(), bench_cfg.runs, (unsigned)only,
                   bench_adapter_named("ghash"));
    }
    return ncases;
}

#define EM(map, metric) rec_median("edits", map, BK_U64, n, 0, 0, 0, metric)

void
edits_report(void)
{
    size_t n = edits_n();
    char a[64];

    if (isnan(EM("libhamt", "batch_build"))) {
        return;
    }
    printf("\n== batch editor and whole-map operations, u64 keys, N = %zu, "
           "median of %u (ns)\n",
           n, bench_cfg.runs);
    printf("build from empty, per key: ghash insert %.1f | hamt_set %.1f | "
           "hamt_batch_set %.1f | hamt_batch_set_many %.1f\n",
           EM("ghash", "build"), EM("libhamt", "persistent_build"),
           EM("libhamt", "batch_build"), EM("libhamt", "batch_build_many"));
    printf("collections during the build: hamt_set %.0f (max pause %.1f ms) | "
           "hamt_batch_set %.0f (%.1f ms) | hamt_batch_set_many %.0f "
           "(%.1f ms)\n",
           EM("libhamt", "persistent_build_gcs"),
           EM("libhamt", "persistent_build_gc_max_ms"),
           EM("libhamt", "batch_build_gcs"),
           EM("libhamt", "batch_build_gc_max_ms"),
           EM("libhamt", "batch_build_many_gcs"),
           EM("libhamt", "batch_build_many_gc_max_ms"));
    printf("k updates of random keys, each way alone in its process (ns per "
           "update; speedup = k sets / batch; bytes allocated per update; "
           "floor = set_many's allocations alone, and the speedup it caps), "
           "diff and merge (ns per changed key):\n");
    printf("%7s %8s %8s %7s %8s %7s %6s %6s %7s %7s %8s %8s\n", "k", "k sets",
           "batch", "speedup", "set_many", "speedup", "B sets", "B many",
           "floor", "cap", "diff", "merge");
    for (size_t k = 10; k <= 100000 && k <= n; k *= 10) {
        double v[8];
        static const char *const fmt[8] = {"sets_k%zu",
                                           "batch_k%zu",
                                           "batch_many_k%zu",
                                           "sets_k%zu_bytes",
                                           "batch_many_k%zu_bytes",
                                           "floor_many_k%zu",
                                           "diff_k%zu",
                                           "merge_k%zu"};
        for (unsigned i = 0; i < 8; i++) {
            snprintf(a, sizeof a, fmt[i], k);
            v[i] = EM("libhamt", a);
        }
        printf("%7zu %8.1f %8.1f %6.2fx %8.1f %6.2fx %6.0f %6.0f %7.1f "
               "%6.2fx %8.1f %8.1f\n",
               k, v[0], v[1], v[0] / v[1], v[2], v[0] / v[2], v[3], v[4], v[5],
               v[0] / v[5], v[6], v[7]);
    }
    printf("the collector's share of k sets and of hamt_batch_set_many (ns "
           "per update; gc = time the world stood still for collections, "
           "rest = the remainder: the tree work, allocation and the lazy "
           "sweep):\n");
    printf("%7s %8s %8s %8s %8s %8s %8s %9s %8s\n", "k", "k sets", "gc", "rest",
           "set_many", "gc", "rest", "speedup", "of rest");
    for (size_t k = 10; k <= 100000 && k <= n; k *= 10) {
        double v[4];
        static const char *const fmt[4] = {"sets_k%zu", "sets_k%zu_gc_ns",
                                           "batch_many_k%zu",
                                           "batch_many_k%zu_gc_ns"};
        for (unsigned i = 0; i < 4; i++) {
            snprintf(a, sizeof a, fmt[i], k);
            v[i] = EM("libhamt", a);
        }
        printf("%7zu %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %8.2fx %7.2fx\n", k,
               v[0], v[1], v[0] - v[1], v[2], v[3], v[2] - v[3], v[0] / v[2],
               (v[0] - v[1]) / (v[2] - v[3]));
    }
}

unsigned
edits_cases(void)
{
    /* Called with LONG_MAX, edits_all only counts. */
    return edits_all(LONG_MAX);
}

void
edits_run(long c)
{
    edits_all(c);
}
