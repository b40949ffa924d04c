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

enum wr_pattern { WP_UPDATE = 0, WP_CHURN = 1 };
extern const char *const wr_pattern_name[2];
extern const unsigned wr_pcts[3];

struct wr_contender {
    const char *name;
    const struct bench_adapter *a;
    bool one_writer; /* W = 1 only, through a->update (single writer) */
};

struct wr_cell {
    double upd_s, rd_s, p50_us, p99_us, worst_p99_us;
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

/* writers_report.c */
void wr_row_add(const struct wr_row *r);
const struct wr_row *wr_find(const char *name, enum wr_pattern pat,
                             unsigned pct, unsigned w, unsigned r);
double wr_med(double *v, unsigned n);
void wr_hist(const struct wr_row *r, void *m, const uint64_t *h0);
void wr_targets(unsigned pct);
void wr_report(FILE *csv);
void wr_plots(const char *outdir, const struct wr_contender *cs, unsigned nc);

#endif
