/*
 * test/batch.c - the batch editor: randomized runs against the reference
 * map (seed printed) on integer keys and on test keys whose hashes share
 * few bits; batches interleaved with persistent updates of the same
 * source; in-place writes (counted allocations); use after finish; update
 * functions; every allocation failing in turn.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "refmap.h"
#include "testkeys.h"

#define V(x) ((void *)(uintptr_t)(x))
#define CAP 700

/* A key space: integer keys, or test keys with colliding hashes. */
struct space {
    const struct hamt *empty;
    const void *key[CAP];
};

/* Integer keys in a map whose values are scalars (hamt_new_scalar). */
static bool scalar_maps;

static void
space_init(struct space *s, bool tk, uint64_t *seed)
{
    s->empty = tk            ? tk_empty()
               : scalar_maps ? hamt_new_scalar(HAMT_KEY_U64)
                             : hamt_new(HAMT_KEY_U64);
    for (uint64_t i = 0; i < CAP; i++) {
        /* Few distinct hash bits: collision nodes and deep paths. */
        s->key[i] = tk ? (const void *)tk_key(
                        i, ref_rand(seed) & UINT64_C(0x800000000000003f))
                       : HAMT_U64(i * 7919);
    }
}

/* hamt_get() as ref_mismatch() calls it. */
static bool
get_map(const void *m, const void *key, void **val)
{
    return hamt_get(m, key, val);
}

static bool
get_batch(const void *b, const void *key, void **val)
{
    return hamt_batch_get(b, key, val);
}

/* m holds exactly r's bindings over the key space, and is canonical. */
static void
check_map(const struct space *s, const struct hamt *m, const struct refmap *r)
{
    cr_assert_not_null(m);
    cr_assert_eq(hamt__validate(m), 0);
    cr_assert_eq(hamt_size(m), r->size);
    cr_assert_eq(ref_mismatch(r, s->key, get_map, m), -1, "a key differs");
}

/* The batch holds exactly r's bindings (through the public calls). */
static void
check_batch(const struct space *s, const struct hamt_batch *b,
            const struct refmap *r)
{
    cr_assert_eq(hamt_batch_size(b), r->size);
    cr_assert_eq(hamt__validate(hamt__batch_peek(b)), 0);
    cr_assert_eq(ref_mismatch(r, s->key, get_batch, b), -1, "a key differs");
}

static uint64_t
start_seed(const char *what)
{
    return ref_seed("batch", what);
}

/* One random batch operation on b, mirrored in r. */
static void
batch_step(const struct space *s, struct hamt_batch *b, struct refmap *r,
           unsigned range, uint64_t *seed)
{
    uint64_t x = ref_rand(seed);
    uint64_t k = (x >> 8) % range;
    void *old = NULL;
    bool present = ref_get(r, k, &old);
    size_t before = hamt_batch_size(b);
    int rc;

    switch (x % 8) {
    case 0:
    case 1:
        rc = hamt_batch_remove(b, s->key[k]);
        cr_assert_eq(rc, 0);
        cr_assert_eq(hamt_batch_size(b), before - (present ? 1 : 0));
        ref_remove(r, k);
        break;
    case 2: {
        struct ref_upd u = {.act = (enum hamt_alter_action)((x >> 4) % 3),
                            .val = V(x % 5 + 1)};
        cr_assert_eq(hamt_batch_alter(b, s->key[k], ref_upd_fn, &u), 0);
        cr_assert_eq(u.calls, 1);
        cr_assert_eq(u.seen_present, present);
        cr_assert_eq(u.seen_old, present ? old : NULL);
        if (u.act == HAMT_ALTER_SET) {
            ref_set(r, k, u.val);
        } else if (u.act == HAMT_ALTER_REMOVE) {
            ref_remove(r, k);
        }
        break;
    }
    default:
        rc = hamt_batch_set(b, s->key[k], V(x % 5 + 1));
        cr_assert_eq(rc, 0);
        cr_assert_eq(hamt_batch_size(b), before + (present ? 0 : 1));
        ref_set(r, k, V(x % 5 + 1));
        break;
    }
}

static void
random_run(bool tk)
{
    uint64_t seed = start_seed(tk ? "random (colliding keys)" : "random");
    struct space s;
    space_init(&s, tk, &seed);

    for (unsigned round = 0; round < 40; round++) {
        /* A source of random size, then one batch of random length. */
        struct refmap *rs = ref_new(CAP);
        const struct hamt *src = s.empty;
        unsigned range = 8 + (unsigned)(ref_rand(&seed) % (CAP - 8));
        unsigned nsrc = (unsigned)(ref_rand(&seed) % (2 * range));
        for (unsigned j = 0; j < nsrc; j++) {
            uint64_t k = ref_rand(&seed) % range;
            src = hamt_set(src, s.key[k], V(k + 100));
            ref_set(rs, k, V(k + 100));
        }
        struct refmap *rb = ref_clone(rs);
        struct hamt_batch *b = hamt_batch_begin(src);
        cr_assert_not_null(b);
        unsigned nops = (unsigned)(ref_rand(&seed) % (3 * range));
        for (unsigned j = 0; j < nops; j++) {
            batch_step(&s, b, rb, range, &seed);
            if (j % 97 == 0) {
                check_batch(&s, b, rb);
            }
        }
        check_batch(&s, b, rb);
        const struct hamt *out = hamt_batch_finish(b);
        check_map(&s, out, rb);
        check_map(&s, src, rs); /* the source never changes */
        if (rb->size == 0) {
            cr_assert_eq(out, s.empty, "an empty result is the shared one");
        }
        ref_free(rs);
        ref_free(rb);
    }
}

