/*
 * single.c - the single-thread sections.
 *
 *   single   one thread, N = 10k, 100k, 1M (and string keys in the full
 *            mode): insert one by one, lookup hit (shuffled), lookup hit
 *            through read_many or read_batch (16 keys a call), lookup
 *            miss, remove (shuffled), iterate; ns per operation.  The
 *            competitors take turns within each round, so a ratio is the
 *            median over rounds of the per-round ratio
 *            (rec_ratio_per_round).  The timed insert and remove
 *            phases are repeated until they count at least PHASE_OPS
 *            operations (see there).
 *   memory   bytes per entry after building each map, each build alone in
 *            a child process (one case per map, size and key kind).
 *
 * The single section prints its tables in its child, with the memory
 * records handed over by the parent (preload in sections.c); its report
 * writes single_<op>.csv, one column per map, for the pictures.
 */
#include "bench.h"

#include <hamt.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
cap_updates(const struct bench_adapter *a, size_t n)
{
    size_t c = n;
    if ((a->flags & BA_COPY_ALL) && bench_cfg.copy_cap < c) {
        c = bench_cfg.copy_cap;
    }
    if ((a->flags & BA_ROUNDTRIP) && bench_cfg.rt_cap < c) {
        c = bench_cfg.rt_cap;
    }
    return c;
}

static size_t
cap_lookups(const struct bench_adapter *a, size_t n)
{
    (void)n;
    size_t c = bench_cfg.min_lookups;
    if ((a->flags & BA_ROUNDTRIP) && bench_cfg.rt_cap < c) {
        c = bench_cfg.rt_cap;
    }
    return c;
}

/*
 * The least number of operations a timed insert or remove phase counts,
 * for every uncapped competitor alike: below it the phase is repeated
 * (inserts into a fresh map, removes after putting the removed keys back
 * untimed) and the figure is the time of all repetitions over all their
 * operations.  A phase of one pass at small N lasts a few milliseconds, and
 * whether one collection lands in it or not decided libhamt's figure; over
 * enough passes every phase carries its share of the collections, which
 * fall where the allocation is.  This many spans several collections of a
 * 10k map at the default budget, and a 100k map already collects several
 * times in one pass, so the larger sizes, whose competitors are the slow
 * ones, are not repeated (bench/README.md, "single").
 */
#define PHASE_OPS ((size_t)100000)

/* Passes of `per` operations that make at least PHASE_OPS in all. */
static size_t
phase_reps(const struct bench_adapter *a, size_t per)
{
    if ((a->flags & (BA_COPY_ALL | BA_ROUNDTRIP)) || per == 0
        || per >= PHASE_OPS) {
        return 1;
    }
    return (PHASE_OPS + per - 1) / per;
}

/*
 * The collector's count of collections (0 for maps without the
 * collector): read before and after a phase, the difference is the
 * phase's.  GC_get_gc_no takes no lock and copies nothing, where
 * bench_gc_read would copy and sort the whole pause log to get the same.
 */
static unsigned long
gc_count(const struct bench_adapter *a)
{
    return (a->flags & BA_GC) ? (unsigned long)GC_get_gc_no() : 0;
}

static size_t
mem_now(const struct bench_adapter *a)
{
    return (a->flags & BA_GC) ? bench_gc_used_bytes() : bench_malloc_bytes();
}

