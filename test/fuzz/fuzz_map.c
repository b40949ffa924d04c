/*
 * fuzz_map.c - differential libFuzzer target for the persistent map.
 *
 * The input is decoded into a sequence of operations (set, del, get,
 * get_many, iterate, keep a version, switch to a kept version, compare two
 * versions with hamt_equal and hamt_diff, merge, merge with a combining
 * function, intersect and difference either way round, update with a
 * function, and batches of set, del, set_many, get and update finished or
 * discarded) which are applied both to
 * libhamt and to a trivial reference (an array indexed by key number).  The
 * first mismatch aborts, and so does any kept version that changed or fails
 * hamt__validate().
 *
 * Byte 0 chooses the key type: u64 keys (keyed default hash), the same
 * keys in a map of scalar values (hamt_new_scalar), or a custom
 * key type whose hash keeps only a few bits of a mixed key number, chosen
 * from a table of masks, so that full collisions, long shared prefixes
 * (deepest paths) and collision nodes happen all the time; each mask comes
 * twice, without an order (collision nodes) and with one (collision trees).
 *
 * Built with clang -fsanitize=fuzzer,address,undefined and the collector
 * off (HAMT_NO_GC): test/fuzz/run-fuzz.sh compiles the library sources
 * directly, with gc.c's malloc/calloc/free routed to fuzz_malloc/
 * fuzz_calloc/fuzz_free below, which record every block allocated while an
 * input runs and free them all when it ends (fuzz_free frees at once the
 * blocks the library gives back itself: batch nodes replaced inside their
 * batch, so ASan sees any later use of them).  That keeps memory bounded over millions of runs,
 * and lets ASan catch any use of a map from an earlier input.  Everything
 * allocated before the first input (the empty maps, the custom key types)
 * stays for good.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hamt.h"
#include "internal.h"
#include "../support/mix.h"

#define NKEYS 64
#define NSLOTS 8
#define MAXOPS 4096

/* ---- allocation tracking (gc.c is compiled with malloc -> fuzz_malloc) */

static void **blocks;
static size_t nblocks, capblocks;
static bool tracking;

static void
track(void *p)
{
    if (p == NULL || !tracking) {
        return;
    }
    if (nblocks == capblocks) {
        capblocks = capblocks ? 2 * capblocks : 4096;
        blocks = realloc(blocks, capblocks * sizeof *blocks);
        if (blocks == NULL) {
            abort();
        }
    }
    blocks[nblocks++] = p;
}

void *fuzz_malloc(size_t n);
void *fuzz_calloc(size_t k, size_t n);
void fuzz_free(void *p);

/* A block the library frees itself: forget it, then free it now. */
void
fuzz_free(void *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = nblocks; i-- > 0;) { /* recent blocks first */
        if (blocks[i] == p) {
            blocks[i] = blocks[--nblocks];
            break;
        }
    }
    free(p);
}

void *
fuzz_malloc(size_t n)
{
    void *p = malloc(n);

    track(p);
    return p;
}

void *
fuzz_calloc(size_t k, size_t n)
{
    void *p = calloc(k, n);

    track(p);
    return p;
}

static void
release_all(void)
{
    for (size_t i = 0; i < nblocks; i++) {
        free(blocks[i]);
    }
    nblocks = 0;
}

/* ---- keys ---- */

struct fk {
    uint32_t id;
};

static struct fk fkeys[NKEYS];

static const uint64_t masks[] = {
    0,                                    /* every key collides */
    0x3,                                  /* 4 hashes, at the root */
    0xf000000000000000ull,                /* 16 hashes, deepest level */
    0xc000000000000001ull,                /* mixed: root and bottom */
    0x8000000000000000ull | (1ull << 31), /* two deep bits */
    0x1full << 30,                        /* one middle level */
    0xffffffffffffffffull,                /* full hash */
    0x00000000000000ffull,                /* two shallow levels */
};
#define NMASKS (sizeof masks / sizeof masks[0])

static uint64_t
fk_hash(const void *key, void *ctx)
{
    const struct fk *k = key;

    return mix64(k->id + 1) & *(const uint64_t *)ctx;
}

static bool
fk_equal(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return ((const struct fk *)a)->id == ((const struct fk *)b)->id;
}

