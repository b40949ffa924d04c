/*
 * slot_stress.c - readers the collector never knows (hamt_cell_acquire)
 * against a writer that publishes without pause and forces collections.
 *
 * A plain C program (no Criterion), so that it also runs under
 * ThreadSanitizer in a build configured with --disable-gc
 * --enable-sanitizers=thread.  It prints "N passed, N failed" (one case per
 * property below) and exits non-zero if any case failed.
 *
 * Every thread but the main one is made with the plain pthread_create
 * (GC_NO_THREAD_REDIRECTS) and never registered: READERS lanes each start
 * reader threads one after another (each takes SNAPS snapshots, then
 * exits, so slots are given back and reused all the time).  The main
 * thread is the writer: version v rebinds key v % NKEYS and the meta key to
 * fresh collector-allocated payloads (payload.h), and every GC_EVERY
 * publications it calls GC_gcollect().  A reader checks every lookup's
 * payload (a reclaimed and reused payload no longer agrees with itself),
 * holds the snapshot while it yields and checks it again, and every fourth
 * time holds two snapshots at once and checks both.
 *
 * Cases:
 *   slot_readers_see_intact_snapshots  no lookup found a wrong or reused
 *                                      payload, no size was wrong
 *   slot_versions_increase             a reader's versions never go back
 *   slot_readers_stay_unknown          (collector build) no reader thread
 *                                      was registered at its end
 *   slot_chunks_are_reused             reader threads came and went (at
 *                                      least MIN_THREADS; the writer runs
 *                                      on until then); chunks <= READERS
 *   tsan_reports_no_race               (TSan builds only)
 *
 * usage: slot_stress [-t seconds] [-N]
 *   -t  writer run time (default 3 s; 2 s under TSan)
 *   -N  --no-slot, expected to detect (collector build only; make
 *       check-noslot): the same readers read the cell WITHOUT a slot
 *       (hamt__cell_peek_unprotected).  Runs in a child process and passes
 *       only if the damage was detected (a failed check, a crash, or a
 *       sanitizer report).
 */
#include "harness.h"
#include "internal.h"
#include "payload.h"
#include "slot.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif

#define NKEYS 256u
#define READERS 2
#define GC_EVERY 50u
/* Reader threads to start at least (the run goes on past -t until then,
 * up to HARD_LIMIT_S), so that slot_chunks_are_reused has reuse to see. */
#define MIN_THREADS (3 * READERS)
#define HARD_LIMIT_S 120.0
#ifdef STRESS_TSAN
#define SNAPS 40u /* TSan is slow: threads come and go sooner. */
#else
#define SNAPS 200u
#endif

static struct hamt_cell *cell;
static double run_seconds = 3.0;
static bool no_slot;

static atomic_bool stop;
static atomic_ulong snapshots;
static atomic_ulong threads_run;
static atomic_ulong fail_intact;
static atomic_ulong fail_backwards;
static atomic_ulong fail_registered;
static atomic_ulong fail_acquire;

/*
 * -N: what the child got to before it ended, in memory shared with the
 * parent, so that only a crash after readers checked snapshots and a
 * collection ran counts as a detection (not one in the set-up).
 */
struct progress {
    atomic_ulong checked;
    atomic_ulong collections;
};
static struct progress *progress;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One snapshot: a map, its version and (slot mode) its slot. */
struct snap {
    const struct hamt *m;
    uint64_t v;
    struct hamt_snapshot *s;
};

static bool
snap_take(struct snap *sn)
{
    if (no_slot) {
        sn->s = NULL;
        sn->m = hamt__cell_peek_unprotected(cell, &sn->v);
        return true;
    }
    sn->m = hamt_cell_acquire(cell, &sn->v, &sn->s);
    return sn->m != NULL;
}

static void
snap_drop(struct snap *sn)
{
    if (sn->s != NULL && hamt_snapshot_release(sn->s) != 0) {
        atomic_fetch_add(&fail_acquire, 1);
    }
}

