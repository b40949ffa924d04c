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
void ref_remove(struct refmap *r, uint64_t k);
bool ref_get(const struct refmap *r, uint64_t k, void **v);

/* A small deterministic PRNG (mix64_next, mix.h) for reproducible runs. */
uint64_t ref_rand(uint64_t *state);

/*
 * Compares r with a map over keys[0 .. r->cap - 1], looked up through
 * get(ctx, key, &val) (hamt_get, hamt_batch_get, ...).  Returns -1 when
 * every key agrees (presence and value), else the first key number that
 * does not.
 */
long ref_mismatch(const struct refmap *r, const void *const *keys,
                  bool (*get)(const void *ctx, const void *key, void **val),
                  const void *ctx);

/*
 * The seed of a randomized test: HAMT_TEST_SEED if set, else the time.
 * Printed as "<suite> <what>: seed N" so that a failure can be repeated.
 */
uint64_t ref_seed(const char *suite, const char *what);

/*
 * An update function for hamt_alter and hamt_batch_alter that
 * records what it was called with and answers `act` with `val`.
 */
#include <hamt.h>

struct ref_upd {
    enum hamt_alter_action act;
    void *val;
    void *seen_old;
    bool seen_present;
    int calls;
};

enum hamt_alter_action ref_upd_fn(void *old, bool present, void **new_val,
                                  void *ctx);

#endif
