/*
 * adapt_glib.c - GLib's GHashTable, four ways:
 *
 *   ghash          no lock: single-thread and read-only runs only (the
 *                  speed reference every ratio is taken against);
 *   ghash-mutex    one pthread mutex around every operation;
 *   ghash-rwlock   one pthread rwlock (default attributes, i.e. glibc's
 *                  reader preference): readers share, the writer excludes;
 *   ghash-shards   32 GHashTables, each behind its own rwlock, the shard
 *                  chosen by the top 5 bits of the bench hash of the key.
 *
 * Keys: 64-bit integers live in the pointer word (g_direct_hash and
 * g_direct_equal, GLib's idiom for integer keys); strings use g_str_hash and
 * g_str_equal and are not copied (the driver owns them).  Values live in the
 * value word.  A locked reader takes the lock once per lookup, as a shared
 * map's get() does.
 */
#include "bench.h"

#include <glib.h>
#include <stdlib.h>

enum glib_lock { GL_NONE, GL_MUTEX, GL_RWLOCK };

struct glib_shard {
    GHashTable *h;
    pthread_mutex_t mu;
    pthread_rwlock_t rw;
} __attribute__((aligned(64)));

struct glib_map {
    enum bkind kind;
    enum glib_lock lock;
    unsigned nshards; /* 1 or 32 */
    struct glib_shard sh[];
};

static void *
glib_create_with(enum bkind kind, enum glib_lock lock, unsigned nshards)
{
    struct glib_map *g;
    if (posix_memalign((void **)&g, 64,
                       sizeof *g + nshards * sizeof(struct glib_shard))
        != 0) {
        abort();
    }
    g->kind = kind;
    g->lock = lock;
    g->nshards = nshards;
    for (unsigned i = 0; i < nshards; i++) {
        g->sh[i].h = kind == BK_U64
                         ? g_hash_table_new(g_direct_hash, g_direct_equal)
                         : g_hash_table_new(g_str_hash, g_str_equal);
        pthread_mutex_init(&g->sh[i].mu, NULL);
        pthread_rwlock_init(&g->sh[i].rw, NULL);
    }
    return g;
}

static void *
glib_create(enum bkind kind, size_t hint)
{
    (void)hint;
    return glib_create_with(kind, GL_NONE, 1);
}

static void *
glib_mutex_create(enum bkind kind, size_t hint)
{
    (void)hint;
    return glib_create_with(kind, GL_MUTEX, 1);
}

static void *
glib_rwlock_create(enum bkind kind, size_t hint)
{
    (void)hint;
    return glib_create_with(kind, GL_RWLOCK, 1);
}

static void *
glib_shards_create(enum bkind kind, size_t hint)
{
    (void)hint;
    return glib_create_with(kind, GL_RWLOCK, 32);
}

static void
glib_destroy(void *m)
{
    struct glib_map *g = m;
    for (unsigned i = 0; i < g->nshards; i++) {
        g_hash_table_destroy(g->sh[i].h);
        pthread_mutex_destroy(&g->sh[i].mu);
        pthread_rwlock_destroy(&g->sh[i].rw);
    }
    free(g);
}

static void *
glib_thread_enter(void *m)
{
    return m;
}

static void
glib_thread_exit(void *m, void *t)
{
    (void)m;
    (void)t;
}

static inline struct glib_shard *
glib_shard(struct glib_map *g, bkey k)
{
    if (g->nshards == 1) {
        return &g->sh[0];
    }
    return &g->sh[bench_hash(g->kind, k) >> 59];
}

static inline void
glib_rdlock(struct glib_map *g, struct glib_shard *s)
{
    if (g->lock == GL_MUTEX) {
        pthread_mutex_lock(&s->mu);
    } else if (g->lock == GL_RWLOCK) {
        pthread_rwlock_rdlock(&s->rw);
    }
}

static inline void
glib_wrlock(struct glib_map *g, struct glib_shard *s)
{
    if (g->lock == GL_MUTEX) {
        pthread_mutex_lock(&s->mu);
    } else if (g->lock == GL_RWLOCK) {
        pthread_rwlock_wrlock(&s->rw);
    }
}

static inline void
glib_unlock(struct glib_map *g, struct glib_shard *s)
{
    if (g->lock == GL_MUTEX) {
        pthread_mutex_unlock(&s->mu);
    } else if (g->lock == GL_RWLOCK) {
        pthread_rwlock_unlock(&s->rw);
    }
}

#define GK(k) ((gpointer)(uintptr_t)(k))

