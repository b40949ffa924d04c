/*
 * concurrent_report.c - the concurrent sections' tables and data files:
 * concurrent_report() prints, for one key kind, the rw table (reader and
 * writer rates, latency percentiles, the readers' stall profile, the
 * collector's pauses), the ro table and, in the full mode, the sweep;
 * concurrent_write_data() writes concurrent.csv and gc_pauses.csv for
 * plots.gp.  Everything here reads the records concurrent.c added
 * (records.c); nothing is measured here.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void
concurrent_report(enum bkind kind, size_t n)
{
    for (unsigned ri = 0; ri < bench_cfg.nreaders; ri++) {
        unsigned R = bench_cfg.readers[ri];
        printf("\n== concurrent, %s keys, N = %zu: 1 writer + %u reader%s, "
               "%.1f s phases after %.1f s untimed, median of %u\n",
               bench_kind_name(kind), n, R, R > 1 ? "s" : "", bench_cfg.phase_s,
               bench_cfg.settle_s, bench_cfg.runs);
        bench_print_skipped(stdout, "   ");
        printf("%-14s %12s %12s %10s %10s %8s %8s %9s %10s  %s\n", "map",
               "read M/s", "per-reader", "write M/s", "M/CPU-s", "p50 ns",
               "p99 ns", "p99.9 ns", "max us", "GC n/max ms/heap MB");
        for (unsigned i = 0; bench_adapters[i]; i++) {
            const struct bench_adapter *a = bench_adapters[i];
            if (!bench_selected_conc(a)) {
                continue;
            }
            if (!(a->flags & BA_CONCURRENT)) {
                printf("%-14s  (not thread-safe with a writer: read-only "
                       "runs only)\n",
                       a->name);
                continue;
            }
#define M(metric) rec_median("rw", a->name, kind, n, R, 1, 0, metric)
            printf("%-14s %12.3f %12.3f %10.3g %10.3g %8.0f %8.0f %9.0f %10.1f",
                   a->name, M("reader_ops_s") / 1e6,
                   M("per_reader_ops_s") / 1e6, M("writer_ops_s") / 1e6,
                   M("writer_cpu_ops_s") / 1e6, M("lat_p50_ns"),
                   M("lat_p99_ns"), M("lat_p999_ns"), M("lat_max_ns") / 1e3);
            if (a->flags & BA_GC) {
                printf("  %.0f/%.2f/%.0f", M("gc_collections"),
                       rec_max("rw", a->name, kind, n, R, 1, 0, "gc_max_ms"),
                       M("gc_heap_mb"));
            }
#undef M
            printf("\n");
        }
        printf("\n== readers' stall profile, %s keys, N = %zu: 1 writer + %u "
               "reader%s; gaps between consecutive batches of %u lookups "
               "(per reader, scaled to 10 s), lookups/s per reader while the "
               "collector had the world stopped / otherwise (ratio: median "
               "of the runs' ratios; CPU ratio: the same per second of the "
               "reader's CPU time; CPU in/out: the share of a core the "
               "reader got in each window; own max: the longest gap less "
               "the reader's time waiting on a run queue for a CPU; "
               "rq wait: that waiting, ms per 10 s; steal: the share of "
               "the machine's CPU time the hypervisor gave to other guests, "
               "%% median/max of the runs)\n",
               bench_kind_name(kind), n, R, R > 1 ? "s" : "", BENCH_BATCH);
        printf("%-14s %10s %10s %10s %10s %12s %9s %12s %12s %8s %9s "
               "%11s\n",
               "map", "max gap ms", "own max ms", "rq wait", ">1ms/10s",
               ">5ms/10s", "steal %", "M/s stopped", "M/s outside", "ratio",
               "CPU ratio", "CPU in/out");
        for (unsigned i = 0; bench_adapters[i]; i++) {
            const struct bench_adapter *a = bench_adapters[i];
            if (!bench_selected_conc(a) || !(a->flags & BA_CONCURRENT)) {
                continue;
            }
#define M(metric) rec_median("rw", a->name, kind, n, R, 1, 0, metric)
            printf("%-14s %10.2f %10.2f %10.1f %10.1f %10.1f", a->name,
                   rec_max("rw", a->name, kind, n, R, 1, 0, "gap_max_ms"),
                   rec_max("rw", a->name, kind, n, R, 1, 0, "gap_own_max_ms"),
                   M("rq_wait_ms_per_10s"), M("gaps_1ms_per_10s"),
                   M("gaps_5ms_per_10s"));
            printf(" %5.1f/%-3.0f", M("steal_pct"),
                   rec_max("rw", a->name, kind, n, R, 1, 0, "steal_pct"));
            if (a->flags & BA_GC) {
                printf(" %12.3f %12.3f %7.0f%%", M("rate_stopped_ops_s") / 1e6,
                       M("rate_outside_ops_s") / 1e6,
                       M("rate_stopped_ratio") * 100);
                /* None for readers the collector stops (no CPU in pauses). */
                if (!isnan(M("rate_stopped_cpu_ratio"))) {
                    printf(" %8.0f%% %5.0f/%.0f%%",
                           M("rate_stopped_cpu_ratio") * 100,
                           M("cpu_share_stopped") * 100,
                           M("cpu_share_outside") * 100);
                }
            }
