/*
 * util.c - helpers shared by the bench driver and its adapters: key
 * generation, the competitors' hash, clocks, statistics (median,
 * percentiles, the chi-square upper tail), memory accounting (mallinfo2 for
 * malloc users, the collector's heap for libhamt and the copy-on-write map),
 * the hypervisor's steal (/proc/stat) and collector pause recording through
 * GC_set_on_collection_event.
 *
 * Keys: key i is a bijective mix of i and a fixed seed, so the bench can
 * make key i from i without touching memory (a reader's probe costs no
 * cache miss of its own) and keys i >= N are guaranteed misses.
 */
#include "bench.h"
#include "../test/support/mix.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_KEY_SEED 0x5eed0fb3c4a11e55ULL

uint64_t
bench_key_u64(uint64_t i)
{
    /* splitmix64's finalizer is a bijection of 64-bit words. */
    uint64_t x = i + BENCH_KEY_SEED;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void
bench_key_str(uint64_t i, char *buf)
{
    /* 16 letters from the 64 bits of key i: distinct keys, distinct strings. */
    uint64_t x = bench_key_u64(i);
    for (int j = 0; j < BENCH_STRLEN; j++) {
        buf[j] = (char)('a' + (x & 15));
        x >>= 4;
    }
    buf[BENCH_STRLEN] = '\0';
}

uint64_t
bench_hash(enum bkind kind, bkey k)
{
    if (kind == BK_U64) {
        return mix64(k);
    }
    const unsigned char *p = (const unsigned char *)(uintptr_t)k;
    uint64_t h = 0xcbf29ce484222325ULL;
    while (*p) {
        h = (h ^ *p++) * 0x100000001b3ULL;
    }
    return mix64(h);
}

bool
bench_key_eq(enum bkind kind, bkey a, bkey b)
{
    if (kind == BK_U64) {
        return a == b;
    }
    return strcmp((const char *)(uintptr_t)a, (const char *)(uintptr_t)b) == 0;
}

uint64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void *
bench_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "hamt-bench: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

void *
bench_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (p == NULL) {
        fprintf(stderr, "hamt-bench: out of memory (%zu x %zu bytes)\n", n, sz);
        exit(2);
    }
    return p;
}

/* ---- statistics ---- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double
bench_percentile(double *v, size_t n, double p)
{
    /* Sorts v in place; nearest-rank percentile, p in [0, 100]. */
    if (n == 0) {
        return NAN;
    }
    qsort(v, n, sizeof *v, cmp_double);
    size_t r = (size_t)ceil(p / 100.0 * (double)n);
    if (r < 1) {
        r = 1;
    }
    if (r > n) {
        r = n;
    }
    return v[r - 1];
}

double
bench_median(double *v, size_t n)
{
    /* Sorts a copy, so v keeps its run order for the raw CSV. */
    if (n == 0) {
        return NAN;
    }
    double *c = bench_xmalloc(n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double);
    double m = (n & 1) ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

/*
 * Regularized upper incomplete gamma Q(a, x): series below a + 1, Lentz's
 * continued fraction above (Numerical Recipes, 6.2).
 */
static double
gamma_q(double a, double x)
{
    if (x <= 0) {
        return 1.0;
    }
    double gln = lgamma(a);
    if (x < a + 1.0) {
        double ap = a, sum = 1.0 / a, del = sum;
        for (int n = 0; n < 1000; n++) {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * 1e-15) {
                break;
            }
        }
        return 1.0 - sum * exp(-x + a * log(x) - gln);
    }
    double b = x + 1.0 - a, c = 1.0 / 1e-300, d = 1.0 / b, h = d;
    for (int i = 1; i < 1000; i++) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < 1e-300) {
            d = 1e-300;
        }
        c = b + an / c;
        if (fabs(c) < 1e-300) {
            c = 1e-300;
        }
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15) {
            break;
        }
    }
    return exp(-x + a * log(x) - gln) * h;
}

double
bench_chi2_q(double x, double dof)
{
    return gamma_q(dof / 2.0, x / 2.0);
}

/* ---- the hypervisor's share ---- */

/*
 * The machine's CPU time since boot in clock ticks, all CPUs together, and
 * the part of it the hypervisor gave to other guests (steal: the eighth
 * field of /proc/stat's first line).  False where /proc/stat is missing or
 * has no steal field.  A thread on a vCPU the hypervisor has descheduled
 * is not waiting on any run queue of its kernel, so a reader's run-queue
 * wait (concurrent.c) cannot show that time: this count does, for the
 * machine as a whole.
 */
bool
bench_cpu_ticks(struct bench_ticks *t)
{
    unsigned long long v[8];
    char buf[256];
    FILE *f = fopen("/proc/stat", "re");

    if (f == NULL) {
        return false;
    }
    bool ok = fgets(buf, sizeof buf, f) != NULL
              && sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                        &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7])
                     == 8;
    fclose(f);
    if (!ok) {
        return false;
    }
    t->all = 0;
    for (int i = 0; i < 8; i++) {
        t->all += v[i];
    }
    t->steal = v[7];
    return true;
}

