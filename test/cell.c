/*
 * test/cell.c - the publication cell, one function at a time: results,
 * versions, errno on every error path, the no-op and failure rules, and
 * waiting.  The concurrent stress and the collector tests are in
 * test/thread.c and test/stress/cell_stress.c.
 */
#include "internal.h"
#include "support/futex_deny.h"
#include "support/u64map.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

/* hamt_cell_store() that must succeed; returns the version it published. */
static uint64_t
store_ok(struct hamt_cell *c, const struct hamt *m)
{
    uint64_t v = 0;

    cr_assert_eq(hamt_cell_store(c, m, &v), 0);
    cr_assert_neq(v, 0, "a publication's version is never 0");
    return v;
}

/* hamt_cell_cas() that must succeed; returns the version it published. */
static uint64_t
cas_ok(struct hamt_cell *c, const struct hamt *expected, const struct hamt *m)
{
    uint64_t v = 0;

    cr_assert_eq(hamt_cell_cas(c, expected, m, &v), 0);
    cr_assert_neq(v, 0, "a publication's version is never 0");
    return v;
}

/* ---- creation and loading ---- */

Test(cell, new_rejects_null_map)
{
    errno = 0;
    cr_assert_null(hamt_cell_new(NULL));
    cr_assert_eq(errno, EINVAL);
}

Test(cell, new_cell_holds_its_map_at_version_zero)
{
    const struct hamt *m = u64_map(3, 1);
    struct hamt_cell *c = hamt_cell_new(m);
    uint64_t v = 99;

    cr_assert_not_null(c);
    cr_assert_eq(hamt_cell_load(c, &v), m);
    cr_assert_eq(v, 0);
    cr_assert_eq(hamt_cell_version(c), 0);
}

Test(cell, load_accepts_null_version_pointer)
{
    const struct hamt *m = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m);

    cr_assert_eq(hamt_cell_load(c, NULL), m);
}

Test(cell, load_of_null_cell_is_einval)
{
    uint64_t v = 7;

    errno = 0;
    cr_assert_null(hamt_cell_load(NULL, &v));
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(v, 7, "a failed load must not write *version");
}

Test(cell, version_of_null_cell_is_zero_and_leaves_errno_alone)
{
    errno = 12345;
    cr_assert_eq(hamt_cell_version(NULL), 0);
    cr_assert_eq(errno, 12345, "a query never touches errno");
}

Test(cell, failed_publication_leaves_version_out_parameter_alone)
{
    const struct hamt *m0 = u64_map(1, 1);
    const struct hamt *m1 = u64_map(2, 1);
    struct hamt_cell *c = hamt_cell_new(m0);
    uint64_t v = 77;

    cr_assert_eq(hamt_cell_store(c, NULL, &v), -1);
    cr_assert_eq(v, 77);
    cr_assert_eq(hamt_cell_cas(c, m1, m1, &v), -1); /* m1 is not current */
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(v, 77);
    cr_assert_eq(hamt_cell_cas(c, m0, m1, &v), 0);
    cr_assert_eq(v, 1);
}

Test(cell, successful_calls_leave_errno_alone)
{
    const struct hamt *m = u64_map(2, 1);
    struct hamt_cell *c = hamt_cell_new(m);
    const struct timespec zero = {0, 0};

    errno = 12345;
    cr_assert_eq(hamt_cell_load(c, NULL), m);
    cr_assert_eq(hamt_cell_store(c, m, NULL), 0);
    cr_assert_eq(hamt_cell_cas(c, m, m, NULL), 0);
    cr_assert_eq(hamt_cell_version(c), 2);
    cr_assert_eq(hamt_cell_wait(c, 1, &zero), 0);
    cr_assert_eq(errno, 12345);
}

/* ---- store ---- */

Test(cell, store_publishes_and_counts_versions)
{
    const struct hamt *m0 = u64_map(2, 1);
    const struct hamt *m1 = hamt_set(m0, HAMT_U64(9), NULL);
    const struct hamt *m2 = hamt_remove(m1, HAMT_U64(0));
    struct hamt_cell *c = hamt_cell_new(m0);
    uint64_t v;

    cr_assert_eq(store_ok(c, m1), 1);
    cr_assert_eq(hamt_cell_load(c, &v), m1);
    cr_assert_eq(v, 1);
    cr_assert_eq(store_ok(c, m2), 2);
    cr_assert_eq(hamt_cell_load(c, &v), m2);
    cr_assert_eq(v, 2);
    /* Older snapshots are untouched by later publications. */
    cr_assert_eq(hamt_size(m0), 2);
    cr_assert_eq(hamt_size(m1), 3);
    cr_assert_eq(word_of(m1, 0), 1);
}

