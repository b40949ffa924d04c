/*
 * test/combine.c - combined publication (lib/combine.c, hamt_combine(3)).
 *
 * The batches of several requests are made deterministic with an alter
 * function that holds the publisher inside its round until the other
 * threads' requests wait in the list (hamt__combine_pending); the round
 * after it then takes all of them at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* pthread_timedjoin_np */
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "support/futex_deny.h"

#define V(x) ((void *)(uintptr_t)(x))
#define K(x) HAMT_U64(x)

static struct hamt_cell *cell;
static struct hamt_combine *comb;

static void
setup(void)
{
    cr_assert_eq(hamt_init(), 0);
    cell = hamt_cell_new(hamt_new(HAMT_KEY_U64));
    cr_assert_not_null(cell);
    comb = hamt_combine_new(cell);
    cr_assert_not_null(comb);
}

static void
nap(void)
{
    struct timespec t = {0, 200000};

    nanosleep(&t, NULL);
}

TestSuite(combine, .init = setup, .timeout = 60);

Test(combine, new_rejects_null_cell)
{
    errno = 0;
    cr_assert_null(hamt_combine_new(NULL));
    cr_assert_eq(errno, EINVAL);
}

Test(combine, single_thread_set_remove_alter_publish_one_version_each)
{
    uint64_t v = 99;
    void *val;

    errno = 0;
    cr_assert_eq(hamt_combine_set(comb, K(5), V(50), NULL, &v), 0);
    cr_assert_eq(errno, 0, "success leaves errno alone");
    cr_assert_eq(v, 1);
    cr_assert_eq(hamt_cell_version(cell), 1);
    cr_assert(hamt_get(hamt_cell_load(cell, NULL), K(5), &val));
    cr_assert_eq(val, V(50));
    cr_assert_eq(hamt_combine_set(comb, K(6), V(60), NULL, NULL), 0);
    cr_assert_eq(hamt_combine_remove(comb, K(5), NULL, &v), 0);
    cr_assert_eq(v, 3);
    cr_assert_not(hamt_contains(hamt_cell_load(cell, NULL), K(5)));
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(6)));
}

