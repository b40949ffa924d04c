/*
 * adapt_urcu.c - userspace-rcu's lock-free resizable hash table (rculfhash)
 * with the default (memb) flavour.
 *
 *   node (malloc) = { cds_lfht_node, key, val, rcu_head }
 *
 * Readers wrap each batch of lookups in one rcu_read_lock() section.  A
 * writer stores a present key's new value into its node in place (an
 * atomic store of the word, which readers load atomically: the values are
 * words, so nothing needs reclaiming, the fastest correct update rculfhash
 * allows), and adds an absent key's node with cds_lfht_add_replace()
 * (lock-free, any number of writers), freeing a node it replaced after all
 * with call_rcu() after a grace period; removal is cds_lfht_del() plus
 * call_rcu().  Every thread that
 * touches the table is an RCU reader thread: thread_enter() registers it
 * (counted, so nested adapters on one thread register once).  quiesce()
 * runs rcu_barrier() so deferred frees are done before memory accounting.
 */
#include "bench.h"

/* Inline the read-side fast paths, as liburcu recommends for speed. */
#define _LGPL_SOURCE 1
#include <urcu.h>
#include <urcu/rculfhash.h>

#include <stdlib.h>
#include <string.h>

struct urcu_node {
    struct cds_lfht_node n;
    bkey key;
    uint64_t val;
    struct rcu_head rh;
};

struct urcu_map {
    struct cds_lfht *ht;
    enum bkind kind;
};

static _Thread_local unsigned urcu_registered;

static void
urcu_enter_thread(void)
{
    if (urcu_registered++ == 0) {
        rcu_register_thread();
    }
}

static void
urcu_exit_thread(void)
{
    if (--urcu_registered == 0) {
        rcu_unregister_thread();
    }
}

static int
urcu_match_u64(struct cds_lfht_node *n, const void *key)
{
    const struct urcu_node *e = caa_container_of(n, struct urcu_node, n);
    return e->key == *(const bkey *)key;
}

static int
urcu_match_str(struct cds_lfht_node *n, const void *key)
{
    const struct urcu_node *e = caa_container_of(n, struct urcu_node, n);
    return strcmp((const char *)(uintptr_t)e->key,
                  (const char *)(uintptr_t) * (const bkey *)key)
           == 0;
}

static inline cds_lfht_match_fct
urcu_match(const struct urcu_map *u)
{
    return u->kind == BK_U64 ? urcu_match_u64 : urcu_match_str;
}

static void
urcu_free_node(struct rcu_head *rh)
{
    free(caa_container_of(rh, struct urcu_node, rh));
}

/*
 * The table starts with a bucket per expected entry (the hint, a power of
 * two, at least 1024).  Started small and left to grow, it did not keep
 * up: with CDS_LFHT_ACCOUNTING, rculfhash grows only when the count
 * reaches a power of two well above the buckets, and the resize runs later
 * in its own worker thread, so a large build ended with several entries
 * per bucket, how many depending on how far the worker had got
 * (bench/FINDINGS.md, "rculfhash's table size").
 */
