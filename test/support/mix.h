/*
 * mix.h - the one 64-bit mixer of the tests, the fuzzer, the soak test and
 * the bench: fixed, unkeyed and independent of the library's own hash
 * (lib/hash.c), so that the keys and hashes these programs make up do not
 * depend on the library under test.
 *
 * mix64() is MurmurHash3's 64-bit finaliser (a bijection with good
 * avalanche); mix64_next() steps a counter by the golden-ratio increment
 * and mixes it, a small pseudo-random generator for reproducible runs.
 * Header-only: each program that includes it gets its own static copy.
 */
#ifndef HAMT_TEST_MIX_H
#define HAMT_TEST_MIX_H

#include <stdint.h>

static inline uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* The next value of the generator whose state is *state. */
static inline uint64_t
mix64_next(uint64_t *state)
{
    *state += UINT64_C(0x9e3779b97f4a7c15);
    return mix64(*state);
}

#endif /* HAMT_TEST_MIX_H */
