/*
 * adapt_hamt.c - libhamt behind the bench's table of function pointers.
 *
 * Single-thread operations use the persistent API directly: every insert
 * or remove derives a new map with hamt_set()/hamt_remove() and drops the old
 * one (the collector reclaims it).  For concurrent runs the current map is
 * published in a hamt_cell: a reader takes one snapshot with
 * hamt_cell_load() per batch of lookups; the single writer derives the next
 * map with hamt_set() and publishes it with hamt_cell_store(); several
 * writers use hamt_cell_update() (compare-and-publish, retried).
 *
 * The adapter's state is GC_MALLOC_UNCOLLECTABLE: it holds the only
 * references to the current map and the cell, so it must be memory the
 * collector scans (malloc memory is not scanned).
 */
#include "hamt_common.h"

#include "stats.h" /* exact_bytes: the one figure the public API lacks */

#define WHO "libhamt"

/* libhamt-b16's updates per publication. */
#define B16 16

struct lh_state {
    const struct hamt *m;   /* the writer's current map */
    struct hamt_cell *cell; /* published map for concurrent runs */
    enum bkind kind;
    /* libhamt-b16 only: the writer's updates not yet published. */
    unsigned pending;
    const void *pk[B16];
    void *pv[B16];
};

static void *
lh_create(enum bkind kind, size_t hint)
{
    (void)hint;
    struct lh_state *s = GC_MALLOC_UNCOLLECTABLE(sizeof *s);
    if (s == NULL) {
        bh_die(WHO, "state allocation");
    }
    s->kind = kind;
    s->m = bh_new(WHO, kind);
    s->cell = NULL;
    s->pending = 0;
    return s;
}

/*
 * libhamt-scalar: the same adapter on a map from hamt_new_scalar(), whose
 * nodes without children the collector does not scan.  The bench's values
 * are integers, so nothing it stores needs the collector to see it.  Only
 * u64 keys (the kind hamt_new_scalar takes), single-thread sections only.
 */
static void *
lh_create_scalar(enum bkind kind, size_t hint)
{
    struct lh_state *s = lh_create(kind, hint);
    if (kind != BK_U64) {
        errno = EINVAL;
        bh_die("libhamt-scalar", "string keys");
    }
    s->m = hamt_new_scalar(HAMT_KEY_U64);
    if (s->m == NULL) {
        bh_die("libhamt-scalar", "hamt_new_scalar");
    }
    return s;
}

static void
lh_destroy(void *m)
{
    struct lh_state *s = m;
    s->m = NULL;
    s->cell = NULL;
    GC_FREE(s);
}

static void *
lh_thread_enter(void *m)
{
    bh_thread_register(WHO);
    return m;
}

static void
lh_thread_exit(void *m, void *t)
{
    (void)m;
    (void)t;
}

static void
lh_share(void *m)
{
    struct lh_state *s = m;
    if (s->cell == NULL) {
        s->cell = hamt_cell_new(s->m);
        if (s->cell == NULL) {
            bh_die(WHO, "hamt_cell_new");
        }
    } else if (hamt_cell_store(s->cell, s->m, NULL) != 0) {
        bh_die(WHO, "hamt_cell_store");
    }
}

/*
 * The cell held the version it was given and every version published
 * since: dropped, it no longer keeps an old version alive beside s->m (the
 * collector reclaims it and whatever only it reached).
 */
static void
lh_unshare(void *m)
{
    struct lh_state *s = m;
    s->cell = NULL;
}

static bool
lh_insert(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct lh_state *s = m;
    size_t before = hamt_size(s->m);
    const struct hamt *n = hamt_set(s->m, bh_key(k), (void *)(uintptr_t)v);
    if (n == NULL) {
        bh_die(WHO, "hamt_set");
    }
    s->m = n;
    return hamt_size(n) != before;
}

