/*
 * adapt_ck.c - Concurrency Kit's ck_hs in single-writer / many-reader mode
 * (CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT) with ck_epoch reclamation.
 *
 *   ck_hs slot --> entry (malloc) = { ck_epoch_entry, key, val }
 *   ck_hs map  --> block (malloc) = { ck_epoch_entry header, map ... }
 *
 * ck_hs is a set of pointers; a map is a set of entries compared by key.
 * Readers wrap each batch of lookups in ck_epoch_begin()/ck_epoch_end() on
 * their own epoch record.  The single writer stores a new value into the
 * key's entry in place (an atomic store of the word, which readers load
 * atomically: the values are words, so nothing needs reclaiming, the
 * fastest correct update ck_hs allows), inserts a new key's entry with
 * ck_hs_put() and retires a removed one with ck_epoch_call(); the table
 * itself, when ck_hs grows it, is retired the same way through the
 * allocator's deferred free.  The writer polls the epoch (ck_epoch_poll)
 * every CK_POLL_EVERY updates to run what is safe to free.  Several
 * writers (the read-ratio sweep) serialise on a mutex, as ck_hs's SPMC
 * contract requires.
 */
#include "bench.h"

#include <ck_epoch.h>
#include <ck_hs.h>

#include <stdlib.h>
#include <string.h>

#define CK_POLL_EVERY 128

struct ck_entry {
    ck_epoch_entry_t ep;
    bkey key;
    uint64_t val;
};

struct ck_state {
    ck_hs_t hs;
    ck_epoch_t epoch;
    enum bkind kind;
    ck_epoch_record_t *wrec; /* record of the thread now writing */
    unsigned long nupd;
    pthread_mutex_t wmu; /* writers; also guards recs */
    ck_epoch_record_t **recs;
    size_t nrecs;
};

/* Allocator: a ck_epoch_entry header before every block ck_hs asks for. */
struct ck_block {
    ck_epoch_entry_t ep;
    unsigned long pad[2]; /* keep the block 16-byte aligned */
};

static _Thread_local struct ck_state *ck_cur; /* map of the writing thread */

static void *
ck_blk_malloc(size_t n)
{
    struct ck_block *b = bench_xmalloc(sizeof *b + n);
    return b + 1;
}

static void
ck_blk_free_cb(ck_epoch_entry_t *e)
{
    free(e); /* ep is the first member of struct ck_block */
}

static void
ck_blk_free(void *p, size_t n, bool defer)
{
    (void)n;
    if (p == NULL) {
        return;
    }
    struct ck_block *b = (struct ck_block *)p - 1;
    if (defer && ck_cur != NULL && ck_cur->wrec != NULL) {
        ck_epoch_call(ck_cur->wrec, &b->ep, ck_blk_free_cb);
    } else {
        free(b);
    }
}

static void *
ck_blk_realloc(void *p, size_t old, size_t n, bool defer)
{
    void *q = ck_blk_malloc(n);
    memcpy(q, p, old < n ? old : n);
    ck_blk_free(p, old, defer);
    return q;
}

static struct ck_malloc ck_allocator = {
    .malloc = ck_blk_malloc,
    .realloc = ck_blk_realloc,
    .free = ck_blk_free,
};

static unsigned long
ck_hash_u64(const void *obj, unsigned long seed)
{
    (void)seed;
    return bench_hash(BK_U64, ((const struct ck_entry *)obj)->key);
}

static unsigned long
ck_hash_str(const void *obj, unsigned long seed)
{
    (void)seed;
    return bench_hash(BK_STR, ((const struct ck_entry *)obj)->key);
}

static bool
ck_cmp_u64(const void *a, const void *b)
{
    return ((const struct ck_entry *)a)->key
           == ((const struct ck_entry *)b)->key;
}

static bool
ck_cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)(uintptr_t)((const struct ck_entry *)a)->key,
                  (const char *)(uintptr_t)((const struct ck_entry *)b)->key)
           == 0;
}

static void
ck_entry_free_cb(ck_epoch_entry_t *e)
{
    free(e); /* ep is the first member of struct ck_entry */
}

static void *
ck_create(enum bkind kind, size_t hint)
{
    (void)hint;
    struct ck_state *s = bench_xcalloc(1, sizeof *s);
    s->kind = kind;
    ck_epoch_init(&s->epoch);
    pthread_mutex_init(&s->wmu, NULL);
    if (!ck_hs_init(&s->hs, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT,
                    kind == BK_U64 ? ck_hash_u64 : ck_hash_str,
                    kind == BK_U64 ? ck_cmp_u64 : ck_cmp_str, &ck_allocator, 64,
                    0)) {
        abort();
    }
    return s;
}

static void *
ck_thread_enter(void *m)
{
    struct ck_state *s = m;
    pthread_mutex_lock(&s->wmu);
    ck_epoch_record_t *r = ck_epoch_recycle(&s->epoch, NULL);
    if (r == NULL) {
        if (posix_memalign((void **)&r, 64, sizeof *r) != 0) {
            abort();
        }
        ck_epoch_register(&s->epoch, r, NULL);
        s->recs = realloc(s->recs, (s->nrecs + 1) * sizeof *s->recs);
        if (s->recs == NULL) {
            abort();
        }
        s->recs[s->nrecs++] = r;
    }
    pthread_mutex_unlock(&s->wmu);
    return r;
}

static void
ck_thread_exit(void *m, void *t)
{
    (void)m;
    ck_epoch_record_t *r = t;
    /* Run this record's deferred frees before handing it back. */
    ck_epoch_barrier(r);
    ck_epoch_unregister(r);
}

