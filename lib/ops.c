/*
 * ops.c - whole-map operations: update with a function, structural diff,
 * and the set algebra (merge, intersect, subtract).
 *
 * Purpose.  These operations are built on the persistent core (map.c) and
 * the node encoding (node.h); of them, only alter's second step
 * (hamt__alter_apply) is used back, by batch.c, which looks the key up
 * itself so that its key callbacks run apart from fn.  Their public
 * entry points live here, argument checks first, then the algorithm (the
 * rule is in internal.h).
 *
 * Layout walked: node.c's drawing.  The map block's root and every child
 * down to shift 60 are bitmap nodes; a child at shift 65 is a collision
 * node.
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
 *     and allocates nothing; update gets "return the input when nothing
 *     changed" from it.  The set algebra gets it from canonical shape: a
 *     result node whose every fragment is what an input's node holds there
 *     is that node (sa_node), so a result equal to an input is the input.
 *
 * Function families:
 *   ops_walk_*    visit every entry of a subtree
 *   alter_decide, hamt__alter_apply  alter in two steps; apply shared with
 *                 batch.c
 *   ops_diff_*    structural diff, skipping shared subtrees
 *   sa_*          the set algebra: a walk over both maps at once that takes
 *                 every subtree only one map holds, or both share, whole
 *   hamt_*        the public entry points
 * (In the test build every walk also counts the nodes it visits,
 * HAMT_COUNT_VISIT(), so that tests can check what a walk skipped.)
 *
 * Complexity.  update: two root-to-leaf walks (lookup, then set or remove).
 * diff: O(d * depth) nodes for d differences plus the size of the subtrees
 * whose shape changed (entry against child), and never a shared subtree.
 * merge / intersect / subtract: the nodes where the two maps hold
 * different things, O(min(|a|, |b|) * depth) at most and O(d * depth) for
 * two versions that differ in d keys, plus counting the smaller of two
 * groups of whole subtrees for the result's size (sa_shared_keys).  With a
 * conflict function, merge and intersect also walk the subtrees the maps
 * share, since the function must see every common key.
 *
 * Errors: a failed allocation leaves partial results unreachable (the
 * collector reclaims them) and the inputs untouched.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

#include "ctree.h"

/* ---- walking a subtree ---- */

typedef int (*ops_entry_fn)(const void *key, void *val, void *ctx);

/*
 * Calls fn for every entry of the subtree `p` rooted at `shift` (a cnode at
 * the collision shift); stops at and returns fn's first non-zero value.
 */
