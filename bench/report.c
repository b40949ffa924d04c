/*
 * report.c - what the parent writes after every section ran: the headline
 * (libhamt's targets, a table on the terminal and headline.csv), every
 * record (raw.csv) and every series' median, minimum and maximum
 * (summary.csv), and plot_info.csv, the few values bench/plots.gp puts in
 * its titles.  The sections' own tables and CSV files come from their
 * report functions (sections.c); this file only reads the records.
 *
 * The targets are one table (targets[] below): each row names the two
 * figures it compares (a series' median, or a per-round ratio of two
 * single-thread series), the comparison and the limit; the goal text and
 * the verdict are derived from those, so a goal is written once.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* ratio = median over rounds of hamt/ref (both "single", same N). */
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
};

#define SINGLE(m, op)                                                          \
    {                                                                          \
        .workload = "single", .map = m, .metric = op                           \
    }
#define RW(m, metric_)                                                         \
    {                                                                          \
        .workload = "rw", .map = m, .metric = metric_, .readers = 1,           \
        .writers = 1, .scale = 1e6                                             \
    }
#define EDITS(m, metric_)                                                      \
    {                                                                          \
        .workload = "edits", .map = m, .metric = metric_                       \
    }
#define VS_GHASH(op, text, lim)                                                \
    {                                                                          \
        .what = text, .unit = "ns", .size = AT_SINGLE,                         \
        .hamt = SINGLE("libhamt", op), .ref = SINGLE("ghash", op),             \
        .per_round = true, .cmp = AT_MOST, .limit = lim                        \
    }
#define COLLIDE(m, metric_)                                                    \
    {                                                                          \
        .workload = "collide", .map = m, .metric = metric_                     \
    }
#define COLLIDE_BUILD(metric_, text)                                           \
    {                                                                          \
        .what = text, .unit = "ms", .size = AT_COLLIDE,                        \
        .hamt = COLLIDE("ordered", metric_),                                   \
        .ref = COLLIDE("distinct", metric_), .cmp = AT_MOST, .limit = 10.0,    \
        .optional = true                                                       \
    }