Test(combine, request_that_changes_nothing_returns_current_version)
{
    uint64_t v = 0;
    const struct hamt *m;

    cr_assert_eq(hamt_combine_set(comb, K(1), V(10), NULL, &v), 0);
    m = hamt_cell_load(cell, NULL);
    cr_assert_eq(hamt_combine_set(comb, K(1), V(10), NULL, &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(hamt_combine_remove(comb, K(2), NULL, &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(hamt_cell_version(cell), 1, "nothing was published");
    cr_assert_eq(hamt_cell_load(cell, NULL), m);
}

static enum hamt_alter_action
incr(void *old, bool present, void **nv, void *ctx)
{
    (void)ctx;
    *nv = V((uintptr_t)(present ? old : NULL) + 1);
    return HAMT_ALTER_SET;
}

static enum hamt_alter_action
bad_action(void *old, bool present, void **nv, void *ctx)
{
    (void)old;
    (void)present;
    (void)nv;
    (void)ctx;
    return (enum hamt_alter_action)77;
}

/* incr, counting its calls in *ctx. */
static enum hamt_alter_action
incr_counted(void *old, bool present, void **nv, void *ctx)
{
    (*(unsigned *)ctx)++;
    return incr(old, present, nv, NULL);
}

/*
 * With no other writer an alter function runs once per request, whichever
 * allocation of the round fails (hamt_combine(3)).  A failed allocation
 * of the publication's record used to redo the whole round, calling fn a
 * second time; now only the publication is tried again.
 */
Test(combine, an_allocation_failure_never_runs_an_alter_function_twice)
{
    unsigned twice = 0, served = 0;

    for (unsigned long n = 1; n <= 12; n++) {
        unsigned calls = 0;
        uint64_t v0 = hamt_cell_version(cell), v = 0;

        hamt__fail_after(n, false);
        errno = 0;
        int rc = hamt_combine_alter(comb, K(5), incr_counted, &calls, NULL, &v);
        int err = errno;
        hamt__fail_after(0, false);
        cr_assert(rc == 0 || err == ENOMEM, "n=%lu: rc %d errno %d", n, rc,
                  err);
        cr_assert_leq(calls, 1, "n=%lu: fn ran %u times", n, calls);
        twice += calls > 1;
        if (rc == 0) {
            served++;
            cr_assert_eq(calls, 1, "n=%lu", n);
            cr_assert_eq(v, v0 + 1, "n=%lu: one publication", n);
        }
    }
    cr_assert_gt(served, 0, "some failure point lets the request through");
    cr_assert_eq(twice, 0);
}

/*
 * A round of one request applies it without a batch (combine.c): its own
 * failure must still fail it alone, publish nothing and leave the map.
 */
Test(combine, a_lone_request_applies_or_fails_by_itself)
{
    uint64_t v = 0;
    void *val;
    const struct hamt *m;

    cr_assert_eq(hamt_combine_alter(comb, K(7), incr, NULL, NULL, &v), 0);
    cr_assert_eq(hamt_combine_alter(comb, K(7), incr, NULL, NULL, &v), 0);
    cr_assert_eq(v, 2);
    cr_assert(hamt_get(hamt_cell_load(cell, NULL), K(7), &val));
    cr_assert_eq(val, V(2), "each alter applied once");
    m = hamt_cell_load(cell, NULL);
    errno = 0;
    cr_assert_eq(hamt_combine_alter(comb, K(7), bad_action, NULL, NULL, &v),
                 -1);
    cr_assert_eq(errno, EINVAL);
    hamt__fail_after(1, true);
    errno = 0;
    int rc = hamt_combine_set(comb, K(8), V(80), NULL, &v);
    int err = errno;
    hamt__fail_after(0, false);
    cr_assert_eq(rc, -1);
    cr_assert_eq(err, ENOMEM);
    cr_assert_eq(hamt_cell_version(cell), 2, "the failures published nothing");
    cr_assert_eq(hamt_cell_load(cell, NULL), m);
    cr_assert_eq(hamt_combine_set(comb, K(8), V(80), NULL, &v), 0);
    cr_assert_eq(v, 3);
}

Test(combine, rejects_bad_arguments)
{
    struct timespec bad = {0, 1000000000L};
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    struct hamt_cell *sc = hamt_cell_new(s);
    struct hamt_combine *scb = hamt_combine_new(sc);

    errno = 0;
    cr_assert_eq(hamt_combine_set(NULL, K(1), V(1), NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_combine_set(comb, K(1), V(1), &bad, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_combine_alter(comb, K(1), NULL, NULL, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_combine_set(scb, NULL, V(1), NULL, NULL), -1,
                 "a NULL string key is invalid");
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_combine_remove(scb, NULL, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_cell_version(sc), 0);
    cr_assert_eq(hamt_cell_version(cell), 0);
}

/* ---- batches made deterministic ---- */

struct holder {
    size_t wait_for;    /* requests that must be pending before returning */
    unsigned long fail; /* hamt__fail_after(fail, persistent) before return */
    bool persistent;
    atomic_bool entered;
    atomic_bool release; /* when set, return even if not all are pending */
    unsigned linger;     /* naps to take after that, still holding the flag */
    bool until_naps;     /* then hold until hamt__combine_naps() > naps_from */
    uint64_t naps_from;
    bool until_asleep; /* before lingering, until a submitter flags sleep */
    int calls;
};

static enum hamt_alter_action
hold(void *old, bool present, void **nv, void *ctx)
{
    struct holder *h = ctx;

    h->calls++;
    atomic_store(&h->entered, true);
    while (hamt__combine_pending(comb) < h->wait_for
           && !atomic_load(&h->release)) {
        nap();
    }
    while (h->until_asleep && hamt__combine_asleep(comb) == 0) {
        nap();
    }
    for (unsigned i = 0; i < h->linger; i++) {
        nap();
    }
    while (h->until_naps && hamt__combine_naps() == h->naps_from) {
        nap();
    }
    if (h->fail != 0) {
        hamt__fail_after(h->fail, h->persistent);
    }
    *nv = V((uintptr_t)(present ? old : NULL) + 1);
    return HAMT_ALTER_SET;
}

struct sub {
    int op; /* 0 set, 1 remove, 2 alter incr, 3 alter bad, 4 alter hold,
               5 alter whoami */
    uint64_t key;
    bool by_ptr; /* use pkey (a string map's key, maybe NULL), not K(key) */
    const void *pkey;
    void *val;
    struct holder *h;
    const struct timespec *timeout;
    int deny_futex; /* the error its futex waits get (seccomp), or 0 */
    int rc, err;
    uint64_t ver;
    pthread_t t;
    pthread_t served_by; /* op 5: the thread that ran its alter function */
    atomic_bool done;    /* the call has returned */
};

/* Records the thread that serves the request (op 5). */
static enum hamt_alter_action
whoami(void *old, bool present, void **nv, void *ctx)
{
    struct sub *s = ctx;

    (void)old;
    (void)present;
    s->served_by = pthread_self();
    *nv = V(1);
    return HAMT_ALTER_SET;
}

static void *
sub_main(void *arg)
{
    struct sub *s = arg;
    const void *key = s->by_ptr ? s->pkey : K(s->key);

    if (s->deny_futex != 0) {
        deny_futex_wait(s->deny_futex);
    }
    errno = 0;
    switch (s->op) {
    case 0:
        s->rc = hamt_combine_set(comb, key, s->val, s->timeout, &s->ver);
        break;
    case 1:
        s->rc = hamt_combine_remove(comb, key, s->timeout, &s->ver);
        break;
    case 2:
        s->rc = hamt_combine_alter(comb, key, incr, NULL, s->timeout, &s->ver);
        break;
    case 3:
        s->rc = hamt_combine_alter(comb, key, bad_action, NULL, s->timeout,
                                   &s->ver);
        break;
    case 5:
        s->rc = hamt_combine_alter(comb, key, whoami, s, s->timeout, &s->ver);
        break;
    default:
        s->rc = hamt_combine_alter(comb, key, hold, s->h, s->timeout, &s->ver);
        break;
    }
    s->err = s->rc != 0 ? errno : 0;
    atomic_store(&s->done, true);
    return NULL;
}

static void
start(struct sub *s)
{
    cr_assert_eq(pthread_create(&s->t, NULL, sub_main, s), 0);
}

/* Starts a holder request and waits until its function runs. */
static void
start_holder(struct sub *hs, struct holder *h, size_t wait_for)
{
    h->wait_for = wait_for;
    hs->op = 4;
    hs->key = 1000;
    hs->h = h;
    start(hs);
    while (!atomic_load(&h->entered)) {
        nap();
    }
}

/*
 * A fresh cell and combiner whose map holds keys 10000 .. 11999: a base
 * big enough that sets copy a few nodes each.
 */
static void
fresh_base_2000(void)
{
    cell = hamt_cell_new(hamt_new(HAMT_KEY_U64));
    comb = hamt_combine_new(cell);
    cr_assert_not_null(comb);
    for (uint64_t k = 0; k < 2000; k++) {
        cr_assert_eq(hamt_combine_set(comb, K(10000 + k), V(k), NULL, NULL),
                     0);
    }
}

/*
 * Starts a holder round and the three requests of s[], which wait in the
 * list until it ends and then form the next round, and joins them all.
 */
static void
holder_and_three(struct sub *hs, struct holder *h, struct sub s[3])
{
    start_holder(hs, h, 3);
    for (int i = 0; i < 3; i++) {
        start(&s[i]);
    }
    pthread_join(hs->t, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(s[i].t, NULL);
    }
}

Test(combine, waiting_requests_publish_as_one_version)
{
    struct holder h = {0};
    struct sub hs = {0}, s[3] = {{0}};
    const struct hamt *m;

    start_holder(&hs, &h, 3);
    for (int i = 0; i < 3; i++) {
        s[i].op = 0;
        s[i].key = (uint64_t)i + 1;
        s[i].val = V(100 + i);
        start(&s[i]);
    }
    pthread_join(hs.t, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(s[i].t, NULL);
    }
    cr_assert_eq(hs.rc, 0);
    cr_assert_eq(hs.ver, 1, "the holder's round published alone");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s[i].rc, 0);
        cr_assert_eq(s[i].ver, 2, "request %d: version %llu", i,
                     (unsigned long long)s[i].ver);
    }
    cr_assert_eq(hamt_cell_version(cell), 2, "one publication for three");
    uint64_t hist[HAMT__COMBINE_HIST];
    hamt__combine_rounds(comb, hist);
    for (size_t i = 0; i < HAMT__COMBINE_HIST; i++) {
        cr_assert_eq(hist[i], i == 0 || i == 2, "rounds of %zu: %llu", i + 1,
                     (unsigned long long)hist[i]);
    }
    m = hamt_cell_load(cell, NULL);
    cr_assert_eq(hamt_size(m), 4);
    for (int i = 0; i < 3; i++) {
        void *val;

        cr_assert(hamt_get(m, K(i + 1), &val));
        cr_assert_eq(val, V(100 + i));
    }
}

/*
 * A round of more sets than one hamt_batch_set_many() group (32): the sets
 * go in groups, each request with its own key and value, none lost or
 * mixed up at a group's edge.
 */
Test(combine, a_round_of_more_sets_than_a_group_applies_each)
{
    enum { N = 40 };
    struct holder h = {0};
    struct sub hs = {0}, s[N];
    const struct hamt *m;

    memset(s, 0, sizeof s);
    start_holder(&hs, &h, N);
    for (int i = 0; i < N; i++) {
        s[i].op = 0;
        s[i].key = (uint64_t)i + 1;
        s[i].val = V(100 + i);
        start(&s[i]);
    }
    pthread_join(hs.t, NULL);
    for (int i = 0; i < N; i++) {
        pthread_join(s[i].t, NULL);
    }
    cr_assert_eq(hs.rc, 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(s[i].rc, 0, "request %d: errno %d", i, s[i].err);
        cr_assert_eq(s[i].ver, 2, "request %d: version %llu", i,
                     (unsigned long long)s[i].ver);
    }
    cr_assert_eq(hamt_cell_version(cell), 2, "one publication for all");
    m = hamt_cell_load(cell, NULL);
    cr_assert_eq(hamt_size(m), N + 1);
    for (int i = 0; i < N; i++) {
        void *val = NULL;

        cr_assert(hamt_get(m, K(i + 1), &val), "key %d", i + 1);
        cr_assert_eq(val, V(100 + i), "key %d", i + 1);
    }
}

/*
 * Within a round the requests apply in the order their pushes succeeded
 * (C2), though the pending list holds them newest first: three sets of one
 * key, pushed one after another while the holder keeps the flag (main
 * starts each only once the one before is in the list; the list cannot
 * change under that look but by pushes, since nothing completes while the
 * holder holds the flag), leave the last one's value.
 */
Test(combine, a_round_applies_its_requests_in_push_order)
{
    struct holder h = {0};
    struct sub hs = {0}, s[3] = {{0}};
    void *val = NULL;

    start_holder(&hs, &h, 3);
    for (int i = 0; i < 3; i++) {
        s[i].op = 0;
        s[i].key = 7;
        s[i].val = V(100 + i);
        start(&s[i]);
        /* The third push ends the holder's wait: the list empties then. */
        while (i < 2 && hamt__combine_pending(comb) < (size_t)i + 1) {
            nap();
        }
    }
    pthread_join(hs.t, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(s[i].t, NULL);
        cr_assert_eq(s[i].rc, 0);
        cr_assert_eq(s[i].ver, 2, "request %d: version %llu", i,
                     (unsigned long long)s[i].ver);
    }
    cr_assert(hamt_get(hamt_cell_load(cell, NULL), K(7), &val));
    cr_assert_eq(val, V(102), "the last push must win, not %p", val);
}

/*
 * A publisher serves at most four rounds (COMBINE_ROUNDS), then hands the
 * flag to a waiting submitter (C5), who serves its own request.  Rounds 1
 * to 4 here are the holder's own request and three more holders, each
 * pushed while the round before it waits for it; the fifth request, pushed
 * during round 4, must be served by its own thread.
 */
Test(combine, a_publisher_hands_the_flag_on_after_its_rounds)
{
    struct holder h[4];
    struct sub hs = {0}, a[3], last = {0};

    memset(h, 0, sizeof h);
    memset(a, 0, sizeof a);
    start_holder(&hs, &h[0], 1);
    for (int i = 0; i < 3; i++) {
        h[i + 1].wait_for = 1;
        a[i].op = 4;
        a[i].key = 2000 + (uint64_t)i;
        a[i].h = &h[i + 1];
        start(&a[i]);
        while (!atomic_load(&h[i + 1].entered)) {
            nap();
        }
    }
    last.op = 5;
    last.key = 3000;
    start(&last);
    pthread_join(hs.t, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(a[i].t, NULL);
        cr_assert_eq(a[i].rc, 0);
    }
    pthread_join(last.t, NULL);
    cr_assert_eq(hs.rc, 0);
    cr_assert_eq(last.rc, 0);
    cr_assert(pthread_equal(last.served_by, last.t),
              "the publisher served a fifth round instead of handing on");
}

Test(combine, a_failing_request_fails_alone)
{
    struct holder h = {0};
    struct sub hs = {0}, s[3] = {{0}};
    const struct hamt *m;
    void *val;

    start_holder(&hs, &h, 3);
    s[0] = (struct sub){.op = 0, .key = 7, .val = V(70)};
    s[1] = (struct sub){.op = 3, .key = 8};
    s[2] = (struct sub){.op = 2, .key = 9};
    for (int i = 0; i < 3; i++) {
        start(&s[i]);
    }
    pthread_join(hs.t, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(s[i].t, NULL);
    }
    cr_assert_eq(s[0].rc, 0);
    cr_assert_eq(s[1].rc, -1);
    cr_assert_eq(s[1].err, EINVAL);
    cr_assert_eq(s[2].rc, 0);
    cr_assert_eq(s[0].ver, 2);
    cr_assert_eq(s[2].ver, 2);
    m = hamt_cell_load(cell, NULL);
    cr_assert(hamt_get(m, K(7), &val));
    cr_assert_eq(val, V(70));
    cr_assert_not(hamt_contains(m, K(8)));
    cr_assert(hamt_get(m, K(9), &val));
    cr_assert_eq(val, V(1));
}

/*
 * A round of several sets goes through one hamt_batch_set_many call, which
 * must not see a key the map's type rejects: that set alone fails with
 * EINVAL, and the others of its round publish.
 */
Test(combine, an_invalid_key_in_a_round_of_sets_fails_alone)
{
    struct holder h = {0};
    struct sub hs = {0}, s[3] = {{0}};
    const struct hamt *m;
    void *val;

    cell = hamt_cell_new(hamt_new(HAMT_KEY_STRING));
    cr_assert_not_null(cell);
    comb = hamt_combine_new(cell);
    cr_assert_not_null(comb);
    hs.by_ptr = true;
    hs.pkey = "hold";
    start_holder(&hs, &h, 3);
    s[0] = (struct sub){.op = 0, .by_ptr = true, .pkey = "a", .val = V(1)};
    s[1] = (struct sub){.op = 0, .by_ptr = true, .pkey = NULL, .val = V(2)};
    s[2] = (struct sub){.op = 0, .by_ptr = true, .pkey = "b", .val = V(3)};
    for (int i = 0; i < 3; i++) {
        start(&s[i]);
    }
    pthread_join(hs.t, NULL);
    for (int i = 0; i < 3; i++) {
        pthread_join(s[i].t, NULL);
    }
    cr_assert_eq(hs.rc, 0);
    cr_assert_eq(s[0].rc, 0);
    cr_assert_eq(s[1].rc, -1);
    cr_assert_eq(s[1].err, EINVAL);
    cr_assert_eq(s[2].rc, 0);
    cr_assert_eq(s[0].ver, 2, "one round after the holder's");
    cr_assert_eq(s[2].ver, 2);
    m = hamt_cell_load(cell, NULL);
    cr_assert_eq(hamt_size(m), 3);
    cr_assert(hamt_get(m, "a", &val));
    cr_assert_eq(val, V(1));
    cr_assert(hamt_get(m, "b", &val));
    cr_assert_eq(val, V(3));
    cr_assert(hamt_get(m, "hold", NULL));
}

/*
 * A timed request that waits while the holder keeps the flag times out,
 * and the cancelled request is dropped by the next round, never applied;
 * deny_futex: its futex waits fail that way (0: they work).
 */
static void
timeout_while_pending(int deny_futex)
{
    struct holder h = {0};
    struct sub hs = {0}, s = {0};
    const struct timespec tmo = {0, 5000000};
    uint64_t v;

    /* The holder keeps the flag until released: s can only wait. */
    start_holder(&hs, &h, 1000);
    s = (struct sub){.op = 0,
                     .key = 42,
                     .val = V(1),
                     .timeout = &tmo,
                     .deny_futex = deny_futex};
    start(&s);
    pthread_join(s.t, NULL);
    cr_assert_eq(s.rc, -1);
    cr_assert_eq(s.err, ETIMEDOUT);
    atomic_store(&h.release, true);
    pthread_join(hs.t, NULL);
    cr_assert_eq(hs.rc, 0);
    cr_assert_eq(hamt_combine_set(comb, K(43), V(2), NULL, &v), 0);
    cr_assert_not(hamt_contains(hamt_cell_load(cell, NULL), K(42)));
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(43)));
    cr_assert_eq(v, 2);
}

Test(combine, timeout_while_pending_means_not_applied)
{
    timeout_while_pending(0);
}

/*
 * A timed request that was cancelled stays in the pending list after its
 * call returned, until a round drops it, so it must not live in the
 * submitter's frame (C8).  The submitter here overwrites the stack its call
 * used with zeros (which would read as a PENDING request ending the list)
 * and waits there while the holder's next round takes the list: that round
 * must find the request cancelled and drop it, so no round of it is
 * counted and nothing is published.
 */
static atomic_int zs_phase;

static __attribute__((noinline)) void
zero_stack_and_wait(void)
{
    volatile char buf[16384];

    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = 0;
    }
    atomic_store(&zs_phase, 1);
    while (atomic_load(&zs_phase) < 2) {
        sched_yield();
    }
    buf[0] = buf[1];
}

static void *
timed_then_zero_stack(void *arg)
{
    struct sub *s = arg;
    const struct timespec tmo = {0, 5000000};

    errno = 0;
    s->rc = hamt_combine_set(comb, K(42), V(1), &tmo, NULL);
    s->err = s->rc != 0 ? errno : 0;
    zero_stack_and_wait();
    return NULL;
}

Test(combine, a_cancelled_request_outlives_its_submitters_frame)
{
    struct holder h = {0};
    struct sub hs = {0}, s = {0};
    uint64_t hist[HAMT__COMBINE_HIST];

    start_holder(&hs, &h, 1000);
    cr_assert_eq(pthread_create(&s.t, NULL, timed_then_zero_stack, &s), 0);
    while (atomic_load(&zs_phase) < 1) {
        nap();
    }
    cr_assert_eq(s.rc, -1);
    cr_assert_eq(s.err, ETIMEDOUT);
    atomic_store(&h.release, true);
    pthread_join(hs.t, NULL); /* its next round took the cancelled request */
    atomic_store(&zs_phase, 2);
    pthread_join(s.t, NULL);
    cr_assert_eq(hs.rc, 0);
    hamt__combine_rounds(comb, hist);
    cr_assert_eq(hist[0], 1, "rounds of one request: %llu (the holder's only)",
                 (unsigned long long)hist[0]);
    cr_assert_eq(hamt_cell_version(cell), 1);
    cr_assert_not(hamt_contains(hamt_cell_load(cell, NULL), K(42)));
}

/*
 * A submitter whose futex wait fails (a sandbox that refuses futex) must
 * poll, not spin: it used to retry the failing call at once, for ever if
 * it had no timeout.  The holder keeps the flag until the submitter has
 * napped, so a spinning submitter would hang the test.
 */
/*
 * s sets key 42 while a holder (h) keeps the flag until one request is
 * pending; both succeed, s in the round after the holder's.
 */
static void
served_after_holder(struct holder *h, struct sub s)
{
    struct sub hs = {0};

    start_holder(&hs, h, 1);
    s.op = 0;
    s.key = 42;
    s.val = V(1);
    start(&s);
    pthread_join(hs.t, NULL);
    pthread_join(s.t, NULL);
    cr_assert_eq(hs.rc, 0);
    cr_assert_eq(s.rc, 0, "errno %d", s.err);
    cr_assert_eq(s.ver, 2);
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(42)));
}

