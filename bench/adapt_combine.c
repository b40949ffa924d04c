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

/*
 * libhamt's internal round counter (lib/internal.h; the bench links the
 * static core library, so the hidden symbol resolves).  Not public API.
 */
#define CB_HIST 17 /* HAMT__COMBINE_HIST */
void hamt__combine_rounds(const struct hamt_combine *cb, uint64_t *hist);

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
    /* One snapshot for the whole batch, one hamt_get per key. */
    return bh_get_each(cb_cur(m), keys, n, sum);
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

bool
bench_combine_hist(void *m, uint64_t *hist, size_t n)
{
    struct cb_state *s = m;
    uint64_t h[CB_HIST];

    if (s == NULL || s->comb == NULL || n != BENCH_COMBINE_HIST) {
        return false;
    }
    hamt__combine_rounds(s->comb, h);
    memcpy(hist, h, sizeof h);
    return true;
}

/* One way of k updates; returns the new current map. */
static const struct hamt *
cb_bound_way(int batch, struct hamt_cell *cell, const struct hamt *cur,
             size_t k, const void *const *keys, void *const *vals)
{
    if (!batch) {
        for (size_t i = 0; i < k; i++) {
            cur = hamt_set(cur, keys[i], vals[i]);
            if (cur == NULL || hamt_cell_store(cell, cur, NULL) != 0) {
                bh_die(WHO, "bound: hamt_set + store");
            }
        }
        return cur;
    }
    struct hamt_batch *b = hamt_batch_begin(cur);
    if (b == NULL || hamt_batch_set_many(b, k, keys, vals, NULL) != 0) {
        bh_die(WHO, "bound: batch");
    }
    cur = hamt_batch_finish(b);
    if (cur == NULL || hamt_cell_store(cell, cur, NULL) != 0) {
        bh_die(WHO, "bound: finish + store");
    }
    return cur;
}

/*
 * The ceiling of combining on this structure (issue 15): what a batch of k
 * random updates of a 1M-key map costs per update, published once (begin,
 * hamt_batch_set_many, finish, hamt_cell_store: what a round does),
 * against k hamt_set + hamt_cell_store (what one writer publishing every
 * update does), same thread, alternated, for k = 1 .. 16; and what one
 * uncontended hamt_combine_set costs (the protocol with nobody to combine
 * with), and a lookup (hamt_cell_load + hamt_get) as the writers section's
 * writers do it.  Single thread, no other load.
 */