double
bench_steal_pct(const struct bench_ticks *from, const struct bench_ticks *to)
{
    uint64_t all = to->all - from->all;

    return all > 0 ? 100.0 * (double)(to->steal - from->steal) / (double)all
                   : NAN;
}

/* ---- memory ---- */

size_t
bench_malloc_bytes(void)
{
    /* uordblks: bytes in live chunks of every arena (with chunk headers);
     * hblkhd: bytes in mmap'ed chunks. */
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

size_t
bench_gc_used_bytes(void)
{
    GC_gcollect();
    return GC_get_heap_size() - GC_get_free_bytes();
}

/*
 * Zeroes 64 KiB of the stack below the caller's frame: the dead frames of
 * the calls it made before, whose stale pointers a collection started from
 * a later, deeper call chain would scan as roots.  Never inlined, so that
 * the buffer lies below the caller's frame.
 */
__attribute__((noinline)) void
bench_clear_stack(void)
{
    volatile char buf[64 * 1024];

    memset((char *)buf, 0, sizeof buf);
    /* The compiler must assume the zeroes are read. */
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* ---- collector pauses ---- */

/*
 * The pause log is malloc memory (bench_gc_hook_install), not a static
 * array: the collector scans a program's data and bss as roots at every
 * collection and counts them in its threshold, so a static log of this
 * size made every collection of the timed maps scan it (and the first one
 * fault its pages in), and made collections rarer than an application of
 * the same heap would see.  malloc memory is not scanned, and the log
 * holds no pointers.
 */
#define GC_MAX_PAUSES (1u << 20)
static double *gc_pauses;
static size_t gc_npauses;
static unsigned long gc_collections;
static uint64_t gc_stop_t0;
static uint64_t gc_stopped_t0, gc_stopped_ns;

_Atomic int bench_gc_stopped;

static void
gc_event(GC_EventType e)
{
    /* Called by the collector with its lock held: record and return. */
    switch (e) {
    case GC_EVENT_START:
        gc_collections++;
        break;
    case GC_EVENT_PRE_STOP_WORLD:
        gc_stop_t0 = bench_now_ns();
        break;
    case GC_EVENT_POST_STOP_WORLD:
        /* Every registered thread is stopped from here ... */
        gc_stopped_t0 = bench_now_ns();
        atomic_store_explicit(&bench_gc_stopped, 1, memory_order_relaxed);
        break;
    case GC_EVENT_PRE_START_WORLD:
        /* ... to here: the window the stopped lookup rate is taken over. */
        atomic_store_explicit(&bench_gc_stopped, 0, memory_order_relaxed);
        if (gc_stopped_t0 != 0) {
            gc_stopped_ns += bench_now_ns() - gc_stopped_t0;
        }
        gc_stopped_t0 = 0;
        break;
    case GC_EVENT_POST_START_WORLD:
        if (gc_stop_t0 != 0 && gc_pauses != NULL
            && gc_npauses < GC_MAX_PAUSES) {
            gc_pauses[gc_npauses++] = (bench_now_ns() - gc_stop_t0) / 1e6;
        }
        gc_stop_t0 = 0;
        break;
    default:
        break;
    }
}

void
bench_gc_hook_install(void)
{
    if (gc_pauses == NULL) {
        gc_pauses = bench_xmalloc(GC_MAX_PAUSES * sizeof *gc_pauses);
    }
    GC_set_on_collection_event(gc_event);
}

void
bench_gc_reset(void)
{
    GC_alloc_lock();
    gc_npauses = 0;
    gc_collections = 0;
    gc_stopped_ns = 0;
    GC_alloc_unlock();
}

void
bench_gc_read(struct bench_gc_stats *st, double **pauses)
{
    GC_alloc_lock();
    size_t n = gc_npauses;
    double *p = bench_xmalloc((n ? n : 1) * sizeof *p);
    if (n != 0) { /* gc_pauses may be NULL before the first pause */
        memcpy(p, gc_pauses, n * sizeof *p);
    }
    st->collections = gc_collections;
    st->stopped_ms = (double)gc_stopped_ns / 1e6;
    GC_alloc_unlock();
    st->npauses = n;
    st->total_ms = 0;
    for (size_t i = 0; i < n; i++) {
        st->total_ms += p[i];
    }
    st->heap_bytes = GC_get_heap_size();
    if (n == 0) {
        st->p50_ms = st->p99_ms = st->max_ms = 0;
    } else {
        double *c = bench_xmalloc(n * sizeof *c);
        memcpy(c, p, n * sizeof *c);
        st->p50_ms = bench_percentile(c, n, 50);
        st->p99_ms = bench_percentile(c, n, 99);
        st->max_ms = c[n - 1];
        free(c);
    }
    if (pauses) {
        *pauses = p;
    } else {
        free(p);
    }
}
