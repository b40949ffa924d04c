/*
 * test/slot.c - readers the collector does not know (hamt_cell_acquire,
 * hamt_snapshot_release; lib/slot.h and lib/thread.c): results, errno on
 * every error path, several snapshots held at once, slots reused after a
 * thread exits, growth past one chunk, snapshots surviving forced
 * collections in a thread the collector never heard of (two of them
 * iterated and diffed against each other there), a publication
 * landing inside the protocol (between A1 and A2), the refused
 * collector modes and the marker count.
 *
 * Reader threads here are made with the plain pthread_create
 * (GC_NO_THREAD_REDIRECTS), so the collector knows nothing of them unless
 * the library registers them; several tests check that it never does.
 */
#include "internal.h"
#include "slot.h"
#include "stress/payload.h"
#include "support/u64map.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif

static void
run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

/* ---- errors ---- */

Test(slot, acquire_rejects_null_arguments)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    struct hamt_snapshot *snap = (struct hamt_snapshot *)&snap;

    errno = 0;
    cr_assert_null(hamt_cell_acquire(NULL, NULL, &snap));
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(snap, "a failed acquire clears *snap");
    errno = 0;
    cr_assert_null(hamt_cell_acquire(c, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
}

Test(slot, release_rejects_null_and_double_release)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    struct hamt_snapshot *snap;

    errno = 0;
    cr_assert_eq(hamt_snapshot_release(NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &snap));
    errno = 0;
    cr_assert_eq(hamt_snapshot_release(snap), 0);
    cr_assert_eq(errno, 0, "a successful release leaves errno alone");
    cr_assert_eq(hamt_snapshot_release(snap), -1);
    cr_assert_eq(errno, EINVAL);
}

/*
 * A handle released twice after the thread took another snapshot: slots
 * are handed out in turn, so the stale handle names a free slot and the
 * second release fails instead of ending the newer snapshot.  With the
 * lowest free slot handed out first, B got A's slot and the stale release
 * returned 0, leaving B unprotected.
 */
Test(slot, a_double_release_after_another_acquire_is_einval)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    struct hamt_snapshot *a, *b, *held[8];

    cr_assert_not_null(c);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &a));
    cr_assert_eq(hamt_snapshot_release(a), 0);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &b));
    cr_assert_neq(b, a, "the released slot was handed out again at once");
    errno = 0;
    cr_assert_eq(hamt_snapshot_release(a), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_snapshot_release(b), 0, "b was still held");
    /* The same while the thread holds several snapshots. */
    for (int i = 0; i < 8; i++) {
        cr_assert_not_null(hamt_cell_acquire(c, NULL, &held[i]));
    }
    cr_assert_eq(hamt_snapshot_release(held[3]), 0);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &b));
    errno = 0;
    cr_assert_eq(hamt_snapshot_release(held[3]), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_snapshot_release(b), 0);
    for (int i = 0; i < 8; i++) {
        if (i != 3) {
            cr_assert_eq(hamt_snapshot_release(held[i]), 0, "snapshot %d", i);
        }
    }
}

/*
 * The same on the steady path, while the thread holds another snapshot:
 * the slot taken after a release is the next one in turn, not the one just
 * released, so a second release of the released handle still fails.
 */
Test(slot, a_double_release_while_another_is_held_is_einval)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    struct hamt_snapshot *a, *b, *b2;

    cr_assert_not_null(c);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &a));
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &b));
    cr_assert_eq(hamt_snapshot_release(b), 0);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &b2));
    cr_assert_neq(b2, b, "the released slot was handed out again at once");
    errno = 0;
    cr_assert_eq(hamt_snapshot_release(b), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_snapshot_release(b2), 0, "b2 was still held");
    cr_assert_eq(hamt_snapshot_release(a), 0, "a was still held");
}

static void *
release_foreign(void *arg)
{
    struct hamt_snapshot *snap = arg;
    intptr_t ok;

    errno = 0;
    ok = hamt_snapshot_release(snap) == -1 && errno == EINVAL;
    return (void *)ok;
}

Test(slot, release_from_another_thread_is_einval)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    struct hamt_snapshot *snap;
    pthread_t t;
    void *ok = NULL;

    cr_assert_not_null(hamt_cell_acquire(c, NULL, &snap));
    cr_assert_eq(pthread_create(&t, NULL, release_foreign, snap), 0);
    cr_assert_eq(pthread_join(t, &ok), 0);
    cr_assert(ok != NULL, "another thread's release must fail with EINVAL");
    cr_assert_eq(hamt_snapshot_release(snap), 0, "still held by its owner");
}

/* ---- results ---- */

