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
 * Every figure is the median of --runs repetitions.
 */
#include "bench.h"

#include <hamt.h>

#include <errno.h>
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
        "  --runs K         repetitions per figure (default 5, min 1)\n"
        "  --readers R,...  reader counts with one writer\n"
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

static unsigned
parse_list(const char *s, size_t *out, unsigned cap)
{
    unsigned k = 0;
    while (*s && k < cap) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s) {
            break;
        }
        out[k++] = (size_t)v;
        s = *end == ',' ? end + 1 : end;
    }
    return k;
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
        if (strcmp(argv[i], "--markers") == 0
            && hamt_set_markers((unsigned)atoi(argv[i + 1])) != 0) {
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
            c->runs = (unsigned)atoi(v);
            c->runs = c->runs < 1 ? 1 : (c->runs > 200 ? 200 : c->runs);
            i++;
        } else if (strcmp(a, "--readers") == 0 && v) {
            size_t r[8];
            c->nreaders = parse_list(v, r, 8);
            for (unsigned k = 0; k < c->nreaders; k++) {
                c->readers[k] = (unsigned)(r[k] ? r[k] : 1);
            }
            i++;
        } else if (strcmp(a, "--phase") == 0 && v) {
            c->phase_s = c->ro_phase_s = atof(v);
            i++;
        } else if (strcmp(a, "--settle") == 0 && v) {
            c->settle_s = atof(v);
            c->settle_s = c->settle_s > 0 ? c->settle_s : 0;
            i++;
        } else if (strcmp(a, "--n") == 0 && v) {
            c->nns = parse_list(v, c->ns, 8);
            i++;
        } else if (strcmp(a, "--child") == 0 && v) {
            child_file = v;
            i++;
        } else if (strcmp(a, "--case") == 0 && v) {
            case_no = atol(v);
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
