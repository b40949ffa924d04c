/*
 * hamt_cell.c - two writers increment a counter through a cell with
 * hamt_cell_update(); a reader follows the versions with
 * hamt_cell_wait() until it has seen the final count.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hamt.h>

#define WRITERS 2
#define UPDATES 1000

static struct hamt_cell *cell; /* a global: scanned by the collector */

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static uint64_t
count_of(const struct hamt *m)
{
    void *val = NULL;

    (void)hamt_get(m, HAMT_U64(0), &val);
    return (uintptr_t)val;
}

/* The update: may run more than once per call, so it has no effects. */
static const struct hamt *
increment(const struct hamt *cur, void *ctx)
{
    (void)ctx;
    return hamt_set(cur, HAMT_U64(0), (void *)(uintptr_t)(count_of(cur) + 1));
}

static void *
writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < UPDATES; i++) {
        if (hamt_cell_update(cell, increment, NULL) == NULL) {
            die("hamt_cell_update");
        }
    }
    return NULL;
}

static void *
reader(void *arg)
{
    const struct timespec patience = { 10, 0 };
    uint64_t version;
    const struct hamt *m;

    (void)arg;
    for (;;) {
        m = hamt_cell_load(cell, &version);
        if (count_of(m) == WRITERS * UPDATES) {
            return NULL;
        }
        /* Sleep until a version after this snapshot's is published. */
        if (hamt_cell_wait(cell, version, &patience) != 0) {
            die("hamt_cell_wait");
        }
    }
}

int
main(void)
{
    pthread_t w[WRITERS], r;
    const struct hamt *m;

    if (hamt_init() != 0) {
        die("hamt_init");
    }
    m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(0), (void *)0);
    if (m == NULL || (cell = hamt_cell_new(m)) == NULL) {
        die("hamt_cell_new");
    }
    if (pthread_create(&r, NULL, reader, NULL) != 0) {
        die("pthread_create");
    }
    for (int i = 0; i < WRITERS; i++) {
        if (pthread_create(&w[i], NULL, writer, NULL) != 0) {
            die("pthread_create");
        }
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i], NULL);
    }
    pthread_join(r, NULL);
    printf("count %ju at version %ju\n",
           (uintmax_t)count_of(hamt_cell_load(cell, NULL)),
           (uintmax_t)hamt_cell_version(cell));
    return 0;
}
