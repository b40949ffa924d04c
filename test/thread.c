/*
 * test/thread.c - the thread model: registration with the collector, and
 * proof that snapshots stay valid under collection only for registered
 * threads.
 *
 * Threads here are created with the plain pthread_create
 * (GC_NO_THREAD_REDIRECTS), as an application that knows nothing of the
 * collector would: whatever registration they get comes from the library.
 *
 * The pair registered_reader_keeps_snapshot_alive /
 * unregistered_reader_sees_reclaimed_snapshot runs one deterministic
 * hand-shake twice, differing only in whether the reader stays registered:
 *
 *   reader                              main
 *   load snapshot S from the cell
 *   copy S's payload pointers to
 *     an array on its own stack
 *   [unregister]          -- ready -->
 *                                       publish an unrelated map (no node or
 *                                         payload shared with S), collect
 *                                         twice, then allocate and scribble
 *                                         on many payload-sized objects
 *                         <--- go ----
 *   count payloads of S that no
 *     longer hold what they held
 *
 * Nothing else references S, so the only thing that can keep it alive is
 * the reader's stack.  Registered, every payload must be intact.
 * Unregistered, the collector does not scan that stack, and freed payloads
 * are reused by the scribbling.  Before collecting, main zeroes the stack
 * below its frame (hs_scrub): the collector's own frames land where
 * hs_cell's were and would otherwise keep their stale copies of the old
 * root, which under ASan's larger frames saved the whole snapshot in about
 * one run in fifteen.  A stale copy elsewhere could still save a few
 * payloads, so the test asserts that at least one of many was damaged in
 * at least one of several rounds.  The reader
 * only reads payload words (no trie walk), so reclaimed memory cannot crash
 * it.
 */
#include "internal.h"
#include "stress/payload.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif

/* ---- payloads: values that can tell whether they were reclaimed ---- */

static struct payload *
payload_new(uint64_t key, uint64_t ver)
{
    struct payload *p = payload_alloc(key, ver);

    cr_assert_not_null(p);
    return p;
}

static void
spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    cr_assert_eq(pthread_create(t, NULL, fn, arg), 0);
}

/* ---- registration ---- */

#ifndef HAMT_NO_GC

Test(thread, register_is_idempotent_on_the_main_thread)
{
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_thread_register(), 0);
    cr_assert_eq(hamt_thread_register(), 0);
    cr_assert(GC_thread_is_registered());
}

Test(thread, unregister_leaves_foreign_registrations_alone)
{
    /* The main thread belongs to the collector, not to the library. */
    cr_assert_eq(hamt_thread_register(), 0);
    hamt_thread_unregister();
    cr_assert(GC_thread_is_registered());
}

struct reg_probe {
    struct hamt_cell *c;
    int before, after_load, after_unregister, after_register, again;
};

static void *
reg_probe_main(void *arg)
{
    struct reg_probe *p = arg;

    p->before = GC_thread_is_registered();
    (void)hamt_cell_load(p->c, NULL);
    p->after_load = GC_thread_is_registered();
    hamt_thread_unregister();
    p->after_unregister = GC_thread_is_registered();
    (void)hamt_thread_register();
    p->after_register = GC_thread_is_registered();
    p->again = hamt_thread_register();
    return NULL; /* Exits registered: the key destructor unregisters it. */
}

Test(thread, first_cell_call_registers_a_plain_thread)
{
    struct reg_probe p = {.c = hamt_cell_new(hamt_new(HAMT_KEY_U64))};
    pthread_t t;

    spawn(&t, reg_probe_main, &p);
    pthread_join(t, NULL);
    cr_assert_eq(p.before, 0, "a plain thread starts unknown");
    cr_assert_neq(p.after_load, 0, "hamt_cell_load registers it");
    cr_assert_eq(p.after_unregister, 0);
    cr_assert_neq(p.after_register, 0, "it can register again");
    cr_assert_eq(p.again, 0);
}

/*
 * A plain thread that the collector cannot be told about (here: no
 * thread-specific key is left for the library's registration, as in a
 * process that has used up PTHREAD_KEYS_MAX): every call that would
 * register it fails with ENOMEM, publishes nothing and builds nothing
 * (hamt_cell(3), hamt_thread(3), hamt_combine(3)).
 */
struct unknown_probe {
    struct hamt_cell *c;
    struct hamt_combine *cb;
    const struct hamt *m, *s; /* an integer and a string map */
    int rc[11], err[11];
    const void *res[11];
    unsigned fn_calls;
};

