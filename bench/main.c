/*
 * main.c - hamt-bench, the driver of the bench suite.
 *
 * It runs every competitor (bench/adapt_*.c, one struct bench_adapter each)
 * through the workloads of issue 3 and reports a terminal table, CSV files
 * and a gnuplot script:
 *
 *   single      one thread, N = 10k, 100k, 1M: insert one by one, lookup hit
 *               (shuffled), lookup miss, remove (shuffled), iterate; ns/op;
 *               bytes per entry after the inserts
 *   concurrent  N = 1M: one writer replacing values continuously and R
 *               readers (batches of BENCH_BATCH lookups, one snapshot or
 *               read section per batch); reader lookups/s, writer
 *               updates/s, sampled single-lookup latency percentiles;
 *               then R = 2 readers without a writer
 *   sweep       (full mode) T threads mixing reads and updates at 99/1,
 *               90/10 and 50/50; total ops/s
 *   breakpoint  ns per update of the copy-on-write map against libhamt's
 *               path copying, N = 10 .. 1M in log steps
 *   balance     chi-square of keys over the 32 shards and over the 32 root
 *               slots of the trie (libhamt's own hash, fixed seed)
 *   edits       libhamt's batch editor and whole-map operations at the
 *               largest N (bench/edits.c): building through one batch
 *               against GHashTable inserts, k updates in one batch against
 *               k persistent sets, hamt_diff and hamt_merge per changed key
 *   gc          every run of a collector-backed map records the number of
 *               collections and each stop-the-world pause
 *
 * libhamt-b16 is libhamt with a writer that gathers 16 updates in a batch
 * before each publication; it takes part in the concurrent workloads only.
 *
 * Every figure is the median of `runs` repetitions.  In the single-thread
 * workload the competitors take turns within each round, and a ratio is the
 * median over rounds of the per-round ratio (both sides measured seconds
 * apart in this process).  Concurrent ratios are ratios of medians taken in
 * this process.
 *
 * Modes: --quick (make bench: u64 keys, R = 1, short phases, all
 * competitors, pictures), --full (make bench-full: u64 and string keys,
 * R = 1 and 2 or --readers, read-ratio sweep, finer breakpoint), --smoke
 * (make check: every adapter on a small map, answers checked, no timing).
 */
#include "bench.h"

#include <hamt.h>

#include "internal.h" /* hamt__key_hash for the root-slot balance */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BATCH 16      /* lookups per reader snapshot */
#define BENCH_LAT_EVERY 64  /* one sampled single lookup per 64 batches */
#define BENCH_LAT_CAP 65536 /* latency samples kept per reader (reservoir) */
#define PERM_PRIME 2654435761ULL

/* ---- competitors ---- */

static const struct bench_adapter *const adapters[] = {
    &bench_hamt,
    &bench_hamt_b16,
    &bench_hamt_combine,
#ifdef HAVE_GLIB
    &bench_glib,
    &bench_glib_mutex,
    &bench_glib_rwlock,
    &bench_glib_shards,
    &bench_owner,
#endif
    &bench_cow,
    &bench_syncmap,
#ifdef HAVE_URCU
    &bench_urcu,
#endif
#ifdef HAVE_CK
    &bench_ck,
#endif
    NULL,
};

/* Competitors configure did not find: reported in every section. */
static const char *const skipped[] = {
#ifndef HAVE_GLIB
    "ghash, ghash-mutex, ghash-rwlock, ghash-shards, owner-thread (GLib)",
#endif
#ifndef HAVE_URCU
    "urcu-lfht (liburcu)",
#endif
#ifndef HAVE_CK
    "ck-hs (Concurrency Kit)",
#endif
    NULL,
};

/* ---- configuration ---- */

static struct {
    const char *mode;
    const char *outdir;
    unsigned runs;
    size_t ns[8];
    unsigned nns;
    enum bkind kinds[2];
    unsigned nkinds;
    unsigned readers[8];
    unsigned nreaders;
    double phase_s;    /* concurrent phase with a writer */
    double ro_phase_s; /* read-only phase */
    size_t conc_n;
    bool sweep;
    unsigned sweep_threads;
    double sweep_s;
    size_t bp_max;
    unsigned bp_per_decade;
    double bp_min_s;
    size_t min_lookups; /* lookups per single-thread measurement */
    size_t remove_sample; /* removes timed per run (0: all N) */
    size_t rt_cap;      /* ops per phase for round-trip adapters */
    size_t copy_cap;    /* updates per phase for copy-everything adapters */
    const char *only;
    const char *sections; /* NULL: all */
} cfg;

static bool
section_on(const char *name)
{
    return cfg.sections == NULL || strstr(cfg.sections, name) != NULL;
}

static unsigned long errors; /* wrong answers seen anywhere */

