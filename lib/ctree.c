/*
 * ctree.c - collision trees: keys whose full 64-bit hashes are equal, kept
 * in a persistent balanced search tree ordered by the key type's compare.
 *
 * Why.  Below the last bitmap level (node.c) only equality tells keys
 * apart, so a collision node is scanned: n keys with one hash cost O(n) per
 * lookup and update, O(n^2) to build.  The built-in key kinds use a keyed
 * hash, so an attacker cannot aim at one hash; a custom key type brings its
 * own, possibly weak or unkeyed, hash.  When that key type also gives an
 * order (struct hamt_key_type's compare), its collision level is a tree
 * instead, and every operation on n colliding keys costs O(log n) compare
 * calls - the answer Java's HashMap gave to the same attack (JEP 180).
 * Without an order the collision node of node.c stays (O(n) per operation).
 *
 * Layout.  The bitmap node at the last level points to a struct ctree
 * header (count, root) where an unordered key type has its struct cnode;
 * the key type says which, so no tag is needed.  The tree is an AVL tree:
 *
 *   struct ctree  [count | root | owner]
 *                          |
 *   struct ctn    [left | right | key | val | ck0 | ck1 | height | owner]
 *                                                               56 bytes
 *
 * Invariants (checked by hamt__ct_validate, called from debug.c):
 *   T1  in-order keys are strictly increasing under compare;
 *   T2  every node's height is 1 + the larger child height, and the two
 *       child heights differ by at most one (so the height is at most
 *       1.44 log2(count + 2): 92 for any count below 2^64, CT_MAXH bounds
 *       every explicit stack);
 *   T3  count is the number of nodes, and at least two (N4 of node.c);
 *   T4  nodes reachable from a published map are never written (N5): an
 *       update copies its path, as the trie does;
 *   T5  each node holds a copy of its children's key pointers (ck), set
 *       with every link (ct_link), so that a search can start loading the
 *       next level's key while it compares this one: the key behind the
 *       pointer is the caller's memory, one more dependent cache miss per
 *       level otherwise.
 *
 * Path copying.  An update records its search path (at most CT_MAXH
 * nodes), makes a writable version of every node it will write - the node
 * itself when the editing batch owns it (owner bytes, as node.h's tails),
 * else a fresh copy - and only then links and rebalances.  A persistent
 * update (owner 0) owns nothing and copies its whole path plus the header:
 * O(log n) nodes.  A batch copies a node the first time it touches it and
 * writes it in place afterwards, so a batch load allocates about one node
 * per key.  A remove may rotate at every level of its path with the
 * sibling subtree; a batch makes those siblings (and the sibling's inner
 * child, which a double rotation moves) writable before its first write
 * too, so that every allocation comes before every write and a failed
 * allocation leaves the batch's map as it was.  Replaced nodes are left to
 * the collector (map.c's map_retire frees only trie nodes).
 *
 * Iteration.  struct hamt_iter has a fixed stack that ends at the
 * collision level; a tree deeper than that cannot have its own frames
 * there.  The iterator keeps the last node it gave and finds the next one
 * from it: the leftmost node of its right subtree, or, when it has none, by
 * a search from the root with compare (O(log n) compare calls, for about
 * half of the steps).  Internal walks (equality, diff, set algebra) use
 * struct ct_cur, an in-order cursor with a CT_MAXH stack on the C stack.
 *
 * Costs with n colliding keys: lookup, set, remove O(log n) compare calls
 * and (persistent) O(log n) new nodes; iteration O(n log n) compare calls
 * in all.  Equality and diff of two trees are an ordered merge of both
 * that skips a node, and its right subtree, whenever both cursors are at
 * the same node: two versions that differ in d keys cost about
 * O(d log^2 n), unrelated trees O(n_a + n_b).  The set algebra of two
 * trees is an ordered merge of every key, O(n_a + n_b), and builds its
 * result balanced.
 *
 * Function families: ct_* static helpers, hamt__ct_* the entry points
 * that map.c, ops.c, iter.c and debug.c call at the collision level.
 *
 * Reference: Adelson-Velsky and Landis (1962); Okasaki, "Purely
 * Functional Data Structures" (1998), for path copying of search trees.
 */
#include "ctree.h"

#include <string.h>

static inline unsigned
ct_h(const struct ctn *n)
{
    return n != NULL ? n->h : 0;
}

