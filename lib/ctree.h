/*
 * ctree.h - collision trees: the collision level of a key type that gives
 * an order (see ctree.c for the design).
 */
#ifndef HAMT_CTREE_H
#define HAMT_CTREE_H

#include "node.h"

/*
 * Height bound of a tree: an AVL tree of height h holds at least
 * F(h + 2) - 1 keys (Fibonacci), so fewer than 2^64 keys give a height of
 * at most 92.  Every walk with an explicit stack uses this bound.
 */
#define CT_MAXH 96

/* A tree node: 56 bytes, a 64-byte collector slot. */
struct ctn {
    struct ctn *c[2]; /* left (smaller keys), right (larger keys) */
    const void *key;
    void *val;
    const void *ck[2]; /* c[0]->key and c[1]->key (T5 in ctree.c) */
    unsigned char h;   /* height; a leaf is 1 */
    unsigned char owner[HAMT_OWNER_BYTES]; /* batch id, or 0 (node.h) */
};

/*
 * The collision-level object of an ordered key type: what the bitmap node
 * at the last level points to, in place of a struct cnode.
 */
struct ctree {
    uint64_t count; /* keys in the tree; >= 2 (N4) */
    struct ctn *root;
    unsigned char owner[HAMT_OWNER_BYTES];
};

/* Whether the collision level of kt holds trees (an order is given). */
static inline bool
ct_ordered(const struct hamt__kt *kt)
{
    return kt->compare != NULL;
}

/* In-order cursor over a tree, or over one loose entry. */
struct ct_cur {
    const struct ctn *stk[CT_MAXH];
    int d;
    const void *one_key; /* the loose entry, while not yet given */
    void *one_val;
    bool one;
};

void hamt__ct_cur_init(struct ct_cur *cu, const struct ctree *t);
/* A cursor over the single entry (key, val). */
void hamt__ct_cur_one(struct ct_cur *cu, const void *key, void *val);
/* The next entry in key order, without consuming it: false at the end. */
bool hamt__ct_cur_peek(const struct ct_cur *cu, const void **key, void **val);
void hamt__ct_cur_skip(struct ct_cur *cu);

bool hamt__ct_get(const struct hamt__kt *kt, const struct ctree *t,
                  const void *key, void **val);
/* A tree of the two distinct keys, its nodes owned by `owner`; or NULL. */
struct ctree *hamt__ct_pair(const struct hamt__kt *kt, uint64_t owner,
                            const void *k1, void *v1, const void *k2, void *v2);
/* Marks the header and nodes of a fresh pair tree as owned by `owner`. */
void hamt__ct_mine(struct ctree *t, uint64_t owner);
/*
 * Binds key to val in t.  With a batch's `owner`, nodes it owns are written
 * in place; all allocation happens before the first write, so a failure
 * changes nothing.  *out is t itself when nothing changed or t was changed
 * in place, else the new tree.  Returns 1 (added), 0 (value replaced or
 * unchanged), or -1 with errno = ENOMEM.
 */
int hamt__ct_set(const struct hamt__kt *kt, uint64_t owner, struct ctree *t,
                 const void *key, void *val, struct ctree **out);
/*
 * Removes key from t: 0 absent; 1 removed, *out the tree (t itself when
 * changed in place); 2 removed and one key is left, (*lk, *lv), which the
 * caller pulls up (N3, N4); -1 with errno = ENOMEM, nothing changed.
 */
int hamt__ct_remove(const struct hamt__kt *kt, uint64_t owner, struct ctree *t,
                    const void *key, struct ctree **out, const void **lk,
                    void **lv);
/*
 * A balanced tree of the n >= 2 entries kv[0..2n-1] (key, value pairs in
 * strictly increasing key order); NULL with errno = ENOMEM.
 */
struct ctree *hamt__ct_build(void *const *kv, size_t n);
/* Bytes of the blocks of t's nodes, its header not included (stats.c). */
size_t hamt__ct_node_bytes(const struct ctree *t);
/* Calls fn on every entry in key order; stops at fn's first non-zero. */
int hamt__ct_walk(const struct ctree *t,
                  int (*fn)(const void *key, void *val, void *ctx), void *ctx);
/* Equal keys (in order) and values (a == b, or veq when not NULL). */
bool hamt__ct_equal(const struct hamt__kt *kt, const struct ctree *a,
                    const struct ctree *b, hamt_value_equal_fn veq, void *ctx);
/*
 * hamt_diff() of two trees: fn for each key only in a (removed), only in
 * b (added), or in both with values that are not the same.  Returns fn's
 * first non-zero value, or 0.
 */
int hamt__ct_diff(const struct hamt__kt *kt, const struct ctree *a,
                  const struct ctree *b, hamt_value_equal_fn veq, void *vctx,
                  hamt_diff_fn fn, void *ctx);
/*
 * One step of hamt_iter over the tree t: *last is the node last given
 * (NULL before the first).  False at the end.
 */
bool hamt__ct_iter(const struct hamt__kt *kt, const struct ctree *t,
                   const void **last, const void **key, void **val);
/*
 * Checks the tree: keys strictly increasing, heights and balance right,
 * count right and >= 2, every key of hash `h`.  0 or a hamt__validate()
 * code; adds the keys to *count.
 */
int hamt__ct_validate(const struct hamt__kt *kt, const struct ctree *t,
                      uint64_t h, size_t *count);

#endif /* HAMT_CTREE_H */
