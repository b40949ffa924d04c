/*
 * soak.c - a long run of one writer and several readers through a cell,
 * with the collector on.
 *
 * A plain C program.  The writer owns a map of u64 keys 0..NKEYS-1 plus a
 * meta key NKEYS.  Every value is a collector-allocated payload
 * {magic, key, ver, count, sum}.  Each publication applies a batch of
 * random edits (sets with fresh payloads, removals), and every few
 * publications a structural operation instead (hamt_merge with a small map
 * of fresh payloads, hamt_subtract with a small map of keys to remove);
 * then it rebinds the meta key to a payload holding the version about to be
 * published, the number of entries and a checksum of all (key, ver) pairs,
 * and publishes with hamt_cell_store().  The writer checks each new map
 * against the previous one with hamt_diff() (as many differences as keys it
 * changed) and forces GC_gcollect() every GC_EVERY publications.
 *
 * Readers take snapshots with hamt_cell_load() and check, on every one:
 * hamt__validate(); the meta payload's version equals the snapshot's
 * version and never goes backwards; iterating gives meta->count entries,
 * each payload intact (magic, its own key, ver <= version) and the checksum
 * equal to meta->sum.  Each reader also keeps one old snapshot across
 * collections and re-checks it later: it must be unchanged.  A torn read, a
 * lost write, or a reclaimed and reused node or payload breaks one of these.
 *
 * usage: soak [-t SECONDS] [-r READERS] [-s SEED]
 * Prints operations, publications, collections and snapshots checked, then
 * "N passed, N failed" (one case per property); exits 1 if any failed.
 */
#include "internal.h"
#include "../support/mix.h"

#include <inttypes.h>
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

#define NKEYS 4096u
#define META NKEYS
#define MAGIC 0x50a4c0ffee5eedull
#define GC_EVERY 64u
#define MAXREADERS 16

struct payload {
    uint64_t magic;
    uint64_t key;
    uint64_t ver;
    uint64_t count; /* meta only: entries besides the meta key */
    uint64_t sum;   /* meta only: checksum of the (key, ver) pairs */
};

static struct hamt_cell *cell;
static atomic_bool done;
static atomic_ulong snapshots, bad_snapshot, bad_monotonic, bad_old;
static unsigned long bad_diff, bad_writer;

static uint64_t
contrib(uint64_t key, uint64_t ver)
{
    return mix64(key * 0x9e3779b97f4a7c15ull + ver);
}

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    return mix64_next(&rng_state);
}

static struct payload *
payload_new(uint64_t key, uint64_t ver)
{
    struct payload *p = hamt__alloc(sizeof *p);

    if (p == NULL) {
        fprintf(stderr, "soak: out of memory\n");
        exit(2);
    }
    p->magic = MAGIC;
    p->key = key;
    p->ver = ver;
    return p;
}

static const struct payload *
payload_of(const struct hamt *m, uint64_t key)
{
    void *v;

    return hamt_get(m, HAMT_U64(key), &v) ? v : NULL;
}

/*
 * The full check of one snapshot taken at `ver`; returns true if it holds.
 * Every term is recomputed from the map, so nothing but the map is trusted.
 */
static bool
snapshot_ok(const struct hamt *m, uint64_t ver)
{
    const struct payload *meta = payload_of(m, META);
    struct hamt_iter it;
    const void *k;
    void *v;
    uint64_t n = 0, sum = 0;

    if (hamt__validate(m) != 0 || meta == NULL || meta->magic != MAGIC
        || meta->key != META || meta->ver != ver) {
        return false;
    }
    if (hamt_size(m) != meta->count + 1) {
        return false;
    }
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &k, &v)) {
        const struct payload *p = v;
        uint64_t key = HAMT_AS_U64(k);
        if (p == NULL || p->magic != MAGIC || p->key != key || p->ver > ver) {
            return false;
        }
        if (key != META) {
            n++;
            sum += contrib(key, p->ver);
        }
    }
    return n == meta->count && sum == meta->sum;
}

