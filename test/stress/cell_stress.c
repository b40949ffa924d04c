/*
 * cell_stress.c - readers, writers and waiters on one publication cell.
 *
 * A plain C program (no Criterion), so that it also runs under
 * ThreadSanitizer in a build configured with --disable-gc
 * --enable-sanitizers=thread; in the normal build it runs against the
 * collector and forces collections while readers hold snapshots.  It prints
 * "N passed, N failed" (one case per property below) and exits non-zero if
 * any case failed.
 *
 * Threads are created with the plain pthread_create (GC_NO_THREAD_REDIRECTS):
 * readers are made known to the collector by the library itself, on their
 * first hamt_cell_load().
 *
 * The invariant every published version satisfies is that of payload.h,
 * with NKEYS keys.  A torn read (map of one version, version of another), a
 * lost write, or a reclaimed and reused node or payload breaks it.
 *
 * Cases:
 *   store_readers_see_consistent_snapshots   phase 1: one writer (store),
 *       NREADERS readers; the writer forces GC_gcollect() every GC_EVERY
 *       publications in the collector build.
 *   store_versions_increase                  readers never see a version
 *       go backwards (P5).
 *   wait_wakes_on_publication                a waiter with a generous
 *       timeout follows the versions to the end; a lost wake-up would leave
 *       it asleep after the last publication and time out.
 *   update_loses_no_increment                phase 2: NWRITERS threads
 *       increment their own counter and a shared total through
 *       hamt_cell_update(); readers check total == sum of counters; at the
 *       end each counter is NUPDATES and the version grew by exactly the
 *       number of updates.
 *   tsan_reports_no_race                     (TSan builds only) the
 *       runtime reported nothing (see run_under_tsan()).
 *
 * usage: cell_stress [-u] [-n publications]
 *   -u  expected-to-detect mode (collector build only; make
 *       check-unregistered): readers unregister from the collector while
 *       holding a snapshot.  Passes only if the damage was detected (a
 *       failed check, the reader crashing on reused memory, or a
 *       sanitizer report).
 */
#include "harness.h"
#include "internal.h"
#include "payload.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif

#define NKEYS 256u
#define NREADERS 3
#define NWRITERS 2
#define GC_EVERY 200u

#ifdef HAMT_NO_GC
#define DEFAULT_PUBS 10000u /* TSan is slow and nothing is freed. */
#define NUPDATES 2000u
#else
#define DEFAULT_PUBS 20000u
#define NUPDATES 5000u
#endif

static struct hamt_cell *cell;
static unsigned pubs = DEFAULT_PUBS;
static bool unregistered_mode;

/* Test bookkeeping; published between threads with seq_cst atomics. */
static atomic_bool phase_done;
static atomic_ulong fail_torn;
static atomic_ulong fail_backwards;
static atomic_ulong fail_wait;
static atomic_ulong fail_update;
static atomic_ulong checks;
static atomic_ulong wakes;

static struct payload *
payload_new(uint64_t key, uint64_t ver)
{
    struct payload *p = payload_alloc(key, ver);

    if (p == NULL) {
        perror("payload_new");
        exit(2);
    }
    return p;
}

static void *
reader_main(void *arg)
{
    uint64_t last = 0;
    uint64_t v;
    const struct hamt *m;

    (void)arg;
    while (!atomic_load(&phase_done)) {
        m = hamt_cell_load(cell, &v);
        if (v < last) {
            atomic_fetch_add(&fail_backwards, 1);
        }
        last = v;
        if (unregistered_mode) {
            /*
             * Deliberately wrong: hold the snapshot on a stack the
             * collector no longer scans, and keep checking it while the
             * writer publishes and collects.
             */
            hamt_thread_unregister();
            for (int i = 0; i < 200 && !atomic_load(&phase_done); i++) {
                if (!payload_snapshot_ok(m, v, NKEYS)) {
                    atomic_fetch_add(&fail_torn, 1);
                    break;
                }
            }
            continue; /* The next load registers the thread again. */
        }
        if (!payload_snapshot_ok(m, v, NKEYS)) {
            atomic_fetch_add(&fail_torn, 1);
        }
        atomic_fetch_add(&checks, 1);
    }
    return NULL;
}