Test(slot, acquire_returns_the_current_map_and_version)
{
    const struct hamt *m0 = u64_map(10, 1);
    const struct hamt *m1 = hamt_set(m0, HAMT_U64(3), (void *)77);
    struct hamt_cell *c = hamt_cell_new(m0);
    struct hamt_snapshot *snap;
    uint64_t v = 99;

    cr_assert_eq(hamt_cell_acquire(c, &v, &snap), m0);
    cr_assert_eq(v, 0);
    cr_assert_eq(hamt_snapshot_release(snap), 0);
    cr_assert_eq(hamt_cell_store(c, m1, &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(hamt_cell_acquire(c, NULL, &snap), m1);
    cr_assert_eq(hamt_snapshot_release(snap), 0);
}

Test(slot, several_snapshots_are_held_and_released_one_by_one)
{
    enum { N = 40 }; /* more than one chunk of slots */
    struct hamt_cell *c = hamt_cell_new(u64_map(64, 0));
    struct hamt_snapshot *snap[N];
    const struct hamt *m[N];
    uint64_t v[N];

    for (unsigned i = 0; i < N; i++) {
        m[i] = hamt_cell_acquire(c, &v[i], &snap[i]);
        cr_assert_not_null(m[i]);
        cr_assert_eq(v[i], i);
        for (unsigned j = 0; j < i; j++) {
            cr_assert_neq(snap[i], snap[j], "each snapshot has its own slot");
        }
        const struct hamt *next =
            hamt_set(m[i], HAMT_U64(i % 64), (void *)(uintptr_t)(1000 + i));
        cr_assert_not_null(next);
        uint64_t pv = 0;

        cr_assert_eq(hamt_cell_store(c, next, &pv), 0);
        cr_assert_eq(pv, i + 1);
    }
    /* Release every other one first, then the rest: each on its own. */
    for (unsigned i = 0; i < N; i += 2) {
        cr_assert_eq(hamt_snapshot_release(snap[i]), 0);
    }
    for (unsigned i = 1; i < N; i += 2) {
        cr_assert_eq(word_of(m[i], (i - 1) % 64), 1000 + i - 1);
        cr_assert_eq(hamt_snapshot_release(snap[i]), 0);
    }
}

/* ---- threads the collector does not know ---- */

struct reader_arg {
    struct hamt_cell *cell;
    atomic_int phase; /* 0 start, 1 acquired, 2 main collected, 3 done */
    uint64_t nkeys;
    unsigned skip;        /* snapshots taken and released first */
    unsigned slot_index;  /* the held snapshot's slot in its chunk */
    int registered_after; /* -1 not checked */
    int ok;
};

#ifndef HAMT_NO_GC
static void
wait_phase(atomic_int *p, int want)
{
    while (atomic_load(p) < want) {
        sched_yield();
    }
}

/*
 * Takes a snapshot of version 0 (payloads built by the test), lets the
 * main thread drop every other reference and collect, then checks every
 * payload: a reclaimed and reused one no longer agrees with itself.
 */
static void *
unregistered_reader(void *p)
{
    struct reader_arg *a = p;
    struct hamt_snapshot *snap;
    uint64_t v = 1;
    const struct hamt *m;
    struct timespec zero = {0, 0};

    a->ok = 1;
    for (unsigned i = 0; a->ok && i < a->skip; i++) {
        a->ok = hamt_cell_acquire(a->cell, NULL, &snap) != NULL
                && hamt_snapshot_release(snap) == 0;
    }
    m = hamt_cell_acquire(a->cell, &v, &snap);
    a->ok = a->ok && m != NULL && v == 0;
    a->slot_index = m != NULL ? snap->index : ~0u;
    atomic_store(&a->phase, 1);
    wait_phase(&a->phase, 2);
    for (uint64_t k = 0; a->ok && k < a->nkeys; k++) {
        void *val = NULL;

        a->ok = hamt_get(m, HAMT_U64(k), &val) && payload_ok(val, k, 0);
    }
    a->ok = a->ok && hamt_snapshot_release(snap) == 0;
    /* version and wait must not register the thread either. */
    a->ok = a->ok && hamt_cell_version(a->cell) > 0;
    a->ok = a->ok && hamt_cell_wait(a->cell, 0, &zero) == 0;
    a->registered_after = GC_thread_is_registered();
    atomic_store(&a->phase, 3);
    return NULL;
}

/*
 * The reader holds its snapshot in the slot after `skip` others (taken and
 * released first); main replaces every payload, collects, and the reader
 * checks its snapshot.  The slot's index in its chunk is returned.
 */
static unsigned
survives_collections(unsigned skip)
{
    enum { NKEYS = 2000 };
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    struct reader_arg a = {
        .nkeys = NKEYS, .skip = skip, .registered_after = -1};
    pthread_t t;

    for (uint64_t k = 0; k < NKEYS; k++) {
        m = hamt_set(m, HAMT_U64(k), payload_alloc(k, 0));
        cr_assert_not_null(m);
    }
    a.cell = hamt_cell_new(m);
    cr_assert_not_null(a.cell);
    m = NULL;
    cr_assert_eq(pthread_create(&t, NULL, unregistered_reader, &a), 0);
    wait_phase(&a.phase, 1);
    /* Replace every payload, publish, and collect hard: only the slot
     * keeps version 0 alive; churn reuses whatever was reclaimed. */
    for (int round = 0; round < 5; round++) {
        const struct hamt *cur = hamt_cell_load(a.cell, NULL);

        for (uint64_t k = 0; k < NKEYS; k++) {
            cur = hamt_set(cur, HAMT_U64(k), payload_alloc(k, round + 1));
            cr_assert_not_null(cur);
        }
        cr_assert_eq(hamt_cell_store(a.cell, cur, NULL), 0);
        cur = NULL;
        GC_gcollect();
    }
    atomic_store(&a.phase, 2);
    wait_phase(&a.phase, 3);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert(a.ok, "a payload of the held snapshot was reclaimed");
    cr_assert_eq(a.registered_after, 0,
                 "acquire, version and wait must not register the thread");
    return a.slot_index;
}

Test(slot, snapshot_of_unregistered_thread_survives_collections, .timeout = 120)
{
    cr_assert_eq(survives_collections(0), 0);
}

/* The same in the last slot of a chunk (32 slots): every slot is a root. */
Test(slot, snapshot_in_the_last_slot_of_a_chunk_survives_collections,
     .timeout = 120)
{
    cr_assert_eq(survives_collections(31), 31,
                 "the snapshot is not in the chunk's last slot");
}

/*
 * Two snapshots held at once by a thread the collector does not know, read
 * whole after collections: iterated, diffed against each other both ways,
 * compared (hamt_cell(3): "two versions to compare with hamt_diff(3)").
 * The cell's version 1 binds keys 0 .. TWO_NKEYS-1 to payloads of payload
 * version 0; version 2 rebinds the even keys to payloads of version 1 and
 * removes key 1; later versions replace every payload, so only the two
 * slots keep versions 1 and 2 alive.
 */
enum { TWO_NKEYS = 600 };

struct two_arg {
    struct hamt_cell *cell;
    atomic_int phase; /* 1 first held, 2 second out, 3 held, 4 collected */
    unsigned changed, removed, other;
    int ok;
};

static int
two_diff(const void *key, void *ov, void *nv, enum hamt_diff_kind kind,
         void *ctx)
{
    struct two_arg *a = ctx;
    uint64_t k = HAMT_AS_U64(key);

    if (kind == HAMT_DIFF_CHANGED && k % 2 == 0 && payload_ok(ov, k, 0)
        && payload_ok(nv, k, 1)) {
        a->changed++;
    } else if (kind == HAMT_DIFF_REMOVED && k == 1 && payload_ok(ov, 1, 0)
               && nv == NULL) {
        a->removed++;
    } else {
        a->other++;
    }
    return 0;
}

/* Whether m is whole: the map of payload version v (0 or 1) above. */
static bool
two_intact(const struct hamt *m, uint64_t v)
{
    struct hamt_iter it;
    const void *key;
    void *val;
    size_t n = 0;

    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &key, &val)) {
        uint64_t k = HAMT_AS_U64(key);

        if (k >= TWO_NKEYS || (v == 1 && k == 1)
            || !payload_ok(val, k, v == 1 && k % 2 == 0 ? 1 : 0)) {
            return false;
        }
        n++;
    }
    return n == hamt_size(m) && n == TWO_NKEYS - v;
}