static const struct hamt *
unknown_update(const struct hamt *cur, void *ctx)
{
    ((struct unknown_probe *)ctx)->fn_calls++;
    return hamt_set(cur, HAMT_U64(99), NULL);
}

static void *
unknown_main(void *arg)
{
    struct unknown_probe *p = arg;
    int i = 0;

#define UNKNOWN_CALL(expr)                                                     \
    do {                                                                       \
        errno = 0;                                                             \
        p->res[i] = (expr);                                                    \
        p->err[i++] = errno;                                                   \
    } while (0)
    UNKNOWN_CALL((void *)(intptr_t)hamt_thread_register());
    UNKNOWN_CALL(hamt_cell_load(p->c, NULL));
    UNKNOWN_CALL((void *)(intptr_t)hamt_cell_store(p->c, p->m, NULL));
    UNKNOWN_CALL((void *)(intptr_t)hamt_cell_cas(p->c, p->m, p->m, NULL));
    UNKNOWN_CALL(hamt_cell_update(p->c, unknown_update, p));
    UNKNOWN_CALL(hamt_combine_new(p->c));
    UNKNOWN_CALL(hamt_set(p->m, HAMT_U64(5), NULL));
    UNKNOWN_CALL(hamt_set(p->s, "a new key", NULL));
    UNKNOWN_CALL((void *)(uintptr_t)hamt_cell_version(p->c));
    UNKNOWN_CALL((void *)(intptr_t)hamt_combine_set(p->cb, HAMT_U64(7), NULL,
                                                    NULL, NULL));
#undef UNKNOWN_CALL
    return NULL;
}

Test(thread, a_thread_the_collector_cannot_record_gets_enomem)
{
    static pthread_key_t keys[PTHREAD_KEYS_MAX + 1];
    struct unknown_probe p = {0};
    const struct hamt *m0 = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);
    size_t nkeys = 0;
    pthread_t t;

    p.c = hamt_cell_new(m0);
    cr_assert_not_null(p.c);
    cr_assert_eq(hamt_cell_store(p.c, m0, NULL), 0);
    p.m = m0;
    p.s = hamt_set(hamt_new(HAMT_KEY_STRING), "k", NULL);
    p.cb = hamt_combine_new(p.c);
    cr_assert_not_null(p.cb);
    while (nkeys < PTHREAD_KEYS_MAX
           && pthread_key_create(&keys[nkeys], NULL) == 0) {
        nkeys++;
    }
    spawn(&t, unknown_main, &p);
    pthread_join(t, NULL);
    for (size_t i = 0; i < nkeys; i++) {
        pthread_key_delete(keys[i]);
    }
    const char *what[] = {"hamt_thread_register", "hamt_cell_load",
                          "hamt_cell_store",      "hamt_cell_cas",
                          "hamt_cell_update",     "hamt_combine_new",
                          "hamt_set (integer)",   "hamt_set (string)",
                          "hamt_cell_version",    "hamt_combine_set"};
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(p.err[i], ENOMEM, "%s: errno %d", what[i], p.err[i]);
    }
    cr_assert_eq((intptr_t)p.res[0], -1);
    cr_assert_null(p.res[1]);
    cr_assert_eq((intptr_t)p.res[2], -1);
    cr_assert_eq((intptr_t)p.res[3], -1);
    cr_assert_null(p.res[4]);
    cr_assert_null(p.res[5]);
    cr_assert_null(p.res[6]);
    cr_assert_null(p.res[7]);
    cr_assert_eq((uintptr_t)p.res[8], 0, "hamt_cell_version: 0 on failure");
    cr_assert_eq((intptr_t)p.res[9], -1);
    cr_assert_eq(p.fn_calls, 0, "the update function ran");
    cr_assert_eq(hamt_cell_version(p.c), 1, "a failed call published");
    cr_assert_eq(hamt_cell_load(p.c, NULL), m0);
    cr_assert_eq(hamt_size(p.m), 1);
    cr_assert_eq(hamt_size(p.s), 1);
}

static void *
load_and_exit(void *arg)
{
    const struct hamt *m = hamt_cell_load(arg, NULL);

    /* Allocate on this thread too, then exit without unregistering. */
    return (void *)hamt_set(m, HAMT_U64(1), NULL);
}

/*
 * An application key whose destructor uses the library after the
 * library's own key destructor has unregistered the thread (glibc runs a
 * thread's destructors in the order the keys were made).
 */
static pthread_key_t late_key;

struct late_probe {
    struct hamt_cell *c;
    int rc;
    int registered;
    const struct hamt *built;
};

