/*
 * smoke.c - hamt-bench --smoke, run by make check (bench/smoke.sh): every
 * adapter on a small map, u64 and string keys, with its answers checked:
 * inserts new and repeated, lookups that hit and miss, removes, iteration,
 * snapshot reads, and short concurrent phases (a reader under a writer,
 * mixed reader/writers, two readers).  No speed is measured or asserted.
 * Prints "N passed, N failed" for test/summary.sh.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>

static unsigned smoke_pass, smoke_fail;

static void
smoke_check(bool ok, const char *name, enum bkind kind, const char *what)
{
    if (ok) {
        smoke_pass++;
    } else {
        smoke_fail++;
        printf("FAIL: %s %s: %s\n", name, bench_kind_name(kind), what);
    }
}

/*
 * Whether batched reads of keys 0 .. n-1 (read_many when `many` and the
 * adapter has it, else read_batch) find every key with value i + 1 + add;
 * the last batch is short when n is not a multiple of BENCH_BATCH.
 */
static bool
smoke_reads(const struct bench_adapter *a, void *m, void *t, enum bkind kind,
            size_t n, uint64_t add, bool many)
{
    size_t (*read)(void *, void *, const bkey *, size_t, uint64_t *) =
        many && a->read_many != NULL ? a->read_many : a->read_batch;
    bkey keys[BENCH_BATCH];
    char bufs[BENCH_BATCH][BENCH_STRLEN + 1];
    bool ok = true;

    for (size_t i = 0; i < n; i += BENCH_BATCH) {
        size_t k = n - i < BENCH_BATCH ? n - i : BENCH_BATCH; /* the last */
        uint64_t s = 0, want = 0;

        for (unsigned b = 0; b < k; b++) {
            keys[b] = key_probe(kind, i + b, bufs[b]);
            want += i + b + 1 + add;
        }
        ok &= read(m, t, keys, k, &s) == k && s == want;
    }
    return ok;
}

/*
 * A writer's updates of every key must show in the readers' values: a
 * writer that published nothing would otherwise pass every concurrent
 * check, which counts hits.  The single writer's (update) are followed by
 * share(), which publishes what such a writer may hold back (libhamt-b16's
 * pending batch); the several writers' (update_mw) publish each update
 * themselves, and share() must not follow them: libhamt's share()
 * publishes its single writer's own map again.  The values go back to
 * i + 1 afterwards.
 */
static void
smoke_writer(const struct bench_adapter *a, void *m, void *t, enum bkind kind,
             size_t n, bool mw)
{
    void (*update)(void *, void *, bkey, uint64_t) =
        mw ? a->update_mw : a->update;
    const uint64_t add = mw ? 2 * n : n;

    if (update == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        update(m, t, key_stored(kind, i), i + 1 + add);
    }
    if (!mw && a->share) {
        a->share(m);
    }
    smoke_check(smoke_reads(a, m, t, kind, n, add, false), a->name, kind,
                mw ? "updates of several-writer mode reach the readers"
                   : "a writer's updates reach the readers");
    for (size_t i = 0; i < n; i++) {
        update(m, t, key_stored(kind, i), i + 1);
    }
    if (!mw && a->share) {
        a->share(m);
    }
}

