/*
 * writers.c - the several-writer section of hamt-bench (issue 15).
 *
 * Every contender with a several-writer update (update_mw) runs W writer
 * threads and R reader threads on one map of N = 1M u64 keys:
 *
 *   writer   each operation is a lookup with probability read_pct%, else
 *            an update; the update is timed from the call to its return
 *            (for every contender the update is visible to readers when
 *            the call returns: "submit-to-visible" latency)
 *   reader   batches of WR_BATCH lookups (read_batch: one snapshot, read
 *            section or epoch per batch where the contender has one)
 *
 * Key patterns:
 *   update   replace the value of a random existing key (the key set is
 *            stable: sync.Map's favourable case);
 *   churn    insert a new key and delete the oldest one (a global counter
 *            hands out fresh key numbers; the map keeps N keys, a sliding
 *            window); each insert and each delete counts as one update.
 *            A delete waits until the insert of its key is done, if
 *            another writer is still making it (wr_churn_wait()).
 *            Readers probe keys inside the window, away from its ends.
 *   disjoint writer i of W looks up and replaces only keys of its own
 *            range [i N / W, (i + 1) N / W) (sync.Map's other favourable
 *            case: threads touching disjoint keys); readers probe any key.
 *            Each value carries its writer's number in its low 4 bits, so
 *            the smoke test can check that no writer left its range.  Not
 *            in the grid: sync.Map's claims (writers_claims.c) run it.
 *
 * Grid: W in {1, 2, 4}, R in {1, 2}, read_pct in {50, 90, 99}, both
 * patterns (full mode); the quick mode runs only the rows of the targets:
 * the update pattern, 90% reads, W = 4 and R = 1 (libhamt-1w: W = 1).  "libhamt-1w" is the
 * baseline of the combining target: libhamt with one writer publishing
 * every update with hamt_cell_store (W = 1 only).  The machine has 2
 * cores: every row with W + R > 2 (the owner thread adds one more thread)
 * oversubscribes it, and the tables say so.  HAMT_BENCH_WR picks other
 * W x R rows for the quick mode (wr_quick_row()).
 *
 * Each row also records who held the CPU (each thread's own CPU time and
 * voluntary context switches, the collector's stopped share), and under
 * HAMT_BENCH_WR_DIAG why slow updates were slow: on the shared 2-core
 * machine a reader's lookups/s is as much the scheduler's doing as the
 * map's, and the report separates the two.
 *
 * Each figure is the median of `runs` phases on the same map.  Output: a
 * table per pattern and read ratio, the targets of issue 15 with verdicts,
 * writers.csv, writers_*.dat and writers.gp (one picture per read ratio:
 * total updates/s against W, R = 1, both patterns).
 */
/* RUSAGE_THREAD (Linux): each thread's own context switches. */
#define _GNU_SOURCE
#include "bench.h"
#include "writers.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define WR_LAT_CAP 16384
#define WR_MARGIN 4096     /* churn readers stay this far inside the window */
#define WR_BATCH 16        /* reader lookups per snapshot, as in main.c */
#define WR_SLOW_NS 20000.0 /* a slow update for the diagnosis */
#define WR_IDLE UINT64_MAX /* churn: no key of this writer in flight */
#define WR_CLAIMING (UINT64_MAX - 1) /* churn: taking a key number */

struct wr_shared {
    const struct bench_adapter *a;
    void *m;
    size_t n;
    unsigned read_pct;
    enum wr_pattern pat;
    unsigned nw; /* writers: the disjoint pattern's ranges */
    bool one_writer;
    bool diag;              /* HAMT_BENCH_WR_DIAG set: classify slow updates */
    _Atomic uint64_t *next; /* churn: next fresh key number */
    /* churn: each writer's key in flight (WR_IDLE, WR_CLAIMING or one). */
    _Atomic uint64_t *claim;
    _Atomic int stop;
    /* Threads that have done their first update (writers) or batch. */
    _Atomic unsigned working;
    pthread_barrier_t bar;
};