Test(combine, a_submitter_whose_futex_fails_naps_and_is_served)
{
    struct holder h = {.until_naps = true, .naps_from = hamt__combine_naps()};

    served_after_holder(&h, (struct sub){.deny_futex = ENOSYS});
    cr_assert_gt(hamt__combine_naps(), h.naps_from);
}

/*
 * Without a timeout such a submitter naps for as long as its request is
 * pending: the holder keeps the flag until it has napped three times (or
 * returned, which it must not), and it is served after.
 */
Test(combine, a_submitter_whose_futex_fails_naps_until_served)
{
    struct holder h = {0};
    struct sub hs = {0};
    struct sub s = {.op = 0, .key = 42, .val = V(1), .deny_futex = ENOSYS};
    uint64_t from = hamt__combine_naps();

    start_holder(&hs, &h, 1000); /* keeps the flag until released */
    start(&s);
    /* A call that returned gave up: the assertions below fail then. */
    while (hamt__combine_naps() < from + 3 && !atomic_load(&s.done)) {
        nap();
    }
    atomic_store(&h.release, true);
    pthread_join(hs.t, NULL);
    pthread_join(s.t, NULL);
    cr_assert_eq(hs.rc, 0);
    cr_assert_eq(s.rc, 0, "errno %d", s.err);
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(42)));
}

