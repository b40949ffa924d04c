/*
 * hamt_combine.c - four threads add their own keys and bump a shared
 * counter through one combiner; whoever finds it free publishes everyone's
 * pending updates in one version.  Each call returns once its update is
 * visible, with the version that first shows it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hamt.h>

#define THREADS 4
#define KEYS 1000

static struct hamt_cell *cell;     /* globals: scanned by the collector */
static struct hamt_combine *comb;

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

/* Runs in the publishing thread, once per request. */
static enum hamt_alter_action
increment(void *old, bool present, void **new_val, void *ctx)
{
    (void)ctx;
    *new_val = (void *)((uintptr_t)(present ? old : NULL) + 1);
    return HAMT_ALTER_SET;
}

static void *
writer(void *arg)
{
    const struct timespec patience = { 10, 0 };
    uint64_t t = (uintptr_t)arg, version, last = 0;

    for (uint64_t i = 0; i < KEYS; i++) {
        uint64_t key = (t + 1) * 1000000 + i;

        if (hamt_combine_set(comb, HAMT_U64(key), (void *)(uintptr_t)i,
                             &patience, &version) != 0
            || hamt_combine_alter(comb, HAMT_U64(0), increment, NULL,
                                  &patience, &version) != 0) {
            die("hamt_combine");
        }
        /* Visible now, in this version or a later one. */
        if (version <= last
            || !hamt_contains(hamt_cell_load(cell, NULL), HAMT_U64(key))) {
            fprintf(stderr, "update not visible\n");
            exit(1);
        }
        last = version;
    }
    return NULL;
}

int
main(void)
{
    pthread_t t[THREADS];
    const struct hamt *m;
    uint64_t version;
    void *count = NULL;

    if (hamt_init() != 0) {
        die("hamt_init");
    }
    if ((cell = hamt_cell_new(hamt_new(HAMT_KEY_U64))) == NULL
        || (comb = hamt_combine_new(cell)) == NULL) {
        die("hamt_combine_new");
    }
    for (uintptr_t i = 0; i < THREADS; i++) {
        if (pthread_create(&t[i], NULL, writer, (void *)i) != 0) {
            die("pthread_create");
        }
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    m = hamt_cell_load(cell, &version);
    (void)hamt_get(m, HAMT_U64(0), &count);
    printf("%zu keys, counter %ju, %ju versions for %d updates\n",
           hamt_size(m), (uintmax_t)(uintptr_t)count, (uintmax_t)version,
           2 * THREADS * KEYS);
    if (hamt_size(m) != THREADS * KEYS + 1
        || (uintptr_t)count != THREADS * KEYS) {
        fprintf(stderr, "lost or doubled updates\n");
        return 1;
    }
    return 0;
}
