/*
 * test/api.c - every public map function with NULL or otherwise invalid
 * arguments: EINVAL or a documented no-op, never a crash.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>

#include "collide0.h"
#include "expect.h"
#include "internal.h"

#ifndef HAMT_NO_GC
/*
 * Without redirects: pthread_create must stay the plain one, since the
 * collector's wrapper would initialise the collector on this thread.
 * GC_THREADS only for the declarations (GC_allow_register_threads).
 */
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif

Test(api, null_map_given_to_an_update_sets_einval)
{
    EXPECT_EINVAL(hamt_set(NULL, HAMT_U64(1), NULL), NULL);
    EXPECT_EINVAL(hamt_remove(NULL, HAMT_U64(1)), NULL);
    EXPECT_EINVAL(hamt_new_like(NULL), NULL);
}

Test(api, queries_read_a_null_map_as_empty_and_leave_errno_alone)
{
    void *v = (void *)1;
    const struct hamt *one =
        hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);

    EXPECT_QUIET(hamt_get(NULL, HAMT_U64(1), &v), false);
    cr_assert_eq(v, (void *)1, "value untouched");
    EXPECT_QUIET(hamt_contains(NULL, HAMT_U64(1)), false);
    EXPECT_QUIET(hamt_size(NULL), 0);
    EXPECT_QUIET(hamt_key_kind(NULL), 0);
    EXPECT_QUIET(hamt_equal(NULL, hamt_new(HAMT_KEY_U64), NULL, NULL), true);
    EXPECT_QUIET(hamt_equal(hamt_new(HAMT_KEY_U64), NULL, NULL, NULL), true);
    EXPECT_QUIET(hamt_equal(one, NULL, NULL, NULL), false);
    EXPECT_QUIET(hamt_equal(NULL, one, NULL, NULL), false);
}

Test(api, bad_key_kinds_and_key_types_set_einval)
{
    EXPECT_EINVAL(hamt_new((enum hamt_key_kind)0), NULL);
    EXPECT_EINVAL(hamt_new(HAMT_KEY_CUSTOM), NULL);
    EXPECT_EINVAL(hamt_new((enum hamt_key_kind)99), NULL);
    EXPECT_EINVAL(hamt_new_custom(NULL), NULL);
    struct hamt_key_type kt = {.size = sizeof kt, .hash = h0, .equal = eq0};
    kt.size = 8;
    EXPECT_EINVAL(hamt_new_custom(&kt), NULL);
    kt.size = sizeof kt;
    kt.hash = NULL;
    EXPECT_EINVAL(hamt_new_custom(&kt), NULL);
    kt.hash = h0;
    kt.equal = NULL;
    EXPECT_EINVAL(hamt_new_custom(&kt), NULL);
    kt.equal = eq0;
    cr_assert_not_null(hamt_new_custom(&kt));
}

Test(api, null_string_and_bytes_keys_set_einval_and_are_never_found)
{
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    const struct hamt *b = hamt_new(HAMT_KEY_BYTES);
    struct hamt_bytes bad = {.len = 3, .data = NULL};

    EXPECT_EINVAL(hamt_set(s, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_remove(s, NULL), NULL);
    EXPECT_QUIET(hamt_get(s, NULL, NULL), false);
    EXPECT_EINVAL(hamt_set(b, NULL, NULL), NULL);
    EXPECT_EINVAL(hamt_set(b, &bad, NULL), NULL);
    EXPECT_QUIET(hamt_get(b, &bad, NULL), false);
    EXPECT_EINVAL(hamt_remove(b, &bad), NULL);
}

static enum hamt_alter_action
alter_keep(void *old, bool present, void **new_val, void *ctx)
{
    (void)old;
    (void)present;
    (void)new_val;
    (void)ctx;
    return HAMT_ALTER_KEEP;
}

/*
 * A byte-string length no object can have (above PTRDIFF_MAX) is an
 * invalid key, refused before the bytes are read.  Such keys used to be
 * hashed, reading far past `data`: SIGSEGV (and the copy's size,
 * sizeof header + len, could wrap).
 */
Test(api, a_bytes_key_longer_than_any_object_is_invalid)
{
    const struct hamt *b = hamt_new(HAMT_KEY_BYTES);
    static const struct hamt_bytes huge[] = {
        {.len = SIZE_MAX, .data = "x"},
        {.len = (size_t)PTRDIFF_MAX + 1, .data = "x"},
    };
    const void *keys[] = {&huge[0]};
    bool found = true;

    for (unsigned i = 0; i < 2; i++) {
        EXPECT_EINVAL(hamt_set(b, &huge[i], NULL), NULL);
        EXPECT_EINVAL(hamt_remove(b, &huge[i]), NULL);
        EXPECT_EINVAL(hamt_alter(b, &huge[i], alter_keep, NULL), NULL);
        EXPECT_QUIET(hamt_get(b, &huge[i], NULL), false);
        struct hamt_batch *bt = hamt_batch_begin(b);
        EXPECT_EINVAL(hamt_batch_set(bt, &huge[i], NULL), -1);
        EXPECT_QUIET(hamt_batch_get(bt, &huge[i], NULL), false);
        cr_assert_eq(hamt_batch_finish(bt), b);
    }
    EXPECT_QUIET(hamt_get_many(b, 1, keys, NULL, &found), 0);
    cr_assert(!found);
}

Test(api, absent_key_leaves_errno_alone)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);

    errno = 1234;
    cr_assert(!hamt_get(m, HAMT_U64(2), NULL));
    cr_assert(hamt_get(m, HAMT_U64(1), NULL));
    cr_assert_eq(hamt_set(m, HAMT_U64(1), NULL), m);
    cr_assert_not_null(hamt_set(m, HAMT_U64(3), NULL));
    cr_assert_eq(errno, 1234);
}