static void
late_destroy(void *arg)
{
    struct late_probe *p = arg;
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    p->rc = hamt_thread_register();
    p->registered = GC_thread_is_registered();
    /* Allocate and collect from here: an unregistered thread aborts. */
    for (uint64_t i = 0; m != NULL && i < 1000; i++) {
        m = hamt_set(m, HAMT_U64(i), NULL);
    }
    GC_gcollect();
    p->built = m;
}

static void *
late_main(void *arg)
{
    struct late_probe *p = arg;

    (void)hamt_cell_load(p->c, NULL); /* registered by the library */
    (void)pthread_setspecific(late_key, p);
    return NULL;
}

static void *
register_and_exit(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)hamt_thread_register();
}

Test(thread, a_destructor_after_the_librarys_registers_again)
{
    struct late_probe p = {.c = hamt_cell_new(hamt_new(HAMT_KEY_U64)),
                           .rc = -2};
    pthread_t t;
    void *ret;

    cr_assert_not_null(p.c);
    /* The library's key exists once a plain thread has registered. */
    spawn(&t, register_and_exit, NULL);
    pthread_join(t, &ret);
    cr_assert_eq((intptr_t)ret, 0);
    cr_assert_eq(pthread_key_create(&late_key, late_destroy), 0);
    spawn(&t, late_main, &p);
    pthread_join(t, NULL);
    cr_assert_eq(p.rc, 0);
    cr_assert_neq(p.registered, 0,
                  "hamt_thread_register succeeded: the collector must "
                  "know the thread");
    cr_assert_not_null(p.built);
    cr_assert_eq(hamt_size(p.built), 1000);
}

struct alloc_probe {
    int before, after;
    size_t size;
};

/*
 * A plain thread (pthread_create is not the collector's here) that only
 * updates maps: no cell call, no hamt_thread_register.
 */
static void *
alloc_probe_main(void *arg)
{
    struct alloc_probe *p = arg;
    const struct hamt *m = hamt_new(HAMT_KEY_STRING);
    char key[32];

    p->before = GC_thread_is_registered();
    for (int i = 0; m != NULL && i < 2000; i++) {
        snprintf(key, sizeof key, "key %d", i);
        m = hamt_set(m, key, NULL); /* copies the key: an atomic block */
        if (i % 500 == 0) {
            GC_gcollect(); /* aborted when started from an unknown thread */
        }
    }
    p->after = GC_thread_is_registered();
    p->size = hamt_size(m);
    return NULL;
}

/*
 * Runs fn in a plain thread to its end and checks what it saw: unknown to
 * the collector at `before`, registered at `after`, a map of `size` keys.
 */
static void
alloc_probe_expect(void *(*fn)(void *), size_t size, const char *before,
                   const char *after)
{
    struct alloc_probe p = {0};
    pthread_t t;

    cr_assert_eq(hamt_init(), 0);
    spawn(&t, fn, &p);
    pthread_join(t, NULL);
    cr_assert_eq(p.before, 0, "%s", before);
    cr_assert_neq(p.after, 0, "%s", after);
    cr_assert_eq(p.size, size);
}

Test(thread, a_thread_that_allocates_is_registered_by_its_first_update)
{
    alloc_probe_expect(alloc_probe_main, 2000, "a plain thread starts unknown",
                       "its updates registered it");
}

/*
 * Registered by its updates, unregistered, then updating again: the next
 * allocation must register it again.  It used to pop from the thread's
 * free lists without doing so, and an object held only by the unscanned
 * stack could be reclaimed and handed out twice.
 */
static void *
unregister_then_update_main(void *arg)
{
    struct alloc_probe *p = arg;
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t i = 0; m != NULL && i < 200; i++) {
        m = hamt_set(m, HAMT_U64(i), (void *)(uintptr_t)(i + 1));
    }
    hamt_thread_unregister();
    p->before = GC_thread_is_registered();
    if (m != NULL) {
        m = hamt_set(m, HAMT_U64(1000), (void *)1); /* pops from the lists */
    }
    p->after = GC_thread_is_registered();
    GC_gcollect();
    p->size = m != NULL && hamt__validate(m) == 0 ? hamt_size(m) : 0;
    return NULL;
}

Test(thread, an_update_after_unregistering_registers_again)
{
    alloc_probe_expect(unregister_then_update_main, 201,
                       "hamt_thread_unregister unregistered it",
                       "the next update registered it again");
}

/*
 * The same for one allocation that is certain to be a pop: two allocations
 * of one size first (the first may refill that size's list, which then
 * holds the rest of a block), so the one after hamt_thread_unregister()
 * finds its list non-empty.  It must still go the slow way and register
 * the thread before it hands the object out.
 */