static void
single_run(const struct bench_adapter *a, enum bkind kind, size_t n,
           unsigned run)
{
    const char *W = "single";
    char buf[BENCH_STRLEN + 1];
    if (a->flags & BA_GC) {
        bench_gc_reset();
    }
    void *m = NULL, *t = NULL;

    /*
     * insert: the last `cu` keys timed, the rest built untimed; `reps`
     * builds, each into a fresh map (the previous one destroyed untimed),
     * the last one kept for the phases below.
     */
    size_t cu = cap_updates(a, n);
    size_t reps = phase_reps(a, cu);
    uint64_t ns = 0;
    unsigned long gc0 = 0, gcs = 0;
    for (size_t r = 0; r < reps; r++) {
        if (m != NULL) {
            a->thread_exit(m, t);
            a->destroy(m);
        }
        m = a->create(kind, n);
        t = a->thread_enter(m);
        keys_build(a, m, t, kind, 0, n - cu);
        /*
         * The previous run's phases (this map's or another's) left
         * pointers to its map in dead stack frames, which the inserts'
         * collections would scan: cleared, untimed, as before the removes
         * below.
         */
        bench_clear_stack();
        gc0 = gc_count(a);
        uint64_t t0 = bench_now_ns();
        size_t fresh = 0;
        for (size_t i = n - cu; i < n; i++) {
            fresh += a->insert(m, t, key_stored(kind, i), i + 1);
        }
        uint64_t t1 = bench_now_ns();
        ns += t1 - t0;
        gcs += gc_count(a) - gc0;
        if (fresh != cu) {
            bench_fail("%s %s n=%zu: %zu of %zu inserts were new", a->name,
                       bench_kind_name(kind), n, fresh, cu);
        }
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "insert", run,
            (double)ns / (double)(cu * reps));
    if (a->flags & BA_GC) {
        rec_add(W, a->name, kind, n, 0, 0, 0, "insert_gc", run, (double)gcs);
    }
    uint64_t t0, t1;

    /* lookup hit, shuffled. */
    size_t L = cap_lookups(a, n), bad = 0;
    t0 = bench_now_ns();
    for (size_t j = 0; j < L; j++) {
        size_t i = key_perm(j, n);
        uint64_t v = 0;
        if (!a->lookup(m, t, key_probe(kind, i, buf), &v) || v != i + 1) {
            bad++;
        }
    }
    t1 = bench_now_ns();
    if (bad) {
        bench_fail("%s %s n=%zu: %zu of %zu lookup hits wrong", a->name,
                   bench_kind_name(kind), n, bad, L);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "lookup_hit", run,
            (double)(t1 - t0) / (double)L);

    /*
     * lookup hit through the snapshot read, 16 keys a call, by the
     * competitor's batched call where it has one (read_many): for libhamt
     * that is hamt_get_many(), which overlaps the cache misses of the keys
     * of a batch.  u64 keys only.
     */
    size_t (*rb)(void *, void *, const bkey *, size_t, uint64_t *) =
        a->read_many != NULL ? a->read_many : a->read_batch;
    if (kind == BK_U64 && rb != NULL && a->share != NULL) {
        bkey bk[16];
        uint64_t sum = 0;
        size_t hits = 0, done = 0;
        a->share(m);
        t0 = bench_now_ns();
        while (done < L) {
            size_t c = L - done < 16 ? L - done : 16;
            for (size_t j = 0; j < c; j++) {
                bk[j] = key_stored(kind, key_perm(done + j, n));
            }
            hits += rb(m, t, bk, c, &sum);
            done += c;
        }
        t1 = bench_now_ns();
        uint64_t want = 0; /* untimed: key i holds i + 1 */
        for (size_t d = 0; d < L; d++) {
            want += key_perm(d, n) + 1;
        }
        if (hits != L || sum != want) {
            bench_fail("%s n=%zu: %zu of %zu batched lookup hits, value sum "
                       "%llu, expected %llu",
                       a->name, n, hits, L, (unsigned long long)sum,
                       (unsigned long long)want);
        }
        rec_add(W, a->name, kind, n, 0, 0, 0, "lookup_hit_batch", run,
                (double)(t1 - t0) / (double)L);
        /*
         * The snapshot reads are over: the removes below keep only the
         * newest version, as every other competitor's do.  libhamt's cell
         * would otherwise keep the whole map of N keys alive beside it.
         */
        if (a->unshare != NULL) {
            a->unshare(m);
        }
    }

    /* lookup miss: keys n .. 2n-1 were never inserted. */
    bad = 0;
    t0 = bench_now_ns();
    for (size_t j = 0; j < L; j++) {
        uint64_t v;
        if (a->lookup(m, t, key_probe(kind, n + j % n, buf), &v)) {
            bad++;
        }
    }
    t1 = bench_now_ns();
    if (bad) {
        bench_fail("%s %s n=%zu: %zu lookup misses found something", a->name,
                   bench_kind_name(kind), n, bad);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "lookup_miss", run,
            (double)(t1 - t0) / (double)L);

    /* iterate: whole passes, at least min_lookups entries in all. */
    size_t passes = (bench_cfg.min_lookups + n - 1) / n;
    if (a->flags & BA_ROUNDTRIP) {
        passes = 1;
    }
    uint64_t want = (uint64_t)n * (n + 1) / 2;
    t0 = bench_now_ns();
    for (size_t p = 0; p < passes; p++) {
        uint64_t sum = 0;
        size_t cnt = a->iterate(m, t, &sum);
        if (cnt != n || sum != want) {
            bad++;
        }
    }
    t1 = bench_now_ns();
    if (bad) {
        bench_fail("%s %s n=%zu: iteration saw wrong entries", a->name,
                   bench_kind_name(kind), n);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "iterate", run,
            (double)(t1 - t0) / (double)(passes * n));

    /*
     * remove, shuffled: `cu` keys timed (a sample of remove_sample), in
     * `reps` passes; between two passes the removed keys go back in,
     * untimed, so that every pass removes from the whole map.
     */
    if (bench_cfg.remove_sample && cu > bench_cfg.remove_sample) {
        cu = bench_cfg.remove_sample;
    }
    reps = phase_reps(a, cu);
    ns = 0;
    gcs = 0;
    for (size_t r = 0; r < reps; r++) {
        if (r > 0) {
            size_t back = 0;
            for (size_t j = 0; j < cu; j++) {
                size_t i = key_perm(j, n);
                back += a->insert(m, t, key_stored(kind, i), i + 1);
            }
            if (back != cu) {
                bench_fail("%s %s n=%zu: %zu of %zu removed keys went back",
                           a->name, bench_kind_name(kind), n, back, cu);
            }
        }
        size_t removed = 0;
        /*
         * The phases above left pointers to nodes of the whole map in dead
         * stack frames, where the collections of the removes (called from
         * deeper frames over the same memory) would find them and keep the
         * map of N keys alive: cleared, untimed.  bench/README.md (the
         * single section) gives what keeping that map cost.
         */
        bench_clear_stack();
        gc0 = gc_count(a);
        t0 = bench_now_ns();
        for (size_t j = 0; j < cu; j++) {
            removed += a->remove(m, t, key_probe(kind, key_perm(j, n), buf));
        }
        t1 = bench_now_ns();
        ns += t1 - t0;
        gcs += gc_count(a) - gc0;
        if (removed != cu) {
            bench_fail("%s %s n=%zu: %zu of %zu removes found their key",
                       a->name, bench_kind_name(kind), n, removed, cu);
        }
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "remove", run,
            (double)ns / (double)(cu * reps));
    if (a->flags & BA_GC) {
        rec_add(W, a->name, kind, n, 0, 0, 0, "remove_gc", run, (double)gcs);
    }

    a->thread_exit(m, t);
    a->destroy(m);
    if (a->flags & BA_GC) {
        struct bench_gc_stats st;
        bench_gc_read(&st, NULL);
        rec_add(W, a->name, kind, n, 0, 0, 0, "gc_collections", run,
                (double)st.collections);
        rec_add(W, a->name, kind, n, 0, 0, 0, "gc_max_ms", run, st.max_ms);
        rec_add(W, a->name, kind, n, 0, 0, 0, "gc_total_ms", run, st.total_ms);
    }
}

