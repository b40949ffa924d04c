/*
 * adapt_cow.c - the naive immutable map: copy the whole table on every
 * update and publish the copy with one atomic pointer store.
 *
 *   state (uncollectable, scanned) --cur--> table (pointer-free)
 *                                           | cap | count | slots[cap] |
 *                                           slot = { key, val }, val 0 = empty
 *
 * The table is open addressing with linear probing, at most half full, and
 * backward-shift deletion (no tombstones).  Readers load `cur` once per
 * batch (acquire) and probe plain memory: lock-free, like libhamt.
 *
 * Reclamation: every copy comes from the Boehm collector, the same scheme
 * libhamt uses, so the comparison is of copying cost, not of reclamation
 * schemes.  A reader keeps its copy alive by holding the pointer on its
 * stack (every bench thread is registered with the collector).  Tables are
 * pointer-free (integer keys and values; string keys point into the
 * driver's malloc'ed key store, which outlives the map), so the collector
 * never scans them.  Several writers serialise on a mutex.
 *
 * Large tables.  A table of 1M entries is 32 MiB, and each update frees
 * one and asks for another.  A pointer into a free block that the
 * collector meets while marking (a stale pointer into a freed table, left
 * on a thread's stack) blacklists the page it points to, and bdwgc will
 * not place a large object over blacklisted pages if it can help it;
 * where every free run holds some, it places it there anyway and says so
 * ("Repeated allocation of very large block"), or grows the heap.  So the
 * tables come from GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE: only the first page
 * must be clear of such pointers, and in return the collector counts only
 * pointers to the first page as references.  Every holder of a table has
 * one: `cur`, and each function below keeps its pointer to the table
 * until its last access to it (GC_reachable_here), where an optimising
 * compiler could otherwise keep only a pointer into a later page.
 */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cow_slot {
    bkey key;
    uint64_t val;
};

struct cow_tab {
    size_t cap; /* a power of two */
    size_t count;
    struct cow_slot slots[];
};

struct cow_state {
    _Atomic(struct cow_tab *) cur;
    enum bkind kind;
    pthread_mutex_t wmu;
};

static struct cow_tab *
cow_alloc(size_t cap)
{
    struct cow_tab *t = GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(
        sizeof *t + cap * sizeof(struct cow_slot));
    if (t == NULL) {
        fprintf(stderr, "hamt-bench: copy-on-write table: out of memory\n");
        exit(2);
    }
    t->cap = cap;
    t->count = 0;
    return t;
}

static struct cow_tab *
cow_empty(size_t cap)
{
    struct cow_tab *t = cow_alloc(cap);
    memset(t->slots, 0, cap * sizeof(struct cow_slot));
    GC_reachable_here(t);
    return t;
}

static struct cow_tab *
cow_copy(const struct cow_tab *t)
{
    struct cow_tab *c = cow_alloc(t->cap);
    memcpy(c, t, sizeof *t + t->cap * sizeof(struct cow_slot));
    GC_reachable_here(c);
    return c;
}

/* Slot of k in t, or of the empty slot where it would go. */
static inline size_t
cow_find(enum bkind kind, const struct cow_tab *t, bkey k)
{
    size_t mask = t->cap - 1;
    size_t i = bench_hash(kind, k) & mask;
    while (t->slots[i].val != 0 && !bench_key_eq(kind, t->slots[i].key, k)) {
        i = (i + 1) & mask;
    }
    return i;
}

/* Insert or replace in an unpublished table (no growth). */
static bool
cow_put(enum bkind kind, struct cow_tab *t, bkey k, uint64_t v)
{
    size_t i = cow_find(kind, t, k);
    bool fresh = t->slots[i].val == 0;
    t->slots[i].key = k;
    t->slots[i].val = v;
    t->count += fresh;
    return fresh;
}

/* A fresh table of capacity cap holding every entry of t. */
static struct cow_tab *
cow_rehash(enum bkind kind, const struct cow_tab *t, size_t cap)
{
    struct cow_tab *n = cow_empty(cap);
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].val != 0) {
            cow_put(kind, n, t->slots[i].key, t->slots[i].val);
        }
    }
    return n;
}

static void *
cow_create(enum bkind kind, size_t hint)
{
    (void)hint;
    struct cow_state *s = GC_MALLOC_UNCOLLECTABLE(sizeof *s);
    if (s == NULL) {
        abort();
    }
    s->kind = kind;
    pthread_mutex_init(&s->wmu, NULL);
    atomic_store_explicit(&s->cur, cow_empty(8), memory_order_release);
    return s;
}

static void
cow_destroy(void *m)
{
    struct cow_state *s = m;
    atomic_store_explicit(&s->cur, NULL, memory_order_relaxed);
    pthread_mutex_destroy(&s->wmu);
    GC_FREE(s);
}

static void *
cow_thread_enter(void *m)
{
    return m;
}

static void
cow_thread_exit(void *m, void *t)
{
    (void)m;
    (void)t;
}

