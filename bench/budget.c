/*
 * budget.c - the "budget" section of hamt-bench: what the collector costs
 * a writer as a function of the budget between collections
 * (hamt_gc_set_budget, hamt_init(3)), for maps whose values the collector
 * scans (hamt_new) and maps whose values are scalars (hamt_new_scalar,
 * pointer-free leaves).
 *
 * One case per (budget, map kind), each in a process of its own, since a
 * collector heap never shrinks: a case that ran after a larger budget would
 * start with that heap.  A case loads N u64 keys through one batch,
 * publishes the map in a cell, collects once, then runs `runs` phases of
 * one writer: replace the value of a random key (hamt_set) and publish it
 * (hamt_cell_store), as the concurrent section's writer does, without
 * readers.  A phase runs from one collection to another, at least
 * budget_updates() updates (see "Phases" below).  Per phase it records
 *
 *   updates              the updates the phase made
 *   updates_per_s        writer updates per second
 *   collections_per_1m   collections per million updates
 *   stopped_ns           time the world stood still, per update
 *   max_pause_ms         the longest pause of the phase
 *   heap_mb              the collector's heap at the end of the phase
 *
 * (the three collection figures only for a phase that saw a collection)
 * under the workload "budget", map "libhamt" or "libhamt-scalar", metric
 * "<metric>_b<budget in MiB>" for a fixed budget under the collector's own
 * free-space divisor (b0 is the collector's own schedule: divisor 3, a
 * budget of 1 byte), "<metric>_b<MiB>d<divisor>" for a budget under another
 * divisor, "<metric>_f<factor>" for a budget that follows the heap
 * (hamt_gc_set_budget_factor), and "<metric>_default" for the settings
 * hamt_init() chose in this process (the library's default, or
 * HAMT_GC_BUDGET / GC_FREE_SPACE_DIVISOR), which the headline compares
 * with b0.  Budgets are set with hamt_gc_set_budget() or
 * hamt_gc_set_budget_factor() and divisors with GC_set_free_space_divisor()
 * before the map is built.  The report prints every row and writes the
 * curve of the factor rows to budget.csv, which bench/plots.gp draws as
 * budget_curve.png.
 */
#include "bench.h"

#include <hamt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V(x) ((void *)(uintptr_t)(x))
#define MIB ((size_t)1 << 20)

/* The collector's own free-space divisor. */
#define DIV_COLLECTOR 3

/*
 * The rows.  A fixed budget in MiB (0 stands for 1 byte) under a divisor:
 * the divisor-3 rows are fixed budgets under the collector's divisor (0 =
 * the collector's own schedule), "4 MiB div 1" the library's default before
 * the proportional rule.  A factor row sets hamt_gc_set_budget_factor
 * (factor, FACTOR_FLOOR MiB) under divisor 1: the curve of budget.csv.
 * The BR_DEFAULT row changes nothing: hamt_init()'s own choice in this
 * process.  The headline divides it by the collector's own schedule (row
 * 0) and divides the scalar map's default by the plain map's, and cases
 * run one after another, each in its own process: on a shared machine two
 * processes minutes apart see different loads.  So budget_case() runs
 * those three first, next to each other.
 */
#define FACTOR_FLOOR 4
enum budget_kind { BR_FIXED, BR_FACTOR, BR_DEFAULT };
static const struct budget_row {
    enum budget_kind kind;
    unsigned mib, div, factor;
} budget_rows[] = {
    /* One row per line, as the table is read. */
    /* clang-format off */
    {BR_FIXED, 0, DIV_COLLECTOR, 0},
    {BR_DEFAULT, 0, 0, 0},
    {BR_FIXED, 16, DIV_COLLECTOR, 0},
    {BR_FIXED, 64, DIV_COLLECTOR, 0},
    {BR_FIXED, 256, DIV_COLLECTOR, 0},
    {BR_FIXED, FACTOR_FLOOR, 1, 0},
    {BR_FACTOR, FACTOR_FLOOR, 1, 1},
    {BR_FACTOR, FACTOR_FLOOR, 1, 2},
    {BR_FACTOR, FACTOR_FLOOR, 1, 3},
    {BR_FACTOR, FACTOR_FLOOR, 1, 4},
    {BR_FACTOR, FACTOR_FLOOR, 1, 6},
    {BR_FACTOR, FACTOR_FLOOR, 1, 8},
    {BR_FACTOR, FACTOR_FLOOR, 1, 12},
    /* clang-format on */
};
#define NBUDGETS (sizeof budget_rows / sizeof budget_rows[0])