void
bench_fail(const char *fmt, ...)
{
    va_list ap;
    if (errors++ < 20) {
        fprintf(stderr, "ERROR: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

static bool
selected(const struct bench_adapter *a)
{
    if (cfg.only == NULL) {
        return true;
    }
    size_t len = strlen(a->name);
    for (const char *p = cfg.only; (p = strstr(p, a->name)) != NULL; p++) {
        if ((p == cfg.only || p[-1] == ',') &&
            (p[len] == '\0' || p[len] == ',')) {
            return true;
        }
    }
    return false;
}

/* Selected, and measured in the single-thread and memory sections too. */
static bool
selected_single(const struct bench_adapter *a)
{
    return selected(a) && !(a->flags & BA_CONC_ONLY);
}

static const struct bench_adapter *
adapter_named(const char *name)
{
    for (unsigned i = 0; adapters[i]; i++) {
        if (strcmp(adapters[i]->name, name) == 0 && selected(adapters[i])) {
            return adapters[i];
        }
    }
    return NULL;
}

static void
print_skipped(FILE *f, const char *prefix)
{
    for (unsigned i = 0; skipped[i]; i++) {
        fprintf(f, "%sskipped: %s not found\n", prefix, skipped[i]);
    }
}

static const char *
kind_name(enum bkind k)
{
    return k == BK_U64 ? "u64" : "str16";
}

/* ---- keys ---- */

static char (*str_keys)[BENCH_STRLEN + 1];
static size_t str_nkeys;

static void
keys_prepare(enum bkind kind, size_t n)
{
    if (kind != BK_STR || n <= str_nkeys) {
        return;
    }
    free(str_keys);
    str_keys = bench_xmalloc(n * sizeof *str_keys);
    for (size_t i = 0; i < n; i++) {
        bench_key_str(i, str_keys[i]);
    }
    str_nkeys = n;
}

/* Key i as stored in a map (string keys live in str_keys). */
static inline bkey
key_stored(enum bkind kind, size_t i)
{
    if (kind == BK_U64) {
        return bench_key_u64(i);
    }
    return (bkey)(uintptr_t)str_keys[i];
}

/* Key i as a probe: for strings a fresh copy in buf, as a caller would. */
static inline bkey
key_probe(enum bkind kind, size_t i, char *buf)
{
    if (kind == BK_U64) {
        return bench_key_u64(i);
    }
    bench_key_str(i, buf);
    return (bkey)(uintptr_t)buf;
}

static inline size_t
perm(size_t j, size_t n)
{
    return (size_t)(((uint64_t)(j % n) * PERM_PRIME) % n);
}

/* ---- result records ---- */

struct rec {
    const char *workload;
    const char *map;
    enum bkind kind;
    size_t n;
    unsigned readers, writers, read_pct;
    const char *metric;
    unsigned run;
    double v;
};

static struct rec *recs;
static size_t nrecs, caprecs;

static void
rec_add(const char *workload, const char *map, enum bkind kind, size_t n,
        unsigned readers, unsigned writers, unsigned pct, const char *metric,
        unsigned run, double v)
{
    if (nrecs == caprecs) {
        caprecs = caprecs ? 2 * caprecs : 1024;
        recs = realloc(recs, caprecs * sizeof *recs);
        if (recs == NULL) {
            abort();
        }
    }
    recs[nrecs++] = (struct rec){ workload, map,    kind,   n, readers,
                                  writers,  pct,    metric, run, v };
}

void
bench_rec(const char *workload, const char *map, size_t n, const char *metric,
          unsigned run, double v)
{
    /* Copies: callers build metric names in buffers of their own. */
    rec_add(strdup(workload), strdup(map), BK_U64, n, 0, 0, 0, strdup(metric),
            run, v);
}

static bool
rec_match(const struct rec *r, const char *workload, const char *map,
          enum bkind kind, size_t n, unsigned readers, unsigned writers,
          unsigned pct, const char *metric)
{
    return strcmp(r->workload, workload) == 0 && strcmp(r->map, map) == 0 &&
           r->kind == kind && r->n == n && r->readers == readers &&
           r->writers == writers && r->read_pct == pct &&
           strcmp(r->metric, metric) == 0;
}

/* Values of one series in run order; returns the count. */
static size_t
rec_series(double *out, size_t cap, const char *workload, const char *map,
           enum bkind kind, size_t n, unsigned readers, unsigned writers,
           unsigned pct, const char *metric)
{
    size_t k = 0;
    for (size_t i = 0; i < nrecs && k < cap; i++) {
        if (rec_match(&recs[i], workload, map, kind, n, readers, writers, pct,
                      metric)) {
            out[k++] = recs[i].v;
        }
    }
    return k;
}

static double
rec_median(const char *workload, const char *map, enum bkind kind, size_t n,
           unsigned readers, unsigned writers, unsigned pct,
           const char *metric)
{
    double v[256];
    size_t k = rec_series(v, 256, workload, map, kind, n, readers, writers,
                          pct, metric);
    return k ? bench_median(v, k) : NAN;
}

static double
rec_max(const char *workload, const char *map, enum bkind kind, size_t n,
        unsigned readers, unsigned writers, unsigned pct, const char *metric)
{
    double v[256], m = NAN;
    size_t k = rec_series(v, 256, workload, map, kind, n, readers, writers,
                          pct, metric);
    for (size_t i = 0; i < k; i++) {
        if (isnan(m) || v[i] > m) {
            m = v[i];
        }
    }
    return m;
}

/* Median over rounds of a/b, both single-thread series of one (kind, n). */
static double
ratio_per_round(const char *a, const char *b, enum bkind kind, size_t n,
                const char *metric)
{
    double va[256], vb[256], r[256];
    size_t ka = rec_series(va, 256, "single", a, kind, n, 0, 0, 0, metric);
    size_t kb = rec_series(vb, 256, "single", b, kind, n, 0, 0, 0, metric);
    size_t k = ka < kb ? ka : kb;
    if (k == 0) {
        return NAN;
    }
    for (size_t i = 0; i < k; i++) {
        r[i] = va[i] / vb[i];
    }
    return bench_median(r, k);
}

/* Pauses of libhamt's concurrent runs, for the histogram. */
static double *hist_pauses;
static size_t hist_npauses;

static void
hist_add(size_t n_entries, unsigned readers, unsigned run, const double *p,
         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rec_add("gcpause", "libhamt", BK_U64, n_entries, readers, 1, 0,
                "pause_ms", run, p[i]);
    }
}

/* Gathers the recorded pauses (the section may have run in a child). */
static void
hist_collect(void)
{
    free(hist_pauses);
    hist_pauses = bench_xmalloc((nrecs + 1) * sizeof *hist_pauses);
    hist_npauses = 0;
    for (size_t i = 0; i < nrecs; i++) {
        if (strcmp(recs[i].workload, "gcpause") == 0) {
            hist_pauses[hist_npauses++] = recs[i].v;
        }
    }
}

/* ---- single thread ---- */

static size_t
cap_updates(const struct bench_adapter *a, size_t n)
{
    size_t c = n;
    if ((a->flags & BA_COPY_ALL) && cfg.copy_cap < c) {
        c = cfg.copy_cap;
    }
    if ((a->flags & BA_ROUNDTRIP) && cfg.rt_cap < c) {
        c = cfg.rt_cap;
    }
    return c;
}

static size_t
cap_lookups(const struct bench_adapter *a, size_t n)
{
    (void)n;
    size_t c = cfg.min_lookups;
    if ((a->flags & BA_ROUNDTRIP) && cfg.rt_cap < c) {
        c = cfg.rt_cap;
    }
    return c;
}

/* Inserts keys [from, to) without timing (bulk where the adapter has it). */
static void
build(const struct bench_adapter *a, void *m, void *t, enum bkind kind,
      size_t from, size_t to)
{
    if (to <= from) {
        return;
    }
    if (a->bulk != NULL) {
        size_t n = to - from;
        bkey *k = bench_xmalloc(n * sizeof *k);
        uint64_t *v = bench_xmalloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++) {
            k[i] = key_stored(kind, from + i);
            v[i] = from + i + 1;
        }
        a->bulk(m, t, k, v, n);
        free(k);
        free(v);
        return;
    }
    for (size_t i = from; i < to; i++) {
        a->insert(m, t, key_stored(kind, i), i + 1);
    }
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
    void *m = a->create(kind, n);
    void *t = a->thread_enter(m);

    /* insert: the last `cu` keys timed, the rest built untimed. */
    size_t cu = cap_updates(a, n);
    build(a, m, t, kind, 0, n - cu);
    uint64_t t0 = bench_now_ns();
    size_t fresh = 0;
    for (size_t i = n - cu; i < n; i++) {
        fresh += a->insert(m, t, key_stored(kind, i), i + 1);
    }
    uint64_t t1 = bench_now_ns();
    if (fresh != cu) {
        bench_fail("%s %s n=%zu: %zu of %zu inserts were new", a->name,
                    kind_name(kind), n, fresh, cu);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "insert", run,
            (double)(t1 - t0) / (double)cu);

    /* lookup hit, shuffled. */
    size_t L = cap_lookups(a, n), bad = 0;
    t0 = bench_now_ns();
    for (size_t j = 0; j < L; j++) {
        size_t i = perm(j, n);
        uint64_t v = 0;
        if (!a->lookup(m, t, key_probe(kind, i, buf), &v) || v != i + 1) {
            bad++;
        }
    }
    t1 = bench_now_ns();
    if (bad) {
        bench_fail("%s %s n=%zu: %zu of %zu lookup hits wrong", a->name,
                    kind_name(kind), n, bad, L);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "lookup_hit", run,
            (double)(t1 - t0) / (double)L);

    /*
     * lookup hit through the snapshot read (read_batch), 16 keys a call:
     * for libhamt that is hamt_get_many(), which overlaps the cache misses
     * of the keys of a batch.  u64 keys only.
     */
    if (kind == BK_U64 && a->read_batch != NULL && a->share != NULL) {
        bkey bk[16];
        uint64_t sum = 0;
        size_t hits = 0, done = 0;
        a->share(m);
        t0 = bench_now_ns();
        while (done < L) {
            size_t c = L - done < 16 ? L - done : 16;
            for (size_t j = 0; j < c; j++) {
                bk[j] = key_stored(kind, perm(done + j, n));
            }
            hits += a->read_batch(m, t, bk, c, &sum);
            done += c;
        }
        t1 = bench_now_ns();
        if (hits != L) {
            bench_fail("%s n=%zu: %zu of %zu batched lookup hits", a->name,
                        n, hits, L);
        }
        rec_add(W, a->name, kind, n, 0, 0, 0, "lookup_hit_batch", run,
                (double)(t1 - t0) / (double)L);
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
        bench_fail("%s %s n=%zu: %zu lookup misses found something",
                    a->name, kind_name(kind), n, bad);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "lookup_miss", run,
            (double)(t1 - t0) / (double)L);

    /* iterate: whole passes, at least min_lookups entries in all. */
    size_t passes = (cfg.min_lookups + n - 1) / n;
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
                    kind_name(kind), n);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "iterate", run,
            (double)(t1 - t0) / (double)(passes * n));

    /* remove, shuffled: `cu` keys timed (a sample of remove_sample). */
    if (cfg.remove_sample && cu > cfg.remove_sample) {
        cu = cfg.remove_sample;
    }
    size_t removed = 0;
    t0 = bench_now_ns();
    for (size_t j = 0; j < cu; j++) {
        removed += a->remove(m, t, key_probe(kind, perm(j, n), buf));
    }
    t1 = bench_now_ns();
    if (removed != cu) {
        bench_fail("%s %s n=%zu: %zu of %zu removes found their key",
                    a->name, kind_name(kind), n, removed, cu);
    }
    rec_add(W, a->name, kind, n, 0, 0, 0, "remove", run,
            (double)(t1 - t0) / (double)cu);

    a->thread_exit(m, t);
    a->destroy(m);
    if (a->flags & BA_GC) {
        struct bench_gc_stats st;
        bench_gc_read(&st, NULL);
        rec_add(W, a->name, kind, n, 0, 0, 0, "gc_collections", run,
                (double)st.collections);
        rec_add(W, a->name, kind, n, 0, 0, 0, "gc_max_ms", run, st.max_ms);
        rec_add(W, a->name, kind, n, 0, 0, 0, "gc_total_ms", run,
                st.total_ms);
    }
}

/*
 * Memory: one build per map, size and key kind, each the only thing its
 * process does (a fresh collector heap, fresh malloc arenas: the parent runs
 * one child per case, `--case C`), after which the map's deferred frees
 * are flushed and the accounting read.  Cases shared one process before, and
 * a map destroyed in one case could still be held, through a stale word
 * the collector scans conservatively, when the next case took its first
 * reading: libhamt's str16 row after the u64 ones read -3305 B/entry.
 * Returns the number of cases; with `only` >= 0 measures just that one.
 */