/* Untimed builds (and the memory section) load through one batch. */
static void
lh_bulk(void *m, void *t, const bkey *keys, const uint64_t *vals, size_t n)
{
    (void)t;
    struct lh_state *s = m;
    s->m = bh_bulk(WHO, s->m, keys, vals, n);
}

static bool
lh_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    (void)t;
    struct lh_state *s = m;
    return bh_lookup(s->m, k, v);
}

static bool
lh_remove(void *m, void *t, bkey k)
{
    (void)t;
    struct lh_state *s = m;
    const struct hamt *n = hamt_remove(s->m, bh_key(k));
    if (n == NULL) {
        bh_die(WHO, "hamt_remove");
    }
    bool removed = n != s->m;
    s->m = n;
    return removed;
}

static size_t
lh_iterate(void *m, void *t, uint64_t *sum)
{
    (void)t;
    struct lh_state *s = m;
    return bh_iterate(s->m, sum);
}

static size_t
lh_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    struct lh_state *s = m;
    /* One snapshot for the whole batch, one hamt_get per key. */
    return bh_get_each(hamt_cell_load(s->cell, NULL), keys, n, sum);
}

/* read_many: the same, looked up with hamt_get_many (batched rows). */
static size_t
lh_read_many(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    struct lh_state *s = m;
    return bh_get_batch(hamt_cell_load(s->cell, NULL), keys, n, sum);
}

/*
 * libhamt-slot: the same map and writer, but readers run in threads the
 * collector does not know (the driver starts them with rawthread.c) and
 * protect each batch's snapshot with a hazard slot (hamt_cell_acquire).
 */
static inline __attribute__((always_inline)) size_t
slot_read(void *m, const bkey *keys, size_t n, uint64_t *sum, bool many)
{
    struct lh_state *s = m;
    struct hamt_snapshot *hs;
    const struct hamt *snap = hamt_cell_acquire(s->cell, NULL, &hs);
    size_t hits;
    if (snap == NULL) {
        bh_die(WHO, "hamt_cell_acquire");
    }
    hits = many ? bh_get_batch(snap, keys, n, sum)
                : bh_get_each(snap, keys, n, sum);
    if (hamt_snapshot_release(hs) != 0) {
        bh_die(WHO, "hamt_snapshot_release");
    }
    return hits;
}

static size_t
slot_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    return slot_read(m, keys, n, sum, false);
}

/*
 * libhamt-getmany: libhamt-slot whose readers look each batch up with
 * one hamt_get_many call.  A row of its own, labelled batched: the other
 * competitors' readers make one lookup call per key.
 */
static size_t
slot_read_many(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    return slot_read(m, keys, n, sum, true);
}

/* Reader threads must stay unknown: registration happens in the writer. */
static void *
slot_thread_enter(void *m)
{
    return m;
}

static void
lh_update(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct lh_state *s = m;
    const struct hamt *n = hamt_set(s->m, bh_key(k), (void *)(uintptr_t)v);
    if (n == NULL) {
        bh_die(WHO, "hamt_set");
    }
    if (hamt_cell_store(s->cell, n, NULL) != 0) {
        bh_die(WHO, "hamt_cell_store");
    }
    s->m = n;
}

struct lh_upd {
    bkey k;
    uint64_t v;
};

static const struct hamt *
lh_upd_fn(const struct hamt *cur, void *ctx)
{
    const struct lh_upd *u = ctx;
    return hamt_set(cur, bh_key(u->k), (void *)(uintptr_t)u->v);
}

static void
lh_update_mw(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct lh_state *s = m;
    struct lh_upd u = {k, v};
    if (hamt_cell_update(s->cell, lh_upd_fn, &u) == NULL) {
        bh_die(WHO, "hamt_cell_update");
    }
}

/* Several writers: hamt_cell_update() (compare-and-publish, retried). */
static void
lh_insert_mw(void *m, void *t, bkey k, uint64_t v)
{
    lh_update_mw(m, t, k, v);
}

