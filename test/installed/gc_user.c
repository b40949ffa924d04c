/*
 * gc_user.c - a program written as hamt(3) and hamt_thread(3) say: it
 * creates its thread with GC_pthread_create(), so the collector knows it,
 * and keeps its map in GC_MALLOC() memory, where the collector looks.
 * test/installed.sh builds it against an installed libhamt with nothing but
 * `cc gc_user.c $(pkg-config --cflags --libs hamt)`, as hamt(3) says to:
 * the collector's functions must come with that line.
 */
#define GC_THREADS
#include <gc/gc.h>

#include <hamt.h>
#include <pthread.h>
#include <stdio.h>

struct box {
    const struct hamt *m;
};

static void *
reader(void *arg)
{
    struct box *b = arg;
    void *v = NULL;

    GC_gcollect(); /* The map lives on: the box is collector memory. */
    return hamt_get(b->m, HAMT_U64(7), &v) ? v : NULL;
}

int
main(void)
{
    static char seven[] = "seven";
    struct box *b;
    pthread_t t;
    void *res = NULL;
    int ok;

    if (hamt_init() != 0) {
        perror("hamt_init");
        return 1;
    }
    b = GC_MALLOC(sizeof *b);
    if (b == NULL) {
        return 1;
    }
    b->m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(7), seven);
    if (b->m == NULL || GC_pthread_create(&t, NULL, reader, b) != 0) {
        perror("gc_user");
        return 1;
    }
    GC_pthread_join(t, &res);
    ok = res == seven;
    puts(ok ? "gc_user: the map outlived a collection" : "gc_user: FAILED");
    return !ok;
}