/* For plots.gp's title of the curve (plot_info.csv). */
unsigned
budget_factor_floor_mib(void)
{
    return FACTOR_FLOOR;
}

/*
 * The metric name of row r: <metric>_b<MiB>, plus d<divisor> off 3, for a
 * fixed budget; <metric>_f<factor> for a factor row; <metric>_default.
 */
static void
budget_name(char *buf, size_t len, const char *metric,
            const struct budget_row *r)
{
    if (r->kind == BR_DEFAULT) {
        snprintf(buf, len, "%s_default", metric);
    } else if (r->kind == BR_FACTOR) {
        snprintf(buf, len, "%s_f%u", metric, r->factor);
    } else if (r->div == DIV_COLLECTOR) {
        snprintf(buf, len, "%s_b%u", metric, r->mib);
    } else {
        snprintf(buf, len, "%s_b%ud%u", metric, r->mib, r->div);
    }
}

/*
 * Phases.  A phase starts right after a collection (the set-up's
 * GC_gcollect, or the collection that ended the phase before) and ends
 * right after the first collection that comes once it has made
 * budget_updates() updates: it is a whole number of the writer's cycles
 * between collections, so that its collections and stopped time per
 * update, and its updates per second, are those of whole cycles, whatever
 * the budget.  A phase of a fixed number of updates saw no collection at
 * all where a cycle is longer than the phase (the large factors in the
 * quick mode), and read a cost of 0 that nothing had measured.  BUDGET_CAP
 * bounds a phase whose cycle is longer still; a phase that reaches it
 * without a collection records no collection figures, which the table and
 * budget.csv show as missing.
 */
#define BUDGET_CAP 4000000

/* The updates a phase makes at least. */
static size_t
budget_updates(void)
{
    return strcmp(bench_cfg.mode, "full") == 0 ? 1000000 : 200000;
}

unsigned
budget_cases(void)
{
    /* libhamt is the only map here; without it the section has nothing. */
    for (unsigned i = 0; bench_adapters[i] != NULL; i++) {
        if (strcmp(bench_adapters[i]->name, "libhamt") == 0
            && bench_selected(bench_adapters[i])) {
            return 2 * (unsigned)NBUDGETS;
        }
    }
    return 0;
}

/* Records v under row r's name. */
static void
budget_rec(const char *map, size_t n, const char *metric,
           const struct budget_row *r, unsigned run, double v)
{
    char name[64];

    budget_name(name, sizeof name, metric, r);
    bench_rec("budget", map, n, name, run, v);
}

/*
 * The row and map kind of case c (0 <= c < 2 * NBUDGETS): first the plain
 * map under the collector's schedule, the plain map's default and the
 * scalar map's default, the three the headline compares; then every other
 * case in table order, the plain map's rows before the scalar map's.
 */
static void
budget_case(unsigned c, unsigned *row, bool *scalar)
{
    static const struct {
        unsigned row;
        bool scalar;
    } first[] = {{0, false}, {1, false}, {1, true}};
    const unsigned nfirst = sizeof first / sizeof first[0];

    *row = 0; /* for a c out of range, which budget_run() never passes */
    *scalar = false;
    if (c < nfirst) {
        *row = first[c].row;
        *scalar = first[c].scalar;
        return;
    }
    c -= nfirst;
    for (unsigned k = 0; k < 2 * NBUDGETS; k++) {
        unsigned r = k % NBUDGETS;
        bool s = k >= NBUDGETS, taken = false;
        for (unsigned f = 0; f < nfirst; f++) {
            taken = taken || (first[f].row == r && first[f].scalar == s);
        }
        if (!taken && c-- == 0) {
            *row = r;
            *scalar = s;
            return;
        }
    }
}