/* The same with a timeout: it still expires, and is never applied. */
Test(combine, a_timed_submitter_whose_futex_fails_still_times_out)
{
    timeout_while_pending(EPERM);
}

Test(combine, a_timed_request_succeeds_when_served_in_time)
{
    const struct timespec tmo = {5, 0};
    uint64_t v = 0;

    cr_assert_eq(hamt_combine_set(comb, K(3), V(3), &tmo, &v), 0);
    cr_assert_eq(v, 1);
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(3)));
}

static enum hamt_alter_action
count_calls(void *old, bool present, void **nv, void *ctx)
{
    (void)old;
    (void)present;
    ++*(unsigned *)ctx;
    *nv = V(9);
    return HAMT_ALTER_SET;
}

/*
 * A timed request lives in collector memory (it may outlive the call):
 * when that allocation fails the request fails with ENOMEM before it is
 * submitted: not applied, its alter function never run, nothing published.
 */
Test(combine, a_timed_request_without_memory_for_itself_is_not_applied)
{
    const struct timespec tmo = {5, 0};
    const struct hamt *m = hamt_cell_load(cell, NULL);
    unsigned calls = 0;
    uint64_t v = 77;

    for (int p = 0; p < 2; p++) {
        hamt__fail_after(1, p);
        errno = 0;
        int rc1 = hamt_combine_set(comb, K(4), V(4), &tmo, &v);
        int err1 = errno;
        hamt__fail_after(1, p);
        errno = 0;
        int rc2 = hamt_combine_alter(comb, K(5), count_calls, &calls, &tmo, &v);
        int err2 = errno;
        hamt__fail_after(1, p);
        errno = 0;
        int rc3 = hamt_combine_remove(comb, K(6), &tmo, &v);
        int err3 = errno;
        hamt__fail_after(0, false);
        cr_assert_eq(rc1, -1);
        cr_assert_eq(err1, ENOMEM);
        cr_assert_eq(rc2, -1);
        cr_assert_eq(err2, ENOMEM);
        cr_assert_eq(rc3, -1);
        cr_assert_eq(err3, ENOMEM);
        cr_assert_eq(calls, 0, "the alter function ran");
        cr_assert_eq(hamt_cell_version(cell), 0, "a failure published");
        cr_assert_eq(hamt_cell_load(cell, NULL), m);
    }
    cr_assert_eq(hamt_combine_alter(comb, K(5), count_calls, &calls, &tmo, &v),
                 0);
    cr_assert_eq(calls, 1);
    cr_assert_eq(v, 1);
}