/*
 * Memory: one build per map, size and key kind, each the only thing its
 * process does (a fresh collector heap, fresh malloc arenas: the parent runs
 * one child per case, `--case C`), after which the map's deferred frees
 * are flushed and the accounting read.  Cases shared one process before, and
 * a map destroyed in one case could still be held, through a stale word
 * the collector scans conservatively, when the next case took its first
 * reading, which then came out too small, even negative (bench/FINDINGS.md,
 * "Variance", gives the measurement).
 * Returns the number of cases; with `only` >= 0 measures just that one.
 */
static unsigned
memory_all(long only)
{
    unsigned c = 0;

    for (unsigned k = 0; k < bench_cfg.nkinds; k++) {
        enum bkind kind = bench_cfg.kinds[k];
        for (unsigned ni = 0; ni < bench_cfg.nns; ni++) {
            size_t n = bench_cfg.ns[ni];
            bool prepared = false;
            for (unsigned i = 0; bench_adapters[i]; i++) {
                const struct bench_adapter *a = bench_adapters[i];
                if (!bench_selected_single_kind(a, kind)) {
                    continue;
                }
                if (only >= 0 && c++ != (unsigned long)only) {
                    continue;
                }
                if (!prepared) {
                    keys_prepare(kind, 2 * n);
                    prepared = true;
                }
                size_t mem0 = mem_now(a);
                void *m = a->create(kind, n);
                void *t = a->thread_enter(m);
                keys_build(a, m, t, kind, 0, n);
                if (a->quiesce) {
                    a->quiesce(m, t);
                }
                size_t mem1 = mem_now(a);
                rec_add("memory", a->name, kind, n, 0, 0, 0, "bytes_per_entry",
                        0, ((double)mem1 - (double)mem0) / (double)n);
                if (a->exact_bytes) {
                    rec_add("memory", a->name, kind, n, 0, 0, 0,
                            "exact_bytes_per_entry", 0,
                            (double)a->exact_bytes(m) / (double)n);
                }
                a->thread_exit(m, t);
                a->destroy(m);
                if (a->flags & BA_GC) {
                    GC_gcollect();
                }
            }
        }
    }
    return c;
}

