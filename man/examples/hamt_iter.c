/*
 * hamt_iter.c - walk a map with an iterator on the stack, and with a
 * callback that stops early.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include <hamt.h>

/* Stops the walk at the first value above *ctx. */
static int
above(const void *key, void *val, void *ctx)
{
    uint64_t limit = *(const uint64_t *)ctx;

    if ((uintptr_t)val > limit) {
        printf("%" PRIu64 " squared is above %" PRIu64 "\n",
               HAMT_AS_U64(key), limit);
        return 1;
    }
    return 0;
}

int
main(void)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    struct hamt_iter it;
    const void *key;
    void *val;
    uint64_t sum = 0, limit = 50;

    for (uint64_t k = 1; m != NULL && k <= 10; k++) {
        m = hamt_set(m, HAMT_U64(k), (void *)(uintptr_t)(k * k));
    }
    if (m == NULL) {
        perror("hamt_set");
        return 1;
    }

    /* Every entry once, in an order fixed by the hashes. */
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &key, &val)) {
        sum += (uintptr_t)val;
    }
    printf("sum of squares: %" PRIu64 "\n", sum);

    /* A non-zero return stops the walk; hamt_foreach() then returns 1. */
    if (hamt_foreach(m, above, &limit) != 1 || sum != 385) {
        return 1;
    }
    return 0;
}
