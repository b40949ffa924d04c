/*
 * readers_writer.c - one writer publishes versions of a map through
 * a cell; reader threads sleep until a new version appears, then
 * check it.
 *
 * Version v binds the integers 1 ... v to their squares.  Every
 * snapshot a reader takes must be exactly such a map, whatever the
 * writer is doing meanwhile.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <hamt.h>

#define READERS 4
#define VERSIONS 1000

/* A global is scanned by the collector, so the cell stays alive. */
static struct hamt_cell *cell;

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

/* Whether m is version v: keys 1 ... v bound to their squares. */
static int
is_version(const struct hamt *m, uint64_t v)
{
    void *val;

    if (hamt_size(m) != v || hamt_contains(m, HAMT_U64(v + 1))) {
        return 0;
    }
    return v == 0 || (hamt_get(m, HAMT_U64(v), &val) &&
                      (uintptr_t)val == v * v);
}

static void *
reader(void *arg)
{
    uint64_t v = 0;

    (void)arg;
    for (;;) {
        /*
         * The thread's first cell call registers it with the collector,
         * so the snapshot m, held only on this stack, stays alive.
         */
        const struct hamt *m = hamt_cell_load(cell, &v);

        if (m == NULL) {
            die("hamt_cell_load");
        }
        if (!is_version(m, v)) {
            fprintf(stderr, "reader: bad snapshot of version %" PRIu64
                    "\n", v);
            exit(1);
        }
        if (v == VERSIONS) {
            return NULL;
        }
        /* Sleep until the writer publishes a version after v. */
        if (hamt_cell_wait(cell, v, NULL) != 0) {
            die("hamt_cell_wait");
        }
    }
}

int
main(void)
{
    pthread_t tid[READERS];
    const struct hamt *m;
    int i, err;

    /* Set up the collector on the main thread, before other threads. */
    if (hamt_init() != 0) {
        die("hamt_init");
    }
    if ((m = hamt_new(HAMT_KEY_U64)) == NULL) {
        die("hamt_new");
    }
    if ((cell = hamt_cell_new(m)) == NULL) {
        die("hamt_cell_new");
    }
    for (i = 0; i < READERS; i++) {
        if ((err = pthread_create(&tid[i], NULL, reader, NULL)) != 0) {
            errno = err;
            die("pthread_create");
        }
    }

    /* The one writer: derive version v from v - 1, then publish it. */
    for (uint64_t v = 1; v <= VERSIONS; v++) {
        const struct hamt *next =
            hamt_set(m, HAMT_U64(v), (void *)(uintptr_t)(v * v));

        if (next == NULL || hamt_cell_store(cell, next, NULL) != 0) {
            die("publish");
        }
        m = next;
    }

    for (i = 0; i < READERS; i++) {
        pthread_join(tid[i], NULL);
    }
    printf("%d readers saw version %d\n", READERS, VERSIONS);
    return 0;
}
