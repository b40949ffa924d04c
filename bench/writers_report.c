/*
 * writers_report.c - the several-writer section's results (writers.c
 * measures them): the table of rows and its lookups, the combiner's
 * requests per round, the issue 15 targets with verdicts, writers.csv and
 * the pictures' data and gnuplot script.
 */
#include "writers.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *const wr_pattern_name[3] = {"update", "churn", "disjoint"};
const unsigned wr_pcts[3] = {50, 90, 99};

/*
 * The combiner's rounds during a row's phases (h0: the counts before):
 * how many requests each round held, the figure that says whether
 * combining batches at all.
 */
void
wr_hist(const struct wr_row *r, void *m, const uint64_t *h0)
{
    uint64_t h[BENCH_COMBINE_HIST], rounds = 0, reqs = 0;

    if (!bench_combine_hist(m, h, BENCH_COMBINE_HIST)) {
        return;
    }
    for (unsigned i = 0; i < BENCH_COMBINE_HIST; i++) {
        h[i] -= h0[i];
        rounds += h[i];
        reqs += h[i] * (i + 1); /* the last bucket counts as its floor */
    }
    if (rounds == 0) {
        return;
    }
    printf("   %s %s %u%% W=%u R=%u: %.2f requests per round (%llu rounds);"
           " rounds of 1/2/3/4/5+: %.1f/%.1f/%.1f/%.1f/%.1f%%\n",
           r->name, wr_pattern_name[r->pat], r->pct, r->w, r->r,
           (double)reqs / (double)rounds, (unsigned long long)rounds,
           100.0 * (double)h[0] / (double)rounds,
           100.0 * (double)h[1] / (double)rounds,
           100.0 * (double)h[2] / (double)rounds,
           100.0 * (double)h[3] / (double)rounds,
           100.0 * (double)(rounds - h[0] - h[1] - h[2] - h[3])
               / (double)rounds);
    fflush(stdout);
}

static struct wr_row *rows;
static size_t nrows, caprows;

void
wr_row_add(const struct wr_row *r)
{
    if (nrows == caprows) {
        caprows = caprows ? 2 * caprows : 256;
        rows = realloc(rows, caprows * sizeof *rows);
        if (rows == NULL) {
            abort();
        }
    }
    rows[nrows++] = *r;
}

const struct wr_row *
wr_find(const char *name, enum wr_pattern pat, unsigned pct, unsigned w,
        unsigned r)
{
    for (size_t i = 0; i < nrows; i++) {
        if (strcmp(rows[i].name, name) == 0 && rows[i].pat == pat
            && rows[i].pct == pct && rows[i].w == w && rows[i].r == r) {
            return &rows[i];
        }
    }
    return NULL;
}

double
wr_med(double *v, unsigned n)
{
    return bench_median(v, n);
}

/* Every field of struct wr_cell, for wr_cell_median(). */
static const size_t wr_cell_fields[] = {
    offsetof(struct wr_cell, upd_s),        offsetof(struct wr_cell, rd_s),
    offsetof(struct wr_cell, p50_us),       offsetof(struct wr_cell, p99_us),
    offsetof(struct wr_cell, worst_p99_us), offsetof(struct wr_cell, ops_s),
    offsetof(struct wr_cell, hit_pct),      offsetof(struct wr_cell, rd_cpu),
    offsetof(struct wr_cell, wr_cpu),       offsetof(struct wr_cell, vcsw_upd),
    offsetof(struct wr_cell, gc_pct),       offsetof(struct wr_cell, slow),
    offsetof(struct wr_cell, slow_pre),     offsetof(struct wr_cell, slow_slp),
};

void
wr_cell_median(const struct wr_cell *cells, unsigned n, struct wr_cell *med)
{
    double v[WR_MAXRUNS];

    if (n > WR_MAXRUNS) {
        n = WR_MAXRUNS;
    }
    for (size_t f = 0; f < sizeof wr_cell_fields / sizeof *wr_cell_fields;
         f++) {
        size_t off = wr_cell_fields[f];

        for (unsigned k = 0; k < n; k++) {
            memcpy(&v[k], (const char *)&cells[k] + off, sizeof v[k]);
        }
        double m = wr_med(v, n);
        memcpy((char *)med + off, &m, sizeof m);
    }
}

