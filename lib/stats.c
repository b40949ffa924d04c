/*
 * stats.c - the shape and memory of a map's trie (stats.h): a depth-first
 * walk that counts nodes by kind, the bytes of their blocks and of the
 * key copies, and the entries under each root slot.
 *
 * Block sizes come from hamt__alloc_block_size() (gc.c), so that the
 * collector stays behind gc.c.  Which keys are copies follows the rule of
 * map.c's key store: string and byte-string maps store a private
 * pointer-free copy of each key; the other kinds store the caller's word.
 */
#include "node.h"
#include "stats.h"

#include <string.h>

#include "ctree.h"

struct walk {
    struct hamt__stats *st;
    const struct hamt__kt *kt;
    bool copies; /* the key slots point to copies the map owns */
};

/* Counts the subtree `p` at `shift`; its block starts at `blk`. */
static size_t
stats_walk(struct walk *w, const void *blk, const void *p, unsigned shift)
{
    struct hamt__stats *st = w->st;
    size_t entries = 0;
    unsigned level = shift / HAMT_BITS;

    st->node_bytes += hamt__alloc_block_size(blk);
    if (level > st->depth) {
        st->depth = level;
    }
    if (nd_is_collision_shift(shift) && ct_ordered(w->kt)) {
        /* A collision tree (ctree.c): its header was counted above. */
        st->collision_nodes++;
        st->node_bytes += hamt__ct_node_bytes(p);
        return (size_t)((const struct ctree *)p)->count;
    }
    if (nd_is_collision_shift(shift)) {
        const struct cnode *c = p;
        st->collision_nodes++;
        for (uint32_t i = 0; w->copies && i < c->count; i++) {
            st->key_bytes += hamt__alloc_block_size(c->slots[2 * i]);
        }
        return c->count;
    }
    const struct node *n = p;
    unsigned ne = nd_nentries(n);
    st->nodes++;
    for (unsigned i = 0; w->copies && i < ne; i++) {
        st->key_bytes += hamt__alloc_block_size(nd_key(n, i));
    }
    entries += ne;
    /* Entries and children each come in fragment order (node.h). */
    unsigned ei = 0, ci = 0;
    for (uint32_t f = 0; f < HAMT_FANOUT; f++) {
        uint32_t bit = UINT32_C(1) << f;
        size_t under = 0;
        if (n->datamap & bit) {
            under = 1;
            ei++;
        } else if (n->nodemap & bit) {
            const void *c = n->slots[2 * ne + ci++];
            under = stats_walk(w, c, c, shift + HAMT_BITS);
            entries += under;
        }
        if (shift == 0) {
            st->root_slots[f] = under;
        }
    }
    return entries;
}

int
hamt__stats(const struct hamt *m, struct hamt__stats *st)
{
    if (m == NULL || st == NULL) {
        errno = EINVAL;
        return -1;
    }
    memset(st, 0, sizeof *st);
    if (m->size == 0) {
        return 0;
    }
    struct walk w = {
        .st = st,
        .kt = m->kt,
        .copies =
            m->kt->kind == HAMT_KEY_STRING || m->kt->kind == HAMT_KEY_BYTES,
    };
    st->entries = stats_walk(&w, m, hamt__root(m), 0);
    return 0;
}