static const struct hamt *
lh_del_fn(const struct hamt *cur, void *ctx)
{
    const struct lh_upd *u = ctx;
    return hamt_remove(cur, bh_key(u->k));
}

static void
lh_remove_mw(void *m, void *t, bkey k)
{
    (void)t;
    struct lh_state *s = m;
    struct lh_upd u = {k, 0};
    if (hamt_cell_update(s->cell, lh_del_fn, &u) == NULL) {
        bh_die(WHO, "hamt_cell_update");
    }
}

static void
lh_quiesce(void *m, void *t)
{
    (void)m;
    (void)t;
}

static size_t
lh_exact_bytes(void *m)
{
    /* What the collector holds for the nodes (GC_size) and, in a string
     * map, for libhamt's own key copies. */
    struct lh_state *s = m;
    struct hamt__stats st;
    if (hamt__stats(s->m, &st) != 0) {
        bh_die(WHO, "hamt__stats");
    }
    return st.node_bytes + st.key_bytes;
}

/*
 * libhamt-b16: the writer gathers 16 updates and publishes them as one
 * version: one batch (hamt_batch(3)) taking all 16 in one
 * hamt_batch_set_many call, whose walk overlaps the 16 paths' cache
 * misses, then hamt_cell_store.  Readers see updates in groups of 16, at
 * most 15 updates late.  Everything but the writer is libhamt's;
 * single-thread calls first publish what is pending.
 */
static void
b16_flush(struct lh_state *s)
{
    struct hamt_batch *b;

    if (s->pending == 0) {
        return;
    }
    b = hamt_batch_begin(s->m);
    if (b == NULL) {
        bh_die(WHO, "hamt_batch_begin");
    }
    if (hamt_batch_set_many(b, s->pending, s->pk, s->pv, NULL) != 0) {
        bh_die(WHO, "hamt_batch_set_many");
    }
    s->m = hamt_batch_finish(b);
    s->pending = 0;
    if (s->m == NULL) {
        bh_die(WHO, "hamt_batch_finish");
    }
    if (s->cell != NULL && hamt_cell_store(s->cell, s->m, NULL) != 0) {
        bh_die(WHO, "hamt_cell_store");
    }
}

static void
b16_update(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct lh_state *s = m;
    s->pk[s->pending] = bh_key(k);
    s->pv[s->pending] = (void *)(uintptr_t)v;
    if (++s->pending == B16) {
        b16_flush(s);
    }
}

static void
b16_share(void *m)
{
    b16_flush(m);
    lh_share(m);
}

static bool
b16_insert(void *m, void *t, bkey k, uint64_t v)
{
    b16_flush(m);
    return lh_insert(m, t, k, v);
}

static bool
b16_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    b16_flush(m);
    return lh_lookup(m, t, k, v);
}

static bool
b16_remove(void *m, void *t, bkey k)
{
    b16_flush(m);
    return lh_remove(m, t, k);
}

static size_t
b16_iterate(void *m, void *t, uint64_t *sum)
{
    b16_flush(m);
    return lh_iterate(m, t, sum);
}

static void
b16_bulk(void *m, void *t, const bkey *keys, const uint64_t *vals, size_t n)
{
    b16_flush(m);
    lh_bulk(m, t, keys, vals, n);
}

static void
b16_quiesce(void *m, void *t)
{
    (void)t;
    b16_flush(m);
}

static void
b16_destroy(void *m)
{
    struct lh_state *s = m;
    s->pending = 0; /* never published: dropped with the map */
    lh_destroy(m);
}