Test(batch, random_against_reference)
{
    random_run(false);
}

Test(batch, random_against_reference_scalar_map)
{
    scalar_maps = true;
    random_run(false);
}

Test(batch, random_against_reference_colliding_keys)
{
    random_run(true);
}

/*
 * Batches interleaved with persistent updates of the same source, a second
 * batch on the same source, and a batch begun from a finished batch's map
 * (nodes carrying a dead id): every version keeps its own contents.
 */
static void
interleave_run(bool tk)
{
    uint64_t seed =
        start_seed(tk ? "interleave (colliding keys)" : "interleave");
    struct space s;
    space_init(&s, tk, &seed);
    struct refmap *rs = ref_new(CAP);
    const struct hamt *src = s.empty;

    for (uint64_t k = 0; k < CAP; k += 2) {
        src = hamt_set(src, s.key[k], V(k + 1));
        ref_set(rs, k, V(k + 1));
    }
    struct refmap *r1 = ref_clone(rs), *r2 = ref_clone(rs), *rp = ref_clone(rs);
    struct hamt_batch *b1 = hamt_batch_begin(src);
    struct hamt_batch *b2 = hamt_batch_begin(src);
    const struct hamt *p = src;
    cr_assert_not_null(b1);
    cr_assert_not_null(b2);
    for (unsigned j = 0; j < 3000; j++) {
        batch_step(&s, b1, r1, CAP, &seed);
        batch_step(&s, b2, r2, CAP, &seed);
        uint64_t x = ref_rand(&seed), k = x % CAP;
        if (x & 256) {
            p = hamt_set(p, s.key[k], V(x % 3 + 7));
            ref_set(rp, k, V(x % 3 + 7));
        } else {
            p = hamt_remove(p, s.key[k]);
            ref_remove(rp, k);
        }
        cr_assert_not_null(p);
    }
    check_batch(&s, b1, r1);
    check_batch(&s, b2, r2);
    const struct hamt *m1 = hamt_batch_finish(b1);
    check_map(&s, m1, r1);
    check_map(&s, p, rp);
    check_map(&s, src, rs);

    /* A batch from m1: m1's nodes carry b1's dead id and must be copied. */
    struct refmap *r3 = ref_clone(r1);
    struct hamt_batch *b3 = hamt_batch_begin(m1);
    cr_assert_not_null(b3);
    for (unsigned j = 0; j < 3000; j++) {
        batch_step(&s, b3, r3, CAP, &seed);
    }
    const struct hamt *m3 = hamt_batch_finish(b3);
    check_map(&s, m3, r3);
    check_map(&s, m1, r1);
    /* Persistent updates of a batch-built map leave it alone too. */
    const struct hamt *q = hamt_set(m1, s.key[1], V(4242));
    cr_assert_not_null(q);
    check_map(&s, m1, r1);
    check_batch(&s, b2, r2);
    check_map(&s, hamt_batch_finish(b2), r2);
    ref_free(rs);
    ref_free(r1);
    ref_free(r2);
    ref_free(r3);
    ref_free(rp);
}

Test(batch, interleaved_with_persistent_updates)
{
    interleave_run(false);
}

Test(batch, interleaved_with_persistent_updates_scalar_map)
{
    scalar_maps = true;
    interleave_run(false);
}

Test(batch, interleaved_with_persistent_updates_colliding_keys)
{
    interleave_run(true);
}

/* Writes in place: a rebinding on an owned path allocates nothing. */
Test(batch, owned_nodes_are_written_in_place)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    for (uint64_t k = 0; k < 5000; k++) {
        m = hamt_set(m, HAMT_U64(k), V(k + 1));
    }
    struct hamt_batch *b = hamt_batch_begin(m);
    cr_assert_not_null(b);
    /* First write copies the path; the second finds it owned. */
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(42), V(1)), 0);
    unsigned long a0 = hamt__alloc_count();
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(42), V(2)), 0);
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(42), V(3)), 0);
    cr_assert_eq(hamt__alloc_count() - a0, 0, "in-place rebinding allocated");
    const struct hamt *out = hamt_batch_finish(b);
    void *v = NULL;
    cr_assert(hamt_get(out, HAMT_U64(42), &v));
    cr_assert_eq(v, V(3));
    cr_assert(hamt_get(m, HAMT_U64(42), &v));
    cr_assert_eq(v, V(43), "the source changed");
}

/* A bulk load through a batch allocates far less than persistent sets. */
Test(batch, bulk_load_allocates_less_than_persistent_sets)
{
    const struct hamt *e = hamt_new(HAMT_KEY_U64), *m = e;
    unsigned long a0 = hamt__alloc_count();
    for (uint64_t k = 0; k < 20000; k++) {
        m = hamt_set(m, HAMT_U64(k), V(k + 1));
    }
    unsigned long persistent = hamt__alloc_count() - a0;
    struct hamt_batch *b = hamt_batch_begin(e);
    a0 = hamt__alloc_count();
    for (uint64_t k = 0; k < 20000; k++) {
        cr_assert_eq(hamt_batch_set(b, HAMT_U64(k), V(k + 1)), 0);
    }
    const struct hamt *bm = hamt_batch_finish(b);
    unsigned long batched = hamt__alloc_count() - a0;
    cr_assert_eq(hamt_equal(m, bm, NULL, NULL), 1);
    cr_assert_eq(hamt__validate(bm), 0);
    /* Persistent: the whole path per set; batch: about one node per set. */
    cr_assert_lt(2 * batched, persistent, "batch %lu vs persistent %lu",
                 batched, persistent);
    cr_assert_leq(batched, 20000 + 20000 / 2, "batch allocated %lu", batched);
}

