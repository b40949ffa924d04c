/*
 * hamt.c - the public entry points of the map itself (library set-up, empty
 * maps, lookups, set, remove, iteration, equality): argument checks and
 * dispatch to keys.c, map.c and iter.c, whose hamt__ functions trust their
 * arguments because batch.c and ops.c call them too.  No algorithms live
 * here.  The other modules define their own entry points (the rule is in
 * internal.h).
 *
 * Return convention (hamt.h, hamt(3)): a made object or NULL with errno;
 * an operation 0 or -1 with errno; a query cannot fail and never touches
 * errno, reading a NULL map as empty and an invalid key as absent.
 *
 * Thread safety: every function here only reads its input maps, which are
 * immutable, so any of them may run on any thread at any time; those that
 * allocate (set, remove, hamt_new_custom) need a thread the collector
 * knows, and register it on their first allocation if nobody has (gc.c),
 * while lookups, iteration and equality also run in a slot reader
 * (cell.c).  The first call initialises the collector (hamt_init()),
 * which must happen on the main thread (EPERM elsewhere).
 */
#include "internal.h"

#include "atomic.h"

#include <pthread.h>
#include <string.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/*
 * The outcome of the once-only set-up: 0, or the errno of its failure
 * (permanent).  Atomic because hamt__init_error() reads it from threads
 * that have not passed the pthread_once.
 */
static HAMT_ATOMIC(int) init_errno;

/* 0, or -1 with errno = ENOTSUP on a CPU the library cannot run on. */
static int
hamt_cpu_check(void)
{
#if defined(HAMT_POPCNT) && (defined(__x86_64__) || defined(__i386__))
    /* Compiled with -mpopcnt (configure.ac): refuse a CPU without it. */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("popcnt")) {
        errno = ENOTSUP;
        return -1;
    }
#endif
    return 0;
}

static void
hamt_init_once(void)
{
    if (hamt_cpu_check() != 0 || hamt__gc_init() != 0
        || hamt__hash_init() != 0) {
        /* ORDER: release; pairs with the acquire in hamt__init_error(). */
        hamt__store_rel(&init_errno, errno);
    }
}

int
hamt__init_error(void)
{
    /*
     * ORDER: acquire; pairs with the release store in hamt_init_once().  A
     * 0 read before the set-up finished means "not failed yet".
     */
    return hamt__load_acq(&init_errno);
}

int
hamt_init(void)
{
    /*
     * Checked before the once-only set-up, so that a refused first call
     * leaves it to run later on the main thread.
     */
    if (hamt__gc_init_off_main()) {
        errno = EPERM;
        return -1;
    }
    /*
     * The set-up may fail a system call on its way to success (getrandom()
     * refused, then libsodium's other source): a successful call leaves
     * errno as the caller had it, as the library's other calls do.
     */
    int saved_errno = errno;

    (void)pthread_once(&init_once, hamt_init_once);
    /*
     * ORDER: relaxed; pthread_once orders the set-up, and its store, before
     * this load in every thread that returns from it.
     */
    int e = hamt__load_rlx(&init_errno);

    if (e != 0) {
        errno = e;
        return -1;
    }
    errno = saved_errno;
    return 0;
}

int
hamt_gc_set_budget(size_t bytes)
{
    if (hamt_init() != 0) {
        return -1;
    }
    return hamt__gc_set_budget(bytes);
}

int
hamt_gc_set_budget_factor(unsigned factor, size_t floor)
{
    if (hamt_init() != 0) {
        return -1;
    }
    return hamt__gc_set_budget_factor(factor, floor);
}

size_t
hamt_gc_budget(void)
{
    int saved = errno;

    if (hamt_init() != 0) {
        errno = saved; /* a query: errno is left alone */
        return 0;
    }
    return hamt__gc_budget();
}

const struct hamt *
hamt_new(enum hamt_key_kind kind)
{
    if (hamt_init() != 0) {
        return NULL;
    }
    return hamt__new_builtin(kind);
}

const struct hamt *
hamt_new_scalar(enum hamt_key_kind kind)
{
    if (hamt_init() != 0) {
        return NULL;
    }
    return hamt__new_scalar(kind);
}