static void
smoke_adapter(const struct bench_adapter *a, enum bkind kind)
{
    const size_t n = 1000;
    char buf[BENCH_STRLEN + 1];
    void *m = a->create(kind, n);
    void *t = a->thread_enter(m);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        ok &= a->insert(m, t, key_stored(kind, i), i + 1);
    }
    smoke_check(ok, a->name, kind, "fresh inserts return true");
    ok = true;
    for (size_t i = 0; i < n; i += 7) {
        ok &= !a->insert(m, t, key_stored(kind, i), i + 1);
    }
    smoke_check(ok, a->name, kind, "re-inserts return false");
    ok = true;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        ok &= a->lookup(m, t, key_probe(kind, i, buf), &v) && v == i + 1;
    }
    smoke_check(ok, a->name, kind, "lookups find every value");
    ok = true;
    for (size_t i = n; i < 2 * n; i++) {
        uint64_t v;
        ok &= !a->lookup(m, t, key_probe(kind, i, buf), &v);
    }
    smoke_check(ok, a->name, kind, "absent keys miss");
    uint64_t sum = 0;
    size_t cnt = a->iterate(m, t, &sum);
    smoke_check(cnt == n && sum == (uint64_t)n * (n + 1) / 2, a->name, kind,
                "iteration visits every entry once");
    ok = true;
    for (size_t i = 0; i < n; i += 2) {
        ok &= a->remove(m, t, key_probe(kind, i, buf));
        ok &= !a->remove(m, t, key_probe(kind, i, buf));
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        bool f = a->lookup(m, t, key_probe(kind, i, buf), &v);
        ok &= (i % 2 == 0) ? !f : (f && v == i + 1);
    }
    smoke_check(ok, a->name, kind, "removes take exactly their keys");
    for (size_t i = 0; i < n; i += 2) {
        a->insert(m, t, key_stored(kind, i), i + 1);
    }
    if (a->share) {
        a->share(m);
    }
    bkey keys[BENCH_BATCH];
    char bufs[BENCH_BATCH][BENCH_STRLEN + 1];
    smoke_check(smoke_reads(a, m, t, kind, n, 0, false), a->name, kind,
                "snapshot reads find every value");
    if (a->read_many != NULL) {
        smoke_check(smoke_reads(a, m, t, kind, n, 0, true), a->name, kind,
                    "batched lookups (read_many) find every value");
    }
    smoke_writer(a, m, t, kind, n, false);
    smoke_writer(a, m, t, kind, n, true);
    unsigned long e0 = bench_errors;
    struct conc_result res;
    if (a->flags & BA_CONCURRENT) {
        conc_run_phase(a, m, kind, n, 1, 1, 0, 0.05, &res, NULL);
        smoke_check(bench_errors == e0 && res.reader_ops_s > 0
                        && res.writer_ops_s > 0,
                    a->name, kind, "reader sees every key under a writer");
        if (a->update_mw != NULL) {
            conc_run_phase(a, m, kind, n, 2, 0, 50, 0.05, &res, NULL);
            smoke_check(bench_errors == e0 && res.total_ops_s > 0, a->name,
                        kind, "two mixed reader/writers see every key");
        }
    }
    if (a->flags & BA_READ_MT) {
        conc_run_phase(a, m, kind, n, 2, 0, 0, 0.05, &res, NULL);
        smoke_check(bench_errors == e0 && res.reader_ops_s > 0, a->name, kind,
                    "two readers see every key");
    }
    ok = true;
    for (size_t i = 0; i + BENCH_BATCH <= n; i += BENCH_BATCH) {
        for (unsigned b = 0; b < BENCH_BATCH; b++) {
            keys[b] = key_probe(kind, i + b, bufs[b]);
        }
        uint64_t s = 0;
        ok &= a->read_batch(m, t, keys, BENCH_BATCH, &s) == BENCH_BATCH;
    }
    smoke_check(ok, a->name, kind, "every key present after the writers");
    if (a->quiesce) {
        a->quiesce(m, t);
    }
    a->thread_exit(m, t);
    a->destroy(m);
}

int
smoke_main(void)
{
    bench_print_skipped(stdout, "");
    keys_prepare(BK_STR, 2000);
    for (unsigned i = 0; bench_adapters[i]; i++) {
        if (!bench_selected(bench_adapters[i])) {
            continue;
        }
        for (int k = 0; k < 2; k++) {
            if (!bench_takes_kind(bench_adapters[i], (enum bkind)k)) {
                continue;
            }
            smoke_adapter(bench_adapters[i], (enum bkind)k);
        }
        printf("ok: %s\n", bench_adapters[i]->name);
        fflush(stdout);
    }
    writers_smoke(&smoke_pass, &smoke_fail);
    /* The chi-square tail at known points: Q(31, 31) ~ 0.4672. */
    double q = bench_chi2_q(31.0, 31.0);
    smoke_check(fabs(q - 0.4672) < 0.001, "chi2", BK_U64, "chi-square tail");
    printf("%u passed, %u failed\n", smoke_pass, smoke_fail);
    return smoke_fail ? 1 : 0;
}
