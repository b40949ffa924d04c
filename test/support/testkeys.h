/*
 * testkeys.h - test keys whose hashes the test chooses, to force exact trie
 * shapes (full collisions, maximum depth, canonical shape after removes).
 */
#ifndef TEST_TESTKEYS_H
#define TEST_TESTKEYS_H

#include <stdint.h>

#include <hamt.h>

struct tk {
    uint64_t id;
    uint64_t hash;
    char name[24];
};

/* The empty map of the test key type (same object on every call). */
const struct hamt *tk_empty(void);
/*
 * The same keys with an order (by id): collision trees instead of
 * collision nodes.  tk_compares counts the compare calls.
 */
const struct hamt *tk_empty_ordered(void);
extern unsigned long tk_compares;
/* Calls of the test key type's equal and hash (both key types). */
extern unsigned long tk_equals, tk_hashes;
/* Key number `id` with the given hash; named "k<id>".  Never freed. */
const struct tk *tk_key(uint64_t id, uint64_t hash);
/* A map holding keys k0..k(n-1) with the given hashes, value = key. */
const struct hamt *tk_map(unsigned n, const uint64_t *hashes);
/* Label function for hamt__debug_shape(). */
const char *tk_label(const void *key);
/* The shape string of a map of test keys (static buffer). */
const char *tk_shape(const struct hamt *m);

#endif