Test(cell, store_of_current_map_still_publishes)
{
    const struct hamt *m = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m);

    cr_assert_eq(store_ok(c, m), 1);
    cr_assert_eq(store_ok(c, m), 2);
    cr_assert_eq(hamt_cell_load(c, NULL), m);
}

Test(cell, store_rejects_null_arguments)
{
    const struct hamt *m = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m);

    errno = 0;
    cr_assert_eq(hamt_cell_store(NULL, m, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_cell_store(c, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_cell_load(c, NULL), m);
    cr_assert_eq(hamt_cell_version(c), 0);
}

Test(cell, store_out_of_memory_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    const struct hamt *m1 = u64_map(2, 1);
    struct hamt_cell *c = hamt_cell_new(m0);

    hamt__fail_after(1, false);
    errno = 0;
    cr_assert_eq(hamt_cell_store(c, m1, NULL), -1);
    cr_assert_eq(errno, ENOMEM);
    hamt__fail_after(0, false);
    cr_assert_eq(hamt_cell_load(c, NULL), m0);
    cr_assert_eq(hamt_cell_version(c), 0);
    cr_assert_eq(store_ok(c, m1), 1, "the cell works after ENOMEM");
}

Test(cell, new_out_of_memory_is_enomem)
{
    const struct hamt *m = u64_map(1, 1);

    for (unsigned long n = 1; n <= 2; n++) {
        hamt__fail_after(n, false);
        errno = 0;
        cr_assert_null(hamt_cell_new(m), "allocation %lu fails", n);
        cr_assert_eq(errno, ENOMEM);
    }
    hamt__fail_after(0, false);
    cr_assert_not_null(hamt_cell_new(m));
}

/* ---- compare-and-publish ---- */

Test(cell, cas_publishes_when_expected_is_current)
{
    const struct hamt *m0 = u64_map(1, 1);
    const struct hamt *m1 = u64_map(2, 1);
    struct hamt_cell *c = hamt_cell_new(m0);
    uint64_t v;

    cr_assert_eq(cas_ok(c, m0, m1), 1);
    cr_assert_eq(hamt_cell_load(c, &v), m1);
    cr_assert_eq(v, 1);
}

Test(cell, cas_conflict_is_eagain_and_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    const struct hamt *m1 = u64_map(2, 1);
    const struct hamt *m2 = u64_map(3, 1);
    struct hamt_cell *c = hamt_cell_new(m0);

    cr_assert_eq(store_ok(c, m1), 1); /* Another writer won. */
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, m0, m2, NULL), -1);
    cr_assert_eq(errno, EAGAIN);
    cr_assert_eq(hamt_cell_load(c, NULL), m1);
    cr_assert_eq(hamt_cell_version(c), 1);
}

Test(cell, cas_compares_maps_not_publications)
{
    const struct hamt *m0 = u64_map(1, 1);
    const struct hamt *m1 = u64_map(2, 1);
    struct hamt_cell *c = hamt_cell_new(m0);

    /* m0 was published again in between: the current map is still m0. */
    cr_assert_eq(store_ok(c, m0), 1);
    cr_assert_eq(cas_ok(c, m0, m1), 2);
    cr_assert_eq(hamt_cell_load(c, NULL), m1);
}

/*
 * The same with the republication landing inside the call, between its
 * load of the record and its compare-and-swap: the swap fails on the record
 * alone, and the call must try again rather than report a conflict, since
 * the map is still `expected`.  Another thread republishes m0 over and over
 * (it succeeds only while the map is m0); this one switches m0 -> m1 -> m0,
 * and every switch must succeed.  Correct code passes however the threads
 * interleave; how often the republication lands inside the window is up to
 * the scheduler (a cas that gives up after one failed swap failed here
 * within 50000 rounds in each of ten runs on two cores).
 */
struct cas_race {
    struct hamt_cell *c;
    const struct hamt *m0;
    atomic_int stop;
};

static void *
cas_republisher(void *p)
{
    struct cas_race *r = p;

    while (!atomic_load(&r->stop)) {
        /* -1 with EAGAIN while the map is m1: nothing to republish. */
        (void)hamt_cell_cas(r->c, r->m0, r->m0, NULL);
    }
    return NULL;
}

