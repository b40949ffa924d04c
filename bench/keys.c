/*
 * keys.c - the keys of the workloads.  Key i is bench_key_u64(i) (util.c):
 * u64 keys are computed on demand, string keys are made once into
 * bench_str_keys, which keeps them alive for every map that stores them.
 * Keys 0 .. N-1 go into a map of N entries; keys N .. 2N-1 are misses.
 */
#include "bench.h"

#include <stdlib.h>

char (*bench_str_keys)[BENCH_STRLEN + 1];
static size_t str_nkeys;

void
keys_prepare(enum bkind kind, size_t n)
{
    if (kind != BK_STR || n <= str_nkeys) {
        return;
    }
    free(bench_str_keys);
    bench_str_keys = bench_xmalloc(n * sizeof *bench_str_keys);
    for (size_t i = 0; i < n; i++) {
        bench_key_str(i, bench_str_keys[i]);
    }
    str_nkeys = n;
}

void
keys_build(const struct bench_adapter *a, void *m, void *t, enum bkind kind,
           size_t from, size_t to)
{
    if (to <= from) {
        return;
    }
    if (a->bulk != NULL) {
        size_t n = to - from;
        bkey *k = bench_xmalloc(n * sizeof *k);
        uint64_t *v = bench_xmalloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++) {
            k[i] = key_stored(kind, from + i);
            v[i] = from + i + 1;
        }
        a->bulk(m, t, k, v, n);
        free(k);
        free(v);
        return;
    }
    for (size_t i = from; i < to; i++) {
        a->insert(m, t, key_stored(kind, i), i + 1);
    }
}