static void *
two_reader(void *p)
{
    struct two_arg *a = p;
    struct hamt_snapshot *s0, *s1;
    uint64_t v0 = 9, v1 = 9;
    const struct hamt *m0 = hamt_cell_acquire(a->cell, &v0, &s0);

    atomic_store(&a->phase, 1);
    wait_phase(&a->phase, 2);
    const struct hamt *m1 = hamt_cell_acquire(a->cell, &v1, &s1);

    atomic_store(&a->phase, 3);
    wait_phase(&a->phase, 4);
    a->ok = m0 != NULL && m1 != NULL && v0 == 1 && v1 == 2 && two_intact(m0, 0)
            && two_intact(m1, 1) && hamt_diff(m0, m1, NULL, two_diff, a) == 0
            && a->changed == TWO_NKEYS / 2 && a->removed == 1 && a->other == 0
            && !hamt_equal(m0, m1, NULL, NULL) && two_intact(m0, 0);
    a->changed = a->removed = a->other = 0;
    /* Reversed: the even keys change back, key 1 comes back (other). */
    a->ok = a->ok && hamt_diff(m1, m0, NULL, two_diff, a) == 0
            && a->other == TWO_NKEYS / 2 + 1;
    a->ok = a->ok && hamt_snapshot_release(s1) == 0
            && hamt_snapshot_release(s0) == 0;
    return NULL;
}

/* Publishes the version `ver` of the test, in a frame of its own so that
 * the caller's stack keeps no pointer to the map. */
static __attribute__((noinline)) void
two_publish(struct hamt_cell *c, const struct hamt *base, unsigned ver)
{
    const struct hamt *m = base;

    for (uint64_t k = 0; k < TWO_NKEYS; k++) {
        if (ver == 1 && k == 1) {
            m = hamt_remove(m, HAMT_U64(1));
        } else if (ver != 1 || k % 2 == 0) {
            m = hamt_set(m, HAMT_U64(k), payload_alloc(k, ver));
        }
        cr_assert_not_null(m);
    }
    cr_assert_eq(hamt_cell_store(c, m, NULL), 0);
}

Test(slot, two_held_snapshots_iterate_and_diff_after_collections,
     .timeout = 120)
{
    struct two_arg a = {0};
    pthread_t t;

    a.cell = hamt_cell_new(hamt_new(HAMT_KEY_U64));
    cr_assert_not_null(a.cell);
    two_publish(a.cell, hamt_new(HAMT_KEY_U64), 0);
    cr_assert_eq(pthread_create(&t, NULL, two_reader, &a), 0);
    wait_phase(&a.phase, 1);
    two_publish(a.cell, hamt_cell_load(a.cell, NULL), 1);
    atomic_store(&a.phase, 2);
    wait_phase(&a.phase, 3);
    for (unsigned round = 2; round < 6; round++) {
        two_publish(a.cell, hamt_new(HAMT_KEY_U64), round);
        GC_gcollect();
    }
    atomic_store(&a.phase, 4);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert(a.ok, "a held snapshot was damaged, or the diff was wrong");
}

/*
 * The slot hook of the tests that stop a reader inside the protocol: call
 * number `at` (from 0) flags `paused` and waits for `go`; every call is
 * counted.  Each test runs in a process of its own.
 */
static struct {
    int at;
    atomic_int calls;
    atomic_int paused;
    atomic_int go;
} hp;

static void
pause_hook(const void *rec)
{
    (void)rec;
    if (atomic_fetch_add(&hp.calls, 1) == hp.at) {
        atomic_store(&hp.paused, 1);
        wait_phase(&hp.go, 1);
    }
}

/*
 * A publication between A1 and A2 of the slot protocol (lib/cell.c,
 * cell_protect).  The reader stops in the test hook holding the record it
 * read at A1, not yet in its slot; main publishes a map of fresh payloads
 * and collects, so that nothing keeps the old record.  A3 must see the
 * change and protect the new record instead: the hook runs a second time,
 * and the snapshot returned is the new map, whole.  A reader without A3
 * would return the record read at A1.
 */
static void *
a3_reader(void *p)
{
    struct reader_arg *a = p;
    struct hamt_snapshot *snap;
    uint64_t v = 0;
    const struct hamt *m = hamt_cell_acquire(a->cell, &v, &snap);

    a->ok = m != NULL && v == 2 && hamt_size(m) == a->nkeys;
    for (uint64_t k = 0; a->ok && k < a->nkeys; k++) {
        void *val = NULL;

        a->ok = hamt_get(m, HAMT_U64(k), &val) && payload_ok(val, k, 1);
    }
    a->ok = a->ok && hamt_snapshot_release(snap) == 0;
    return NULL;
}

/* Publishes keys 0 .. n-1 bound to payloads of version ver, in its own
 * frame so that the caller's stack keeps no pointer to the map. */
static __attribute__((noinline)) void
a3_publish(struct hamt_cell *c, uint64_t n, uint64_t ver)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t k = 0; k < n; k++) {
        m = hamt_set(m, HAMT_U64(k), payload_alloc(k, ver));
        cr_assert_not_null(m);
    }
    cr_assert_eq(hamt_cell_store(c, m, NULL), 0);
}

