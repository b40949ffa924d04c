/*
 * hamt_set.c - derive versions of a map; every version stays intact.
 */
#include <stdio.h>
#include <stdlib.h>

#include <hamt.h>

static char one[] = "one", two[] = "two";

/* Stops the program when an update fails (it sets errno). */
static const struct hamt *
must(const struct hamt *m)
{
    if (m == NULL) {
        perror("libhamt");
        exit(1);
    }
    return m;
}

int
main(void)
{
    const struct hamt *v0 = must(hamt_new(HAMT_KEY_U64));
    const struct hamt *v1 = must(hamt_set(v0, HAMT_U64(1), one));
    const struct hamt *v2 = must(hamt_set(v1, HAMT_U64(2), two));
    const struct hamt *v3 = must(hamt_remove(v2, HAMT_U64(1)));

    /* Each version still holds what it held when it was made. */
    printf("sizes: %zu %zu %zu %zu\n", hamt_size(v0), hamt_size(v1),
           hamt_size(v2), hamt_size(v3));
    if (!hamt_contains(v2, HAMT_U64(1)) ||
        hamt_contains(v3, HAMT_U64(1))) {
        return 1;
    }

    /* An update that changes nothing returns its input. */
    if (hamt_set(v2, HAMT_U64(2), two) != v2 ||
        hamt_remove(v3, HAMT_U64(1)) != v3) {
        return 1;
    }
    /* Removing the last key gives the one shared empty map. */
    if (must(hamt_remove(v1, HAMT_U64(1))) != v0) {
        return 1;
    }
    return 0;
}
