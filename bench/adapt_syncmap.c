/*
 * adapt_syncmap.c - the algorithm of Go's sync.Map (src/sync/map.go, the
 * read/dirty design of Go 1.9 to 1.23; Go 1.24 replaced it with a
 * concurrent hash trie) written in C for the bench.  Written from the
 * algorithm's description, not translated from its code.
 *
 *   state (uncollectable) --read (atomic)--> sm_read {tab, amended}
 *     | mu (mutex)                                |
 *     | dirty ------> sm_tab (mutable, under mu)  v
 *     | misses                                  sm_tab (never written once
 *                                                published as read)
 *   sm_tab slot = {key, entry *}    entry = { atomic word p }
 *
 * The algorithm:
 *   - Load: one atomic load of `read`, a probe of its table.  A key absent
 *     there while `amended` (the dirty table holds keys the read table
 *     lacks) takes the mutex, looks again in read, then in dirty, and
 *     counts a miss.  Once the misses reach the dirty table's key count the
 *     dirty table is promoted: it becomes the read table (one pointer
 *     store) and dirty is emptied.
 *   - Store of a key present in the read table: a CAS on the entry's word,
 *     no lock, unless the entry is expunged.  Otherwise under the mutex:
 *     an expunged read entry is revived and put back into dirty; a dirty
 *     entry is written; a new key goes into dirty, and if dirty was empty
 *     it is first rebuilt by copying every live entry of the read table
 *     (O(n)), marking deleted entries (word nil) expunged so that they are
 *     not copied, and the read table is republished with amended set.
 *   - Delete: the key's entry word goes to nil (found in read: no lock);
 *     a key only in dirty is removed from dirty under the mutex (a miss).
 *   - Range (iterate, and `share` before a concurrent phase): promotes a
 *     dirty table first, then walks the read table.
 * Entry word states: a value (live), nil (deleted; the dirty table, if
 * any, holds the same entry), expunged (deleted and absent from dirty).
 *
 * Where the C version differs, and why:
 *   - Go's entry holds an atomic pointer to a boxed interface value, and
 *     Store allocates the box.  Here values are 64-bit words that are
 *     never 0, so the entry holds the word itself: 0 is nil and
 *     SM_EXPUNGED (all ones, never a bench value) is expunged.  This saves
 *     an allocation per Store and a dependent load per Load, so the C
 *     version is, if anything, faster than Go's for the bench's values.
 *   - Go's maps are its runtime's hash maps; here both tables are open
 *     addressing with linear probing (bench_hash, at most half full),
 *     the read table immutable, the dirty table growing by doubling and
 *     deleting by backward shift under the mutex.
 *   - Go's collector frees replaced read tables; here the tables, read
 *     records and entries come from the Boehm collector, the scheme the
 *     cow-map and libhamt use, and every bench thread is registered.
 *   - Go's Mutex is a spinning, then parking, lock with starvation mode;
 *     here a default pthread mutex (glibc: futex, no spinning).
 * The bench's insert and update are Store, remove is Delete, lookups are
 * Load (each loading `read` again, as Go does), iterate is Range.  The
 * slow paths count what they did in plain fields under the mutex they
 * already hold (bench_syncmap_stats), so that the writers section can say
 * why a claim about sync.Map held or not; the lock-free paths count
 * nothing.
 */
#include "bench.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SM_EXPUNGED UINT64_MAX

struct sm_entry {
    _Atomic uint64_t p; /* a value, 0 (nil) or SM_EXPUNGED */
};

struct sm_slot {
    bkey key;
    struct sm_entry *e; /* NULL: empty slot */
};

struct sm_tab {
    size_t cap; /* power of two */
    size_t count;
    struct sm_slot slots[];
};

struct sm_read {
    struct sm_tab *tab;
    bool amended; /* dirty holds keys that tab lacks */
};

struct sm_map {
    _Atomic(struct sm_read *) read;
    pthread_mutex_t mu;
    struct sm_tab *dirty; /* under mu; NULL when empty */
    size_t misses;        /* under mu */
    enum bkind kind;
    /*
     * Under mu: what the slow paths did, for the writers section's
     * account of the claims.  Plain counts, each bumped where the mutex
     * is already held, so the fast paths are untouched.
     */
    struct bench_sm_stats st;
};

