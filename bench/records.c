/*
 * records.c - every figure the bench measures is one record (struct rec in
 * bench.h); tables, ratios, CSV files and the headline are all read back
 * from the records, never from a section's private variables.  That is
 * what lets a section run in a child process: the child writes its records
 * to a file (rec_save) and the parent reads them in (rec_load).
 *
 * Statistics: the median of a series (every run of one workload, map, key
 * kind, size, thread count and metric), its maximum, and the median over
 * rounds of a per-round ratio of two single-thread series.
 */
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Series longer than this are cut (runs are capped at 200). */
#define SERIES_CAP 256

struct rec *recs;
size_t nrecs;
static size_t caprecs;
unsigned long bench_errors;

void
bench_fail(const char *fmt, ...)
{
    va_list ap;
    if (bench_errors++ < 20) {
        fprintf(stderr, "ERROR: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

void
rec_add(const char *workload, const char *map, enum bkind kind, size_t n,
        unsigned readers, unsigned writers, unsigned pct, const char *metric,
        unsigned run, double v)
{
    if (nrecs == caprecs) {
        caprecs = caprecs ? 2 * caprecs : 1024;
        recs = realloc(recs, caprecs * sizeof *recs);
        if (recs == NULL) {
            abort();
        }
    }
    recs[nrecs++] = (struct rec){workload, map, kind,   n,   readers,
                                 writers,  pct, metric, run, v};
}

void
bench_rec(const char *workload, const char *map, size_t n, const char *metric,
          unsigned run, double v)
{
    /* Copies: callers build metric names in buffers of their own. */
    rec_add(strdup(workload), strdup(map), BK_U64, n, 0, 0, 0, strdup(metric),
            run, v);
}

bool
rec_match(const struct rec *r, const char *workload, const char *map,
          enum bkind kind, size_t n, unsigned readers, unsigned writers,
          unsigned pct, const char *metric)
{
    return strcmp(r->workload, workload) == 0 && strcmp(r->map, map) == 0
           && r->kind == kind && r->n == n && r->readers == readers
           && r->writers == writers && r->read_pct == pct
           && strcmp(r->metric, metric) == 0;
}

size_t
rec_series(double *out, size_t cap, const char *workload, const char *map,
           enum bkind kind, size_t n, unsigned readers, unsigned writers,
           unsigned pct, const char *metric)
{
    size_t k = 0;
    for (size_t i = 0; i < nrecs && k < cap; i++) {
        if (rec_match(&recs[i], workload, map, kind, n, readers, writers, pct,
                      metric)) {
            out[k++] = recs[i].v;
        }
    }
    return k;
}

double
rec_median(const char *workload, const char *map, enum bkind kind, size_t n,
           unsigned readers, unsigned writers, unsigned pct, const char *metric)
{
    double v[SERIES_CAP];
    size_t k = rec_series(v, SERIES_CAP, workload, map, kind, n, readers,
                          writers, pct, metric);
    return k ? bench_median(v, k) : NAN;
}

double
rec_max(const char *workload, const char *map, enum bkind kind, size_t n,
        unsigned readers, unsigned writers, unsigned pct, const char *metric)
{
    double v[SERIES_CAP], m = NAN;
    size_t k = rec_series(v, SERIES_CAP, workload, map, kind, n, readers,
                          writers, pct, metric);
    for (size_t i = 0; i < k; i++) {
        if (isnan(m) || v[i] > m) {
            m = v[i];
        }
    }
    return m;
}

double
rec_ratio_per_round(const char *a, const char *b, enum bkind kind, size_t n,
                    const char *metric)
{
    return rec_ratio_per_round2(a, metric, b, metric, kind, n);
}

double
rec_ratio_per_round2(const char *a, const char *metric_a, const char *b,
                     const char *metric_b, enum bkind kind, size_t n)
{
    /* Run r of a and of b were measured seconds apart (single.c). */
    double va[SERIES_CAP], vb[SERIES_CAP], r[SERIES_CAP];
    size_t ka =
        rec_series(va, SERIES_CAP, "single", a, kind, n, 0, 0, 0, metric_a);
    size_t kb =
        rec_series(vb, SERIES_CAP, "single", b, kind, n, 0, 0, 0, metric_b);
    size_t k = ka < kb ? ka : kb;
    if (k == 0) {
        return NAN;
    }
    for (size_t i = 0; i < k; i++) {
        r[i] = va[i] / vb[i];
    }
    return bench_median(r, k);
}

void
rec_save(const char *path, size_t from)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "hamt-bench: cannot write %s\n", path);
        exit(2);
    }
    for (size_t i = from; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        fprintf(f, "%s\t%s\t%d\t%zu\t%u\t%u\t%u\t%s\t%u\t%.17g\n", r->workload,
                r->map, (int)r->kind, r->n, r->readers, r->writers, r->read_pct,
                r->metric, r->run, r->v);
    }
    fprintf(f, "errors\t%lu\n", bench_errors);
    fclose(f);
}

bool
rec_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    char line[512], wl[64], map[64], metric[64];
    while (fgets(line, sizeof line, f)) {
        int kind;
        size_t n;
        unsigned rd, wr, pct, run;
        double v;
        unsigned long e;
        if (sscanf(line, "errors\t%lu", &e) == 1) {
            bench_errors += e;
            continue;
        }
        if (sscanf(line,
                   "%63[^\t]\t%63[^\t]\t%d\t%zu\t%u\t%u\t%u\t%63[^\t]"
                   "\t%u\t%lg",
                   wl, map, &kind, &n, &rd, &wr, &pct, metric, &run, &v)
            == 10) {
            rec_add(strdup(wl), strdup(map), (enum bkind)kind, n, rd, wr, pct,
                    strdup(metric), run, v);
        }
    }
    fclose(f);
    return true;
}