static unsigned
memory_all(long only)
{
    unsigned c = 0;

    for (unsigned k = 0; k < cfg.nkinds; k++) {
        enum bkind kind = cfg.kinds[k];
        for (unsigned ni = 0; ni < cfg.nns; ni++) {
            size_t n = cfg.ns[ni];
            bool prepared = false;
            for (unsigned i = 0; adapters[i]; i++) {
                const struct bench_adapter *a = adapters[i];
                if (!selected_single(a)) {
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
                build(a, m, t, kind, 0, n);
                if (a->quiesce) {
                    a->quiesce(m, t);
                }
                size_t mem1 = mem_now(a);
                rec_add("memory", a->name, kind, n, 0, 0, 0,
                        "bytes_per_entry", 0,
                        ((double)mem1 - (double)mem0) / (double)n);
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

static const char *const st_ops[] = { "insert", "lookup_hit", "lookup_miss",
                                      "remove", "iterate", NULL };

static void
single_report(enum bkind kind, size_t n)
{
    printf("\n== single thread, %s keys, N = %zu: ns/op, median of %u "
           "(x ghash: median per-round ratio)\n",
           kind_name(kind), n, cfg.runs);
    printf("   insert all N one by one; %zu shuffled lookups (hit and miss) "
           "per run; remove %s, shuffled\n",
           cfg.min_lookups,
           cfg.remove_sample && cfg.remove_sample < n ? "a sample of keys"
                                                     : "every key");
    print_skipped(stdout, "   ");
    printf("%-14s %9s %9s %9s %9s %9s %11s  %s\n", "map", "insert",
           "lkp-hit", "lkp-miss", "remove", "iterate", "bytes/entry",
           "GC n/total ms/max ms (per run)");
    for (unsigned i = 0; adapters[i]; i++) {
        const struct bench_adapter *a = adapters[i];
        if (!selected_single(a)) {
            continue;
        }
        printf("%-14s", a->name);
        for (unsigned o = 0; st_ops[o]; o++) {
            printf(" %9.1f",
                   rec_median("single", a->name, kind, n, 0, 0, 0, st_ops[o]));
        }
        printf(" %11.1f",
               rec_median("memory", a->name, kind, n, 0, 0, 0,
                          "bytes_per_entry"));
        if (a->flags & BA_GC) {
            printf("  %.0f/%.0f/%.1f",
                   rec_median("single", a->name, kind, n, 0, 0, 0,
                              "gc_collections"),
                   rec_median("single", a->name, kind, n, 0, 0, 0,
                              "gc_total_ms"),
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
    if (adapter_named("libhamt") && adapter_named("ghash")) {
        printf("%-14s", "libhamt/ghash");
        for (unsigned o = 0; st_ops[o]; o++) {
            printf(" %8.2fx",
                   ratio_per_round("libhamt", "ghash", kind, n, st_ops[o]));
        }
        printf(" %10.2fx\n",
               rec_median("memory", "libhamt", kind, n, 0, 0, 0,
                          "bytes_per_entry") /
                   rec_median("memory", "ghash", kind, n, 0, 0, 0,
                              "bytes_per_entry"));
    }
    printf("   memory (built first in a fresh process): libhamt and cow-map "
           "count the collector heap in use after GC_gcollect (heap minus "
           "free, whole blocks); libhamt's map is loaded through one batch "
           "(hamt_batch_set_many): %.1f B/entry, its nodes%s alone, by "
           "GC_size, %.1f.  The others count live malloc chunks with their "
           "headers (mallinfo2 uordblks+hblkhd delta)%s.\n",
           rec_median("memory", "libhamt", kind, n, 0, 0, 0,
                      "bytes_per_entry"),
           kind == BK_STR ? " and key copies" : "",
           rec_median("memory", "libhamt", kind, n, 0, 0, 0,
                      "exact_bytes_per_entry"),
           kind == BK_STR ? "; string keys: libhamt's own copies are "
                            "counted, the driver's key store is not"
                          : "");
    fflush(stdout);
}

/* ---- batch editor and whole-map operations (edits.c) ---- */

static size_t
edits_n(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < cfg.nns; i++) {
        n = cfg.ns[i] > n ? cfg.ns[i] : n;
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
    if (!selected(&bench_hamt)) {
        return 0;
    }
    unsigned ncases = bench_edits_cases(edits_n());
    if (only >= 0 && only < (long)ncases) {
        bench_edits_case(edits_n(), cfg.runs, (unsigned)only,
                         adapter_named("ghash"));
    }
    return ncases;
}

#define EM(map, metric) rec_median("edits", map, BK_U64, n, 0, 0, 0, metric)

static void
edits_report(void)
{
    size_t n = edits_n();
    char a[64];

    if (isnan(EM("libhamt", "batch_build"))) {
        return;
    }
    printf("\n== batch editor and whole-map operations, u64 keys, N = %zu, "
           "median of %u (ns)\n", n, cfg.runs);
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
    printf("%7s %8s %8s %7s %8s %7s %6s %6s %7s %7s %8s %8s\n", "k",
           "k sets", "batch", "speedup", "set_many", "speedup", "B sets",
           "B many", "floor", "cap", "diff", "merge");
    for (size_t k = 10; k <= 100000 && k <= n; k *= 10) {
        double v[8];
        static const char *const fmt[8] = {
            "sets_k%zu", "batch_k%zu", "batch_many_k%zu", "sets_k%zu_bytes",
            "batch_many_k%zu_bytes", "floor_many_k%zu", "diff_k%zu",
            "merge_k%zu"
        };
        for (unsigned i = 0; i < 8; i++) {
            snprintf(a, sizeof a, fmt[i], k);
            v[i] = EM("libhamt", a);
        }
        printf("%7zu %8.1f %8.1f %6.2fx %8.1f %6.2fx %6.0f %6.0f %7.1f "
               "%6.2fx %8.1f %8.1f\n", k, v[0], v[1], v[0] / v[1], v[2],
               v[0] / v[2], v[3], v[4], v[5], v[0] / v[5], v[6], v[7]);
    }
    printf("the collector's share of k sets and of hamt_batch_set_many (ns "
           "per update; gc = time the world stood still for collections, "
           "rest = the remainder: the tree work, allocation and the lazy "
           "sweep):\n");
    printf("%7s %8s %8s %8s %8s %8s %8s %9s %8s\n", "k", "k sets", "gc",
           "rest", "set_many", "gc", "rest", "speedup", "of rest");
    for (size_t k = 10; k <= 100000 && k <= n; k *= 10) {
        double v[4];
        static const char *const fmt[4] = { "sets_k%zu", "sets_k%zu_gc_ns",
                                            "batch_many_k%zu",
                                            "batch_many_k%zu_gc_ns" };
        for (unsigned i = 0; i < 4; i++) {
            snprintf(a, sizeof a, fmt[i], k);
            v[i] = EM("libhamt", a);
        }
        printf("%7zu %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %8.2fx %7.2fx\n", k,
               v[0], v[1], v[0] - v[1], v[2], v[3], v[2] - v[3], v[0] / v[2],
               (v[0] - v[1]) / (v[2] - v[3]));
    }
}

static void
single_all(void)
{
    for (unsigned k = 0; k < cfg.nkinds; k++) {
        for (unsigned ni = 0; ni < cfg.nns; ni++) {
            size_t n = cfg.ns[ni];
            keys_prepare(cfg.kinds[k], 2 * n);
            for (unsigned r = 0; r < cfg.runs; r++) {
                for (unsigned i = 0; adapters[i]; i++) {
                    if (selected_single(adapters[i])) {
                        single_run(adapters[i], cfg.kinds[k], n, r);
                    }
                }
            }
            single_report(cfg.kinds[k], n);
        }
    }
}

/* ---- concurrent ---- */

enum role { ROLE_READER, ROLE_WRITER, ROLE_MIXED };

struct cshared {
    const struct bench_adapter *a;
    void *m;
    enum bkind kind;
    size_t n;
    unsigned read_pct;
    _Atomic int stop;
    pthread_barrier_t bar;
};

struct cworker {
    struct cshared *sh;
    enum role role;
    uint64_t rng;
    uint64_t ops, hits, reads, sum;
    uint64_t t0, t1;
    double *lat;
    size_t nlat, seen;
    pthread_t thread;
};

static void
lat_record(struct cworker *w, double ns)
{
    /* Reservoir sampling keeps a uniform sample of every latency seen. */
    w->seen++;
    if (w->nlat < BENCH_LAT_CAP) {
        w->lat[w->nlat++] = ns;
        return;
    }
    uint64_t j = bench_below(&w->rng, w->seen);
    if (j < BENCH_LAT_CAP) {
        w->lat[j] = ns;
    }
}

static void *
cworker_main(void *arg)
{
    struct cworker *w = arg;
    struct cshared *sh = w->sh;
    const struct bench_adapter *a = sh->a;
    void *t = a->thread_enter(sh->m);
    bkey keys[BENCH_BATCH];
    char bufs[BENCH_BATCH][BENCH_STRLEN + 1];
    uint64_t batch = 0, ctr = 0;

    pthread_barrier_wait(&sh->bar);
    w->t0 = bench_now_ns();
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        switch (w->role) {
        case ROLE_READER:
            if (batch++ % BENCH_LAT_EVERY == 0) {
                bkey k = key_probe(sh->kind, bench_below(&w->rng, sh->n),
                                   bufs[0]);
                uint64_t s = bench_now_ns();
                w->hits += a->read_batch(sh->m, t, &k, 1, &w->sum);
                lat_record(w, (double)(bench_now_ns() - s));
                w->ops++;
                w->reads++;
                break;
            }
            for (unsigned b = 0; b < BENCH_BATCH; b++) {
                keys[b] = key_probe(sh->kind, bench_below(&w->rng, sh->n),
                                    bufs[b]);
            }
            w->hits += a->read_batch(sh->m, t, keys, BENCH_BATCH, &w->sum);
            w->ops += BENCH_BATCH;
            w->reads += BENCH_BATCH;
            break;
        case ROLE_WRITER: {
            size_t i = bench_below(&w->rng, sh->n);
            a->update(sh->m, t, key_stored(sh->kind, i), ++ctr);
            w->ops++;
            break;
        }
        case ROLE_MIXED: {
            size_t i = bench_below(&w->rng, sh->n);
            if (bench_below(&w->rng, 100) < sh->read_pct) {
                bkey k = key_probe(sh->kind, i, bufs[0]);
                w->hits += a->read_batch(sh->m, t, &k, 1, &w->sum);
                w->reads++;
            } else {
                a->update_mw(sh->m, t, key_stored(sh->kind, i), ++ctr);
            }
            w->ops++;
            break;
        }
        }
    }
    w->t1 = bench_now_ns();
    a->thread_exit(sh->m, t);
    return NULL;
}

static void
sleep_s(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t end = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec +
                   (uint64_t)(s * 1e9);
    ts.tv_sec = (time_t)(end / 1000000000ULL);
    ts.tv_nsec = (long)(end % 1000000000ULL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
        /* EINTR: the collector's signals; sleep on to the same deadline. */
    }
}

struct cresult {
    double reader_ops_s;     /* all readers together */
    double per_reader_ops_s; /* mean per reader */
    double writer_ops_s;
    double total_ops_s;      /* mixed runs */
    double p50, p99, p999, max;
    struct bench_gc_stats gc;
};

/*
 * One timed phase: `nr` readers and `nw` writers (or nr mixed threads when
 * mixed_pct > 0) on the shared map.  Checks that every lookup hit.
 */
static void
run_phase(const struct bench_adapter *a, void *m, enum bkind kind, size_t n,
          unsigned nr, unsigned nw, int mixed_pct, double secs,
          struct cresult *res, double **pauses)
{
    struct cshared sh = { .a = a, .m = m, .kind = kind, .n = n };
    unsigned nt = nr + nw;
    struct cworker *w = bench_xcalloc(nt, sizeof *w);
    atomic_init(&sh.stop, 0);
    sh.read_pct = mixed_pct > 0 ? (unsigned)mixed_pct : 0;
    pthread_barrier_init(&sh.bar, NULL, nt + 1);
    for (unsigned i = 0; i < nt; i++) {
        w[i].sh = &sh;
        w[i].role = mixed_pct > 0 ? ROLE_MIXED
                                  : (i < nr ? ROLE_READER : ROLE_WRITER);
        w[i].rng = 0x1234567ULL * (i + 1) + n;
        if (w[i].role == ROLE_READER) {
            w[i].lat = bench_xmalloc(BENCH_LAT_CAP * sizeof(double));
        }
        if (pthread_create(&w[i].thread, NULL, cworker_main, &w[i]) != 0) {
            fprintf(stderr, "hamt-bench: pthread_create failed\n");
            exit(2);
        }
    }
    if (a->flags & BA_GC) {
        bench_gc_reset();
    }
    pthread_barrier_wait(&sh.bar);
    sleep_s(secs);
    atomic_store_explicit(&sh.stop, 1, memory_order_relaxed);
    for (unsigned i = 0; i < nt; i++) {
        pthread_join(w[i].thread, NULL);
    }
    memset(res, 0, sizeof *res);
    if (a->flags & BA_GC) {
        bench_gc_read(&res->gc, pauses);
    } else if (pauses) {
        *pauses = NULL;
    }
    size_t nlat = 0;
    for (unsigned i = 0; i < nt; i++) {
        double dt = (double)(w[i].t1 - w[i].t0) / 1e9;
        double rate = dt > 0 ? (double)w[i].ops / dt : 0;
        if (w[i].role == ROLE_READER) {
            res->reader_ops_s += rate;
            nlat += w[i].nlat;
        } else if (w[i].role == ROLE_WRITER) {
            res->writer_ops_s += rate;
        }
        res->total_ops_s += rate;
        if (w[i].hits != w[i].reads) {
            bench_fail("%s: a reader missed %llu of %llu present keys",
                        a->name, (unsigned long long)(w[i].reads - w[i].hits),
                        (unsigned long long)w[i].reads);
        }
    }
    res->per_reader_ops_s = nr ? res->reader_ops_s / nr : 0;
    if (nlat) {
        double *all = bench_xmalloc(nlat * sizeof *all);
        size_t k = 0;
        for (unsigned i = 0; i < nt; i++) {
            if (w[i].nlat != 0) { /* w[i].lat may be NULL otherwise */
                memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
            }
            k += w[i].nlat;
        }
        res->p50 = bench_percentile(all, nlat, 50);
        res->p99 = bench_percentile(all, nlat, 99);
        res->p999 = bench_percentile(all, nlat, 99.9);
        res->max = all[nlat - 1];
        free(all);
    }
    for (unsigned i = 0; i < nt; i++) {
        free(w[i].lat);
    }
    free(w);
    pthread_barrier_destroy(&sh.bar);
}

static void
conc_record(const char *wl, const struct bench_adapter *a, enum bkind kind,
            size_t n, unsigned nr, unsigned nw, unsigned pct, unsigned run,
            const struct cresult *res)
{
    if (pct) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "total_ops_s", run,
                res->total_ops_s);
    } else if (nr) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "reader_ops_s", run,
                res->reader_ops_s);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "per_reader_ops_s", run,
                res->per_reader_ops_s);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_p50_ns", run,
                res->p50);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_p99_ns", run,
                res->p99);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_p999_ns", run,
                res->p999);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_max_ns", run,
                res->max);
    }
    if (nw) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "writer_ops_s", run,
                res->writer_ops_s);
    }
    if (a->flags & BA_GC) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_collections", run,
                (double)res->gc.collections);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_total_ms", run,
                res->gc.total_ms);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_p99_ms", run,
                res->gc.p99_ms);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_max_ms", run,
                res->gc.max_ms);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_heap_mb", run,
                (double)res->gc.heap_bytes / 1048576.0);
    }
}

