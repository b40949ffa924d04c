/*
 * ops.c - whole-map operations: update with a function, structural diff,
 * and the set algebra (merge, intersect, difference).
 *
 * Purpose.  These operations are built on the persistent core (map.c) and
 * the node encoding (node.h); nothing uses them back.  The public entry
 * points live here too (argument checks, then the algorithm), because the
 * module is self-contained.
 *
 * Layout walked (see node.c and internal.h):
 *
 *   map block:   [kt | size][datamap | nodemap | k0 v0 .. kE-1 vE-1 | c0 ..]
 *   child at shift 5..60: struct node, same layout without the header
 *   child at shift 65:    struct cnode [count | unused | k0 v0 ..]
 *
 * Invariants relied on:
 *   - N3 (canonical shape): a fragment with one key holds it inline, so at
 *     the same bit two versions may hold an entry in one and a child in the
 *     other only when the subtree sizes differ; diff handles that case by
 *     comparing the inline entry against every key of the subtree.
 *   - N5 (immutability): a node reachable from a map is never written, so
 *     two versions that hold the same node pointer hold the same keys and
 *     values below it, and diff skips it without looking inside.
 *   - The identity rule of map.c: an edit that sets a binding already
 *     present or removes an absent key leaves its map pointer as it was
 *     and allocates nothing.  update, merge, intersect and difference get
 *     "return the input when nothing changed" from it for free.
 *
 * Function families:
 *   ops_walk_*    visit every entry of a subtree (counts nodes visited)
 *   ops_diff_*    structural diff, skipping shared subtrees
 *   ops_fast_*    the set algebra of close versions through a diff walk
 *   ops_fold_*    set algebra by folding the smaller map into the other
 *   hamt_*        the public entry points
 *
 * Complexity.  update: two root-to-leaf walks (lookup, then set or del).
 * diff: O(d * depth) nodes for d differences plus the size of the subtrees
 * whose shape changed (entry against child), and never a shared subtree.
 * merge / intersect / difference: O(min(|a|, |b|) * log32 max(|a|, |b|))
 * lookups and path copies; each result shares every untouched subtree of
 * the map it was folded into.  Merge and intersect with a NULL conflict
 * function, and difference, first try a diff walk (ops_fast): for two
 * versions that share most subtrees they cost O(d * depth) for d
 * differences; the walk gives up and falls back to folding once it has
 * done about min(|a|, |b|) steps.  Merge and intersect with a conflict
 * function (which must see every common key, shared or not) always fold.
 *
 * Errors: a failed allocation leaves partial results unreachable (the
 * collector reclaims them) and the inputs untouched.
 */
#include "node.h"

/* ---- walking a subtree ---- */

typedef int (*ops_entry_fn)(const void *key, void *val, void *ctx);

/*
 * Calls fn for every entry of the subtree `p` rooted at `shift` (a cnode at
 * the collision shift); stops at and returns fn's first non-zero value.
 */
