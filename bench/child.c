/*
 * child.c - the child processes of a run.  The parent (child_parent) runs
 * each section of bench_sections[] in fresh child processes: this program
 * re-executed with --sections NAME --child FILE [--case C].  A collector
 * heap left large and full of garbage by one workload would otherwise tax
 * the allocations of the next (bench/FINDINGS.md, "Variance",
 * gives the measurement).  Within a section every
 * competitor still runs in the same process, so every ratio is taken
 * within one process.  The child prints its own tables and hands its
 * records back through FILE (rec_save, rec_load); a section with cases
 * runs one child per case, so each case has a process to itself.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs one child for `section` (case mcase, or -1) and loads its records. */
static void
child_run(char **argv, int argc, const char *section, long mcase)
{
    char file[4096], cs[32];
    snprintf(file, sizeof file, "%s/.hamt-bench-%s.tsv", bench_cfg.outdir,
             section);
    snprintf(cs, sizeof cs, "%ld", mcase);
    char **av = bench_xcalloc((size_t)argc + 7, sizeof *av);
    for (int i = 0; i < argc; i++) {
        av[i] = argv[i];
    }
    av[argc] = "--sections";
    av[argc + 1] = (char *)section;
    av[argc + 2] = "--child";
    av[argc + 3] = file;
    if (mcase >= 0) {
        av[argc + 4] = "--case";
        av[argc + 5] = cs;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execv("/proc/self/exe", av);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)
        || WEXITSTATUS(st) > 1) {
        bench_fail("section %s: child process failed (status %d)", section, st);
    }
    if (!rec_load(file)) {
        bench_fail("section %s: no results", section);
    }
    unlink(file);
    free(av);
}

int
child_main(const char *file, long case_no)
{
    size_t preloaded = 0;
    const char *pre = getenv("HAMT_BENCH_PRELOAD");
    if (pre != NULL && rec_load(pre)) {
        bench_errors = 0; /* the parent counts its own */
        preloaded = nrecs;
    }
    for (const struct bench_section *s = bench_sections; s->name; s++) {
        if (bench_section_on(s->name) && !s->in_parent) {
            s->run(case_no);
        }
    }
    rec_save(file, preloaded);
    return bench_errors ? 1 : 0;
}

int
child_parent(int argc, char **argv)
{
    const struct bench_cfg *c = &bench_cfg;
    if (mkdir(c->outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "hamt-bench: cannot create %s: %s\n", c->outdir,
                strerror(errno));
        return 2;
    }
    uint64_t t0 = bench_now_ns();
    printf("hamt-bench: %s\n", bench_meta);
    printf("competitors:");
    for (unsigned i = 0; bench_adapters[i]; i++) {
        if (bench_selected(bench_adapters[i])) {
            printf(" %s", bench_adapters[i]->name);
        }
    }
    printf("\n");
    bench_print_skipped(stdout, "");

    for (const struct bench_section *s = bench_sections; s->name; s++) {
        if (!bench_section_on(s->name)) {
            for (unsigned i = 0; s->outputs != NULL && s->outputs[i]; i++) {
                out_remove(s->outputs[i]);
            }
            continue;
        }
        if (s->in_parent) {
            s->run(-1);
            continue;
        }
        uint64_t ts = bench_now_ns();
        char file[4096];
        if (s->preload) {
            snprintf(file, sizeof file, "%s/.hamt-bench-%s-in.tsv", c->outdir,
                     s->name);
            rec_save(file, 0);
            setenv("HAMT_BENCH_PRELOAD", file, 1);
        }
        if (s->cases != NULL) {
            unsigned ncases = s->cases();
            for (unsigned k = 0; k < ncases; k++) {
                child_run(argv, argc, s->name, (long)k);
            }
        } else {
            child_run(argv, argc, s->name, -1);
        }
        if (s->preload) {
            unlink(file);
            unsetenv("HAMT_BENCH_PRELOAD");
        }
        printf("   (%s: %.1f s)\n", s->name,
               (double)(bench_now_ns() - ts) / 1e9);
    }
    for (const struct bench_section *s = bench_sections; s->name; s++) {
        if (s->report != NULL) {
            s->report();
        }
    }
    report_all();
    printf("\nwrote %s/{raw,summary,headline,balance,gc_pauses}.csv and the "
           "pictures' data in %.0f s\n",
           c->outdir, (double)(bench_now_ns() - t0) / 1e9);
    return bench_errors ? 1 : 0;
}