struct wr_worker {
    struct wr_shared *sh;
    bool writer;
    unsigned wid; /* a writer's number, 0 .. nw - 1 */
    uint64_t rng;
    uint64_t updates, reads, hits, sum;
    uint64_t t0, t1;
    uint64_t cpu0, cpu1; /* the thread's own CPU time, ns */
    long vcsw0, vcsw1;   /* its voluntary context switches */
    double *lat;
    size_t nlat, seen;
    /* HAMT_BENCH_WR_DIAG: updates over WR_SLOW_NS, and how many of them
     * were preempted (involuntary switch) or slept (voluntary switch). */
    uint64_t slow, slow_pre, slow_slp;
    pthread_t thread;
};

static inline bkey
wr_key(uint64_t i)
{
    return bench_key_u64(i);
}

static void
wr_lat(struct wr_worker *w, double ns)
{
    w->seen++;
    if (w->nlat < WR_LAT_CAP) {
        w->lat[w->nlat++] = ns;
        return;
    }
    uint64_t j = bench_below(&w->rng, w->seen);
    if (j < WR_LAT_CAP) {
        w->lat[j] = ns;
    }
}

/* Writer wid's keys in the disjoint pattern: [*lo, *lo + span). */
static uint64_t
wr_range(size_t n, unsigned nw, unsigned wid, uint64_t *lo)
{
    *lo = (uint64_t)n * wid / nw;
    return (uint64_t)n * (wid + 1) / nw - *lo;
}

/* A key number a reader may expect to be present. */
static uint64_t
wr_probe(struct wr_worker *w)
{
    struct wr_shared *sh = w->sh;
    if (sh->pat == WP_DISJOINT && w->writer) {
        uint64_t lo, span = wr_range(sh->n, sh->nw, w->wid, &lo);
        return lo + bench_below(&w->rng, span);
    }
    if (sh->pat != WP_CHURN) {
        return bench_below(&w->rng, sh->n);
    }
    /* ORDER: relaxed; only picks a key, the answer is not checked. */
    uint64_t hi = atomic_load_explicit(sh->next, memory_order_relaxed);
    uint64_t span = sh->n > 2 * WR_MARGIN ? sh->n - 2 * WR_MARGIN : 1;
    return hi - sh->n + WR_MARGIN + bench_below(&w->rng, span);
}

/*
 * The diagnosis of slow updates: the thread's context switches around the
 * call (getrusage costs a system call each, so only under
 * HAMT_BENCH_WR_DIAG): preempted while inside, slept inside (a futex
 * wait), or neither (the work itself, or a stopped world).
 */
static void
wr_switches(const struct wr_worker *w, long sw[2])
{
    struct rusage ru;

    if (w->sh->diag && getrusage(RUSAGE_THREAD, &ru) == 0) {
        sw[0] = ru.ru_nivcsw;
        sw[1] = ru.ru_nvcsw;
    }
}

static void
wr_slow(struct wr_worker *w, double ns, const long sw0[2])
{
    long sw1[2] = {0, 0};

    if (!w->sh->diag || ns < WR_SLOW_NS) {
        return;
    }
    wr_switches(w, sw1);
    w->slow++;
    w->slow_pre += sw1[0] != sw0[0];
    w->slow_slp += sw1[1] != sw0[1];
}

/*
 * Churn: before removing key r (taken n numbers ago), wait until no other
 * writer may still be about to insert it.  Without this a writer delayed
 * between taking r and inserting it (preempted: the smoke test failed
 * that way under load) let r's remover run first, and the late insert left
 * r in the map for good.  A writer that took r stored WR_CLAIMING before
 * taking it and WR_IDLE after inserting it; all three (the claim, the take
 * from `next`, the load here) are seq_cst, and this remover took its own
 * number after r's taker, so the load reads WR_CLAIMING, r or a later
 * value: WR_IDLE then means r is in the map.  A waiting writer's own claim
 * is WR_IDLE, so no two writers wait on each other.
 */
static void
wr_churn_wait(struct wr_shared *sh, unsigned self, uint64_t r)
{
    for (unsigned o = 0; o < sh->nw; o++) {
        uint64_t x;
        if (o == self) {
            continue;
        }
        /* ORDER: seq_cst; see above. */
        while ((x = atomic_load(&sh->claim[o])) == WR_CLAIMING || x == r) {
            sched_yield();
        }
    }
}