void
budget_run(long c)
{
    if (c < 0 || c >= (long)(2 * NBUDGETS)) {
        return;
    }
    size_t n = edits_n(), updates = budget_updates();
    unsigned runs = bench_cfg.runs;
    unsigned row;
    bool scalar;
    budget_case((unsigned)c, &row, &scalar);
    const struct budget_row *r = &budget_rows[row];
    size_t bytes = r->mib == 0 ? 1 : (size_t)r->mib * MIB;
    const char *map = scalar ? "libhamt-scalar" : "libhamt";

    if (r->kind == BR_FIXED && hamt_gc_set_budget(bytes) != 0) {
        bench_fail("budget: hamt_gc_set_budget(%u MiB) failed", r->mib);
        return;
    }
    if (r->kind == BR_FACTOR
        && hamt_gc_set_budget_factor(r->factor, bytes) != 0) {
        bench_fail("budget: hamt_gc_set_budget_factor(%u) failed", r->factor);
        return;
    }
    if (r->kind != BR_DEFAULT) {
        GC_set_free_space_divisor(r->div);
    }
    /*
     * The map, cell and batch live in an uncollectable block: the
     * collector must see them (malloc memory is not scanned), and the
     * compiler may keep them only in registers.
     */
    struct st {
        const struct hamt *m;
        struct hamt_cell *cell;
        struct hamt_batch *b;
    } *s = GC_MALLOC_UNCOLLECTABLE(sizeof *s);
    if (s == NULL) {
        bench_fail("budget: out of memory");
        return;
    }
    s->m = scalar ? hamt_new_scalar(HAMT_KEY_U64) : hamt_new(HAMT_KEY_U64);
    s->b = s->m != NULL ? hamt_batch_begin(s->m) : NULL;
    if (s->b == NULL) {
        bench_fail("budget: set-up failed");
        GC_FREE(s);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (hamt_batch_set(s->b, HAMT_U64(bench_key_u64(i)), V(i + 1)) < 0) {
            bench_fail("budget: load failed");
            GC_FREE(s);
            return;
        }
    }
    s->m = hamt_batch_finish(s->b);
    s->b = NULL;
    s->cell = hamt_cell_new(s->m);
    if (s->m == NULL || s->cell == NULL) {
        bench_fail("budget: set-up failed");
        GC_FREE(s);
        return;
    }
    GC_gcollect();

    uint64_t rs = 0x5eed ^ (uint64_t)c;
    for (unsigned run = 0; run < runs; run++) {
        struct bench_gc_stats st;
        size_t u = 0;
        bench_gc_reset();
        /*
         * The writer is the only thread here that allocates, so every
         * collection runs inside its own calls and the count it reads
         * after a call is the one that call left: no lock is needed.
         */
        GC_word seen = GC_get_gc_no();
        uint64_t t0 = bench_now_ns();
        while (u < BUDGET_CAP) {
            size_t i = (size_t)bench_below(&rs, n);
            const struct hamt *m2 =
                hamt_set(s->m, HAMT_U64(bench_key_u64(i)), V(u + 2));
            if (m2 == NULL || hamt_cell_store(s->cell, m2, NULL) != 0) {
                bench_fail("budget: update failed");
                GC_FREE(s);
                return;
            }
            s->m = m2;
            u++;
            GC_word now = GC_get_gc_no();
            if (now != seen) {
                seen = now;
                if (u >= updates) {
                    break;
                }
            }
        }
        uint64_t t1 = bench_now_ns();
        bench_gc_read(&st, NULL);
        double secs = (double)(t1 - t0) / 1e9;
        budget_rec(map, n, "updates", r, run, (double)u);
        budget_rec(map, n, "updates_per_s", r, run, (double)u / secs);
        budget_rec(map, n, "heap_mb", r, run,
                   (double)st.heap_bytes / (double)MIB);
        if (st.collections == 0) {
            continue; /* nothing of the collector's cost was measured */
        }
        budget_rec(map, n, "collections_per_1m", r, run,
                   (double)st.collections * 1e6 / (double)u);
        budget_rec(map, n, "stopped_ns", r, run, st.total_ms * 1e6 / (double)u);
        budget_rec(map, n, "max_pause_ms", r, run, st.max_ms);
    }
    if (hamt_size(s->m) != n) {
        bench_fail("budget: the map holds %zu keys, not %zu", hamt_size(s->m),
                   n);
    }
    GC_FREE(s);
}

/* A median of this section: map, metric stem, row. */
static double
budget_median(const char *map, const char *metric, const struct budget_row *r)
{
    char name[64];

    budget_name(name, sizeof name, metric, r);
    return rec_median("budget", map, BK_U64, edits_n(), 0, 0, 0, name);
}

