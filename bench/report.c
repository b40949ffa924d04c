/*
 * report.c - what the parent writes after every section ran: the headline
 * (libhamt's targets, a table on the terminal and headline.csv), every
 * record (raw.csv) and every series' median, minimum and maximum
 * (summary.csv), and plot_info.csv, the few values bench/plots.gp puts in
 * its titles.  The sections' own tables and CSV files come from their
 * report functions (sections.c); this file only reads the records.
 *
 * The targets are one table (bench_targets[], targets.c): each row names
 * the two figures it compares (a series' median, or a per-round ratio of
 * two single-thread series), the comparison and the limit; the goal text
 * and the verdict are derived here from those, so a goal is written once.
 */
#include "bench.h"
#include "targets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A target's figures as measured. */
struct result {
    const struct target *t;
    double hamt, ref, ratio;
    char goal[32];
    const char *verdict;
};
static struct result *results; /* bench_ntargets of them */
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
    if (results == NULL) {
        results = bench_xmalloc(bench_ntargets * sizeof *results);
    }
    for (unsigned i = 0; i < bench_ntargets; i++) {
        const struct target *t = &bench_targets[i];
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
            if (t->per_round) {
                r->ratio =
                    rec_ratio_per_round2(t->hamt.map, t->hamt.metric,
                                         t->ref.map, t->ref.metric, BK_U64, n);
            } else {
                /* A reference of 0 has no ratio (not -nan or inf). */
                r->ratio = r->ref != 0 ? r->hamt / r->ref : NAN;
            }
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
            r->verdict = t->claim ? "reproduced" : "met";
        } else {
            r->verdict = t->claim ? "refuted" : "MISSED";
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
        if (isnan(r->ratio)) {
            /* No ratio (a reference of 0, or none measured): empty. */
            fprintf(f, "\"%s\",%.6g,%.6g,%s,,\"%s\",%s\n", r->t->what, r->hamt,
                    r->ref, r->t->unit, r->goal, r->verdict);
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
    fprintf(f, "budget_floor_mib,%u\n", budget_factor_floor_mib());
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