static int
ops_walk_sub(const struct hamt__kt *kt, const void *p, unsigned shift,
             ops_entry_fn fn, void *ctx)
{
    int rc;

    HAMT_COUNT_VISIT();
    if (nd_is_collision_shift(shift) && ct_ordered(kt)) {
        return hamt__ct_walk(p, fn, ctx);
    }
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
        rc = ops_walk_sub(kt, n->slots[2 * ne + j], shift + HAMT_BITS, fn, ctx);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- update ---- */

/* fn's action for `key` in m, the value to bind in *nv. */
static enum hamt_alter_action
alter_decide(const struct hamt *m, const void *key, hamt_alter_fn fn,
             void *ctx, void **nv)
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
hamt__alter_apply(struct hamt **pm, uint64_t owner, const void *key,
                  enum hamt_alter_action act, void *nv)
{
    switch (act) {
    case HAMT_ALTER_KEEP:
        return 0;
    case HAMT_ALTER_SET:
        /* The identity rule: the same value changes nothing, allocates
         * nothing. */
        return hamt__edit_set(pm, owner, key, nv) < 0 ? -1 : 0;
    case HAMT_ALTER_REMOVE:
        return hamt__edit_remove(pm, owner, key) < 0 ? -1 : 0;
    }
    errno = EINVAL; /* fn returned no hamt_alter_action */
    return -1;
}

const struct hamt *
hamt_alter(const struct hamt *m, const void *key, hamt_alter_fn fn, void *ctx)
{
    struct hamt *r = (struct hamt *)(uintptr_t)m; /* replaced on a change */

    if (m == NULL || fn == NULL || !hamt__key_valid(m->kt, key)) {
        errno = EINVAL;
        return NULL;
    }
    void *nv;
    enum hamt_alter_action act = alter_decide(m, key, fn, ctx, &nv);

    return hamt__alter_apply(&r, 0, key, act, nv) < 0 ? NULL : r;
}

/* ---- diff ---- */

struct diff_ctx {
    const struct hamt__kt *kt;
    hamt_value_equal_fn veq;
    hamt_diff_fn fn;
    void *ctx;
    /* The inline entry compared against a subtree (ops_diff_entry_in_*). */
    const void *ek;
    void *ev;
    bool found;
};

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

    HAMT_COUNT_VISIT();
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

    HAMT_COUNT_VISIT();
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
                rc = ops_walk_sub(dc->kt, nd_child(b, bit), cshift,
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
                rc = !nd_is_collision_shift(cshift)
                         ? ops_diff_node(dc, ca, cb, cshift)
                     : ct_ordered(dc->kt) ? hamt__ct_diff(
                           dc->kt, ca, cb, dc->veq, dc->ctx, dc->fn, dc->ctx)
                                          : ops_diff_cnode(dc, ca, cb);
            } else if (b->datamap & bit) {
                unsigned j = nd_entry_index(b, bit);
                dc->ek = nd_key(b, j);
                dc->ev = nd_val(b, j);
                dc->found = false;
                rc = ops_walk_sub(dc->kt, ca, cshift, ops_diff_entry_in_a, dc);
                if (rc == 0 && !dc->found) {
                    rc = dc->fn(nd_key(b, j), NULL, nd_val(b, j),
                                HAMT_DIFF_ADDED, dc->ctx);
                }
            } else {
                rc = ops_walk_sub(dc->kt, ca, cshift, ops_diff_removed, dc);
            }
        } else if (b->datamap & bit) {
            unsigned j = nd_entry_index(b, bit);
            rc = dc->fn(nd_key(b, j), NULL, nd_val(b, j), HAMT_DIFF_ADDED,
                        dc->ctx);
        } else {
            /* The bit is in `all`, so b holds a child here. */
            rc = ops_walk_sub(dc->kt, nd_child(b, bit), cshift, ops_diff_added,
                              dc);
        }
    }
    return rc;
}

int
hamt_diff(const struct hamt *a, const struct hamt *b, hamt_value_equal_fn veq,
          hamt_diff_fn fn, void *ctx)
{
    struct diff_ctx dc = {.veq = veq, .fn = fn, .ctx = ctx};

    if (a == NULL || b == NULL || fn == NULL || a->kt != b->kt) {
        errno = EINVAL;
        return -1;
    }
    dc.kt = a->kt;
    if (a == b) {
        HAMT_COUNT_VISIT();
        return 0;
    }
    /* fn's own value stays with fn (it has ctx): the walk says "stopped". */
    return ops_diff_node(&dc, hamt__root(a), hamt__root(b), 0) != 0 ? 1 : 0;
}

/* ---- merge, intersect, subtract ---- */

/*
 * The result of a conflict decision: the value to bind, or drop; *right
 * when fn took b's binding whole (HAMT_CONFLICT_RIGHT), whose key is then
 * b's (hamt_ops(3)).
 */
static int
sa_decide(hamt_conflict_fn fn, void *ctx, const void *key, void *va, void *vb,
          void **out, bool *drop, bool *right)
{
    void *combined = NULL;

    *drop = false;
    *right = false;
    if (fn == NULL) {
        *out = va;
        return 0;
    }
    switch (fn(key, va, vb, &combined, ctx)) {
    case HAMT_CONFLICT_LEFT:
        *out = va;
        return 0;
    case HAMT_CONFLICT_RIGHT:
        *out = vb;
        *right = true;
        return 0;
    case HAMT_CONFLICT_COMBINE:
        *out = combined;
        return 0;
    case HAMT_CONFLICT_DROP:
        *drop = true;
        return 0;
    }
    errno = EINVAL;
    return -1;
}