/* The order of the ordered key types: collision trees (lib/ctree.c). */
static int
fk_compare(const void *a, const void *b, void *ctx)
{
    uint32_t x = ((const struct fk *)a)->id, y = ((const struct fk *)b)->id;

    (void)ctx;
    return (x > y) - (x < y);
}

/* The empty maps: one u64 map, then one custom map per mask without an
 * order (collision nodes), then one per mask with one (collision trees),
 * then one u64 map of scalar values (hamt_new_scalar), whose childless
 * nodes take the leaf allocation path (hamt__alloc_leaf) wherever a node
 * is made. */
#define NKINDS (2 + 2 * NMASKS)
#define KIND_SCALAR (NKINDS - 1)
static const struct hamt *empties[NKINDS];
static int kind; /* index into empties */

/* Whether the current kind's keys are u64 numbers (not struct fk). */
static bool
kind_u64(void)
{
    return kind == 0 || kind == KIND_SCALAR;
}

static const void *
key_of(unsigned i)
{
    if (kind_u64()) {
        return HAMT_U64((uint64_t)i * 0x9e3779b97f4a7c15ull);
    }
    return &fkeys[i];
}

static unsigned
index_of(const void *key)
{
    if (kind_u64()) {
        for (unsigned i = 0; i < NKEYS; i++) {
            if (key_of(i) == key) {
                return i;
            }
        }
        return NKEYS;
    }
    const struct fk *k = key;
    if (k < fkeys || k >= fkeys + NKEYS) {
        return NKEYS;
    }
    return (unsigned)(k - fkeys);
}

/* ---- reference ---- */

struct ref {
    bool has[NKEYS];
    uintptr_t val[NKEYS];
    size_t size;
};

struct version {
    const struct hamt *m;
    struct ref r;
};

static unsigned long long total_ops, total_inputs, scalar_inputs;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_map: mismatch at %s:%d: %s\n", __FILE__,     \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Full comparison of a map with its reference, and the validator. */
static void
check_full(const struct hamt *m, const struct ref *r)
{
    bool seen[NKEYS] = {false};
    struct hamt_iter it;
    const void *k;
    void *v;
    size_t n = 0;

    CHECK(hamt__validate(m) == 0);
    CHECK(hamt_size(m) == r->size);
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &k, &v)) {
        unsigned i = index_of(k);
        CHECK(i < NKEYS);
        CHECK(!seen[i]);
        seen[i] = true;
        CHECK(r->has[i]);
        CHECK((uintptr_t)v == r->val[i]);
        n++;
    }
    CHECK(n == r->size);
    for (unsigned i = 0; i < NKEYS; i++) {
        void *got = (void *)1;
        bool f = hamt_get(m, key_of(i), &got);
        CHECK(f == r->has[i]);
        if (f) {
            CHECK((uintptr_t)got == r->val[i]);
        }
    }
}

static bool
ref_equal(const struct ref *a, const struct ref *b)
{
    for (unsigned i = 0; i < NKEYS; i++) {
        if (a->has[i] != b->has[i] || (a->has[i] && a->val[i] != b->val[i])) {
            return false;
        }
    }
    return true;
}

struct diffctx {
    const struct ref *a, *b;
    bool seen[NKEYS];
    size_t n;
};

static int
diff_cb(const void *key, void *old_val, void *new_val, enum hamt_diff_kind dk,
        void *ctx)
{
    struct diffctx *d = ctx;
    unsigned i = index_of(key);

    CHECK(i < NKEYS);
    CHECK(!d->seen[i]);
    d->seen[i] = true;
    d->n++;
    switch (dk) {
    case HAMT_DIFF_ADDED:
        CHECK(!d->a->has[i] && d->b->has[i]);
        CHECK(old_val == NULL && (uintptr_t)new_val == d->b->val[i]);
        break;
    case HAMT_DIFF_REMOVED:
        CHECK(d->a->has[i] && !d->b->has[i]);
        CHECK(new_val == NULL && (uintptr_t)old_val == d->a->val[i]);
        break;
    case HAMT_DIFF_CHANGED:
        CHECK(d->a->has[i] && d->b->has[i]);
        CHECK(d->a->val[i] != d->b->val[i]);
        CHECK((uintptr_t)old_val == d->a->val[i]);
        CHECK((uintptr_t)new_val == d->b->val[i]);
        break;
    default:
        CHECK(0);
    }
    return 0;
}