static inline void
ct_fix(struct ctn *n)
{
    unsigned a = ct_h(n->c[0]), b = ct_h(n->c[1]);

    n->h = (unsigned char)(1 + (a > b ? a : b));
}

static inline int
ct_cmp(const struct hamt__kt *kt, const void *a, const void *b)
{
    return kt->compare(a, b, kt->ctx);
}

/* Whether the live batch `owner` may write the object carrying `tag`. */
static inline bool
ct_owns(uint64_t owner, const unsigned char *tag)
{
    return owner != 0 && nd_tail_get(tag) == owner;
}

/* Sets n's child on side dir, and the copy of its key (T5). */
static inline void
ct_link(struct ctn *n, int dir, struct ctn *child)
{
    n->c[dir] = child;
    n->ck[dir] = child != NULL ? child->key : NULL;
}

static struct ctn *
ct_copy(const struct ctn *n, uint64_t owner)
{
    struct ctn *c = hamt__alloc(sizeof *c);

    if (c != NULL) {
        *c = *n;
        nd_tail_set(c->owner, owner);
    }
    return c;
}

/* n if `owner` may write it, else a copy it may write; NULL on ENOMEM. */
static struct ctn *
ct_own(struct ctn *n, uint64_t owner)
{
    return ct_owns(owner, n->owner) ? n : ct_copy(n, owner);
}

static struct ctree *
ct_hdr_own(struct ctree *t, uint64_t owner)
{
    struct ctree *c;

    if (ct_owns(owner, t->owner)) {
        return t;
    }
    c = hamt__alloc(sizeof *c);
    if (c != NULL) {
        *c = *t;
        nd_tail_set(c->owner, owner);
    }
    return c;
}

static struct ctn *
ct_leaf(const void *key, void *val, uint64_t owner)
{
    struct ctn *n = hamt__alloc(sizeof *n);

    if (n != NULL) {
        n->key = key;
        n->val = val;
        n->h = 1;
        nd_tail_set(n->owner, owner);
    }
    return n;
}

/*
 * Rotates z so that its child on side `dir` becomes the subtree's root,
 * which it returns.  z and that child must be writable.
 */
static struct ctn *
ct_rot(struct ctn *z, int dir)
{
    struct ctn *y = z->c[dir];

    ct_link(z, dir, y->c[!dir]);
    ct_link(y, !dir, z);
    ct_fix(z);
    ct_fix(y);
    return y;
}

/*
 * Restores T2 at the writable node z whose subtrees are balanced and
 * differ in height by at most two; returns the subtree's new root.
 * heavy_ok: the taller child and its inner child are writable (an insert,
 * where they lie on the path).  Otherwise (a remove, where the taller side
 * is the untouched sibling) they are made writable with ct_own, which a
 * batch has done beforehand; NULL with errno = ENOMEM only for a
 * persistent update, which has written fresh nodes alone by then.
 */
static struct ctn *
ct_balance(struct ctn *z, uint64_t owner, bool heavy_ok)
{
    int b = (int)ct_h(z->c[1]) - (int)ct_h(z->c[0]);

    if (b >= -1 && b <= 1) {
        ct_fix(z);
        return z;
    }
    int dir = b > 0;
    struct ctn *y = z->c[dir];
    if (!heavy_ok) {
        if ((y = ct_own(y, owner)) == NULL) {
            return NULL;
        }
        ct_link(z, dir, y);
    }
    if (ct_h(y->c[!dir]) > ct_h(y->c[dir])) {
        struct ctn *x = y->c[!dir];
        if (!heavy_ok) {
            if ((x = ct_own(x, owner)) == NULL) {
                return NULL;
            }
            ct_link(y, !dir, x);
        }
        ct_link(z, dir, ct_rot(y, !dir));
    }
    return ct_rot(z, dir);
}

/*
 * Writable versions of the header and of the path p[0 .. d-1] into *wt and
 * w[]; allocates only, writes nothing reachable.  False on ENOMEM.
 */
static bool
ct_path_own(uint64_t owner, struct ctree *t, struct ctn *const *p, int d,
            struct ctn **w, struct ctree **wt)
{
    if ((*wt = ct_hdr_own(t, owner)) == NULL) {
        return false;
    }
    for (int i = 0; i < d; i++) {
        if ((w[i] = ct_own(p[i], owner)) == NULL) {
            return false;
        }
    }
    return true;
}