static void *
waiter_main(void *arg)
{
    const struct timespec patience = {30, 0}; /* A hang guard only. */
    uint64_t seen = 0;
    uint64_t now;

    (void)arg;
    while (seen < pubs) {
        if (hamt_cell_wait(cell, seen, &patience) != 0) {
            atomic_fetch_add(&fail_wait, 1);
            break;
        }
        now = hamt_cell_version(cell);
        if (now <= seen) {
            atomic_fetch_add(&fail_wait, 1);
            break;
        }
        seen = now;
        atomic_fetch_add(&wakes, 1);
    }
    return NULL;
}

/* Phase 1: the main thread publishes with hamt_cell_store(). */
static void
writer_store(void)
{
    const struct hamt *m = hamt_cell_load(cell, NULL);

    for (uint64_t v = 1; v <= pubs; v++) {
        m = hamt_set(m, HAMT_U64(v % NKEYS), payload_new(v % NKEYS, v));
        m = m ? hamt_set(m, HAMT_U64(NKEYS), payload_new(NKEYS, v)) : NULL;
        if (m == NULL) {
            perror("hamt_set");
            exit(2);
        }
        uint64_t pv = 0;
        if (hamt_cell_store(cell, m, &pv) != 0 || pv != v) {
            atomic_fetch_add(&fail_torn, 1);
        }
#ifndef HAMT_NO_GC
        if (v % GC_EVERY == 0) {
            GC_gcollect();
        }
#endif
    }
}

/* ---- phase 2: several writers through hamt_cell_update() ---- */

#define TOTAL_KEY 1000u

static uint64_t
word_of(const struct hamt *m, uint64_t key)
{
    void *val = NULL;

    (void)hamt_get(m, HAMT_U64(key), &val);
    return (uint64_t)(uintptr_t)val;
}

static const struct hamt *
update_inc(const struct hamt *cur, void *ctx)
{
    uint64_t w = (uint64_t)(uintptr_t)ctx;
    const struct hamt *m;

    m = hamt_set(cur, HAMT_U64(w), (void *)(uintptr_t)(word_of(cur, w) + 1));
    if (m == NULL) {
        return NULL;
    }
    return hamt_set(m, HAMT_U64(TOTAL_KEY),
                    (void *)(uintptr_t)(word_of(cur, TOTAL_KEY) + 1));
}

static void *
updater_main(void *arg)
{
    hamt_thread_register(); /* Allocates before its first cell call. */
    for (unsigned i = 0; i < NUPDATES; i++) {
        if (hamt_cell_update(cell, update_inc, arg) == NULL) {
            atomic_fetch_add(&fail_update, 1);
        }
    }
    return NULL;
}

static void *
sum_reader_main(void *arg)
{
    const struct hamt *m;
    uint64_t sum;

    (void)arg;
    while (!atomic_load(&phase_done)) {
        m = hamt_cell_load(cell, NULL);
        sum = 0;
        for (uint64_t w = 0; w < NWRITERS; w++) {
            sum += word_of(m, w);
        }
        if (sum != word_of(m, TOTAL_KEY)) {
            atomic_fetch_add(&fail_update, 1);
        }
        atomic_fetch_add(&checks, 1);
    }
    return NULL;
}

static void
spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    if (pthread_create(t, NULL, fn, arg) != 0) {
        perror("pthread_create");
        exit(2);
    }
}

static void
phase_store(void)
{
    pthread_t readers[NREADERS];
    pthread_t waiter;

    atomic_store(&phase_done, false);
    for (int i = 0; i < NREADERS; i++) {
        spawn(&readers[i], reader_main, NULL);
    }
    if (!unregistered_mode) {
        spawn(&waiter, waiter_main, NULL);
    }
    writer_store();
    atomic_store(&phase_done, true);
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(readers[i], NULL);
    }
    if (!unregistered_mode) {
        pthread_join(waiter, NULL);
    }
}