static void
concurrent_one(const struct bench_adapter *a, enum bkind kind, size_t n)
{
    void *m = a->create(kind, n);
    void *t = a->thread_enter(m);
    build(a, m, t, kind, 0, n);
    if (a->share) {
        a->share(m);
    }
    struct cresult res;
    if (a->flags & BA_CONCURRENT) {
        for (unsigned ri = 0; ri < cfg.nreaders; ri++) {
            unsigned R = cfg.readers[ri];
            for (unsigned r = 0; r < cfg.runs; r++) {
                double *p = NULL;
                run_phase(a, m, kind, n, R, 1, 0, cfg.phase_s, &res, &p);
                conc_record("rw", a, kind, n, R, 1, 0, r, &res);
                if (p && strcmp(a->name, "libhamt") == 0) {
                    hist_add(n, R, r, p, res.gc.npauses);
                }
                free(p);
            }
        }
    }
    if (a->flags & BA_READ_MT) {
        for (unsigned r = 0; r < cfg.runs; r++) {
            run_phase(a, m, kind, n, 2, 0, 0, cfg.ro_phase_s, &res, NULL);
            conc_record("ro", a, kind, n, 2, 0, 0, r, &res);
        }
    }
    if (cfg.sweep && (a->flags & BA_CONCURRENT) && a->update_mw != NULL) {
        static const unsigned pcts[] = { 99, 90, 50 };
        for (unsigned p = 0; p < 3; p++) {
            for (unsigned r = 0; r < cfg.runs; r++) {
                run_phase(a, m, kind, n, cfg.sweep_threads, 0, (int)pcts[p],
                          cfg.sweep_s, &res, NULL);
                conc_record("sweep", a, kind, n, cfg.sweep_threads, 0,
                            pcts[p], r, &res);
            }
        }
    }
    a->thread_exit(m, t);
    a->destroy(m);
    if (a->flags & BA_GC) {
        GC_gcollect();
    }
}

static void
concurrent_report(enum bkind kind, size_t n)
{
    for (unsigned ri = 0; ri < cfg.nreaders; ri++) {
        unsigned R = cfg.readers[ri];
        printf("\n== concurrent, %s keys, N = %zu: 1 writer + %u reader%s, "
               "%.1f s phases, median of %u\n",
               kind_name(kind), n, R, R > 1 ? "s" : "", cfg.phase_s,
               cfg.runs);
        print_skipped(stdout, "   ");
        printf("%-14s %12s %12s %10s %8s %8s %9s %10s  %s\n", "map",
               "read M/s", "per-reader", "write M/s", "p50 ns", "p99 ns",
               "p99.9 ns", "max us", "GC n/max ms/heap MB");
        for (unsigned i = 0; adapters[i]; i++) {
            const struct bench_adapter *a = adapters[i];
            if (!selected(a)) {
                continue;
            }
            if (!(a->flags & BA_CONCURRENT)) {
                printf("%-14s  (not thread-safe with a writer: read-only "
                       "runs only)\n",
                       a->name);
                continue;
            }
#define M(metric) rec_median("rw", a->name, kind, n, R, 1, 0, metric)
            printf("%-14s %12.3f %12.3f %10.3g %8.0f %8.0f %9.0f %10.1f",
                   a->name, M("reader_ops_s") / 1e6,
                   M("per_reader_ops_s") / 1e6, M("writer_ops_s") / 1e6,
                   M("lat_p50_ns"), M("lat_p99_ns"), M("lat_p999_ns"),
                   M("lat_max_ns") / 1e3);
            if (a->flags & BA_GC) {
                printf("  %.0f/%.2f/%.0f", M("gc_collections"),
                       rec_max("rw", a->name, kind, n, R, 1, 0, "gc_max_ms"),
                       M("gc_heap_mb"));
            }
#undef M
            printf("\n");
        }
    }
    printf("\n== read-only, %s keys, N = %zu: 2 readers, no writer, %.1f s "
           "phases, median of %u\n",
           kind_name(kind), n, cfg.ro_phase_s, cfg.runs);
    print_skipped(stdout, "   ");
    printf("%-14s %12s %12s %8s %8s %10s\n", "map", "read M/s", "per-reader",
           "p50 ns", "p99 ns", "max us");
    for (unsigned i = 0; adapters[i]; i++) {
        const struct bench_adapter *a = adapters[i];
        if (!selected(a) || !(a->flags & BA_READ_MT)) {
            continue;
        }
#define M(metric) rec_median("ro", a->name, kind, n, 2, 0, 0, metric)
        printf("%-14s %12.3f %12.3f %8.0f %8.0f %10.1f\n", a->name,
               M("reader_ops_s") / 1e6, M("per_reader_ops_s") / 1e6,
               M("lat_p50_ns"), M("lat_p99_ns"), M("lat_max_ns") / 1e3);
#undef M
    }
    if (cfg.sweep) {
        printf("\n== read-ratio sweep, %s keys, N = %zu: %u threads each "
               "mixing reads and updates, %.1f s phases; total M ops/s\n",
               kind_name(kind), n, cfg.sweep_threads, cfg.sweep_s);
        print_skipped(stdout, "   ");
        printf("%-14s %10s %10s %10s\n", "map", "99/1", "90/10", "50/50");
        for (unsigned i = 0; adapters[i]; i++) {
            const struct bench_adapter *a = adapters[i];
            if (!selected(a) || !(a->flags & BA_CONCURRENT) ||
                a->update_mw == NULL) {
                continue;
            }
            printf("%-14s", a->name);
            static const unsigned pcts[] = { 99, 90, 50 };
            for (unsigned p = 0; p < 3; p++) {
                printf(" %10.3f",
                       rec_median("sweep", a->name, kind, n, cfg.sweep_threads,
                                  0, pcts[p], "total_ops_s") /
                           1e6);
            }
            printf("\n");
        }
    }
    fflush(stdout);
}

static void
concurrent_all(void)
{
    for (unsigned k = 0; k < cfg.nkinds; k++) {
        keys_prepare(cfg.kinds[k], 2 * cfg.conc_n);
        for (unsigned i = 0; adapters[i]; i++) {
            if (selected(adapters[i])) {
                concurrent_one(adapters[i], cfg.kinds[k], cfg.conc_n);
            }
        }
        concurrent_report(cfg.kinds[k], cfg.conc_n);
    }
}

/* ---- copy-on-write breakpoint ---- */

static size_t bp_ns[64];
static unsigned bp_nn;
static size_t bp_found; /* 0 if path copying never wins for good */

static double
time_updates(const struct bench_adapter *a, void *m, void *t, size_t n,
             uint64_t *rng)
{
    uint64_t t0 = bench_now_ns(), t1, k = 0;
    uint64_t min_ns = (uint64_t)(cfg.bp_min_s * 1e9);
    do {
        size_t i = bench_below(rng, n);
        a->update(m, t, key_stored(BK_U64, i), ++k + n);
        t1 = bench_now_ns();
    } while (k < 3 || t1 - t0 < min_ns);
    return (double)(t1 - t0) / (double)k;
}