Test(cell, cas_retries_when_the_same_map_is_republished_meanwhile,
     .timeout = 120)
{
    struct cas_race r = {.m0 = u64_map(1, 1)};
    const struct hamt *m1 = u64_map(2, 1);
    pthread_t t;

    r.c = hamt_cell_new(r.m0);
    cr_assert_not_null(r.c);
    cr_assert_eq(pthread_create(&t, NULL, cas_republisher, &r), 0);
    for (long i = 0; i < 1000000; i++) {
        errno = 0;
        cr_assert_eq(hamt_cell_cas(r.c, r.m0, m1, NULL), 0,
                     "round %ld: errno %d", i, errno);
        (void)cas_ok(r.c, m1, r.m0);
    }
    atomic_store(&r.stop, 1);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

/* hamt__nap(): each nap doubles the next one's length, up to 64 ms. */
Test(cell, nap_doubles_its_step_up_to_the_cap)
{
    const struct timespec zero = {0, 0};
    struct timespec past;
    long step = HAMT__NAP_FIRST_NS;

    /* A deadline already reached: every nap below returns at once. */
    cr_assert(hamt__deadline(&zero, &past));
    cr_assert_eq(hamt__nap(&past, &step), 0);
    cr_assert_eq(step, 2 * HAMT__NAP_FIRST_NS);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(hamt__nap(&past, &step), 0);
    }
    cr_assert_eq(step, 64L * 1000 * 1000, "step %ld", step);
}

Test(cell, cas_rejects_null_arguments)
{
    const struct hamt *m = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m);

    errno = 0;
    cr_assert_eq(hamt_cell_cas(NULL, m, m, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, NULL, m, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, m, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_cell_version(c), 0);
}

Test(cell, cas_out_of_memory_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    const struct hamt *m1 = u64_map(2, 1);
    struct hamt_cell *c = hamt_cell_new(m0);

    hamt__fail_after(1, false);
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, m0, m1, NULL), -1);
    cr_assert_eq(errno, ENOMEM);
    hamt__fail_after(0, false);
    cr_assert_eq(hamt_cell_load(c, NULL), m0);
    cr_assert_eq(hamt_cell_version(c), 0);
}

/* ---- update ---- */

static const struct hamt *
inc_key0(const struct hamt *cur, void *ctx)
{
    unsigned *calls = ctx;

    if (calls != NULL) {
        (*calls)++;
    }
    return hamt_set(cur, HAMT_U64(0), (void *)(uintptr_t)(word_of(cur, 0) + 1));
}

Test(cell, update_publishes_the_function_result)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m0);
    const struct hamt *m;
    unsigned calls = 0;

    m = hamt_cell_update(c, inc_key0, &calls);
    cr_assert_not_null(m);
    cr_assert_eq(calls, 1);
    cr_assert_eq(hamt_cell_load(c, NULL), m);
    cr_assert_eq(hamt_cell_version(c), 1);
    cr_assert_eq(word_of(m, 0), 2);
    cr_assert_eq(word_of(m0, 0), 1, "the old version is unchanged");
}

static const struct hamt *
same_map(const struct hamt *cur, void *ctx)
{
    (void)ctx;
    return cur;
}

Test(cell, update_returning_current_map_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m0);
    unsigned long before = hamt__alloc_count();

    cr_assert_eq(hamt_cell_update(c, same_map, NULL), m0);
    cr_assert_eq(hamt_cell_version(c), 0);
    cr_assert_eq(hamt__alloc_count(), before, "a no-op allocates nothing");
}

static const struct hamt *
failing_fn(const struct hamt *cur, void *ctx)
{
    (void)cur;
    (void)ctx;
    errno = ERANGE;
    return NULL;
}

Test(cell, update_failure_passes_errno_on_and_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m0);

    errno = 0;
    cr_assert_null(hamt_cell_update(c, failing_fn, NULL));
    cr_assert_eq(errno, ERANGE);
    cr_assert_eq(hamt_cell_load(c, NULL), m0);
    cr_assert_eq(hamt_cell_version(c), 0);
}

Test(cell, update_rejects_null_arguments)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));

    errno = 0;
    cr_assert_null(hamt_cell_update(NULL, inc_key0, NULL));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_cell_update(c, NULL, NULL));
    cr_assert_eq(errno, EINVAL);
}