Test(slot, a_publication_between_a1_and_a2_is_caught_by_a3, .timeout = 120)
{
    struct reader_arg a = {.nkeys = 2000};
    pthread_t t;

    a.cell = hamt_cell_new(hamt_new(HAMT_KEY_U64));
    cr_assert_not_null(a.cell);
    a3_publish(a.cell, a.nkeys, 0);
    hp.at = 0;
    hamt__slot_hook = pause_hook;
    cr_assert_eq(pthread_create(&t, NULL, a3_reader, &a), 0);
    wait_phase(&hp.paused, 1);
    a3_publish(a.cell, a.nkeys, 1);
    GC_gcollect();
    GC_gcollect();
    atomic_store(&hp.go, 1);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(atomic_load(&hp.calls), 2,
                 "A3 must see the publication and protect again, once");
    cr_assert(a.ok, "the snapshot is not the new map, whole");
}

/*
 * fork() while another thread holds a snapshot: in the child that thread
 * does not exist and its destructors never run, so the child must give its
 * chunk back (the snapshot no longer rooted, the chunk reused by the
 * child's next reader thread instead of a new one).
 */
static struct hamt_snapshot *held_at_fork;
static atomic_int holder_phase;

static void *
hold_across_fork(void *p)
{
    struct hamt_snapshot *s;

    if (hamt_cell_acquire(p, NULL, &s) != NULL) {
        held_at_fork = s;
        atomic_store(&holder_phase, 1);
        wait_phase(&holder_phase, 2);
        (void)hamt_snapshot_release(s);
    }
    return NULL;
}

static void *
acquire_and_release(void *p)
{
    struct hamt_snapshot *s;

    if (hamt_cell_acquire(p, NULL, &s) == NULL
        || hamt_snapshot_release(s) != 0) {
        return p; /* not NULL: failed */
    }
    return NULL;
}

Test(slot, a_child_of_fork_gives_back_the_other_threads_slots)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(4, 1));
    pthread_t t;
    pid_t pid;
    int status;

    cr_assert_not_null(c);
    cr_assert_eq(pthread_create(&t, NULL, hold_across_fork, c), 0);
    wait_phase(&holder_phase, 1);
    pid = fork();
    if (pid == 0) {
        size_t before = hamt__slot_chunk_count();
        void *failed = c;
        int bad = 0;

        if (atomic_load(&held_at_fork->rec) != NULL) {
            bad |= 1; /* still rooted */
        }
        if (pthread_create(&t, NULL, acquire_and_release, c) != 0
            || pthread_join(t, &failed) != 0 || failed != NULL) {
            bad |= 2;
        }
        if (hamt__slot_chunk_count() != before) {
            bad |= 4; /* a new chunk instead of the free one */
        }
        _exit(bad);
    }
    cr_assert_gt(pid, 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    atomic_store(&holder_phase, 2);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0,
                 "child: 1 slot still rooted, 2 reader failed, 4 chunk "
                 "not reused: %d",
                 WEXITSTATUS(status));
}

/*
 * fork() while the forking thread itself holds a snapshot: the child gives
 * back only the other threads' chunks.  The forking thread goes on in the
 * child with its chunks, its snapshot still rooted and its own to release.
 */
Test(slot, a_child_of_fork_keeps_the_forking_threads_snapshots)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(4, 1));
    struct hamt_snapshot *s;
    pid_t pid;
    int status;

    cr_assert_not_null(c);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &s));
    pid = fork();
    if (pid == 0) {
        int bad = 0;

        if (atomic_load(&s->rec) == NULL) {
            bad |= 1; /* no longer rooted */
        }
        if (hamt_snapshot_release(s) != 0) {
            bad |= 2; /* no longer the thread's own */
        }
        _exit(bad);
    }
    cr_assert_gt(pid, 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0,
                 "child: 1 slot emptied, 2 release failed: %d",
                 WEXITSTATUS(status));
    cr_assert_eq(hamt_snapshot_release(s), 0);
}
#endif /* HAMT_NO_GC */

static void *
acquire_one(void *p)
{
    struct reader_arg *a = p;
    struct hamt_snapshot *snap;

    a->ok = hamt_cell_acquire(a->cell, NULL, &snap) != NULL;
    /* Exits holding it: the thread-exit destructor must clear it. */
    return NULL;
}

Test(slot, slots_are_reused_after_their_thread_exits)
{
    struct reader_arg a = {.cell = hamt_cell_new(u64_map(4, 1))};
    size_t before;

    run_thread(acquire_one, &a);
    cr_assert(a.ok);
    before = hamt__slot_chunk_count();
    cr_assert_geq(before, 1);
    for (int i = 0; i < 20; i++) {
        a.ok = 0;
        run_thread(acquire_one, &a);
        cr_assert(a.ok);
    }
    cr_assert_eq(hamt__slot_chunk_count(), before,
                 "threads that came one after another must reuse one chunk");
}

/*
 * A signal handler that takes a snapshot (acquire, lookup, release) on the
 * thread it interrupts, while that thread is in the slow path of its first
 * hamt_cell_acquire: between storing its new chunk under the slot key and
 * recording it as its own.  The handler's own first slot made a second
 * chunk, and one of the two then stayed owned by the thread after its exit:
 * a chunk lost per such thread (and any snapshot in it rooted for ever).
 * The slow path now runs with signals blocked; the handler runs after it.
 */
static struct hamt_cell *sig_cell;
static _Thread_local bool sig_armed;
static atomic_int sig_handled, sig_read_ok;

static void
sig_slow_hook(void)
{
    if (sig_armed) {
        sig_armed = false;
        raise(SIGUSR1);
    }
}

static void
sig_take_snapshot(int sig)
{
    struct hamt_snapshot *s;
    const struct hamt *m = hamt_cell_acquire(sig_cell, NULL, &s);
    void *v = NULL;
    int saved = errno;

    (void)sig;
    atomic_fetch_add(&sig_handled, 1);
    if (m != NULL && hamt_get(m, HAMT_U64(1), &v) && v == (void *)2
        && hamt_snapshot_release(s) == 0) {
        atomic_fetch_add(&sig_read_ok, 1);
    }
    errno = saved;
}

static void *
acquire_with_signal(void *p)
{
    struct reader_arg *a = p;
    struct hamt_snapshot *snap;

    sig_armed = true;
    a->ok = hamt_cell_acquire(a->cell, NULL, &snap) != NULL
            && hamt_snapshot_release(snap) == 0;
    return NULL;
}