static bool
glib_insert(void *m, void *t, bkey k, uint64_t v)
{
    (void)t;
    struct glib_map *g = m;
    struct glib_shard *s = glib_shard(g, k);
    glib_wrlock(g, s);
    gboolean fresh = g_hash_table_insert(s->h, GK(k), GK(v));
    glib_unlock(g, s);
    return fresh;
}

static bool
glib_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    (void)t;
    struct glib_map *g = m;
    struct glib_shard *s = glib_shard(g, k);
    glib_rdlock(g, s);
    /* Values are never 0, so NULL means absent. */
    gpointer p = g_hash_table_lookup(s->h, GK(k));
    glib_unlock(g, s);
    if (p == NULL) {
        return false;
    }
    *v = (uint64_t)(uintptr_t)p;
    return true;
}

static bool
glib_remove(void *m, void *t, bkey k)
{
    (void)t;
    struct glib_map *g = m;
    struct glib_shard *s = glib_shard(g, k);
    glib_wrlock(g, s);
    gboolean r = g_hash_table_remove(s->h, GK(k));
    glib_unlock(g, s);
    return r;
}

static size_t
glib_iterate(void *m, void *t, uint64_t *sum)
{
    (void)t;
    struct glib_map *g = m;
    size_t n = 0;
    uint64_t acc = 0;
    for (unsigned i = 0; i < g->nshards; i++) {
        struct glib_shard *s = &g->sh[i];
        GHashTableIter it;
        gpointer k, v;
        glib_rdlock(g, s);
        g_hash_table_iter_init(&it, s->h);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            acc += (uint64_t)(uintptr_t)v;
            n++;
        }
        glib_unlock(g, s);
    }
    *sum += acc;
    return n;
}

static size_t
glib_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    size_t hits = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (glib_lookup(m, t, keys[i], &v)) {
            hits++;
            acc += v;
        }
    }
    *sum += acc;
    return hits;
}

static void
glib_update(void *m, void *t, bkey k, uint64_t v)
{
    glib_insert(m, t, k, v);
}

/* The locked variants lock inside insert and remove: safe for writers. */
static void
glib_insert_mw(void *m, void *t, bkey k, uint64_t v)
{
    (void)glib_insert(m, t, k, v);
}

static void
glib_remove_mw(void *m, void *t, bkey k)
{
    (void)glib_remove(m, t, k);
}

static void
glib_quiesce(void *m, void *t)
{
    (void)m;
    (void)t;
}

#define GLIB_COMMON                                                            \
    .destroy = glib_destroy, .thread_enter = glib_thread_enter,                \
    .thread_exit = glib_thread_exit, .share = NULL, .insert = glib_insert,     \
    .lookup = glib_lookup, .remove = glib_remove, .iterate = glib_iterate,     \
    .read_batch = glib_read_batch, .bulk = NULL, .quiesce = glib_quiesce

const struct bench_adapter bench_glib = {
    .name = "ghash",
    .desc = "GHashTable, no lock (single-thread and read-only runs)",
    .flags = BA_READ_MT,
    .create = glib_create,
    .update = NULL,
    .update_mw = NULL,
    GLIB_COMMON,
};

const struct bench_adapter bench_glib_mutex = {
    .name = "ghash-mutex",
    .desc = "GHashTable behind one pthread mutex",
    .flags = BA_CONCURRENT | BA_READ_MT,
    .create = glib_mutex_create,
    .update = glib_update,
    .update_mw = glib_update,
    .insert_mw = glib_insert_mw,
    .remove_mw = glib_remove_mw,
    GLIB_COMMON,
};

const struct bench_adapter bench_glib_rwlock = {
    .name = "ghash-rwlock",
    .desc = "GHashTable behind one pthread rwlock",
    .flags = BA_CONCURRENT | BA_READ_MT,
    .create = glib_rwlock_create,
    .update = glib_update,
    .update_mw = glib_update,
    .insert_mw = glib_insert_mw,
    .remove_mw = glib_remove_mw,
    GLIB_COMMON,
};

const struct bench_adapter bench_glib_shards = {
    .name = "ghash-shards",
    .desc = "32 GHashTables, each behind its own rwlock",
    .flags = BA_CONCURRENT | BA_READ_MT,
    .create = glib_shards_create,
    .update = glib_update,
    .update_mw = glib_update,
    .insert_mw = glib_insert_mw,
    .remove_mw = glib_remove_mw,
    GLIB_COMMON,
};