static const struct hamt *
to_string_map(const struct hamt *cur, void *ctx)
{
    (void)cur;
    return ctx;
}

/*
 * A cell keeps one key type: its combiner and readers interpret keys by
 * the type of the map they load, so a map of another type is refused.
 */
Test(cell, publishing_a_map_of_another_key_type_is_einval)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m0);
    const struct hamt *s = hamt_set(hamt_new(HAMT_KEY_STRING), "k", NULL);
    const struct hamt *sc = hamt_new_scalar(HAMT_KEY_U64);
    uint64_t v = 99;

    cr_assert_not_null(c);
    cr_assert_not_null(s);
    errno = 0;
    cr_assert_eq(hamt_cell_store(c, s, &v), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, m0, s, &v), -1);
    cr_assert_eq(errno, EINVAL);
    /* Both maps of another type than the cell's: still the type, not a
     * conflict (EAGAIN) because `expected` is not current. */
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, s, s, &v), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(hamt_cell_update(c, to_string_map, (void *)s));
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(v, 99, "nothing published, nothing reported");
    cr_assert_eq(hamt_cell_load(c, NULL), m0);
    cr_assert_eq(hamt_cell_version(c), 0);
    /* A scalar map is a key type of its own, as for hamt_merge. */
    cr_assert_neq(hamt_new_like(sc), hamt_new_like(m0));
    errno = 0;
    cr_assert_eq(hamt_cell_store(c, sc, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    /* The same key type still publishes. */
    cr_assert_eq(hamt_cell_store(c, u64_map(2, 2), &v), 0);
    cr_assert_eq(v, 1);
}

/*
 * An `expected` of another key type than the map to publish can never be
 * the current map: EINVAL, not a conflict (EAGAIN would invite the caller
 * to retry for ever), even when the map to publish is of the cell's type.
 */
Test(cell, cas_with_expected_of_another_key_type_is_einval)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m0);
    const struct hamt *s = hamt_set(hamt_new(HAMT_KEY_STRING), "k", NULL);
    uint64_t v = 99;

    cr_assert_not_null(c);
    cr_assert_not_null(s);
    errno = 0;
    cr_assert_eq(hamt_cell_cas(c, s, u64_map(2, 2), &v), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(v, 99);
    cr_assert_eq(hamt_cell_version(c), 0);
}

Test(cell, update_out_of_memory_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m0);

    hamt__fail_after(1, true);
    errno = 0;
    cr_assert_null(hamt_cell_update(c, inc_key0, NULL));
    cr_assert_eq(errno, ENOMEM);
    hamt__fail_after(0, false);
    cr_assert_eq(hamt_cell_load(c, NULL), m0);
    cr_assert_eq(hamt_cell_version(c), 0);
}

struct racing {
    struct hamt_cell *c;
    unsigned calls;
};

/* On its first call, lets another "writer" publish before it returns. */
static const struct hamt *
inc_key0_raced(const struct hamt *cur, void *ctx)
{
    struct racing *r = ctx;

    if (r->calls++ == 0) {
        (void)store_ok(r->c, inc_key0(cur, NULL));
    }
    return inc_key0(cur, NULL);
}

Test(cell, update_retries_when_another_writer_wins)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct racing r = {hamt_cell_new(m0), 0};
    const struct hamt *m;

    m = hamt_cell_update(r.c, inc_key0_raced, &r);
    cr_assert_not_null(m);
    cr_assert_eq(r.calls, 2, "fn runs again on the winner's map");
    cr_assert_eq(word_of(m, 0), 3, "both increments are kept");
    cr_assert_eq(hamt_cell_version(r.c), 2);
    cr_assert_eq(hamt_cell_load(r.c, NULL), m);
}

/*
 * On its first call, lets another writer publish and returns a map of its
 * own; on the second (the retry on the winner's map) returns that map
 * unchanged, or fails with ERANGE when ctx->calls starts at 100.
 */
static const struct hamt *
raced_then_no_change(const struct hamt *cur, void *ctx)
{
    struct racing *r = ctx;

    switch (r->calls++) {
    case 0:
    case 100:
        (void)store_ok(r->c, inc_key0(cur, NULL));
        return inc_key0(cur, NULL);
    case 101:
        errno = ERANGE;
        return NULL;
    default:
        return cur;
    }
}

/*
 * The retry after a lost race follows the no-op and failure rules too: the
 * record made for the first attempt is dropped, nothing more is published,
 * and the result is the winner's map (or NULL with fn's errno).
 */