void
bench_combine_bound(unsigned runs)
{
    enum { N = 1000000, U = 32768, NK = 5, CH = 65536 };
    static const size_t ks[NK] = {1, 2, 4, 8, 16};
    double one[NK][5], bat[NK][5], cmb[5], look[5];
    double bytes[NK][2];
    const void **keys = malloc(U * sizeof *keys);
    void **vals = malloc(U * sizeof *vals);
    bkey *bk = malloc(CH * sizeof *bk);
    uint64_t *bv = malloc(CH * sizeof *bv);
    uint64_t rng = 0x5eed;

    runs = runs > 5 ? 5 : (runs < 1 ? 1 : runs);
    bh_thread_register(WHO);
    if (keys == NULL || vals == NULL || bk == NULL || bv == NULL) {
        bh_die(WHO, "bound: malloc");
    }
    const struct hamt *cur = bh_new(WHO, BK_U64);
    for (size_t i = 0; i < N; i += CH) {
        size_t c = N - i < CH ? N - i : CH;
        for (size_t j = 0; j < c; j++) {
            bk[j] = bench_key_u64(i + j);
            bv[j] = i + j + 1;
        }
        cur = bh_bulk(WHO, cur, bk, bv, c);
    }
    struct hamt_cell *cell = hamt_cell_new(cur);
    struct hamt_combine *comb = cell ? hamt_combine_new(cell) : NULL;
    if (comb == NULL) {
        bh_die(WHO, "bound: cell");
    }
    for (unsigned r = 0; r < runs; r++) {
        for (size_t ki = 0; ki < NK; ki++) {
            for (int way = 0; way < 2; way++) {
                for (size_t i = 0; i < U; i++) {
                    keys[i] = bh_key(bench_key_u64(bench_below(&rng, N)));
                    vals[i] = (void *)(uintptr_t)(i + 1);
                }
                size_t b0 = GC_get_total_bytes();
                uint64_t t0 = bench_now_ns();
                for (size_t i = 0; i < U; i += ks[ki]) {
                    cur = cb_bound_way(way, cell, cur, ks[ki], keys + i,
                                       vals + i);
                }
                double ns = (double)(bench_now_ns() - t0) / U;
                (way ? bat : one)[ki][r] = ns;
                /* Deterministic for given keys: the last run's. */
                bytes[ki][way] = (double)(GC_get_total_bytes() - b0) / U;
            }
        }
        for (size_t i = 0; i < U; i++) {
            keys[i] = bh_key(bench_key_u64(bench_below(&rng, N)));
        }
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < U; i++) {
            if (hamt_combine_set(comb, keys[i], (void *)(uintptr_t)i, NULL,
                                 NULL)
                != 0) {
                bh_die(WHO, "bound: hamt_combine_set");
            }
        }
        cmb[r] = (double)(bench_now_ns() - t0) / U;
        cur = hamt_cell_load(cell, NULL);
        uint64_t sum = 0;
        t0 = bench_now_ns();
        for (size_t i = 0; i < U; i++) {
            void *v;
            if (hamt_get(hamt_cell_load(cell, NULL), keys[i], &v)) {
                sum += (uint64_t)(uintptr_t)v;
            }
        }
        look[r] = (double)(bench_now_ns() - t0) / U;
        if (sum == 0) {
            bh_die(WHO, "bound: lookups found nothing");
        }
    }
    printf("\ncombining's ceiling: k random updates of 1M u64 keys, one "
           "thread, ns per update\n(medians of %u runs of %u updates)\n",
           runs, (unsigned)U);
    printf("  %3s %14s %14s %8s %12s %12s\n", "k", "k set+store", "batch+store",
           "gain", "B/upd single", "B/upd batch");
    double look_ns = bench_median(look, runs);
    double single = 0;
    for (size_t ki = 0; ki < NK; ki++) {
        double a = bench_median(one[ki], runs);
        double b = bench_median(bat[ki], runs);
        if (ki == 0) {
            single = a;
        }
        printf("  %3zu %14.0f %14.0f %7.2fx %12.0f %12.0f\n", ks[ki], a, b,
               a / b, bytes[ki][0], bytes[ki][1]);
    }
    double cns = bench_median(cmb, runs);
    printf("  uncontended hamt_combine_set: %.0f ns (%.2fx hamt_set + "
           "store)\n",
           cns, cns / single);
    printf("  lookup (hamt_cell_load + hamt_get): %.0f ns\n", look_ns);
    /*
     * The writers section's quick row: W = 4 writers (90% lookups) and one
     * reader share 2 cores, so the writers get at most 8/5 of a core
     * against the lone writer's one core.  With every round holding k
     * requests, the ceiling is 8/5 * (9 L + U1) / (9 L + Uk), Uk the
     * batch's cost per update (k = 1: hamt_set's, as a lone request is
     * applied without a batch).  With 2 cores a round rarely gets more
     * than the requests of the 2 threads running.
     */
    printf("  ceiling vs one writer (W = 4, R = 1, 2 cores, 90%% reads):");
    for (size_t ki = 0; ki < 3; ki++) {
        double u1 = bench_median(one[0], runs);
        double uk = bench_median(ki == 0 ? one[0] : bat[ki], runs);
        printf(" k=%zu %.2fx", ks[ki],
               1.6 * (9 * look_ns + u1) / (9 * look_ns + uk));
    }
    printf("\n");
    free(keys);
    free(vals);
    free(bk);
    free(bv);
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