static void *
unregister_then_pop_main(void *arg)
{
    struct alloc_probe *p = arg;

    if (hamt__alloc(32) == NULL || hamt__alloc(32) == NULL) {
        return NULL;
    }
    hamt_thread_unregister();
    p->before = GC_thread_is_registered();
    p->after = hamt__alloc(32) != NULL && GC_thread_is_registered();
    p->size = 1;
    return NULL;
}

Test(thread, a_pop_after_unregistering_registers_again)
{
    alloc_probe_expect(unregister_then_pop_main, 1,
                       "hamt_thread_unregister unregistered it",
                       "the allocation registered it again");
}

Test(thread, registered_threads_exit_without_harm, .timeout = 120)
{
    struct hamt_cell *c = hamt_cell_new(hamt_new(HAMT_KEY_U64));
    pthread_t t;
    void *ret;

    /*
     * The collector aborts the process if a registered thread exits
     * without unregistering, or misbehaves at the next collection if a
     * thread it believes alive is gone; both would crash this test.
     */
    for (int i = 0; i < 64; i++) {
        spawn(&t, load_and_exit, c);
        pthread_join(t, &ret);
        cr_assert_not_null(ret);
        if (i % 16 == 15) {
            GC_gcollect();
        }
    }
}

#else /* HAMT_NO_GC */

Test(thread, register_and_unregister_succeed_without_collector)
{
    errno = 12345;
    cr_assert_eq(hamt_thread_register(), 0);
    hamt_thread_unregister();
    cr_assert_eq(errno, 12345);
}

#endif /* HAMT_NO_GC */

/* ---- stress: invariant under continuous publication and collection ---- */

/*
 * Keys 0..NKEYS-1 plus the meta key NKEYS.  Version v rebinds key v % NKEYS
 * and the meta key to payloads of version v; a snapshot (map, version) from
 * one load must satisfy the invariant of test/stress/payload.h.
 */
#define NKEYS 512u
#define NREADERS 3
#define NPUBS 20000u
#define GC_EVERY 250u

struct stress {
    struct hamt_cell *c;
    atomic_bool done;
    atomic_ulong bad;
    atomic_ulong backwards;
    atomic_ulong checks;
};

static void *
stress_reader(void *arg)
{
    struct stress *s = arg;
    const struct hamt *m;
    uint64_t v, last = 0;

    while (!atomic_load(&s->done)) {
        m = hamt_cell_load(s->c, &v);
        if (v < last) {
            atomic_fetch_add(&s->backwards, 1);
        }
        last = v;
        if (!payload_snapshot_ok(m, v, NKEYS)) {
            atomic_fetch_add(&s->bad, 1);
        }
        atomic_fetch_add(&s->checks, 1);
    }
    return NULL;
}

Test(thread, readers_see_valid_snapshots_while_writer_publishes_and_collects,
     .timeout = 300)
{
    struct stress s = {0};
    pthread_t t[NREADERS];
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t k = 0; k <= NKEYS; k++) {
        m = hamt_set(m, HAMT_U64(k), payload_new(k, 0));
        cr_assert_not_null(m);
    }
    s.c = hamt_cell_new(m);
    for (int i = 0; i < NREADERS; i++) {
        spawn(&t[i], stress_reader, &s);
    }
    for (uint64_t v = 1; v <= NPUBS; v++) {
        m = hamt_set(m, HAMT_U64(v % NKEYS), payload_new(v % NKEYS, v));
        m = hamt_set(m, HAMT_U64(NKEYS), payload_new(NKEYS, v));
        cr_assert_not_null(m);
        uint64_t pv = 0;
        cr_assert_eq(hamt_cell_store(s.c, m, &pv), 0);
        cr_assert_eq(pv, v);
#ifndef HAMT_NO_GC
        if (v % GC_EVERY == 0) {
            GC_gcollect();
        }
#endif
    }
    atomic_store(&s.done, true);
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(t[i], NULL);
    }
    cr_assert_eq(atomic_load(&s.bad), 0, "%lu of %lu snapshots were damaged",
                 atomic_load(&s.bad), atomic_load(&s.checks));
    cr_assert_eq(atomic_load(&s.backwards), 0);
    cr_assert_gt(atomic_load(&s.checks), 0);
}

/* ---- the hand-shake pair (see the top comment) ---- */

#ifndef HAMT_NO_GC

#define HS_KEYS 2000u
#define HS_ROUNDS 5
/*
 * Rounds the unregistered reader gets to show damage: detection depends on
 * where the conservative collector finds stale words, so it is given room;
 * the loop stops at the first round that finds damage.
 */