Test(cell, update_retry_that_changes_nothing_or_fails_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct racing r = {hamt_cell_new(m0), 0};
    const struct hamt *m, *winner;

    m = hamt_cell_update(r.c, raced_then_no_change, &r);
    cr_assert_eq(r.calls, 2, "fn runs again on the winner's map");
    winner = hamt_cell_load(r.c, NULL);
    cr_assert_eq(m, winner, "the map now current: the winner's");
    cr_assert_eq(word_of(m, 0), 2, "only the winner's increment");
    cr_assert_eq(hamt_cell_version(r.c), 1, "the retry published nothing");

    r.calls = 100;
    errno = 0;
    cr_assert_null(hamt_cell_update(r.c, raced_then_no_change, &r));
    cr_assert_eq(errno, ERANGE, "fn's errno is passed on");
    cr_assert_eq(r.calls, 102);
    cr_assert_eq(hamt_cell_version(r.c), 2, "only the winner published");
    cr_assert_eq(word_of(hamt_cell_load(r.c, NULL), 0), 3);
}

#define UPD_THREADS 4
#define UPD_EACH 2000

static void *
updater(void *arg)
{
    struct hamt_cell *c = arg;

    for (int i = 0; i < UPD_EACH; i++) {
        if (hamt_cell_update(c, inc_key0, NULL) == NULL) {
            return (void *)1;
        }
    }
    return NULL;
}

Test(cell, update_from_several_threads_loses_nothing, .timeout = 120)
{
    struct hamt_cell *c =
        hamt_cell_new(hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(0), (void *)0));
    pthread_t t[UPD_THREADS];
    void *ret;

    for (int i = 0; i < UPD_THREADS; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, updater, c), 0);
    }
    for (int i = 0; i < UPD_THREADS; i++) {
        pthread_join(t[i], &ret);
        cr_assert_null(ret);
    }
    cr_assert_eq(word_of(hamt_cell_load(c, NULL), 0), UPD_THREADS * UPD_EACH);
    cr_assert_eq(hamt_cell_version(c), UPD_THREADS * UPD_EACH);
}

/* ---- waiting ---- */

Test(cell, wait_returns_at_once_when_a_newer_version_exists)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));

    cr_assert_eq(store_ok(c, u64_map(2, 1)), 1);
    cr_assert_eq(hamt_cell_wait(c, 0, NULL), 0, "NULL timeout, no block");
}

Test(cell, wait_times_out_with_etimedout, .timeout = 60)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    const struct timespec t = {0, 20 * 1000 * 1000};
    const struct timespec zero = {0, 0};

    errno = 0;
    cr_assert_eq(hamt_cell_wait(c, 0, &t), -1);
    cr_assert_eq(errno, ETIMEDOUT);
    errno = 0;
    cr_assert_eq(hamt_cell_wait(c, 0, &zero), -1, "zero timeout polls");
    cr_assert_eq(errno, ETIMEDOUT);
    cr_assert_eq(store_ok(c, u64_map(1, 1)), 1);
    cr_assert_eq(hamt_cell_wait(c, 1, &zero), -1, "seen == current waits");
    cr_assert_eq(hamt_cell_wait(c, 0, &zero), 0);
}

/*
 * A timeout whose nanoseconds carry into the seconds of the deadline (the
 * clock's nanoseconds plus 999999999 are 1e9 or more unless the clock reads
 * a whole second): still a valid deadline, and ETIMEDOUT only once the
 * timeout has passed (CLOCK_MONOTONIC, hamt_cell(3)).
 */
Test(cell, wait_timeout_carrying_into_the_seconds_times_out, .timeout = 60)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    const struct timespec t = {0, 999999999L};
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    cr_assert_eq(hamt_cell_wait(c, 0, &t), -1);
    cr_assert_eq(errno, ETIMEDOUT, "errno %d", errno);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000
                 + (t1.tv_nsec - t0.tv_nsec);
    cr_assert_geq(ns, 999999999, "timed out after %lld ns", (long long)ns);
}

Test(cell, wait_rejects_null_cell_and_bad_timeouts)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    const struct timespec bad[] = {{-1, 0}, {0, -1}, {0, 1000000000L}};

    errno = 0;
    cr_assert_eq(hamt_cell_wait(NULL, 0, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        cr_assert_eq(hamt_cell_wait(c, 0, &bad[i]), -1);
        cr_assert_eq(errno, EINVAL);
    }
    /* Arguments are checked before the version, even a newer one. */
    cr_assert_eq(store_ok(c, u64_map(1, 2)), 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        cr_assert_eq(hamt_cell_wait(c, 0, &bad[i]), -1);
        cr_assert_eq(errno, EINVAL);
    }
}

