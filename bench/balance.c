/*
 * balance.c - how evenly the keys spread: the chi-square statistic of the
 * N = conc_n keys of the bench over 32 buckets, with 31 degrees of freedom
 * (about 31 expected; p < 0.01 would be suspicious), for the 32 shards of
 * ghash-shards (the competitors' hash, top 5 bits) and for the 32 root
 * slots of libhamt's trie (its own keyed hash under the fixed bench seed).
 * No timing: it runs in the parent and writes balance.csv.
 */
#include "bench.h"

#include <hamt.h>

#include "internal.h" /* hamt__key_hash for the root-slot balance */

#include <stdio.h>

struct balance {
    const char *what;
    enum bkind kind;
    double chi2, p;
};
static struct balance bal[4];
static unsigned nbal;

static void
balance_one(const char *what, enum bkind kind, size_t n, bool root)
{
    double cnt[32] = { 0 };
    const struct hamt *m = hamt_new(kind == BK_U64 ? HAMT_KEY_U64
                                                   : HAMT_KEY_STRING);
    for (size_t i = 0; i < n; i++) {
        bkey k = key_stored(kind, i);
        unsigned b;
        if (root) {
            b = (unsigned)(hamt__key_hash(m->kt, (const void *)(uintptr_t)k) &
                           HAMT_MASK);
        } else {
            b = (unsigned)(bench_hash(kind, k) >> 59);
        }
        cnt[b]++;
    }
    double e = (double)n / 32.0, chi2 = 0;
    for (unsigned b = 0; b < 32; b++) {
        chi2 += (cnt[b] - e) * (cnt[b] - e) / e;
    }
    bal[nbal++] = (struct balance){ what, kind, chi2, bench_chi2_q(chi2, 31) };
}

void
balance_run(long c)
{
    (void)c;
    size_t n = bench_cfg.conc_n;
    nbal = 0;
    for (unsigned k = 0; k < bench_cfg.nkinds && nbal + 2 <= 4; k++) {
        keys_prepare(bench_cfg.kinds[k], n);
        balance_one("32 shards (bench hash >> 59)", bench_cfg.kinds[k], n, false);
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