static const char *const st_ops[] = {"insert", "lookup_hit", "lookup_miss",
                                     "remove", "iterate",    NULL};

static void
single_report(enum bkind kind, size_t n)
{
    printf("\n== single thread, %s keys, N = %zu: ns/op, median of %u "
           "(x ghash: median per-round ratio)\n",
           bench_kind_name(kind), n, bench_cfg.runs);
    printf("   insert all N one by one; %zu shuffled lookups (hit and miss) "
           "per run; remove %s, shuffled; insert and remove repeated to "
           "%zu or more timed operations a run (uncapped maps)\n",
           bench_cfg.min_lookups,
           bench_cfg.remove_sample && bench_cfg.remove_sample < n
               ? "a sample of keys"
               : "every key",
           PHASE_OPS);
    bench_print_skipped(stdout, "   ");
    printf("%-14s %9s %9s %9s %9s %9s %11s  %s\n", "map", "insert", "lkp-hit",
           "lkp-miss", "remove", "iterate", "bytes/entry",
           "GC n/total ms/max ms (per run)");
    for (unsigned i = 0; bench_adapters[i]; i++) {
        const struct bench_adapter *a = bench_adapters[i];
        if (!bench_selected_single_kind(a, kind)) {
            continue;
        }
        printf("%-14s", a->name);
        for (unsigned o = 0; st_ops[o]; o++) {
            printf(" %9.1f",
                   rec_median("single", a->name, kind, n, 0, 0, 0, st_ops[o]));
        }
        printf(" %11.1f", rec_median("memory", a->name, kind, n, 0, 0, 0,
                                     "bytes_per_entry"));
        if (a->flags & BA_GC) {
            printf(
                "  %.0f/%.0f/%.1f",
                rec_median("single", a->name, kind, n, 0, 0, 0,
                           "gc_collections"),
                rec_median("single", a->name, kind, n, 0, 0, 0, "gc_total_ms"),
                rec_max("single", a->name, kind, n, 0, 0, 0, "gc_max_ms"));
        }
        if (a->flags & (BA_COPY_ALL | BA_ROUNDTRIP)) {
            printf("  (capped: %zu updates", cap_updates(a, n));
            if (a->flags & BA_ROUNDTRIP) {
                printf(", %zu lookups", cap_lookups(a, n));
            }
            printf(")");
        }
        printf("\n");
    }
    if (bench_adapter_named("libhamt") && bench_adapter_named("ghash")) {
        printf("%-14s", "libhamt/ghash");
        for (unsigned o = 0; st_ops[o]; o++) {
            printf(" %8.2fx",
                   rec_ratio_per_round("libhamt", "ghash", kind, n, st_ops[o]));
        }
        printf(" %10.2fx\n", rec_median("memory", "libhamt", kind, n, 0, 0, 0,
                                        "bytes_per_entry")
                                 / rec_median("memory", "ghash", kind, n, 0, 0,
                                              0, "bytes_per_entry"));
    }
    if (kind == BK_U64 && bench_adapter_named("libhamt-scalar")
        && bench_adapter_named("ghash")) {
        printf("%-14s", "scalar/ghash");
        for (unsigned o = 0; st_ops[o]; o++) {
            printf(" %8.2fx", rec_ratio_per_round("libhamt-scalar", "ghash",
                                                  kind, n, st_ops[o]));
        }
        printf(" %10.2fx\n", rec_median("memory", "libhamt-scalar", kind, n, 0,
                                        0, 0, "bytes_per_entry")
                                 / rec_median("memory", "ghash", kind, n, 0, 0,
                                              0, "bytes_per_entry"));
    }
    printf("   memory (built first in a fresh process): the collector's "
           "maps (libhamt, cow-map, syncmap) count its heap in use after "
           "GC_gcollect (heap minus "
           "free, whole blocks); libhamt's map is loaded through one batch "
           "(hamt_batch_set_many): %.1f B/entry, its nodes%s alone, by "
           "GC_size, %.1f.  The others count live malloc chunks with their "
           "headers (mallinfo2 uordblks+hblkhd delta)%s.\n",
           rec_median("memory", "libhamt", kind, n, 0, 0, 0, "bytes_per_entry"),
           kind == BK_STR ? " and key copies" : "",
           rec_median("memory", "libhamt", kind, n, 0, 0, 0,
                      "exact_bytes_per_entry"),
           kind == BK_STR ? "; string keys: libhamt's own copies are "
                            "counted, the driver's key store is not"
                          : "");
    fflush(stdout);
}
void
single_run_all(long c)
{
    (void)c;
    for (unsigned k = 0; k < bench_cfg.nkinds; k++) {
        for (unsigned ni = 0; ni < bench_cfg.nns; ni++) {
            size_t n = bench_cfg.ns[ni];
            keys_prepare(bench_cfg.kinds[k], 2 * n);
            for (unsigned r = 0; r < bench_cfg.runs; r++) {
                for (unsigned i = 0; bench_adapters[i]; i++) {
                    if (bench_selected_single_kind(bench_adapters[i],
                                                   bench_cfg.kinds[k])) {
                        single_run(bench_adapters[i], bench_cfg.kinds[k], n, r);
                    }
                }
            }
            single_report(bench_cfg.kinds[k], n);
        }
    }
}