static void
wr_update(struct wr_worker *w, uint64_t *ctr, void *t)
{
    struct wr_shared *sh = w->sh;
    const struct bench_adapter *a = sh->a;
    long sw[2] = {0, 0};
    uint64_t s;
    if (sh->pat != WP_CHURN) {
        bkey k;
        uint64_t v = ++*ctr;
        if (sh->pat == WP_DISJOINT) {
            uint64_t lo, span = wr_range(sh->n, sh->nw, w->wid, &lo);
            k = wr_key(lo + bench_below(&w->rng, span));
            v = v << 4 | (w->wid + 1); /* never 0: the tag is 1 .. 15 */
        } else {
            k = wr_key(bench_below(&w->rng, sh->n));
        }
        wr_switches(w, sw);
        s = bench_now_ns();
        if (sh->one_writer) {
            a->update(sh->m, t, k, v);
        } else {
            a->update_mw(sh->m, t, k, v);
        }
        double ns = (double)(bench_now_ns() - s);
        wr_lat(w, ns);
        wr_slow(w, ns, sw);
        w->updates++;
        return;
    }
    /*
     * ORDER: seq_cst, the claim before the take; see wr_churn_wait().  The
     * number j itself may be published relaxed: a remover that reads it
     * reads a value no older than WR_CLAIMING, and waits on that too.
     */
    atomic_store(&sh->claim[w->wid], WR_CLAIMING);
    uint64_t j = atomic_fetch_add(sh->next, 1);
    atomic_store_explicit(&sh->claim[w->wid], j, memory_order_relaxed);
    s = bench_now_ns();
    a->insert_mw(sh->m, t, wr_key(j), j + 1);
    /* ORDER: release; the insert is done before a remover sees this. */
    atomic_store_explicit(&sh->claim[w->wid], WR_IDLE, memory_order_release);
    uint64_t s2 = bench_now_ns();
    wr_lat(w, (double)(s2 - s));
    wr_churn_wait(sh, w->wid, j - sh->n);
    a->remove_mw(sh->m, t, wr_key(j - sh->n));
    wr_lat(w, (double)(bench_now_ns() - s2));
    w->updates += 2;
}

/* The calling thread's CPU time (ns) and voluntary context switches. */
static void
wr_self(uint64_t *cpu, long *vcsw)
{
    struct timespec ts;
    struct rusage ru;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    *cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    *vcsw = getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : 0;
}

static void *
wr_main(void *arg)
{
    struct wr_worker *w = arg;
    struct wr_shared *sh = w->sh;
    const struct bench_adapter *a = sh->a;
    void *t = a->thread_enter(sh->m);
    bkey keys[WR_BATCH];
    uint64_t ctr = w->rng & 0xffff;
    bool counted = false;

    pthread_barrier_wait(&sh->bar);
    wr_self(&w->cpu0, &w->vcsw0);
    w->t0 = bench_now_ns();
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        if (!w->writer) {
            for (unsigned b = 0; b < WR_BATCH; b++) {
                keys[b] = wr_key(wr_probe(w));
            }
            w->hits += a->read_batch(sh->m, t, keys, WR_BATCH, &w->sum);
            w->reads += WR_BATCH;
        } else if (bench_below(&w->rng, 100) < sh->read_pct) {
            bkey k = wr_key(wr_probe(w));
            w->hits += a->read_batch(sh->m, t, &k, 1, &w->sum);
            w->reads++;
        } else {
            wr_update(w, &ctr, t);
        }
        if (!counted && (w->writer ? w->updates != 0 : w->reads != 0)) {
            /* ORDER: relaxed; a count the phase's end polls, no data. */
            atomic_fetch_add_explicit(&sh->working, 1, memory_order_relaxed);
            counted = true;
        }
    }
    w->t1 = bench_now_ns();
    wr_self(&w->cpu1, &w->vcsw1);
    a->thread_exit(sh->m, t);
    return NULL;
}