static struct sm_tab *
sm_tab_new(size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n + 2) {
        cap *= 2;
    }
    /* Scanned: the slots point to entries. */
    struct sm_tab *t = GC_MALLOC(sizeof *t + cap * sizeof(struct sm_slot));
    if (t == NULL) {
        abort();
    }
    t->cap = cap;
    t->count = 0;
    return t;
}

static size_t
sm_find(enum bkind kind, const struct sm_tab *t, bkey k)
{
    size_t mask = t->cap - 1;
    size_t i = bench_hash(kind, k) & mask;
    while (t->slots[i].e != NULL && !bench_key_eq(kind, t->slots[i].key, k)) {
        i = (i + 1) & mask;
    }
    return i;
}

static struct sm_entry *
sm_tab_get(enum bkind kind, const struct sm_tab *t, bkey k)
{
    return t == NULL ? NULL : t->slots[sm_find(kind, t, k)].e;
}

/* Adds k -> e to a table only the mutex holder writes (no replace). */
static void sm_tab_put(enum bkind kind, struct sm_tab **tp, bkey k,
                       struct sm_entry *e);

static void
sm_tab_put(enum bkind kind, struct sm_tab **tp, bkey k, struct sm_entry *e)
{
    struct sm_tab *t = *tp;
    if ((t->count + 1) * 2 > t->cap) {
        struct sm_tab *n = sm_tab_new(t->count + 1);
        for (size_t i = 0; i < t->cap; i++) {
            if (t->slots[i].e != NULL) {
                size_t j = sm_find(kind, n, t->slots[i].key);
                n->slots[j] = t->slots[i];
                n->count++;
            }
        }
        *tp = t = n; /* the old table was never seen by a reader */
    }
    size_t i = sm_find(kind, t, k);
    t->slots[i].key = k;
    t->slots[i].e = e;
    t->count++;
}

/* Removes k from a dirty table (backward-shift deletion). */
static void
sm_tab_del(enum bkind kind, struct sm_tab *t, bkey k)
{
    size_t mask = t->cap - 1;
    size_t i = sm_find(kind, t, k);
    if (t->slots[i].e == NULL) {
        return;
    }
    t->count--;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        if (t->slots[j].e == NULL) {
            break;
        }
        size_t h = bench_hash(kind, t->slots[j].key) & mask;
        /* Move j into the hole at i unless its home lies in (i, j]. */
        bool stay = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stay) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].e = NULL;
}

static struct sm_entry *
sm_entry_new(uint64_t v)
{
    struct sm_entry *e = GC_MALLOC_ATOMIC(sizeof *e); /* holds no pointer */
    if (e == NULL) {
        abort();
    }
    atomic_init(&e->p, v);
    return e;
}

static struct sm_read *
sm_read_new(struct sm_tab *t, bool amended)
{
    struct sm_read *r = GC_MALLOC(sizeof *r);
    if (r == NULL) {
        abort();
    }
    r->tab = t;
    r->amended = amended;
    return r;
}

static inline struct sm_read *
sm_load_read(struct sm_map *s)
{
    /*
     * ORDER: acquire; pairs with the release stores in sm_publish(): the
     * record and its table were fully written before.
     */
    return atomic_load_explicit(&s->read, memory_order_acquire);
}

static inline void
sm_publish(struct sm_map *s, struct sm_read *r)
{
    /* ORDER: release; see sm_load_read(). */
    atomic_store_explicit(&s->read, r, memory_order_release);
}

/* A live value of e, or false for nil/expunged. */
static inline bool
sm_entry_load(struct sm_entry *e, uint64_t *v)
{
    /* ORDER: relaxed suffices for a word; acquire kept for Go's model. */
    uint64_t p = atomic_load_explicit(&e->p, memory_order_acquire);
    if (p == 0 || p == SM_EXPUNGED) {
        return false;
    }
    *v = p;
    return true;
}

/* Counts a miss under mu; promotes dirty once misses reach its size. */
static void
sm_miss_locked(struct sm_map *s)
{
    if (++s->misses < (s->dirty != NULL ? s->dirty->count : 0)) {
        return;
    }
    sm_publish(s, sm_read_new(s->dirty, false));
    s->dirty = NULL;
    s->misses = 0;
    s->st.promotions++;
}

/* Entry nil -> expunged under mu; true if it is (now) expunged. */
static bool
sm_try_expunge_locked(struct sm_entry *e)
{
    uint64_t p = atomic_load_explicit(&e->p, memory_order_relaxed);
    while (p == 0) {
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, SM_EXPUNGED,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed)) {
            return true;
        }
    }
    return p == SM_EXPUNGED;
}

