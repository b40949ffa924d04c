/*
 * adapt_combine.c - libhamt with combined publication (hamt_combine(3)):
 * every writer submits its update to one combiner; whichever finds it free
 * publishes all pending updates in one batch.  Readers are libhamt's: one
 * hamt_cell_load() snapshot per batch of lookups.
 *
 * Before share() the map is built single-threaded with the persistent API
 * (as libhamt's adapter does); share() publishes it in a cell and makes the
 * combiner, and from then on every update goes through the combiner.  A
 * concurrent-only variant (BA_CONC_ONLY): the single-thread and memory
 * sections would measure libhamt again.
 *
 * The state is GC_MALLOC_UNCOLLECTABLE: it holds the only references to the
 * map, the cell and the combiner.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hamt.h>

struct cb_state {
    const struct hamt *m;      /* before share() */
    struct hamt_cell *cell;    /* after share() */
    struct hamt_combine *comb; /* after share() */
    enum bkind kind;
};

static void
cb_die(const char *what)
{
    fprintf(stderr, "hamt-bench: libhamt-combine %s failed: %s\n", what,
            strerror(errno));
    exit(2);
}

static inline const void *
cb_key(bkey k)
{
    return (const void *)(uintptr_t)k;
}

static const struct hamt *
cb_cur(const struct cb_state *s)
{
    return s->cell != NULL ? hamt_cell_load(s->cell, NULL) : s->m;
}

static void *
cb_create(enum bkind kind, size_t hint)
{
    (void)hint;
    struct cb_state *s = GC_MALLOC_UNCOLLECTABLE(sizeof *s);
    if (s == NULL) {
        cb_die("state allocation");
    }
    s->kind = kind;
    s->m = hamt_new(kind == BK_U64 ? HAMT_KEY_U64 : HAMT_KEY_STRING);
    if (s->m == NULL) {
        cb_die("hamt_new");
    }
    s->cell = NULL;
    s->comb = NULL;
    return s;
}

static void
cb_destroy(void *m)
{
    struct cb_state *s = m;
    s->m = NULL;
    s->cell = NULL;
    s->comb = NULL;
    GC_FREE(s);
}

static void *
cb_thread_enter(void *m)
{
    if (hamt_thread_register() != 0) {
        cb_die("hamt_thread_register");
    }
    return m;
}

static void
cb_thread_exit(void *m, void *t)
{
    (void)m;
    (void)t;
}

static void
cb_share(void *m)
{
    struct cb_state *s = m;
    if (s->cell != NULL) {
        return;
    }
    s->cell = hamt_cell_new(s->m);
    s->comb = s->cell != NULL ? hamt_combine_new(s->cell) : NULL;
    if (s->comb == NULL) {
        cb_die("hamt_combine_new");
    }
    s->m = NULL;
}

static void
cb_set(struct cb_state *s, bkey k, uint64_t v)
{
    if (hamt_combine_set(s->comb, cb_key(k), (void *)(uintptr_t)v, NULL, NULL)
        != 0) {
        cb_die("hamt_combine_set");
    }
}

static bool
cb_insert(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct cb_state *s = m;
    bool fresh = !hamt_contains(cb_cur(s), cb_key(k));
    if (s->cell != NULL) {
        cb_set(s, k, v);
        return fresh;
    }
    s->m = hamt_set(s->m, cb_key(k), (void *)(uintptr_t)v);
    if (s->m == NULL) {
        cb_die("hamt_set");
    }
    return fresh;
}

static bool
cb_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    (void)t;
    void *val;
    if (!hamt_get(cb_cur(m), cb_key(k), &val)) {
        return false;
    }
    *v = (uint64_t)(uintptr_t)val;
    return true;
}

static bool
cb_remove(void *m, void *t, bkey k)
{
    (void)t;
    struct cb_state *s = m;
    bool had = hamt_contains(cb_cur(s), cb_key(k));
    if (s->cell != NULL) {
        if (hamt_combine_remove(s->comb, cb_key(k), NULL, NULL) != 0) {
            cb_die("hamt_combine_remove");
        }
        return had;
    }
    s->m = hamt_remove(s->m, cb_key(k));
    if (s->m == NULL) {
        cb_die("hamt_remove");
    }
    return had;
}