/*
 * The set algebra walks a and b together, node by node, from the roots
 * down: at each of a node's 32 fragments it pairs what a holds there (an
 * entry, a child, or nothing) with what b holds, and builds the result's
 * node from the outcomes.
 *
 *   - A fragment that only one map holds is taken from it as it is: a
 *     whole child subtree is shared by pointer without being visited
 *     (merge takes both sides', intersect neither, subtract a's).
 *   - The same child pointer in both maps (a subtree the two versions
 *     share) is shared whole as well, unless a conflict function must see
 *     its keys (merge and intersect with a fn).
 *   - An entry against a child: the entry is followed into the child as a
 *     one-key side, so it meets the key of b (or of a) it may collide with
 *     at whatever depth, and the rest of the child is shared or walked as
 *     above.
 *   - A node whose outcome at every fragment is what a holds there is a's
 *     own node, returned as is (likewise b's); so a result equal to an input
 *     binding for binding is that input, at every level.  A subtree left
 *     with one key becomes an entry in its parent (N3); with none, nothing.
 *
 * The result's size.  Keys decided one by one are counted; a subtree taken
 * whole is not looked into.  Every key of a is decided one by one, or lies
 * in a subtree of a taken (or dropped) because b holds nothing there, or
 * in a subtree both hold: |a| = ea + Sa + Ss, and |b| = eb + Sb + Ss.  With
 * no shared subtree (Ss = 0), the sizes follow from |a| and |b|.  Otherwise
 * one of Ss and Sa must be counted; sa_shared_keys counts both in turn
 * with a doubling budget, so the work is about the smaller of the two: the
 * few new subtrees when a and b are close versions, the few shared ones
 * when they are not.  The walk keeps at most SA_LIST_CAP subtrees of each
 * kind; when one kind has more, the other is counted; when both do (large
 * maps that share much and differ much), the result itself is counted.
 *
 * Cost: the nodes where both maps hold something different, O(min(|a|,
 * |b|) * depth) at most, plus the counting above; O(d * depth) for two
 * versions that differ in d keys.  A failed allocation returns NULL
 * (errno = ENOMEM) and leaves the partial result to the collector.
 */
enum sa_op { SA_MERGE, SA_INTERSECT, SA_SUBTRACT };

/* What one side holds at a fragment, and what the result holds there. */
enum sa_kind { SA_NONE, SA_ENTRY, SA_CHILD };

struct sa_slot {
    enum sa_kind kind;
    const void *key; /* SA_ENTRY */
    void *val;
    uint64_t h; /* SA_ENTRY, when has_h */
    bool has_h;
    const void *child; /* SA_CHILD: a node, or a cnode at the collision shift */
};

/* One side of the walk at a shift: a node (cnode), or a single entry. */
struct sa_side {
    const void *node; /* NULL: the entry below */
    const void *key;
    void *val;
    uint64_t h;
};

/*
 * Subtrees taken whole (a pointer and the shift of its root), kept up to
 * SA_LIST_CAP of them; n counts them all.  A fixed array: two close
 * versions of a large map share tens of thousands of subtrees, and a list
 * grown with realloc on each call spent more on faulting in fresh pages
 * than the walk itself spent.
 */
#define SA_LIST_CAP 256
struct sa_list {
    const void *p[SA_LIST_CAP];
    unsigned shift[SA_LIST_CAP];
    size_t n;
};

struct sa_ctx {
    const struct hamt__kt *kt;
    enum sa_op op;
    hamt_conflict_fn fn;
    void *ctx;
    size_t ea, eb;         /* keys of a, of b decided one by one */
    size_t kept;           /* of those, kept in the result */
    struct sa_list shared; /* the same subtree in both maps */
    struct sa_list only_a; /* a's subtrees where b holds nothing */
};

/* The outcome at a fragment, and whether it is what a / b hold there. */
struct sa_res {
    enum sa_kind kind;
    const void *key;
    void *val;
    const void *child;
    bool as_a, as_b;
};

static void
sa_push(struct sa_list *l, const void *p, unsigned shift)
{
    if (l->n < SA_LIST_CAP) {
        l->p[l->n] = p;
        l->shift[l->n] = shift;
    }
    l->n++;
}

/* Whether every subtree of the list was kept (so it can be counted). */
static bool
sa_list_whole(const struct sa_list *l)
{
    return l->n <= SA_LIST_CAP;
}