static void
wr_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
        /* EINTR: the collector's signals; sleep on. */
    }
}

static int
wr_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/*
 * One timed phase; fills *c.  Returns false if a lookup missed a key that
 * must be present (update and disjoint patterns).
 */
bool
wr_phase(const struct wr_contender *ct, void *m, enum wr_pattern pat, size_t n,
         _Atomic uint64_t *next, unsigned nw, unsigned nr, unsigned read_pct,
         double secs, struct wr_cell *c)
{
    struct wr_shared sh = {.a = ct->a,
                           .m = m,
                           .n = n,
                           .read_pct = read_pct,
                           .pat = pat,
                           .nw = nw,
                           .one_writer = ct->one_writer,
                           .diag = getenv("HAMT_BENCH_WR_DIAG") != NULL,
                           .next = next};
    unsigned nt = nw + nr;
    struct wr_worker *w = bench_xcalloc(nt, sizeof *w);
    atomic_init(&sh.stop, 0);
    atomic_init(&sh.working, 0);
    sh.claim = bench_xcalloc(nw, sizeof *sh.claim);
    for (unsigned i = 0; i < nw; i++) {
        atomic_init(&sh.claim[i], WR_IDLE);
    }
    pthread_barrier_init(&sh.bar, NULL, nt + 1);
    for (unsigned i = 0; i < nt; i++) {
        w[i].sh = &sh;
        w[i].writer = i < nw;
        w[i].wid = i;
        w[i].rng = 0x9e3779b9ULL * (i + 1) + bench_now_ns();
        if (w[i].writer) {
            w[i].lat = bench_xmalloc(WR_LAT_CAP * sizeof(double));
        }
        if (pthread_create(&w[i].thread, NULL, wr_main, &w[i]) != 0) {
            fprintf(stderr, "hamt-bench: pthread_create failed\n");
            exit(2);
        }
    }
    pthread_barrier_wait(&sh.bar);
    uint64_t p0 = bench_now_ns();
    bench_gc_reset();
    wr_sleep(secs);
    /*
     * On a loaded machine a thread may not have run at all in a short
     * phase (the smoke test's are 50 ms), and its rate would read 0: stop
     * only once every writer has updated and every reader has read once.
     * Each thread's rate is taken over its own time, so waiting longer
     * changes no rate.  ORDER: relaxed, as in wr_main.
     */
    while (atomic_load_explicit(&sh.working, memory_order_relaxed) < nt) {
        wr_sleep(0.001);
    }
    atomic_store_explicit(&sh.stop, 1, memory_order_relaxed);
    for (unsigned i = 0; i < nt; i++) {
        pthread_join(w[i].thread, NULL);
    }
    struct bench_gc_stats gc;
    double pdt = (double)(bench_now_ns() - p0) / 1e6;
    bench_gc_read(&gc, NULL);
    memset(c, 0, sizeof *c);
    c->gc_pct = pdt > 0 ? 100.0 * gc.total_ms / pdt : 0;
    size_t nlat = 0;
    uint64_t reads = 0, hits = 0, updates = 0;
    long vcsw = 0;
    bool ok = true;
    for (unsigned i = 0; i < nt; i++) {
        double dt = (double)(w[i].t1 - w[i].t0) / 1e9;
        if (dt <= 0) {
            continue;
        }
        double cores = (double)(w[i].cpu1 - w[i].cpu0) / 1e9 / dt;
        c->ops_s += (double)(w[i].reads + w[i].updates) / dt;
        if (w[i].writer) {
            c->slow += (double)w[i].slow;
            c->slow_pre += (double)w[i].slow_pre;
            c->slow_slp += (double)w[i].slow_slp;
            c->wr_cpu += cores;
            updates += w[i].updates;
            vcsw += w[i].vcsw1 - w[i].vcsw0;
            c->upd_s += (double)w[i].updates / dt;
            nlat += w[i].nlat;
            if (w[i].nlat != 0) {
                qsort(w[i].lat, w[i].nlat, sizeof(double), wr_cmp);
                double p = w[i].lat[(size_t)(0.99 * (double)(w[i].nlat - 1))];
                if (p / 1e3 > c->worst_p99_us) {
                    c->worst_p99_us = p / 1e3;
                }
            }
        } else {
            c->rd_cpu += cores;
            c->rd_s += (double)w[i].reads / dt;
        }
        reads += w[i].reads;
        hits += w[i].hits;
    }
    c->vcsw_upd = updates ? (double)vcsw / (double)updates : 0;
    /* Per 1000 updates, and the causes as shares of the slow ones. */
    if (c->slow > 0) {
        c->slow_pre = 100.0 * c->slow_pre / c->slow;
        c->slow_slp = 100.0 * c->slow_slp / c->slow;
    }
    c->slow = updates ? 1000.0 * c->slow / (double)updates : 0;
    c->hit_pct = reads ? 100.0 * (double)hits / (double)reads : 100.0;
    if (pat != WP_CHURN && hits != reads) {
        ok = false;
    }
    if (nlat != 0) {
        double *all = bench_xmalloc(nlat * sizeof *all);
        size_t k = 0;
        for (unsigned i = 0; i < nt; i++) {
            if (w[i].nlat != 0) {
                memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
                k += w[i].nlat;
            }
        }
        c->p50_us = bench_percentile(all, nlat, 50) / 1e3;
        c->p99_us = bench_percentile(all, nlat, 99) / 1e3;
        free(all);
    }
    for (unsigned i = 0; i < nt; i++) {
        free(w[i].lat);
    }
    free(w);
    free(sh.claim);
    pthread_barrier_destroy(&sh.bar);
    return ok;
}