struct first_call {
    int rc, err;
    const struct hamt *m;
    int m_err;
    int reg_rc, reg_err;
};

static void *
first_call_main(void *arg)
{
    struct first_call *f = arg;

    errno = 0;
    f->rc = hamt_init();
    f->err = errno;
    errno = 0;
    f->m = hamt_new(HAMT_KEY_U64);
    f->m_err = errno;
    errno = 0;
    f->reg_rc = hamt_thread_register();
    f->reg_err = errno;
    return NULL;
}

/*
 * The collector must be initialised on the main thread: from another
 * thread, which may exit, it aborted the process at a later collection.
 * The first call is refused there, and the main thread can still
 * initialise the library afterwards.
 */
Test(api, a_first_call_off_the_main_thread_is_refused)
{
    struct first_call f = {0}, g = {0};
    pthread_t t;

#ifndef HAMT_NO_GC
    cr_assert_not(GC_is_init_called(), "the test needs a fresh process");
#endif
    cr_assert_eq(pthread_create(&t, NULL, first_call_main, &f), 0);
    pthread_join(t, NULL);
#ifndef HAMT_NO_GC
    cr_assert_eq(f.rc, -1);
    cr_assert_eq(f.err, EPERM);
    cr_assert_null(f.m);
    cr_assert_eq(f.m_err, EPERM);
    cr_assert_eq(f.reg_rc, -1);
    cr_assert_eq(f.reg_err, EPERM);
    cr_assert_not(GC_is_init_called());
#else
    cr_assert_eq(f.rc, 0, "without the collector any thread may be first");
#endif
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(pthread_create(&t, NULL, first_call_main, &g), 0);
    pthread_join(t, NULL);
    cr_assert_eq(g.rc, 0, "once initialised, every thread may call");
    cr_assert_not_null(g.m);
    cr_assert_eq(g.reg_rc, 0);
}

#ifndef HAMT_NO_GC
static void *
set_one_main(void *arg)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    *(const struct hamt **)arg =
        m != NULL ? hamt_set(m, HAMT_U64(1), (void *)1) : NULL;
    return NULL;
}

/*
 * An application that initialised the collector itself may make its first
 * library call from any thread (hamt_init(3)).  The library's set-up
 * allocates before it registers that thread; with a collection due then,
 * the collector aborted the process ("Collecting from unknown thread").
 */
Test(api, a_first_call_from_a_plain_thread_with_a_collection_due)
{
    const struct hamt *m = NULL;
    void **keep;
    pthread_t t;

    cr_assert_not(GC_is_init_called(), "the test needs a fresh process");
    GC_INIT();
    GC_allow_register_threads();
    keep = GC_MALLOC(sizeof *keep);
    cr_assert_not_null(keep);
    GC_disable();
    for (int i = 0; i < 400000; i++) {
        *keep = GC_MALLOC(64); /* garbage: a collection is due */
    }
    while (GC_get_free_bytes() > 0) {
        *keep = GC_MALLOC_ATOMIC(3000); /* a block each: no free block left */
    }
    GC_enable();
    cr_assert_eq(pthread_create(&t, NULL, set_one_main, &m), 0);
    pthread_join(t, NULL);
    cr_assert_not_null(m);
    cr_assert(hamt_contains(m, HAMT_U64(1)));
}
#endif

Test(api, init_is_idempotent)
{
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_init(), 0);
    cr_assert_eq(hamt_init(), 0);
}