bool
hamt__ct_get(const struct hamt__kt *kt, const struct ctree *t, const void *key,
             void **val)
{
    const struct ctn *n = t->root;

    while (n != NULL) {
        /* Both children and their keys start loading while the compare
         * runs (T5), so the next level's two misses overlap this one's
         * compare instead of following it. */
        __builtin_prefetch(n->c[0]);
        __builtin_prefetch(n->c[1]);
        __builtin_prefetch(n->ck[0]);
        __builtin_prefetch(n->ck[1]);
        int c = ct_cmp(kt, key, n->key);
        if (c == 0) {
            if (val != NULL) {
                *val = n->val;
            }
            return true;
        }
        n = n->c[c > 0];
    }
    return false;
}

struct ctree *
hamt__ct_pair(const struct hamt__kt *kt, uint64_t owner, const void *k1,
              void *v1, const void *k2, void *v2)
{
    struct ctree *t = hamt__alloc(sizeof *t);
    struct ctn *a = ct_leaf(k1, v1, owner), *b = ct_leaf(k2, v2, owner);

    if (t == NULL || a == NULL || b == NULL) {
        return NULL; /* the others are garbage nothing saw */
    }
    ct_link(a, ct_cmp(kt, k2, k1) > 0, b);
    a->h = 2;
    t->count = 2;
    t->root = a;
    nd_tail_set(t->owner, owner);
    return t;
}

void
hamt__ct_mine(struct ctree *t, uint64_t owner)
{
    struct ctn *r = t->root;

    nd_tail_set(t->owner, owner);
    nd_tail_set(r->owner, owner);
    nd_tail_set(r->c[r->c[0] == NULL]->owner, owner);
}

/*
 * The search of hamt__ct_set and hamt__ct_remove: walks from n toward key,
 * recording the nodes passed in p and the sides taken in dir (*dp of
 * them); returns the node holding key, or NULL.  Inline, so that both
 * compile as they did with a loop each.
 */
static inline struct ctn *
ct_path(const struct hamt__kt *kt, struct ctn *n, const void *key,
        struct ctn **p, int *dir, int *dp)
{
    int d = 0;

    while (n != NULL) {
        __builtin_prefetch(n->c[0]); /* as in hamt__ct_get */
        __builtin_prefetch(n->c[1]);
        __builtin_prefetch(n->ck[0]);
        __builtin_prefetch(n->ck[1]);
        int c = ct_cmp(kt, key, n->key);
        if (c == 0) {
            break;
        }
        p[d] = n;
        dir[d++] = c > 0;
        n = n->c[c > 0];
    }
    *dp = d;
    return n;
}

int
hamt__ct_set(const struct hamt__kt *kt, uint64_t owner, struct ctree *t,
             const void *key, void *val, struct ctree **out)
{
    struct ctn *p[CT_MAXH], *w[CT_MAXH], *leaf = NULL;
    int dir[CT_MAXH], d;
    struct ctree *wt;
    struct ctn *n = ct_path(kt, t->root, key, p, dir, &d);

    if (n != NULL) {
        if (n->val == val) {
            *out = t; /* the identity rule: nothing allocated */
            return 0;
        }
        p[d++] = n;
    }
    /* Every allocation before the first write (see the top comment). */
    if (!ct_path_own(owner, t, p, d, w, &wt)
        || (n == NULL && (leaf = ct_leaf(key, val, owner)) == NULL)) {
        return -1;
    }
    if (n != NULL) {
        for (int i = 0; i + 1 < d; i++) {
            ct_link(w[i], dir[i], w[i + 1]);
        }
        w[d - 1]->val = val;
        wt->root = w[0];
        *out = wt;
        return 0;
    }
    struct ctn *sub = leaf;
    for (int i = d - 1; i >= 0; i--) {
        ct_link(w[i], dir[i], sub);
        sub = ct_balance(w[i], owner, true); /* cannot fail: heavy_ok */
    }
    wt->root = sub;
    wt->count++;
    *out = wt;
    return 1;
}

