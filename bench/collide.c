/*
 * collide.c - the "collide" section of hamt-bench (issue 17): a custom key
 * type whose hash is one constant for every key, with and without an
 * order, against the same key type with distinct hashes.
 *
 * N keys (100,000) are built three ways (hamt_set one by one,
 * hamt_batch_set, hamt_batch_set_many in groups of 64), looked up in a
 * shuffled order, and N / 10 of them removed one by one from the full map
 * (persistent hamt_remove); each figure is stored per round (bench_rec,
 * workload "collide") and reported as the median of the rounds, in CPU
 * time (see now_s).  Three cases, each in a process of its own:
 *   distinct   hash = a 64-bit mix of the id (no collisions)
 *   ordered    hash = one constant, compare given (collision trees)
 *   unordered  hash = one constant, no compare (collision nodes, linear
 *              per operation): 10,000 keys (20,000 in the full mode),
 *              since every operation scans them all
 * collide_report prints the ratios issue 17 sets as targets: ordered build
 * / distinct build (<= 10), ordered lookup (< 2 us), and batch_set_many /
 * batch_set for each key kind (<= 1), and writes collide.csv.
 *
 * The same file builds a program of its own with -DCOLLIDE_MAIN:
 *
 *   bench/hamt-collide [N] [ROUNDS] [UNORDERED_N]
 *
 * which make check runs at a small size for its answers
 * (bench/collide-smoke.sh), and which, with -DCOLLIDE_NO_ORDER as well,
 * builds against a library without compare, for before/after figures (the
 * ordered row is then left out).
 */
#ifdef COLLIDE_MAIN
#define GC_THREADS 1
#include <gc/gc.h>
#else
#include "bench.h"
#endif

#include <hamt.h>

#include <math.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ckey {
    uint64_t id;
};

static uint64_t
mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t
hash_const(const void *k, void *ctx)
{
    (void)k;
    (void)ctx;
    return UINT64_C(0x5eed);
}

static uint64_t
hash_mix(const void *k, void *ctx)
{
    (void)ctx;
    return mix(((const struct ckey *)k)->id);
}

static bool
key_eq(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return ((const struct ckey *)a)->id == ((const struct ckey *)b)->id;
}

#ifndef COLLIDE_NO_ORDER
static int
key_cmp(const void *a, const void *b, void *ctx)
{
    uint64_t x = ((const struct ckey *)a)->id, y = ((const struct ckey *)b)->id;

    (void)ctx;
    return (x > y) - (x < y);
}
#endif

/*
 * CPU time of the process (the collector's marker threads included), not
 * wall time: on the shared development machine a process waits for a core
 * a varying share of the time, which wall time would count.
 */
static double
now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum way { W_SET, W_BATCH, W_MANY, W_LOOKUP, W_DEL, W_NWAYS };
static const char *const way_name[W_NWAYS] = {
    "build hamt_set (ms)", "build hamt_batch_set (ms)",
    "build hamt_batch_set_many (ms)", "lookup (ns/op)", "hamt_remove (ns/op)"};

/* A wrong answer or a failed call: the run cannot go on. */
static void
die(const char *what)
{
#ifdef COLLIDE_MAIN
    perror(what);
#else
    bench_fail("collide: %s failed", what);
#endif
    exit(1);
}

/* A map of the n keys built one of three ways; exits on failure. */
static const struct hamt *
build(const struct hamt *e, struct ckey *keys, const void **kp, size_t n,
      enum way w)
{
    const struct hamt *m = e;
    struct hamt_batch *b;

    if (w == W_SET) {
        for (size_t i = 0; i < n; i++) {
            if ((m = hamt_set(m, &keys[i], &keys[i])) == NULL) {
                die("hamt_set");
            }
        }
        return m;
    }
    if ((b = hamt_batch_begin(e)) == NULL) {
        die("hamt_batch_begin");
    }
    for (size_t i = 0; i < n; i += w == W_BATCH ? 1 : 64) {
        size_t g = n - i < 64 ? n - i : 64;
        if (w == W_BATCH ? hamt_batch_set(b, &keys[i], &keys[i]) < 0
                         : hamt_batch_set_many(b, g, kp + i,
                                               (void *const *)(kp + i), NULL)
                               < 0) {
            die("hamt_batch_set");
        }
    }
    return hamt_batch_finish(b);
}

/*
 * One round over n keys of empty map e: fills t[W_*] with this round.
 * Each build starts after a full collection with no other map alive, so
 * that no way pays for marking another way's map.
 */