Test(combine, new_out_of_memory_is_enomem)
{
    for (int p = 0; p < 2; p++) {
        hamt__fail_after(1, p);
        errno = 0;
        struct hamt_combine *cb = hamt_combine_new(cell);
        int err = errno;
        hamt__fail_after(0, false);
        cr_assert_null(cb);
        cr_assert_eq(err, ENOMEM);
    }
    struct hamt_combine *cb = hamt_combine_new(cell);
    cr_assert_not_null(cb);
    cr_assert_eq(hamt_combine_set(cb, K(1), V(1), NULL, NULL), 0);
    cr_assert_eq(hamt_cell_version(cell), 1);
}

/* An alter function that submits `key` to comb from inside a round. */
struct reentry {
    uint64_t key;
    int rc, err;  /* of that submission */
    int inner_rc; /* of the submission to comb2 (via_other_combiner) */
};

static enum hamt_alter_action
reenter(void *old, bool present, void **nv, void *ctx)
{
    struct reentry *r = ctx;

    (void)old;
    (void)present;
    errno = 0;
    r->rc = hamt_combine_set(comb, K(r->key), V(r->key), NULL, NULL);
    r->err = errno;
    *nv = V(1);
    return HAMT_ALTER_SET;
}

Test(combine, alter_function_submitting_to_its_combiner_gets_edeadlk)
{
    struct reentry r = {.key = 2};

    cr_assert_eq(hamt_combine_alter(comb, K(1), reenter, &r, NULL, NULL), 0);
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err, EDEADLK);
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(1)));
    cr_assert_not(hamt_contains(hamt_cell_load(cell, NULL), K(2)));
}

