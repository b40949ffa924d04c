/*
 * writers_claims.c - the study's claims about Go's sync.Map (issue 15),
 * each tested in one run against the lock-based maps of the same run
 * (ghash-mutex, ghash-rwlock, ghash-shards):
 *
 *   1 stable    it wins when keys are stable and written rarely: the
 *               update pattern at 99% reads;
 *   2 disjoint  it wins when threads touch disjoint keys: the disjoint
 *               pattern (each writer looks up and replaces only keys of
 *               its own range) at 50% reads;
 *   3 new-keys  it loses when new keys keep arriving: the churn pattern
 *               (insert a new key, delete the oldest) at 50% reads.
 *
 * Claims 2 and 3 share the read ratio so that they differ only in the
 * keys written (existing keys of the writer's own, or new ones), and 50%
 * makes writes frequent enough for their cost to show; claim 1 is about
 * rare writes, so it takes the study's highest read ratio.
 *
 * The figure is every thread's operations per second (the writers'
 * lookups and updates and the readers' lookups): a map shared by readers
 * and writers wins when the whole mixed load goes faster, and on an
 * oversubscribed machine the work of whichever threads the scheduler
 * favoured counts alike.  The updates/s and reader lookups/s ratios are
 * printed under it, to say where a win or a loss came from.
 *
 * The runs are interleaved: run k times every contender's phase back to
 * back (the order rotating with k), so that a per-run ratio compares
 * phases seconds apart on a shared machine, and each ratio is the median
 * over runs of the per-run ratio.  All four maps live at once for that.
 * A claim is "reproduced" when it holds against every baseline that ran
 * (wins: ratio >= 1; loses: ratio <= 1), else "refuted", and the line
 * names the baselines that refute it.  Under each claim: the updates/s,
 * reader lookups/s and per-CPU ratios, and syncmap's slow paths (stores
 * and lookups that took its mutex, promotions, copies of its tables:
 * bench_syncmap_stats), which say why a claim held or not.  Rows: W x R
 * as the quick mode's (4 x 1 unless HAMT_BENCH_WR says otherwise), in
 * both modes.
 *
 * Records (the headline's claim rows read them, targets.c): workload
 * "writers", n = WR_N, readers R, writers W, metric "claim_<id>_ops_s"
 * under each contender and "claim_<id>_vs_<baseline>" (the per-run ratio)
 * under syncmap.
 */
#include "writers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CL_NBASE 3
#define CL_NC (1 + CL_NBASE)
#define CL_MAXRUNS 9

static const char *const cl_base[CL_NBASE] = {"ghash-mutex", "ghash-rwlock",
                                              "ghash-shards"};

struct claim {
    const char *id;
    const char *what;
    enum wr_pattern pat;
    unsigned pct;
    bool wins; /* the study says sync.Map wins (or loses) here */
};

static const struct claim cl_claims[] = {
    {"stable", "stable keys, written rarely", WP_UPDATE, 99, true},
    {"disjoint", "threads touch disjoint keys", WP_DISJOINT, 50, true},
    {"new-keys", "new keys keep arriving", WP_CHURN, 50, false},
};
#define CL_NCLAIMS (sizeof cl_claims / sizeof cl_claims[0])

/* What one claim measured: medians, and per-run ratios over each base. */
struct cl_out {
    struct wr_cell med[CL_NC];
    double ops_x[CL_NC], upd_x[CL_NC], rd_x[CL_NC]; /* [0] unused */
    double cpu_x[CL_NC];      /* ops per CPU-second the row's threads got */
    struct bench_sm_stats sm; /* syncmap's slow paths, all runs */
    bool ok;                  /* no lookup missed */
};

/* syncmap, then the baselines that were chosen; false if not syncmap. */
static bool
cl_contenders(struct wr_contender *cs, unsigned *nc)
{
    const struct bench_adapter *sm = bench_adapter_named("syncmap");

    if (sm == NULL || !bench_selected_conc(sm)) {
        return false;
    }
    cs[0] = (struct wr_contender){sm->name, sm, false};
    *nc = 1;
    for (unsigned b = 0; b < CL_NBASE; b++) {
        const struct bench_adapter *a = bench_adapter_named(cl_base[b]);
        if (a != NULL && bench_selected_conc(a) && a->update_mw != NULL
            && a->insert_mw != NULL) {
            cs[(*nc)++] = (struct wr_contender){a->name, a, false};
        }
    }
    return *nc > 1;
}

/*
 * One claim on the maps m[] (keys and churn counters next[] carried over
 * from the claims before it): `runs` interleaved runs.  With rec, stores
 * the records the headline reads.
 */
