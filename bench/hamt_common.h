/*
 * hamt_common.h - the pieces of libhamt's bench adapters that do not depend
 * on how the map is published: adapt_hamt.c (libhamt, libhamt-b16,
 * libhamt-slot) and adapt_combine.c (libhamt-combine) differ only in where
 * their snapshot comes from and how a writer publishes, so the lookups,
 * the walk, the batched reads and the bulk load live here once.
 *
 * Everything is static inline so that the timed paths compile as they did
 * when each adapter had its own copy (no call into another file).  WHO is
 * the adapter's name in the message of a failed call; the bench stops
 * (exit 2) on any failure, since a figure measured past one means nothing.
 */
#ifndef BENCH_HAMT_COMMON_H
#define BENCH_HAMT_COMMON_H

#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hamt.h>

static inline void
bh_die(const char *who, const char *what)
{
    fprintf(stderr, "hamt-bench: %s %s failed: %s\n", who, what,
            strerror(errno));
    exit(2);
}

/* A bench key as a libhamt key (u64 maps take the integer itself). */
static inline const void *
bh_key(bkey k)
{
    return (const void *)(uintptr_t)k;
}

/* An empty map of the bench's key kind. */
static inline const struct hamt *
bh_new(const char *who, enum bkind kind)
{
    const struct hamt *m =
        hamt_new(kind == BK_U64 ? HAMT_KEY_U64 : HAMT_KEY_STRING);

    if (m == NULL) {
        bh_die(who, "hamt_new");
    }
    return m;
}

/* Worker threads that read collector memory must be registered. */
static inline void
bh_thread_register(const char *who)
{
    if (hamt_thread_register() != 0) {
        bh_die(who, "hamt_thread_register");
    }
}

static inline bool
bh_lookup(const struct hamt *m, bkey k, uint64_t *v)
{
    void *val;
    if (!hamt_get(m, bh_key(k), &val)) {
        return false;
    }
    *v = (uint64_t)(uintptr_t)val;
    return true;
}

/* Walks m, adds its values to *sum; returns the entries seen. */
static inline size_t
bh_iterate(const struct hamt *m, uint64_t *sum)
{
    struct hamt_iter it;
    const void *k;
    void *v;
    size_t n = 0;
    uint64_t acc = 0;
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &k, &v)) {
        acc += (uint64_t)(uintptr_t)v;
        n++;
    }
    *sum += acc;
    return n;
}

/*
 * Looks the n keys up in one snapshot, one hamt_get each, as every other
 * competitor's read_batch does (one lookup call per key): the readers'
 * rows compare single lookups.  Adds the values found to *sum; returns
 * the hits.
 */
static inline size_t
bh_get_each(const struct hamt *snap, const bkey *keys, size_t n, uint64_t *sum)
{
    size_t hits = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (bh_lookup(snap, keys[i], &v)) {
            hits++;
            acc += v;
        }
    }
    *sum += acc;
    return hits;
}

/*
 * Looks the n keys up in one snapshot with hamt_get_many, adds the values
 * found to *sum; returns the hits.  Only the rows labelled as batched
 * (read_many, libhamt-getmany) use it.
 */
static inline size_t
bh_get_batch(const struct hamt *snap, const bkey *keys, size_t n, uint64_t *sum)
{
    size_t hits = 0;
    uint64_t acc = 0;
    enum { CHUNK = 64 };
    const void *hk[CHUNK];
    void *vals[CHUNK];
    bool found[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t c = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < c; j++) {
            hk[j] = bh_key(keys[i + j]);
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

/* cur with the n pairs set through one batch (the untimed builds). */
static inline const struct hamt *
bh_bulk(const char *who, const struct hamt *cur, const bkey *keys,
        const uint64_t *vals, size_t n)
{
    const void **k = malloc(n * sizeof *k);
    void **v = malloc(n * sizeof *v);
    struct hamt_batch *b = hamt_batch_begin(cur);
    if (k == NULL || v == NULL || b == NULL) {
        bh_die(who, "bulk set-up");
    }
    for (size_t i = 0; i < n; i++) {
        k[i] = bh_key(keys[i]);
        v[i] = (void *)(uintptr_t)vals[i];
    }
    if (hamt_batch_set_many(b, n, k, v, NULL) != 0) {
        bh_die(who, "hamt_batch_set_many");
    }
    cur = hamt_batch_finish(b);
    if (cur == NULL) {
        bh_die(who, "hamt_batch_finish");
    }
    free(k);
    free(v);
    return cur;
}

#endif