unsigned
memory_cases(void)
{
    /* Called with LONG_MAX, memory_all only counts. */
    return memory_all(LONG_MAX);
}

void
memory_run(long c)
{
    memory_all(c);
}

/* ns/op against N, one column per map, u64 keys (plots.gp reads them). */
void
single_write_data(void)
{
    const struct bench_cfg *c = &bench_cfg;
    for (unsigned o = 0; st_ops[o]; o++) {
        char name[64];
        snprintf(name, sizeof name, "single_%s.csv", st_ops[o]);
        FILE *f = out_csv(name);
        fprintf(f, "N");
        for (unsigned i = 0; bench_adapters[i]; i++) {
            if (bench_selected_single(bench_adapters[i])) {
                fprintf(f, ",%s", bench_adapters[i]->name);
            }
        }
        fprintf(f, "\n");
        for (unsigned ni = 0; ni < c->nns; ni++) {
            fprintf(f, "%zu", c->ns[ni]);
            for (unsigned i = 0; bench_adapters[i]; i++) {
                if (bench_selected_single(bench_adapters[i])) {
                    double v =
                        rec_median("single", bench_adapters[i]->name, BK_U64,
                                   c->ns[ni], 0, 0, 0, st_ops[o]);
                    fprintf(f, isnan(v) ? ",NaN" : ",%.2f", v);
                }
            }
            fprintf(f, "\n");
        }
        fclose(f);
    }
}