static void
snap_check(const struct snap *sn)
{
    if (progress != NULL) {
        atomic_fetch_add(&progress->checked, 1);
    }
    if (!payload_snapshot_ok(sn->m, sn->v, NKEYS)) {
        atomic_fetch_add(&fail_intact, 1);
        if (no_slot) {
            atomic_store(&stop, true); /* Detected: end the run. */
        }
    }
}

static void *
reader(void *arg)
{
    uint64_t last = 0;

    (void)arg;
    atomic_fetch_add(&threads_run, 1);
    for (unsigned i = 0; i < SNAPS && !atomic_load(&stop); i++) {
        struct snap a, b;

        if (!snap_take(&a)) {
            atomic_fetch_add(&fail_acquire, 1);
            break;
        }
        if (a.v < last) {
            atomic_fetch_add(&fail_backwards, 1);
        }
        last = a.v;
        snap_check(&a);
        sched_yield(); /* Hold it while the writer publishes and collects. */
        if (i % 4 == 0 && snap_take(&b)) {
            if (b.v < a.v) {
                atomic_fetch_add(&fail_backwards, 1);
            }
            sched_yield();
            snap_check(&b);
            snap_check(&a);
            snap_drop(&b);
            atomic_fetch_add(&snapshots, 1);
        }
        snap_check(&a);
        snap_drop(&a);
        atomic_fetch_add(&snapshots, 1);
    }
#ifndef HAMT_NO_GC
    if (GC_thread_is_registered()) {
        atomic_fetch_add(&fail_registered, 1);
    }
#endif
    return NULL;
}

/* A lane: reader threads one after another until the run stops. */
static void *
lane(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        pthread_t t;

        if (pthread_create(&t, NULL, reader, NULL) != 0) {
            atomic_fetch_add(&fail_acquire, 1);
            return NULL;
        }
        (void)pthread_join(t, NULL);
    }
    return NULL;
}

static void
setup(void)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t k = 0; k <= NKEYS && m != NULL; k++) {
        m = hamt_set(m, HAMT_U64(k), payload_alloc(k, 0));
    }
    cell = m != NULL ? hamt_cell_new(m) : NULL;
    if (cell == NULL) {
        perror("setup");
        exit(2);
    }
}

/* The writer (main thread, registered by the library on its first call). */
static unsigned long
write_for(double seconds)
{
    double start = now();
    double end = start + seconds;
    uint64_t v = 0;

    while ((now() < end || atomic_load(&threads_run) < MIN_THREADS)
           && now() < start + HARD_LIMIT_S && !atomic_load(&stop)) {
        const struct hamt *cur = hamt_cell_load(cell, NULL);
        uint64_t k;

        v++;
        k = v % NKEYS;
        cur = hamt_set(cur, HAMT_U64(k), payload_alloc(k, v));
        cur = cur != NULL
                  ? hamt_set(cur, HAMT_U64(NKEYS), payload_alloc(NKEYS, v))
                  : NULL;
        uint64_t pv = 0;

        if (cur == NULL || hamt_cell_store(cell, cur, &pv) != 0 || pv != v) {
            perror("publish");
            exit(2);
        }
#ifndef HAMT_NO_GC
        if (v % GC_EVERY == 0) {
            GC_gcollect();
            if (progress != NULL) {
                atomic_fetch_add(&progress->collections, 1);
            }
        }
#endif
    }
    return (unsigned long)v;
}

/* Runs the readers and the writer; returns the publications made. */
static unsigned long
run(void)
{
    pthread_t lanes[READERS];
    unsigned long pubs;

    setup();
    for (int i = 0; i < READERS; i++) {
        if (pthread_create(&lanes[i], NULL, lane, NULL) != 0) {
            perror("pthread_create");
            exit(2);
        }
    }
    pubs = write_for(run_seconds);
    atomic_store(&stop, true);
    for (int i = 0; i < READERS; i++) {
        (void)pthread_join(lanes[i], NULL);
    }
    return pubs;
}