static void
breakpoint_all(void)
{
    const struct bench_adapter *h = adapter_named("libhamt");
    const struct bench_adapter *c = adapter_named("cow-map");
    if (h == NULL || c == NULL) {
        return;
    }
    bp_nn = 0;
    for (unsigned e = 0; bp_nn < 64; e++) {
        double x = 10.0 * pow(10.0, (double)e / cfg.bp_per_decade);
        size_t n = (size_t)(x + 0.5);
        if (n > cfg.bp_max) {
            break;
        }
        bp_ns[bp_nn++] = n;
    }
    uint64_t rng = 42;
    void *hm = h->create(BK_U64, cfg.bp_max);
    void *ht = h->thread_enter(hm);
    size_t have = 0;
    /* Warm-up (untimed): the allocator's free lists and the first
     * collections. */
    {
        void *cm = c->create(BK_U64, bp_ns[0]);
        void *ct = c->thread_enter(cm);
        build(h, hm, ht, BK_U64, 0, bp_ns[0]);
        have = bp_ns[0];
        h->share(hm);
        build(c, cm, ct, BK_U64, 0, bp_ns[0]);
        double save = cfg.bp_min_s;
        cfg.bp_min_s = 0.05;
        time_updates(h, hm, ht, bp_ns[0], &rng);
        time_updates(c, cm, ct, bp_ns[0], &rng);
        cfg.bp_min_s = save;
        c->thread_exit(cm, ct);
        c->destroy(cm);
    }
    for (unsigned i = 0; i < bp_nn; i++) {
        size_t n = bp_ns[i];
        build(h, hm, ht, BK_U64, have, n);
        have = n;
        h->share(hm);
        void *cm = c->create(BK_U64, n);
        void *ct = c->thread_enter(cm);
        build(c, cm, ct, BK_U64, 0, n);
        for (unsigned r = 0; r < cfg.runs; r++) {
            rec_add("breakpoint", "libhamt", BK_U64, n, 0, 1, 0, "update_ns",
                    r, time_updates(h, hm, ht, n, &rng));
            rec_add("breakpoint", "cow-map", BK_U64, n, 0, 1, 0, "update_ns",
                    r, time_updates(c, cm, ct, n, &rng));
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
    fprintf(out, "\n== copy-on-write vs path copying: ns per update (replace a "
           "value and publish), median of %u\n",
           cfg.runs);
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
        fprintf(out, "   path copying wins from N = %zu on (every larger N "
                     "measured)\n",
                bp_found);
    } else {
        fprintf(out, "   path copying does not win for good within N <= "
                     "%zu\n",
                cfg.bp_max);
    }
    if (print) {
        fflush(stdout);
    } else {
        fclose(out);
    }
}

/* ---- load balance ---- */

struct balance {
    const char *what;
    enum bkind kind;
    double chi2, p;
};
static struct balance bal[4];
static unsigned nbal;

static void
balance_one(const char *what, enum bkind kind, size_t n, bool root)
{
    double cnt[32] = { 0 };
    const struct hamt *m = hamt_new(kind == BK_U64 ? HAMT_KEY_U64
                                                   : HAMT_KEY_STRING);
    for (size_t i = 0; i < n; i++) {
        bkey k = key_stored(kind, i);
        unsigned b;
        if (root) {
            b = (unsigned)(hamt__key_hash(m->kt, (const void *)(uintptr_t)k) &
                           HAMT_MASK);
        } else {
            b = (unsigned)(bench_hash(kind, k) >> 59);
        }
        cnt[b]++;
    }
    double e = (double)n / 32.0, chi2 = 0;
    for (unsigned b = 0; b < 32; b++) {
        chi2 += (cnt[b] - e) * (cnt[b] - e) / e;
    }
    bal[nbal++] = (struct balance){ what, kind, chi2, bench_chi2_q(chi2, 31) };
}

static void
balance_all(void)
{
    size_t n = cfg.conc_n;
    nbal = 0;
    for (unsigned k = 0; k < cfg.nkinds && nbal + 2 <= 4; k++) {
        keys_prepare(cfg.kinds[k], n);
        balance_one("32 shards (bench hash >> 59)", cfg.kinds[k], n, false);
        balance_one("32 root slots (libhamt hash & 31)", cfg.kinds[k], n,
                    true);
    }
    printf("\n== load balance of N = %zu keys: chi-square, 31 degrees of "
           "freedom (expected about 31; p < 0.01 would be suspicious)\n",
           n);
    for (unsigned i = 0; i < nbal; i++) {
        printf("   %-36s %-5s chi2 = %7.2f  p = %.3f\n", bal[i].what,
               kind_name(bal[i].kind), bal[i].chi2, bal[i].p);
    }
}

/* ---- headline ---- */

struct target {
    const char *what;
    double hamt, ref, ratio;
    const char *goal;
    bool higher_better;
    double limit;
    const char *unit;
};
static struct target tg[24];
static unsigned ntg;

static void
target_add(const char *what, double hamt, double ref, bool ratio_is_direct,
           double ratio, const char *goal, bool higher, double limit,
           const char *unit)
{
    struct target *t = &tg[ntg++];
    t->what = what;
    t->hamt = hamt;
    t->ref = ref;
    t->ratio = ratio_is_direct ? ratio : hamt / ref;
    t->goal = goal;
    t->higher_better = higher;
    t->limit = limit;
    t->unit = unit;
}

static const char *
target_verdict(const struct target *t)
{
    if (isnan(t->ratio)) {
        return "n/a";
    }
    bool met = t->higher_better ? t->ratio >= t->limit : t->ratio <= t->limit;
    return met ? "met" : "MISSED";
}

static void
headline(void)
{
    const size_t N = 1000000;
    bool have_1m = false;
    for (unsigned i = 0; i < cfg.nns; i++) {
        have_1m |= cfg.ns[i] == N;
    }
    size_t n = have_1m ? N : cfg.ns[cfg.nns - 1];
    ntg = 0;
#define SM(map, op) rec_median("single", map, BK_U64, n, 0, 0, 0, op)
    static const char *const ops[] = { "lookup_hit", "insert", "remove",
                                       "iterate" };
    static const char *const what[] = {
        "lookup hit vs ghash", "persistent insert vs ghash insert",
        "persistent remove vs ghash remove", "iterate per entry vs ghash"
    };
    static const char *const goal[] = { "<= 1.0", "<= 2.5", "<= 3.0",
                                        "<= 2.0" };
    static const double lim[] = { 1.0, 2.5, 3.0, 2.0 };
    for (unsigned i = 0; i < 4; i++) {
        target_add(what[i], SM("libhamt", ops[i]), SM("ghash", ops[i]), true,
                   ratio_per_round("libhamt", "ghash", BK_U64, n, ops[i]),
                   goal[i], false, lim[i], "ns");
    }
    target_add("lookup hit, 16-key batches (hamt_get_many) vs ghash",
               SM("libhamt", "lookup_hit_batch"), SM("ghash", "lookup_hit"),
               false, 0, "<= 1.0", false, 1.0, "ns");
    target_add("bytes per entry (loaded via one batch) vs ghash",
               rec_median("memory", "libhamt", BK_U64, n, 0, 0, 0,
                          "bytes_per_entry"),
               rec_median("memory", "ghash", BK_U64, n, 0, 0, 0,
                          "bytes_per_entry"),
               false, 0, "<= 1.0", false, 1.0, "B");
#undef SM
    size_t cn = cfg.conc_n;
#define RW(map, metric) rec_median("rw", map, BK_U64, cn, 1, 1, 0, metric)
    double h = RW("libhamt", "reader_ops_s");
    double u = RW("urcu-lfht", "reader_ops_s");
    double c = RW("ck-hs", "reader_ops_s");
    double best = isnan(u) ? c : (isnan(c) ? u : (u > c ? u : c));
    target_add("reader lookups/s under 1 writer vs best(rculfhash, ck_hs)",
               h / 1e6, best / 1e6, false, 0, ">= 2.0", true, 2.0, "M/s");
    target_add("reader lookups/s under 1 writer vs ghash-rwlock", h / 1e6,
               RW("ghash-rwlock", "reader_ops_s") / 1e6, false, 0, ">= 10",
               true, 10.0, "M/s");
    target_add("writer updates/s (1 reader) vs ck_hs writer",
               RW("libhamt", "writer_ops_s") / 1e6,
               RW("ck-hs", "writer_ops_s") / 1e6, false, 0, ">= 1.0", true,
               1.0, "M/s");
#undef RW
    target_add("2 readers, no writer vs unlocked ghash",
               rec_median("ro", "libhamt", BK_U64, cn, 2, 0, 0,
                          "reader_ops_s") /
                   1e6,
               rec_median("ro", "ghash", BK_U64, cn, 2, 0, 0, "reader_ops_s") /
                   1e6,
               false, 0, ">= 0.9", true, 0.9, "M/s");
    double mp = NAN;
    for (unsigned ri = 0; ri < cfg.nreaders; ri++) {
        double v = rec_max("rw", "libhamt", BK_U64, cn, cfg.readers[ri], 1, 0,
                           "gc_max_ms");
        if (!isnan(v) && (isnan(mp) || v > mp)) {
            mp = v;
        }
    }
    target_add("max GC pause, 1M entries under write churn (ms)", mp, 10.0,
               true, mp / 10.0, "<= 10 ms", false, 1.0, "ms");
    if (!isnan(EM("libhamt", "batch_build"))) {
        size_t en = n;
        n = edits_n();
        target_add("build via one batch (hamt_batch_set_many) vs ghash insert",
                   EM("libhamt", "batch_build_many"), EM("ghash", "build"),
                   false, 0, "<= 1.5", false, 1.5, "ns");
        target_add("build via one batch (hamt_batch_set) vs ghash insert",
                   EM("libhamt", "batch_build"), EM("ghash", "build"), false,
                   0, "<= 1.5", false, 1.5, "ns");
        static const char *const kw[] = {
            "k=1000 updates: k sets / batch_set (speedup)",
            "k=10000 updates: k sets / batch_set (speedup)",
            "k=100000 updates: k sets / batch_set (speedup)",
            "k=1000 updates: k sets / batch_set_many (speedup)",
            "k=10000 updates: k sets / batch_set_many (speedup)",
            "k=100000 updates: k sets / batch_set_many (speedup)"
        };
        static const size_t kk[] = { 1000, 10000, 100000 };
        for (unsigned i = 0; i < 6; i++) {
            char a[32], b[32];
            snprintf(a, sizeof a, "sets_k%zu", kk[i % 3]);
            snprintf(b, sizeof b, i < 3 ? "batch_k%zu" : "batch_many_k%zu",
                     kk[i % 3]);
            double sp = EM("libhamt", a), bt = EM("libhamt", b);
            if (!isnan(sp)) {
                target_add(kw[i], sp, bt, true, sp / bt, ">= 3.0", true, 3.0,
                           "ns");
            }
        }
        n = en;
    }

    printf("\n== headline: libhamt targets (issue 3), u64 keys, single-thread "
           "N = %zu, concurrent N = %zu\n",
           n, cn);
    print_skipped(stdout, "   ");
    printf("%-58s %10s %10s %7s %9s  %s\n", "target", "libhamt", "reference",
           "ratio", "goal", "verdict");
    for (unsigned i = 0; i < ntg; i++) {
        const struct target *t = &tg[i];
        if (strcmp(t->unit, "ms") == 0) {
            printf("%-58s %7.2f %-2s %7.2f %-2s %7s %9s  %s\n", t->what,
                   t->hamt, t->unit, t->ref, t->unit, "", t->goal,
                   target_verdict(t));
        } else {
            printf("%-58s %7.2f %-3s%7.2f %-3s%6.2fx %8s  %s\n", t->what,
                   t->hamt, t->unit, t->ref, t->unit, t->ratio, t->goal,
                   target_verdict(t));
        }
    }
    if (bp_nn) {
        if (bp_found) {
            printf("%-58s %s%zu\n", "copy-on-write breakpoint",
                   "path copying wins from N = ", bp_found);
        } else {
            printf("%-58s %s\n", "copy-on-write breakpoint",
                   "path copying never wins for good");
        }
    }
    if (errors) {
        printf("\nWRONG ANSWERS: %lu (see stderr); the figures above are "
               "suspect\n",
               errors);
    }
}

/* ---- files ---- */

static FILE *
out_open(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", cfg.outdir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "hamt-bench: cannot write %s: %s\n", path,
                strerror(errno));
        exit(2);
    }
    return f;
}