static uint64_t
sa_hash(const struct sa_ctx *sc, struct sa_slot *e)
{
    if (!e->has_h) {
        e->h = hamt__key_hash(sc->kt, e->key);
        e->has_h = true;
    }
    return e->h;
}

/* What side s holds for `bit` at `shift` (a bitmap level). */
static void
sa_slot_of(const struct sa_side *s, uint32_t bit, unsigned shift,
           struct sa_slot *o)
{
    o->has_h = false;
    o->key = NULL;
    o->val = NULL;
    o->child = NULL;
    if (s->node == NULL) {
        o->kind = nd_bit(s->h, shift) == bit ? SA_ENTRY : SA_NONE;
        o->key = s->key;
        o->val = s->val;
        o->h = s->h;
        o->has_h = true;
        return;
    }
    const struct node *n = s->node;
    if (n->datamap & bit) {
        unsigned i = nd_entry_index(n, bit);
        o->kind = SA_ENTRY;
        o->key = nd_key(n, i);
        o->val = nd_val(n, i);
    } else if (n->nodemap & bit) {
        o->kind = SA_CHILD;
        o->child = nd_child(n, bit);
    } else {
        o->kind = SA_NONE;
    }
}

static uint32_t
sa_bits(const struct sa_side *s, unsigned shift)
{
    if (s->node == NULL) {
        return nd_bit(s->h, shift);
    }
    const struct node *n = s->node;
    return n->datamap | n->nodemap;
}

/* A key bound in both maps. 0, or -1 with errno = EINVAL (fn's answer). */
static int
sa_both(struct sa_ctx *sc, const void *ka, void *va, const void *kb, void *vb,
        struct sa_res *r)
{
    void *out;
    bool drop, right;

    sc->ea++;
    sc->eb++;
    r->kind = SA_NONE;
    r->as_a = r->as_b = false;
    if (sc->op == SA_SUBTRACT) {
        return 0;
    }
    if (sa_decide(sc->fn, sc->ctx, ka, va, vb, &out, &drop, &right) != 0) {
        return -1;
    }
    if (!drop) {
        /*
         * The key is b's for RIGHT and a's otherwise, whatever the values
         * (hamt_ops(3)): a caller may free the other map's key objects.  The
         * entry is what a side holds (so that a result equal to a side is
         * that side) when it has that side's value and key object; keys of
         * a built-in kind are the library's copies, equal whichever side
         * they come from, so for them the value decides alone.
         */
        bool any_key = sc->kt->kind != HAMT_KEY_CUSTOM || ka == kb;

        sc->kept++;
        r->kind = SA_ENTRY;
        r->val = out;
        r->key = right ? kb : ka;
        r->as_a = out == va && (!right || any_key);
        r->as_b = out == vb && (right || any_key);
    }
    return 0;
}

/* What one side alone holds (the other holds nothing there). */
static void
sa_alone(struct sa_ctx *sc, const struct sa_slot *x, bool from_a,
         unsigned shift, struct sa_res *r)
{
    bool keep = from_a ? sc->op != SA_INTERSECT : sc->op == SA_MERGE;

    if (x->kind == SA_ENTRY) {
        if (from_a) {
            sc->ea++;
        } else {
            sc->eb++;
        }
        sc->kept += keep;
    } else if (from_a) {
        sa_push(&sc->only_a, x->child, shift + HAMT_BITS);
    }
    r->kind = keep ? x->kind : SA_NONE;
    r->key = x->key;
    r->val = x->val;
    r->child = x->child;
    r->as_a = keep == from_a;
    r->as_b = keep != from_a;
}

static int sa_node(struct sa_ctx *sc, const struct sa_side *a,
                   const struct sa_side *b, unsigned shift, struct sa_res *r);

static void
sa_side_of(struct sa_ctx *sc, struct sa_slot *x, struct sa_side *s)
{
    if (x->kind == SA_CHILD) {
        s->node = x->child;
    } else {
        s->node = NULL;
        s->key = x->key;
        s->val = x->val;
        s->h = sa_hash(sc, x);
    }
}

