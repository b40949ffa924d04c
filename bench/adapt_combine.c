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
#include "hamt_common.h"

#define WHO "libhamt-combine"

struct cb_state {
    const struct hamt *m;      /* before share() */
    struct hamt_cell *cell;    /* after share() */
    struct hamt_combine *comb; /* after share() */
    enum bkind kind;
};

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
        bh_die(WHO, "state allocation");
    }
    s->kind = kind;
    s->m = bh_new(WHO, kind);
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
    bh_thread_register(WHO);
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
        bh_die(WHO, "hamt_combine_new");
    }
    s->m = NULL;
}

static void
cb_set(struct cb_state *s, bkey k, uint64_t v)
{
    if (hamt_combine_set(s->comb, bh_key(k), (void *)(uintptr_t)v, NULL, NULL)
        != 0) {
        bh_die(WHO, "hamt_combine_set");
    }
}

static bool
cb_insert(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct cb_state *s = m;
    bool fresh = !hamt_contains(cb_cur(s), bh_key(k));
    if (s->cell != NULL) {
        cb_set(s, k, v);
        return fresh;
    }
    s->m = hamt_set(s->m, bh_key(k), (void *)(uintptr_t)v);
    if (s->m == NULL) {
        bh_die(WHO, "hamt_set");
    }
    return fresh;
}

static bool
cb_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    (void)t;
    return bh_lookup(cb_cur(m), k, v);
}

static bool
cb_remove(void *m, void *t, bkey k)
{
    (void)t;
    struct cb_state *s = m;
    bool had = hamt_contains(cb_cur(s), bh_key(k));
    if (s->cell != NULL) {
        if (hamt_combine_remove(s->comb, bh_key(k), NULL, NULL) != 0) {
            bh_die(WHO, "hamt_combine_remove");
        }
        return had;
    }
    s->m = hamt_remove(s->m, bh_key(k));
    if (s->m == NULL) {
        bh_die(WHO, "hamt_remove");
    }
    return had;
}

static size_t
cb_iterate(void *m, void *t, uint64_t *sum)
{
    (void)t;
    return bh_iterate(cb_cur(m), sum);
}

static size_t
cb_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    /* One snapshot for the whole batch, looked up with hamt_get_many. */
    return bh_get_batch(cb_cur(m), keys, n, sum);
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
    if (hamt_combine_remove(s->comb, bh_key(k), NULL, NULL) != 0) {
        bh_die(WHO, "hamt_combine_remove");
    }
}

/* Untimed builds load through one batch, before share(). */
static void
cb_bulk(void *m, void *t, const bkey *keys, const uint64_t *vals, size_t n)
{
    (void)t;
    struct cb_state *s = m;
    const struct hamt *cur = bh_bulk(WHO, cb_cur(s), keys, vals, n);

    if (s->cell != NULL) {
        if (hamt_cell_store(s->cell, cur, NULL) != 0) { /* no writer runs */
            bh_die(WHO, "hamt_cell_store");
        }
    } else {
        s->m = cur;
    }
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
