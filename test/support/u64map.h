/*
 * u64map.h - small Criterion helpers for tests of maps with HAMT_KEY_U64
 * keys whose values are plain words (test/cell.c, test/slot.c): build one
 * and read a word back, failing the test on any error.  Header-only, since
 * those tests do not link the test support library.
 */
#ifndef HAMT_TEST_U64MAP_H
#define HAMT_TEST_U64MAP_H

#include <criterion/criterion.h>
#include <stdint.h>

#include <hamt.h>

/* Keys 0..n-1, key k bound to the word k + tag. */
static inline const struct hamt *
u64_map(uint64_t n, uint64_t tag)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t k = 0; k < n; k++) {
        m = hamt_set(m, HAMT_U64(k), (void *)(uintptr_t)(k + tag));
        cr_assert_not_null(m);
    }
    return m;
}

/* The word bound to key, which must be there. */
static inline uint64_t
word_of(const struct hamt *m, uint64_t key)
{
    void *val = NULL;

    cr_assert(hamt_get(m, HAMT_U64(key), &val));
    return (uint64_t)(uintptr_t)val;
}

#endif