/* The outcome at one fragment (at `shift`) from what a and b hold there. */
static int
sa_pair(struct sa_ctx *sc, struct sa_slot *x, struct sa_slot *y, unsigned shift,
        struct sa_res *r)
{
    if (y->kind == SA_NONE) {
        sa_alone(sc, x, true, shift, r);
        return 0;
    }
    if (x->kind == SA_NONE) {
        sa_alone(sc, y, false, shift, r);
        return 0;
    }
    if (x->kind == SA_ENTRY && y->kind == SA_ENTRY) {
        if (hamt__key_eq(sc->kt, x->key, y->key)) {
            return sa_both(sc, x->key, x->val, y->key, y->val, r);
        }
        sc->ea++;
        sc->eb++;
        r->as_a = r->as_b = false;
        if (sc->op == SA_INTERSECT) {
            r->kind = SA_NONE;
        } else if (sc->op == SA_SUBTRACT) {
            sc->kept++;
            r->kind = SA_ENTRY;
            r->key = x->key;
            r->val = x->val;
            r->as_a = true;
        } else {
            sc->kept += 2;
            r->kind = SA_CHILD;
            r->child = hamt__nd_pair(sc->kt, shift + HAMT_BITS, x->key, x->val,
                                     sa_hash(sc, x), y->key, y->val,
                                     sa_hash(sc, y), sc->kt->scalar);
            if (r->child == NULL) {
                return -1;
            }
        }
        return 0;
    }
    if (x->kind == SA_CHILD && y->kind == SA_CHILD && x->child == y->child
        && (sc->fn == NULL || sc->op == SA_SUBTRACT)) {
        sa_push(&sc->shared, x->child, shift + HAMT_BITS);
        r->kind = sc->op == SA_SUBTRACT ? SA_NONE : SA_CHILD;
        r->child = x->child;
        r->as_a = r->as_b = r->kind == SA_CHILD;
        return 0;
    }
    struct sa_side sa, sb;
    sa_side_of(sc, x, &sa);
    sa_side_of(sc, y, &sb);
    return sa_node(sc, &sa, &sb, shift + HAMT_BITS, r);
}

/*
 * The merged entries of a collision level (sa_ctree, sa_cnode) as they
 * come: out holds n key/value pairs; all_a (all_b) stays true while every
 * result so far is a's (b's) own.
 */
struct sa_merged {
    void **out;
    size_t n;
    bool all_a, all_b;
};

static inline void
sa_merged_add(struct sa_merged *m, const struct sa_res *e)
{
    m->all_a &= e->as_a;
    m->all_b &= e->as_b;
    if (e->kind == SA_ENTRY) {
        m->out[2 * m->n] = (void *)(uintptr_t)e->key;
        m->out[2 * m->n++ + 1] = e->val;
    }
}

/*
 * Sets r for a finished collision level that needs no new node (one side
 * taken whole, or at most one entry left) and returns true; false leaves
 * the caller to build a node of the m->n entries and set r->kind and
 * r->child.
 */
static inline bool
sa_merged_small(const struct sa_merged *m, const struct sa_side *a,
                const struct sa_side *b, struct sa_res *r)
{
    r->as_a = m->all_a;
    r->as_b = m->all_b;
    if (m->all_a || m->all_b) {
        const struct sa_side *s = m->all_a ? a : b;
        r->kind = s->node ? SA_CHILD : SA_ENTRY;
        r->child = s->node;
        r->key = s->key;
        r->val = s->val;
        return true;
    }
    if (m->n < 2) {
        r->kind = m->n ? SA_ENTRY : SA_NONE;
        r->key = m->out[0];
        r->val = m->out[1];
        return true;
    }
    return false;
}

/*
 * The collision level of a key type with an order: sides are collision
 * trees (ctree.c) or single entries, merged in key order, O(na + nb)
 * compare calls; the result is built balanced from the merged list.
 */
static int
sa_ctree(struct sa_ctx *sc, const struct sa_side *a, const struct sa_side *b,
         struct sa_res *r)
{
    const struct ctree *ta = a->node, *tb = b->node;
    size_t na = ta ? (size_t)ta->count : 1, nb = tb ? (size_t)tb->count : 1;
    struct ct_cur ca, cb;
    /* Collector memory, as in sa_cnode: it may hold a fresh value alone. */
    void **out = hamt__alloc(2 * (na + nb) * sizeof *out);
    struct sa_merged m = {.out = out, .all_a = true, .all_b = true};