static size_t
cb_iterate(void *m, void *t, uint64_t *sum)
{
    (void)t;
    struct hamt_iter it;
    const void *k;
    void *v;
    size_t n = 0;
    uint64_t acc = 0;
    hamt_iter_init(&it, cb_cur(m));
    while (hamt_iter_next(&it, &k, &v)) {
        acc += (uint64_t)(uintptr_t)v;
        n++;
    }
    *sum += acc;
    return n;
}

static size_t
cb_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    /* One snapshot for the whole batch, looked up with hamt_get_many. */
    const struct hamt *snap = cb_cur(m);
    size_t hits = 0;
    uint64_t acc = 0;
    enum { CHUNK = 64 };
    const void *hk[CHUNK];
    void *vals[CHUNK];
    bool found[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t c = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < c; j++) {
            hk[j] = cb_key(keys[i + j]);
        }
        hits += hamt_get_many(snap, c, hk, vals, found);
        for (size_t j = 0; j < c; j++) {
            if (found[j]) {
                acc += (uint64_t)(uintptr_t)vals[j];
            }
        }
    }
    *sum += acc;
    return hits;
}

static void
cb_update(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct cb_state *s = m;
    if (s->cell == NULL) {
        cb_share(s);
    }
    cb_set(s, k, v);
}

/* No lookup first: the answer is not needed here. */
static void
cb_remove_mw(void *m, void *t, bkey k)
{
    (void)t;
    struct cb_state *s = m;
    if (hamt_combine_remove(s->comb, cb_key(k), NULL, NULL) != 0) {
        cb_die("hamt_combine_remove");
    }
}

/* Untimed builds load through one batch, before share(). */
static void
cb_bulk(void *m, void *t, const bkey *keys, const uint64_t *vals, size_t n)
{
    (void)t;
    struct cb_state *s = m;
    const struct hamt *cur = cb_cur(s);
    const void **k = malloc(n * sizeof *k);
    void **v = malloc(n * sizeof *v);
    struct hamt_batch *b = hamt_batch_begin(cur);
    if (k == NULL || v == NULL || b == NULL) {
        cb_die("bulk set-up");
    }
    for (size_t i = 0; i < n; i++) {
        k[i] = cb_key(keys[i]);
        v[i] = (void *)(uintptr_t)vals[i];
    }
    if (hamt_batch_set_many(b, n, k, v, NULL) != 0) {
        cb_die("hamt_batch_set_many");
    }
    cur = hamt_batch_finish(b);
    if (cur == NULL) {
        cb_die("hamt_batch_finish");
    }
    if (s->cell != NULL) {
        if (hamt_cell_store(s->cell, cur, NULL) != 0) { /* no writer runs */
            cb_die("hamt_cell_store");
        }
    } else {
        s->m = cur;
    }
    free(k);
    free(v);
}

static void
cb_quiesce(void *m, void *t)
{
    (void)m;
    (void)t;
}

const struct bench_adapter bench_hamt_combine = {
    .name = "libhamt-combine",
    .desc = "libhamt, writers submit to one combiner (hamt_combine)",
    .flags = BA_CONCURRENT | BA_READ_MT | BA_GC | BA_CONC_ONLY,
    .create = cb_create,
    .destroy = cb_destroy,
    .thread_enter = cb_thread_enter,
    .thread_exit = cb_thread_exit,
    .share = cb_share,
    .insert = cb_insert,
    .lookup = cb_lookup,
    .remove = cb_remove,
    .iterate = cb_iterate,
    .read_batch = cb_read_batch,
    .update = cb_update,
    .update_mw = cb_update,
    .insert_mw = cb_update,
    .remove_mw = cb_remove_mw,
    .bulk = cb_bulk,
    .quiesce = cb_quiesce,
};
