/*
 * harness.h - the case counting and the ThreadSanitizer wrapper shared by
 * the plain-C stress programs (cell_stress.c, slot_stress.c,
 * combine_stress.c), so that each of them holds only its own workload.
 *
 * Each program counts its cases in passed/failed, ends with
 * stress_finish(), and so prints one "N passed, N failed" line that
 * test/run-all adds up and that agrees with the exit status.
 *
 * Under ThreadSanitizer the cases run in a child process (the same
 * program again, with the environment variable FDVAR naming a pipe),
 * because TSan's verdict only shows in the exit status (66 when it
 * reported anything).  The parent turns that status into a case of its
 * own, "tsan_reports_no_race".
 */
#ifndef TEST_STRESS_HARNESS_H
#define TEST_STRESS_HARNESS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif

static int passed, failed;

/* Counts one case; prints a line only when it failed. */
static inline void
stress_report(const char *name, unsigned long failures)
{
    if (failures == 0) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s: %lu\n", name, failures);
    }
}

/*
 * Prints the totals, hands them to a parent waiting on the pipe FDVAR
 * names (if any), and returns the exit status for main.
 */
static inline int
stress_finish(const char *fdvar)
{
    const char *fd = getenv(fdvar);

    printf("%d passed, %d failed\n", passed, failed);
    if (fd != NULL) {
        FILE *f = fdopen(atoi(fd), "w");

        if (f != NULL) {
            fprintf(f, "%d %d\n", passed, failed);
            fclose(f);
        }
    }
    return failed == 0 ? 0 : 1;
}

/*
 * The expected-to-detect modes (cell_stress -u, slot_stress -N) run their
 * readers in a child that reads reclaimed memory on purpose.  In a
 * sanitizer build the first read of a reused node is often a report
 * rather than a wrong value or a crash (UBSan: a member access through
 * the null pointer a zeroed node holds), and the runtime then ends the
 * process with its exit code, by default 1, which the parent could not
 * tell from other ends.  These defaults (read by the ASan and UBSan
 * runtimes at start-up, before the *SAN_OPTIONS variables) make that
 * code STRESS_SANITIZER_STOP, which the children never use themselves:
 * to the parent it means the damage was detected.  In the normal modes
 * it is a failure like any other non-zero status.
 */
#define STRESS_SANITIZER_STOP 4
#define STRESS_STR_(x) #x
#define STRESS_STR(x) STRESS_STR_(x)
#define STRESS_SANITIZER_OPTIONS "exitcode=" STRESS_STR(STRESS_SANITIZER_STOP)

/* Exported in spite of -fvisibility=hidden: the runtimes look them up. */
#define STRESS_EXPORT __attribute__((visibility("default")))
STRESS_EXPORT const char *__asan_default_options(void);
STRESS_EXPORT const char *__ubsan_default_options(void);

STRESS_EXPORT const char *
__asan_default_options(void)
{
    return STRESS_SANITIZER_OPTIONS;
}

STRESS_EXPORT const char *
__ubsan_default_options(void)
{
    return STRESS_SANITIZER_OPTIONS;
}

#ifdef STRESS_TSAN
/*
 * Runs the cases in a child (argv again, with FDVAR set) and adds TSan's
 * verdict as one more case through report; returns the exit status for
 * main.
 */
static inline int
stress_run_under_tsan(char **argv, const char *fdvar,
                      void (*report)(const char *, unsigned long))
{
    int fds[2];
    char buf[32];
    pid_t pid;
    int status;
    int p = 0, f = 0;
    bool tsan;
    FILE *in;

    fflush(stdout);
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        perror("run_under_tsan");
        return 2;
    }
    if (pid == 0) {
        close(fds[0]);
        snprintf(buf, sizeof buf, "%d", fds[1]);
        setenv(fdvar, buf, 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        _exit(2);
    }
    close(fds[1]);
    in = fdopen(fds[0], "r");
    if (in == NULL || fscanf(in, "%d %d", &p, &f) != 2) {
        f++; /* The child died before reporting its cases. */
    }
    if (in != NULL) {
        fclose(in);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 2;
    }
    passed = p;
    failed = f;
    tsan = WIFEXITED(status) && WEXITSTATUS(status) == 66;
    report("tsan_reports_no_race", tsan ? 1 : 0);
    if (!WIFEXITED(status) || (!tsan && WEXITSTATUS(status) != 0 && f == 0)) {
        failed++; /* Crashed, or failed without saying which case. */
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
#endif

#endif