Test(batch, unchanged_batch_returns_the_source)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(1));
    struct hamt_batch *b = hamt_batch_begin(m);
    unsigned long a0 = hamt__alloc_count();
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(1), V(1)), 0); /* same value */
    cr_assert_eq(hamt_batch_remove(b, HAMT_U64(2)), 0);    /* absent */
    struct ref_upd u = {.act = HAMT_ALTER_KEEP};
    cr_assert_eq(hamt_batch_alter(b, HAMT_U64(1), ref_upd_fn, &u), 0);
    u.act = HAMT_ALTER_REMOVE;
    cr_assert_eq(hamt_batch_alter(b, HAMT_U64(3), ref_upd_fn, &u), 0);
    cr_assert_eq(hamt__alloc_count() - a0, 0);
    cr_assert_eq(hamt_batch_finish(b), m);
}

/* hamt_batch(3): changed and changed back is a new map, equal to the source. */
Test(batch, a_batch_that_changes_a_binding_back_returns_an_equal_new_map)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(1));
    struct hamt_batch *b = hamt_batch_begin(m);

    cr_assert_not_null(b);
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(1), V(2)), 0);
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(1), V(1)), 0);
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(5), V(5)), 0);
    cr_assert_eq(hamt_batch_remove(b, HAMT_U64(5)), 0);
    const struct hamt *r = hamt_batch_finish(b);
    cr_assert_not_null(r);
    cr_assert_neq(r, m);
    cr_assert(hamt_equal(r, m, NULL, NULL));
    cr_assert_eq(hamt__validate(r), 0);
}

Test(batch, emptied_batch_returns_the_shared_empty_map)
{
    const struct hamt *e = hamt_new(HAMT_KEY_U64), *m = e;
    for (uint64_t k = 0; k < 100; k++) {
        m = hamt_set(m, HAMT_U64(k), V(k + 1));
    }
    struct hamt_batch *b = hamt_batch_begin(m);
    for (uint64_t k = 0; k < 100; k++) {
        cr_assert_eq(hamt_batch_remove(b, HAMT_U64(k)), 0);
        cr_assert_eq(hamt_batch_size(b), 99 - k);
    }
    cr_assert_eq(hamt_batch_finish(b), e);
    cr_assert_eq(hamt_size(m), 100);
}

Test(batch, update_functions_keep_replace_remove)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(10));
    struct hamt_batch *b = hamt_batch_begin(m);
    void *v = NULL;
    struct ref_upd u = {.act = HAMT_ALTER_SET, .val = V(11)};

    cr_assert_eq(hamt_batch_alter(b, HAMT_U64(1), ref_upd_fn, &u), 0);
    cr_assert_eq(u.seen_old, V(10));
    cr_assert(u.seen_present);
    cr_assert(hamt_batch_get(b, HAMT_U64(1), &v));
    cr_assert_eq(v, V(11));
    u = (struct ref_upd){.act = HAMT_ALTER_SET, .val = V(20)};
    cr_assert_eq(hamt_batch_alter(b, HAMT_U64(2), ref_upd_fn, &u), 0);
    cr_assert_null(u.seen_old);
    cr_assert_not(u.seen_present);
    cr_assert_eq(hamt_batch_size(b), 2);
    u = (struct ref_upd){.act = HAMT_ALTER_REMOVE};
    cr_assert_eq(hamt_batch_alter(b, HAMT_U64(1), ref_upd_fn, &u), 0);
    cr_assert_not(hamt_batch_get(b, HAMT_U64(1), NULL));
    u = (struct ref_upd){.act = HAMT_ALTER_KEEP};
    cr_assert_eq(hamt_batch_alter(b, HAMT_U64(2), ref_upd_fn, &u), 0);
    cr_assert_eq(u.seen_old, V(20));
    /* An action outside the enum: EINVAL, nothing changes. */
    u = (struct ref_upd){.act = (enum hamt_alter_action)7, .val = V(99)};
    errno = 0;
    cr_assert_eq(hamt_batch_alter(b, HAMT_U64(2), ref_upd_fn, &u), -1);
    cr_assert_eq(errno, EINVAL);
    const struct hamt *out = hamt_batch_finish(b);
    cr_assert_eq(hamt_size(out), 1);
    cr_assert(hamt_get(out, HAMT_U64(2), &v));
    cr_assert_eq(v, V(20));
    cr_assert(hamt_get(m, HAMT_U64(1), &v));
    cr_assert_eq(v, V(10));
}

/* An update function that uses the batch it is called for. */
struct reenter {
    struct hamt_batch *b;
    int what; /* 0 finish, 1 discard, 2 set key 7 */
    const struct hamt *finished;
};

static enum hamt_alter_action
reenter_fn(void *old, bool present, void **nv, void *ctx)
{
    struct reenter *r = ctx;

    (void)old;
    (void)present;
    if (r->what == 0) {
        r->finished = hamt_batch_finish(r->b);
    } else if (r->what == 1) {
        hamt_batch_discard(r->b);
    } else {
        cr_assert_eq(hamt_batch_set(r->b, HAMT_U64(7), V(70)), 0);
    }
    *nv = V(99);
    /* what 3: a result outside hamt_alter_action after the set. */
    return r->what == 3 ? (enum hamt_alter_action)7 : HAMT_ALTER_SET;
}