static char meta_line[1024];

static void
meta_prepare(void)
{
    struct utsname u;
    char cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    snprintf(cpu, sizeof cpu, "%s", p + 2);
                    cpu[strcspn(cpu, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    uname(&u);
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    snprintf(meta_line, sizeof meta_line,
             "%s | %s %s %s | %s x %ld | mode %s, %u runs", date, u.sysname,
             u.release, u.machine, cpu, sysconf(_SC_NPROCESSORS_ONLN),
             cfg.mode, cfg.runs);
}

static void
csv_header(FILE *f)
{
    fprintf(f, "# hamt-bench %s\n", meta_line);
    print_skipped(f, "# ");
}

static void
write_csv(void)
{
    FILE *f = out_open("raw.csv");
    csv_header(f);
    fprintf(f, "workload,map,keys,n,readers,writers,read_pct,metric,run,"
               "value\n");
    for (size_t i = 0; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        fprintf(f, "%s,%s,%s,%zu,%u,%u,%u,%s,%u,%.6g\n", r->workload, r->map,
                kind_name(r->kind), r->n, r->readers, r->writers, r->read_pct,
                r->metric, r->run, r->v);
    }
    fclose(f);

    f = out_open("summary.csv");
    csv_header(f);
    fprintf(f, "workload,map,keys,n,readers,writers,read_pct,metric,median,"
               "min,max,runs\n");
    for (size_t i = 0; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        bool first = true;
        for (size_t j = 0; j < i && first; j++) {
            first = !rec_match(&recs[j], r->workload, r->map, r->kind, r->n,
                               r->readers, r->writers, r->read_pct,
                               r->metric);
        }
        if (!first) {
            continue;
        }
        double v[256];
        size_t k = rec_series(v, 256, r->workload, r->map, r->kind, r->n,
                              r->readers, r->writers, r->read_pct, r->metric);
        double lo = v[0], hi = v[0];
        for (size_t j = 1; j < k; j++) {
            lo = v[j] < lo ? v[j] : lo;
            hi = v[j] > hi ? v[j] : hi;
        }
        fprintf(f, "%s,%s,%s,%zu,%u,%u,%u,%s,%.6g,%.6g,%.6g,%zu\n",
                r->workload, r->map, kind_name(r->kind), r->n, r->readers,
                r->writers, r->read_pct, r->metric, bench_median(v, k), lo, hi,
                k);
    }
    fclose(f);

    f = out_open("headline.csv");
    csv_header(f);
    fprintf(f, "target,libhamt,reference,unit,ratio,goal,verdict\n");
    for (unsigned i = 0; i < ntg; i++) {
        fprintf(f, "\"%s\",%.6g,%.6g,%s,%.4g,\"%s\",%s\n", tg[i].what,
                tg[i].hamt, tg[i].ref, tg[i].unit, tg[i].ratio, tg[i].goal,
                target_verdict(&tg[i]));
    }
    if (bp_nn) {
        fprintf(f, "\"copy-on-write breakpoint N\",%zu,,,,,\n", bp_found);
    }
    fclose(f);

    f = out_open("balance.csv");
    csv_header(f);
    fprintf(f, "what,keys,n,chi2,dof,p\n");
    for (unsigned i = 0; i < nbal; i++) {
        fprintf(f, "\"%s\",%s,%zu,%.4f,31,%.4f\n", bal[i].what,
                kind_name(bal[i].kind), cfg.conc_n, bal[i].chi2, bal[i].p);
    }
    fclose(f);

    f = out_open("gc_pauses.csv");
    csv_header(f);
    fprintf(f, "pause_ms\n");
    for (size_t i = 0; i < hist_npauses; i++) {
        fprintf(f, "%.4f\n", hist_pauses[i]);
    }
    fclose(f);
}

/* Data files and a script for gnuplot (make bench runs it). */
static void
write_plots(void)
{
    FILE *f;
    /* ns/op vs N, one column per map, u64 keys. */
    for (unsigned o = 0; st_ops[o]; o++) {
        char name[64];
        snprintf(name, sizeof name, "single_%s.dat", st_ops[o]);
        f = out_open(name);
        fprintf(f, "N");
        for (unsigned i = 0; adapters[i]; i++) {
            if (selected_single(adapters[i])) {
                fprintf(f, " %s", adapters[i]->name);
            }
        }
        fprintf(f, "\n");
        for (unsigned ni = 0; ni < cfg.nns; ni++) {
            fprintf(f, "%zu", cfg.ns[ni]);
            for (unsigned i = 0; adapters[i]; i++) {
                if (selected_single(adapters[i])) {
                    double v = rec_median("single", adapters[i]->name, BK_U64,
                                          cfg.ns[ni], 0, 0, 0, st_ops[o]);
                    if (isnan(v)) {
                        fprintf(f, " NaN");
                    } else {
                        fprintf(f, " %.2f", v);
                    }
                }
            }
            fprintf(f, "\n");
        }
        fclose(f);
    }
    /* Reader throughput under a writer, one row per map. */
    f = out_open("concurrent.dat");
    fprintf(f, "map");
    for (unsigned ri = 0; ri < cfg.nreaders; ri++) {
        fprintf(f, " R=%u", cfg.readers[ri]);
    }
    fprintf(f, " no-writer(R=2)\n");
    for (unsigned i = 0; adapters[i]; i++) {
        const struct bench_adapter *a = adapters[i];
        if (!selected(a)) {
            continue;
        }
        fprintf(f, "%s", a->name);
        for (unsigned ri = 0; ri < cfg.nreaders; ri++) {
            double v = rec_median("rw", a->name, BK_U64, cfg.conc_n,
                                  cfg.readers[ri], 1, 0, "reader_ops_s");
            fprintf(f, isnan(v) ? " NaN" : " %.4f", v / 1e6);
        }
        double v = rec_median("ro", a->name, BK_U64, cfg.conc_n, 2, 0, 0,
                              "reader_ops_s");
        fprintf(f, isnan(v) ? " NaN\n" : " %.4f\n", v / 1e6);
    }
    fclose(f);
    /* Breakpoint curve. */
    f = out_open("breakpoint.dat");
    fprintf(f, "N cow-map libhamt\n");
    for (unsigned i = 0; i < bp_nn; i++) {
        fprintf(f, "%zu %.2f %.2f\n", bp_ns[i],
                rec_median("breakpoint", "cow-map", BK_U64, bp_ns[i], 0, 1, 0,
                           "update_ns"),
                rec_median("breakpoint", "libhamt", BK_U64, bp_ns[i], 0, 1, 0,
                           "update_ns"));
    }
    fclose(f);
    /* GC pauses. */
    double maxp = 0;
    for (size_t i = 0; i < hist_npauses; i++) {
        maxp = hist_pauses[i] > maxp ? hist_pauses[i] : maxp;
    }
    f = out_open("gc_pauses.dat");
    fprintf(f, "pause_ms\n");
    for (size_t i = 0; i < hist_npauses; i++) {
        fprintf(f, "%.4f\n", hist_pauses[i]);
    }
    if (hist_npauses == 0) {
        fprintf(f, "0\n");
    }
    fclose(f);

    unsigned ncol = 0;
    for (unsigned i = 0; adapters[i]; i++) {
        ncol += selected_single(adapters[i]);
    }
    f = out_open("plots.gp");
    fprintf(f,
            "# gnuplot script written by hamt-bench; run it in this "
            "directory.\n"
            "# %s\n"
            "set terminal pngcairo size 1280,960 noenhanced font ',10'\n"
            "set key autotitle columnhead\n"
            "set grid\n"
            "set linetype 1 lc rgb '#d62728' lw 3 pt 7\n"
            "set linetype 2 lc rgb '#1f77b4' lw 2 pt 5\n"
            "set linetype 3 lc rgb '#17becf' lw 2 pt 4\n"
            "set linetype 4 lc rgb '#9467bd' lw 2 pt 6\n"
            "set linetype 5 lc rgb '#8c564b' lw 2 pt 8\n"
            "set linetype 6 lc rgb '#7f7f7f' lw 2 pt 10\n"
            "set linetype 7 lc rgb '#ff7f0e' lw 2 pt 12\n"
            "set linetype 8 lc rgb '#2ca02c' lw 2 pt 14\n"
            "set linetype 9 lc rgb '#000000' lw 2 pt 2\n"
            "set linetype 10 lc rgb '#bcbd22' lw 2 pt 3\n"
            "stamp = '%s'\n",
            meta_line, meta_line);
    fprintf(f,
            "set output 'ns_per_op.png'\n"
            "set multiplot layout 2,2 title 'ns/op vs N, u64 keys, one "
            "thread (median of %u)'.\"\\n\".stamp\n"
            "set logscale xy\n"
            "set xlabel 'N entries'\n"
            "set ylabel 'ns/op'\n"
            "set key left top\n",
            cfg.runs);
    static const char *const titles[] = { "insert", "lookup hit",
                                          "lookup miss", "remove",
                                          "iterate (per entry)" };
    for (unsigned o = 0; st_ops[o]; o++) {
        if (strcmp(st_ops[o], "lookup_miss") == 0) {
            continue;
        }
        fprintf(f,
                "set title '%s'\n"
                "plot for [c=2:%u] 'single_%s.dat' using 1:c with "
                "linespoints lw 2\n",
                titles[o], ncol + 1, st_ops[o]);
    }
    fprintf(f, "unset multiplot\nunset logscale\n");
    fprintf(f,
            "set output 'read_throughput.png'\n"
            "set title 'reader lookups/s under one writer, N = %zu u64 keys "
            "(median of %u)'.\"\\n\".stamp\n"
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.8 border -1\n"
            "set logscale y\n"
            "set ylabel 'M lookups/s (all readers)'\n"
            "set xlabel ''\n"
            "set xtics rotate by -30\n"
            "set key right top\n"
            "plot for [c=2:%u] 'concurrent.dat' using c:xtic(1)\n"
            "unset logscale\nset xtics norotate\nset style data lines\n",
            cfg.conc_n, cfg.runs, cfg.nreaders + 2);
    fprintf(f,
            "set output 'breakpoint.png'\n"
            "set title 'ns per update (replace one value, publish): "
            "copy-on-write vs path copying'.\"\\n\".stamp\n"
            "set logscale xy\n"
            "set xlabel 'N entries'\n"
            "set ylabel 'ns/update'\n"
            "set key left top\n");
    if (bp_found) {
        fprintf(f,
                "set arrow 1 from %zu, graph 0 to %zu, graph 1 nohead dt 2\n"
                "set label 1 'path copying wins from N = %zu' at %zu, graph "
                "0.9 offset 1,0\n",
                bp_found, bp_found, bp_found, bp_found);
    }
    fprintf(f,
            "plot 'breakpoint.dat' using 1:2 with linespoints lw 2, '' using "
            "1:3 with linespoints lw 2\n"
            "unset arrow\nunset label\nunset logscale\n");
    double bw = maxp > 0 ? maxp / 40.0 : 1.0;
    fprintf(f,
            "set output 'gc_pauses.png'\n"
            "set title 'libhamt stop-the-world pauses, N = %zu, 1 writer + "
            "readers (%zu pauses)'.\"\\n\".stamp\n"
            "set style fill solid 0.8 border -1\n"
            "set xlabel 'pause (ms)'\n"
            "set ylabel 'collections'\n"
            "set key off\n"
            "bw = %.6f\n"
            "bin(x) = bw * floor(x / bw) + bw / 2\n"
            "set boxwidth bw * 0.9\n"
            "plot 'gc_pauses.dat' using (bin($1)):(1.0) smooth frequency "
            "with boxes\n",
            cfg.conc_n, hist_npauses, bw);
    fclose(f);
}

/* ---- sections in child processes ---- */

/*
 * Each section runs in a fresh child process (this program re-executed
 * with --sections S --child FILE): a collector heap left large and full of
 * garbage by one workload would otherwise tax the allocations of the next
 * (measured: libhamt inserts at N = 10k took 7x longer right after the
 * concurrent runs).  Within a section every competitor still runs in the
 * same process, so every ratio is taken within one process.  The child
 * prints its own tables and hands its records back through FILE.
 */
static const char *child_file;
/* The one case a child measures (memory_all, edits_all), or -1. */
static long case_no = -1;
static size_t nrecs_preloaded; /* records the parent handed to this child */

static void
rec_save(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "hamt-bench: cannot write %s\n", path);
        exit(2);
    }
    for (size_t i = nrecs_preloaded; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        fprintf(f, "%s\t%s\t%d\t%zu\t%u\t%u\t%u\t%s\t%u\t%.17g\n",
                r->workload, r->map, (int)r->kind, r->n, r->readers,
                r->writers, r->read_pct, r->metric, r->run, r->v);
    }
    fprintf(f, "errors\t%lu\n", errors);
    fclose(f);
}

