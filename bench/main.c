/*
 * main.c - hamt-bench, the driver of the bench suite: its command line.
 *
 * The bench runs every competitor (bench/adapt_*.c, listed in adapters.c)
 * through the sections listed in sections.c (one file each: single.c,
 * concurrent.c, breakpoint.c, balance.c, edits.c), each section in child
 * processes of its own (child.c), and reports a terminal table, CSV files
 * and the data bench/plots.gp draws (report.c).  bench/README.md says what
 * each section measures and how to add one.
 *
 * Modes: --quick (make bench: u64 keys, one reader, short phases, every
 * competitor), --full (make bench-full: u64 and string keys, 1 and 2
 * readers or --readers, the read-ratio sweep, a finer breakpoint), --smoke
 * (make check: every adapter on a small map, answers checked, no timing).
 * Every figure is the median of --runs repetitions, except the memory
 * section's bytes per entry (one build per map and size) and the maxima
 * the tables and the headline name as such.
 */
#include "bench.h"

#include <hamt.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(void)
{
    printf(
        "usage: hamt-bench [--quick | --full | --smoke] [options]\n"
        "  --quick          headline rows, all competitors (make bench)\n"
        "  --full           every workload (make bench-full)\n"
        "  --smoke          check every adapter's answers (make check)\n"
        "  --out DIR        where the CSV files go (default .)\n"
        "  --runs K         repetitions per figure (default 5; 1-200)\n"
        "  --readers R,...  reader counts with one writer (each 1-64)\n"
        "  --phase S        seconds per concurrent phase (rw and ro)\n"
        "  --settle S       untimed seconds of each contender's concurrent\n"
        "                   workload before its timed runs (2; 0: none)\n"
        "  --n N,...        single-thread sizes\n"
        "  --only a,b       only these competitors (names as in --list)\n"
        "  --markers M      the collector's marker threads (hamt_set_markers;\n"
        "                   default: the library's, 1 on <= 2 cores)\n"
        "  --sections LIST  any of");
    for (const struct bench_section *s = bench_sections; s->name; s++) {
        printf("%s%s", s == bench_sections ? " " : ",", s->name);
    }
    printf("\n"
           "  --list           list competitors and exit\n");
}

/*
 * A whole number in [lo, hi], written out in full: no sign, no text after
 * it.  atoi() would read "abc" or "5x" as a number and run the bench on it.
 */
static bool
arg_uint(const char *s, unsigned long long lo, unsigned long long hi,
         unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9') {
        return false;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

/* Seconds: a finite number, at least 0 (more than 0 if `positive`), at
 * most a day. */
static bool
arg_secs(const char *s, bool positive, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= 0 && v <= 86400)
        || (positive && v == 0)) {
        return false;
    }
    *out = v;
    return true;
}

/* A comma-separated list of 1 to cap numbers, each at least 1: their
 * count, or 0 if s is not such a list. */
static unsigned
parse_list(const char *s, size_t *out, unsigned cap)
{
    unsigned k = 0;

    for (;;) {
        char item[32];
        size_t len = strcspn(s, ",");
        unsigned long long v;
        if (k == cap || len == 0 || len >= sizeof item) {
            return 0;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        if (!arg_uint(item, 1, SIZE_MAX, &v)) {
            return 0;
        }
        out[k++] = (size_t)v;
        if (s[len] == '\0') {
            return k;
        }
        s += len + 1;
    }
}

/* Says which option had which bad value; main() then exits with 2. */
static int
bad_arg(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "hamt-bench: %s %s: expected %s\n", opt, v, want);
    return 2;
}

/*
 * The fixed seed of libhamt's hash, so that runs compare (HAMT_SEED wins).
 * hamt_init() initialises the collector: the bench must not call GC_INIT
 * first, or the library's default marker count (hamt_set_markers(3)) could
 * no longer apply and the bench would measure the collector's count
 * instead of the one applications get.
 */
static int
init_library(void)
{
    if (getenv("HAMT_SEED") == NULL) {
        static const uint8_t seed[16] = {0x68, 0x61, 0x6d, 0x74, 0x2d, 0x62,
                                         0x65, 0x6e, 0x63, 0x68, 0x2d, 0x73,
                                         0x65, 0x65, 0x64, 0x21};
        if (hamt_set_seed(seed) != 0) {
            fprintf(stderr, "hamt-bench: hamt_set_seed: %s\n", strerror(errno));
        }
    }
    if (hamt_init() != 0) {
        fprintf(stderr, "hamt-bench: hamt_init: %s\n", strerror(errno));
        return -1;
    }
    bench_gc_hook_install();
    return 0;
}

