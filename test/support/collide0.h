/*
 * collide0.h - the parts of a key type under which every key collides:
 * hash 0 and equality by pointer (test/api.c, test/ctree.c), for tests
 * that need collision levels or a valid key type without caring about
 * the keys.
 */
#ifndef HAMT_TEST_COLLIDE0_H
#define HAMT_TEST_COLLIDE0_H

#include <stdbool.h>
#include <stdint.h>

static inline uint64_t
h0(const void *k, void *c)
{
    (void)k;
    (void)c;
    return 0;
}

static inline bool
eq0(const void *a, const void *b, void *c)
{
    (void)c;
    return a == b;
}

#endif
