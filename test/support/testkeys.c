/* testkeys.c - see testkeys.h. */
#include "testkeys.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

unsigned long tk_hashes;

static uint64_t
tk_hash(const void *key, void *ctx)
{
    (void)ctx;
    tk_hashes++;
    return ((const struct tk *)key)->hash;
}

unsigned long tk_equals;

static bool
tk_equal(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    tk_equals++;
    return ((const struct tk *)a)->id == ((const struct tk *)b)->id;
}

const struct hamt *
tk_empty(void)
{
    struct hamt_key_type kt = {
        .size = sizeof kt, .hash = tk_hash, .equal = tk_equal, .ctx = NULL};
    return hamt_new_custom(&kt);
}

unsigned long tk_compares;

static int
tk_compare(const void *a, const void *b, void *ctx)
{
    uint64_t x = ((const struct tk *)a)->id, y = ((const struct tk *)b)->id;

    (void)ctx;
    tk_compares++;
    return (x > y) - (x < y);
}

const struct hamt *
tk_empty_ordered(void)
{
    struct hamt_key_type kt = {.size = sizeof kt,
                               .hash = tk_hash,
                               .equal = tk_equal,
                               .compare = tk_compare};
    return hamt_new_custom(&kt);
}

const struct tk *
tk_key(uint64_t id, uint64_t hash)
{
    struct tk *k = malloc(sizeof *k);

    if (k == NULL) {
        abort();
    }
    k->id = id;
    k->hash = hash;
    snprintf(k->name, sizeof k->name, "k%llu", (unsigned long long)id);
    return k;
}

const struct hamt *
tk_map(unsigned n, const uint64_t *hashes)
{
    const struct hamt *m = tk_empty();

    for (unsigned i = 0; i < n && m != NULL; i++) {
        const struct tk *k = tk_key(i, hashes[i]);
        m = hamt_set(m, k, (void *)k);
    }
    return m;
}

const char *
tk_label(const void *key)
{
    return ((const struct tk *)key)->name;
}

const char *
tk_shape(const struct hamt *m)
{
    static char buf[4096];
    char *s = hamt__debug_shape(m, tk_label);

    if (s == NULL) {
        return "(nomem)";
    }
    snprintf(buf, sizeof buf, "%s", s);
    free(s);
    return buf;
}