static bool
rec_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    char line[512], wl[64], map[64], metric[64];
    while (fgets(line, sizeof line, f)) {
        int kind;
        size_t n;
        unsigned rd, wr, pct, run;
        double v;
        unsigned long e;
        if (sscanf(line, "errors\t%lu", &e) == 1) {
            errors += e;
            continue;
        }
        if (sscanf(line, "%63[^\t]\t%63[^\t]\t%d\t%zu\t%u\t%u\t%u\t%63[^\t]"
                         "\t%u\t%lg",
                   wl, map, &kind, &n, &rd, &wr, &pct, metric, &run,
                   &v) == 10) {
            rec_add(strdup(wl), strdup(map), (enum bkind)kind, n, rd, wr, pct,
                    strdup(metric), run, v);
        }
    }
    fclose(f);
    return true;
}

static void
run_child(char **argv, int argc, const char *section, long mcase)
{
    char file[4096], cs[32];
    snprintf(file, sizeof file, "%s/.hamt-bench-%s.tsv", cfg.outdir,
             section);
    snprintf(cs, sizeof cs, "%ld", mcase);
    char **av = bench_xcalloc((size_t)argc + 7, sizeof *av);
    for (int i = 0; i < argc; i++) {
        av[i] = argv[i];
    }
    av[argc] = "--sections";
    av[argc + 1] = (char *)section;
    av[argc + 2] = "--child";
    av[argc + 3] = file;
    if (mcase >= 0) {
        av[argc + 4] = "--case";
        av[argc + 5] = cs;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execv("/proc/self/exe", av);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
        WEXITSTATUS(st) > 1) {
        bench_fail("section %s: child process failed (status %d)", section,
                    st);
    }
    if (!rec_load(file)) {
        bench_fail("section %s: no results", section);
    }
    unlink(file);
    free(av);
}

/* ---- smoke test (make check) ---- */

static unsigned smoke_pass, smoke_fail;

static void
smoke_check(bool ok, const char *name, enum bkind kind, const char *what)
{
    if (ok) {
        smoke_pass++;
    } else {
        smoke_fail++;
        printf("FAIL: %s %s: %s\n", name, kind_name(kind), what);
    }
}

static void
smoke_adapter(const struct bench_adapter *a, enum bkind kind)
{
    const size_t n = 1000;
    char buf[BENCH_STRLEN + 1];
    void *m = a->create(kind, n);
    void *t = a->thread_enter(m);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        ok &= a->insert(m, t, key_stored(kind, i), i + 1);
    }
    smoke_check(ok, a->name, kind, "fresh inserts return true");
    ok = true;
    for (size_t i = 0; i < n; i += 7) {
        ok &= !a->insert(m, t, key_stored(kind, i), i + 1);
    }
    smoke_check(ok, a->name, kind, "re-inserts return false");
    ok = true;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        ok &= a->lookup(m, t, key_probe(kind, i, buf), &v) && v == i + 1;
    }
    smoke_check(ok, a->name, kind, "lookups find every value");
    ok = true;
    for (size_t i = n; i < 2 * n; i++) {
        uint64_t v;
        ok &= !a->lookup(m, t, key_probe(kind, i, buf), &v);
    }
    smoke_check(ok, a->name, kind, "absent keys miss");
    uint64_t sum = 0;
    size_t cnt = a->iterate(m, t, &sum);
    smoke_check(cnt == n && sum == (uint64_t)n * (n + 1) / 2, a->name, kind,
                "iteration visits every entry once");
    ok = true;
    for (size_t i = 0; i < n; i += 2) {
        ok &= a->remove(m, t, key_probe(kind, i, buf));
        ok &= !a->remove(m, t, key_probe(kind, i, buf));
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        bool f = a->lookup(m, t, key_probe(kind, i, buf), &v);
        ok &= (i % 2 == 0) ? !f : (f && v == i + 1);
    }
    smoke_check(ok, a->name, kind, "removes take exactly their keys");
    for (size_t i = 0; i < n; i += 2) {
        a->insert(m, t, key_stored(kind, i), i + 1);
    }
    if (a->share) {
        a->share(m);
    }
    bkey keys[BENCH_BATCH];
    char bufs[BENCH_BATCH][BENCH_STRLEN + 1];
    ok = true;
    for (size_t i = 0; i + BENCH_BATCH <= n; i += BENCH_BATCH) {
        for (unsigned b = 0; b < BENCH_BATCH; b++) {
            keys[b] = key_probe(kind, i + b, bufs[b]);
        }
        uint64_t s = 0, want = 0;
        for (unsigned b = 0; b < BENCH_BATCH; b++) {
            want += i + b + 1;
        }
        ok &= a->read_batch(m, t, keys, BENCH_BATCH, &s) == BENCH_BATCH &&
              s == want;
    }
    smoke_check(ok, a->name, kind, "snapshot reads find every value");
    unsigned long e0 = errors;
    struct cresult res;
    if (a->flags & BA_CONCURRENT) {
        run_phase(a, m, kind, n, 1, 1, 0, 0.05, &res, NULL);
        smoke_check(errors == e0 && res.reader_ops_s > 0 &&
                        res.writer_ops_s > 0,
                    a->name, kind, "reader sees every key under a writer");
        if (a->update_mw != NULL) {
            run_phase(a, m, kind, n, 2, 0, 50, 0.05, &res, NULL);
            smoke_check(errors == e0 && res.total_ops_s > 0, a->name, kind,
                        "two mixed reader/writers see every key");
        }
    }
    if (a->flags & BA_READ_MT) {
        run_phase(a, m, kind, n, 2, 0, 0, 0.05, &res, NULL);
        smoke_check(errors == e0 && res.reader_ops_s > 0, a->name, kind,
                    "two readers see every key");
    }
    ok = true;
    for (size_t i = 0; i + BENCH_BATCH <= n; i += BENCH_BATCH) {
        for (unsigned b = 0; b < BENCH_BATCH; b++) {
            keys[b] = key_probe(kind, i + b, bufs[b]);
        }
        uint64_t s = 0;
        ok &= a->read_batch(m, t, keys, BENCH_BATCH, &s) == BENCH_BATCH;
    }
    smoke_check(ok, a->name, kind, "every key present after the writers");
    if (a->quiesce) {
        a->quiesce(m, t);
    }
    a->thread_exit(m, t);
    a->destroy(m);
}