/*
 * The function may use its batch: a finish or discard inside it refuses
 * the update (EINVAL) and leaves the finished map alone; a set inside it
 * stays, and the update applies on top of it, or stays alone when the
 * update fails.
 */
Test(batch, update_function_that_uses_its_batch)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(10));
    struct reenter r = {.what = 0};
    void *v = NULL;

    for (r.what = 0; r.what < 2; r.what++) {
        r.b = hamt_batch_begin(m);
        cr_assert_eq(hamt_batch_set(r.b, HAMT_U64(2), V(20)), 0);
        errno = 0;
        cr_assert_eq(hamt_batch_alter(r.b, HAMT_U64(1), reenter_fn, &r), -1);
        cr_assert_eq(errno, EINVAL);
        cr_assert_eq(hamt_batch_size(r.b), 0);
        if (r.what == 0) {
            /* The map finished inside fn is the batch as fn found it. */
            cr_assert_eq(hamt_size(r.finished), 2);
            cr_assert(hamt_get(r.finished, HAMT_U64(1), &v));
            cr_assert_eq(v, V(10));
            cr_assert(hamt_get(r.finished, HAMT_U64(2), &v));
            cr_assert_eq(v, V(20));
        }
    }
    r.what = 2;
    r.b = hamt_batch_begin(m);
    cr_assert_eq(hamt_batch_alter(r.b, HAMT_U64(1), reenter_fn, &r), 0);
    const struct hamt *out = hamt_batch_finish(r.b);
    cr_assert_eq(hamt_size(out), 2);
    cr_assert(hamt_get(out, HAMT_U64(1), &v));
    cr_assert_eq(v, V(99));
    cr_assert(hamt_get(out, HAMT_U64(7), &v));
    cr_assert_eq(v, V(70));
    cr_assert_eq(hamt_size(m), 1);
    cr_assert(hamt_get(m, HAMT_U64(1), &v));
    cr_assert_eq(v, V(10));
    /* A failed call keeps what fn did to the batch, not its own action. */
    r.what = 3;
    r.b = hamt_batch_begin(m);
    errno = 0;
    cr_assert_eq(hamt_batch_alter(r.b, HAMT_U64(1), reenter_fn, &r), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert(hamt_batch_get(r.b, HAMT_U64(7), &v));
    cr_assert_eq(v, V(70));
    cr_assert(hamt_batch_get(r.b, HAMT_U64(1), &v));
    cr_assert_eq(v, V(10));
    hamt_batch_discard(r.b);
}

static enum hamt_alter_action
never_called(void *old, bool present, void **nv, void *ctx)
{
    (void)old;
    (void)present;
    (void)nv;
    *(int *)ctx += 1;
    return HAMT_ALTER_SET;
}

/*
 * After finish or discard: EINVAL from every update and from finish,
 * nothing changes; the queries read the ended batch as empty, quietly.
 */
Test(batch, use_after_finish_fails_with_einval)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), V(1));
    struct hamt_batch *b = hamt_batch_begin(m);
    cr_assert_eq(hamt_batch_set(b, HAMT_U64(2), V(2)), 0);
    const struct hamt *out = hamt_batch_finish(b);
    cr_assert_eq(hamt_size(out), 2);

    struct hamt_batch *d = hamt_batch_begin(m);
    cr_assert_eq(hamt_batch_set(d, HAMT_U64(3), V(3)), 0);
    hamt_batch_discard(d);
    hamt_batch_discard(d); /* twice: a no-op */

    struct hamt_batch *ended[] = {b, d, NULL};
    for (unsigned i = 0; i < 3; i++) {
        struct hamt_batch *x = ended[i];
        int calls = 0;
        errno = 0;
        cr_assert_eq(hamt_batch_set(x, HAMT_U64(9), V(9)), -1);
        cr_assert_eq(errno, EINVAL);
        errno = 0;
        cr_assert_eq(hamt_batch_remove(x, HAMT_U64(1)), -1);
        cr_assert_eq(errno, EINVAL);
        errno = 0;
        cr_assert_eq(hamt_batch_alter(x, HAMT_U64(1), never_called, &calls),
                     -1);
        cr_assert_eq(errno, EINVAL);
        cr_assert_eq(calls, 0);
        errno = 12345;
        cr_assert_not(hamt_batch_get(x, HAMT_U64(1), NULL));
        cr_assert_eq(hamt_batch_size(x), 0);
        cr_assert_eq(errno, 12345, "a query never touches errno");
        errno = 0;
        cr_assert_null(hamt_batch_finish(x));
        cr_assert_eq(errno, EINVAL);
        hamt_batch_discard(x);
    }
    cr_assert_eq(hamt_size(out), 2);
    cr_assert_eq(hamt__validate(out), 0);
    cr_assert_eq(hamt_size(m), 1);
}

