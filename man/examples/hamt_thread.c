/*
 * hamt_thread.c - a thread that gets a map by a means other than a
 * cell registers itself with the collector before reading it.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <hamt.h>

static void *
worker(void *arg)
{
    const struct hamt *m = arg; /* only the start argument holds m */
    void *val = NULL;

    if (hamt_thread_register() != 0) {
        perror("hamt_thread_register");
        exit(1);
    }
    /* From here on, the collector scans this stack: m stays alive. */
    if (!hamt_get(m, HAMT_U64(42), &val) || (uintptr_t)val != 7) {
        exit(1);
    }
    return NULL; /* unregistered automatically at exit */
}

int
main(void)
{
    const struct hamt *m;
    pthread_t t;

    if (hamt_init() != 0) {
        perror("hamt_init");
        return 1;
    }
    m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(42), (void *)7);
    if (m == NULL || pthread_create(&t, NULL, worker, (void *)m) != 0) {
        perror("start");
        return 1;
    }
    pthread_join(t, NULL);
    printf("worker read the map\n");
    return 0;
}