static void
round_once(const struct hamt *e, struct ckey *keys, const void **kp, size_t n,
           const size_t *order, double *t, int r)
{
    const struct hamt *m = NULL;
    /* The build order alternates between rounds, so that no way is always
     * the first to grow the heap; the last build, hamt_set, stays for the
     * lookups. */
    static const enum way orders[2][3] = {{W_MANY, W_BATCH, W_SET},
                                          {W_BATCH, W_MANY, W_SET}};

    for (int j = 0; j < 3; j++) {
        enum way w = orders[r % 2][j];
        m = NULL;
        GC_gcollect();
        double t0 = now_s();
        m = build(e, keys, kp, n, w);
        t[w] = (now_s() - t0) * 1e3;
        if (m == NULL || hamt_size(m) != n) {
            die("a build (keys lost)");
        }
    }

    size_t found = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        found += hamt_get(m, &keys[order[i]], NULL);
    }
    t[W_LOOKUP] = (now_s() - t0) * 1e9 / (double)n;
    if (found != n) {
        die("a lookup (keys missed)");
    }

    /* Enough removes that the collections they trigger average out. */
    size_t nd = n / 10 > 1000 ? n / 10 : n < 1000 ? n : 1000;
    const struct hamt *d = m;
    t0 = now_s();
    for (size_t i = 0; i < nd; i++) {
        if ((d = hamt_remove(d, &keys[order[i]])) == NULL) {
            die("hamt_remove");
        }
    }
    t[W_DEL] = (now_s() - t0) * 1e9 / (double)nd;
    if (hamt_size(d) != n - nd) {
        die("a remove (keys missed)");
    }
}

/*
 * Medians over `rounds` (at most 64) rounds of one key kind into med[W_*],
 * printed as one row; every round's figures into all[r * W_NWAYS + w]
 * when all is not NULL.
 */
static void
run_kind(const char *name, const struct hamt *e, size_t n, int rounds,
         double *med, double *all_out)
{
    struct ckey *keys = malloc(n * sizeof *keys);
    const void **kp = malloc(n * sizeof *kp);
    size_t *order = malloc(n * sizeof *order);
    double *all = malloc((size_t)rounds * W_NWAYS * sizeof *all);
    uint64_t s = 42;

    if (keys == NULL || kp == NULL || order == NULL || all == NULL) {
        die("malloc");
    }
    for (size_t i = 0; i < n; i++) {
        keys[i].id = mix(i + 1); /* ids in no particular order */
        kp[i] = &keys[i];
        order[i] = i;
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(mix(s++) % i), x = order[i - 1];
        order[i - 1] = order[j];
        order[j] = x;
    }
    if (e == NULL) {
        die("hamt_new_custom");
    }
    for (int r = 0; r < rounds; r++) {
        round_once(e, keys, kp, n, order, all + r * W_NWAYS, r);
    }
    if (all_out != NULL) {
        memcpy(all_out, all, (size_t)rounds * W_NWAYS * sizeof *all);
    }
    printf("%-10s %8zu", name, n);
    for (int w = 0; w < W_NWAYS; w++) {
        double v[64];
        for (int r = 0; r < rounds; r++) {
            v[r] = all[r * W_NWAYS + w];
        }
        med[w] = median(v, rounds);
        printf(" %12.1f", med[w]);
    }
    printf("\n");
    fflush(stdout);
    free(keys);
    free(kp);
    free(order);
    free(all);
}

#ifdef COLLIDE_MAIN
int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    size_t nu = argc > 3 ? strtoul(argv[3], NULL, 10) : n / 10;
    double md[W_NWAYS], mu[W_NWAYS];

    if (n == 0 || nu == 0 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "usage: hamt-collide [N] [ROUNDS 1-64] "
                        "[UNORDERED_N]\n");
        return 2;
    }
    /* hamt_init() initialises the collector with the library's marker
     * count, the one applications get; a GC_INIT() first would not. */
    if (hamt_init() != 0) {
        die("hamt_init");
    }
    struct hamt_key_type kd = {
        .size = sizeof kd, .hash = hash_mix, .equal = key_eq};
    struct hamt_key_type ku = {
        .size = sizeof ku, .hash = hash_const, .equal = key_eq};
    printf("colliding keys (medians of %d rounds; figures from one run)\n",
           rounds);
    printf("%-10s %8s", "keys", "n");
    for (int w = 0; w < W_NWAYS; w++) {
        printf(" %12.12s", way_name[w]);
    }
    printf("\n");
    run_kind("distinct", hamt_new_custom(&kd), n, rounds, md, NULL);
#ifndef COLLIDE_NO_ORDER
    double mo[W_NWAYS];
    struct hamt_key_type ko = {.size = sizeof ko,
                               .hash = hash_const,
                               .equal = key_eq,
                               .compare = key_cmp};
    run_kind("ordered", hamt_new_custom(&ko), n, rounds, mo, NULL);
#endif
    run_kind("unordered", hamt_new_custom(&ku), nu, rounds, mu, NULL);
    printf("columns: %s; %s; %s; %s; %s\n", way_name[0], way_name[1],
           way_name[2], way_name[3], way_name[4]);
