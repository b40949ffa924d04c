/*
 * collide.c - the colliding-keys rows (issue 17): a custom key type whose
 * hash is one constant for every key, with and without an order, against
 * the same key type with distinct hashes, measured in one process run.
 *
 *   bench/hamt-collide [N] [ROUNDS] [UNORDERED_N]
 *
 * N keys (default 100,000) are built three ways (hamt_set one by one,
 * hamt_batch_set, hamt_batch_set_many in groups of 64), looked up in a
 * shuffled order, and N / 10 of them (at least 1,000) removed one by one
 * from the full map (persistent hamt_remove).  Each figure is the median
 * of ROUNDS (default 5) rounds, in CPU time (see now_s).  Rows:
 *   distinct   hash = a 64-bit mix of the id (no collisions)
 *   ordered    hash = one constant, compare given (collision trees)
 *   unordered  hash = one constant, no compare (collision arrays, linear
 *              per operation); built from UNORDERED_N keys (default N / 10)
 *              since every operation scans them all
 * The last lines give the ratios that issue 17 sets as targets: ordered
 * build / distinct build (<= 10), ordered lookup (< 2 us), and batch_set_many
 * / batch_set for each key kind (<= 1).
 *
 * Built with -DCOLLIDE_NO_ORDER it runs against a library that has no
 * compare field (the "before" figures): the ordered row is left out.
 */
#define GC_THREADS 1
#include <gc/gc.h>

#include <hamt.h>

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

static void
die(const char *what)
{
    perror(what);
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
                                               (void *const *)(kp + i),
                                               NULL) < 0) {
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
round_once(const struct hamt *e, struct ckey *keys, const void **kp,
           size_t n, const size_t *order, double *t, int r)
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
            fprintf(stderr, "hamt-collide: a build lost keys\n");
            exit(1);
        }
    }

    size_t found = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        found += hamt_get(m, &keys[order[i]], NULL);
    }
    t[W_LOOKUP] = (now_s() - t0) * 1e9 / (double)n;
    if (found != n) {
        fprintf(stderr, "hamt-collide: lookups missed\n");
        exit(1);
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
        fprintf(stderr, "hamt-collide: removes missed\n");
        exit(1);
    }
}

/* Medians over `rounds` rounds of one key kind into med[W_*]. */
static void
run_kind(const char *name, const struct hamt *e, size_t n, int rounds,
         double *med)
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
    for (int r = 0; r < rounds; r++) {
        round_once(e, keys, kp, n, order, all + r * W_NWAYS, r);
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
    GC_INIT();
    if (hamt_init() != 0) {
        die("hamt_init");
    }
    struct hamt_key_type kd = {.size = sizeof kd, .hash = hash_mix,
                              .equal = key_eq};
    struct hamt_key_type ku = {.size = sizeof ku, .hash = hash_const,
                              .equal = key_eq};
    printf("colliding keys (medians of %d rounds; figures from one run)\n",
           rounds);
    printf("%-10s %8s", "keys", "n");
    for (int w = 0; w < W_NWAYS; w++) {
        printf(" %12.12s", way_name[w]);
    }
    printf("\n");
    run_kind("distinct", hamt_new_custom(&kd), n, rounds, md);
#ifndef COLLIDE_NO_ORDER
    double mo[W_NWAYS];
    struct hamt_key_type ko = {.size = sizeof ko, .hash = hash_const,
                              .equal = key_eq, .compare = key_cmp};
    run_kind("ordered", hamt_new_custom(&ko), n, rounds, mo);
#endif
    run_kind("unordered", hamt_new_custom(&ku), nu, rounds, mu);
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