int
hamt__ct_remove(const struct hamt__kt *kt, uint64_t owner, struct ctree *t,
                const void *key, struct ctree **out, const void **lk, void **lv)
{
    struct ctn *p[CT_MAXH], *w[CT_MAXH], *sw[CT_MAXH], *sx[CT_MAXH];
    int dir[CT_MAXH], d, k;
    struct ctree *wt;
    struct ctn *n = ct_path(kt, t->root, key, p, dir, &d);

    if (n == NULL) {
        return 0;
    }
    if (t->count == 2) {
        /* N4: the other key goes up into the bitmap node. */
        const struct ctn *r = t->root;
        const struct ctn *o = r != n ? r : r->c[r->c[0] == NULL];
        *lk = o->key;
        *lv = o->val;
        return 2;
    }
    k = d;
    p[d] = n;
    if (n->c[0] != NULL && n->c[1] != NULL) {
        /* Two children: the successor's entry replaces n's, and the
         * successor (leftmost of the right subtree) is unlinked instead. */
        dir[d++] = 1;
        for (struct ctn *m = n->c[1]; m != NULL; m = m->c[0]) {
            p[d] = m;
            dir[d++] = 0;
        }
        d--; /* p[d] is the successor */
    }
    /* p[0 .. d-1] are written; p[d] is unlinked. */
    const struct ctn *r = p[d];
    struct ctn *sub = r->c[r->c[0] == NULL];
    if (!ct_path_own(owner, t, p, d, w, &wt)) {
        return -1;
    }
    for (int i = 0; owner != 0 && i < d; i++) {
        /* The sibling and its inner child, which ct_balance may rotate. */
        struct ctn *s = p[i]->c[!dir[i]];
        sw[i] = sx[i] = NULL;
        if (s != NULL) {
            if ((sw[i] = ct_own(s, owner)) == NULL) {
                return -1;
            }
            if (s->c[dir[i]] != NULL
                && (sx[i] = ct_own(s->c[dir[i]], owner)) == NULL) {
                return -1;
            }
        }
    }
    /* Every allocation of a batch is done: the writes follow. */
    for (int i = 0; owner != 0 && i < d; i++) {
        ct_link(w[i], !dir[i], sw[i]);
        if (sx[i] != NULL) {
            ct_link(sw[i], dir[i], sx[i]);
        }
    }
    if (k < d) {
        w[k]->key = r->key;
        w[k]->val = r->val;
    }
    for (int i = d - 1; i >= 0; i--) {
        ct_link(w[i], dir[i], sub);
        if ((sub = ct_balance(w[i], owner, false)) == NULL) {
            return -1; /* persistent only: fresh nodes were written */
        }
    }
    wt->root = sub;
    wt->count--;
    *out = wt;
    return 1;
}

/* A balanced subtree of kv[2lo .. 2hi-1]; NULL on ENOMEM. */
static struct ctn *
ct_build_sub(void *const *kv, size_t lo, size_t hi)
{
    size_t mid = lo + (hi - lo) / 2;
    struct ctn *n = ct_leaf(kv[2 * mid], kv[2 * mid + 1], 0);

    if (n == NULL) {
        return NULL;
    }
    for (int dir = 0; dir < 2; dir++) {
        size_t a = dir ? mid + 1 : lo, b = dir ? hi : mid;
        struct ctn *c = NULL;
        if (a < b && (c = ct_build_sub(kv, a, b)) == NULL) {
            return NULL;
        }
        ct_link(n, dir, c);
    }
    ct_fix(n);
    return n;
}

struct ctree *
hamt__ct_build(void *const *kv, size_t n)
{
    struct ctree *t = hamt__alloc(sizeof *t);

    if (t == NULL || (t->root = ct_build_sub(kv, 0, n)) == NULL) {
        return NULL;
    }
    t->count = n;
    return t;
}

/* ---- in-order cursors ---- */

static void
ct_cur_push(struct ct_cur *cu, const struct ctn *n)
{
    for (; n != NULL; n = n->c[0]) {
        cu->stk[cu->d++] = n;
    }
}

void
hamt__ct_cur_init(struct ct_cur *cu, const struct ctree *t)
{
    cu->d = 0;
    cu->one = false;
    ct_cur_push(cu, t->root);
}

void
hamt__ct_cur_one(struct ct_cur *cu, const void *key, void *val)
{
    cu->d = 0;
    cu->one = true;
    cu->one_key = key;
    cu->one_val = val;
}