/*
 * Why the readers target holds or not: a reader's lookups/s is its
 * lookups per second of CPU times the CPU it got, and on an
 * oversubscribed machine the scheduler, not the map, decides the latter.
 * Prints both factors for the combiner's row and the best other row, and
 * the share of the row's CPU the combiner's reader would need for twice
 * the other's lookups/s at its own lookups per CPU-second.
 */
static void
wr_reader_budget(const struct wr_row *cb, const struct wr_row *o)
{
    const struct wr_cell *c = &cb->med;
    double ctot = c->rd_cpu + c->wr_cpu;

    if (o == NULL || c->rd_cpu <= 0 || o->med.rd_cpu <= 0 || ctot <= 0) {
        return;
    }
    double cper = c->rd_s / c->rd_cpu, oper = o->med.rd_s / o->med.rd_cpu;
    double otot = o->med.rd_cpu + o->med.wr_cpu;
    printf(
        "    = lookups per reader CPU-second %.2f M vs %s's %.2f M (%.2fx)"
        "\n      x reader's share of the row's CPU %.0f%% vs %.0f%% (fair "
        "share of %u threads: %.0f%%);\n      2x %s's readers needs "
        "%.0f%% of the CPU the row got\n",
        cper / 1e6, o->name, oper / 1e6, cper / oper, 100.0 * c->rd_cpu / ctot,
        otot > 0 ? 100.0 * o->med.rd_cpu / otot : 0.0, cb->threads,
        100.0 / cb->threads, o->name, 100.0 * 2.0 * o->med.rd_s / cper / ctot);
}

/*
 * The same split for the updates targets: updates per second of the
 * writers' CPU (what the map and the combiner do with a core) times the
 * cores the writers got (what the scheduler gave them).
 */
static void
wr_writer_budget(const struct wr_row *cb, const struct wr_row *o)
{
    const struct wr_cell *c = &cb->med;

    if (o == NULL || c->wr_cpu <= 0 || o->med.wr_cpu <= 0) {
        return;
    }
    double cper = c->upd_s / c->wr_cpu, oper = o->med.upd_s / o->med.wr_cpu;
    printf("    = updates per writer CPU-second %.0f vs %s's %.0f (%.2fx)"
           " x writers' cores %.2f vs %.2f (%.2fx)\n",
           cper, o->name, oper, cper / oper, c->wr_cpu, o->med.wr_cpu,
           c->wr_cpu / o->med.wr_cpu);
}

void
wr_targets(unsigned pct)
{
    const struct wr_row *cb = wr_find("libhamt-combine", WP_UPDATE, pct, 4, 1);
    const struct wr_row *one = wr_find("libhamt-1w", WP_UPDATE, pct, 1, 1);
    const struct wr_row *sh = wr_find("ghash-shards", WP_UPDATE, pct, 4, 1);
    if (cb == NULL) {
        return;
    }
    printf("\ntargets (update pattern, %u%% reads, W = 4, R = 1; same run):\n",
           pct);
    if (one != NULL) {
        double x = cb->med.upd_s / one->med.upd_s;
        printf("  combine updates/s vs one writer publishing each (W=1): "
               "%.2fx (target >= 2x) %s\n",
               x, x >= 2 ? "MET" : "NOT MET");
        wr_writer_budget(cb, one);
    }
    if (sh != NULL) {
        double x = cb->med.upd_s / sh->med.upd_s;
        printf("  combine updates/s vs 32 shards (W=4): %.2fx (target >= 1x)"
               " %s\n",
               x, x >= 1 ? "MET" : "NOT MET");
        wr_writer_budget(cb, sh);
    }
    /*
     * Twice: against every other contender, and against those whose
     * writers reach a tenth of the combiner's updates/s (the cow-map's
     * readers run almost alone: its writers copy 1M entries per update).
     */
    for (int busy = 0; busy < 2; busy++) {
        double best = 0, best_upd = 0;
        const char *bestn = "-";
        for (size_t i = 0; i < nrows; i++) {
            const struct wr_row *r = &rows[i];
            if (r->pat == WP_UPDATE && r->pct == pct && r->w == 4 && r->r == 1
                && strncmp(r->name, "libhamt", 7) != 0
                && (!busy || r->med.upd_s >= cb->med.upd_s / 10)
                && r->med.rd_s > best) {
                best = r->med.rd_s;
                best_upd = r->med.upd_s;
                bestn = r->name;
            }
        }
        if (best > 0) {
            double x = cb->med.rd_s / best;
            /* Its writers' rate beside it: a best reader row whose
             * writers hardly write is no contest. */
            printf("  reader lookups/s vs best other%s (%s, writers %.0f "
                   "updates/s against %.0f): %.2fx (target >= 2x) %s\n",
                   busy ? " writing >= 1/10 as fast" : "", bestn, best_upd,
                   cb->med.upd_s, x, x >= 2 ? "MET" : "NOT MET");
            if (busy) {
                wr_reader_budget(cb, wr_find(bestn, WP_UPDATE, pct, 4, 1));
            }
        }
    }
    printf("  submit-to-visible p99: %.1f us (target < 100 us) %s\n",
           cb->med.p99_us, cb->med.p99_us < 100 ? "MET" : "NOT MET");
}