    if (out == NULL) {
        return -1;
    }
    if (ta != NULL) {
        hamt__ct_cur_init(&ca, ta);
    } else {
        hamt__ct_cur_one(&ca, a->key, a->val);
    }
    if (tb != NULL) {
        hamt__ct_cur_init(&cb, tb);
    } else {
        hamt__ct_cur_one(&cb, b->key, b->val);
    }
    for (;;) {
        const void *ka = NULL, *kb = NULL;
        void *va = NULL, *vb = NULL;
        bool ha = hamt__ct_cur_peek(&ca, &ka, &va);
        bool hb = hamt__ct_cur_peek(&cb, &kb, &vb);
        struct sa_res e = {.kind = SA_NONE};
        if (!ha && !hb) {
            break;
        }
        int c = !ha ? 1 : !hb ? -1 : sc->kt->compare(ka, kb, sc->kt->ctx);
        if (c == 0) {
            if (sa_both(sc, ka, va, kb, vb, &e) != 0) {
                return -1;
            }
            hamt__ct_cur_skip(&ca);
            hamt__ct_cur_skip(&cb);
        } else {
            struct sa_slot x = {.kind = SA_ENTRY,
                                .key = c < 0 ? ka : kb,
                                .val = c < 0 ? va : vb};
            sa_alone(sc, &x, c < 0, 0, &e);
            hamt__ct_cur_skip(c < 0 ? &ca : &cb);
        }
        sa_merged_add(&m, &e);
    }
    if (!sa_merged_small(&m, a, b, r)) {
        r->kind = SA_CHILD;
        r->child = hamt__ct_build(out, m.n);
        if (r->child == NULL) {
            return -1;
        }
    }
    return 0;
}

/* The collision level: sides are cnodes or single entries. */
static int
sa_cnode(struct sa_ctx *sc, const struct sa_side *a, const struct sa_side *b,
         struct sa_res *r)
{
    const struct cnode *ca = a->node, *cb = b->node;
    uint32_t na = ca ? ca->count : 1, nb = cb ? cb->count : 1;
    void *const *pa = ca ? ca->slots : NULL;
    void *const *pb = cb ? cb->slots : NULL;
    /*
     * malloc memory, freed below; an injected failure as the collector's
     * allocations are (internal.h), so that the out-of-memory tests reach
     * the failure of this one too.
     */
    bool *used = hamt__fail_injected() ? NULL : calloc(nb, sizeof *used);
    /*
     * From the collector, not malloc: a value a conflict function just
     * made may be referenced from here alone until the cnode is built.
     */
    void **out = hamt__alloc(2 * ((size_t)na + nb) * sizeof *out);
    struct sa_merged m = {.out = out, .all_a = true, .all_b = true};
    int rc = -1;

    if (used == NULL || out == NULL) {
        errno = ENOMEM; /* hamt__alloc sets it too */
        goto done;
    }
    for (uint32_t i = 0; i < na; i++) {
        const void *k = ca ? pa[2 * i] : a->key;
        void *v = ca ? pa[2 * i + 1] : a->val;
        struct sa_res e = {.kind = SA_NONE};
        uint32_t j = 0;
        while (
            j < nb
            && (used[j] || !hamt__key_eq(sc->kt, cb ? pb[2 * j] : b->key, k))) {
            j++;
        }
        if (j < nb) {
            used[j] = true;
            if (sa_both(sc, k, v, cb ? pb[2 * j] : b->key,
                        cb ? pb[2 * j + 1] : b->val, &e)
                != 0) {
                goto done;
            }
        } else {
            struct sa_slot x = {.kind = SA_ENTRY, .key = k, .val = v};
            sa_alone(sc, &x, true, 0, &e);
        }
        sa_merged_add(&m, &e);
    }
    for (uint32_t j = 0; j < nb; j++) {
        if (used[j]) {
            continue;
        }
        struct sa_slot y = {.kind = SA_ENTRY,
                            .key = cb ? pb[2 * j] : b->key,
                            .val = cb ? pb[2 * j + 1] : b->val};
        struct sa_res e;
        sa_alone(sc, &y, false, 0, &e);
        sa_merged_add(&m, &e);
    }
    if (!sa_merged_small(&m, a, b, r)) {
        struct cnode *c = hamt__cn_alloc((uint32_t)m.n, sc->kt->scalar);
        if (c == NULL) {
            goto done;
        }
        memcpy(c->slots, out, 2 * m.n * sizeof *out);
        r->kind = SA_CHILD;
        r->child = c;
    }
    rc = 0;
done:
    free(used); /* out is left to the collector */
    return rc;
}