bool
hamt__ct_cur_peek(const struct ct_cur *cu, const void **key, void **val)
{
    if (cu->one) {
        *key = cu->one_key;
        *val = cu->one_val;
        return true;
    }
    if (cu->d == 0) {
        return false;
    }
    *key = cu->stk[cu->d - 1]->key;
    *val = cu->stk[cu->d - 1]->val;
    return true;
}

void
hamt__ct_cur_skip(struct ct_cur *cu)
{
    if (cu->one) {
        cu->one = false;
        return;
    }
    const struct ctn *n = cu->stk[--cu->d];
    ct_cur_push(cu, n->c[1]);
}

/*
 * When the next node of both cursors is the same node, that node and its
 * right subtree come next in both, identical (T4): skip them in both, as
 * the trie skips a shared subtree, and return true.
 */
static bool
ct_cur_skip_shared(struct ct_cur *a, struct ct_cur *b)
{
    if (a->one || b->one || a->d == 0 || b->d == 0
        || a->stk[a->d - 1] != b->stk[b->d - 1]) {
        return false;
    }
    a->d--;
    b->d--;
    return true;
}

size_t
hamt__ct_node_bytes(const struct ctree *t)
{
    struct ct_cur cu;
    size_t bytes = 0;

    hamt__ct_cur_init(&cu, t);
    while (cu.d > 0) {
        bytes += hamt__alloc_block_size(cu.stk[cu.d - 1]);
        hamt__ct_cur_skip(&cu);
    }
    return bytes;
}

int
hamt__ct_walk(const struct ctree *t,
              int (*fn)(const void *key, void *val, void *ctx), void *ctx)
{
    struct ct_cur cu;
    const void *k;
    void *v;
    int rc;

    hamt__ct_cur_init(&cu, t);
    while (hamt__ct_cur_peek(&cu, &k, &v)) {
        if ((rc = fn(k, v, ctx)) != 0) {
            return rc;
        }
        hamt__ct_cur_skip(&cu);
    }
    return 0;
}

static bool
ct_same(hamt_value_equal_fn veq, void *ctx, void *a, void *b)
{
    return a == b || (veq != NULL && veq(a, b, ctx));
}

bool
hamt__ct_equal(const struct hamt__kt *kt, const struct ctree *a,
               const struct ctree *b, hamt_value_equal_fn veq, void *ctx)
{
    struct ct_cur ca, cb;
    const void *ka, *kb;
    void *va, *vb;

    if (a == b || a->root == b->root) {
        return true;
    }
    if (a->count != b->count) {
        return false;
    }
    hamt__ct_cur_init(&ca, a);
    hamt__ct_cur_init(&cb, b);
    while (hamt__ct_cur_peek(&ca, &ka, &va)
           && hamt__ct_cur_peek(&cb, &kb, &vb)) {
        if (ct_cur_skip_shared(&ca, &cb)) {
            continue;
        }
        if (ct_cmp(kt, ka, kb) != 0 || !ct_same(veq, ctx, va, vb)) {
            return false;
        }
        hamt__ct_cur_skip(&ca);
        hamt__ct_cur_skip(&cb);
    }
    return true;
}

int
hamt__ct_diff(const struct hamt__kt *kt, const struct ctree *a,
              const struct ctree *b, hamt_value_equal_fn veq, void *vctx,
              hamt_diff_fn fn, void *ctx)
{
    struct ct_cur ca, cb;
    const void *ka, *kb;
    void *va, *vb;
    int rc = 0;

    if (a->root == b->root) {
        return 0;
    }
    hamt__ct_cur_init(&ca, a);
    hamt__ct_cur_init(&cb, b);
    for (;;) {
        if (ct_cur_skip_shared(&ca, &cb)) {
            continue;
        }
        bool ha = hamt__ct_cur_peek(&ca, &ka, &va);
        bool hb = hamt__ct_cur_peek(&cb, &kb, &vb);
        int c;
        if (!ha && !hb) {
            return 0;
        }
        c = !ha ? 1 : !hb ? -1 : ct_cmp(kt, ka, kb);
        if (c < 0) {
            rc = fn(ka, va, NULL, HAMT_DIFF_REMOVED, ctx);
            hamt__ct_cur_skip(&ca);
        } else if (c > 0) {
            rc = fn(kb, NULL, vb, HAMT_DIFF_ADDED, ctx);
            hamt__ct_cur_skip(&cb);
        } else {
            if (!ct_same(veq, vctx, va, vb)) {
                rc = fn(kb, va, vb, HAMT_DIFF_CHANGED, ctx);
            }
            hamt__ct_cur_skip(&ca);
            hamt__ct_cur_skip(&cb);
        }
        if (rc != 0) {
            return rc;
        }
    }
}