Test(slot, a_signal_handler_snapshot_inside_the_first_slot_loses_no_chunk)
{
    struct reader_arg a = {.cell = hamt_cell_new(u64_map(4, 1))};
    struct sigaction sa = {.sa_handler = sig_take_snapshot};
    size_t before;

    sig_cell = a.cell;
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    run_thread(acquire_one, &a);
    cr_assert(a.ok);
    before = hamt__slot_chunk_count();
    hamt__slot_slow_hook = sig_slow_hook;
    for (int i = 0; i < 5; i++) {
        a.ok = 0;
        run_thread(acquire_with_signal, &a);
        cr_assert(a.ok);
    }
    hamt__slot_slow_hook = NULL;
    cr_assert_eq(atomic_load(&sig_handled), 5);
    cr_assert_eq(atomic_load(&sig_read_ok), 5);
    cr_assert_eq(hamt__slot_chunk_count(), before,
                 "a chunk was lost to the handler: %zu chunks, not %zu",
                 hamt__slot_chunk_count(), before);
}

/*
 * Snapshots held into the thread's key destructors.  POSIX leaves the
 * order of key destructors open (glibc: the order the keys were made), so
 * a key the application makes after the thread's first snapshot has its
 * destructor run after the library's.  Such a destructor may still read
 * and release the snapshots the thread holds, and take new ones.
 */
struct dtor_arg {
    struct hamt_cell *cell;
    pthread_key_t key;
    struct hamt_snapshot *snap;  /* held when the thread exits */
    struct hamt_snapshot *again; /* taken in the destructor */
    void *rec_in_dtor;           /* what the slot held there */
    int rc;
    int err;
    int stale_rc;
};

static void
app_release_dtor(void *p)
{
    struct dtor_arg *a = p;

    a->rec_in_dtor = atomic_load(&a->snap->rec);
    errno = 0;
    a->rc = hamt_snapshot_release(a->snap);
    a->err = errno;
}

static void
app_reacquire_dtor(void *p)
{
    struct dtor_arg *a = p;

    a->rc = hamt_cell_acquire(a->cell, NULL, &a->again) != NULL ? 0 : -1;
    a->stale_rc = hamt_snapshot_release(a->snap);
    if (a->again != NULL) {
        a->rec_in_dtor = atomic_load(&a->again->rec);
        a->rc = hamt_snapshot_release(a->again);
    }
}

/* Takes a snapshot in a destructor and releases it there. */
static void
app_acquire_dtor(void *p)
{
    struct dtor_arg *a = p;

    a->rc = hamt_cell_acquire(a->cell, NULL, &a->again) != NULL ? 0 : -1;
    if (a->again != NULL) {
        a->rec_in_dtor = atomic_load(&a->again->rec);
        errno = 0;
        a->rc = hamt_snapshot_release(a->again);
        a->err = errno;
    }
}

/* Takes and releases a snapshot, then makes the application's key. */
static void *
release_then_make_key(void *p)
{
    struct dtor_arg *a = p;

    if (hamt_cell_acquire(a->cell, NULL, &a->snap) == NULL
        || hamt_snapshot_release(a->snap) != 0) {
        a->rc = -2;
        return NULL;
    }
    a->rc = pthread_key_create(&a->key, app_acquire_dtor);
    if (a->rc == 0) {
        a->rc = pthread_setspecific(a->key, a);
    }
    return NULL;
}

/* Takes a snapshot, then makes the application's key with destructor p. */
static void *
hold_into_dtor(void *p)
{
    struct dtor_arg *a = p;

    if (hamt_cell_acquire(a->cell, NULL, &a->snap) != NULL) {
        a->rc = pthread_key_create(&a->key, a->rc == 1 ? app_reacquire_dtor
                                                       : app_release_dtor);
        if (a->rc == 0) {
            a->rc = pthread_setspecific(a->key, a);
        }
    }
    return NULL;
}

Test(slot, a_snapshot_held_into_a_later_key_destructor_stays_protected)
{
    struct dtor_arg a = {.cell = hamt_cell_new(u64_map(4, 1)), .rc = 0};

    cr_assert_not_null(a.cell);
    run_thread(hold_into_dtor, &a);
    cr_assert_eq(pthread_key_delete(a.key), 0);
    cr_assert_not_null(a.rec_in_dtor,
                       "the slot was cleared while the snapshot was held");
    cr_assert_eq(a.rc, 0, "release in the destructor: rc %d errno %d", a.rc,
                 a.err);
}

Test(slot, a_snapshot_taken_in_a_later_key_destructor_is_its_own)
{
    struct dtor_arg a = {.cell = hamt_cell_new(u64_map(4, 1)), .rc = 1};

    cr_assert_not_null(a.cell);
    run_thread(hold_into_dtor, &a);
    cr_assert_eq(pthread_key_delete(a.key), 0);
    cr_assert_not_null(a.again);
    cr_assert_neq((void *)a.again, (void *)a.snap,
                  "the new snapshot got the held snapshot's slot");
    cr_assert_eq(a.stale_rc, 0, "the held snapshot's release");
    cr_assert_not_null(a.rec_in_dtor, "the new snapshot's slot was emptied");
    cr_assert_eq(a.rc, 0, "the new snapshot's release");
}

/*
 * A destructor that runs after the library's has given the thread's chunks
 * back (nothing was held, so it did not put itself off): a snapshot taken
 * there comes from a chunk the thread claims again, not from the chunks it
 * gave back, so it is rooted and the thread's own to release.
 */
Test(slot, a_snapshot_taken_after_the_slots_were_given_back_is_its_own)
{
    struct dtor_arg a = {.cell = hamt_cell_new(u64_map(4, 1))};

    cr_assert_not_null(a.cell);
    run_thread(release_then_make_key, &a);
    cr_assert_eq(pthread_key_delete(a.key), 0);
    cr_assert_not_null(a.again, "no snapshot in the destructor");
    cr_assert_not_null(a.rec_in_dtor, "the new snapshot's slot was empty");
    cr_assert_eq(a.rc, 0, "release in the destructor: rc %d errno %d", a.rc,
                 a.err);
}

/*
 * A handle kept from an exited thread: the thread's chunk goes to the next
 * thread that needs one, whose snapshots the old handle must not end.
 */
static struct hamt_snapshot *stale_handle;