#define K_SPEEDUP(k, batch, text)                                              \
    {                                                                          \
        .what = text, .unit = "ns", .size = AT_EDITS,                          \
        .hamt = EDITS("libhamt", "sets_k" #k),                                 \
        .ref = EDITS("libhamt", batch "_k" #k), .cmp = AT_LEAST, .limit = 3.0, \
        .optional = true                                                       \
    }

/* Issue 14's persistent update goals at one N (Clojure's ratios here). */
#define VS_GHASH_AT(op, text, lim, at)                                         \
    {                                                                          \
        .what = text, .unit = "ns", .size = at, .hamt = SINGLE("libhamt", op), \
        .ref = SINGLE("ghash", op), .per_round = true, .cmp = AT_MOST,         \
        .limit = lim, .optional = true                                         \
    }
/* The budget section (budget.c), at its N. */
#define BUDGET(m, metric_, scale_)                                             \
    {                                                                          \
        .workload = "budget", .map = m, .metric = metric_, .scale = scale_     \
    }

static const struct target targets[] = {
    VS_GHASH("lookup_hit", "lookup hit vs ghash", 1.0),
    VS_GHASH("insert", "persistent insert vs ghash insert", 2.5),
    VS_GHASH("remove", "persistent remove vs ghash remove", 3.0),
    VS_GHASH("iterate", "iterate per entry vs ghash", 2.0),
    {.what = "lookup hit, 16-key batches (hamt_get_many) vs ghash",
     .unit = "ns",
     .size = AT_SINGLE,
     .hamt = SINGLE("libhamt", "lookup_hit_batch"),
     .ref = SINGLE("ghash", "lookup_hit"),
     .cmp = AT_MOST,
     .limit = 1.0},
    {.what = "bytes per entry (loaded via one batch) vs ghash",
     .unit = "B",
     .size = AT_SINGLE,
     .hamt = {.workload = "memory",
              .map = "libhamt",
              .metric = "bytes_per_entry"},
     .ref = {.workload = "memory", .map = "ghash", .metric = "bytes_per_entry"},
     .cmp = AT_MOST,
     .limit = 1.0},
    {.what = "reader lookups/s under 1 writer vs best(rculfhash, ck_hs)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "reader_ops_s"),
     .ref = {.workload = "rw",
             .map = "urcu-lfht,ck-hs",
             .metric = "reader_ops_s",
             .readers = 1,
             .writers = 1,
             .scale = 1e6,
             .best_of = true},
     .cmp = AT_LEAST,
     .limit = 2.0},
    {.what = "reader lookups/s under 1 writer vs ghash-rwlock",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "reader_ops_s"),
     .ref = RW("ghash-rwlock", "reader_ops_s"),
     .cmp = AT_LEAST,
     .limit = 10.0},
    {.what = "writer updates/s (1 reader), every update vs ck_hs writer",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "writer_ops_s"),
     .ref = RW("ck-hs", "writer_ops_s"),
     .cmp = AT_LEAST,
     .limit = 1.0},
    /* Issue 14: the writer publishing a batch of 16 updates at a time. */
    {.what = "writer updates/s (1 reader), batches of 16 vs ck_hs writer",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt-b16", "writer_ops_s"),
     .ref = RW("ck-hs", "writer_ops_s"),
     .cmp = AT_LEAST,
     .limit = 1.0},
    /*
     * Issue 14: readers the collector never stops (libhamt-slot, hazard
     * slots) next to registered readers (libhamt), 1 writer, 1 reader.
     */
    {.what = "readers (slot) under 1 writer vs best(rculfhash, ck_hs)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt-slot", "reader_ops_s"),
     .ref = {.workload = "rw",
             .map = "urcu-lfht,ck-hs",
             .metric = "reader_ops_s",
             .readers = 1,
             .writers = 1,
             .scale = 1e6,
             .best_of = true},
     .cmp = AT_LEAST,
     .limit = 3.0},
    {.what = "reader gaps over 5 ms per 10 s under 1 writer: slot",
     .unit = "n",
     .size = AT_CONC,
     .hamt = {.workload = "rw",
              .map = "libhamt-slot",
              .metric = "gaps_5ms_per_10s",
              .readers = 1,
              .writers = 1},
     .cmp = AT_MOST,
     .limit = 2.0},
    /* Registered readers stop at every collection: today's model, shown
     * beside the slot rows (issue 14 keeps it), with no goal. */
    {.what = "reader gaps over 5 ms per 10 s under 1 writer: registered",
     .unit = "n",
     .size = AT_CONC,
     .hamt = {.workload = "rw",
              .map = "libhamt",
              .metric = "gaps_5ms_per_10s",
              .readers = 1,
              .writers = 1},
     .info = true},
    {.what = "reader longest gap (slot): 1 writer vs 2 readers, no writer",
     .unit = "ms",
     .size = AT_CONC,
     .hamt = {.workload = "rw",
              .map = "libhamt-slot",
              .metric = "gap_max_ms",
              .readers = 1,
              .writers = 1},
     .ref = {.workload = "ro",
             .map = "libhamt-slot",
             .metric = "gap_max_ms",
             .readers = 2},
     .cmp = AT_MOST,
     .limit = 1.0},
    {.what = "reader lookup rate during collections / outside: slot",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt-slot", "rate_stopped_ops_s"),
     .ref = RW("libhamt-slot", "rate_outside_ops_s"),
     .ratio_metric = "rate_stopped_ratio",
     .cmp = AT_LEAST,
     .limit = 0.9},
    {.what = "reader lookup rate during collections / outside: registered",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "rate_stopped_ops_s"),
     .ref = RW("libhamt", "rate_outside_ops_s"),
     .ratio_metric = "rate_stopped_ratio",
     .info = true},
    {.what = "2 readers, no writer vs unlocked ghash",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = {.workload = "ro",
              .map = "libhamt",
              .metric = "reader_ops_s",
              .readers = 2,
              .scale = 1e6},
     .ref = {.workload = "ro",
             .map = "ghash",
             .metric = "reader_ops_s",
             .readers = 2,
             .scale = 1e6},
     .cmp = AT_LEAST,
     .limit = 0.9},
    {.what = "max GC pause, 1M entries under write churn (ms)",
     .unit = "ms",
     .size = AT_CONC,
     .hamt = {.workload = "rw",
              .map = "libhamt",
              .metric = "gc_max_ms",
              .writers = 1,
              .max_any_readers = true},
     .cmp = AT_MOST,
     .limit = 10.0},
    {.what = "build via one batch (hamt_batch_set_many) vs ghash insert",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = EDITS("libhamt", "batch_build_many"),
     .ref = EDITS("ghash", "build"),
     .cmp = AT_MOST,
     .limit = 1.5,
     .optional = true},
    {.what = "build via one batch (hamt_batch_set) vs ghash insert",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = EDITS("libhamt", "batch_build"),
     .ref = EDITS("ghash", "build"),
     .cmp = AT_MOST,
     .limit = 1.5,
     .optional = true},
    K_SPEEDUP(1000, "batch", "k=1000 updates: k sets / batch_set (speedup)"),
    K_SPEEDUP(10000, "batch", "k=10000 updates: k sets / batch_set (speedup)"),
    K_SPEEDUP(100000, "batch",
              "k=100000 updates: k sets / batch_set (speedup)"),
    K_SPEEDUP(1000, "batch_many",
              "k=1000 updates: k sets / batch_set_many (speedup)"),
    K_SPEEDUP(10000, "batch_many",
              "k=10000 updates: k sets / batch_set_many (speedup)"),
    K_SPEEDUP(100000, "batch_many",
              "k=100000 updates: k sets / batch_set_many (speedup)"),
    VS_GHASH_AT("insert", "persistent insert vs ghash, N = 10k", 1.8, AT_10K),
    VS_GHASH_AT("insert", "persistent insert vs ghash, N = 100k", 5.0, AT_100K),
    VS_GHASH_AT("insert", "persistent insert vs ghash, N = 1M", 5.9, AT_1M),
    VS_GHASH_AT("remove", "persistent remove vs ghash, N = 10k", 4.9, AT_10K),
    VS_GHASH_AT("remove", "persistent remove vs ghash, N = 100k", 11.0,
                AT_100K),
    VS_GHASH_AT("remove", "persistent remove vs ghash, N = 1M", 12.8, AT_1M),
    {.what = "writer stopped ns/update: default budget vs collector's",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt", "stopped_ns_default", 0),
     .ref = BUDGET("libhamt", "stopped_ns_b0", 0),
     .cmp = AT_MOST,
     .limit = 0.5,
     .optional = true},
    {.what = "writer collections/1M updates: default budget vs collector's",
     .unit = "",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt", "collections_per_1m_default", 0),
     .ref = BUDGET("libhamt", "collections_per_1m_b0", 0),
     .cmp = AT_MOST,
     .limit = 0.5,
     .optional = true},
    {.what = "writer updates/s, no reader: default budget vs collector's",
     .unit = "M/s",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt", "updates_per_s_default", 1e6),
     .ref = BUDGET("libhamt", "updates_per_s_b0", 1e6),
     .cmp = AT_LEAST,
     .limit = 1.0,
     .optional = true},
    {.what = "writer stopped ns/update: scalar values vs plain (default)",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt-scalar", "stopped_ns_default", 0),
     .ref = BUDGET("libhamt", "stopped_ns_default", 0),
     .cmp = AT_MOST,
     .limit = 1.0,
     .optional = true},
    {.what = "writer updates/s publishing every update (1 reader)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "writer_ops_s"),
     .cmp = AT_LEAST,
     .limit = 1.0},
    /* Issue 17: keys with one hash and an order (collision trees). */
    COLLIDE_BUILD("build_set_ms",
                  "one hash, ordered: hamt_set build vs distinct hashes"),
    COLLIDE_BUILD("build_batch_ms",
                  "one hash, ordered: batch_set build vs distinct"),
    COLLIDE_BUILD("build_many_ms",
                  "one hash, ordered: batch_set_many build vs distinct"),
    {.what = "one hash, ordered: lookup",
     .unit = "ns",
     .size = AT_COLLIDE,
     .hamt = COLLIDE("ordered", "lookup_ns"),
     .cmp = AT_MOST,
     .limit = 2000.0,
     .optional = true},
    {.what = "one hash, ordered: batch_set_many vs batch_set",
     .unit = "ms",
     .size = AT_COLLIDE,
     .hamt = COLLIDE("ordered", "build_many_ms"),
     .ref = COLLIDE("ordered", "build_batch_ms"),
     .cmp = AT_MOST,
     .limit = 1.0,
     .optional = true},
};
#define NTARGETS (sizeof targets / sizeof targets[0])