#define HS_DETECT_ROUNDS 20
#define HS_SCRIBBLE 200000u

struct handshake {
    struct hamt_cell *c;
    bool stay_registered;
    atomic_int ready;
    atomic_int go;
    unsigned damaged;
    unsigned intact_before;
};

static void *
hs_reader(void *arg)
{
    struct handshake *h = arg;
    const struct payload *held[HS_KEYS]; /* On this thread's stack only. */
    const struct timespec nap = {0, 1000 * 1000};
    const struct hamt *m;
    void *val;

    m = hamt_cell_load(h->c, NULL);
    for (uint64_t k = 0; k < HS_KEYS; k++) {
        held[k] = hamt_get(m, HAMT_U64(k), &val) ? val : NULL;
        h->intact_before += payload_ok(held[k], k, 0);
    }
    if (!h->stay_registered) {
        hamt_thread_unregister();
    }
    atomic_store(&h->ready, 1);
    while (!atomic_load(&h->go)) {
        nanosleep(&nap, NULL);
    }
    for (uint64_t k = 0; k < HS_KEYS; k++) {
        h->damaged += !payload_ok(held[k], k, 0);
    }
    /* Keep `held` and `m` live up to here. */
    __asm__ volatile("" : : "r"(held), "r"(m) : "memory");
    return NULL;
}

/* Builds the cell in its own frame, so main's stack keeps no map pointer. */
static __attribute__((noinline)) struct hamt_cell *
hs_cell(uint64_t ver)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t k = 0; k < HS_KEYS; k++) {
        m = hamt_set(m, HAMT_U64(k), payload_new(k, ver));
    }
    return hamt_cell_new(m);
}

static __attribute__((noinline)) void
hs_replace(struct hamt_cell *c)
{
    struct hamt_cell *fresh = hs_cell(1);

    cr_assert_eq(hamt_cell_store(c, hamt_cell_load(fresh, NULL), NULL), 0);
}

/* Fills freed payload-sized slots with garbage; keeps them reachable. */
static __attribute__((noinline)) void **
hs_scribble(void)
{
    void **keep = GC_MALLOC(HS_SCRIBBLE * sizeof *keep);

    cr_assert_not_null(keep);
    for (unsigned i = 0; i < HS_SCRIBBLE; i++) {
        keep[i] = GC_MALLOC(sizeof(struct payload));
        cr_assert_not_null(keep[i]);
        memset(keep[i], 0xa5, sizeof(struct payload));
    }
    return keep;
}

/*
 * Zeroes the stack below the caller's frame, where the collector's frames
 * will lie, so that stale pointers left there by finished calls cannot keep
 * the old snapshot alive.
 */
static __attribute__((noinline)) void
hs_scrub(void)
{
    volatile char pad[256 * 1024];

    memset((char *)pad, 0, sizeof pad);
    __asm__ volatile("" : : "r"(pad) : "memory");
}

/* One round; returns the number of the reader's payloads found damaged. */
static unsigned
hs_round(bool stay_registered)
{
    struct handshake h = {.stay_registered = stay_registered};
    const struct timespec nap = {0, 1000 * 1000};
    pthread_t t;
    void **volatile keep;

    h.c = hs_cell(0);
    spawn(&t, hs_reader, &h);
    while (!atomic_load(&h.ready)) {
        nanosleep(&nap, NULL);
    }
    hs_replace(h.c);
    hs_scrub();
    GC_gcollect();
    GC_gcollect();
    keep = hs_scribble();
    atomic_store(&h.go, 1);
    pthread_join(t, NULL);
    cr_assert_eq(h.intact_before, HS_KEYS, "the snapshot was whole at first");
    (void)keep;
    return h.damaged;
}

Test(thread, registered_reader_keeps_snapshot_alive, .timeout = 300)
{
    cr_assert_eq(hamt_init(), 0);
    for (int r = 0; r < HS_ROUNDS; r++) {
        cr_assert_eq(hs_round(true), 0,
                     "round %d: a registered reader's "
                     "snapshot was reclaimed",
                     r);
    }
}

Test(thread, unregistered_reader_sees_reclaimed_snapshot, .timeout = 300)
{
    unsigned damaged = 0;

    cr_assert_eq(hamt_init(), 0);
    for (int r = 0; r < HS_DETECT_ROUNDS && damaged == 0; r++) {
        damaged += hs_round(false);
    }
    cr_assert_gt(damaged, 0,
                 "expected to detect: an unregistered reader's "
                 "snapshot survived %d rounds of collection",
                 HS_DETECT_ROUNDS);
}

#endif /* HAMT_NO_GC */