static void *
acquire_and_exit(void *p)
{
    (void)hamt_cell_acquire(p, NULL, &stale_handle);
    return NULL;
}

static void *
release_a_stale_handle(void *p)
{
    struct reader_arg *a = p;
    struct hamt_snapshot *mine;

    a->ok = hamt_cell_acquire(a->cell, NULL, &mine) != NULL;
    errno = 0;
    a->ok = a->ok && mine != stale_handle
            && hamt_snapshot_release(stale_handle) == -1 && errno == EINVAL;
    a->ok = a->ok && atomic_load(&mine->rec) != NULL
            && hamt_snapshot_release(mine) == 0;
    return NULL;
}

Test(slot, a_handle_of_an_exited_thread_ends_no_other_snapshot)
{
    struct reader_arg a = {.cell = hamt_cell_new(u64_map(4, 1))};

    cr_assert_not_null(a.cell);
    run_thread(acquire_and_exit, a.cell);
    cr_assert_not_null(stale_handle);
    run_thread(release_a_stale_handle, &a);
    cr_assert(a.ok, "the exited thread's handle ended the new snapshot");
}

/*
 * A thread that exits holding a snapshot: its destructor empties the slot,
 * so the snapshot is no longer rooted once the thread is gone (the chunk
 * waits, free, for the next thread that needs one).
 */
Test(slot, a_thread_exit_empties_the_slots_it_held)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(4, 1));

    cr_assert_not_null(c);
    run_thread(acquire_and_exit, c);
    cr_assert_not_null(stale_handle);
    cr_assert_null(atomic_load(&stale_handle->rec),
                   "the exited thread's snapshot is still rooted");
}

/*
 * hamt_cell_version() in a thread the collector does not know takes a slot
 * for its look and gives it back: calls without end need no more slots.
 */
static void *
version_many_times(void *p)
{
    struct reader_arg *a = p;
    size_t chunks;

    a->ok = hamt_cell_version(a->cell) == 1; /* the first makes a chunk */
    chunks = hamt__slot_chunk_count();
    for (int i = 0; a->ok && i < 100; i++) {
        a->ok = hamt_cell_version(a->cell) == 1;
    }
    a->ok = a->ok && hamt__slot_chunk_count() == chunks;
    return NULL;
}

Test(slot, version_gives_its_slot_back)
{
    struct reader_arg a = {.cell = hamt_cell_new(u64_map(4, 1))};

    cr_assert_not_null(a.cell);
    cr_assert_eq(hamt_cell_store(a.cell, u64_map(4, 2), NULL), 0);
    run_thread(version_many_times, &a);
    cr_assert(a.ok, "hamt_cell_version kept its slots");
}

/*
 * A thread whose first slot chunk cannot be allocated: the acquire fails
 * with ENOMEM and leaves no half-made chunk behind; the next one succeeds.
 */
static void *
acquire_after_a_failed_chunk(void *p)
{
    struct reader_arg *a = p;
    struct hamt_snapshot *snap = (struct hamt_snapshot *)&snap;
    size_t chunks = hamt__slot_chunk_count();

    hamt__fail_after(1, false);
    errno = 0;
    uint64_t v = hamt_cell_version(a->cell);
    int err = errno;
#ifdef HAMT_NO_GC
    /* Every thread is known without the collector: no slot, no failure. */
    a->ok = v == 1 && err == 0;
#else
    a->ok = v == 0 && err == ENOMEM;
#endif
    hamt__fail_after(1, false);
    errno = 0;
    const struct hamt *m = hamt_cell_acquire(a->cell, NULL, &snap);
    err = errno;
    hamt__fail_after(0, false);
    a->ok = a->ok && m == NULL && err == ENOMEM && snap == NULL
            && hamt__slot_chunk_count() == chunks;
    m = hamt_cell_acquire(a->cell, &v, &snap);
    a->ok = a->ok && m != NULL && v == 1 && word_of(m, 2) == 3
            && hamt_snapshot_release(snap) == 0
            && hamt_cell_version(a->cell) == 1
            && hamt__slot_chunk_count() == chunks + 1;
    return NULL;
}

/*
 * Runs fn in a thread of its own on a cell at version 1 (so that a failed
 * hamt_cell_version's 0 means failure) and checks what it found.
 */
static void
run_on_version_1(void *(*fn)(void *))
{
    struct reader_arg a = {.cell = hamt_cell_new(u64_map(4, 1))};

    cr_assert_eq(hamt_cell_store(a.cell, u64_map(4, 1), NULL), 0);
    run_thread(fn, &a);
    cr_assert(a.ok);
}

Test(slot, acquire_and_version_fail_with_enomem_without_a_slot_chunk)
{
    run_on_version_1(acquire_after_a_failed_chunk);
}

/*
 * hamt_cell_wait() in such a thread: even with a newer version there it
 * needs a slot to read the version under, so it fails with ENOMEM and does
 * not report the version as newer; the next call gets its chunk and
 * returns at once.
 */
static void *
wait_after_a_failed_chunk(void *p)
{
    struct reader_arg *a = p;
    const struct timespec zero = {0, 0};
    size_t chunks = hamt__slot_chunk_count();

    hamt__fail_after(1, false);
    errno = 0;
    int rc = hamt_cell_wait(a->cell, 0, NULL);
    int err = errno;
    hamt__fail_after(0, false);
#ifdef HAMT_NO_GC
    a->ok = rc == 0 && err == 0;
#else
    a->ok = rc == -1 && err == ENOMEM;
#endif
    /* No half-made chunk left behind. */
    a->ok = a->ok && hamt__slot_chunk_count() == chunks;
    errno = 0;
    a->ok = a->ok && hamt_cell_wait(a->cell, 0, &zero) == 0 && errno == 0
            && hamt_cell_wait(a->cell, 1, &zero) == -1 && errno == ETIMEDOUT;
    return NULL;
}

Test(slot, wait_fails_with_enomem_without_a_slot_chunk)
{
    run_on_version_1(wait_after_a_failed_chunk);
}

enum { MANY = 48 };

struct many_arg {
    struct hamt_cell *cell;
    pthread_barrier_t *held;
    pthread_barrier_t *go;
    int ok;
};