/* A target's figures as measured. */
struct result {
    const struct target *t;
    double hamt, ref, ratio;
    char goal[32];
    const char *verdict;
};
static struct result results[NTARGETS];
static unsigned nresults;

static size_t
single_n(void)
{
    const struct bench_cfg *c = &bench_cfg;
    for (unsigned i = 0; i < c->nns; i++) {
        if (c->ns[i] == 1000000) {
            return c->ns[i];
        }
    }
    return c->ns[c->nns - 1];
}

static size_t
target_n(const struct target *t)
{
    switch (t->size) {
    case AT_SINGLE:
        return single_n();
    case AT_CONC:
        return bench_cfg.conc_n;
    case AT_EDITS:
        return edits_n();
    case AT_10K:
        return 10000;
    case AT_100K:
        return 100000;
    case AT_1M:
        return 1000000;
    case AT_COLLIDE:
        return collide_keys();
    }
    return 0;
}

static double
figure_value(const struct figure *f, size_t n)
{
    double v = NAN;
    if (f->best_of) {
        char list[128];
        snprintf(list, sizeof list, "%s", f->map);
        for (char *s, *m = strtok_r(list, ",", &s); m != NULL;
             m = strtok_r(NULL, ",", &s)) {
            double x = rec_median(f->workload, m, BK_U64, n, f->readers,
                                  f->writers, 0, f->metric);
            if (!isnan(x) && (isnan(v) || x > v)) {
                v = x;
            }
        }
    } else if (f->max_any_readers) {
        for (unsigned ri = 0; ri < bench_cfg.nreaders; ri++) {
            double x = rec_max(f->workload, f->map, BK_U64, n,
                               bench_cfg.readers[ri], f->writers, 0, f->metric);
            if (!isnan(x) && (isnan(v) || x > v)) {
                v = x;
            }
        }
    } else {
        v = rec_median(f->workload, f->map, BK_U64, n, f->readers, f->writers,
                       0, f->metric);
    }
    return f->scale != 0 ? v / f->scale : v;
}

