/*
 * edits.c - the bench rows of the batch editor and the whole-map
 * operations (issue 5), at N u64 keys, against GHashTable measured in the
 * same run:
 *
 *   build      N keys from empty: GHashTable inserts, libhamt persistent
 *              sets, one batch of hamt_batch_set calls, and one batch fed
 *              by hamt_batch_set_many (ns per key; collections and the
 *              longest pause for the batch builds)
 *   k updates  k random existing keys given new values: one batch
 *              (begin, k hamt_batch_set calls, finish), one batch fed by
 *              hamt_batch_set_many, against k persistent hamt_set calls
 *              (ns per update), for k = 10 ... 100,000
 *   diff       hamt_diff of the map and its version after the k updates,
 *              ns per reported difference
 *   merge      hamt_merge of two versions that each added k/2 new keys to
 *              the map, ns per differing key
 *
 * Every result is checked (sizes, hamt_equal, difference counts); a wrong
 * answer is reported as an error like any other in the bench.
 */
#include "bench.h"

#include <hamt.h>
#include <stdio.h>
#include <stdlib.h>

#define V(x) ((void *)(uintptr_t)(x))

static const size_t edit_ks[] = { 10, 100, 1000, 10000, 100000 };
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
edits_way(unsigned way, const struct hamt *m, size_t k,
          const void *const *uk, void *const *uv)
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