/* Rebuilds an empty dirty table from read's live entries (O(n)). */
static void
sm_dirty_locked(struct sm_map *s)
{
    if (s->dirty != NULL) {
        return;
    }
    struct sm_tab *rt = sm_load_read(s)->tab;
    struct sm_tab *d = sm_tab_new(rt->count);
    for (size_t i = 0; i < rt->cap; i++) {
        struct sm_entry *e = rt->slots[i].e;
        if (e != NULL && !sm_try_expunge_locked(e)) {
            sm_tab_put(s->kind, &d, rt->slots[i].key, e);
        }
    }
    s->dirty = d;
    s->st.rebuilds++;
    s->st.rebuilt += d->count;
}

/* Adds k -> e to dirty, counting a doubling of the table. */
static void
sm_dirty_put_locked(struct sm_map *s, bkey k, struct sm_entry *e)
{
    struct sm_tab *before = s->dirty;
    sm_tab_put(s->kind, &s->dirty, k, e);
    if (s->dirty != before) {
        s->st.growths++;
        s->st.grown += s->dirty->count - 1;
    }
}

static bool
sm_load(struct sm_map *s, bkey k, uint64_t *v)
{
    struct sm_read *r = sm_load_read(s);
    struct sm_entry *e = sm_tab_get(s->kind, r->tab, k);
    if (e == NULL && r->amended) {
        pthread_mutex_lock(&s->mu);
        r = sm_load_read(s); /* promoted meanwhile? */
        e = sm_tab_get(s->kind, r->tab, k);
        if (e == NULL && r->amended) {
            e = sm_tab_get(s->kind, s->dirty, k);
            s->st.misses++;
            sm_miss_locked(s);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return e != NULL && sm_entry_load(e, v);
}

/* CAS the word to v unless expunged. */
static bool
sm_try_swap(struct sm_entry *e, uint64_t v)
{
    uint64_t p = atomic_load_explicit(&e->p, memory_order_relaxed);
    while (p != SM_EXPUNGED) {
        /* ORDER: release on success: Go's Store publishes the value. */
        if (atomic_compare_exchange_weak_explicit(
                &e->p, &p, v, memory_order_release, memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

/* Store; returns true if the key had no live value before. */
static bool
sm_store(struct sm_map *s, bkey k, uint64_t v)
{
    struct sm_read *r = sm_load_read(s);
    struct sm_entry *e = sm_tab_get(s->kind, r->tab, k);
    if (e != NULL) {
        uint64_t old = atomic_load_explicit(&e->p, memory_order_relaxed);
        if (old != SM_EXPUNGED && sm_try_swap(e, v)) {
            return old == 0;
        }
    }
    bool fresh = false;
    pthread_mutex_lock(&s->mu);
    s->st.locked_stores++;
    r = sm_load_read(s);
    e = sm_tab_get(s->kind, r->tab, k);
    if (e != NULL) {
        uint64_t exp = SM_EXPUNGED;
        /* Revive an expunged entry: it must be in dirty again. */
        if (atomic_compare_exchange_strong_explicit(
                &e->p, &exp, 0, memory_order_relaxed, memory_order_relaxed)) {
            sm_dirty_put_locked(s, k, e);
        }
        fresh = atomic_exchange_explicit(&e->p, v, memory_order_release) == 0;
    } else if ((e = sm_tab_get(s->kind, s->dirty, k)) != NULL) {
        fresh = atomic_exchange_explicit(&e->p, v, memory_order_release) == 0;
    } else {
        if (!r->amended) {
            sm_dirty_locked(s);
            sm_publish(s, sm_read_new(r->tab, true));
        }
        sm_dirty_put_locked(s, k, sm_entry_new(v));
        s->st.new_keys++;
        fresh = true;
    }
    pthread_mutex_unlock(&s->mu);
    return fresh;
}

static bool
sm_delete(struct sm_map *s, bkey k)
{
    struct sm_read *r = sm_load_read(s);
    struct sm_entry *e = sm_tab_get(s->kind, r->tab, k);
    if (e == NULL && r->amended) {
        pthread_mutex_lock(&s->mu);
        r = sm_load_read(s);
        e = sm_tab_get(s->kind, r->tab, k);
        if (e == NULL && r->amended) {
            e = sm_tab_get(s->kind, s->dirty, k);
            if (e != NULL) {
                sm_tab_del(s->kind, s->dirty, k);
            }
            s->st.misses++;
            sm_miss_locked(s);
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (e == NULL) {
        return false;
    }
    uint64_t p = atomic_load_explicit(&e->p, memory_order_relaxed);
    while (p != 0 && p != SM_EXPUNGED) {
        if (atomic_compare_exchange_weak_explicit(
                &e->p, &p, 0, memory_order_relaxed, memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

/* Range's first step: promote a dirty table so read holds every key. */
static struct sm_read *
sm_range_read(struct sm_map *s)
{
    struct sm_read *r = sm_load_read(s);
    if (r->amended) {
        pthread_mutex_lock(&s->mu);
        r = sm_load_read(s);
        if (r->amended) {
            r = sm_read_new(s->dirty, false);
            sm_publish(s, r);
            s->dirty = NULL;
            s->misses = 0;
            s->st.promotions++;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return r;
}

/* ---- adapter ---- */

void
bench_syncmap_stats(void *m, struct bench_sm_stats *st)
{
    struct sm_map *s = m;
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    memset(&s->st, 0, sizeof s->st);
    pthread_mutex_unlock(&s->mu);
}

static void *
syncmap_create(enum bkind kind, size_t hint)
{
    (void)hint;
    /* Uncollectable: it holds the only references to the tables. */
    struct sm_map *s = GC_MALLOC_UNCOLLECTABLE(sizeof *s);
    if (s == NULL) {
        abort();
    }
    s->kind = kind;
    pthread_mutex_init(&s->mu, NULL);
    s->dirty = NULL;
    s->misses = 0;
    memset(&s->st, 0, sizeof s->st);
    atomic_init(&s->read, sm_read_new(sm_tab_new(0), false));
    return s;
}

static void
syncmap_destroy(void *m)
{
    struct sm_map *s = m;
    pthread_mutex_destroy(&s->mu);
    GC_FREE(s);
}

static void *
syncmap_thread_enter(void *m)
{
    return m;
}

static void
syncmap_thread_exit(void *m, void *t)
{
    (void)m;
    (void)t;
}

static void
syncmap_share(void *m)
{
    (void)sm_range_read(m);
}

static bool
syncmap_insert(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    return sm_store(m, k, v);
}

static bool
syncmap_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    (void)t;
    return sm_load(m, k, v);
}

static bool
syncmap_remove(void *m, void *t, bkey k)
{
    (void)t;
    return sm_delete(m, k);
}

static size_t
syncmap_iterate(void *m, void *t, uint64_t *sum)
{
    (void)t;
    struct sm_tab *tab = sm_range_read(m)->tab;
    size_t n = 0;
    uint64_t acc = 0, v;
    for (size_t i = 0; i < tab->cap; i++) {
        if (tab->slots[i].e != NULL && sm_entry_load(tab->slots[i].e, &v)) {
            acc += v;
            n++;
        }
    }
    *sum += acc;
    return n;
}

static size_t
syncmap_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    size_t hits = 0;
    uint64_t acc = 0, v;
    for (size_t i = 0; i < n; i++) {
        if (sm_load(m, keys[i], &v)) {
            hits++;
            acc += v;
        }
    }
    *sum += acc;
    return hits;
}

static void
syncmap_update(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    (void)sm_store(m, k, v);
}

static void
syncmap_remove_mw(void *m, void *t, bkey k)
{
    (void)t;
    (void)sm_delete(m, k);
}

static void
syncmap_quiesce(void *m, void *t)
{
    (void)m;
    (void)t;
}

const struct bench_adapter bench_syncmap = {
    .name = "syncmap",
    .desc = "Go sync.Map's algorithm in C: lock-free read table, dirty "
            "table under a mutex, miss-count promotion",
    .flags = BA_CONCURRENT | BA_READ_MT | BA_GC,
    .create = syncmap_create,
    .destroy = syncmap_destroy,
    .thread_enter = syncmap_thread_enter,
    .thread_exit = syncmap_thread_exit,
    .share = syncmap_share,
    .insert = syncmap_insert,
    .lookup = syncmap_lookup,
    .remove = syncmap_remove,
    .iterate = syncmap_iterate,
    .read_batch = syncmap_read_batch,
    .update = syncmap_update,
    .update_mw = syncmap_update,
    .insert_mw = syncmap_update,
    .remove_mw = syncmap_remove_mw,
    .bulk = NULL,
    .quiesce = syncmap_quiesce,
};