static struct hamt_combine *comb2;

/*
 * Run by comb's publisher: submits to comb2, which this thread then
 * serves, and whose alter function (reenter) submits to comb.
 */
static enum hamt_alter_action
via_other_combiner(void *old, bool present, void **nv, void *ctx)
{
    struct reentry *r = ctx;

    (void)old;
    (void)present;
    r->inner_rc = hamt_combine_alter(comb2, K(1), reenter, r, NULL, NULL);
    *nv = V(1);
    return HAMT_ALTER_SET;
}

/*
 * comb's publisher serves comb2 too (no one else holds comb2's flag), and
 * comb2's alter function submits to comb: a wait for this thread itself.
 * It used to hang; the suite's timeout would end the test.
 */
Test(combine, an_alter_function_two_combiners_deep_gets_edeadlk)
{
    struct hamt_cell *cell2 = hamt_cell_new(hamt_new(HAMT_KEY_U64));
    struct reentry r = {.key = 3, .inner_rc = -1};

    cr_assert_not_null(cell2);
    comb2 = hamt_combine_new(cell2);
    cr_assert_not_null(comb2);
    cr_assert_eq(
        hamt_combine_alter(comb, K(1), via_other_combiner, &r, NULL, NULL), 0);
    cr_assert_eq(r.inner_rc, 0, "comb2's round published");
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err, EDEADLK);
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(1)));
    cr_assert_not(hamt_contains(hamt_cell_load(cell, NULL), K(3)));
    cr_assert(hamt_contains(hamt_cell_load(cell2, NULL), K(1)));
    /* Leaving the rounds ended the chain: comb takes submissions again. */
    cr_assert_eq(hamt_combine_set(comb, K(3), V(3), NULL, NULL), 0);
}

/*
 * A key callback of a custom key type runs in the publisher too: the hash
 * of key 42 submits to the combiner whose round is hashing it.  That wait
 * would be for the calling thread itself, so it fails with EDEADLK (not
 * only from alter functions, which is all hamt_combine(3) used to say),
 * and the outer request is applied.
 */
static struct hamt_combine *hash_comb;
static int hash_rc = 1, hash_err;

static uint64_t
submitting_hash(const void *key, void *ctx)
{
    (void)ctx;
    if ((uintptr_t)key == 42 && hash_rc == 1) {
        errno = 0;
        hash_rc = hamt_combine_set(hash_comb, V(7), V(7), NULL, NULL);
        hash_err = errno;
    }
    return (uintptr_t)key;
}

static bool
same_word(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return a == b;
}

Test(combine, a_key_callback_submitting_to_its_combiner_gets_edeadlk)
{
    struct hamt_key_type kt = {
        .size = sizeof kt, .hash = submitting_hash, .equal = same_word};
    struct hamt_cell *c = hamt_cell_new(hamt_new_custom(&kt));
    uint64_t v = 0;

    cr_assert_not_null(c);
    hash_comb = hamt_combine_new(c);
    cr_assert_not_null(hash_comb);
    cr_assert_eq(hamt_combine_set(hash_comb, V(42), V(1), NULL, &v), 0);
    cr_assert_eq(hash_rc, -1);
    cr_assert_eq(hash_err, EDEADLK);
    cr_assert_eq(v, 1);
    cr_assert(hamt_contains(hamt_cell_load(c, NULL), V(42)));
    cr_assert_not(hamt_contains(hamt_cell_load(c, NULL), V(7)));
}