static int
smoke(void)
{
    print_skipped(stdout, "");
    keys_prepare(BK_STR, 2000);
    for (unsigned i = 0; adapters[i]; i++) {
        if (!selected(adapters[i])) {
            continue;
        }
        for (int k = 0; k < 2; k++) {
            smoke_adapter(adapters[i], (enum bkind)k);
        }
        printf("ok: %s\n", adapters[i]->name);
        fflush(stdout);
    }
    const struct bench_adapter *sel[32];
    unsigned nsel = 0;
    for (unsigned i = 0; adapters[i] && nsel < 31; i++) {
        if (selected(adapters[i])) {
            sel[nsel++] = adapters[i];
        }
    }
    sel[nsel] = NULL;
    bench_writers_smoke(sel, &smoke_pass, &smoke_fail);
    /* The chi-square tail at known points: Q(31, 31) ~ 0.4672. */
    double q = bench_chi2_q(31.0, 31.0);
    smoke_check(fabs(q - 0.4672) < 0.001, "chi2", BK_U64, "chi-square tail");
    printf("%u passed, %u failed\n", smoke_pass, smoke_fail);
    return smoke_fail ? 1 : 0;
}

/* ---- main ---- */

static void
usage(void)
{
    printf(
        "usage: hamt-bench [--quick | --full | --smoke] [options]\n"
        "  --quick          headline rows, all competitors (make bench)\n"
        "  --full           every workload (make bench-full)\n"
        "  --smoke          check every adapter's answers (make check)\n"
        "  --out DIR        where CSV, .dat and plots.gp go (default .)\n"
        "  --runs K         repetitions per figure (default 5, min 1)\n"
        "  --readers R,...  reader counts with one writer\n"
        "  --phase S        seconds per concurrent phase\n"
        "  --n N,...        single-thread sizes\n"
        "  --only a,b       only these competitors (names as in --list)\n"
        "  --sections LIST  any of memory,breakpoint,concurrent,edits,"
        "single,balance,writers\n"
        "  --list           list competitors and exit\n");
}

static unsigned
parse_list(const char *s, size_t *out, unsigned cap)
{
    unsigned k = 0;
    while (*s && k < cap) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s) {
            break;
        }
        out[k++] = (size_t)v;
        s = *end == ',' ? end + 1 : end;
    }
    return k;
}

static void
mode_quick(void)
{
    cfg.mode = "quick";
    cfg.runs = 5;
    cfg.ns[0] = 10000;
    cfg.ns[1] = 100000;
    cfg.ns[2] = 1000000;
    cfg.nns = 3;
    cfg.kinds[0] = BK_U64;
    cfg.nkinds = 1;
    cfg.readers[0] = 1;
    cfg.nreaders = 1;
    cfg.phase_s = 0.4;
    cfg.ro_phase_s = 0.25;
    cfg.conc_n = 1000000;
    cfg.sweep = false;
    cfg.sweep_threads = 2;
    cfg.sweep_s = 0.3;
    cfg.bp_max = 1000000;
    cfg.bp_per_decade = 2;
    cfg.bp_min_s = 0.02;
    cfg.min_lookups = 200000;
    cfg.remove_sample = 200000;
    cfg.rt_cap = 5000;
    cfg.copy_cap = 4;
}

static void
mode_full(void)
{
    mode_quick();
    cfg.mode = "full";
    cfg.kinds[1] = BK_STR;
    cfg.nkinds = 2;
    cfg.readers[1] = 2;
    cfg.nreaders = 2;
    cfg.phase_s = 2.0;
    cfg.ro_phase_s = 1.0;
    cfg.sweep = true;
    cfg.sweep_s = 1.0;
    cfg.bp_per_decade = 4;
    cfg.bp_min_s = 0.05;
    cfg.min_lookups = 1000000;
    cfg.remove_sample = 0;
    cfg.rt_cap = 200000;
    cfg.copy_cap = 32;
}

int
main(int argc, char **argv)
{
    GC_INIT();
    GC_allow_register_threads();
    bench_gc_hook_install();
    if (getenv("HAMT_SEED") == NULL) {
        static const uint8_t seed[16] = { 0x68, 0x61, 0x6d, 0x74, 0x2d, 0x62,
                                          0x65, 0x6e, 0x63, 0x68, 0x2d, 0x73,
                                          0x65, 0x65, 0x64, 0x21 };
        if (hamt_set_seed(seed) != 0) {
            fprintf(stderr, "hamt-bench: hamt_set_seed: %s\n",
                    strerror(errno));
        }
    }
    if (hamt_init() != 0) {
        fprintf(stderr, "hamt-bench: hamt_init: %s\n", strerror(errno));
        return 2;
    }

    mode_quick();
    cfg.outdir = ".";
    bool do_smoke = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            mode_quick();
        } else if (strcmp(a, "--full") == 0) {
            mode_full();
        } else if (strcmp(a, "--smoke") == 0) {
            do_smoke = true;
        } else if (strcmp(a, "--out") == 0 && v) {
            cfg.outdir = v;
            i++;
        } else if (strcmp(a, "--runs") == 0 && v) {
            cfg.runs = (unsigned)atoi(v);
            cfg.runs = cfg.runs < 1 ? 1 : (cfg.runs > 200 ? 200 : cfg.runs);
            i++;
        } else if (strcmp(a, "--readers") == 0 && v) {
            size_t r[8];
            cfg.nreaders = parse_list(v, r, 8);
            for (unsigned k = 0; k < cfg.nreaders; k++) {
                cfg.readers[k] = (unsigned)(r[k] ? r[k] : 1);
            }
            i++;
        } else if (strcmp(a, "--phase") == 0 && v) {
            cfg.phase_s = atof(v);
            i++;
        } else if (strcmp(a, "--n") == 0 && v) {
            cfg.nns = parse_list(v, cfg.ns, 8);
            i++;
        } else if (strcmp(a, "--child") == 0 && v) {
            child_file = v;
            i++;
        } else if (strcmp(a, "--case") == 0 && v) {
            case_no = atol(v);
            i++;
        } else if (strcmp(a, "--sections") == 0 && v) {
            cfg.sections = v;
            i++;
        } else if (strcmp(a, "--only") == 0 && v) {
            cfg.only = v;
            i++;
        } else if (strcmp(a, "--list") == 0) {
            for (unsigned k = 0; adapters[k]; k++) {
                printf("%-14s %s\n", adapters[k]->name, adapters[k]->desc);
            }
            print_skipped(stdout, "");
            return 0;
        } else {
            usage();
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (do_smoke) {
        return smoke();
    }
    if (cfg.nns == 0 || cfg.nreaders == 0) {
        usage();
        return 2;
    }

    if (mkdir(cfg.outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "hamt-bench: cannot create %s: %s\n", cfg.outdir,
                strerror(errno));
        return 2;
    }
    meta_prepare();
    if (child_file != NULL) {
        const char *pre = getenv("HAMT_BENCH_PRELOAD");
        if (pre != NULL && rec_load(pre)) {
            errors = 0; /* the parent counts its own */
            nrecs_preloaded = nrecs;
        }
        if (section_on("memory")) {
            memory_all(case_no);
        }
        if (section_on("breakpoint")) {
            breakpoint_all();
            breakpoint_summary(true);
        }
        if (section_on("concurrent")) {
            concurrent_all();
        }
        if (section_on("single")) {
            single_all();
        }
        if (section_on("edits")) {
            edits_all(case_no);
        }
        rec_save(child_file);
        return errors ? 1 : 0;
    }

    uint64_t t0 = bench_now_ns();
    printf("hamt-bench: %s\n", meta_line);
    printf("competitors:");
    for (unsigned i = 0; adapters[i]; i++) {
        if (selected(adapters[i])) {
            printf(" %s", adapters[i]->name);
        }
    }
    printf("\n");
    print_skipped(stdout, "");

    /*
     * One child process per section (see run_child).  Memory comes first
     * and the single-thread tables last, since they print the memory
     * figures.
     */
    static const char *const sections[] = { "memory", "breakpoint",
                                            "concurrent", "edits", "single",
                                            NULL };
    for (unsigned i = 0; sections[i]; i++) {
        if (!section_on(sections[i])) {
            continue;
        }
        uint64_t ts = bench_now_ns();
        if (strcmp(sections[i], "single") == 0) {
            /* The child prints the tables, memory included: pass it on. */
            char file[4096];
            snprintf(file, sizeof file, "%s/.hamt-bench-memory-in.tsv",
                     cfg.outdir);
            rec_save(file);
            setenv("HAMT_BENCH_PRELOAD", file, 1);
        }
        if (strcmp(sections[i], "memory") == 0 ||
            strcmp(sections[i], "edits") == 0) {
            /* One child per case; called with LONG_MAX, they only count. */
            unsigned ncases = strcmp(sections[i], "memory") == 0
                                  ? memory_all(LONG_MAX)
                                  : edits_all(LONG_MAX);
            for (unsigned c = 0; c < ncases; c++) {
                run_child(argv, argc, sections[i], (long)c);
            }
        } else {
            run_child(argv, argc, sections[i], -1);
        }
        if (getenv("HAMT_BENCH_PRELOAD") != NULL) {
            unlink(getenv("HAMT_BENCH_PRELOAD"));
            unsetenv("HAMT_BENCH_PRELOAD");
        }
        printf("   (%s: %.1f s)\n", sections[i],
               (double)(bench_now_ns() - ts) / 1e9);
    }
    if (section_on("balance")) {
        balance_all();
    }
    if (section_on("writers")) {
        /* Several writers (bench/writers.c): its own tables and files. */
        const struct bench_adapter *sel[32];
        unsigned nsel = 0;
        for (unsigned i = 0; adapters[i] && nsel < 31; i++) {
            if (selected(adapters[i])) {
                sel[nsel++] = adapters[i];
            }
        }
        sel[nsel] = NULL;
        bench_writers_all(sel, strcmp(cfg.mode, "full") == 0, cfg.runs,
                          cfg.outdir);
    }
    breakpoint_summary(false);
    hist_collect();
    edits_report();
    headline();
    write_csv();
    write_plots();
    printf("\nwrote %s/{raw,summary,headline,balance,gc_pauses}.csv and "
           "plots.gp in %.0f s\n",
           cfg.outdir, (double)(bench_now_ns() - t0) / 1e9);
    return errors ? 1 : 0;
}