static void
phase_update(void)
{
    pthread_t writers[NWRITERS];
    pthread_t readers[NREADERS];
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    uint64_t v0;

    for (uint64_t w = 0; w < NWRITERS && m != NULL; w++) {
        m = hamt_set(m, HAMT_U64(w), (void *)0);
    }
    m = m ? hamt_set(m, HAMT_U64(TOTAL_KEY), (void *)0) : NULL;
    if (m == NULL || hamt_cell_store(cell, m, &v0) != 0) {
        perror("phase_update");
        exit(2);
    }
    atomic_store(&phase_done, false);
    for (int i = 0; i < NREADERS; i++) {
        spawn(&readers[i], sum_reader_main, NULL);
    }
    for (uintptr_t w = 0; w < NWRITERS; w++) {
        spawn(&writers[w], updater_main, (void *)w);
    }
    for (int w = 0; w < NWRITERS; w++) {
        pthread_join(writers[w], NULL);
    }
    atomic_store(&phase_done, true);
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(readers[i], NULL);
    }
    m = hamt_cell_load(cell, NULL);
    for (uint64_t w = 0; w < NWRITERS; w++) {
        if (word_of(m, w) != NUPDATES) {
            atomic_fetch_add(&fail_update, 1);
        }
    }
    if (word_of(m, TOTAL_KEY) != (uint64_t)NWRITERS * NUPDATES
        || hamt_cell_version(cell) != v0 + (uint64_t)NWRITERS * NUPDATES) {
        atomic_fetch_add(&fail_update, 1);
    }
}

/* Builds the initial map (version 0: every payload of version 0). */
static void
setup(void)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t k = 0; k <= NKEYS && m != NULL; k++) {
        m = hamt_set(m, HAMT_U64(k), payload_new(k, 0));
    }
    cell = m ? hamt_cell_new(m) : NULL;
    if (cell == NULL) {
        perror("setup");
        exit(2);
    }
}

/*
 * -u: run phase 1 with unregistering readers in a child process, so that a
 * crash on reused memory counts as a detection too.
 */
static int
run_unregistered(void)
{
#ifdef HAMT_NO_GC
    printf("cell_stress -u needs the collector build\n");
    printf("0 passed, 1 failed\n");
    return 1;
#else
    pid_t pid;
    int status;
    bool detected;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        if (hamt_init() != 0) {
            _exit(2);
        }
        setup();
        phase_store();
        _exit(atomic_load(&fail_torn) != 0 ? 3 : 0);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 2;
    }
    if (WIFSIGNALED(status)) {
        printf("unregistered readers crashed (signal %d): detected\n",
               WTERMSIG(status));
        detected = true;
    } else if (WIFEXITED(status)
               && WEXITSTATUS(status) == STRESS_SANITIZER_STOP) {
        printf("unregistered readers were stopped by a sanitizer report:"
               " detected\n");
        detected = true;
    } else {
        detected = WIFEXITED(status) && WEXITSTATUS(status) == 3;
        printf("unregistered readers %s a reclaimed snapshot\n",
               detected ? "saw" : "did NOT see");
    }
    printf("%d passed, %d failed\n", detected ? 1 : 0, detected ? 0 : 1);
    return detected ? 0 : 1;
#endif
}

int
main(int argc, char **argv)
{
    int opt;

    while ((opt = getopt(argc, argv, "un:")) != -1) {
        switch (opt) {
        case 'u':
            unregistered_mode = true;
            break;
        case 'n':
            pubs = (unsigned)strtoul(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: %s [-u] [-n publications]\n", argv[0]);
            return 2;
        }
    }
    if (unregistered_mode) {
        return run_unregistered(); /* Forks before the collector starts. */
    }
#ifdef STRESS_TSAN
    if (getenv("CELL_STRESS_FD") == NULL) {
        return stress_run_under_tsan(argv, "CELL_STRESS_FD", stress_report);
    }
#endif
    if (hamt_init() != 0) {
        perror("hamt_init");
        return 2;
    }
    setup();
    phase_store();
    stress_report("store_readers_see_consistent_snapshots",
                  atomic_load(&fail_torn));
    stress_report("store_versions_increase", atomic_load(&fail_backwards));
    stress_report("wait_wakes_on_publication", atomic_load(&fail_wait));
    phase_update();
    stress_report("update_loses_no_increment", atomic_load(&fail_update));
    printf("cell_stress: %lu snapshot checks, %lu wake-ups, %u publications"
           " + %u updates\n",
           atomic_load(&checks), atomic_load(&wakes), pubs,
           NWRITERS * NUPDATES);
    return stress_finish("CELL_STRESS_FD");
}
