/* refmap.c - see refmap.h. */
#include "refmap.h"

#include "mix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct refmap *
ref_new(size_t cap)
{
    struct refmap *r = calloc(1, sizeof *r);

    if (r == NULL) {
        abort();
    }
    r->cap = cap;
    r->present = calloc(cap, sizeof *r->present);
    r->val = calloc(cap, sizeof *r->val);
    if (r->present == NULL || r->val == NULL) {
        abort();
    }
    return r;
}

struct refmap *
ref_clone(const struct refmap *r)
{
    struct refmap *c = ref_new(r->cap);

    c->size = r->size;
    memcpy(c->present, r->present, r->cap * sizeof *r->present);
    memcpy(c->val, r->val, r->cap * sizeof *r->val);
    return c;
}

void
ref_free(struct refmap *r)
{
    free(r->present);
    free(r->val);
    free(r);
}

void
ref_set(struct refmap *r, uint64_t k, void *v)
{
    if (!r->present[k]) {
        r->present[k] = true;
        r->size++;
    }
    r->val[k] = v;
}

void
ref_remove(struct refmap *r, uint64_t k)
{
    if (r->present[k]) {
        r->present[k] = false;
        r->val[k] = NULL;
        r->size--;
    }
}

bool
ref_get(const struct refmap *r, uint64_t k, void **v)
{
    if (!r->present[k]) {
        return false;
    }
    if (v != NULL) {
        *v = r->val[k];
    }
    return true;
}

uint64_t
ref_rand(uint64_t *state)
{
    return mix64_next(state);
}

uint64_t
ref_seed(const char *suite, const char *what)
{
    uint64_t seed = (uint64_t)time(NULL);
    const char *e = getenv("HAMT_TEST_SEED");

    if (e != NULL) {
        seed = strtoull(e, NULL, 0);
    }
    printf("%s %s: seed %llu (HAMT_TEST_SEED to repeat)\n", suite, what,
           (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

enum hamt_alter_action
ref_upd_fn(void *old, bool present, void **new_val, void *ctx)
{
    struct ref_upd *u = ctx;

    u->seen_old = old;
    u->seen_present = present;
    u->calls++;
    *new_val = u->val;
    return u->act;
}

long
ref_mismatch(const struct refmap *r, const void *const *keys,
             bool (*get)(const void *ctx, const void *key, void **val),
             const void *ctx)
{
    for (size_t i = 0; i < r->cap; i++) {
        void *v = NULL, *rv = NULL;
        bool f = get(ctx, keys[i], &v);
        if (f != ref_get(r, i, &rv) || (f && v != rv)) {
            return (long)i;
        }
    }
    return -1;
}