/* A map of keys 0 .. n-1 (values i + 1), shared for threads. */
void *
wr_build(const struct bench_adapter *a, size_t n)
{
    void *m = a->create(BK_U64, n);
    void *t = a->thread_enter(m);
    if (a->bulk != NULL) {
        enum { CH = 65536 };
        bkey *k = bench_xmalloc(CH * sizeof *k);
        uint64_t *v = bench_xmalloc(CH * sizeof *v);
        for (size_t i = 0; i < n; i += CH) {
            size_t c = n - i < CH ? n - i : CH;
            for (size_t j = 0; j < c; j++) {
                k[j] = wr_key(i + j);
                v[j] = i + j + 1;
            }
            a->bulk(m, t, k, v, c);
        }
        free(k);
        free(v);
    } else {
        for (size_t i = 0; i < n; i++) {
            a->insert(m, t, wr_key(i), i + 1);
        }
    }
    if (a->share != NULL) {
        a->share(m);
    }
    a->thread_exit(m, t);
    return m;
}

/* Frees a map of wr_build's once its threads are gone. */
void
wr_drop(const struct bench_adapter *a, void *m)
{
    void *t = a->thread_enter(m);
    if (a->quiesce != NULL) {
        a->quiesce(m, t);
    }
    a->thread_exit(m, t);
    a->destroy(m);
}

/*
 * Whether the quick mode runs the row W x R: the targets' rows (W = 4,
 * R = 1; one writer: W = 1), or those listed in HAMT_BENCH_WR ("4x1,1x1":
 * W x R pairs), so that a change to the combiner can be timed against its
 * single-writer rows too without the full grid.  sync.Map's claims run
 * the same W x R rows in both modes.
 */
bool
wr_quick_row(unsigned w, unsigned r, bool one_writer)
{
    const char *e = getenv("HAMT_BENCH_WR");

    if (e == NULL || *e == '\0') {
        return w == (one_writer ? 1u : 4u) && r == 1;
    }
    while (*e != '\0') {
        char *end;
        unsigned long ew = strtoul(e, &end, 10);
        unsigned long er = *end == 'x' ? strtoul(end + 1, &end, 10) : 0;
        if (ew == w && er == r) {
            return true;
        }
        if (*end != ',') {
            break; /* the end, or malformed: stop rather than loop */
        }
        e = end + 1;
    }
    return false;
}

