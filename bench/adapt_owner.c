/*
 * adapt_owner.c - one owner thread alone touches a GHashTable; every other
 * thread sends it requests through a bounded queue and waits for the reply
 * (the channel / CSP design).
 *
 *   caller:  req on its own stack --push--> ring[OWNER_QCAP] --pop--> owner
 *            sem_wait(&tctx->done)  <--------- sem_post ------------- owner
 *
 * The queue is a ring of request pointers under one mutex with two
 * condition variables.  Backpressure: a caller that finds the ring full
 * blocks on `not_full` until the owner drains it.  The owner takes every
 * queued request at once, then answers them outside the lock.  A reader's
 * batch is one round trip per lookup (the owner answers lookups, there is
 * no snapshot to hand out).
 */
#include "bench.h"

#include <glib.h>
#include <semaphore.h>
#include <stdlib.h>

#define OWNER_QCAP 64

enum owner_op { OP_INSERT, OP_LOOKUP, OP_REMOVE, OP_ITERATE, OP_BULK, OP_STOP };

struct owner_tctx {
    sem_t done;
};

struct owner_req {
    enum owner_op op;
    bkey k;
    uint64_t v;
    bool ok;
    size_t n;
    const bkey *keys;
    const uint64_t *vals;
    struct owner_tctx *t;
};

struct owner_map {
    enum bkind kind;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    unsigned head, count;
    struct owner_req *ring[OWNER_QCAP];
};

static void
owner_serve(GHashTable *h, struct owner_req *r)
{
    switch (r->op) {
    case OP_INSERT:
        r->ok = g_hash_table_insert(h, (gpointer)(uintptr_t)r->k,
                                    (gpointer)(uintptr_t)r->v);
        break;
    case OP_LOOKUP: {
        gpointer p = g_hash_table_lookup(h, (gpointer)(uintptr_t)r->k);
        r->ok = p != NULL;
        r->v = (uint64_t)(uintptr_t)p;
        break;
    }
    case OP_REMOVE:
        r->ok = g_hash_table_remove(h, (gpointer)(uintptr_t)r->k);
        break;
    case OP_ITERATE: {
        GHashTableIter it;
        gpointer k, v;
        uint64_t acc = 0;
        size_t n = 0;
        g_hash_table_iter_init(&it, h);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            acc += (uint64_t)(uintptr_t)v;
            n++;
        }
        r->v = acc;
        r->n = n;
        break;
    }
    case OP_BULK:
        for (size_t i = 0; i < r->n; i++) {
            g_hash_table_insert(h, (gpointer)(uintptr_t)r->keys[i],
                                (gpointer)(uintptr_t)r->vals[i]);
        }
        break;
    case OP_STOP:
        break;
    }
}

static void *
owner_main(void *arg)
{
    struct owner_map *o = arg;
    GHashTable *h = o->kind == BK_U64
                        ? g_hash_table_new(g_direct_hash, g_direct_equal)
                        : g_hash_table_new(g_str_hash, g_str_equal);
    struct owner_req *batch[OWNER_QCAP];
    bool stop = false;
    while (!stop) {
        pthread_mutex_lock(&o->mu);
        while (o->count == 0) {
            pthread_cond_wait(&o->not_empty, &o->mu);
        }
        unsigned n = o->count;
        for (unsigned i = 0; i < n; i++) {
            batch[i] = o->ring[(o->head + i) % OWNER_QCAP];
        }
        o->head = (o->head + n) % OWNER_QCAP;
        o->count = 0;
        pthread_cond_broadcast(&o->not_full);
        pthread_mutex_unlock(&o->mu);
        for (unsigned i = 0; i < n; i++) {
            struct owner_req *r = batch[i];
            if (r->op == OP_STOP) {
                stop = true;
            }
            owner_serve(h, r);
            sem_post(&r->t->done);
        }
    }
    g_hash_table_destroy(h);
    return NULL;
}

