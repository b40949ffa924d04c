/*
 * targets.h - the headline's targets (targets.c holds the table, report.c
 * measures and prints them): for each, the two figures it compares, the
 * comparison and the limit.  Private to bench/.
 */
#ifndef HAMT_BENCH_TARGETS_H
#define HAMT_BENCH_TARGETS_H

#include <stdbool.h>

/* Which N a target's figures were measured at. */
enum tsize {
    AT_SINGLE, /* the single-thread N: 1M if measured, else the largest */
    AT_CONC,   /* the concurrent N (conc_n) */
    AT_EDITS,  /* the edits section's N (edits_n) */
    AT_10K,    /* a fixed single-thread N (rows left out if not measured) */
    AT_100K,
    AT_1M,
    AT_COLLIDE, /* the collide section's N (collide_keys) */
};

/* One figure: the median of a series, scaled. */
struct figure {
    const char *workload;
    /* A map's name; with best_of, a comma-separated list of names. */
    const char *map;
    const char *metric;
    unsigned readers, writers;
    double scale; /* the median is divided by it (0: by 1) */
    bool best_of; /* the highest median of the maps listed */
    /* The highest value of any run, at every reader count of the run. */
    bool max_any_readers;
};

enum cmp { AT_MOST, AT_LEAST };

struct target {
    const char *what;
    const char *unit;
    enum tsize size;
    struct figure hamt;
    /* No reference (.ref.map NULL): the limit is absolute, in `unit`. */
    struct figure ref;
    /* ratio = median over rounds of hamt/ref (both "single", same N;
     * each its own metric). */
    bool per_round;
    /*
     * ratio = the median of this per-run ratio, which the section records
     * beside .hamt's metric (same map, readers and writers): a ratio taken
     * within each run, where the medians of hamt and ref may come from
     * different runs.
     */
    const char *ratio_metric;
    enum cmp cmp;
    double limit;
    /* Left out of the headline when a figure is missing (edits rows). */
    bool optional;
    /*
     * No goal: figures shown for comparison only (verdict "info"), e.g.
     * registered readers, which every collection stops by design.  An
     * absolute info row has no limit, so no reference or ratio either.
     */
    bool info;
    /*
     * A claim about a competitor under test rather than a goal of
     * libhamt's (sync.Map's, issue 15): the "libhamt" figure is that
     * competitor's, and the verdict reads "reproduced" or "refuted".
     */
    bool claim;
};

extern const struct target bench_targets[];
extern const unsigned bench_ntargets;

#endif
