/*
 * hamt_cell_acquire.c - reader threads that the collector never knows:
 * each snapshot is protected by a hazard slot until it is released, so
 * the readers are not stopped while the collector runs.  One reader holds
 * two snapshots at once to compare two versions.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <hamt.h>

#define KEYS 1000
#define VERSIONS 2000

static struct hamt_cell *cell; /* a global: scanned by the collector */

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

/* A plain POSIX thread: hamt_cell_acquire never registers it. */
static void *
reader(void *arg)
{
    uint64_t version = 0;

    (void)arg;
    while (version < VERSIONS) {
        struct hamt_snapshot *old_snap, *new_snap;
        uint64_t new_version;
        const struct hamt *old, *new;
        void *val = NULL;

        old = hamt_cell_acquire(cell, &version, &old_snap);
        if (old == NULL) {
            die("hamt_cell_acquire");
        }
        /* In version v, key v % KEYS holds v (version 0: every key 0). */
        if (!hamt_get(old, HAMT_U64(version % KEYS), &val) ||
            (uintptr_t)val != version) {
            fprintf(stderr, "wrong value in version %ju\n",
                    (uintmax_t)version);
            exit(1);
        }
        /* A second snapshot while the first is still held. */
        new = hamt_cell_acquire(cell, &new_version, &new_snap);
        if (new == NULL) {
            die("hamt_cell_acquire");
        }
        if (new_version < version || hamt_size(new) != hamt_size(old)) {
            exit(1);
        }
        if (hamt_snapshot_release(new_snap) != 0 ||
            hamt_snapshot_release(old_snap) != 0) {
            die("hamt_snapshot_release");
        }
    }
    return NULL;
}

int
main(void)
{
    const struct hamt *m;
    pthread_t r[2];

    if (hamt_init() != 0) {
        die("hamt_init");
    }
    m = hamt_new(HAMT_KEY_U64);
    for (uintptr_t k = 0; k < KEYS && m != NULL; k++) {
        m = hamt_set(m, HAMT_U64(k), (void *)0);
    }
    if (m == NULL || (cell = hamt_cell_new(m)) == NULL) {
        die("hamt_cell_new");
    }
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&r[i], NULL, reader, NULL) != 0) {
            die("pthread_create");
        }
    }
    /* The writer: version v sets key v % KEYS to v. */
    for (uintptr_t v = 1; v <= VERSIONS; v++) {
        m = hamt_set(m, HAMT_U64(v % KEYS), (void *)v);
        if (m == NULL || hamt_cell_store(cell, m, NULL) != 0) {
            die("hamt_cell_store");
        }
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(r[i], NULL);
    }
    printf("readers followed %d versions\n", VERSIONS);
    return 0;
}