static void *
reader_main(void *arg)
{
    const struct hamt *old = NULL;
    uint64_t old_ver = 0, last = 0, ver, i = 0;

    (void)arg;
    hamt_thread_register();
    while (!atomic_load_explicit(&done, memory_order_relaxed)) {
        const struct hamt *m = hamt_cell_load(cell, &ver);
        if (m == NULL || !snapshot_ok(m, ver)) {
            atomic_fetch_add(&bad_snapshot, 1);
        }
        if (ver < last) {
            atomic_fetch_add(&bad_monotonic, 1);
        }
        last = ver;
        /* Keep one snapshot for a while; collections happen meanwhile. */
        if (++i % 97 == 0) {
            if (old != NULL && !snapshot_ok(old, old_ver)) {
                atomic_fetch_add(&bad_old, 1);
            }
            old = m;
            old_ver = ver;
        }
        atomic_fetch_add_explicit(&snapshots, 1, memory_order_relaxed);
    }
    if (old != NULL && !snapshot_ok(old, old_ver)) {
        atomic_fetch_add(&bad_old, 1);
    }
    return NULL;
}

static int
count_diff(const void *k, void *o, void *n, enum hamt_diff_kind kd, void *c)
{
    (void)k;
    (void)o;
    (void)n;
    (void)kd;
    ++*(uint64_t *)c;
    return 0;
}

/* Writer state: the current map, its entry count and checksum. */
static const struct hamt *cur;
static uint64_t count, sum, ops;
/* The keys touched by this publication, each listed once. */
static uint64_t mark[NKEYS], epoch, touched[NKEYS], ntouched;

/* Account for `key` going from its binding in `cur` to `p` (NULL: gone). */
static void
account(uint64_t key, const struct payload *p)
{
    const struct payload *o = payload_of(cur, key);

    if (o != NULL) {
        count--;
        sum -= contrib(key, o->ver);
    }
    if (p != NULL) {
        count++;
        sum += contrib(key, p->ver);
    }
    if (mark[key] != epoch) {
        mark[key] = epoch;
        touched[ntouched++] = key;
    }
}

static const struct hamt *
checked(const struct hamt *m)
{
    if (m == NULL) {
        fprintf(stderr, "soak: map operation failed\n");
        exit(2);
    }
    return m;
}

/*
 * One publication's worth of edits to `cur`, version `v`.  Returns how many
 * keys differ from `prev` afterwards (a key set and then removed again in
 * one batch may not).
 */
static uint64_t
edit(uint64_t v, const struct hamt *prev)
{
    uint64_t changed = 0;
    unsigned n = 1 + (unsigned)(rnd() % 32);

    epoch++;
    ntouched = 0;
    if (v % 7 == 3) { /* merge fresh payloads in (a's value wins) */
        const struct hamt *side = hamt_new(HAMT_KEY_U64);
        for (unsigned i = 0; i < n; i++) {
            uint64_t k = rnd() % NKEYS;
            if (hamt_contains(side, HAMT_U64(k))) {
                continue;
            }
            struct payload *p = payload_new(k, v);
            side = checked(hamt_set(side, HAMT_U64(k), p));
            account(k, p);
            ops++;
        }
        cur = checked(hamt_merge(side, cur, NULL, NULL));
    } else if (v % 7 == 5) { /* remove a set of keys at once */
        const struct hamt *side = hamt_new(HAMT_KEY_U64);
        for (unsigned i = 0; i < n; i++) {
            uint64_t k = rnd() % NKEYS;
            if (hamt_contains(side, HAMT_U64(k))) {
                continue;
            }
            side = checked(hamt_set(side, HAMT_U64(k), NULL));
            account(k, NULL);
            ops++;
        }
        cur = checked(hamt_subtract(cur, side));
    } else {
        for (unsigned i = 0; i < n; i++) {
            uint64_t k = rnd() % NKEYS;
            if (rnd() % 3 == 0) {
                account(k, NULL);
                cur = checked(hamt_remove(cur, HAMT_U64(k)));
            } else {
                struct payload *p = payload_new(k, v);
                account(k, p);
                cur = checked(hamt_set(cur, HAMT_U64(k), p));
            }
            ops++;
        }
    }
    for (uint64_t i = 0; i < ntouched; i++) {
        changed += payload_of(prev, touched[i]) != payload_of(cur, touched[i]);
    }
    return changed;
}