static int
ops_walk_sub(const void *p, unsigned shift, ops_entry_fn fn, void *ctx)
{
    int rc;

    hamt__nodes_visited++;
    if (nd_is_collision_shift(shift)) {
        const struct cnode *c = p;
        for (uint32_t i = 0; i < c->count; i++) {
            rc = fn(c->slots[2 * i], c->slots[2 * i + 1], ctx);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    const struct node *n = p;
    unsigned ne = nd_nentries(n), nc = nd_nchildren(n);
    for (unsigned i = 0; i < ne; i++) {
        rc = fn(nd_key(n, i), nd_val(n, i), ctx);
        if (rc != 0) {
            return rc;
        }
    }
    for (unsigned j = 0; j < nc; j++) {
        rc = ops_walk_sub(n->slots[2 * ne + j], shift + HAMT_BITS, fn, ctx);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- update ---- */

enum hamt_update_action
hamt__update_decide(const struct hamt *m, const void *key,
                    hamt_update_value_fn fn, void *ctx, void **nv)
{
    void *old = NULL;
    bool present = hamt__get(m, key, &old);

    if (!present) {
        old = NULL;
    }
    *nv = NULL;
    return fn(old, present, nv, ctx);
}

int
hamt__update_apply(struct hamt **pm, uint64_t owner, const void *key,
                   enum hamt_update_action act, void *nv)
{
    switch (act) {
    case HAMT_KEEP:
        return 0;
    case HAMT_REPLACE:
        /* The identity rule: the same value changes nothing, allocates
         * nothing. */
        return hamt__edit_set(pm, owner, key, nv) < 0 ? -1 : 0;
    case HAMT_REMOVE:
        return hamt__edit_del(pm, owner, key) < 0 ? -1 : 0;
    }
    errno = EINVAL; /* fn returned no hamt_update_action */
    return -1;
}

const struct hamt *
hamt_update_key(const struct hamt *m, const void *key,
                hamt_update_value_fn fn, void *ctx)
{
    struct hamt *r = (struct hamt *)(uintptr_t)m; /* replaced on a change */

    if (m == NULL || fn == NULL || !hamt__key_valid(m->kt, key)) {
        errno = EINVAL;
        return NULL;
    }
    void *nv;
    enum hamt_update_action act = hamt__update_decide(m, key, fn, ctx, &nv);

    return hamt__update_apply(&r, 0, key, act, nv) < 0 ? NULL : r;
}

/* ---- diff ---- */

struct diff_ctx {
    const struct hamt__kt *kt;
    hamt_valeq_fn veq;
    hamt_diff_fn fn;
    void *ctx;
    /* The inline entry compared against a subtree (ops_diff_entry_in_*). */
    const void *ek;
    void *ev;
    bool found;
    /*
     * When not 0, the walk gives up with OPS_OVER_BUDGET once
     * hamt__nodes_visited passes it (the set algebra's fast path).
     */
    unsigned long limit;
};

/* A diff walk that exceeded dc->limit; hamt_diff() never sets a limit. */
#define OPS_OVER_BUDGET (-2)

static bool
ops_diff_same(const struct diff_ctx *dc, void *a, void *b)
{
    return a == b || (dc->veq != NULL && dc->veq(a, b, dc->ctx));
}

/* Reports a key present in both maps, if its values differ. */
static int
ops_diff_pair(struct diff_ctx *dc, const void *kb, void *va, void *vb)
{
    if (ops_diff_same(dc, va, vb)) {
        return 0;
    }
    return dc->fn(kb, va, vb, HAMT_DIFF_CHANGED, dc->ctx);
}

static int
ops_diff_added(const void *key, void *val, void *ctx)
{
    struct diff_ctx *dc = ctx;

    return dc->fn(key, NULL, val, HAMT_DIFF_ADDED, dc->ctx);
}

static int
ops_diff_removed(const void *key, void *val, void *ctx)
{
    struct diff_ctx *dc = ctx;

    return dc->fn(key, val, NULL, HAMT_DIFF_REMOVED, dc->ctx);
}

/* Entry (dc->ek, dc->ev) of a against one key of b's subtree. */
static int
ops_diff_entry_in_b(const void *kb, void *vb, void *ctx)
{
    struct diff_ctx *dc = ctx;

    if (!dc->found && hamt__key_eq(dc->kt, kb, dc->ek)) {
        dc->found = true;
        return ops_diff_pair(dc, kb, dc->ev, vb);
    }
    return dc->fn(kb, NULL, vb, HAMT_DIFF_ADDED, dc->ctx);
}

/* One key of a's subtree against entry (dc->ek, dc->ev) of b. */
static int
ops_diff_entry_in_a(const void *ka, void *va, void *ctx)
{
    struct diff_ctx *dc = ctx;

    if (!dc->found && hamt__key_eq(dc->kt, ka, dc->ek)) {
        dc->found = true;
        return ops_diff_pair(dc, dc->ek, va, dc->ev);
    }
    return dc->fn(ka, va, NULL, HAMT_DIFF_REMOVED, dc->ctx);
}

/* Two collision nodes (same full hash, unordered distinct keys, N4). */
static int
ops_diff_cnode(struct diff_ctx *dc, const struct cnode *a,
               const struct cnode *b)
{
    int rc;

    hamt__nodes_visited++;
    if (a == b) {
        return 0;
    }
    for (uint32_t i = 0; i < a->count; i++) {
        uint32_t j;
        for (j = 0; j < b->count; j++) {
            if (hamt__key_eq(dc->kt, b->slots[2 * j], a->slots[2 * i])) {
                break;
            }
        }
        rc = j == b->count
                 ? dc->fn(a->slots[2 * i], a->slots[2 * i + 1], NULL,
                          HAMT_DIFF_REMOVED, dc->ctx)
                 : ops_diff_pair(dc, b->slots[2 * j], a->slots[2 * i + 1],
                                 b->slots[2 * j + 1]);
        if (rc != 0) {
            return rc;
        }
    }
    for (uint32_t j = 0; j < b->count; j++) {
        uint32_t i;
        for (i = 0; i < a->count; i++) {
            if (hamt__key_eq(dc->kt, a->slots[2 * i], b->slots[2 * j])) {
                break;
            }
        }
        if (i == a->count) {
            rc = dc->fn(b->slots[2 * j], NULL, b->slots[2 * j + 1],
                        HAMT_DIFF_ADDED, dc->ctx);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/*
 * Diffs node `a` against node `b`, both at `shift` and covering the same
 * hash prefix.  Shared subtrees (same pointer) are skipped.
 */
static int
ops_diff_node(struct diff_ctx *dc, const struct node *a, const struct node *b,
              unsigned shift)
{
    unsigned cshift = shift + HAMT_BITS;
    uint32_t all = a->datamap | a->nodemap | b->datamap | b->nodemap;
    int rc = 0;

    hamt__nodes_visited++;
    if (dc->limit != 0 && hamt__nodes_visited > dc->limit) {
        return OPS_OVER_BUDGET;
    }
    if (a == b) {
        return 0;
    }
    while (all != 0 && rc == 0) {
        uint32_t bit = all & -all;
        all &= all - 1;
        if (a->datamap & bit) {
            unsigned i = nd_entry_index(a, bit);
            const void *ka = nd_key(a, i);
            void *va = nd_val(a, i);
            if (b->datamap & bit) {
                unsigned j = nd_entry_index(b, bit);
                const void *kb = nd_key(b, j);
                void *vb = nd_val(b, j);
                if (hamt__key_eq(dc->kt, kb, ka)) {
                    rc = ops_diff_pair(dc, kb, va, vb);
                } else {
                    rc = dc->fn(ka, va, NULL, HAMT_DIFF_REMOVED, dc->ctx);
                    if (rc == 0) {
                        rc = dc->fn(kb, NULL, vb, HAMT_DIFF_ADDED, dc->ctx);
                    }
                }
            } else if (b->nodemap & bit) {
                dc->ek = ka;
                dc->ev = va;
                dc->found = false;
                rc = ops_walk_sub(nd_child(b, bit), cshift,
                                  ops_diff_entry_in_b, dc);
                if (rc == 0 && !dc->found) {
                    rc = dc->fn(ka, va, NULL, HAMT_DIFF_REMOVED, dc->ctx);
                }
            } else {
                rc = dc->fn(ka, va, NULL, HAMT_DIFF_REMOVED, dc->ctx);
            }
        } else if (a->nodemap & bit) {
            const void *ca = nd_child(a, bit);
            if (b->nodemap & bit) {
                const void *cb = nd_child(b, bit);
                if (ca == cb) {
                    continue; /* N5: a shared subtree has no difference. */
                }
                rc = nd_is_collision_shift(cshift)
                         ? ops_diff_cnode(dc, ca, cb)
                         : ops_diff_node(dc, ca, cb, cshift);
            } else if (b->datamap & bit) {
                unsigned j = nd_entry_index(b, bit);
                dc->ek = nd_key(b, j);
                dc->ev = nd_val(b, j);
                dc->found = false;
                rc = ops_walk_sub(ca, cshift, ops_diff_entry_in_a, dc);
                if (rc == 0 && !dc->found) {
                    rc = dc->fn(nd_key(b, j), NULL, nd_val(b, j),
                                HAMT_DIFF_ADDED, dc->ctx);
                }
            } else {
                rc = ops_walk_sub(ca, cshift, ops_diff_removed, dc);
            }
        } else if (b->datamap & bit) {
            unsigned j = nd_entry_index(b, bit);
            rc = dc->fn(nd_key(b, j), NULL, nd_val(b, j), HAMT_DIFF_ADDED,
                        dc->ctx);
        } else {
            /* The bit is in `all`, so b holds a child here. */
            rc = ops_walk_sub(nd_child(b, bit), cshift, ops_diff_added, dc);
        }
    }
    return rc;
}

int
hamt_diff(const struct hamt *a, const struct hamt *b, hamt_valeq_fn veq,
          hamt_diff_fn fn, void *ctx)
{
    struct diff_ctx dc = {.veq = veq, .fn = fn, .ctx = ctx};

    if (a == NULL || b == NULL || fn == NULL || a->kt != b->kt) {
        errno = EINVAL;
        return -1;
    }
    dc.kt = a->kt;
    if (a == b) {
        hamt__nodes_visited++;
        return 0;
    }
    return ops_diff_node(&dc, hamt__root(a), hamt__root(b), 0);
}

/* ---- merge, intersect, difference ---- */

/* The result of a conflict decision: the value to bind, or drop. */
static int
ops_fold_decide(hamt_conflict_fn fn, void *ctx, const void *key, void *va,
                void *vb, void **out, bool *drop)
{
    void *combined = NULL;

    *drop = false;
    if (fn == NULL) {
        *out = va;
        return 0;
    }
    switch (fn(key, va, vb, &combined, ctx)) {
    case HAMT_KEEP_LEFT:
        *out = va;
        return 0;
    case HAMT_KEEP_RIGHT:
        *out = vb;
        return 0;
    case HAMT_COMBINE:
        *out = combined;
        return 0;
    case HAMT_DROP:
        *drop = true;
        return 0;
    }
    errno = EINVAL;
    return -1;
}

/*
 * The result of a set operation under construction.  Its updates are edits
 * of one private owner id (hamt__owner_new), like a batch's: a node the
 * operation already copied is written in place by the next update that
 * reaches it, instead of being copied again, and a node it replaced is
 * freed at once.  The owned nodes are reachable from `m` alone until the
 * operation returns it, after which nobody holds the id any more.  An
 * update that changes nothing leaves `m` as it was, so `m` stays an input
 * when the result equals it.
 */
struct ops_out {
    struct hamt *m;
    uint64_t owner; /* 0 once ids ran out: plain path copying */
};

static void
ops_out_init(struct ops_out *o, const struct hamt *start)
{
    o->m = (struct hamt *)(uintptr_t)start; /* written only once owned */
    o->owner = hamt__owner_new();
}

/* False with errno = ENOMEM; o->m is then still a valid map. */
static bool
ops_out_set(struct ops_out *o, const void *key, void *val)
{
    return hamt__edit_set(&o->m, o->owner, key, val) >= 0;
}

static bool
ops_out_del(struct ops_out *o, const void *key)
{
    return hamt__edit_del(&o->m, o->owner, key) >= 0;
}

/* The finished result (the shared empty map when no key is left). */
static const struct hamt *
ops_out_done(const struct ops_out *o)
{
    return o->m->size == 0 ? o->m->kt->empty : o->m;
}

/*
 * Returns r, or the input equal to it binding for binding (by value
 * identity), so that a result equal to an input is that input.
 */
static const struct hamt *
ops_fold_identity(const struct hamt *r, const struct hamt *a,
                  const struct hamt *b)
{
    if (r == NULL || r == a || r == b) {
        return r;
    }
    if (hamt__equal(r, a, NULL, NULL) == 1) {
        return a;
    }
    if (hamt__equal(r, b, NULL, NULL) == 1) {
        return b;
    }
    return r;
}

/*
 * The fast path of merge and intersect with a NULL conflict function (keep
 * a's value), and of difference: the result is `a` plus the keys only in b
 * (merge), `a` minus the keys only in a (intersect), or just the keys only
 * in a (difference), so only the differences matter.  A diff walk finds
 * them, skipping every subtree a and b share, and each one is applied by
 * path copying to r, which starts as a (merge, intersect) or as the empty
 * map (difference).  When a and b share little, the walk would cost more
 * than folding, so it gives up once the nodes visited plus the differences
 * applied exceed the size of the smaller map.
 */
enum fast_op { FAST_MERGE, FAST_INTERSECT, FAST_DIFFERENCE };

struct fast_ctx {
    struct ops_out r;
    enum fast_op op;
    unsigned long limit; /* on hamt__nodes_visited + applied */
    unsigned long applied;
};

static int
ops_fast_apply(const void *key, void *old_val, void *new_val,
               enum hamt_diff_kind kind, void *ctx)
{
    struct fast_ctx *fc = ctx;

    if (hamt__nodes_visited + ++fc->applied > fc->limit) {
        return OPS_OVER_BUDGET;
    }
    bool ok = true;

    if (fc->op == FAST_MERGE && kind == HAMT_DIFF_ADDED) {
        ok = ops_out_set(&fc->r, key, new_val);
    } else if (fc->op == FAST_INTERSECT && kind == HAMT_DIFF_REMOVED) {
        ok = ops_out_del(&fc->r, key);
    } else if (fc->op == FAST_DIFFERENCE && kind == HAMT_DIFF_REMOVED) {
        ok = ops_out_set(&fc->r, key, old_val);
    }
    return ok ? 0 : 1; /* 1: errno = ENOMEM */
}

/*
 * Returns 1 with *out set (the result, or NULL with errno = ENOMEM), or 0
 * when the maps share too little for the fast path.
 */
static int
ops_fast(const struct hamt *a, const struct hamt *b, enum fast_op op,
         const struct hamt **out)
{
    size_t budget = a->size < b->size ? a->size : b->size;
    struct fast_ctx fc = {.op = op};
    struct diff_ctx dc = {.kt = a->kt, .fn = ops_fast_apply, .ctx = &fc};
    int rc;

    ops_out_init(&fc.r, op == FAST_DIFFERENCE ? a->kt->empty : a);
    fc.limit = hamt__nodes_visited + budget + 16;
    dc.limit = fc.limit;
    rc = ops_diff_node(&dc, hamt__root(a), hamt__root(b), 0);
    if (rc == OPS_OVER_BUDGET) {
        return 0;
    }
    *out = rc == 0 ? ops_out_done(&fc.r) : NULL;
    return 1;
}

/*
 * Merge or intersect by folding the smaller input over the other.
 *
 * Merge: r starts as the larger map and gets one set or del (ops_out)
 * per key of the smaller that changes it.  Intersect: r starts as the
 * smaller map; a key of it that the other map lacks is removed.  In both, a
 * shared key gets the decided value.  Unchanged bindings cost no allocation
 * (identity rule), so r stays an input when nothing changes, and every
 * subtree of r that no key of the smaller map reaches is shared.
 */
static const struct hamt *
ops_fold(const struct hamt *a, const struct hamt *b, hamt_conflict_fn fn,
         void *ctx, bool intersect)
{
    bool a_small = intersect ? a->size <= b->size : a->size < b->size;
    const struct hamt *small = a_small ? a : b, *big = a_small ? b : a;
    struct ops_out r;
    struct hamt_iter it;
    const void *k;
    void *vs;

    ops_out_init(&r, intersect ? small : big);
    hamt__iter_init(&it, small);
    while (hamt__iter_next(&it, &k, &vs)) {
        void *vbig, *out;
        bool drop, ok;
        if (!hamt__get(big, k, &vbig)) {
            ok = intersect ? ops_out_del(&r, k) : ops_out_set(&r, k, vs);
        } else {
            void *va = a_small ? vs : vbig, *vb = a_small ? vbig : vs;
            if (ops_fold_decide(fn, ctx, k, va, vb, &out, &drop) != 0) {
                return NULL;
            }
            ok = drop ? ops_out_del(&r, k) : ops_out_set(&r, k, out);
        }
        if (!ok) {
            return NULL; /* errno = ENOMEM; partial work is garbage */
        }
    }
    return ops_fold_identity(ops_out_done(&r), a, b);
}

static bool
ops_args_ok(const struct hamt *a, const struct hamt *b)
{
    if (a == NULL || b == NULL || a->kt != b->kt) {
        errno = EINVAL;
        return false;
    }
    return true;
}

const struct hamt *
hamt_merge(const struct hamt *a, const struct hamt *b, hamt_conflict_fn fn,
           void *ctx)
{
    const struct hamt *r;

    if (!ops_args_ok(a, b)) {
        return NULL;
    }
    if (fn == NULL && ops_fast(a, b, FAST_MERGE, &r)) {
        return ops_fold_identity(r, a, b);
    }
    return ops_fold(a, b, fn, ctx, false);
}

const struct hamt *
hamt_intersect(const struct hamt *a, const struct hamt *b,
               hamt_conflict_fn fn, void *ctx)
{
    const struct hamt *r;

    if (!ops_args_ok(a, b)) {
        return NULL;
    }
    if (fn == NULL && ops_fast(a, b, FAST_INTERSECT, &r)) {
        return ops_fold_identity(r, a, b);
    }
    return ops_fold(a, b, fn, ctx, true);
}

const struct hamt *
hamt_difference(const struct hamt *a, const struct hamt *b)
{
    const struct hamt *r;
    struct ops_out o;
    struct hamt_iter it;
    const void *k;

    if (!ops_args_ok(a, b)) {
        return NULL;
    }
    if (a == b) {
        return a->kt->empty;
    }
    if (ops_fast(a, b, FAST_DIFFERENCE, &r)) {
        return ops_fold_identity(r, a, b);
    }
    ops_out_init(&o, a);
    if (b->size <= a->size) {
        /* Remove each key of b from a; absent keys cost nothing. */
        hamt__iter_init(&it, b);
        while (hamt__iter_next(&it, &k, NULL)) {
            if (!ops_out_del(&o, k)) {
                return NULL;
            }
        }
        return ops_out_done(&o);
    }
    hamt__iter_init(&it, a);
    while (hamt__iter_next(&it, &k, NULL)) {
        if (hamt__get(b, k, NULL) && !ops_out_del(&o, k)) {
            return NULL;
        }
    }
    return ops_out_done(&o);
}