static void
cl_measure(const struct claim *cl, const struct wr_contender *cs, unsigned nc,
           void *const *m, _Atomic uint64_t *next, size_t n, unsigned w,
           unsigned r, unsigned runs, double secs, bool rec, struct cl_out *o)
{
    double ops[CL_NC][CL_MAXRUNS], upd[CL_NC][CL_MAXRUNS],
        rd[CL_NC][CL_MAXRUNS];
    struct wr_cell cells[CL_NC][CL_MAXRUNS];
    char metric[64];

    memset(o, 0, sizeof *o);
    o->ok = true;
    bench_syncmap_stats(m[0], &o->sm); /* zeroes what went before */
    for (unsigned k = 0; k < runs; k++) {
        for (unsigned i = 0; i < nc; i++) {
            unsigned j = (i + k) % nc; /* who goes first rotates */
            struct wr_cell *c = &cells[j][k];
            if (!wr_phase(&cs[j], m[j], cl->pat, n, &next[j], w, r, cl->pct,
                          secs, c)) {
                o->ok = false;
                if (rec) {
                    bench_fail("%s: a lookup missed a present key (sync.Map "
                               "claim %s, W=%u R=%u)",
                               cs[j].name, cl->id, w, r);
                }
            }
            ops[j][k] = c->ops_s;
            upd[j][k] = c->upd_s;
            rd[j][k] = c->rd_s;
            if (rec) {
                snprintf(metric, sizeof metric, "claim_%s_ops_s", cl->id);
                rec_add("writers", cs[j].name, BK_U64, n, r, w, 0,
                        strdup(metric), k, c->ops_s);
            }
        }
    }
    bench_syncmap_stats(m[0], &o->sm);
    for (unsigned j = 0; j < nc; j++) {
        wr_cell_median(cells[j], runs, &o->med[j]);
        if (j == 0) {
            continue;
        }
        double x[4][CL_MAXRUNS];
        for (unsigned k = 0; k < runs; k++) {
            const struct wr_cell *a = &cells[0][k], *b = &cells[j][k];
            double acpu = a->rd_cpu + a->wr_cpu, bcpu = b->rd_cpu + b->wr_cpu;
            x[0][k] = ops[0][k] / ops[j][k];
            x[1][k] = upd[0][k] / upd[j][k];
            x[2][k] = rd[0][k] / rd[j][k];
            x[3][k] = acpu > 0 && bcpu > 0
                          ? (ops[0][k] / acpu) / (ops[j][k] / bcpu)
                          : NAN;
            if (rec) {
                snprintf(metric, sizeof metric, "claim_%s_vs_%s", cl->id,
                         cs[j].name);
                rec_add("writers", cs[0].name, BK_U64, n, r, w, 0,
                        strdup(metric), k, x[0][k]);
            }
        }
        o->ops_x[j] = wr_med(x[0], runs);
        o->upd_x[j] = wr_med(x[1], runs);
        o->rd_x[j] = wr_med(x[2], runs);
        o->cpu_x[j] = wr_med(x[3], runs);
    }
}

/* Whether the claim holds against baseline j (ratio over it). */
static bool
cl_holds(const struct claim *cl, double x)
{
    return cl->wins ? x >= 1.0 : x <= 1.0;
}

static void
cl_print(unsigned ic, const struct claim *cl, const struct wr_contender *cs,
         unsigned nc, const struct cl_out *o)
{
    char refuted[128] = "";
    bool all = true;

    printf("  claim %u, %s (%s pattern, %u%% reads): syncmap ops/s over",
           ic + 1, cl->what, wr_pattern_name[cl->pat], cl->pct);
    for (unsigned j = 1; j < nc; j++) {
        printf(" %s %.2fx%s", cs[j].name, o->ops_x[j], j + 1 < nc ? "," : "");
        if (!cl_holds(cl, o->ops_x[j])) {
            all = false;
            size_t l = strlen(refuted);
            snprintf(refuted + l, sizeof refuted - l, "%s%s", l ? ", " : "",
                     cs[j].name);
        }
    }
    printf(" (study: %s) -> %s", cl->wins ? "wins" : "loses",
           all ? "reproduced" : "refuted");
    if (!all) {
        printf(" (by %s)", refuted);
    }
    printf("\n    = updates/s ratio");
    for (unsigned j = 1; j < nc; j++) {
        printf(" %.2fx", o->upd_x[j]);
    }
    printf("; reader lookups/s ratio");
    for (unsigned j = 1; j < nc; j++) {
        printf(" %.2fx", o->rd_x[j]);
    }
    printf("\n    = ops per CPU-second the row got, ratio");
    for (unsigned j = 1; j < nc; j++) {
        printf(" %.2fx", o->cpu_x[j]);
    }
    const struct bench_sm_stats *st = &o->sm;
    printf("\n    = syncmap under its mutex: %llu stores (%llu new keys), "
           "%llu missed lookups,\n      %llu promotions, %llu dirty "
           "rebuilds copying %llu entries, %llu doublings moving %llu\n",
           (unsigned long long)st->locked_stores,
           (unsigned long long)st->new_keys, (unsigned long long)st->misses,
           (unsigned long long)st->promotions, (unsigned long long)st->rebuilds,
           (unsigned long long)st->rebuilt, (unsigned long long)st->growths,
           (unsigned long long)st->grown);
}