static void *
hold_across_barrier(void *p)
{
    struct many_arg *a = p;
    struct hamt_snapshot *snap;
    const struct hamt *m = hamt_cell_acquire(a->cell, NULL, &snap);

    a->ok = m != NULL;
    (void)pthread_barrier_wait(a->held);
    (void)pthread_barrier_wait(a->go);
    a->ok = a->ok && word_of(m, 2) == 3 && hamt_snapshot_release(snap) == 0;
    return NULL;
}

Test(slot, slots_grow_with_many_threads_holding_at_once, .timeout = 120)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(4, 1));
    pthread_barrier_t held, go;
    pthread_t t[MANY];
    struct many_arg a[MANY];

    cr_assert_eq(pthread_barrier_init(&held, NULL, MANY + 1), 0);
    cr_assert_eq(pthread_barrier_init(&go, NULL, MANY + 1), 0);
    for (int i = 0; i < MANY; i++) {
        a[i] = (struct many_arg){c, &held, &go, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, hold_across_barrier, &a[i]),
                     0);
    }
    (void)pthread_barrier_wait(&held);
    /* Every thread holds a snapshot now: one chunk each at least. */
    cr_assert_geq(hamt__slot_chunk_count(), MANY);
#ifndef HAMT_NO_GC
    GC_gcollect();
#endif
    (void)pthread_barrier_wait(&go);
    for (int i = 0; i < MANY; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_assert(a[i].ok, "thread %d", i);
    }
}

/* ---- collector modes and markers ---- */

#ifndef HAMT_NO_GC
Test(slot, incremental_mode_refuses_slot_readers)
{
    struct hamt_cell *c;
    struct hamt_snapshot *snap = (struct hamt_snapshot *)&snap;

    GC_INIT();
    GC_enable_incremental();
    cr_assert(GC_is_incremental_mode(), "incremental mode did not start");
    c = hamt_cell_new(u64_map(4, 1));
    cr_assert_not_null(c, "registered readers still work");
    errno = 0;
    cr_assert_null(hamt_cell_acquire(c, NULL, &snap));
    cr_assert_eq(errno, ENOTSUP);
    cr_assert_null(snap);
    cr_assert_not_null(hamt_cell_load(c, NULL));
}

/*
 * In incremental mode only hamt_cell_acquire() is refused (S1):
 * hamt_cell_version() and hamt_cell_wait() in a thread the library has not
 * registered still work, as a registered thread (a slot no longer
 * protects), and leave errno alone.
 */
static void *
version_and_wait_in_incremental_mode(void *p)
{
    struct reader_arg *a = p;
    int known_before = GC_thread_is_registered();

    errno = EXDEV;
    uint64_t v = hamt_cell_version(a->cell);
    int err = errno;
    int rc = hamt_cell_wait(a->cell, 0, NULL);
    a->ok = !known_before && v == 1 && err == EXDEV && rc == 0 && errno == EXDEV
            && GC_thread_is_registered();
    return NULL;
}

Test(slot, incremental_mode_lets_version_and_wait_read_as_registered)
{
    struct reader_arg a = {0};

    GC_INIT();
    GC_enable_incremental();
    cr_assert(GC_is_incremental_mode(), "incremental mode did not start");
    a.cell = hamt_cell_new(u64_map(4, 1));
    cr_assert_not_null(a.cell);
    cr_assert_eq(hamt_cell_store(a.cell, u64_map(4, 1), NULL), 0);
    run_thread(version_and_wait_in_incremental_mode, &a);
    cr_assert(a.ok);
}

Test(slot, manual_dirty_bits_refuse_cells)
{
    GC_set_manual_vdb_allowed(1);
    GC_INIT();
    GC_enable_incremental();
    cr_assert(GC_is_incremental_mode(), "incremental mode did not start");
    errno = 0;
    cr_assert_null(hamt_cell_new(u64_map(4, 1)));
    cr_assert_eq(errno, ENOTSUP);
}

/*
 * Incremental mode switched on after the first cell: GC_enable_incremental()
 * collects once (the cell was allocated), and from that collection on slot
 * readers are refused.  Before the fix the library checked the mode only
 * in hamt_cell_new(), and this acquire succeeded.
 */
Test(slot, incremental_mode_after_the_first_cell_refuses_slot_readers)
{
    struct hamt_cell *c;
    struct hamt_snapshot *snap = NULL;

    GC_INIT();
    c = hamt_cell_new(u64_map(4, 1));
    cr_assert_not_null(c);
    cr_assert_not_null(hamt_cell_acquire(c, NULL, &snap), "before the switch");
    cr_assert_eq(hamt_snapshot_release(snap), 0);
    GC_enable_incremental();
    cr_assert(GC_is_incremental_mode(), "incremental mode did not start");
    errno = 0;
    snap = (struct hamt_snapshot *)&snap;
    cr_assert_null(hamt_cell_acquire(c, NULL, &snap));
    cr_assert_eq(errno, ENOTSUP);
    cr_assert_null(snap);
    cr_assert_not_null(hamt_cell_load(c, NULL), "registered readers work");
    cr_assert_eq(hamt_cell_store(c, u64_map(4, 2), NULL), 0,
                 "without manual dirty bits publishing still works");
}

/*
 * Manual dirty bits and incremental mode switched on after the first cell:
 * publishing is refused from the collection GC_enable_incremental() runs.
 * Before the fix hamt_cell_store returned 0.
 */
/*
 * An unregistered thread waiting in hamt_cell_wait() when incremental mode
 * comes on: its slot stops protecting (S1), so it must wait on registered.
 * The waiter stops in the slot hook at its first look inside the wait loop
 * until main has switched; once it sleeps on the futex main publishes, and
 * the waiter's next look must not use its slot.
 */
static struct {
    atomic_int tid;
    struct hamt_cell *c;
    int rc;
    int registered;
} iw;

/* Whether thread `tid` of this process is asleep (state S in its stat). */
static bool
thread_asleep(int tid)
{
    char path[64], buf[256];
    const char *close_paren;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    cr_assert_not_null(close_paren);
    return close_paren[1] == ' ' && close_paren[2] == 'S';
}

