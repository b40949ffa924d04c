/*
 * writers.h - what the several-writer section's measuring half (writers.c)
 * and its reporting half (writers_report.c) share: the contenders, the
 * key patterns and read ratios, and the table of result rows.  Private to
 * bench/.
 */
#ifndef HAMT_BENCH_WRITERS_H
#define HAMT_BENCH_WRITERS_H

#include "bench.h"

#include <stdio.h>

#define WR_MAXC 16 /* contenders at most */

/*
 * The grid runs the first WR_NGRID patterns (issue 15's two); the
 * disjoint pattern runs in sync.Map's claims (writers_claims.c) and the
 * smoke test only.
 */
enum wr_pattern { WP_UPDATE = 0, WP_CHURN = 1, WP_DISJOINT = 2 };
#define WR_NGRID 2
#define WR_N 1000000u /* keys in every map of the section */
extern const char *const wr_pattern_name[3];
extern const unsigned wr_pcts[3];

struct wr_contender {
    const char *name;
    const struct bench_adapter *a;
    bool one_writer; /* W = 1 only, through a->update (single writer) */
};

struct wr_cell {
    double upd_s, rd_s, p50_us, p99_us, worst_p99_us;
    /* Every thread's lookups and updates per second, summed. */
    double ops_s;
    double hit_pct;
    /*
     * Cores each role got (its threads' CPU seconds over their wall
     * seconds, summed) and the writers' voluntary context switches (sleeps)
     * per update: on an oversubscribed machine these say who held the CPU.
     */
    double rd_cpu, wr_cpu, vcsw_upd;
    /* Share of the phase the collector had the world stopped, percent. */
    double gc_pct;
    /*
     * HAMT_BENCH_WR_DIAG only: updates slower than 20 us per 1000 updates,
     * and the percentage of those preempted / asleep inside the call.
     */
    double slow, slow_pre, slow_slp;
};

struct wr_row {
    const char *name;
    enum wr_pattern pat;
    unsigned pct, w, r, threads;
    struct wr_cell med;
};

/* writers.c */
bool wr_phase(const struct wr_contender *ct, void *m, enum wr_pattern pat,
              size_t n, _Atomic uint64_t *next, unsigned nw, unsigned nr,
              unsigned read_pct, double secs, struct wr_cell *c);
void *wr_build(const struct bench_adapter *a, size_t n);
void wr_drop(const struct bench_adapter *a, void *m);
bool wr_quick_row(unsigned w, unsigned r, bool one_writer);

/* writers_claims.c */
void wr_claims(unsigned runs, double secs);
void wr_claims_smoke(unsigned *pass, unsigned *fail);

/* writers_report.c */
void wr_row_add(const struct wr_row *r);
const struct wr_row *wr_find(const char *name, enum wr_pattern pat,
                             unsigned pct, unsigned w, unsigned r);
double wr_med(double *v, unsigned n);
/* Most runs wr_cell_median() takes; more are ignored. */
#define WR_MAXRUNS 16
/* med := the median of each field over cells[0 .. n - 1]. */
void wr_cell_median(const struct wr_cell *cells, unsigned n,
                    struct wr_cell *med);
void wr_hist(const struct wr_row *r, void *m, const uint64_t *h0);
void wr_targets(unsigned pct);
void wr_report(FILE *csv);
void wr_plots(const char *outdir, const struct wr_contender *cs, unsigned nc);

#endif