/*
 * The in-order successor of l in the tree under `root`, found by pointer
 * identity with an in-order walk (O(n), no compare): for a compare that is
 * not the total order it must be, whose search for l's key does not reach
 * l.  The walk's stack is bounded by the height (T2, which rebalancing
 * keeps whatever compare answers); NULL if l is the last node.
 */
static const struct ctn *
ct_succ_walk(const struct ctn *root, const struct ctn *l)
{
    const struct ctn *st[CT_MAXH];
    const struct ctn *n = root;
    bool seen = false;
    int d = 0;

    for (;;) {
        while (n != NULL && d < CT_MAXH) {
            st[d++] = n;
            n = n->c[0];
        }
        if (d == 0) {
            return NULL;
        }
        n = st[--d];
        if (seen) {
            return n;
        }
        seen = n == l;
        n = n->c[1];
    }
}

bool
hamt__ct_iter(const struct hamt__kt *kt, const struct ctree *t,
              const void **last, const void **key, void **val)
{
    const struct ctn *l = *last, *n;

    if (l == NULL) {
        n = t->root;
    } else if (l->c[1] != NULL) {
        n = l->c[1];
    } else {
        /* The successor is the last node where the search for l's key
         * turned left. */
        const struct ctn *m = t->root;
        n = NULL;
        while (m != NULL && m != l) {
            if (ct_cmp(kt, l->key, m->key) < 0) {
                n = m;
                m = m->c[0];
            } else {
                m = m->c[1];
            }
        }
        /*
         * A search that reached l took the one path from the root to it,
         * so n is right whatever compare said.  One that missed l (compare
         * is no total order, or not the one the tree was built with) may
         * have found any node, an earlier one too, and the iteration would
         * never end: find the successor by pointer instead.
         */
        if (m == NULL) {
            n = ct_succ_walk(t->root, l);
        }
        if (n == NULL) {
            return false;
        }
        goto found;
    }
    while (n->c[0] != NULL) {
        n = n->c[0];
    }
found:
    *last = n;
    *key = n->key;
    *val = n->val;
    return true;
}

/* ---- validation ---- */

struct ct_check {
    const struct hamt__kt *kt;
    uint64_t h;
    const void *prev;
    bool has_prev;
    uint64_t nodes;
};

static int
ct_check_sub(struct ct_check *ck, const struct ctn *n, unsigned depth)
{
    int rc;

    if (n == NULL) {
        return 0;
    }
    if (depth >= CT_MAXH) {
        return 7;
    }
    if ((rc = ct_check_sub(ck, n->c[0], depth + 1)) != 0) {
        return rc;
    }
    if (hamt__key_hash(ck->kt, n->key) != ck->h) {
        return 4;
    }
    if (ck->has_prev && ct_cmp(ck->kt, ck->prev, n->key) >= 0) {
        return 5; /* T1: out of order, or a duplicate */
    }
    ck->prev = n->key;
    ck->has_prev = true;
    ck->nodes++;
    if ((rc = ct_check_sub(ck, n->c[1], depth + 1)) != 0) {
        return rc;
    }
    for (int dir = 0; dir < 2; dir++) {
        if (n->ck[dir] != (n->c[dir] != NULL ? n->c[dir]->key : NULL)) {
            return 7; /* T5 */
        }
    }
    int b = (int)ct_h(n->c[1]) - (int)ct_h(n->c[0]);
    unsigned hl = ct_h(n->c[0]), hr = ct_h(n->c[1]);
    if (n->h != 1 + (hl > hr ? hl : hr) || b < -1 || b > 1) {
        return 7; /* T2 */
    }
    return 0;
}

int
hamt__ct_validate(const struct hamt__kt *kt, const struct ctree *t, uint64_t h,
                  size_t *count)
{
    struct ct_check ck = {.kt = kt, .h = h};
    int rc = ct_check_sub(&ck, t->root, 0);

    if (rc != 0) {
        return rc;
    }
    if (ck.nodes != t->count) {
        return 7; /* T3 */
    }
    if (t->count < 2) {
        return 4; /* N4 */
    }
    *count += (size_t)t->count;
    return 0;
}