void
bench_edits_run(size_t n, unsigned run, const struct bench_adapter *ghash)
{
    const void **keys = bench_xmalloc(n * sizeof *keys);
    void **vals = bench_xmalloc(n * sizeof *vals);
    const struct hamt *e = hamt_new(HAMT_KEY_U64), *m = e, *p = e, *bm;
    struct hamt_batch *b;
    uint64_t t0, t1, rng = 0x5eed0000u + run;
    char metric[64];

    for (size_t i = 0; i < n; i++) {
        keys[i] = HAMT_U64(bench_key_u64(i));
        vals[i] = V(i + 1);
    }

    /* ---- build ---- */
    if (ghash != NULL) {
        void *g = ghash->create(BK_U64, n);
        void *gt = ghash->thread_enter(g);
        size_t fresh = 0;
        t0 = bench_now_ns();
        for (size_t i = 0; i < n; i++) {
            fresh += ghash->insert(g, gt, bench_key_u64(i), i + 1);
        }
        t1 = bench_now_ns();
        if (fresh != n) {
            bench_fail("edits: ghash build made %zu of %zu keys", fresh, n);
        }
        bench_rec("edits", "ghash", n, "build", run,
                  (double)(t1 - t0) / (double)n);
        ghash->thread_exit(g, gt);
        ghash->destroy(g);
    }
    GC_gcollect();
    bench_gc_reset();
    t0 = bench_now_ns();
    b = hamt_batch_begin(e);
    for (size_t i = 0; i < n; i++) {
        if (hamt_batch_set(b, keys[i], vals[i]) != 1) {
            bench_fail("edits: hamt_batch_set of key %zu failed", i);
        }
    }
    m = hamt_batch_finish(b);
    t1 = bench_now_ns();
    bench_rec("edits", "libhamt", n, "batch_build", run,
              (double)(t1 - t0) / (double)n);
    edits_gc("batch_build", n, run);

    m = NULL;
    GC_gcollect();
    bench_gc_reset();
    t0 = bench_now_ns();
    b = hamt_batch_begin(e);
    if (hamt_batch_set_many(b, n, keys, vals, NULL) != 0) {
        bench_fail("edits: hamt_batch_set_many failed");
    }
    m = hamt_batch_finish(b);
    t1 = bench_now_ns();
    bench_rec("edits", "libhamt", n, "batch_build_many", run,
              (double)(t1 - t0) / (double)n);
    edits_gc("batch_build_many", n, run);

    GC_gcollect();
    bench_gc_reset();
    t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        p = hamt_set(p, keys[i], vals[i]);
    }
    t1 = bench_now_ns();
    bench_rec("edits", "libhamt", n, "persistent_build", run,
              (double)(t1 - t0) / (double)n);
    edits_gc("persistent_build", n, run);
    if (m == NULL || hamt_size(m) != n || hamt_equal(m, p, NULL, NULL) != 1) {
        bench_fail("edits: the batch build differs from the persistent one");
    }
    p = NULL;

    /* ---- k updates, diff, merge ---- */
    for (size_t ki = 0; ki < sizeof edit_ks / sizeof edit_ks[0]; ki++) {
        size_t k = edit_ks[ki];
        if (k > n) {
            break;
        }
        /*
         * Rounds of k updates, each on the same map m, the three ways in
         * turn, each way with its own fresh random keys (so that no way
         * finds its paths in the cache because another way just walked
         * them) and the order rotated from round to round (so that none
         * always runs first after the others' garbage), until EDIT_UPDATES
         * updates of each kind are done: small k then pays its share of
         * the collections and lazy sweeping that the big ones trigger, as
         * in a program doing such batches all day.  Afterwards, untimed,
         * the three ways must agree on the last keys drawn.
         */
        size_t rounds = EDIT_UPDATES / k ? EDIT_UPDATES / k : 1;
        const void **uk = bench_xmalloc(k * sizeof *uk);
        void **uv = bench_xmalloc(k * sizeof *uv);
        uint64_t tw[3] = { 0, 0, 0 };
        const struct hamt *got[3];
        bm = m;
        for (size_t r = 0; r < rounds; r++) {
            for (unsigned w = 0; w < 3; w++) {
                unsigned way = (unsigned)((w + r) % 3);
                for (size_t j = 0; j < k; j++) {
                    uk[j] = keys[bench_below(&rng, n)];
                    uv[j] = V(n + j + 1);
                }
                t0 = bench_now_ns();
                const struct hamt *q = edits_way(way, m, k, uk, uv);
                t1 = bench_now_ns();
                tw[way] += t1 - t0;
                if (q == NULL) {
                    bench_fail("edits: %zu updates, way %u failed", k, way);
                }
                if (way == 1) {
                    bm = q; /* diffed below */
                }
            }
        }
        for (unsigned way = 0; way < 3; way++) {
            got[way] = edits_way(way, m, k, uk, uv);
        }
        if (got[0] == NULL || got[1] == NULL || got[2] == NULL ||
            hamt_equal(got[1], got[0], NULL, NULL) != 1 ||
            hamt_equal(got[2], got[0], NULL, NULL) != 1) {
            bench_fail("edits: batches of %zu updates differ from the sets",
                       k);
        }
        uint64_t ts = tw[0], tb = tw[1], tm = tw[2];
        double upd = (double)(rounds * k);
        snprintf(metric, sizeof metric, "sets_k%zu", k);
        bench_rec("edits", "libhamt", n, metric, run, (double)ts / upd);
        snprintf(metric, sizeof metric, "batch_k%zu", k);
        bench_rec("edits", "libhamt", n, metric, run, (double)tb / upd);
        snprintf(metric, sizeof metric, "batch_many_k%zu", k);
        bench_rec("edits", "libhamt", n, metric, run, (double)tm / upd);
        free(uk);
        free(uv);

        size_t nd = 0;
        t0 = bench_now_ns();
        int rc = hamt_diff(m, bm, NULL, count_diff, &nd);
        t1 = bench_now_ns();
        if (rc != 0 || nd == 0 || nd > k) {
            bench_fail("edits: diff after %zu updates: rc %d, %zu changes", k,
                       rc, nd);
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
            hamt_batch_set(bb, HAMT_U64(bench_key_u64(n + 2 * j + 1)), V(2));
        }
        const struct hamt *ma = hamt_batch_finish(ba);
        const struct hamt *mb = hamt_batch_finish(bb);
        t0 = bench_now_ns();
        const struct hamt *mu = hamt_merge(ma, mb, NULL, NULL);
        t1 = bench_now_ns();
        if (mu == NULL || hamt_size(mu) != n + 2 * h) {
            bench_fail("edits: merge of two branches of %zu keys: size %zu",
                       h, mu ? hamt_size(mu) : 0);
        }
        snprintf(metric, sizeof metric, "merge_k%zu", k);
        bench_rec("edits", "libhamt", n, metric, run,
                  (double)(t1 - t0) / (double)(h ? 2 * h : 1));
    }
    free(keys);
    free(vals);
}