int
main(int argc, char **argv)
{
    unsigned seconds = 10, nreaders = 3;
    uint64_t seed = (uint64_t)time(NULL), pubs = 0, collections = 0;
    pthread_t th[MAXREADERS];
    int c;

    while ((c = getopt(argc, argv, "t:r:s:")) != -1) {
        switch (c) {
        case 't':
            seconds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            nreaders = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 0);
            break;
        default:
            fprintf(stderr,
                    "usage: soak [-t SECONDS] [-r READERS] [-s SEED]\n");
            return 2;
        }
    }
    if (nreaders < 1 || nreaders > MAXREADERS) {
        nreaders = 3;
    }
    rng_state = seed;
    printf("soak: %u s, %u readers, seed %" PRIu64 "\n", seconds, nreaders,
           seed);
    fflush(stdout);
    if (hamt_init() != 0) {
        perror("hamt_init");
        return 2;
    }

    /* Version 0: every key bound, meta describing it. */
    cur = hamt_new(HAMT_KEY_U64);
    for (uint64_t k = 0; k < NKEYS; k++) {
        struct payload *p = payload_new(k, 0);
        cur = checked(hamt_set(cur, HAMT_U64(k), p));
        count++;
        sum += contrib(k, 0);
    }
    struct payload *meta = payload_new(META, 0);
    meta->count = count;
    meta->sum = sum;
    cur = checked(hamt_set(cur, HAMT_U64(META), meta));
    cell = hamt_cell_new(cur);
    if (cell == NULL) {
        perror("hamt_cell_new");
        return 2;
    }
    for (unsigned i = 0; i < nreaders; i++) {
        if (pthread_create(&th[i], NULL, reader_main, NULL) != 0) {
            perror("pthread_create");
            return 2;
        }
    }

    time_t end = time(NULL) + (time_t)seconds;
    while (time(NULL) < end) {
        uint64_t v = pubs + 1, changes = 0;
        const struct hamt *prev = cur;
        uint64_t changed = edit(v, prev);

        meta = payload_new(META, v);
        meta->count = count;
        meta->sum = sum;
        cur = checked(hamt_set(cur, HAMT_U64(META), meta));
        if (hamt_diff(prev, cur, NULL, count_diff, &changes) != 0
            || changes != changed + 1) {
            bad_diff++;
        }
        uint64_t pv = 0;
        if (hamt_cell_store(cell, cur, &pv) != 0 || pv != v) {
            bad_writer++;
        }
        pubs++;
        if (pubs % GC_EVERY == 0) {
#ifndef HAMT_NO_GC
            GC_gcollect();
#endif
            collections++;
        }
        if (pubs % 1024 == 0 && !snapshot_ok(cur, v)) {
            bad_writer++;
        }
    }
    atomic_store(&done, true);
    for (unsigned i = 0; i < nreaders; i++) {
        pthread_join(th[i], NULL);
    }
#ifndef HAMT_NO_GC
    printf("soak: collector ran %lu collections in all\n",
           (unsigned long)GC_get_gc_no());
#endif
    printf("soak: %" PRIu64 " operations, %" PRIu64 " publications, %" PRIu64
           " forced collections, %lu snapshots checked\n",
           ops, pubs, collections, (unsigned long)atomic_load(&snapshots));

    struct {
        const char *name;
        unsigned long bad;
    } cases[] = {
        {"readers_see_consistent_snapshots", atomic_load(&bad_snapshot)},
        {"versions_never_go_backwards", atomic_load(&bad_monotonic)},
        {"kept_snapshots_stay_unchanged", atomic_load(&bad_old)},
        {"diff_matches_the_writer_edits", bad_diff},
        {"writer_publishes_in_order", bad_writer},
        {"readers_checked_something",
         atomic_load(&snapshots) == 0 || pubs == 0},
    };
    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        printf("%s: %s (%lu)\n", cases[i].bad ? "FAIL" : "PASS", cases[i].name,
               cases[i].bad);
        if (cases[i].bad) {
            failed++;
        } else {
            passed++;
        }
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
