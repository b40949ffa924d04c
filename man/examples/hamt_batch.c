/*
 * hamt_batch.c - load many keys through one batch, then edit a copy of
 * the result in a second batch; the first map stays as it was.
 */
#include <stdint.h>
#include <stdio.h>

#include <hamt.h>

/* hamt_batch_alter(): double the value, drop it past 1000. */
static enum hamt_alter_action
twice(void *old, bool present, void **new_val, void *ctx)
{
    uintptr_t v = (uintptr_t)old * 2;

    (void)ctx;
    if (!present || v > 1000) {
        return HAMT_ALTER_REMOVE;
    }
    *new_val = (void *)v;
    return HAMT_ALTER_SET;
}

int
main(void)
{
    const struct hamt *empty = hamt_new(HAMT_KEY_U64), *squares, *edited;
    struct hamt_batch *b = hamt_batch_begin(empty);
    void *v = NULL;

    if (b == NULL) {
        perror("hamt_batch_begin");
        return 1;
    }
    for (uint64_t k = 0; k < 100000; k++) {
        if (hamt_batch_set(b, HAMT_U64(k), (void *)(uintptr_t)(k * k)) < 0) {
            perror("hamt_batch_set");
            hamt_batch_discard(b);
            return 1;
        }
    }
    squares = hamt_batch_finish(b); /* an ordinary map from here on */

    b = hamt_batch_begin(squares);
    if (b == NULL || hamt_batch_alter(b, HAMT_U64(20), twice, NULL) < 0 ||
        hamt_batch_alter(b, HAMT_U64(30), twice, NULL) < 0 ||
        hamt_batch_remove(b, HAMT_U64(7)) < 0) {
        perror("libhamt");
        return 1;
    }
    edited = hamt_batch_finish(b);

    printf("squares: %zu keys, edited: %zu keys\n", hamt_size(squares),
           hamt_size(edited));
    if (!hamt_get(edited, HAMT_U64(20), &v) || (uintptr_t)v != 800 ||
        hamt_contains(edited, HAMT_U64(30)) ||
        !hamt_get(squares, HAMT_U64(30), &v) || (uintptr_t)v != 900) {
        return 1;
    }
    /* A finished batch refuses every call. */
    if (hamt_batch_set(b, HAMT_U64(1), NULL) != -1) {
        return 1;
    }
    return 0;
}