Test(batch, bad_arguments_fail_with_einval)
{
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    errno = 0;
    cr_assert_null(hamt_batch_begin(NULL));
    cr_assert_eq(errno, EINVAL);
    struct hamt_batch *b = hamt_batch_begin(s);
    cr_assert_not_null(b);
    errno = 0;
    cr_assert_eq(hamt_batch_set(b, NULL, V(1)), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_batch_remove(b, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 12345;
    cr_assert_not(hamt_batch_get(b, NULL, NULL));
    cr_assert_eq(errno, 12345, "a query never touches errno");
    errno = 0;
    cr_assert_eq(hamt_batch_alter(b, "k", NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    /* The batch still works and owns its string keys. */
    char buf[8] = "key";
    cr_assert_eq(hamt_batch_set(b, buf, V(5)), 0);
    buf[0] = 'X';
    cr_assert(hamt_batch_get(b, "key", NULL));
    cr_assert_not(hamt_batch_get(b, buf, NULL));
    const struct hamt *out = hamt_batch_finish(b);
    cr_assert(hamt_get(out, "key", NULL));
    cr_assert_eq(hamt_size(s), 0);
}

/*
 * Every allocation of a batch update failing in turn, on paths the batch
 * owns and on paths it does not yet: -1 with ENOMEM, the batch exactly as
 * before, and the same update succeeding afterwards.
 */
static void
oom_run(bool tk)
{
    uint64_t seed = start_seed(tk ? "oom (colliding keys)" : "oom");
    struct space s;
    space_init(&s, tk, &seed);
    struct refmap *r = ref_new(CAP);
    const struct hamt *src = s.empty;
    for (uint64_t k = 0; k < CAP; k += 3) {
        src = hamt_set(src, s.key[k], V(k + 1));
        ref_set(r, k, V(k + 1));
    }
    struct hamt_batch *b = hamt_batch_begin(src);
    unsigned failures = 0;
    for (unsigned j = 0; j < 1000; j++) {
        uint64_t x = ref_rand(&seed), k = (x >> 8) % CAP;
        bool del = x % 3 == 0;
        for (unsigned n = 1;; n++) {
            bool persistent = (x >> 4) & 1;
            hamt__fail_after(n, persistent);
            errno = 0;
            int rc = del ? hamt_batch_remove(b, s.key[k])
                         : hamt_batch_set(b, s.key[k], V(x % 9 + 1));
            hamt__fail_after(0, false);
            if (rc >= 0) {
                break;
            }
            failures++;
            cr_assert_eq(errno, ENOMEM, "failure %u: errno %d", n, errno);
            cr_assert_lt(n, 64, "never succeeds");
            if (j % 25 == 0) {
                check_batch(&s, b, r); /* unchanged by the failure */
            }
        }
        if (del) {
            ref_remove(r, k);
        } else {
            ref_set(r, k, V(x % 9 + 1));
        }
    }
    check_batch(&s, b, r);
    check_map(&s, hamt_batch_finish(b), r);
    cr_assert_gt(failures, 100, "too few failure points tried: %u", failures);
    ref_free(r);
}

Test(batch, every_allocation_failing_leaves_the_batch_unchanged)
{
    oom_run(false);
}

Test(batch, every_allocation_failing_scalar_map)
{
    scalar_maps = true;
    oom_run(false);
}

Test(batch, every_allocation_failing_colliding_keys)
{
    oom_run(true);
}

/* Begin itself failing. */
Test(batch, begin_out_of_memory)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    hamt__fail_after(1, false);
    errno = 0;
    struct hamt_batch *b = hamt_batch_begin(m);
    hamt__fail_after(0, false);
    cr_assert_null(b);
    cr_assert_eq(errno, ENOMEM);
    cr_assert_not_null(hamt_batch_begin(m));
}

/* hamt_batch_set_many: the same as the loop of hamt_batch_set calls. */
static void
set_many_run(bool tk)
{
    uint64_t seed = start_seed(tk ? "set_many (colliding keys)" : "set_many");
    struct space s;
    space_init(&s, tk, &seed);
    for (unsigned round = 0; round < 30; round++) {
        struct refmap *r = ref_new(CAP);
        const struct hamt *src = s.empty;
        for (uint64_t k = 0; k < CAP; k += 1 + ref_rand(&seed) % 4) {
            src = hamt_set(src, s.key[k], V(k + 1));
            ref_set(r, k, V(k + 1));
        }
        struct hamt_batch *b = hamt_batch_begin(src);
        size_t n = (size_t)(ref_rand(&seed) % (2 * CAP)), done = 12345;
        const void **keys = calloc(n + 1, sizeof *keys);
        void **vals = calloc(n + 1, sizeof *vals);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = ref_rand(&seed) % CAP;
            keys[i] = s.key[k];
            vals[i] = V(ref_rand(&seed) % 7 + 1);
            ref_set(r, k, vals[i]); /* later pairs win, in order */
        }
        cr_assert_eq(hamt_batch_set_many(b, n, keys, vals, &done), 0);
        cr_assert_eq(done, n);
        check_batch(&s, b, r);
        check_map(&s, hamt_batch_finish(b), r);
        free(keys);
        free(vals);
        ref_free(r);
    }
}

Test(batch, set_many_against_reference)
{
    set_many_run(false);
}

Test(batch, set_many_against_reference_scalar_map)
{
    scalar_maps = true;
    set_many_run(false);
}

Test(batch, set_many_against_reference_colliding_keys)
{
    set_many_run(true);
}

Test(batch, set_many_bad_arguments_change_nothing)
{
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    struct hamt_batch *b = hamt_batch_begin(s);
    const void *keys[3] = {"a", NULL, "c"};
    void *vals[3] = {V(1), V(2), V(3)};
    size_t done = 99;

    errno = 0;
    cr_assert_eq(hamt_batch_set_many(b, 3, keys, vals, &done), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(done, 0);
    cr_assert_eq(hamt_batch_size(b), 0, "a pair before the bad key was set");
    errno = 0;
    cr_assert_eq(hamt_batch_set_many(b, 1, NULL, vals, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt_batch_set_many(b, 1, keys, NULL, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hamt_batch_set_many(b, 0, NULL, NULL, &done), 0);
    cr_assert_eq(done, 0);
    errno = 0;
    cr_assert_eq(hamt_batch_set_many(NULL, 1, keys, vals, NULL), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_not_null(hamt_batch_finish(b));
    errno = 0;
    cr_assert_eq(hamt_batch_set_many(b, 1, keys, vals, &done), -1);
    cr_assert_eq(errno, EINVAL);
}

/* ENOMEM part way: exactly the first *done pairs are applied. */
Test(batch, set_many_out_of_memory_applies_a_prefix)
{
    enum { N = 300 };
    const void *keys[N];
    void *vals[N];
    for (unsigned i = 0; i < N; i++) {
        keys[i] = HAMT_U64(i * 31);
        vals[i] = V(i + 1);
    }
    for (unsigned long fail = 1; fail < 200; fail += 7) {
        struct hamt_batch *b = hamt_batch_begin(hamt_new(HAMT_KEY_U64));
        size_t done = 0;
        hamt__fail_after(fail, true);
        errno = 0;
        int rc = hamt_batch_set_many(b, N, keys, vals, &done);
        hamt__fail_after(0, false);
        if (rc == 0) {
            cr_assert_eq(done, N);
            continue;
        }
        cr_assert_eq(errno, ENOMEM);
        cr_assert_lt(done, N);
        cr_assert_eq(hamt_batch_size(b), done);
        for (unsigned i = 0; i < N; i++) {
            cr_assert_eq(hamt_batch_get(b, keys[i], NULL), i < done,
                         "key %u, done %zu", i, done);
        }
        /* The rest can still be applied. */
        cr_assert_eq(
            hamt_batch_set_many(b, N - done, keys + done, vals + done, NULL),
            0);
        const struct hamt *m = hamt_batch_finish(b);
        cr_assert_eq(hamt_size(m), N);
        cr_assert_eq(hamt__validate(m), 0);
    }
}

/*
 * A change of shape in a node the batch owns happens in place whenever the
 * new shape fits the node's block, exactly filling it included
 * (hamt__nd_change_in_place): here a level-1 node of one entry and one
 * child (8 + 16 + 8 bytes and the 7-byte tail: a 48-byte block) takes the
 * key pulled up from its child and becomes two entries (8 + 32 + 7 = 47
 * bytes, all the block offers).
 */
#ifndef HAMT_NO_GC
/* The sizes here are the collector's (16-byte granules, one extra byte);
 * malloc's usable sizes leave other room. */
Test(batch, a_change_of_shape_that_exactly_fits_is_made_in_place)
{
    /* Level 0: all at fragment 1.  Level 1: A at fragment 1, B and C below
     * fragment 2 (fragments 0 and 1 at level 2). */
    uint64_t h[3] = {1 | (1 << 5), 1 | (2 << 5), 1 | (2 << 5) | (1 << 10)};
    const struct hamt *m = tk_map(3, h);

    cr_assert_str_eq(tk_shape(m), "R{N{k0,N{k1,k2}}}");
    struct hamt_batch *b = hamt_batch_begin(m);
    cr_assert_not_null(b);
    /* Owns the root and the level-1 node (an exact copy: no spare room). */
    cr_assert_eq(hamt_batch_set(b, tk_key(0, h[0]), V(99)), 0);
    unsigned long a0 = hamt__alloc_count();
    cr_assert_eq(hamt_batch_remove(b, tk_key(1, h[1])), 0);
    cr_assert_eq(hamt__alloc_count() - a0, 0,
                 "the level-1 node was rebuilt, not changed in place");
    const struct hamt *out = hamt_batch_finish(b);
    cr_assert_str_eq(tk_shape(out), "R{N{k0,k2}}");
    cr_assert_eq(hamt__validate(out), 0);
    cr_assert_str_eq(tk_shape(m), "R{N{k0,N{k1,k2}}}");
}
#endif

/* The pair subtree a batch builds when two keys meet is its own: a later
 * rebinding inside it is written in place. */
Test(batch, a_pair_subtree_built_by_the_batch_is_owned)
{
    uint64_t h[2] = {1 | (1 << 5), 1 | (2 << 5)};
    const struct hamt *m = tk_map(1, h);
    struct hamt_batch *b = hamt_batch_begin(m);

    cr_assert_not_null(b);
    cr_assert_eq(hamt_batch_set(b, tk_key(1, h[1]), V(5)), 0);
    cr_assert_str_eq(tk_shape(hamt__batch_peek(b)), "R{N{k0,k1}}");
    unsigned long a0 = hamt__alloc_count();
    cr_assert_eq(hamt_batch_set(b, tk_key(1, h[1]), V(6)), 0);
    cr_assert_eq(hamt_batch_set(b, tk_key(0, h[0]), V(7)), 0);
    cr_assert_eq(hamt__alloc_count() - a0, 0,
                 "a rebinding in the batch's own pair node allocated");
    const struct hamt *out = hamt_batch_finish(b);
    void *v = NULL;
    cr_assert(hamt_get(out, tk_key(1, h[1]), &v));
    cr_assert_eq(v, V(6));
    cr_assert_eq(hamt__validate(out), 0);
}

/*
 * Removing from a collision node (keys of one full hash, no compare) inside
 * a batch keeps the order of the other keys, as hamt_remove() does: the
 * batch's map is the one the same operations give one by one, down to the
 * order of iteration.
 */
Test(batch, a_removal_from_a_collision_node_keeps_the_persistent_order)
{
    const struct tk *k[5];
    const struct hamt *p = tk_empty();
    struct hamt_batch *b = hamt_batch_begin(tk_empty());

    cr_assert_not_null(b);
    for (int i = 0; i < 5; i++) {
        k[i] = tk_key((uint64_t)i, 42); /* one full hash */
        p = hamt_set(p, k[i], V(i));
        cr_assert_eq(hamt_batch_set(b, k[i], V(i)), 0);
    }
    for (int i = 0; i < 4; i += 2) {
        p = hamt_remove(p, k[i]);
        cr_assert_eq(hamt_batch_remove(b, k[i]), 0);
    }
    const struct hamt *mb = hamt_batch_finish(b);
    cr_assert(hamt_equal(mb, p, NULL, NULL));
    char *shape = strdup(tk_shape(mb)); /* tk_shape's buffer is reused */
    cr_assert_not_null(shape);
    cr_assert_str_eq(shape, tk_shape(p));
    free(shape);
    cr_assert_eq(hamt__validate(mb), 0);
}

/*
 * Key callbacks (hash, equal) that use the batch whose operation called
 * them.  Such a callback runs between the lookup and the in-place writes of
 * the operation, which hold the batch's nodes and id: a callback that
 * finished the batch made the set dereference a NULL map (a crash) or the
 * remove change the map already handed out; one that set a key had its
 * change lost or the outer call write into a node it had freed.  Now every
 * call that would change or end the batch fails with EBUSY (a discard is
 * put off until the operation returns), and reads are allowed.
 */
static struct {
    struct hamt_batch *b;
    int what;       /* 0 nothing, 1 finish, 2 discard, 3 set, 4 get */
    bool in_equal;  /* act in equal instead of hash */
    int rc, err;    /* of the callback's own call */
    const struct hamt *finished;
    bool got;
    void *got_val;
    unsigned hashes; /* calls of cbk_hash */
} cbk;

static void
cbk_act(void)
{
    int what = cbk.what;

    cbk.what = 0; /* once */
    errno = 0;
    switch (what) {
    case 1:
        cbk.finished = hamt_batch_finish(cbk.b);
        cbk.rc = cbk.finished != NULL ? 0 : -1;
        break;
    case 2:
        hamt_batch_discard(cbk.b);
        cbk.rc = 0;
        break;
    case 3:
        cbk.rc = hamt_batch_set(cbk.b, HAMT_U64(1000003), V(7));
        break;
    case 4:
        cbk.got = hamt_batch_get(cbk.b, (const void *)(uintptr_t)7,
                                 &cbk.got_val);
        cbk.rc = 0;
        break;
    default:
        return;
    }
    cbk.err = errno;
}

static uint64_t
cbk_hash(const void *k, void *ctx)
{
    (void)ctx;
    cbk.hashes++;
    if (!cbk.in_equal) {
        cbk_act();
    }
    return (uint64_t)(uintptr_t)k * UINT64_C(0x9e3779b97f4a7c15);
}

static bool
cbk_equal(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    if (cbk.in_equal) {
        cbk_act();
    }
    return a == b;
}

/* A batch over keys 1..200 of the callback key type, 1..100 rebound. */
static const struct hamt *
cbk_batch(bool fresh)
{
    struct hamt_key_type kt = {
        .size = sizeof kt, .hash = cbk_hash, .equal = cbk_equal};
    const struct hamt *m = hamt_new_custom(&kt);

    cr_assert_not_null(m);
    cbk.what = 0;
    for (uintptr_t i = 1; i <= 200; i++) {
        m = hamt_set(m, (const void *)i, V(i));
    }
    cbk.b = hamt_batch_begin(m);
    for (uintptr_t i = 1; !fresh && i <= 100; i++) {
        cr_assert_eq(hamt_batch_set(cbk.b, (const void *)i, V(i + 1)), 0);
    }
    cbk.finished = NULL;
    cbk.rc = 99;
    cbk.err = 0;
    return m;
}

static enum hamt_alter_action
set_999(void *old, bool present, void **nv, void *ctx)
{
    (void)old;
    (void)present;
    (void)ctx;
    *nv = V(999);
    return HAMT_ALTER_SET;
}

/* op 0: set key 50 to 999; 1: remove key 50; 2: alter; 3: set_many. */
static int
cbk_op(int op)
{
    static const void *keys[] = {(const void *)(uintptr_t)50};
    static void *const vals[] = {V(999)};

    switch (op) {
    case 0:
        return hamt_batch_set(cbk.b, (const void *)(uintptr_t)50, V(999));
    case 1:
        return hamt_batch_remove(cbk.b, (const void *)(uintptr_t)50);
    case 2:
        return hamt_batch_alter(cbk.b, (const void *)(uintptr_t)50, set_999,
                                NULL);
    default:
        return hamt_batch_set_many(cbk.b, 1, keys, vals, NULL);
    }
}

Test(batch, a_key_callback_cannot_end_its_batch)
{
    for (int op = 0; op < 4; op++) {
        for (int eq = 0; eq < 2; eq++) {
            void *v = NULL;

            cbk_batch(false);
            cbk.in_equal = eq;
            cbk.what = 1;
            cr_assert_eq(cbk_op(op), 0, "op %d", op);
            cr_assert_eq(cbk.rc, -1, "op %d: finish from a callback", op);
            cr_assert_eq(cbk.err, EBUSY);
            cr_assert_null(cbk.finished);
            /* The operation took effect; the batch is live and whole. */
            if (op == 1) {
                cr_assert_not(hamt_batch_get(cbk.b, (const void *)50, NULL));
                cr_assert_eq(hamt_batch_size(cbk.b), 199);
            } else {
                cr_assert(hamt_batch_get(cbk.b, (const void *)50, &v));
                cr_assert_eq(v, V(999), "op %d", op);
                cr_assert_eq(hamt_batch_size(cbk.b), 200);
            }
            const struct hamt *out = hamt_batch_finish(cbk.b);
            cr_assert_not_null(out);
            cr_assert_eq(hamt__validate(out), 0);
        }
    }
}

Test(batch, a_discard_from_a_key_callback_ends_the_batch_afterwards)
{
    for (int op = 0; op < 4; op++) {
        const struct hamt *m = cbk_batch(false);
        void *v = NULL;

        cbk.what = 2;
        errno = 0;
        cr_assert_eq(cbk_op(op), -1, "op %d", op);
        cr_assert_eq(errno, EINVAL, "op %d", op);
        cr_assert_eq(hamt_batch_size(cbk.b), 0);
        errno = 0;
        cr_assert_null(hamt_batch_finish(cbk.b));
        cr_assert_eq(errno, EINVAL);
        cr_assert(hamt_get(m, (const void *)50, &v));
        cr_assert_eq(v, V(50), "the source is untouched");
    }
}

/*
 * A discard from a key callback of hamt_batch_set_many: the call used to
 * go on hashing and editing every later group of the doomed batch, and
 * stored the pairs it went through in *done, where hamt_batch(3) says 0.
 * It now stops within the group it was in.
 */
Test(batch, a_set_many_whose_callback_discards_stops_and_reports_none)
{
    const void *keys[4 * HAMT_GET_GROUP];
    void *vals[4 * HAMT_GET_GROUP];
    const size_t n = sizeof keys / sizeof keys[0];
    size_t done = 99;
    const struct hamt *m = cbk_batch(false);

    for (size_t i = 0; i < n; i++) {
        keys[i] = (const void *)(uintptr_t)(1001 + i);
        vals[i] = V(i + 1);
    }
    cbk.hashes = 0;
    cbk.what = 2;
    errno = 0;
    cr_assert_eq(hamt_batch_set_many(cbk.b, n, keys, vals, &done), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(done, 0, "done %zu", done);
    cr_assert_leq(cbk.hashes, HAMT_GET_GROUP, "later groups were hashed");
    cr_assert_eq(hamt_batch_size(cbk.b), 0);
    cr_assert_null(hamt_batch_finish(cbk.b));
    cr_assert_not(hamt_contains(m, keys[0]), "the source is untouched");
}

/* A query whose callback discards still answers; the batch ends after. */
Test(batch, a_get_whose_callback_discards_answers_then_ends_the_batch)
{
    void *v = NULL;

    cbk_batch(false);
    cbk.what = 2;
    errno = 0;
    cr_assert(hamt_batch_get(cbk.b, (const void *)(uintptr_t)7, &v));
    cr_assert_eq(v, V(8));
    cr_assert_eq(errno, 0, "a query leaves errno alone");
    cr_assert_eq(hamt_batch_size(cbk.b), 0);
    errno = 0;
    cr_assert_null(hamt_batch_finish(cbk.b));
    cr_assert_eq(errno, EINVAL);
}

/* The map a callback finished must not change afterwards (remove). */
Test(batch, a_map_finished_by_a_key_callback_is_not_written)
{
    for (int eq = 0; eq < 2; eq++) {
        cbk_batch(false);
        cbk.in_equal = eq;
        cbk.what = 1;
        cr_assert_eq(hamt_batch_remove(cbk.b, (const void *)50), 0);
        cr_assert_null(cbk.finished, "finish refused (EBUSY)");
        cr_assert_eq(hamt_batch_size(cbk.b), 199);
        hamt_batch_discard(cbk.b);
    }
}

Test(batch, a_set_from_a_key_callback_is_refused_not_lost)
{
    for (int fresh = 0; fresh < 2; fresh++) {
        for (int op = 0; op < 4; op++) {
            cbk_batch(fresh);
            cbk.in_equal = true;
            cbk.what = 3;
            cr_assert_eq(cbk_op(op), 0);
            cr_assert_eq(cbk.rc, -1, "fresh %d op %d", fresh, op);
            cr_assert_eq(cbk.err, EBUSY);
            cr_assert_not(hamt_batch_get(cbk.b, HAMT_U64(1000003), NULL));
            /* Outside any callback the same call works. */
            cr_assert_eq(hamt_batch_set(cbk.b, HAMT_U64(1000003), V(7)), 0);
            const struct hamt *out = hamt_batch_finish(cbk.b);
            cr_assert_eq(hamt__validate(out), 0);
            cr_assert_eq(hamt_size(out), op == 1 ? 200 : 201);
        }
    }
}

Test(batch, a_key_callback_may_read_its_batch)
{
    for (int op = 0; op < 4; op++) {
        cbk_batch(false);
        cbk.in_equal = true;
        cbk.what = 4;
        cbk.got = false;
        cr_assert_eq(cbk_op(op), 0);
        cr_assert(cbk.got, "op %d", op);
        cr_assert_eq(cbk.got_val, V(8));
        hamt_batch_discard(cbk.b);
    }
}