void
wr_report(FILE *csv)
{
    for (int p = 0; p < WR_NGRID; p++) {
        for (unsigned ip = 0; ip < 3; ip++) {
            unsigned pct = wr_pcts[ip];
            bool any = false;
            for (size_t i = 0; i < nrows; i++) {
                any |= rows[i].pat == (enum wr_pattern)p && rows[i].pct == pct;
            }
            if (!any) {
                continue;
            }
            printf("\nseveral writers: %s pattern, %u%% reads (writers), "
                   "1M u64 keys\n",
                   wr_pattern_name[p], pct);
            printf("  %-16s %2s %2s %-5s %12s %12s %9s %9s %9s %6s %6s "
                   "%9s %7s %5s\n",
                   "map", "W", "R", "cores", "updates/s", "rd lookups/s",
                   "p50 us", "p99 us", "worst p99", "rd cpu", "wr cpu",
                   "rd M/cpus", "slp/upd", "gc %");
            for (size_t i = 0; i < nrows; i++) {
                const struct wr_row *r = &rows[i];
                if (r->pat != (enum wr_pattern)p || r->pct != pct) {
                    continue;
                }
                printf("  %-16s %2u %2u %-5s %12.0f %12.0f %9.1f %9.1f "
                       "%9.1f %6.2f %6.2f %9.2f %7.2f %5.1f\n",
                       r->name, r->w, r->r, r->threads > 2 ? "OVER" : "ok",
                       r->med.upd_s, r->med.rd_s, r->med.p50_us, r->med.p99_us,
                       r->med.worst_p99_us, r->med.rd_cpu, r->med.wr_cpu,
                       r->med.rd_cpu > 0 ? r->med.rd_s / r->med.rd_cpu / 1e6
                                         : 0.0,
                       r->med.vcsw_upd, r->med.gc_pct);
                if (getenv("HAMT_BENCH_WR_DIAG") != NULL) {
                    printf("  %-16s   updates over 20 us: %.2f per 1000;"
                           " of them preempted %.0f%%, asleep %.0f%%\n",
                           "", r->med.slow, r->med.slow_pre, r->med.slow_slp);
                }
            }
        }
    }
    printf("\n  cores: OVER = the row runs more threads than the 2 cores "
           "(W + R, plus the owner thread)\n"
           "  rd cpu, wr cpu: cores the readers / writers got (own CPU time "
           "over wall time, summed);\n"
           "  rd M/cpus: reader lookups per second of the readers' CPU; "
           "slp/upd: writers' voluntary\n"
           "  context switches (sleeps) per update; gc %%: share of the "
           "phase the collector\n  had the world stopped (every "
           "registered thread, readers too)\n");
    for (unsigned ip = 0; ip < 3; ip++) {
        wr_targets(wr_pcts[ip]);
    }
    if (csv != NULL) {
        fprintf(csv, "pattern,read_pct,map,writers,readers,threads,"
                     "oversubscribed,updates_s,reader_lookups_s,lat_p50_us,"
                     "lat_p99_us,worst_writer_p99_us,reader_hit_pct,"
                     "reader_cores,writer_cores,writer_sleeps_per_update,"
                     "gc_stopped_pct\n");
        for (size_t i = 0; i < nrows; i++) {
            const struct wr_row *r = &rows[i];
            fprintf(csv,
                    "%s,%u,%s,%u,%u,%u,%d,%.0f,%.0f,%.2f,%.2f,%.2f,%.2f,"
                    "%.3f,%.3f,%.3f,%.2f\n",
                    wr_pattern_name[r->pat], r->pct, r->name, r->w, r->r,
                    r->threads, r->threads > 2, r->med.upd_s, r->med.rd_s,
                    r->med.p50_us, r->med.p99_us, r->med.worst_p99_us,
                    r->med.hit_pct, r->med.rd_cpu, r->med.wr_cpu,
                    r->med.vcsw_upd, r->med.gc_pct);
        }
    }
}