/* A node level (or the collision level) of the walk; see above. */
static int
sa_node(struct sa_ctx *sc, const struct sa_side *a, const struct sa_side *b,
        unsigned shift, struct sa_res *r)
{
    struct {
        const void *key; /* or the child */
        void *val;
    } out[HAMT_MASK + 1];
    uint32_t bits, dmap = 0, nmap = 0;
    unsigned ne = 0, nc = 0;
    bool all_a = true, all_b = true;

    HAMT_COUNT_VISIT();
    if (nd_is_collision_shift(shift)) {
        return ct_ordered(sc->kt) ? sa_ctree(sc, a, b, r)
                                  : sa_cnode(sc, a, b, r);
    }
    bits = sa_bits(a, shift) | sa_bits(b, shift);
    for (uint32_t rest = bits; rest != 0; rest &= rest - 1) {
        uint32_t bit = rest & -rest;
        unsigned f = (unsigned)__builtin_ctz(bit);
        struct sa_slot x, y;
        struct sa_res e;
        sa_slot_of(a, bit, shift, &x);
        sa_slot_of(b, bit, shift, &y);
        if (sa_pair(sc, &x, &y, shift, &e) != 0) {
            return -1;
        }
        all_a &= e.as_a;
        all_b &= e.as_b;
        if (e.kind == SA_ENTRY) {
            dmap |= bit;
            ne++;
            out[f].key = e.key;
            out[f].val = e.val;
        } else if (e.kind == SA_CHILD) {
            nmap |= bit;
            nc++;
            out[f].key = e.child;
        }
    }
    r->as_a = all_a;
    r->as_b = all_b;
    if (all_a || all_b) {
        const struct sa_side *s = all_a ? a : b;
        r->kind = s->node != NULL ? SA_CHILD : SA_ENTRY;
        r->child = s->node;
        r->key = s->key;
        r->val = s->val;
        return 0;
    }
    if (shift != 0 && nc == 0 && ne < 2) {
        /* N3: one key left goes up into the parent as an entry. */
        r->kind = ne != 0 ? SA_ENTRY : SA_NONE;
        if (ne != 0) {
            unsigned f = (unsigned)__builtin_ctz(dmap);
            r->key = out[f].key;
            r->val = out[f].val;
        }
        return 0;
    }
    struct node *n = hamt__nd_alloc(shift == 0 ? sizeof(struct hamt) : 0, ne,
                                    nc, sc->kt->scalar);
    if (n == NULL) {
        return -1;
    }
    n->datamap = dmap;
    n->nodemap = nmap;
    unsigned i = 0;
    for (uint32_t rest = dmap; rest != 0; rest &= rest - 1, i++) {
        unsigned f = (unsigned)__builtin_ctz(rest);
        n->slots[2 * i] = (void *)(uintptr_t)out[f].key;
        n->slots[2 * i + 1] = out[f].val;
    }
    i = 2 * ne;
    for (uint32_t rest = nmap; rest != 0; rest &= rest - 1, i++) {
        n->slots[i] = (void *)(uintptr_t)out[__builtin_ctz(rest)].key;
    }
    r->kind = SA_CHILD;
    r->child = n;
    return 0;
}

/* Adds the keys below p to *keys, visiting at most *left nodes: false if
 * that was not enough. */