int
main(int argc, char **argv)
{
    struct bench_cfg *c = &bench_cfg;
    const char *child_file = NULL;
    long case_no = -1;
    bool do_smoke = false;

    /*
     * --markers must act before the collector initialises (the section
     * children get the same argument list, so they use the same count).
     */
    for (int i = 1; i + 1 < argc; i++) {
        unsigned long long m;
        if (strcmp(argv[i], "--markers") != 0) {
            continue;
        }
        if (!arg_uint(argv[i + 1], 1, UINT_MAX, &m)) {
            return bad_arg("--markers", argv[i + 1], "a count of at least 1");
        }
        if (hamt_set_markers((unsigned)m) != 0) {
            fprintf(stderr, "hamt-bench: hamt_set_markers: %s\n",
                    strerror(errno));
            return 2;
        }
    }
    if (init_library() != 0) {
        return 2;
    }
    bench_mode_quick();
    c->outdir = ".";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            bench_mode_quick();
        } else if (strcmp(a, "--full") == 0) {
            bench_mode_full();
        } else if (strcmp(a, "--smoke") == 0) {
            do_smoke = true;
        } else if (strcmp(a, "--out") == 0 && v) {
            c->outdir = v;
            i++;
        } else if (strcmp(a, "--runs") == 0 && v) {
            unsigned long long k;
            if (!arg_uint(v, 1, 200, &k)) {
                return bad_arg(a, v, "a count from 1 to 200");
            }
            c->runs = (unsigned)k;
            i++;
        } else if (strcmp(a, "--readers") == 0 && v) {
            size_t r[8];
            unsigned nr = parse_list(v, r, 8);
            if (nr == 0) {
                return bad_arg(a, v, "1 to 8 reader counts, each 1 to 64");
            }
            for (unsigned k = 0; k < nr; k++) {
                if (r[k] > 64) {
                    return bad_arg(a, v, "1 to 8 reader counts, each 1 to 64");
                }
                c->readers[k] = (unsigned)r[k];
            }
            c->nreaders = nr;
            i++;
        } else if (strcmp(a, "--phase") == 0 && v) {
            double s;
            if (!arg_secs(v, true, &s)) {
                return bad_arg(a, v, "seconds, more than 0");
            }
            c->phase_s = c->ro_phase_s = s;
            i++;
        } else if (strcmp(a, "--settle") == 0 && v) {
            if (!arg_secs(v, false, &c->settle_s)) {
                return bad_arg(a, v, "seconds, 0 or more");
            }
            i++;
        } else if (strcmp(a, "--n") == 0 && v) {
            unsigned nn = parse_list(v, c->ns, 8);
            if (nn == 0) {
                return bad_arg(a, v, "1 to 8 sizes, each at least 1");
            }
            c->nns = nn;
            i++;
        } else if (strcmp(a, "--child") == 0 && v) {
            child_file = v;
            i++;
        } else if (strcmp(a, "--case") == 0 && v) {
            unsigned long long k;
            if (!arg_uint(v, 0, LONG_MAX, &k)) {
                return bad_arg(a, v, "a case number");
            }
            case_no = (long)k;
            i++;
        } else if (strcmp(a, "--sections") == 0 && v) {
            c->sections = v;
            i++;
        } else if (strcmp(a, "--only") == 0 && v) {
            c->only = v;
            i++;
        } else if (strcmp(a, "--markers") == 0 && v) {
            i++; /* Applied before GC_INIT, above. */
        } else if (strcmp(a, "--list") == 0) {
            for (unsigned k = 0; bench_adapters[k]; k++) {
                printf("%-14s %s\n", bench_adapters[k]->name,
                       bench_adapters[k]->desc);
            }
            bench_print_skipped(stdout, "");
            return 0;
        } else {
            usage();
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (do_smoke) {
        c->warm_s = 0; /* answers are checked, nothing is timed */
        c->settle_s = 0;
        return smoke_main();
    }
    if (c->nns == 0 || c->nreaders == 0) {
        usage();
        return 2;
    }
    out_meta_prepare();
    if (child_file != NULL) {
        return child_main(child_file, case_no);
    }
    return child_parent(argc, argv);
}
