/*
 * refmap.h - a trivial reference map for differential tests: keys are
 * integers below a fixed bound, stored in a flat array.  Obviously correct,
 * which is the point.
 */
#ifndef TEST_REFMAP_H
#define TEST_REFMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct refmap {
    size_t cap;
    size_t size;
    bool *present;
    void **val;
};

struct refmap *ref_new(size_t cap);
struct refmap *ref_clone(const struct refmap *r);
void ref_free(struct refmap *r);
void ref_set(struct refmap *r, uint64_t k, void *v);
void ref_del(struct refmap *r, uint64_t k);
bool ref_get(const struct refmap *r, uint64_t k, void **v);

/* A small deterministic PRNG (splitmix64) for reproducible runs. */
uint64_t ref_rand(uint64_t *state);

#endif