static void
targets_measure(void)
{
    nresults = 0;
    for (unsigned i = 0; i < NTARGETS; i++) {
        const struct target *t = &targets[i];
        struct result *r = &results[nresults];
        size_t n = target_n(t);
        bool absolute = t->ref.map == NULL;
        r->t = t;
        r->hamt = figure_value(&t->hamt, n);
        if (absolute && t->info) {
            r->ref = NAN; /* nothing to compare with */
            r->ratio = NAN;
        } else if (absolute) {
            /* Against the limit itself: the ratio must stay <= or >= 1. */
            r->ref = t->limit;
            r->ratio = r->hamt / t->limit;
        } else {
            r->ref = figure_value(&t->ref, n);
            r->ratio = t->per_round ? rec_ratio_per_round(
                           t->hamt.map, t->ref.map, BK_U64, n, t->hamt.metric)
                                    : r->hamt / r->ref;
        }
        if (t->ratio_metric != NULL) {
            struct figure f = t->hamt;
            f.metric = t->ratio_metric;
            f.scale = 0;
            r->ratio = figure_value(&f, n);
        }
        if (t->optional && (isnan(r->hamt) || isnan(r->ref))) {
            continue;
        }
        if (t->info) {
            r->goal[0] = '\0';
            r->verdict = "info";
            nresults++;
            continue;
        }
        const char *op = t->cmp == AT_MOST ? "<=" : ">=";
        if (absolute) {
            snprintf(r->goal, sizeof r->goal, "%s %g %s", op, t->limit,
                     t->unit);
        } else {
            snprintf(r->goal, sizeof r->goal, "%s %.1f", op, t->limit);
        }
        double bound = absolute ? 1.0 : t->limit;
        if (isnan(r->ratio)) {
            r->verdict = "n/a";
        } else if (t->cmp == AT_MOST ? r->ratio <= bound : r->ratio >= bound) {
            r->verdict = "met";
        } else {
            r->verdict = "MISSED";
        }
        nresults++;
    }
}