static void *
iw_waiter(void *p)
{
    (void)p;
    atomic_store(&iw.tid, (int)syscall(SYS_gettid));
    iw.rc = hamt_cell_wait(iw.c, 0, NULL);
    iw.registered = GC_thread_is_registered();
    return NULL;
}

Test(slot, a_waiter_goes_on_registered_after_incremental_mode_comes_on)
{
    pthread_t t;

    GC_INIT();
    iw.c = hamt_cell_new(u64_map(4, 1));
    cr_assert_not_null(iw.c);
    hp.at = 1; /* the first look inside the wait loop */
    hamt__slot_hook = pause_hook;
    cr_assert_eq(pthread_create(&t, NULL, iw_waiter, NULL), 0);
    wait_phase(&hp.paused, 1);
    GC_enable_incremental();
    cr_assert(GC_is_incremental_mode(), "incremental mode did not start");
    cr_assert_eq(hamt__slots_refused(), ENOTSUP, "the switch went unseen");
    atomic_store(&hp.go, 1);
    /* Publish only once the waiter sleeps on the futex: a publication
     * before its look would end the wait at that look. */
    while (!thread_asleep(atomic_load(&iw.tid))) {
        sched_yield();
    }
    cr_assert_eq(hamt_cell_store(iw.c, u64_map(4, 2), NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(iw.rc, 0);
    cr_assert_eq(atomic_load(&hp.calls), 2,
                 "the waiter used its slot after the switch (%d looks)",
                 atomic_load(&hp.calls));
    cr_assert(iw.registered, "the waiter did not register");
}

/*
 * A waiter in a thread the collector does not know empties its slot after
 * each look (A6), so that while it sleeps it keeps no old version alive.
 * The waiter waits for a version newer than 1 with the cell at 0: it looks
 * twice (hook calls 1 and 2; call 0 is its acquire) and sleeps.  Version 1
 * wakes it without ending the wait, and it stops in the hook at its next
 * look, before it stores into its slot: the slot must be empty there.  Its
 * slot is the one after its acquire's (slots are handed out in turn).
 */
static struct {
    struct hamt_cell *c;
    struct hamt_snapshot *first;
    atomic_int tid;
    int rc;
} ew;

static void *
ew_waiter(void *p)
{
    struct hamt_snapshot *s;

    (void)p;
    if (hamt_cell_acquire(ew.c, NULL, &s) == NULL
        || hamt_snapshot_release(s) != 0) {
        ew.rc = -2;
        atomic_store(&ew.tid, -1);
        return NULL;
    }
    ew.first = s;
    atomic_store(&ew.tid, (int)syscall(SYS_gettid));
    ew.rc = hamt_cell_wait(ew.c, 1, NULL);
    return NULL;
}

Test(slot, a_sleeping_waiter_roots_no_version)
{
    pthread_t t;
    int tid;

    ew.c = hamt_cell_new(u64_map(4, 1));
    cr_assert_not_null(ew.c);
    hp.at = 3; /* the first look after the wake-up */
    hamt__slot_hook = pause_hook;
    cr_assert_eq(pthread_create(&t, NULL, ew_waiter, NULL), 0);
    while ((tid = atomic_load(&ew.tid)) == 0) {
        sched_yield();
    }
    cr_assert_gt(tid, 0, "the waiter's acquire failed");
    while (!thread_asleep(tid)) {
        sched_yield();
    }
    cr_assert_eq(hamt_cell_store(ew.c, u64_map(4, 2), NULL), 0);
    wait_phase(&hp.paused, 1);
    cr_assert_null(atomic_load(&ew.first[1].rec),
                   "the sleeping waiter's slot kept version 0 rooted");
    atomic_store(&hp.go, 1);
    cr_assert_eq(hamt_cell_store(ew.c, u64_map(4, 3), NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(ew.rc, 0);
}

Test(slot, manual_dirty_bits_after_the_first_cell_refuse_publishing)
{
    struct hamt_cell *c;
    const struct hamt *m;

    GC_set_manual_vdb_allowed(1);
    GC_INIT();
    c = hamt_cell_new(u64_map(4, 1));
    cr_assert_not_null(c);
    m = u64_map(4, 2);
    cr_assert_not_null(m);
    GC_enable_incremental();
    cr_assert(GC_is_incremental_mode(), "incremental mode did not start");
    errno = 0;
    cr_assert_eq(hamt_cell_store(c, m, NULL), -1);
    cr_assert_eq(errno, ENOTSUP);
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, hamt_cell_load(c, NULL), m, NULL), -1);
    cr_assert_eq(errno, ENOTSUP);
    cr_assert_eq(hamt_cell_version(c), 0, "nothing was published");
}

Test(slot, set_markers_before_init_sets_the_count)
{
    cr_assert(!GC_is_init_called(), "the test process starts fresh");
    errno = 0;
    cr_assert_eq(hamt_set_markers(0), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_set_markers(65), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_set_markers(1), 0);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(GC_get_parallel(), 0, "one marker: no parallel marking");
    errno = 0;
    cr_assert_eq(hamt_set_markers(2), -1);
    cr_assert_eq(errno, EBUSY);
}

/*
 * The library's default: one marker on a machine of at most two cores,
 * else the collector's own count; GC_MARKERS, when set, always wins.
 */
Test(slot, default_markers_follow_the_core_count)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    cr_assert(!GC_is_init_called(), "the test process starts fresh");
    cr_assert_eq(hamt_init(), 0);
    if (getenv("GC_MARKERS") != NULL) {
        cr_assert_eq(GC_get_parallel() + 1, atoi(getenv("GC_MARKERS")));
    } else if (cores <= 2) {
        cr_assert_eq(GC_get_parallel(), 0, "one marker: no helpers");
    } else {
        cr_assert_eq(GC_get_parallel() + 1, cores);
    }
}

Test(slot, gc_markers_variable_overrides_the_default)
{
    cr_assert(!GC_is_init_called(), "the test process starts fresh");
    cr_assert_eq(setenv("GC_MARKERS", "2", 1), 0);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(GC_get_parallel(), 1, "two markers: one helper");
}
#else
Test(slot, set_markers_checks_its_argument)
{
    errno = 0;
    cr_assert_eq(hamt_set_markers(0), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_set_markers(2), 0);
}
#endif /* HAMT_NO_GC */