static void *
urcu_create(enum bkind kind, size_t hint)
{
    unsigned long buckets = 1024;
    while (buckets < hint && buckets < (1UL << 30)) {
        buckets <<= 1;
    }
    struct urcu_map *u = bench_xmalloc(sizeof *u);
    u->kind = kind;
    u->ht = cds_lfht_new(buckets, 1024, 0,
                         CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    if (u->ht == NULL) {
        abort();
    }
    return u;
}

static void
urcu_destroy(void *m)
{
    struct urcu_map *u = m;
    struct cds_lfht_iter it;
    struct urcu_node *e;
    urcu_enter_thread();
    rcu_read_lock();
    cds_lfht_for_each_entry(u->ht, &it, e, n)
    {
        if (cds_lfht_del(u->ht, &e->n) == 0) {
            call_rcu(&e->rh, urcu_free_node);
        }
    }
    rcu_read_unlock();
    rcu_barrier();
    cds_lfht_destroy(u->ht, NULL);
    urcu_exit_thread();
    free(u);
}

static void *
urcu_thread_enter(void *m)
{
    urcu_enter_thread();
    return m;
}

static void
urcu_thread_exit(void *m, void *t)
{
    (void)m;
    (void)t;
    urcu_exit_thread();
}

static bool
urcu_insert(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct urcu_map *u = m;
    unsigned long h = bench_hash(u->kind, k);
    struct cds_lfht_iter it;
    rcu_read_lock();
    cds_lfht_lookup(u->ht, h, urcu_match(u), &k, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n != NULL) {
        /* Readers: uatomic_read in urcu_get.  A node another writer
         * deletes meanwhile takes the value with it, as if this update
         * had come first. */
        uatomic_set(&caa_container_of(n, struct urcu_node, n)->val, v);
        rcu_read_unlock();
        return false;
    }
    struct urcu_node *e = bench_xmalloc(sizeof *e);
    cds_lfht_node_init(&e->n);
    e->key = k;
    e->val = v;
    /* Replace, not add: another writer may have added k since the lookup. */
    struct cds_lfht_node *old =
        cds_lfht_add_replace(u->ht, h, urcu_match(u), &k, &e->n);
    rcu_read_unlock();
    if (old != NULL) {
        call_rcu(&caa_container_of(old, struct urcu_node, n)->rh,
                 urcu_free_node);
    }
    return old == NULL;
}

static inline bool
urcu_get(struct urcu_map *u, bkey k, uint64_t *v)
{
    /* Call inside a read-side section. */
    struct cds_lfht_iter it;
    cds_lfht_lookup(u->ht, bench_hash(u->kind, k), urcu_match(u), &k, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n == NULL) {
        return false;
    }
    *v = uatomic_read(&caa_container_of(n, struct urcu_node, n)->val);
    return true;
}

static bool
urcu_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    (void)t;
    rcu_read_lock();
    bool r = urcu_get(m, k, v);
    rcu_read_unlock();
    return r;
}

static bool
urcu_remove(void *m, void *t, bkey k)
{
    (void)t;
    struct urcu_map *u = m;
    struct cds_lfht_iter it;
    bool r = false;
    rcu_read_lock();
    cds_lfht_lookup(u->ht, bench_hash(u->kind, k), urcu_match(u), &k, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n != NULL && cds_lfht_del(u->ht, n) == 0) {
        call_rcu(&caa_container_of(n, struct urcu_node, n)->rh, urcu_free_node);
        r = true;
    }
    rcu_read_unlock();
    return r;
}

static size_t
urcu_iterate(void *m, void *t, uint64_t *sum)
{
    (void)t;
    struct urcu_map *u = m;
    struct cds_lfht_iter it;
    struct urcu_node *e;
    size_t cnt = 0;
    uint64_t acc = 0;
    rcu_read_lock();
    cds_lfht_for_each_entry(u->ht, &it, e, n)
    {
        acc += uatomic_read(&e->val);
        cnt++;
    }
    rcu_read_unlock();
    *sum += acc;
    return cnt;
}

static size_t
urcu_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    (void)t;
    size_t hits = 0;
    uint64_t acc = 0;
    rcu_read_lock(); /* one read-side section per batch */
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (urcu_get(m, keys[i], &v)) {
            hits++;
            acc += v;
        }
    }
    rcu_read_unlock();
    *sum += acc;
    return hits;
}

static void
urcu_update(void *m, void *t, bkey k, uint64_t v)
{
    urcu_insert(m, t, k, v);
}

/* Lock-free: any number of writers. */
static void
urcu_remove_mw(void *m, void *t, bkey k)
{
    (void)urcu_remove(m, t, k);
}

static void
urcu_quiesce(void *m, void *t)
{
    (void)m;
    (void)t;
    rcu_barrier();
}

const struct bench_adapter bench_urcu = {
    .name = "urcu-lfht",
    .desc = "userspace-rcu rculfhash; read section per batch, call_rcu",
    .flags = BA_CONCURRENT | BA_READ_MT,
    .create = urcu_create,
    .destroy = urcu_destroy,
    .thread_enter = urcu_thread_enter,
    .thread_exit = urcu_thread_exit,
    .share = NULL,
    .insert = urcu_insert,
    .lookup = urcu_lookup,
    .remove = urcu_remove,
    .iterate = urcu_iterate,
    .read_batch = urcu_read_batch,
    .update = urcu_update,
    .update_mw = urcu_update,
    .insert_mw = urcu_update,
    .remove_mw = urcu_remove_mw,
    .bulk = NULL,
    .quiesce = urcu_quiesce,
};