const struct hamt *
hamt_new_custom(const struct hamt_key_type *kt)
{
    struct hamt_key_type k = {0};

    /* A caller built against the header before compare passes the older
     * size; the fields it does not have stay NULL. */
    if (kt == NULL
        || (kt->size != sizeof k && kt->size != HAMT_KEY_TYPE_SIZE_V1)
        || kt->hash == NULL || kt->equal == NULL) {
        errno = EINVAL;
        return NULL;
    }
    memcpy(&k, kt, kt->size);
    k.size = sizeof k;
    if (hamt_init() != 0) {
        return NULL;
    }
    return hamt__new_custom(&k);
}

const struct hamt *
hamt_new_like(const struct hamt *m)
{
    if (m == NULL) {
        errno = EINVAL;
        return NULL;
    }
    return m->kt->empty;
}

size_t
hamt_size(const struct hamt *m)
{
    if (m == NULL) {
        return 0;
    }
    return m->size;
}

enum hamt_key_kind
hamt_key_kind(const struct hamt *m)
{
    if (m == NULL) {
        return (enum hamt_key_kind)0;
    }
    return m->kt->kind;
}

bool
hamt_get(const struct hamt *m, const void *key, void **val)
{
    /* Integer and pointer keys are always valid: no check for them. */
    if (HAMT_UNLIKELY(m == NULL)
        || (!hamt__kind_int(m->kt->kind) && !hamt__key_valid(m->kt, key))) {
        return false;
    }
    return hamt__get(m, key, val);
}

size_t
hamt_get_many(const struct hamt *m, size_t n, const void *const keys[],
              void *vals[], bool found[])
{
    if (n == 0 || found == NULL) {
        return 0;
    }
    bool ok = m != NULL && keys != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        ok = hamt__key_valid(m->kt, keys[i]);
    }
    if (!ok) {
        /*
         * Documented: a NULL map or keys array, or any invalid key, finds
         * nothing; a query never touches errno.
         */
        for (size_t i = 0; i < n; i++) {
            found[i] = false;
        }
        return 0;
    }
    /* hamt__get_many() sets every found[i] itself. */
    return hamt__get_many(m, n, keys, vals, found, false, NULL);
}

bool
hamt_contains(const struct hamt *m, const void *key)
{
    return hamt_get(m, key, NULL);
}

const struct hamt *
hamt_set(const struct hamt *m, const void *key, void *val)
{
    if (m == NULL || !hamt__key_valid(m->kt, key)) {
        errno = EINVAL;
        return NULL;
    }
    return hamt__set(m, key, val);
}

const struct hamt *
hamt_remove(const struct hamt *m, const void *key)
{
    if (m == NULL || !hamt__key_valid(m->kt, key)) {
        errno = EINVAL;
        return NULL;
    }
    return hamt__remove(m, key);
}

void
hamt_iter_init(struct hamt_iter *it, const struct hamt *m)
{
    if (it == NULL) {
        return; /* documented no-op */
    }
    hamt__iter_init(it, m);
}

bool
hamt_iter_next(struct hamt_iter *it, const void **key, void **val)
{
    /*
     * A zero-initialised iterator (never given to hamt_iter_init()) reads
     * as one of a NULL map: its node stack is empty, not a root to walk.
     */
    if (it == NULL || it->priv_map == NULL) {
        return false;
    }
    return hamt__iter_next(it, key, val);
}

int
hamt_foreach(const struct hamt *m, hamt_foreach_fn fn, void *ctx)
{
    struct hamt_iter it;
    const void *k;
    void *v;

    if (m == NULL || fn == NULL) {
        errno = EINVAL;
        return -1;
    }
    hamt__iter_init(&it, m);
    while (hamt__iter_next(&it, &k, &v)) {
        if (fn(k, v, ctx) != 0) {
            return 1; /* stopped; distinct from -1, which is our failure */
        }
    }
    return 0;
}

bool
hamt_equal(const struct hamt *a, const struct hamt *b, hamt_value_equal_fn veq,
           void *ctx)
{
    /* A query: a NULL map reads as empty (of any key type). */
    if (a == NULL || b == NULL) {
        return hamt_size(a) == 0 && hamt_size(b) == 0;
    }
    return hamt__equal(a, b, veq, ctx);
}