static void
check_diff(const struct version *a, const struct version *b)
{
    struct diffctx d = {.a = &a->r, .b = &b->r};
    size_t want = 0;

    CHECK(hamt_diff(a->m, b->m, NULL, diff_cb, &d) == 0);
    for (unsigned i = 0; i < NKEYS; i++) {
        if (a->r.has[i] != b->r.has[i]
            || (a->r.has[i] && a->r.val[i] != b->r.val[i])) {
            want++;
        }
    }
    CHECK(d.n == want);
}

struct upd {
    enum hamt_alter_action act;
    uintptr_t val;
    bool seen_present;
};

static enum hamt_alter_action
upd_fn(void *old, bool present, void **nv, void *ctx)
{
    struct upd *u = ctx;

    (void)old;
    u->seen_present = present;
    *nv = (void *)u->val;
    return u->act;
}

static enum hamt_conflict_action
sum_conflict(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key;
    (void)ctx;
    *out = (void *)((uintptr_t)va + (uintptr_t)vb);
    return HAMT_CONFLICT_COMBINE;
}

/* Whether two references bind the same keys to the same values. */
static bool
ref_same(const struct ref *x, const struct ref *y)
{
    for (unsigned i = 0; i < NKEYS; i++) {
        if (x->has[i] != y->has[i] || (x->has[i] && x->val[i] != y->val[i])) {
            return false;
        }
    }
    return true;
}

/*
 * A set operation of a and b into out: 0 merge (a wins), 1 merge combining
 * values (sum), 2 intersect (a's values), 3 difference.  A result equal to
 * an input must be that input.
 */
static void
do_setop(unsigned op, const struct version *a, const struct version *b,
         struct version *out)
{
    const struct hamt *m = op == 0 ? hamt_merge(a->m, b->m, NULL, NULL)
                           : op == 1
                               ? hamt_merge(a->m, b->m, sum_conflict, NULL)
                           : op == 2 ? hamt_intersect(a->m, b->m, NULL, NULL)
                                     : hamt_subtract(a->m, b->m);

