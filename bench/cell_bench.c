/*
 * cell_bench.c - throughput of the cell with one writer and 0, 1 or 2
 * readers on a map of u64 keys, and the collector's pauses meanwhile.
 *
 * A benchmark of the cell alone, beside hamt-bench (which compares whole
 * maps): make check builds it, so it keeps compiling, and never runs it.
 * It uses only the public API.
 *
 *   readers  load a snapshot (hamt_cell_load) per batch of BATCH lookups
 *            of random present keys; count lookups.
 *   writer   rebinds a random key and publishes (hamt_cell_store) each
 *            update; counts publications.
 *   pauses   GC_set_on_collection_event: from GC_EVENT_PRE_STOP_WORLD to
 *            GC_EVENT_POST_START_WORLD is one stop-the-world pause.
 *
 * usage: cell_bench [-k keys] [-s seconds]    (defaults: 1000000 keys, 3 s)
 *
 * The machine may be shared and have two cores; with two readers and a
 * writer there are three busy threads.  Compare figures from one run.
 */
#include "config.h"

#include <hamt.h>

#include <stdbool.h>
#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif

#define BATCH 64
#define MAX_PAUSES 100000

static uint64_t nkeys = 1000000;
static double seconds = 3.0;
static struct hamt_cell *cell;
static atomic_bool stop;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* ---- collector pauses (written only inside the collector's callback) ---- */

static double pause_start;
static double pauses[MAX_PAUSES];
static size_t npauses;

#ifndef HAMT_NO_GC
static void
on_gc_event(GC_EventType e)
{
    /* Runs with the collector's lock held: no allocation here. */
    if (e == GC_EVENT_PRE_STOP_WORLD) {
        pause_start = now_s();
    } else if (e == GC_EVENT_POST_START_WORLD && pause_start != 0) {
        if (npauses < MAX_PAUSES) {
            pauses[npauses++] = now_s() - pause_start;
        }
        pause_start = 0;
    }
}
#endif

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* ---- threads ---- */

struct reader {
    pthread_t t;
    uint64_t seed;
    unsigned long lookups;
    unsigned long misses;
};

static void *
reader_main(void *arg)
{
    struct reader *r = arg;
    const struct hamt *m;
    void *val;

    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        m = hamt_cell_load(cell, NULL);
        for (int i = 0; i < BATCH; i++) {
            uint64_t k = xorshift(&r->seed) % nkeys;

            r->misses += !hamt_get(m, HAMT_U64(k), &val);
        }
        r->lookups += BATCH;
    }
    return NULL;
}

static unsigned long publications;

static void *
writer_main(void *arg)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    const struct hamt *m = hamt_cell_load(cell, NULL);

    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t k = xorshift(&seed) % nkeys;

        m = hamt_set(m, HAMT_U64(k), (void *)(uintptr_t)(xorshift(&seed)));
        if (m == NULL || hamt_cell_store(cell, m, NULL) != 0) {
            perror("writer");
            exit(2);
        }
        publications++;
    }
    return NULL;
}

static void
run(int nreaders, bool with_writer)
{
    struct reader r[2];
    pthread_t w;
    unsigned long lookups = 0, misses = 0;
    double t0, t1;
    const struct timespec tick = {0, 10 * 1000 * 1000};
    size_t p0 = npauses;
    double total = 0, max = 0, med = 0;

    atomic_store(&stop, false);
    publications = 0;
    t0 = now_s();
    for (int i = 0; i < nreaders; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].seed = 0x1234567ull + (uint64_t)i * 0x9e3779b9ull;
        pthread_create(&r[i].t, NULL, reader_main, &r[i]);
    }
    if (with_writer) {
        pthread_create(&w, NULL, writer_main, NULL);
    }
    while (now_s() - t0 < seconds) {
        nanosleep(&tick, NULL);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < nreaders; i++) {
        pthread_join(r[i].t, NULL);
        lookups += r[i].lookups;
        misses += r[i].misses;
    }
    if (with_writer) {
        pthread_join(w, NULL);
    }
    t1 = now_s() - t0;
    for (size_t i = p0; i < npauses; i++) {
        total += pauses[i];
        max = pauses[i] > max ? pauses[i] : max;
    }
    if (npauses > p0) {
        qsort(pauses + p0, npauses - p0, sizeof pauses[0], cmp_double);
        med = pauses[p0 + (npauses - p0) / 2];
    }
    printf("%d reader%s %s writer: lookups/s %.2fM (%.2fM per reader)  "
           "publications/s %.0fk  GC pauses %zu: median %.1f ms, max %.1f "
           "ms, total %.0f ms (%.1f%% of wall)%s\n",
           nreaders, nreaders == 1 ? " +" : "s +", with_writer ? "1" : "0",
           lookups / t1 / 1e6, nreaders ? lookups / t1 / 1e6 / nreaders : 0,
           publications / t1 / 1e3, npauses - p0, med * 1e3, max * 1e3,
           total * 1e3, total / t1 * 100, misses ? "  MISSES!" : "");
}

int
main(int argc, char **argv)
{
    const struct hamt *m;
    int opt;
    double t0;

    while ((opt = getopt(argc, argv, "k:s:")) != -1) {
        switch (opt) {
        case 'k':
            nkeys = strtoull(optarg, NULL, 10);
            break;
        case 's':
            seconds = strtod(optarg, NULL);
            break;
        default:
            fprintf(stderr, "usage: %s [-k keys] [-s seconds]\n", argv[0]);
            return 2;
        }
    }
    if (hamt_init() != 0 || nkeys == 0) {
        perror("hamt_init");
        return 2;
    }
#ifndef HAMT_NO_GC
    GC_set_on_collection_event(on_gc_event);
#endif
    t0 = now_s();
    m = hamt_new(HAMT_KEY_U64);
    for (uint64_t k = 0; k < nkeys && m != NULL; k++) {
        m = hamt_set(m, HAMT_U64(k), (void *)(uintptr_t)k);
    }
    cell = m ? hamt_cell_new(m) : NULL;
    if (cell == NULL) {
        perror("build");
        return 2;
    }
    m = NULL;
    printf("cell_bench: %llu u64 keys built in %.2f s; %.1f s per run; "
           "snapshot per %d lookups\n",
           (unsigned long long)nkeys, now_s() - t0, seconds, BATCH);
#ifndef HAMT_NO_GC
    GC_gcollect();
    printf("heap %.0f MB after build\n", GC_get_heap_size() / 1048576.0);
#endif
    run(1, false);
    run(2, false);
    run(0, true);
    run(1, true);
    run(2, true);
#ifndef HAMT_NO_GC
#endif
    return 0;
}
