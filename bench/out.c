/*
 * out.c - the files a run writes into --out: every one starts with the
 * same comment line (date, system, CPU, mode, runs and the collector's
 * marker threads, which decide how much CPU slot readers keep during a
 * collection), so a CSV file or a picture can be traced to the run that
 * made it.
 */
#include "bench.h"

#include <errno.h>
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

char bench_meta[1024];

void
out_meta_prepare(void)
{
    struct utsname u;
    char cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    snprintf(cpu, sizeof cpu, "%s", p + 2);
                    cpu[strcspn(cpu, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    uname(&u);
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    snprintf(bench_meta, sizeof bench_meta,
             "%s | %s %s %s | %s x %ld | mode %s, %u runs, %d markers", date,
             u.sysname, u.release, u.machine, cpu,
             sysconf(_SC_NPROCESSORS_ONLN), bench_cfg.mode, bench_cfg.runs,
             GC_get_parallel() + 1);
}

FILE *
out_open(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", bench_cfg.outdir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "hamt-bench: cannot write %s: %s\n", path,
                strerror(errno));
        exit(2);
    }
    return f;
}

FILE *
out_csv(const char *name)
{
    FILE *f = out_open(name);
    fprintf(f, "# hamt-bench %s\n", bench_meta);
    bench_print_skipped(f, "# ");
    return f;
}

/*
 * The pattern is matched against the names in outdir, never joined to the
 * directory's path first: a directory named with glob characters would
 * otherwise match other paths.
 */
void
out_remove(const char *pattern)
{
    const char *dir = bench_cfg.outdir;
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL) {
        if (errno == ENOENT) {
            return; /* nothing written there yet */
        }
        fprintf(stderr, "hamt-bench: cannot list %s: %s\n", dir,
                strerror(errno));
        exit(2);
    }
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        if (fnmatch(pattern, e->d_name, FNM_PERIOD) != 0) {
            errno = 0;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, "hamt-bench: cannot remove %s: %s\n", path,
                    strerror(errno));
            exit(2);
        }
        errno = 0;
    }
    if (errno != 0) {
        fprintf(stderr, "hamt-bench: cannot list %s: %s\n", dir,
                strerror(errno));
        exit(2);
    }
    closedir(d);
}
