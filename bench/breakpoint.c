/*
 * breakpoint.c - copy-on-write against path copying: ns per update
 * (replace one value and publish) of cow-map, which copies the whole table,
 * and of libhamt, which copies one path, at N = 10 .. 1M in log steps
 * (bp_per_decade sizes a decade).  The breakpoint is the N from which
 * path copying is faster at every larger N measured.  The child prints the
 * table; the parent's report finds the breakpoint again from the records
 * and writes breakpoint.csv for the pictures.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t bp_ns[64];
static unsigned bp_nn;
static size_t bp_found; /* 0 if path copying never wins for good */

static double
time_updates(const struct bench_adapter *a, void *m, void *t, size_t n,
             uint64_t *rng)
{
    uint64_t t0 = bench_now_ns(), t1, k = 0;
    uint64_t min_ns = (uint64_t)(bench_cfg.bp_min_s * 1e9);
    do {
        size_t i = bench_below(rng, n);
        a->update(m, t, key_stored(BK_U64, i), ++k + n);
        t1 = bench_now_ns();
    } while (k < 3 || t1 - t0 < min_ns);
    return (double)(t1 - t0) / (double)k;
}

static void
breakpoint_measure(void)
{
    const struct bench_adapter *h = bench_adapter_named("libhamt");
    const struct bench_adapter *c = bench_adapter_named("cow-map");
    if (h == NULL || c == NULL) {
        return;
    }
    bp_nn = 0;
    for (unsigned e = 0; bp_nn < 64; e++) {
        double x = 10.0 * pow(10.0, (double)e / bench_cfg.bp_per_decade);
        size_t n = (size_t)(x + 0.5);
        if (n > bench_cfg.bp_max) {
            break;
        }
        bp_ns[bp_nn++] = n;
    }
    uint64_t rng = 42;
    void *hm = h->create(BK_U64, bench_cfg.bp_max);
    void *ht = h->thread_enter(hm);
    size_t have = 0;
    /* Warm-up (untimed): the allocator's free lists and the first
     * collections. */
    {
        void *cm = c->create(BK_U64, bp_ns[0]);
        void *ct = c->thread_enter(cm);
        keys_build(h, hm, ht, BK_U64, 0, bp_ns[0]);
        have = bp_ns[0];
        h->share(hm);
        keys_build(c, cm, ct, BK_U64, 0, bp_ns[0]);
        double save = bench_cfg.bp_min_s;
        bench_cfg.bp_min_s = 0.05;
        time_updates(h, hm, ht, bp_ns[0], &rng);
        time_updates(c, cm, ct, bp_ns[0], &rng);
        bench_cfg.bp_min_s = save;
        c->thread_exit(cm, ct);
        c->destroy(cm);
    }
    for (unsigned i = 0; i < bp_nn; i++) {
        size_t n = bp_ns[i];
        keys_build(h, hm, ht, BK_U64, have, n);
        have = n;
        h->share(hm);
        void *cm = c->create(BK_U64, n);
        void *ct = c->thread_enter(cm);
        keys_build(c, cm, ct, BK_U64, 0, n);
        for (unsigned r = 0; r < bench_cfg.runs; r++) {
            rec_add("breakpoint", "libhamt", BK_U64, n, 0, 1, 0, "update_ns", r,
                    time_updates(h, hm, ht, n, &rng));
            rec_add("breakpoint", "cow-map", BK_U64, n, 0, 1, 0, "update_ns", r,
                    time_updates(c, cm, ct, n, &rng));
        }
        c->thread_exit(cm, ct);
        c->destroy(cm);
    }
    h->thread_exit(hm, ht);
    h->destroy(hm);
    GC_gcollect();
}

/* Sizes measured (from the records) and the breakpoint; prints if asked. */
static void
breakpoint_summary(bool print)
{
    bp_nn = 0;
    for (size_t i = 0; i < nrecs && bp_nn < 64; i++) {
        if (strcmp(recs[i].workload, "breakpoint") != 0) {
            continue;
        }
        bool seen = false;
        for (unsigned j = 0; j < bp_nn; j++) {
            seen |= bp_ns[j] == recs[i].n;
        }
        if (!seen) {
            bp_ns[bp_nn++] = recs[i].n;
        }
    }
    if (bp_nn == 0) {
        return;
    }
    FILE *out = print ? stdout : fopen("/dev/null", "w");
    if (out == NULL) {
        return;
    }
    fprintf(out,
            "\n== copy-on-write vs path copying: ns per update (replace a "
            "value and publish), median of %u\n",
            bench_cfg.runs);
    fprintf(out, "%10s %14s %14s %10s\n", "N", "cow-map", "libhamt",
            "cow/hamt");
    bp_found = 0;
    for (unsigned i = 0; i < bp_nn; i++) {
        size_t n = bp_ns[i];
        double hv = rec_median("breakpoint", "libhamt", BK_U64, n, 0, 1, 0,
                               "update_ns");
        double cv = rec_median("breakpoint", "cow-map", BK_U64, n, 0, 1, 0,
                               "update_ns");
        fprintf(out, "%10zu %14.1f %14.1f %10.2f\n", n, cv, hv, cv / hv);
        if (hv < cv) {
            if (bp_found == 0) {
                bp_found = n;
            }
        } else {
            bp_found = 0;
        }
    }
    if (bp_found) {
        fprintf(out,
                "   path copying wins from N = %zu on (every larger N "
                "measured)\n",
                bp_found);
    } else {
        fprintf(out,
                "   path copying does not win for good within N <= "
                "%zu\n",
                bench_cfg.bp_max);
    }
    if (print) {
        fflush(stdout);
    } else {
        fclose(out);
    }
}

void
breakpoint_run(long c)
{
    (void)c;
    breakpoint_measure();
    breakpoint_summary(true);
}

/* The breakpoint, and the curves for plots.gp. */
void
breakpoint_report(void)
{
    breakpoint_summary(false);
    FILE *f = out_csv("breakpoint.csv");
    fprintf(f, "N,cow-map,libhamt\n");
    for (unsigned i = 0; i < bp_nn; i++) {
        fprintf(f, "%zu,%.2f,%.2f\n", bp_ns[i],
                rec_median("breakpoint", "cow-map", BK_U64, bp_ns[i], 0, 1, 0,
                           "update_ns"),
                rec_median("breakpoint", "libhamt", BK_U64, bp_ns[i], 0, 1, 0,
                           "update_ns"));
    }
    fclose(f);
}

size_t
breakpoint_wins_from(bool *measured)
{
    *measured = bp_nn != 0;
    return bp_found;
}