static void
headline_print(void)
{
    bool measured;
    size_t bp = breakpoint_wins_from(&measured);

    printf("\n== headline: libhamt targets, u64 keys, single-thread "
           "N = %zu, concurrent N = %zu\n",
           single_n(), bench_cfg.conc_n);
    bench_print_skipped(stdout, "   ");
    printf("%-58s %10s %10s %7s %9s  %s\n", "target", "libhamt", "reference",
           "ratio", "goal", "verdict");
    for (unsigned i = 0; i < nresults; i++) {
        const struct result *r = &results[i];
        const char *u = r->t->unit;
        if (r->t->ref.map == NULL && r->t->info) {
            printf("%-58s %7.2f %-2s %10s %7s %9s  %s\n", r->t->what, r->hamt,
                   u, "", "", "", r->verdict);
        } else if (r->t->ref.map == NULL) {
            printf("%-58s %7.2f %-2s %7.2f %-2s %7s %9s  %s\n", r->t->what,
                   r->hamt, u, r->ref, u, "", r->goal, r->verdict);
        } else {
            printf("%-58s %7.2f %-3s%7.2f %-3s%6.2fx %8s  %s\n", r->t->what,
                   r->hamt, u, r->ref, u, r->ratio, r->goal, r->verdict);
        }
    }
    if (measured) {
        if (bp) {
            printf("%-58s %s%zu\n", "copy-on-write breakpoint",
                   "path copying wins from N = ", bp);
        } else {
            printf("%-58s %s\n", "copy-on-write breakpoint",
                   "path copying never wins for good");
        }
    }
    if (bench_errors) {
        printf("\nWRONG ANSWERS: %lu (see stderr); the figures above are "
               "suspect\n",
               bench_errors);
    }
}

static void
write_raw_and_summary(void)
{
    FILE *f = out_csv("raw.csv");
    fprintf(f, "workload,map,keys,n,readers,writers,read_pct,metric,run,"
               "value\n");
    for (size_t i = 0; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        fprintf(f, "%s,%s,%s,%zu,%u,%u,%u,%s,%u,%.6g\n", r->workload, r->map,
                bench_kind_name(r->kind), r->n, r->readers, r->writers,
                r->read_pct, r->metric, r->run, r->v);
    }
    fclose(f);

    f = out_csv("summary.csv");
    fprintf(f, "workload,map,keys,n,readers,writers,read_pct,metric,median,"
               "min,max,runs\n");
    for (size_t i = 0; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        bool first = true;
        for (size_t j = 0; j < i && first; j++) {
            first = !rec_match(&recs[j], r->workload, r->map, r->kind, r->n,
                               r->readers, r->writers, r->read_pct, r->metric);
        }
        if (!first) {
            continue;
        }
        double v[256];
        size_t k = rec_series(v, 256, r->workload, r->map, r->kind, r->n,
                              r->readers, r->writers, r->read_pct, r->metric);
        double lo = v[0], hi = v[0];
        for (size_t j = 1; j < k; j++) {
            lo = v[j] < lo ? v[j] : lo;
            hi = v[j] > hi ? v[j] : hi;
        }
        fprintf(f, "%s,%s,%s,%zu,%u,%u,%u,%s,%.6g,%.6g,%.6g,%zu\n", r->workload,
                r->map, bench_kind_name(r->kind), r->n, r->readers, r->writers,
                r->read_pct, r->metric, bench_median(v, k), lo, hi, k);
    }
    fclose(f);
}

static void
write_headline(void)
{
    bool measured;
    size_t bp = breakpoint_wins_from(&measured);
    FILE *f = out_csv("headline.csv");
    fprintf(f, "target,libhamt,reference,unit,ratio,goal,verdict\n");
    for (unsigned i = 0; i < nresults; i++) {
        const struct result *r = &results[i];
        if (isnan(r->ref) && r->t->info) {
            /* An info row with nothing to compare: empty fields. */
            fprintf(f, "\"%s\",%.6g,,%s,,\"\",%s\n", r->t->what, r->hamt,
                    r->t->unit, r->verdict);
            continue;
        }
        fprintf(f, "\"%s\",%.6g,%.6g,%s,%.4g,\"%s\",%s\n", r->t->what, r->hamt,
                r->ref, r->t->unit, r->ratio, r->goal, r->verdict);
    }
    if (measured) {
        fprintf(f, "\"copy-on-write breakpoint N\",%zu,,,,,\n", bp);
    }
    fclose(f);
}

/* The values plots.gp puts in its titles, as name,value lines. */
static void
write_plot_info(void)
{
    bool measured;
    size_t bp = breakpoint_wins_from(&measured);
    FILE *f = out_open("plot_info.csv");
    fprintf(f, "name,value\n");
    fprintf(f, "stamp,%s\n", bench_meta);
    fprintf(f, "runs,%u\n", bench_cfg.runs);
    fprintf(f, "conc_n,%zu\n", bench_cfg.conc_n);
    fprintf(f, "breakpoint,%zu\n", measured ? bp : 0);
    fclose(f);
}

void
report_all(void)
{
    targets_measure();
    headline_print();
    write_raw_and_summary();
    write_headline();
    write_plot_info();
}