/* writers_<pattern>_r<pct>.dat: one block per contender (W, updates/s). */
void
wr_plots(const char *outdir, const struct wr_contender *cs, unsigned nc)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/writers.gp", outdir);
    FILE *gp = fopen(path, "w");
    if (gp == NULL) {
        return;
    }
    fprintf(gp, "# writers.gp - one picture per read ratio (R = 1)\n"
                "set terminal pngcairo size 1200,480\n"
                "set logscale y\nset xlabel 'writer threads W'\n"
                "set ylabel 'total updates/s'\nset key outside right\n"
                "set xtics (1, 2, 4)\n");
    for (unsigned ip = 0; ip < 3; ip++) {
        unsigned pct = wr_pcts[ip];
        bool wrote[2] = {false, false}; /* a .dat file per pattern */
        for (int p = 0; p < WR_NGRID; p++) {
            snprintf(path, sizeof path, "%s/writers_%s_r%u.dat", outdir,
                     wr_pattern_name[p], pct);
            bool have = false;
            for (unsigned c = 0; c < nc; c++) {
                have |=
                    wr_find(cs[c].name, (enum wr_pattern)p, pct, 4, 1) != NULL;
            }
            FILE *d = have ? fopen(path, "w") : NULL;
            if (d == NULL) {
                continue;
            }
            /* One block per contender in every file, so that a contender
             * keeps its index (and colour) in both panels. */
            for (unsigned c = 0; c < nc; c++) {
                bool some = false;
                fprintf(d, "\"%s\"\n", cs[c].name);
                for (unsigned w = 1; w <= 4; w *= 2) {
                    const struct wr_row *r =
                        wr_find(cs[c].name, (enum wr_pattern)p, pct, w, 1);
                    if (r != NULL) {
                        fprintf(d, "%u %.0f\n", w, r->med.upd_s);
                        some = true;
                    }
                }
                if (!some) {
                    fprintf(d, "1 NaN\n");
                }
                fprintf(d, "\n\n");
            }
            fclose(d);
            wrote[p] = true;
        }
        /* The quick mode runs one pattern: plot only the panels it has. */
        unsigned panels = (unsigned)wrote[0] + (unsigned)wrote[1];
        if (panels == 0) {
            continue;
        }
        fprintf(gp,
                "set output 'writers_r%u.png'\nset multiplot layout 1,%u "
                "title 'several writers, %u%% reads, 1M u64 keys, R = 1"
                " (2 cores: W >= 2 oversubscribes)'\n",
                pct, panels, pct);
        for (int p = 0; p < WR_NGRID; p++) {
            if (!wrote[p]) {
                continue;
            }
            fprintf(gp,
                    "set title '%s pattern'\n"
                    "plot for [i=0:%u] 'writers_%s_r%u.dat' index i "
                    "using 1:2 with linespoints title columnheader(1)\n",
                    wr_pattern_name[p], nc - 1, wr_pattern_name[p], pct);
        }
        fprintf(gp, "unset multiplot\n");
    }
    fclose(gp);
}
