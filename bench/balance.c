/*
 * balance.c - how evenly the keys spread: the chi-square statistic of the
 * N = conc_n keys of the bench over 32 buckets, with 31 degrees of freedom
 * (about 31 expected; p < 0.01 would be suspicious), for the 32 shards of
 * ghash-shards (the competitors' hash, top 5 bits) and for the 32 root
 * slots of libhamt's trie (its own keyed hash under the fixed bench seed),
 * read from a map of those keys with hamt__stats() (lib/stats.h), since
 * the public API does not show where a key sits.  No timing: it runs in
 * the parent and writes balance.csv.
 */
#include "bench.h"

#include <hamt.h>

#include "stats.h" /* the root slots of a map, which the API does not show */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct balance {
    const char *what;
    enum bkind kind;
    double chi2, p;
};
static struct balance bal[4];
static unsigned nbal;

/*
 * Keys 0 .. n-1 per root slot of a libhamt map holding them (loaded through
 * one batch); the slot of a key is the low 5 bits of its hash.
 */
static void
balance_root_slots(enum bkind kind, size_t n, double cnt[32])
{
    const void **keys = bench_xmalloc(n * sizeof *keys);
    void **vals = bench_xmalloc(n * sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        keys[i] = (const void *)(uintptr_t)key_stored(kind, i);
        vals[i] = (void *)(uintptr_t)(i + 1);
    }
    struct hamt_batch *b = hamt_batch_begin(
        hamt_new(kind == BK_U64 ? HAMT_KEY_U64 : HAMT_KEY_STRING));
    const struct hamt *m = NULL;
    struct hamt__stats st;
    if (b != NULL && hamt_batch_set_many(b, n, keys, vals, NULL) == 0) {
        m = hamt_batch_finish(b);
    } else if (b != NULL) {
        hamt_batch_discard(b);
    }
    if (m == NULL || hamt__stats(m, &st) != 0 || st.entries != n) {
        bench_fail("balance: a libhamt map of %zu keys failed", n);
        memset(&st, 0, sizeof st);
    }
    for (unsigned f = 0; f < 32; f++) {
        cnt[f] = (double)st.root_slots[f];
    }
    free(keys);
    free(vals);
}

static void
balance_one(const char *what, enum bkind kind, size_t n, bool root)
{
    double cnt[32] = {0};
    if (root) {
        balance_root_slots(kind, n, cnt);
    } else {
        for (size_t i = 0; i < n; i++) {
            cnt[bench_hash(kind, key_stored(kind, i)) >> 59]++;
        }
    }
    double e = (double)n / 32.0, chi2 = 0;
    for (unsigned b = 0; b < 32; b++) {
        chi2 += (cnt[b] - e) * (cnt[b] - e) / e;
    }
    bal[nbal++] = (struct balance){what, kind, chi2, bench_chi2_q(chi2, 31)};
}

void
balance_run(long c)
{
    (void)c;
    size_t n = bench_cfg.conc_n;
    nbal = 0;
    for (unsigned k = 0; k < bench_cfg.nkinds && nbal + 2 <= 4; k++) {
        keys_prepare(bench_cfg.kinds[k], n);
        balance_one("32 shards (bench hash >> 59)", bench_cfg.kinds[k], n,
                    false);
        balance_one("32 root slots (libhamt hash & 31)", bench_cfg.kinds[k], n,
                    true);
    }
    printf("\n== load balance of N = %zu keys: chi-square, 31 degrees of "
           "freedom (expected about 31; p < 0.01 would be suspicious)\n",
           n);
    for (unsigned i = 0; i < nbal; i++) {
        printf("   %-36s %-5s chi2 = %7.2f  p = %.3f\n", bal[i].what,
               bench_kind_name(bal[i].kind), bal[i].chi2, bal[i].p);
    }
}

void
balance_write_data(void)
{
    FILE *f = out_csv("balance.csv");
    fprintf(f, "what,keys,n,chi2,dof,p\n");
    for (unsigned i = 0; i < nbal; i++) {
        fprintf(f, "\"%s\",%s,%zu,%.4f,31,%.4f\n", bal[i].what,
                bench_kind_name(bal[i].kind), bench_cfg.conc_n, bal[i].chi2,
                bal[i].p);
    }
    fclose(f);
}