struct waiter {
    struct hamt_cell *c;
    atomic_int *started;
    int rc;
    uint64_t version;
};

static void *
waiter_main(void *arg)
{
    struct waiter *w = arg;

    atomic_fetch_add(w->started, 1);
    w->rc = hamt_cell_wait(w->c, 0, NULL); /* Forever: the guard is .timeout. */
    w->version = hamt_cell_version(w->c);
    return NULL;
}

#define NWAITERS 4

Test(cell, wait_returns_once_a_writer_publishes, .timeout = 60)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    atomic_int started = 0;
    struct waiter w[NWAITERS];
    pthread_t t[NWAITERS];
    const struct timespec nap = {0, 50 * 1000 * 1000};

    for (int i = 0; i < NWAITERS; i++) {
        w[i] = (struct waiter){c, &started, -2, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
    }
    while (atomic_load(&started) < NWAITERS) {
        nanosleep(&nap, NULL);
    }
    /*
     * Not a timing assertion: the nap only makes it likely that the waiters
     * are asleep in the kernel, which is the path worth testing.  If they
     * are not yet, they find the new version on their first look.
     */
    nanosleep(&nap, NULL);
    cr_assert_eq(store_ok(c, u64_map(2, 1)), 1);
    for (int i = 0; i < NWAITERS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].rc, 0);
        cr_assert_eq(w[i].version, 1);
    }
}

/* ---- waiting sleeps (issue 17) ---- */

/*
 * The CPU a waiter may use in its one-second wait.  A sleeping waiter uses
 * well under a millisecond (a few naps, or none); a spinning one gets its
 * share of a core, which stayed above a tenth of a second even with eight
 * runnable threads per core.  The bound sits far from both.
 */
#define WAITER_CPU_MAX 0.02

/* Seconds of CPU the calling thread has used. */
static double
thread_cpu_seconds(void)
{
    struct timespec t;

    cr_assert_eq(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t), 0);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * A waiter that measures its own CPU time across one hamt_cell_wait() call,
 * optionally after making the futex system call fail in its thread.
 */
struct sleeper {
    struct hamt_cell *c;
    atomic_int *started;
    struct timespec timeout;
    int deny_futex; /* error number the futex wait gets, or 0 */
    bool times_out; /* expected to time out before the publication */
    atomic_bool returned;
    int rc;
    int err;
    uint64_t version;
    double cpu;
};

static void *
sleeper_main(void *arg)
{
    struct sleeper *w = arg;
    double cpu;

    if (w->deny_futex != 0) {
        deny_futex_wait(w->deny_futex);
    }
    /* A first cell call, so that the thread's one-time set-up is not
     * counted below. */
    hamt_cell_version(w->c);
    atomic_fetch_add(w->started, 1);
    cpu = thread_cpu_seconds();
    errno = 0;
    w->rc = hamt_cell_wait(w->c, 0, &w->timeout);
    w->err = errno;
    w->cpu = thread_cpu_seconds() - cpu;
    w->version = hamt_cell_version(w->c);
    atomic_store(&w->returned, true);
    return NULL;
}

/*
 * Starts one sleeper per entry of w[], lets them wait about a second
 * after all have started, publishes once, and joins them.  The second
 * is not a timing assertion: the waiters must sleep through it, and their
 * CPU use is what is checked.  The publication waits for the sleepers
 * marked times_out to return, so that on a loaded machine a sleeper that
 * got to its wait late still times out rather than finding the new
 * version (one that never times out hangs the test into its .timeout).
 */
static void
run_sleepers(struct hamt_cell *c, struct sleeper *w, int n)
{
    atomic_int started = 0;
    pthread_t t[8];
    const struct timespec tick = {0, 10 * 1000 * 1000};
    const struct timespec wait = {1, 0};
    uint64_t version = 0;

    cr_assert_leq(n, 8);
    for (int i = 0; i < n; i++) {
        w[i].c = c;
        w[i].started = &started;
        w[i].rc = -2;
        atomic_init(&w[i].returned, false);
        cr_assert_eq(pthread_create(&t[i], NULL, sleeper_main, &w[i]), 0);
    }
    while (atomic_load(&started) < n) {
        nanosleep(&tick, NULL);
    }
    nanosleep(&wait, NULL);
    for (int i = 0; i < n; i++) {
        while (w[i].times_out && !atomic_load(&w[i].returned)) {
            nanosleep(&tick, NULL);
        }
    }
    cr_assert_eq(hamt_cell_store(c, u64_map(2, 1), &version), 0);
    cr_assert_eq(version, 1);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_log_info("waiter %d: rc %d, %.6f s of CPU", i, w[i].rc, w[i].cpu);
    }
}