const struct bench_adapter bench_hamt_b16 = {
    .name = "libhamt-b16",
    .desc = "libhamt, writer publishes a batch of 16 updates at a time",
    .flags = BA_CONCURRENT | BA_READ_MT | BA_GC | BA_CONC_ONLY,
    .create = lh_create,
    .destroy = b16_destroy,
    .thread_enter = lh_thread_enter,
    .thread_exit = lh_thread_exit,
    .share = b16_share,
    .insert = b16_insert,
    .lookup = b16_lookup,
    .remove = b16_remove,
    .iterate = b16_iterate,
    .read_batch = lh_read_batch,
    .update = b16_update,
    .update_mw = NULL,
    .bulk = b16_bulk,
    .quiesce = b16_quiesce,
    .exact_bytes = NULL,
};

const struct bench_adapter bench_hamt = {
    .name = "libhamt",
    .desc = "libhamt persistent map; hamt_cell snapshot per batch",
    .flags = BA_CONCURRENT | BA_READ_MT | BA_GC,
    .create = lh_create,
    .destroy = lh_destroy,
    .thread_enter = lh_thread_enter,
    .thread_exit = lh_thread_exit,
    .share = lh_share,
    .unshare = lh_unshare,
    .insert = lh_insert,
    .lookup = lh_lookup,
    .remove = lh_remove,
    .iterate = lh_iterate,
    .read_batch = lh_read_batch,
    .read_many = lh_read_many,
    .update = lh_update,
    .update_mw = lh_update_mw,
    .insert_mw = lh_insert_mw,
    .remove_mw = lh_remove_mw,
    .bulk = lh_bulk,
    .quiesce = lh_quiesce,
    .exact_bytes = lh_exact_bytes,
};

const struct bench_adapter bench_hamt_scalar = {
    .name = "libhamt-scalar",
    .desc = "libhamt, hamt_new_scalar map (leaves not scanned); u64, 1 thread",
    .flags = BA_GC | BA_SINGLE_ONLY | BA_U64_ONLY,
    .create = lh_create_scalar,
    .destroy = lh_destroy,
    .thread_enter = lh_thread_enter,
    .thread_exit = lh_thread_exit,
    .share = lh_share,
    .unshare = lh_unshare,
    .insert = lh_insert,
    .lookup = lh_lookup,
    .remove = lh_remove,
    .iterate = lh_iterate,
    .read_batch = lh_read_batch,
    .read_many = lh_read_many,
    .update = NULL,
    .update_mw = NULL,
    .bulk = lh_bulk,
    .quiesce = lh_quiesce,
    .exact_bytes = lh_exact_bytes,
};

/* The writer allocates: it registers itself (a thread-local test after the
 * first call); readers never come here. */
static void
slot_update(void *m, void *t, bkey k, uint64_t v)
{
    bh_thread_register(WHO);
    lh_update(m, t, k, v);
}

/* libhamt-slot and libhamt-getmany differ only in how readers look up. */
#define LH_SLOT_ADAPTER(name_, desc_, read_)                                   \
    {                                                                          \
        .name = name_, .desc = desc_,                                          \
        .flags = BA_CONCURRENT | BA_READ_MT | BA_GC | BA_CONC_ONLY             \
                 | BA_UNREG_READERS,                                           \
        .create = lh_create, .destroy = lh_destroy,                            \
        .thread_enter = slot_thread_enter, .thread_exit = lh_thread_exit,      \
        .share = lh_share, .insert = lh_insert, .lookup = lh_lookup,           \
        .remove = lh_remove, .iterate = lh_iterate, .read_batch = read_,       \
        .update = slot_update, .update_mw = NULL, .bulk = lh_bulk,             \
        .quiesce = lh_quiesce, .exact_bytes = NULL                             \
    }

const struct bench_adapter bench_hamt_slot = LH_SLOT_ADAPTER(
    "libhamt-slot",
    "libhamt, readers unknown to the collector (hamt_cell_acquire)",
    slot_read_batch);

const struct bench_adapter bench_hamt_slot_many = LH_SLOT_ADAPTER(
    "libhamt-getmany", "libhamt-slot, readers batch lookups (hamt_get_many)",
    slot_read_many);