/* One column of the table, width w, or "-" where nothing was measured. */
static void
budget_col(int w, int prec, double v, const char *unit)
{
    char buf[32];

    if (isnan(v)) {
        snprintf(buf, sizeof buf, "-");
    } else {
        snprintf(buf, sizeof buf, "%.*f%s", prec, v, unit);
    }
    printf(" %*s", w, buf);
}

void
budget_report(void)
{
    static const char *const maps[] = {"libhamt", "libhamt-scalar"};
    static const char *const metrics[] = {"updates_per_s", "collections_per_1m",
                                          "stopped_ns", "max_pause_ms",
                                          "heap_mb"};

    if (isnan(budget_median("libhamt", "updates_per_s", &budget_rows[0]))) {
        return;
    }
    printf("\n== the budget between collections (hamt_gc_set_budget, "
           "hamt_gc_set_budget_factor): one writer, hamt_set + "
           "hamt_cell_store of random keys, N = %zu u64 keys, median of %u "
           "phases, each from a collection to the first collection after "
           "%zu updates (at most %u updates; \"-\": no collection to "
           "measure); budget 0 = the collector's own schedule; factor F = F "
           "x the heap in use after each collection, at least %u MiB; div = "
           "the collector's free-space divisor; default = hamt_init's "
           "settings%s\n",
           edits_n(), bench_cfg.runs, budget_updates(), BUDGET_CAP,
           FACTOR_FLOOR,
           getenv("HAMT_GC_BUDGET") != NULL
                   || getenv("GC_FREE_SPACE_DIVISOR") != NULL
               ? " (from the environment)"
               : "");
    printf("%-15s %-15s %8s %10s %12s %12s %10s %8s\n", "map", "budget",
           "phase", "upd/s", "coll/1M upd", "stopped ns", "max pause", "heap");
    for (unsigned k = 0; k < 2; k++) {
        for (unsigned i = 0; i < NBUDGETS; i++) {
            const struct budget_row *r = &budget_rows[i];
            double u = budget_median(maps[k], "updates_per_s", r);
            char label[32];
            if (isnan(u)) {
                continue;
            }
            if (r->kind == BR_DEFAULT) {
                snprintf(label, sizeof label, "default");
            } else if (r->kind == BR_FACTOR) {
                snprintf(label, sizeof label, "factor %u", r->factor);
            } else {
                snprintf(label, sizeof label, "%u MiB div %u", r->mib, r->div);
            }
            printf("%-15s %-15s", maps[k], label);
            budget_col(8, 2, budget_median(maps[k], "updates", r) / 1e6, " M");
            budget_col(10, 3, u / 1e6, " M");
            budget_col(12, 1, budget_median(maps[k], "collections_per_1m", r),
                       "");
            budget_col(12, 1, budget_median(maps[k], "stopped_ns", r), "");
            budget_col(10, 1, budget_median(maps[k], "max_pause_ms", r), " ms");
            budget_col(8, 0, budget_median(maps[k], "heap_mb", r), " MiB");
            printf("\n");
        }
    }
    /*
     * The curve: the factor rows, with factor 0 standing for the divisor-1
     * row without the rule (its floor alone).
     */
    FILE *f = out_csv("budget.csv");
    fprintf(f, "factor");
    for (unsigned k = 0; k < 2; k++) {
        for (unsigned j = 0; j < 5; j++) {
            fprintf(f, ",%s %s", maps[k], metrics[j]);
        }
    }
    fprintf(f, "\n");
    for (unsigned i = 0; i < NBUDGETS; i++) {
        const struct budget_row *r = &budget_rows[i];
        if (r->kind != BR_FACTOR
            && !(r->kind == BR_FIXED && r->div == 1
                 && r->mib == FACTOR_FLOOR)) {
            continue;
        }
        fprintf(f, "%u", r->factor);
        for (unsigned k = 0; k < 2; k++) {
            for (unsigned j = 0; j < 5; j++) {
                /* An empty field, which gnuplot skips: not measured. */
                double v = budget_median(maps[k], metrics[j], r);
                if (isnan(v)) {
                    fprintf(f, ",");
                } else {
                    fprintf(f, ",%.4g", j == 0 ? v / 1e6 : v);
                }
            }
        }
        fprintf(f, "\n");
    }
    fclose(f);
}