/*
 * A timeout too large for CLOCK_MONOTONIC plus the timeout to fit in a
 * time_t used to overflow the deadline (UBSan: signed overflow); the
 * deadline came out in the past, the futex failed at once and the wait
 * spun a whole CPU.  Such a timeout means "forever": each waiter must
 * sleep, using a small fraction of the second it waits (WAITER_CPU_MAX),
 * and return 0 when the publication comes.  Also timeouts that fit in a
 * time_t but lie centuries ahead (the kernel caps them).
 */
Test(cell, wait_with_huge_timeout_sleeps_until_published, .timeout = 60)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    const time_t tmax = (time_t)LONG_MAX;
    struct timespec now;
    struct sleeper w[6];

    _Static_assert(sizeof(time_t) == sizeof(long), "time_t is a long");
    cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &now), 0);
    memset(w, 0, sizeof w);
    w[0].timeout = (struct timespec){tmax, 0};
    w[1].timeout = (struct timespec){tmax, 999999999L};
    /* The sum is exactly the largest time_t; the nanoseconds carry over. */
    w[2].timeout = (struct timespec){tmax - now.tv_sec, 999999999L};
    w[3].timeout = (struct timespec){tmax / 2 + 1, 0};
    w[4].timeout = (struct timespec){(time_t)1 << 40, 0};
    w[5].timeout = (struct timespec){100 * 365 * 86400L, 0};
    run_sleepers(c, w, 6);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(w[i].rc, 0, "waiter %d (timeout %jd s): rc %d errno %d", i,
                     (intmax_t)w[i].timeout.tv_sec, w[i].rc, w[i].err);
        cr_assert_eq(w[i].version, 1);
        cr_assert_lt(w[i].cpu, WAITER_CPU_MAX,
                     "waiter %d (timeout %jd s) used %.3f s of CPU", i,
                     (intmax_t)w[i].timeout.tv_sec, w[i].cpu);
    }
}

/*
 * When the futex wait fails in a way the protocol does not expect (here
 * ENOSYS and EPERM, as a sandbox that filters futex returns), the waiter
 * must not retry it in a busy loop: it sleeps between looks, still sees
 * the publication, and still times out.
 */
Test(cell, wait_sleeps_when_the_futex_fails, .timeout = 60)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    struct sleeper w[4];

    memset(w, 0, sizeof w);
    w[0].deny_futex = ENOSYS;
    w[0].timeout = (struct timespec){LONG_MAX, 0};
    w[1].deny_futex = EPERM;
    w[1].timeout = (struct timespec){3600, 0};
    /* These two time out before the publication. */
    w[2].deny_futex = ENOSYS;
    w[2].timeout = (struct timespec){0, 200 * 1000 * 1000};
    w[2].times_out = true;
    w[3].deny_futex = EPERM;
    w[3].timeout = (struct timespec){0, 1000};
    w[3].times_out = true;
    run_sleepers(c, w, 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_lt(w[i].cpu, WAITER_CPU_MAX, "waiter %d used %.3f s of CPU",
                     i, w[i].cpu);
    }
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(w[i].rc, 0, "waiter %d: rc %d errno %d", i, w[i].rc,
                     w[i].err);
        cr_assert_eq(w[i].version, 1);
    }
    for (int i = 2; i < 4; i++) {
        cr_assert_eq(w[i].rc, -1, "waiter %d: rc %d", i, w[i].rc);
        cr_assert_eq(w[i].err, ETIMEDOUT, "waiter %d: errno %d", i, w[i].err);
    }
}

struct nap_fail {
    struct hamt_cell *c;
    int rc[2], err[2];
};