/* The maps of one W x R row, built for the claims in their order. */
static void
cl_build(const struct wr_contender *cs, unsigned nc, size_t n, void **m,
         _Atomic uint64_t *next)
{
    for (unsigned j = 0; j < nc; j++) {
        m[j] = wr_build(cs[j].a, n);
        atomic_init(&next[j], n);
    }
}

static void
cl_drop(const struct wr_contender *cs, unsigned nc, void **m)
{
    for (unsigned j = 0; j < nc; j++) {
        wr_drop(cs[j].a, m[j]);
    }
    GC_gcollect();
}

void
wr_claims(unsigned runs, double secs)
{
    struct wr_contender cs[CL_NC];
    unsigned nc;

    runs = runs < 1 ? 1 : runs > CL_MAXRUNS ? CL_MAXRUNS : runs;
    if (!cl_contenders(cs, &nc)) {
        printf("\nsync.Map's claims: need syncmap and at least one of "
               "ghash-mutex, ghash-rwlock, ghash-shards (left out)\n");
        return;
    }
    for (unsigned w = 1; w <= 4; w *= 2) {
        for (unsigned r = 1; r <= 2; r++) {
            if (!wr_quick_row(w, r, false)) {
                continue;
            }
            void *m[CL_NC];
            _Atomic uint64_t next[CL_NC];
            struct cl_out out[CL_NCLAIMS];
            cl_build(cs, nc, WR_N, m, next);
            printf("\nsync.Map's claims (issue 15): W = %u, R = %u%s, 1M u64 "
                   "keys, %u interleaved runs of %.2f s; medians\n",
                   w, r, w + r > 2 ? " (oversubscribes the 2 cores)" : "", runs,
                   secs);
            printf("  %-9s %-12s %12s %12s %12s %8s %6s %6s %5s\n", "claim",
                   "map", "ops/s", "updates/s", "rd lookups/s", "p99 us",
                   "rd cpu", "wr cpu", "gc %");
            fflush(stdout);
            /* In this order: the churn claim moves the key window. */
            for (unsigned ic = 0; ic < CL_NCLAIMS; ic++) {
                cl_measure(&cl_claims[ic], cs, nc, m, next, WR_N, w, r, runs,
                           secs, true, &out[ic]);
                for (unsigned j = 0; j < nc; j++) {
                    const struct wr_cell *c = &out[ic].med[j];
                    printf("  %-9s %-12s %12.0f %12.0f %12.0f %8.1f %6.2f "
                           "%6.2f %5.1f\n",
                           cl_claims[ic].id, cs[j].name, c->ops_s, c->upd_s,
                           c->rd_s, c->p99_us, c->rd_cpu, c->wr_cpu, c->gc_pct);
                }
                fflush(stdout);
            }
            cl_drop(cs, nc, m);
            printf("\n");
            for (unsigned ic = 0; ic < CL_NCLAIMS; ic++) {
                cl_print(ic, &cl_claims[ic], cs, nc, &out[ic]);
            }
            printf("  ops/s: every thread's lookups and updates per second; "
                   "ratios: syncmap over\n  each baseline in the order "
                   "above, median of the per-run ratios; ops per\n  "
                   "CPU-second: ops/s over the cores the row's threads got "
                   "(what the map does\n  with a core, apart from what "
                   "the scheduler gave it)\n");
            fflush(stdout);
        }
    }
}

/*
 * The smoke test's pass over the claims: small maps, one short run each,
 * checking the answers and that every ratio came out (no speed is
 * judged, so no verdict is printed).
 */
void
wr_claims_smoke(unsigned *pass, unsigned *fail)
{
    struct wr_contender cs[CL_NC];
    unsigned nc;
    const size_t n = 20000;
    void *m[CL_NC];
    _Atomic uint64_t next[CL_NC];

    if (!cl_contenders(cs, &nc)) {
        printf("sync.Map claims: syncmap or every baseline left out "
               "(not run)\n");
        return;
    }
    cl_build(cs, nc, n, m, next);
    for (unsigned ic = 0; ic < CL_NCLAIMS; ic++) {
        struct cl_out o;
        cl_measure(&cl_claims[ic], cs, nc, m, next, n, 2, 1, 1, 0.02, false,
                   &o);
        bool ok = o.ok;
        for (unsigned j = 1; j < nc; j++) {
            ok &= isfinite(o.ops_x[j]) && o.ops_x[j] > 0;
        }
        if (ok) {
            (*pass)++;
        } else {
            (*fail)++;
            printf("FAIL: sync.Map claim %s\n", cl_claims[ic].id);
        }
    }
    cl_drop(cs, nc, m);
    printf("ok: sync.Map claims (answers only)\n");
    fflush(stdout);
}