static unsigned
wr_contenders(const struct bench_adapter *const *list, struct wr_contender *out)
{
    unsigned k = 0;
    for (unsigned i = 0; list[i] != NULL && k < WR_MAXC - 1; i++) {
        const struct bench_adapter *a = list[i];
        if (a->update_mw == NULL || !(a->flags & BA_CONCURRENT)) {
            continue;
        }
        out[k++] = (struct wr_contender){a->name, a, false};
        if (strcmp(a->name, "libhamt") == 0) {
            out[k - 1].name = "libhamt-cas";
            out[k++] = (struct wr_contender){"libhamt-1w", a, true};
        }
    }
    return k;
}

/* The chosen adapters, NULL-terminated. */
static const struct bench_adapter **
wr_chosen(void)
{
    static const struct bench_adapter *sel[32];
    unsigned k = 0;
    for (unsigned i = 0; bench_adapters[i] != NULL && k < 31; i++) {
        if (bench_selected_conc(bench_adapters[i])) {
            sel[k++] = bench_adapters[i];
        }
    }
    sel[k] = NULL;
    return sel;
}

void
writers_run(long c_unused)
{
    const struct bench_adapter *const *list = wr_chosen();
    bool full = strcmp(bench_cfg.mode, "full") == 0;
    unsigned runs = bench_cfg.runs;
    const char *outdir = bench_cfg.outdir;
    (void)c_unused;
    struct wr_contender cs[WR_MAXC];
    unsigned nc = wr_contenders(list, cs);
    static const unsigned pcts_full[] = {50, 90, 99};
    static const unsigned pcts_quick[] = {90};
    const unsigned *pcts = full ? pcts_full : pcts_quick;
    unsigned npct = full ? 3 : 1;
    double secs = full ? 0.4 : 0.2;
    runs = runs > 3 ? 3 : (runs < 1 ? 1 : runs);
    uint64_t t0 = bench_now_ns();

    printf("\n== several writers (%s grid, %u runs of %.2f s per figure; "
           "medians) ==\n",
           full ? "full" : "quick", runs, secs);
    for (unsigned c = 0; c < nc; c++) {
        if (cs[c].a == &bench_hamt_combine) {
            bench_combine_bound(runs);
        }
    }
    fflush(stdout);
    for (unsigned c = 0; c < nc; c++) {
        const struct bench_adapter *a = cs[c].a;
        for (int p = 0; p < WR_NGRID; p++) {
            if (p == WP_CHURN
                && (a->insert_mw == NULL || cs[c].one_writer || !full)) {
                continue;
            }
            void *m = wr_build(a, WR_N);
            _Atomic uint64_t next;
            atomic_init(&next, WR_N);
            for (unsigned ip = 0; ip < npct; ip++) {
                for (unsigned w = 1; w <= 4; w *= 2) {
                    if (cs[c].one_writer && w != 1) {
                        continue;
                    }
                    for (unsigned r = 1; r <= 2; r++) {
                        if (!full && !wr_quick_row(w, r, cs[c].one_writer)) {
                            continue;
                        }
                        struct wr_cell cell[3];
                        uint64_t h0[BENCH_COMBINE_HIST];
                        bool hist =
                            a == &bench_hamt_combine
                            && bench_combine_hist(m, h0, BENCH_COMBINE_HIST);
                        for (unsigned k = 0; k < runs; k++) {
                            if (!wr_phase(&cs[c], m, (enum wr_pattern)p, WR_N,
                                          &next, w, r, pcts[ip], secs,
                                          &cell[k])) {
                                bench_fail("%s: a reader missed a present "
                                           "key (writers, W=%u R=%u)",
                                           cs[c].name, w, r);
                            }
                        }
                        struct wr_row row = {
                            .name = cs[c].name,
                            .pat = (enum wr_pattern)p,
                            .pct = pcts[ip],
                            .w = w,
                            .r = r,
                            .threads =
                                w + r + (strcmp(a->name, "owner-thread") == 0),
                        };
                        wr_cell_median(cell, runs, &row.med);
                        wr_row_add(&row);
                        if (hist) {
                            wr_hist(&row, m, h0);
                        }
                    }
                }
            }
            wr_drop(a, m);
            GC_gcollect();
        }
        printf("   (%s done, %.0f s)\n", cs[c].name,
               (double)(bench_now_ns() - t0) / 1e9);
        fflush(stdout);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/writers.csv", outdir);
    FILE *csv = fopen(path, "w");
    wr_report(csv);
    if (csv != NULL) {
        fclose(csv);
    }
    wr_plots(outdir, cs, nc);
    printf("\nwrote %s/writers.csv, writers_*.dat, writers.gp\n", outdir);
    /* The claims' few phases can afford every run asked for, not the
     * grid's three (wr_claims caps them). */
    wr_claims(bench_cfg.runs, secs);
}

/*
 * After a disjoint phase of nw writers: every key present, and each value
 * either the one wr_build gave it or tagged with the owner of its range.
 */
static bool
wr_disjoint_ok(const struct bench_adapter *a, void *m, size_t n, unsigned nw)
{
    void *t = a->thread_enter(m);
    bool ok = true;
    for (unsigned wid = 0; wid < nw; wid++) {
        uint64_t lo, span = wr_range(n, nw, wid, &lo);
        for (uint64_t i = lo; i < lo + span; i++) {
            bkey k = wr_key(i);
            uint64_t v = 0;
            ok &= a->read_batch(m, t, &k, 1, &v) == 1
                  && (v == i + 1 || (v & 15) == wid + 1);
        }
    }
    a->thread_exit(m, t);
    return ok;
}

void
writers_smoke(unsigned *pass, unsigned *fail)
{
    struct wr_contender cs[WR_MAXC];
    unsigned nc = wr_contenders(wr_chosen(), cs);
    const size_t n = 20000;
    /* Disjoint first: the update phase after it reuses its map. */
    static const enum wr_pattern order[] = {WP_DISJOINT, WP_UPDATE, WP_CHURN};

    for (unsigned c = 0; c < nc; c++) {
        const struct bench_adapter *a = cs[c].a;
        unsigned nw = cs[c].one_writer ? 1 : 2;
        void *m = NULL;
        for (unsigned ip = 0; ip < 3; ip++) {
            enum wr_pattern p = order[ip];
            if (p == WP_CHURN && (a->insert_mw == NULL || cs[c].one_writer)) {
                continue;
            }
            if (m == NULL) {
                m = wr_build(a, n);
            }
            _Atomic uint64_t next;
            struct wr_cell cell;
            atomic_init(&next, n);
            bool ok = wr_phase(&cs[c], m, p, n, &next, nw, 1, 50, 0.05, &cell);
            ok &= cell.upd_s > 0 && cell.rd_s > 0;
            if (p == WP_DISJOINT) {
                ok &= wr_disjoint_ok(a, m, n, nw);
            }
            if (p == WP_CHURN) {
                /* The window [next - n, next) is exactly the key set. */
                void *t = a->thread_enter(m);
                uint64_t hi = atomic_load(&next);
                /* read_batch: the published map (lookup may be the
                 * single-thread writer's own). */
                for (uint64_t i = hi - n; i < hi; i++) {
                    bkey k = wr_key(i);
                    uint64_t sum = 0;
                    ok &= a->read_batch(m, t, &k, 1, &sum) == 1 && sum == i + 1;
                }
                for (uint64_t i = 0; i < hi - n; i++) {
                    bkey k = wr_key(i);
                    uint64_t sum = 0;
                    ok &= a->read_batch(m, t, &k, 1, &sum) == 0;
                }
                a->thread_exit(m, t);
            }
            if (ok) {
                (*pass)++;
            } else {
                (*fail)++;
                printf("FAIL: %s writers %s pattern\n", cs[c].name,
                       wr_pattern_name[p]);
            }
            /* The churn phase needs a map whose values are still i + 1. */
            if (p != WP_DISJOINT) {
                wr_drop(a, m);
                m = NULL;
            }
        }
        if (m != NULL) {
            wr_drop(a, m);
        }
        printf("ok: %s (writers)\n", cs[c].name);
        fflush(stdout);
    }
    wr_claims_smoke(pass, fail);
}