static bool
sa_count_sub(const struct hamt__kt *kt, const void *p, unsigned shift,
             size_t *left, size_t *keys)
{
    if (*left == 0) {
        return false;
    }
    --*left;
    HAMT_COUNT_VISIT();
    if (nd_is_collision_shift(shift)) {
        *keys += ct_ordered(kt) ? (size_t)((const struct ctree *)p)->count
                                : ((const struct cnode *)p)->count;
        return true;
    }
    const struct node *n = p;
    unsigned ne = nd_nentries(n), nc = nd_nchildren(n);
    *keys += ne;
    for (unsigned j = 0; j < nc; j++) {
        if (!sa_count_sub(kt, n->slots[2 * ne + j], shift + HAMT_BITS, left,
                          keys)) {
            return false;
        }
    }
    return true;
}

static bool
sa_count_list(const struct hamt__kt *kt, const struct sa_list *l, size_t budget,
              size_t *keys)
{
    *keys = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!sa_count_sub(kt, l->p[i], l->shift[i], &budget, keys)) {
            return false;
        }
    }
    return true;
}

/*
 * Ss, the keys in the subtrees both maps share, given ua = Sa + Ss: counts
 * Sa (a's subtrees taken alone) and Ss in turn with a doubling budget of
 * nodes, so that the work follows the smaller of the two; or only the list
 * kept whole when the other overflowed.  False when both overflowed (the
 * caller then counts the result).
 */
static bool
sa_shared_keys(const struct sa_ctx *sc, size_t ua, size_t *ss)
{
    bool whole_a = sa_list_whole(&sc->only_a);
    bool whole_s = sa_list_whole(&sc->shared);
    size_t k;

    *ss = 0;
    if (sc->shared.n == 0) {
        return true;
    }
    if (!whole_a && !whole_s) {
        return false;
    }
    for (size_t budget = 64;; budget *= 2) {
        if (!whole_a || !whole_s) {
            budget = SIZE_MAX; /* one list only: count it all */
        }
        if (whole_a && sa_count_list(sc->kt, &sc->only_a, budget, &k)) {
            *ss = ua - k;
            return true;
        }
        if (whole_s && sa_count_list(sc->kt, &sc->shared, budget, &k)) {
            *ss = k;
            return true;
        }
    }
}

static const struct hamt *
sa_run(const struct hamt *a, const struct hamt *b, enum sa_op op,
       hamt_conflict_fn fn, void *ctx)
{
    struct sa_ctx sc = {.kt = a->kt, .op = op, .fn = fn, .ctx = ctx};
    struct sa_side sa = {.node = hamt__root(a)}, sb = {.node = hamt__root(b)};
    struct sa_res r;

    if (sa_node(&sc, &sa, &sb, 0, &r) != 0) {
        return NULL; /* errno = ENOMEM, or EINVAL from fn */
    }
    if (r.as_a || r.as_b) {
        return r.as_a ? a : b;
    }
    size_t ua = a->size - sc.ea, ub = b->size - sc.eb, ss, size = sc.kept;
    if (!sa_shared_keys(&sc, ua, &ss)) {
        /* Many subtrees of both kinds: count the result itself. */
        size_t left = SIZE_MAX;
        size = 0;
        sa_count_sub(a->kt, r.child, 0, &left, &size);
    } else if (op == SA_MERGE) {
        size += ua + ub - ss;
    } else if (op == SA_INTERSECT) {
        size += ss;
    } else {
        size += ua - ss;
    }
    struct hamt *m =
        (struct hamt *)((char *)(uintptr_t)r.child - sizeof(struct hamt));
    m->kt = a->kt;
    m->size = size;
    return size == 0 ? a->kt->empty : m;
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
    return ops_args_ok(a, b) ? sa_run(a, b, SA_MERGE, fn, ctx) : NULL;
}

const struct hamt *
hamt_intersect(const struct hamt *a, const struct hamt *b, hamt_conflict_fn fn,
               void *ctx)
{
    return ops_args_ok(a, b) ? sa_run(a, b, SA_INTERSECT, fn, ctx) : NULL;
}

const struct hamt *
hamt_subtract(const struct hamt *a, const struct hamt *b)
{
    if (!ops_args_ok(a, b)) {
        return NULL;
    }
    if (a == b) {
        return a->kt->empty;
    }
    return sa_run(a, b, SA_SUBTRACT, NULL, NULL);
}