/* The largest time_t (a signed integer type on every target). */
#define TEST_TIME_MAX                                                          \
    ((time_t)((((uintmax_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1))

/*
 * A timeout beyond what the clock can express means none: the submitter
 * sleeps until served.  It used to overflow into a deadline in the past,
 * which the futex refused at once, over and over (a busy loop); now such a
 * refusal would take a nap, which hamt__combine_naps() counts.  The holder
 * keeps the flag until the submitter has flagged itself asleep, then for
 * 50 naps more, so a refused wait has its time to show, however loaded
 * the machine.
 */
Test(combine, a_timeout_beyond_the_clock_waits_asleep)
{
    struct holder h = {.linger = 50, .until_asleep = true};
    const struct timespec huge = {TEST_TIME_MAX, 999999999L};
    uint64_t naps = hamt__combine_naps();

    served_after_holder(&h, (struct sub){.timeout = &huge});
    cr_assert_eq(hamt__combine_naps(), naps, "the futex refused the wait");
}

/* Publishes behind the combiner's back on the first call (C7). */
static enum hamt_alter_action
race(void *old, bool present, void **nv, void *ctx)
{
    int *calls = ctx;

    if ((*calls)++ == 0) {
        const struct hamt *cur = hamt_cell_load(cell, NULL);

        cr_assert_eq(hamt_cell_cas(cell, cur, hamt_set(cur, K(77), V(7)), NULL),
                     0);
    }
    *nv = V((uintptr_t)(present ? old : NULL) + 1);
    return HAMT_ALTER_SET;
}

Test(combine, another_writer_publishing_meanwhile_redoes_the_round)
{
    int calls = 0;
    uint64_t v = 0;
    void *val;
    const struct hamt *m;

    cr_assert_eq(hamt_combine_alter(comb, K(5), race, &calls, NULL, &v), 0);
    cr_assert_eq(calls, 2, "fn ran again on the new map");
    cr_assert_eq(v, 2);
    m = hamt_cell_load(cell, NULL);
    cr_assert(hamt_get(m, K(5), &val));
    cr_assert_eq(val, V(1), "applied once");
    cr_assert(hamt_contains(m, K(77)), "the other writer's update kept");
}

/*
 * OOM injection during a combined batch: the holder arms the failing
 * allocator just before its round ends, so the n-th allocation from there
 * (its own publication, then the round of the three waiting requests)
 * fails.  Every request must succeed and be in the map, or fail with
 * ENOMEM and be absent; the map must stay valid.
 */
static void
oom_during_batch(bool persistent)
{
    unsigned n;

    for (n = 1; n < 200; n++) {
        struct holder h = {0};
        struct sub hs = {0}, s[3] = {{0}};
        const struct hamt *m;
        int ok = 0;
        void *val;

        fresh_base_2000();
        uint64_t v0 = hamt_cell_version(cell);
        h.fail = n;
        h.persistent = persistent;
        s[0] = (struct sub){.op = 0, .key = 1, .val = V(11)};
        s[1] = (struct sub){.op = 1, .key = 10005};
        s[2] = (struct sub){.op = 2, .key = 3};
        holder_and_three(&hs, &h, s);
        hamt__fail_after(0, false);
        m = hamt_cell_load(cell, NULL);
        cr_assert_eq(hamt__validate(m), 0);
        for (int i = 0; i < 3; i++) {
            cr_assert(s[i].rc == 0 || (s[i].rc == -1 && s[i].err == ENOMEM),
                      "n=%u request %d: rc %d errno %d", n, i, s[i].rc,
                      s[i].err);
            ok += s[i].rc == 0;
        }
        cr_assert_eq(hamt_get(m, K(1), &val), s[0].rc == 0, "n=%u", n);
        if (s[0].rc == 0) {
            cr_assert_eq(val, V(11));
        }
        cr_assert_eq(hamt_contains(m, K(10005)), s[1].rc != 0, "n=%u", n);
        cr_assert_eq(hamt_get(m, K(3), &val), s[2].rc == 0, "n=%u", n);
        if (s[2].rc == 0) {
            cr_assert_eq(val, V(1));
        }
        /* Nothing else changed, and only whole rounds were published. */
        cr_assert_eq(hamt_size(m), 2000 + (hs.rc == 0) + (s[0].rc == 0)
                                       + (s[2].rc == 0) - (s[1].rc == 0));
        cr_assert_leq(hamt_cell_version(cell), v0 + 2);
        if (ok == 3 && hs.rc == 0) {
            break;
        }
    }
    cr_assert_lt(n, 200, "never succeeded");
    cr_assert_gt(n, 1, "no failure was injected");
}

Test(combine, oom_during_a_batch_fails_only_its_requests_transient)
{
    oom_during_batch(false);
}

Test(combine, oom_during_a_batch_fails_only_its_requests_persistent)
{
    oom_during_batch(true);
}

/* ---- cancellation (the calls run with cancellation disabled) ---- */

/* An alter function that cancels the thread running it (the publisher)
 * and then reaches a cancellation point. */
static enum hamt_alter_action
cancel_publisher(void *old, bool present, void **nv, void *ctx)
{
    (void)old;
    (void)present;
    (void)ctx;
    cr_assert_eq(pthread_cancel(pthread_self()), 0);
    pthread_testcancel();
    *nv = V(7);
    return HAMT_ALTER_SET;
}

static void *
cancel_sub_main(void *arg)
{
    struct sub *s = arg;

    s->rc = hamt_combine_alter(comb, K(s->key), cancel_publisher, NULL, NULL,
                               &s->ver);
    s->err = s->rc != 0 ? errno : 0;
    return NULL;
}

/* Joins t, failing the test instead of hanging when it does not end. */
static void *
join_within(pthread_t t, time_t secs)
{
    struct timespec dl;
    void *ret = NULL;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += secs;
    cr_assert_eq(pthread_timedjoin_np(t, &ret, &dl), 0,
                 "the thread did not finish");
    return ret;
}

/*
 * The publisher (the holder's thread) is cancelled inside another
 * submitter's alter function: it used to die there holding the flag, the
 * other request TAKEN for ever and every later submission stuck.
 */
Test(combine, a_publisher_is_not_cancelled_inside_an_alter_function)
{
    struct holder h = {0};
    struct sub hs = {0}, s = {.key = 7, .rc = -2};
    uint64_t v;

    start_holder(&hs, &h, 1);
    cr_assert_eq(pthread_create(&s.t, NULL, cancel_sub_main, &s), 0);
    (void)join_within(s.t, 10);
    cr_assert_eq(s.rc, 0, "errno %d", s.err);
    cr_assert_eq(s.ver, 2);
    (void)join_within(hs.t, 10);
    cr_assert_eq(hamt_combine_set(comb, K(8), V(8), NULL, &v), 0);
    cr_assert_eq(v, 3, "the flag was released");
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(7)));
}

/*
 * A submitter whose futex fails naps in clock_nanosleep(), a cancellation
 * point: cancelled there, it used to leave its stack request in the list
 * for the next publisher to write into after the thread was gone.
 */
Test(combine, a_napping_submitter_is_not_cancelled_inside_its_call)
{
    struct holder h = {0};
    struct sub hs = {0};
    struct sub s = {.op = 0, .key = 42, .val = V(1), .deny_futex = ENOSYS,
                    .rc = -2};
    uint64_t from = hamt__combine_naps();

    start_holder(&hs, &h, 1000); /* keeps the flag until released */
    start(&s);
    while (hamt__combine_naps() == from) {
        nap();
    }
    cr_assert_eq(pthread_cancel(s.t), 0);
    for (int i = 0; i < 100; i++) {
        nap(); /* time for a cancellation to act, if it can */
    }
    atomic_store(&h.release, true);
    (void)join_within(hs.t, 10);
    (void)join_within(s.t, 10);
    cr_assert_eq(s.rc, 0, "the call returned (errno %d)", s.err);
    cr_assert(hamt_contains(hamt_cell_load(cell, NULL), K(42)));
}

/*
 * One allocation failure (transient) anywhere in the holder's round and
 * the round of the three waiting requests: a request's own step that fails
 * fails that request alone, and a shared step that fails (beginning the
 * batch, the publication's record) is tried once more, which then
 * succeeds.  So at most one of the four calls fails, whichever allocation
 * it is; every allocation of the two rounds is made to fail in turn.
 */
Test(combine, one_failed_allocation_fails_at_most_one_request)
{
    unsigned failed_runs = 0;

    for (unsigned n = 1; n < 60; n++) {
        struct holder h = {0};
        struct sub hs = {0}, s[3] = {{0}};
        unsigned failed;

        fresh_base_2000();
        h.fail = n;
        s[0] = (struct sub){.op = 0, .key = 1, .val = V(11)};
        s[1] = (struct sub){.op = 1, .key = 10005};
        s[2] = (struct sub){.op = 0, .key = 3, .val = V(33)};
        holder_and_three(&hs, &h, s);
        hamt__fail_after(0, false);
        failed = (hs.rc != 0) + (s[0].rc != 0) + (s[1].rc != 0)
                 + (s[2].rc != 0);
        cr_assert_leq(failed, 1,
                      "n=%u: rc holder %d, requests %d %d %d (errno %d %d %d)",
                      n, hs.rc, s[0].rc, s[1].rc, s[2].rc, s[0].err, s[1].err,
                      s[2].err);
        failed_runs += failed;
    }
    cr_assert_gt(failed_runs, 0, "no failure was injected");
}

/*
 * A request pushed after the departing publisher's last look at the list
 * and before it releases the flag: its submitter, finding the flag held,
 * goes to sleep, so the publisher's re-check after the release (D2) is
 * all that serves it.  The hook holds the publisher there until the other
 * submitter sleeps; without the re-check that submitter would sleep for
 * ever (the timed join fails).
 */
static struct sub *late_sub;
static atomic_int late_hook_calls;

static void
late_push_hook(struct hamt_combine *cb)
{
    if (atomic_fetch_add(&late_hook_calls, 1) != 0) {
        return; /* only the first departure */
    }
    start(late_sub);
    while (hamt__combine_asleep(cb) == 0) {
        nap();
    }
}

Test(combine, a_request_pushed_while_the_publisher_departs_is_served)
{
    struct sub first = {.op = 0, .key = 1, .val = V(1)};
    struct sub late = {.op = 0, .key = 2, .val = V(2)};
    const struct hamt *m;

    late_sub = &late;
    hamt__combine_depart_hook = late_push_hook;
    start(&first);
    (void)join_within(first.t, 10);
    (void)join_within(late.t, 10);
    hamt__combine_depart_hook = NULL;
    cr_assert_eq(first.rc, 0, "errno %d", first.err);
    cr_assert_eq(late.rc, 0, "errno %d", late.err);
    cr_assert_geq(atomic_load(&late_hook_calls), 1);
    m = hamt_cell_load(cell, NULL);
    cr_assert(hamt_contains(m, K(1)));
    cr_assert(hamt_contains(m, K(2)));
}