static void
ck_destroy(void *m)
{
    struct ck_state *s = m;
    ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
    void *obj;
    while (ck_hs_next(&s->hs, &it, &obj)) {
        free(obj);
    }
    ck_cur = NULL;
    ck_hs_destroy(&s->hs);
    for (size_t i = 0; i < s->nrecs; i++) {
        free(s->recs[i]);
    }
    free(s->recs);
    pthread_mutex_destroy(&s->wmu);
    free(s);
}

static inline void
ck_begin_write(struct ck_state *s, ck_epoch_record_t *r)
{
    ck_cur = s;
    s->wrec = r;
}

static inline void
ck_end_write(struct ck_state *s, ck_epoch_record_t *r)
{
    if (++s->nupd % CK_POLL_EVERY == 0) {
        ck_epoch_poll(r);
    }
}

static bool
ck_put(struct ck_state *s, ck_epoch_record_t *r, bkey k, uint64_t v)
{
    struct ck_entry probe;
    probe.key = k;
    unsigned long h = CK_HS_HASH(&s->hs, s->hs.hf, &probe);
    ck_begin_write(s, r);
    struct ck_entry *old = ck_hs_get(&s->hs, h, &probe);
    if (old != NULL) {
        ck_pr_store_64(&old->val, v); /* readers: ck_pr_load_64 in ck_get */
        ck_end_write(s, r);
        return false;
    }
    struct ck_entry *e = bench_xmalloc(sizeof *e);
    e->key = k;
    e->val = v;
    /* The only writer, and the key is absent: fails only without memory. */
    if (!ck_hs_put(&s->hs, h, e)) {
        abort();
    }
    ck_end_write(s, r);
    return true;
}

static bool
ck_insert(void *m, void *t, bkey k, uint64_t v)
{
    return ck_put(m, t, k, v);
}

static inline bool
ck_get(struct ck_state *s, bkey k, uint64_t *v)
{
    /* Call inside an epoch section (or as the writer). */
    struct ck_entry probe;
    probe.key = k;
    const struct ck_entry *e =
        ck_hs_get(&s->hs, CK_HS_HASH(&s->hs, s->hs.hf, &probe), &probe);
    if (e == NULL) {
        return false;
    }
    *v = ck_pr_load_64(&e->val); /* the writer may store it meanwhile */
    return true;
}

static bool
ck_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    ck_epoch_record_t *r = t;
    ck_epoch_begin(r, NULL);
    bool found = ck_get(m, k, v);
    ck_epoch_end(r, NULL);
    return found;
}

static bool
ck_remove(void *m, void *t, bkey k)
{
    struct ck_state *s = m;
    ck_epoch_record_t *r = t;
    struct ck_entry probe;
    probe.key = k;
    ck_begin_write(s, r);
    struct ck_entry *e =
        ck_hs_remove(&s->hs, CK_HS_HASH(&s->hs, s->hs.hf, &probe), &probe);
    if (e != NULL) {
        ck_epoch_call(r, &e->ep, ck_entry_free_cb);
    }
    ck_end_write(s, r);
    return e != NULL;
}

static size_t
ck_iterate(void *m, void *t, uint64_t *sum)
{
    struct ck_state *s = m;
    ck_epoch_record_t *r = t;
    ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
    void *obj;
    size_t n = 0;
    uint64_t acc = 0;
    ck_epoch_begin(r, NULL);
    while (ck_hs_next_spmc(&s->hs, &it, &obj)) {
        acc += ck_pr_load_64(&((struct ck_entry *)obj)->val);
        n++;
    }
    ck_epoch_end(r, NULL);
    *sum += acc;
    return n;
}

static size_t
ck_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    ck_epoch_record_t *r = t;
    size_t hits = 0;
    uint64_t acc = 0;
    ck_epoch_begin(r, NULL); /* one epoch section per batch */
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (ck_get(m, keys[i], &v)) {
            hits++;
            acc += v;
        }
    }
    ck_epoch_end(r, NULL);
    *sum += acc;
    return hits;
}

static void
ck_update(void *m, void *t, bkey k, uint64_t v)
{
    ck_put(m, t, k, v);
}

static void
ck_update_mw(void *m, void *t, bkey k, uint64_t v)
{
    struct ck_state *s = m;
    pthread_mutex_lock(&s->wmu);
    ck_put(m, t, k, v);
    pthread_mutex_unlock(&s->wmu);
}

static void
ck_remove_mw(void *m, void *t, bkey k)
{
    struct ck_state *s = m;
    pthread_mutex_lock(&s->wmu);
    (void)ck_remove(m, t, k);
    pthread_mutex_unlock(&s->wmu);
}

static void
ck_quiesce(void *m, void *t)
{
    (void)m;
    ck_epoch_barrier(t);
}

const struct bench_adapter bench_ck = {
    .name = "ck-hs",
    .desc = "Concurrency Kit ck_hs SPMC + ck_epoch; epoch per batch",
    .flags = BA_CONCURRENT | BA_READ_MT,
    .create = ck_create,
    .destroy = ck_destroy,
    .thread_enter = ck_thread_enter,
    .thread_exit = ck_thread_exit,
    .share = NULL,
    .insert = ck_insert,
    .lookup = ck_lookup,
    .remove = ck_remove,
    .iterate = ck_iterate,
    .read_batch = ck_read_batch,
    .update = ck_update,
    .update_mw = ck_update_mw,
    .insert_mw = ck_update_mw,
    .remove_mw = ck_remove_mw,
    .bulk = NULL,
    .quiesce = ck_quiesce,
};