static void
owner_call(struct owner_map *o, struct owner_tctx *t, struct owner_req *r)
{
    r->t = t;
    pthread_mutex_lock(&o->mu);
    while (o->count == OWNER_QCAP) {
        pthread_cond_wait(&o->not_full, &o->mu); /* backpressure */
    }
    o->ring[(o->head + o->count) % OWNER_QCAP] = r;
    o->count++;
    pthread_cond_signal(&o->not_empty);
    pthread_mutex_unlock(&o->mu);
    while (sem_wait(&t->done) != 0) {
        /* EINTR (the collector's stop signal): wait again. */
    }
}

static void *
owner_create(enum bkind kind, size_t hint)
{
    (void)hint;
    struct owner_map *o = bench_xcalloc(1, sizeof *o);
    o->kind = kind;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->not_full, NULL);
    pthread_cond_init(&o->not_empty, NULL);
    if (pthread_create(&o->thread, NULL, owner_main, o) != 0) {
        abort();
    }
    return o;
}

static void *
owner_thread_enter(void *m)
{
    (void)m;
    struct owner_tctx *t = bench_xmalloc(sizeof *t);
    sem_init(&t->done, 0, 0);
    return t;
}

static void
owner_thread_exit(void *m, void *t)
{
    (void)m;
    struct owner_tctx *c = t;
    sem_destroy(&c->done);
    free(c);
}

static void
owner_destroy(void *m)
{
    struct owner_map *o = m;
    struct owner_tctx *t = owner_thread_enter(m);
    struct owner_req r = {.op = OP_STOP};
    owner_call(o, t, &r);
    owner_thread_exit(m, t);
    pthread_join(o->thread, NULL);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->not_full);
    pthread_cond_destroy(&o->not_empty);
    free(o);
}

static bool
owner_insert(void *m, void *t, bkey k, uint64_t v)
{
    struct owner_req r = {.op = OP_INSERT, .k = k, .v = v};
    owner_call(m, t, &r);
    return r.ok;
}

static bool
owner_lookup(void *m, void *t, bkey k, uint64_t *v)
{
    struct owner_req r = {.op = OP_LOOKUP, .k = k};
    owner_call(m, t, &r);
    if (r.ok) {
        *v = r.v;
    }
    return r.ok;
}

static bool
owner_remove(void *m, void *t, bkey k)
{
    struct owner_req r = {.op = OP_REMOVE, .k = k};
    owner_call(m, t, &r);
    return r.ok;
}

static size_t
owner_iterate(void *m, void *t, uint64_t *sum)
{
    struct owner_req r = {.op = OP_ITERATE};
    owner_call(m, t, &r);
    *sum += r.v;
    return r.n;
}

static size_t
owner_read_batch(void *m, void *t, const bkey *keys, size_t n, uint64_t *sum)
{
    size_t hits = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (owner_lookup(m, t, keys[i], &v)) {
            hits++;
            acc += v;
        }
    }
    *sum += acc;
    return hits;
}

static void
owner_update(void *m, void *t, bkey k, uint64_t v)
{
    owner_insert(m, t, k, v);
}

static void
owner_remove_mw(void *m, void *t, bkey k)
{
    (void)owner_remove(m, t, k);
}

static void
owner_bulk(void *m, void *t, const bkey *keys, const uint64_t *vals, size_t n)
{
    struct owner_req r = {.op = OP_BULK, .keys = keys, .vals = vals, .n = n};
    owner_call(m, t, &r);
}

static void
owner_quiesce(void *m, void *t)
{
    (void)m;
    (void)t;
}

const struct bench_adapter bench_owner = {
    .name = "owner-thread",
    .desc = "one owner thread + GHashTable, bounded request queue",
    .flags = BA_CONCURRENT | BA_READ_MT | BA_ROUNDTRIP,
    .create = owner_create,
    .destroy = owner_destroy,
    .thread_enter = owner_thread_enter,
    .thread_exit = owner_thread_exit,
    .share = NULL,
    .insert = owner_insert,
    .lookup = owner_lookup,
    .remove = owner_remove,
    .iterate = owner_iterate,
    .read_batch = owner_read_batch,
    .update = owner_update,
    .update_mw = owner_update,
    .insert_mw = owner_update,
    .remove_mw = owner_remove_mw,
    .bulk = owner_bulk,
    .quiesce = owner_quiesce,
};
