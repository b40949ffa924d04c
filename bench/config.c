/*
 * config.c - the parameters of a bench run: the two modes (--quick for
 * make bench, --full for make bench-full) and the --sections choice.
 * main.c starts from the quick mode and applies the command line on top.
 */
#include "bench.h"

#include <string.h>

struct bench_cfg bench_cfg;

/* Headline rows, every competitor, u64 keys, one reader: a few minutes. */
void
bench_mode_quick(void)
{
    struct bench_cfg *c = &bench_cfg;
    c->mode = "quick";
    c->runs = 5;
    c->ns[0] = 10000;
    c->ns[1] = 100000;
    c->ns[2] = 1000000;
    c->nns = 3;
    c->kinds[0] = BK_U64;
    c->nkinds = 1;
    c->readers[0] = 1;
    c->nreaders = 1;
    c->phase_s = 0.4;
    /* As long as phase_s: their longest gaps are compared (a maximum
     * grows with the time it is taken over). */
    c->ro_phase_s = 0.4;
    c->warm_s = 0.1;
    /*
     * Before each contender's timed rw runs: the first second or so of a
     * writer's churn after a build runs slow (bench/FINDINGS.md, "The
     * settle phase"), and the margin covers a loaded machine.
     */
    c->settle_s = 2.0;
    c->conc_n = 1000000;
    c->sweep = false;
    c->sweep_threads = 2;
    c->sweep_s = 0.3;
    c->bp_max = 1000000;
    c->bp_per_decade = 2;
    c->bp_min_s = 0.02;
    c->min_lookups = 200000;
    c->remove_sample = 200000;
    c->rt_cap = 5000;
    c->copy_cap = 4;
}

/* Every workload: string keys too, 1 and 2 readers, the read-ratio sweep,
 * a finer breakpoint and longer phases. */
void
bench_mode_full(void)
{
    struct bench_cfg *c = &bench_cfg;
    bench_mode_quick();
    c->mode = "full";
    c->kinds[1] = BK_STR;
    c->nkinds = 2;
    c->readers[1] = 2;
    c->nreaders = 2;
    c->phase_s = 2.0;
    c->ro_phase_s = 2.0;
    /* The same as quick: the cold start is as long whatever the phases. */
    c->settle_s = 2.0;
    c->sweep = true;
    c->sweep_s = 1.0;
    c->bp_per_decade = 4;
    c->bp_min_s = 0.05;
    c->min_lookups = 1000000;
    c->remove_sample = 0;
    c->rt_cap = 200000;
    c->copy_cap = 32;
}

bool
bench_section_on(const char *name)
{
    /* Whole items of the comma-separated list only. */
    const char *s = bench_cfg.sections;
    if (s == NULL) {
        return true;
    }
    size_t len = strlen(name);
    for (const char *p = s; (p = strstr(p, name)) != NULL; p++) {
        if ((p == s || p[-1] == ',') && (p[len] == '\0' || p[len] == ',')) {
            return true;
        }
    }
    return false;
}