static void *
nap_fail_main(void *arg)
{
    struct nap_fail *n = arg;
    const struct timespec hour = {3600, 0};

    /* As a sandbox that refuses both would. */
    deny_futex_wait_and_nap(ENOSYS, EPERM);
    errno = 0;
    n->rc[0] = hamt_cell_wait(n->c, 0, NULL);
    n->err[0] = errno;
    errno = 0;
    n->rc[1] = hamt_cell_wait(n->c, 0, &hour);
    n->err[1] = errno;
    return NULL;
}

/*
 * When the futex fails and the nap after it fails too, hamt_cell_wait()
 * fails with the error of clock_nanosleep(2) (hamt_cell(3)), with or
 * without a timeout, instead of spinning or reporting a publication.
 */
Test(cell, wait_fails_with_the_naps_error_when_both_futex_and_nap_fail,
     .timeout = 60)
{
    struct nap_fail n = {.c = hamt_cell_new(u64_map(1, 1))};
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, nap_fail_main, &n), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(n.rc[i], -1, "wait %d: rc %d", i, n.rc[i]);
        cr_assert_eq(n.err[i], EPERM, "wait %d: errno %d", i, n.err[i]);
    }
    cr_assert_eq(hamt_cell_version(n.c), 0);
    /* The failed waits left the cell as it was: a publication still
     * ends a wait, and reads see it. */
    cr_assert_eq(store_ok(n.c, u64_map(1, 2)), 1);
    cr_assert_eq(hamt_cell_wait(n.c, 0, NULL), 0);
}

/* Each failing allocation of an update (fn's own, then the record's). */
Test(cell, update_out_of_memory_at_each_allocation_publishes_nothing)
{
    const struct hamt *m0 = u64_map(1, 1);
    struct hamt_cell *c = hamt_cell_new(m0);
    unsigned long before = hamt__alloc_count();
    unsigned n;

    (void)inc_key0(m0, NULL);
    unsigned long fn_allocs = hamt__alloc_count() - before;
    for (n = 1;; n++) {
        hamt__fail_after(n, false);
        errno = 0;
        const struct hamt *m = hamt_cell_update(c, inc_key0, NULL);
        int err = errno;
        hamt__fail_after(0, false);
        if (m != NULL) {
            cr_assert_eq(hamt_cell_version(c), 1);
            cr_assert_eq(hamt_cell_load(c, NULL), m);
            break;
        }
        cr_assert_eq(err, ENOMEM, "failure %u: errno %d", n, err);
        cr_assert_eq(hamt_cell_version(c), 0, "failure %u published", n);
        cr_assert_eq(hamt_cell_load(c, NULL), m0);
        cr_assert_lt(n, 100);
    }
    cr_assert_eq(n, fn_allocs + 2, "fn's allocations, then the record's");
}

/*
 * hamt_cell_wait() is not a cancellation point.  A waiter whose futex
 * fails naps in clock_nanosleep(), which is one: cancelled there, it used
 * to leave the cell's waiter count raised for good (every publication then
 * made a needless wake-up system call) and, in an unregistered thread, its
 * slot held until the thread's exit.  Now a cancellation made during the
 * wait acts after it returns, so the waiter sees the publication and
 * returns 0.  The second before the publication is not a timing assertion:
 * it gives the old code naps in which to act on the cancellation.
 */
Test(cell, a_napping_waiter_is_not_cancelled_inside_its_call, .timeout = 60)
{
    struct hamt_cell *c = hamt_cell_new(u64_map(1, 1));
    atomic_int started = 0;
    struct sleeper w;
    pthread_t t;
    void *ret = NULL;
    const struct timespec tick = {0, 10 * 1000 * 1000};
    const struct timespec wait = {1, 0};
    uint64_t version = 0;

    memset(&w, 0, sizeof w);
    w.c = c;
    w.started = &started;
    w.deny_futex = ENOSYS;
    w.timeout = (struct timespec){LONG_MAX, 0};
    w.rc = -2;
    atomic_init(&w.returned, false);
    cr_assert_eq(pthread_create(&t, NULL, sleeper_main, &w), 0);
    while (atomic_load(&started) < 1) {
        nanosleep(&tick, NULL);
    }
    cr_assert_eq(pthread_cancel(t), 0);
    nanosleep(&wait, NULL);
    cr_assert_eq(hamt_cell_store(c, u64_map(2, 1), &version), 0);
    cr_assert_eq(pthread_join(t, &ret), 0);
    cr_assert_eq(w.rc, 0, "the wait returned %d (cancelled inside: %d)", w.rc,
                 ret == PTHREAD_CANCELED);
    cr_assert_eq(w.version, 1);
}