static inline struct cow_tab *
cow_load(struct cow_state *s)
{
    /* ORDER: acquire; pairs with the release store in cow_publish(). */
    return atomic_load_explicit(&s->cur, memory_order_acquire);
}

static inline void
cow_publish(struct cow_state *s, struct cow_tab *t)
{
    /* ORDER: release; the copy was fully written before it is published. */
    atomic_store_explicit(&s->cur, t, memory_order_release);
}

static bool
cow_insert(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct cow_state *s = m;
    struct cow_tab *cur = cow_load(s);
    /* Grow only for a new key: a replace keeps the count (and the size of
     * the copy a replace-only workload pays for). */
    bool grows = (cur->count + 1) * 2 > cur->cap
                 && cur->slots[cow_find(s->kind, cur, k)].val == 0;
    struct cow_tab *n =
        grows ? cow_rehash(s->kind, cur, cur->cap * 2) : cow_copy(cur);
    bool fresh = cow_put(s->kind, n, k, v);
    cow_publish(s, n);
    return fresh;
}

static inline bool
cow_get(enum bkind kind, const struct cow_tab *t, bkey k, uint64_t *v)
{
    size_t i = cow_find(kind, t, k);
    if (t->slots[i].val == 0) {
        return false;
    }
    *v = t->slots[i].val;
    return true;
}

static bool
cow_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    (void)t;
    struct cow_state *s = m;
    const struct cow_tab *c = cow_load(s);
    bool hit = cow_get(s->kind, c, k, v);
    GC_reachable_here(c);
    return hit;
}

static bool
cow_remove(void *m, void *t, bkey k)
{
    (void)t;
    struct cow_state *s = m;
    struct cow_tab *cur = cow_load(s);
    size_t i = cow_find(s->kind, cur, k);
    if (cur->slots[i].val == 0) {
        return false;
    }
    struct cow_tab *n = cow_copy(cur);
    size_t mask = n->cap - 1;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (n->slots[j].val == 0) {
            break;
        }
        size_t h = bench_hash(s->kind, n->slots[j].key) & mask;
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            n->slots[i] = n->slots[j];
            i = j;
        }
    }
    n->slots[i].val = 0;
    n->count--;
    cow_publish(s, n);
    return true;
}

static size_t
cow_iterate(void *m, void *t, uint64_t *sum)
{
    (void)t;
    struct cow_state *s = m;
    const struct cow_tab *c = cow_load(s);
    size_t n = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < c->cap; i++) {
        if (c->slots[i].val != 0) {
            acc += c->slots[i].val;
            n++;
        }
    }
    GC_reachable_here(c);
    *sum += acc;
    return n;
}

static size_t
cow_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    struct cow_state *s = m;
    const struct cow_tab *c = cow_load(s); /* one snapshot per batch */
    size_t hits = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (cow_get(s->kind, c, keys[i], &v)) {
            hits++;
            acc += v;
        }
    }
    GC_reachable_here(c);
    *sum += acc;
    return hits;
}

static void
cow_update(void *m, void *t, bkey k, uint64_t v)
{
    cow_insert(m, t, k, v);
}

static void
cow_update_mw(void *m, void *t, bkey k, uint64_t v)
{
    struct cow_state *s = m;
    pthread_mutex_lock(&s->wmu);
    cow_insert(m, t, k, v);
    pthread_mutex_unlock(&s->wmu);
}

static void
cow_remove_mw(void *m, void *t, bkey k)
{
    struct cow_state *s = m;
    pthread_mutex_lock(&s->wmu);
    (void)cow_remove(m, t, k);
    pthread_mutex_unlock(&s->wmu);
}

static void
cow_bulk(void *m, void *t, const bkey *keys, const uint64_t *vals, size_t n)
{
    (void)t;
    struct cow_state *s = m;
    struct cow_tab *cur = cow_load(s);
    size_t cap = cur->cap;
    while ((cur->count + n) * 2 > cap) {
        cap *= 2;
    }
    /* Build one private table, then publish it once. */
    struct cow_tab *b = cow_rehash(s->kind, cur, cap);
    for (size_t i = 0; i < n; i++) {
        cow_put(s->kind, b, keys[i], vals[i]);
    }
    cow_publish(s, b);
}

static void
cow_quiesce(void *m, void *t)
{
    (void)m;
    (void)t;
}

const struct bench_adapter bench_cow = {
    .name = "cow-map",
    .desc = "copy-on-write whole table, atomic publish, GC-reclaimed copies",
    .flags = BA_CONCURRENT | BA_READ_MT | BA_COPY_ALL | BA_GC,
    .create = cow_create,
    .destroy = cow_destroy,
    .thread_enter = cow_thread_enter,
    .thread_exit = cow_thread_exit,
    .share = NULL,
    .insert = cow_insert,
    .lookup = cow_lookup,
    .remove = cow_remove,
    .iterate = cow_iterate,
    .read_batch = cow_read_batch,
    .update = cow_update,
    .update_mw = cow_update_mw,
    .insert_mw = cow_update_mw,
    .remove_mw = cow_remove_mw,
    .bulk = cow_bulk,
    .quiesce = cow_quiesce,
};