#undef M
            printf("\n");
        }
    }
    printf("\n== read-only, %s keys, N = %zu: 2 readers, no writer, %.1f s "
           "phases, median of %u\n",
           bench_kind_name(kind), n, bench_cfg.ro_phase_s, bench_cfg.runs);
    bench_print_skipped(stdout, "   ");
    printf("%-14s %12s %12s %8s %8s %10s %10s %10s %10s %9s\n", "map",
           "read M/s", "per-reader", "p50 ns", "p99 ns", "max us", "max gap ms",
           "own max ms", "rq wait", "steal %");
    for (unsigned i = 0; bench_adapters[i]; i++) {
        const struct bench_adapter *a = bench_adapters[i];
        if (!bench_selected_conc(a) || !(a->flags & BA_READ_MT)) {
            continue;
        }
#define M(metric) rec_median("ro", a->name, kind, n, 2, 0, 0, metric)
        printf("%-14s %12.3f %12.3f %8.0f %8.0f %10.1f %10.2f %10.2f %10.1f"
               "  %5.1f/%-3.0f\n",
               a->name, M("reader_ops_s") / 1e6, M("per_reader_ops_s") / 1e6,
               M("lat_p50_ns"), M("lat_p99_ns"), M("lat_max_ns") / 1e3,
               rec_max("ro", a->name, kind, n, 2, 0, 0, "gap_max_ms"),
               rec_max("ro", a->name, kind, n, 2, 0, 0, "gap_own_max_ms"),
               M("rq_wait_ms_per_10s"), M("steal_pct"),
               rec_max("ro", a->name, kind, n, 2, 0, 0, "steal_pct"));
#undef M
    }
    if (bench_cfg.sweep) {
        printf("\n== read-ratio sweep, %s keys, N = %zu: %u threads each "
               "mixing reads and updates, %.1f s phases; total M ops/s\n",
               bench_kind_name(kind), n, bench_cfg.sweep_threads,
               bench_cfg.sweep_s);
        bench_print_skipped(stdout, "   ");
        printf("%-14s %10s %10s %10s\n", "map", "99/1", "90/10", "50/50");
        for (unsigned i = 0; bench_adapters[i]; i++) {
            const struct bench_adapter *a = bench_adapters[i];
            if (!bench_selected_conc(a) || !(a->flags & BA_CONCURRENT)
                || a->update_mw == NULL) {
                continue;
            }
            printf("%-14s", a->name);
            static const unsigned pcts[] = {99, 90, 50};
            for (unsigned p = 0; p < 3; p++) {
                printf(" %10.3f", rec_median("sweep", a->name, kind, n,
                                             bench_cfg.sweep_threads, 0,
                                             pcts[p], "total_ops_s")
                                      / 1e6);
            }
            printf("\n");
        }
    }
    fflush(stdout);
}

/* Reader throughput (M/s) under a writer and without one, one row per map;
 * and libhamt's pauses under write churn (plots.gp reads both). */
void
concurrent_write_data(void)
{
    const struct bench_cfg *c = &bench_cfg;
    FILE *f = out_csv("concurrent.csv");
    fprintf(f, "map");
    for (unsigned ri = 0; ri < c->nreaders; ri++) {
        fprintf(f, ",R=%u", c->readers[ri]);
    }
    fprintf(f, ",no-writer(R=2)\n");
    for (unsigned i = 0; bench_adapters[i]; i++) {
        const struct bench_adapter *a = bench_adapters[i];
        if (!bench_selected_conc(a)) {
            continue;
        }
        fprintf(f, "%s", a->name);
        for (unsigned ri = 0; ri < c->nreaders; ri++) {
            double v = rec_median("rw", a->name, BK_U64, c->conc_n,
                                  c->readers[ri], 1, 0, "reader_ops_s");
            fprintf(f, isnan(v) ? ",NaN" : ",%.4f", v / 1e6);
        }
        double v = rec_median("ro", a->name, BK_U64, c->conc_n, 2, 0, 0,
                              "reader_ops_s");
        fprintf(f, isnan(v) ? ",NaN\n" : ",%.4f\n", v / 1e6);
    }
    fclose(f);

    f = out_csv("gc_pauses.csv");
    fprintf(f, "pause_ms\n");
    for (size_t i = 0; i < nrecs; i++) {
        if (strcmp(recs[i].workload, "gcpause") == 0) {
            fprintf(f, "%.4f\n", recs[i].v);
        }
    }
    fclose(f);
}
