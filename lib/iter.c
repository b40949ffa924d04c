/*
 * iter.c - iteration without allocation.
 *
 * The trie has at most HAMT_LEVELS bitmap levels and one collision level,
 * so an explicit stack of HAMT_ITER_DEPTH (node, position) pairs fits in the
 * caller's struct hamt_iter: no allocation, no recursion.  No locking is
 * needed either: every node reachable from a map is immutable (N5 in
 * node.c), so an iterator sees exactly the map it was started on, whatever
 * other threads publish meanwhile.  The iterator holds the map pointer
 * (priv_map) as well as the node pointers, so a registered thread that
 * keeps the iterator on its stack keeps the whole version alive.
 *
 * Stack frame d describes the node at depth d: priv_pos[d] counts first the
 * node's entries, then its children.  Depth HAMT_COLLISION_DEPTH frames are
 * collision nodes.  Order: entries of a node before its children, children
 * in fragment order - stable for a given map.
 *
 * A collision tree (ctree.c, key types with an order) may be deeper than
 * the frames left, so it gets none: its frame at HAMT_COLLISION_DEPTH holds
 * the tree, and the spare frame after it the node last given (priv_pos of
 * the tree's frame says whether one was), from which hamt__ct_iter finds
 * the next in key order.
 */
#include "node.h"

#include "ctree.h"

_Static_assert(HAMT_ITER_DEPTH > HAMT_COLLISION_DEPTH + 1,
               "the iterator stack must reach the collision level, and hold "
               "a collision tree's last node after it");

void
hamt__iter_init(struct hamt_iter *it, const struct hamt *m)
{
    it->priv_map = m;
    if (m == NULL) {
        it->priv_depth = -1;
        return;
    }
    it->priv_node[0] = hamt__root(m);
    it->priv_pos[0] = 0;
    it->priv_depth = 0;
}

bool
hamt__iter_next(struct hamt_iter *it, const void **key, void **val)
{
    while (it->priv_depth >= 0) {
        int d = it->priv_depth;
        uint32_t p = it->priv_pos[d];
        void *const *slots;

        if (d == HAMT_COLLISION_DEPTH
            && ct_ordered(((const struct hamt *)it->priv_map)->kt)) {
            const void **last = &it->priv_node[d + 1];
            if (p == 0) {
                *last = NULL;
                it->priv_pos[d] = 1;
            }
            const void *k;
            void *v;
            if (!hamt__ct_iter(((const struct hamt *)it->priv_map)->kt,
                               it->priv_node[d], last, &k, &v)) {
                it->priv_depth--;
                continue;
            }
            if (key != NULL) {
                *key = k;
            }
            if (val != NULL) {
                *val = v;
            }
            return true;
        }
        if (d == HAMT_COLLISION_DEPTH) {
            const struct cnode *c = it->priv_node[d];
            if (p >= c->count) {
                it->priv_depth--;
                continue;
            }
            slots = c->slots;
        } else {
            const struct node *n = it->priv_node[d];
            unsigned ne = nd_nentries(n), nc = nd_nchildren(n);
            if (p >= ne) {
                if (p == ne) {
                    /*
                     * About to descend into the children: prefetch them
                     * all, so their cache misses overlap instead of
                     * coming one per child.
                     */
                    for (unsigned j = 0; j < nc; j++) {
                        const char *c = n->slots[2 * ne + j];
                        __builtin_prefetch(c);
                        __builtin_prefetch(c + 64);
                    }
                }
                if (p >= ne + nc) {
                    it->priv_depth--;
                    continue;
                }
                it->priv_pos[d] = p + 1;
                it->priv_node[d + 1] = n->slots[2 * ne + (p - ne)];
                it->priv_pos[d + 1] = 0;
                it->priv_depth = d + 1;
                continue;
            }
            slots = n->slots;
        }
        it->priv_pos[d] = p + 1;
        if (key != NULL) {
            *key = slots[2 * p];
        }
        if (val != NULL) {
            *val = slots[2 * p + 1];
        }
        return true;
    }
    return false;
}