    CHECK(m != NULL);
    memset(&out->r, 0, sizeof out->r);
    for (unsigned i = 0; i < NKEYS; i++) {
        bool ha = a->r.has[i], hb = b->r.has[i];
        uintptr_t va = a->r.val[i], vb = b->r.val[i];
        bool has = op <= 1 ? ha || hb : op == 2 ? ha && hb : ha && !hb;
        if (has) {
            out->r.has[i] = true;
            out->r.val[i] = op == 1 && ha && hb ? va + vb : ha ? va : vb;
            out->r.size++;
        }
    }
    out->m = m;
    check_full(m, &out->r);
    CHECK((m == a->m || m == b->m)
          == (ref_same(&out->r, &a->r) || ref_same(&out->r, &b->r)));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
report(void)
{
    fprintf(stderr,
            "fuzz_map: %llu inputs, %llu operations (%llu inputs on a scalar "
            "map)\n",
            total_inputs, total_ops, scalar_inputs);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (unsigned i = 0; i < NKEYS; i++) {
        fkeys[i].id = i;
    }
    if (hamt_init() != 0) {
        abort();
    }
    empties[0] = hamt_new(HAMT_KEY_U64);
    for (unsigned i = 0; i < 2 * NMASKS; i++) {
        struct hamt_key_type kt = {
            .size = sizeof kt,
            .hash = fk_hash,
            .equal = fk_equal,
            .ctx = (void *)(uintptr_t)&masks[i % NMASKS],
            .compare = i < NMASKS ? NULL : fk_compare,
        };
        empties[1 + i] = hamt_new_custom(&kt);
    }
    empties[KIND_SCALAR] = hamt_new_scalar(HAMT_KEY_U64);
    for (unsigned i = 0; i < NKINDS; i++) {
        if (empties[i] == NULL) {
            abort();
        }
    }
    atexit(report);
    tracking = true;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct version slot[NSLOTS];
    struct version cur;
    size_t pos = 1, nops = 0;

    if (size == 0) {
        return 0;
    }
    total_inputs++;
    kind = data[0] % NKINDS;
    scalar_inputs += kind == KIND_SCALAR;
    memset(&cur, 0, sizeof cur);
    cur.m = empties[kind];
    for (unsigned s = 0; s < NSLOTS; s++) {
        slot[s] = cur;
    }
#define NEXT() (pos < size ? data[pos++] : 0)
    while (pos < size && nops < MAXOPS) {
        uint8_t op = NEXT();
        nops++;
        switch (op % 12) {
        case 0:
        case 1: { /* set */
            unsigned i = NEXT() % NKEYS;
            uintptr_t v = NEXT() % 8;
            const struct hamt *m = hamt_set(cur.m, key_of(i), (void *)v);
            CHECK(m != NULL);
            if (cur.r.has[i] && cur.r.val[i] == v) {
                CHECK(m == cur.m);
            } else {
                CHECK(m != cur.m);
                cur.r.size += !cur.r.has[i];
                cur.r.has[i] = true;
                cur.r.val[i] = v;
            }
            cur.m = m;
            CHECK(hamt__validate(m) == 0);
            CHECK(hamt_size(m) == cur.r.size);
            break;
        }
        case 2: { /* del */
            unsigned i = NEXT() % NKEYS;
            const struct hamt *m = hamt_remove(cur.m, key_of(i));
            CHECK(m != NULL);
            if (!cur.r.has[i]) {
                CHECK(m == cur.m);
            } else {
                CHECK(m != cur.m);
                cur.r.has[i] = false;
                cur.r.size--;
            }
            if (cur.r.size == 0) {
                CHECK(m == empties[kind]);
            }
            cur.m = m;
            CHECK(hamt__validate(m) == 0);
            CHECK(hamt_size(m) == cur.r.size);
            break;
        }
        case 3: { /* get */
            unsigned i = NEXT() % NKEYS;
            void *v = (void *)0x55;
            bool f = hamt_get(cur.m, key_of(i), &v);
            CHECK(f == cur.r.has[i]);
            CHECK(f ? (uintptr_t)v == cur.r.val[i] : v == (void *)0x55);
            CHECK(hamt_contains(cur.m, key_of(i)) == f);
            break;
        }
        case 4: /* iterate, look up everything, validate */
            check_full(cur.m, &cur.r);
            break;
        case 5: /* keep the current version */
            slot[NEXT() % NSLOTS] = cur;
            break;
        case 6: /* continue from a kept version, after checking it */
            cur = slot[NEXT() % NSLOTS];
            check_full(cur.m, &cur.r);
            break;
        case 7: { /* compare with a kept version */
            struct version *o = &slot[NEXT() % NSLOTS];
            bool eq = hamt_equal(cur.m, o->m, NULL, NULL);
            CHECK(eq == ref_equal(&cur.r, &o->r));
            CHECK(hamt_equal(o->m, cur.m, NULL, NULL) == eq);
            check_diff(o, &cur);
            check_diff(&cur, o);
            break;
        }
        case 8: { /* get_many */
            unsigned n = NEXT() % 12;
            const void *keys[12];
            void *vals[12];
            bool found[12];
            unsigned idx[12];
            size_t want = 0;
            for (unsigned j = 0; j < n; j++) {
                idx[j] = NEXT() % NKEYS;
                keys[j] = key_of(idx[j]);
                vals[j] = (void *)0x55;
                want += cur.r.has[idx[j]];
            }
            CHECK(hamt_get_many(cur.m, n, keys, vals, found) == want);
            for (unsigned j = 0; j < n; j++) {
                CHECK(found[j] == cur.r.has[idx[j]]);
                CHECK(found[j] ? (uintptr_t)vals[j] == cur.r.val[idx[j]]
                               : vals[j] == (void *)0x55);
            }
            break;
        }
        case 10: { /* a batch of edits on the current version */
            struct version old = cur;
            struct hamt_batch *b = hamt_batch_begin(cur.m);
            CHECK(b != NULL);
            unsigned nb = NEXT() % 48;
            for (unsigned j = 0; j < nb; j++) {
                uint8_t bop = NEXT();
                unsigned i = NEXT() % NKEYS;
                uintptr_t v = NEXT() % 8;
                void *got = (void *)0x55;
                switch (bop % 6) {
                case 0:
                case 1:
                    CHECK(hamt_batch_set(b, key_of(i), (void *)v) == 0);
                    CHECK(hamt_batch_size(b) == cur.r.size + !cur.r.has[i]);
                    cur.r.size += !cur.r.has[i];
                    cur.r.has[i] = true;
                    cur.r.val[i] = v;
                    break;
                case 2:
                    CHECK(hamt_batch_remove(b, key_of(i)) == 0);
                    CHECK(hamt_batch_size(b) == cur.r.size - cur.r.has[i]);
                    cur.r.size -= cur.r.has[i];
                    cur.r.has[i] = false;
                    break;
                case 3:
                    CHECK(hamt_batch_get(b, key_of(i), &got) == cur.r.has[i]);
                    CHECK(cur.r.has[i] ? (uintptr_t)got == cur.r.val[i]
                                       : got == (void *)0x55);
                    break;
                case 4: { /* set_many of up to 8 pairs, from key i on */
                    const void *ks[8];
                    void *vs[8];
                    unsigned n = v + 1;
                    size_t done = 0;
                    for (unsigned t = 0; t < n; t++) {
                        unsigned x = (i + t * 7) % NKEYS;
                        ks[t] = key_of(x);
                        vs[t] = (void *)(uintptr_t)((v + t) % 8);
                        cur.r.size += !cur.r.has[x];
                        cur.r.has[x] = true;
                        cur.r.val[x] = (v + t) % 8;
                    }
                    CHECK(hamt_batch_set_many(b, n, ks, vs, &done) == 0);
                    CHECK(done == n);
                    break;
                }
                case 5: { /* update with a function: keep, replace, remove */
                    struct upd u = {.act = (bop / 8) % 3, .val = v};
                    CHECK(hamt_batch_alter(b, key_of(i), upd_fn, &u) == 0);
                    CHECK(u.seen_present == cur.r.has[i]);
                    if (u.act == HAMT_ALTER_SET) {
                        cur.r.size += !cur.r.has[i];
                        cur.r.has[i] = true;
                        cur.r.val[i] = v;
                    } else if (u.act == HAMT_ALTER_REMOVE && cur.r.has[i]) {
                        cur.r.has[i] = false;
                        cur.r.size--;
                    }
                    break;
                }
                }
                CHECK(hamt_batch_size(b) == cur.r.size);
                CHECK(hamt__validate(hamt__batch_peek(b)) == 0);
            }
            if (NEXT() % 4 == 0) {
                hamt_batch_discard(b);
                cur = old;
            } else {
                cur.m = hamt_batch_finish(b);
                CHECK(cur.m != NULL);
                if (cur.r.size == 0) {
                    CHECK(cur.m == empties[kind]);
                }
                check_full(cur.m, &cur.r);
            }
            CHECK(hamt_batch_set(b, key_of(0), NULL) == -1);
            CHECK(hamt_batch_finish(b) == NULL);
            check_full(old.m, &old.r); /* the source never changes */
            break;
        }
        case 9: { /* a set operation with a kept version, either side */
            struct version *o = &slot[NEXT() % NSLOTS];
            uint8_t how = NEXT();
            struct version r;
            if (how & 4) {
                do_setop(how % 4, o, &cur, &r);
            } else {
                do_setop(how % 4, &cur, o, &r);
            }
            cur = r;
            break;
        }
        case 11: { /* update with a function: keep, replace or remove */
            unsigned i = NEXT() % NKEYS;
            /* Two statements: the order in which an initialiser list
             * evaluates its expressions is unspecified, and the corpus must
             * decode the same way under every compiler. */
            enum hamt_alter_action act = (enum hamt_alter_action)(NEXT() % 3);
            uintptr_t val = NEXT() % 8;
            struct upd u = {.act = act, .val = val};
            const struct hamt *m = hamt_alter(cur.m, key_of(i), upd_fn, &u);
            CHECK(m != NULL);
            CHECK(u.seen_present == cur.r.has[i]);
            if (u.act == HAMT_ALTER_SET) {
                cur.r.size += !cur.r.has[i];
                cur.r.has[i] = true;
                cur.r.val[i] = u.val;
            } else if (u.act == HAMT_ALTER_REMOVE && cur.r.has[i]) {
                cur.r.has[i] = false;
                cur.r.size--;
            }
            cur.m = m;
            CHECK(hamt__validate(m) == 0);
            CHECK(hamt_size(m) == cur.r.size);
            break;
        }
        }
    }
#undef NEXT
    total_ops += nops;
    /* Every kept version must be unchanged. */
    check_full(cur.m, &cur.r);
    for (unsigned s = 0; s < NSLOTS; s++) {
        check_full(slot[s].m, &slot[s].r);
    }
    memset(slot, 0, sizeof slot);
    release_all();
    return 0;
}