#ifndef COLLIDE_NO_ORDER
    printf("ordered / distinct build: hamt_set %.2fx, hamt_batch_set %.2fx, "
           "hamt_batch_set_many %.2fx (target <= 10x)\n",
           mo[W_SET] / md[W_SET], mo[W_BATCH] / md[W_BATCH],
           mo[W_MANY] / md[W_MANY]);
    printf("ordered lookup: %.0f ns (target < 2000 ns)\n", mo[W_LOOKUP]);
    printf("batch_set_many / batch_set: distinct %.2fx, ordered %.2fx, "
           "unordered %.2fx (target <= 1)\n",
           md[W_MANY] / md[W_BATCH], mo[W_MANY] / mo[W_BATCH],
           mu[W_MANY] / mu[W_BATCH]);
#else
    printf("batch_set_many / batch_set: distinct %.2fx, unordered %.2fx\n",
           md[W_MANY] / md[W_BATCH], mu[W_MANY] / mu[W_BATCH]);
#endif
    return 0;
}
#else /* the section of hamt-bench */

static const char *const kind_name[3] = {"distinct", "ordered", "unordered"};
static const char *const metric[W_NWAYS] = {"build_set_ms", "build_batch_ms",
                                            "build_many_ms", "lookup_ns",
                                            "remove_ns"};

/* Keys of case c: the unordered case scans them all in every operation. */
size_t
collide_keys(void)
{
    return 100000;
}

static size_t
collide_n(unsigned c)
{
    if (c == 2) {
        return strcmp(bench_cfg.mode, "full") == 0 ? 20000 : 10000;
    }
    return collide_keys();
}

unsigned
collide_cases(void)
{
    return 3;
}

void
collide_run(long c)
{
    struct hamt_key_type kt = {.size = sizeof kt,
                               .hash = c == 0 ? hash_mix : hash_const,
                               .equal = key_eq,
                               .compare = c == 1 ? key_cmp : NULL};
    int rounds = bench_cfg.runs > 64 ? 64 : (int)bench_cfg.runs;
    size_t n = collide_n((unsigned)c);
    double med[W_NWAYS];
    double *all = malloc((size_t)rounds * W_NWAYS * sizeof *all);

    if (all == NULL) {
        die("malloc");
    }
    printf("\n== colliding keys (%s), median of %d, CPU time: %s | %s | %s "
           "| %s | %s\n",
           kind_name[c], rounds, way_name[0], way_name[1], way_name[2],
           way_name[3], way_name[4]);
    run_kind(kind_name[c], hamt_new_custom(&kt), n, rounds, med, all);
    for (int r = 0; r < rounds; r++) {
        for (int w = 0; w < W_NWAYS; w++) {
            bench_rec("collide", kind_name[c], n, metric[w], (unsigned)r,
                      all[r * W_NWAYS + w]);
        }
    }
    free(all);
}

static double
collide_median(unsigned c, int w)
{
    return rec_median("collide", kind_name[c], BK_U64, collide_n(c), 0, 0, 0,
                      metric[w]);
}

void
collide_report(void)
{
    double m[3][W_NWAYS];

    for (unsigned c = 0; c < 3; c++) {
        for (int w = 0; w < W_NWAYS; w++) {
            m[c][w] = collide_median(c, w);
        }
    }
    if (isnan(m[1][W_SET])) {
        return;
    }
    printf("\n== colliding keys (issue 17), medians, CPU time\n");
    printf("%-10s %8s %12s %12s %12s %12s %12s\n", "keys", "n", "set ms",
           "batch ms", "many ms", "lookup ns", "remove ns");
    FILE *f = out_csv("collide.csv");
    fprintf(f, "keys,n,build_set_ms,build_batch_ms,build_many_ms,"
               "lookup_ns,remove_ns\n");
    for (unsigned c = 0; c < 3; c++) {
        printf("%-10s %8zu", kind_name[c], collide_n(c));
        fprintf(f, "%s,%zu", kind_name[c], collide_n(c));
        for (int w = 0; w < W_NWAYS; w++) {
            printf(" %12.1f", m[c][w]);
            fprintf(f, ",%.1f", m[c][w]);
        }
        printf("\n");
        fprintf(f, "\n");
    }
    fclose(f);
    double rs = m[1][W_SET] / m[0][W_SET], rb = m[1][W_BATCH] / m[0][W_BATCH];
    double rm = m[1][W_MANY] / m[0][W_MANY];
    printf("ordered / distinct build: hamt_set %.2fx, hamt_batch_set %.2fx, "
           "hamt_batch_set_many %.2fx (target <= 10x: %s)\n",
           rs, rb, rm, rs <= 10 && rb <= 10 && rm <= 10 ? "met" : "MISSED");
    printf("ordered lookup: %.0f ns (target < 2000 ns: %s)\n", m[1][W_LOOKUP],
           m[1][W_LOOKUP] < 2000 ? "met" : "MISSED");
    printf("batch_set_many / batch_set: distinct %.2fx, ordered %.2fx, "
           "unordered %.2fx (target <= 1 for the colliding rows)\n",
           m[0][W_MANY] / m[0][W_BATCH], m[1][W_MANY] / m[1][W_BATCH],
           m[2][W_MANY] / m[2][W_BATCH]);
}
#endif