/* -N: the readers without their slot, in a child (a crash detects too). */
static int
run_no_slot(void)
{
#ifdef HAMT_NO_GC
    printf("slot_stress -N needs the collector build\n");
    printf("0 passed, 1 failed\n");
    return 1;
#else
    double t0 = now();
    pid_t pid;
    int status;
    bool detected;

    progress = mmap(NULL, sizeof *progress, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (progress == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    atomic_init(&progress->checked, 0);
    atomic_init(&progress->collections, 0);
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
        (void)run();
        printf("no-slot child: %lu snapshots, %lu failed checks\n",
               atomic_load(&snapshots), atomic_load(&fail_intact));
        fflush(stdout);
        _exit(atomic_load(&fail_intact) != 0 ? 3 : 0);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 2;
    }
    if ((WIFSIGNALED(status)
         || (WIFEXITED(status) && WEXITSTATUS(status) == STRESS_SANITIZER_STOP))
        && (atomic_load(&progress->checked) == 0
            || atomic_load(&progress->collections) == 0)) {
        printf("the no-slot child ended (%s %d) before readers checked a"
               " snapshot after a collection: not a detection\n",
               WIFSIGNALED(status) ? "signal" : "exit",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        detected = false;
    } else if (WIFSIGNALED(status)) {
        printf("readers without a slot crashed (signal %d) after %.2f s:"
               " detected\n",
               WTERMSIG(status), now() - t0);
        detected = true;
    } else if (WIFEXITED(status)
               && WEXITSTATUS(status) == STRESS_SANITIZER_STOP) {
        printf("readers without a slot were stopped by a sanitizer report:"
               " detected\n");
        detected = true;
    } else {
        detected = WIFEXITED(status) && WEXITSTATUS(status) == 3;
        printf("readers without a slot %s a reclaimed snapshot (%.2f s)\n",
               detected ? "saw" : "did NOT see", now() - t0);
    }
    printf("%d passed, %d failed\n", detected ? 1 : 0, detected ? 0 : 1);
    return detected ? 0 : 1;
#endif
}

int
main(int argc, char **argv)
{
    unsigned long pubs;
    size_t chunks;
    int opt;

#ifdef STRESS_TSAN
    run_seconds = 2.0;
#endif
    while ((opt = getopt(argc, argv, "t:N")) != -1) {
        switch (opt) {
        case 't':
            run_seconds = strtod(optarg, NULL);
            break;
        case 'N':
            no_slot = true;
            break;
        default:
            fprintf(stderr, "usage: %s [-t seconds] [-N]\n", argv[0]);
            return 2;
        }
    }
    if (no_slot) {
        if (run_seconds < 10.0) {
            run_seconds = 10.0; /* Stops at the first detection anyway. */
        }
        return run_no_slot(); /* Forks before the collector starts. */
    }
#ifdef STRESS_TSAN
    if (getenv("SLOT_STRESS_FD") == NULL) {
        return stress_run_under_tsan(argv, "SLOT_STRESS_FD", stress_report);
    }
#endif
    if (hamt_init() != 0) {
        perror("hamt_init");
        return 2;
    }
    pubs = run();
    chunks = hamt__slot_chunk_count();
    stress_report("slot_readers_see_intact_snapshots",
                  atomic_load(&fail_intact) + atomic_load(&fail_acquire));
    stress_report("slot_versions_increase", atomic_load(&fail_backwards));
#ifndef HAMT_NO_GC
    stress_report("slot_readers_stay_unknown", atomic_load(&fail_registered));
#endif
    stress_report("slot_chunks_are_reused",
                  chunks <= READERS && atomic_load(&threads_run) > READERS ? 0
                                                                           : 1);
    printf("slot_stress: %.1f s, %lu publications, %lu snapshots checked, "
           "%lu reader threads, %zu slot chunks\n",
           run_seconds, pubs, atomic_load(&snapshots),
           atomic_load(&threads_run), chunks);
    return stress_finish("SLOT_STRESS_FD");
}
