/*
 * node.c - the CHAMP node encoding: bitmap nodes, collision nodes, and the
 * copy-with-one-change constructors that path copying is built from.
 *
 * The layout.  This is the one drawing of it; internal.h, node.h and
 * ops.c refer here.
 *
 * A bitmap node (struct node):
 *
 *   +----------+----------+------+------+-----+------+------+-----+
 *   | datamap  | nodemap  | k0   | v0   | ... | kE-1 | vE-1 | c0 .. cC-1
 *   +----------+----------+------+------+-----+------+------+-----+
 *     32 bits    32 bits    E = popcount(datamap) entries, then
 *                           C = popcount(nodemap) child pointers
 *
 * A map version (struct hamt, internal.h) is one collector object: the
 * header, then its root node in the same block.
 *
 *   +----------+----------+ +----------+----------+--------------------+
 *   | kt       | size     | | datamap  | nodemap  | slots[] ...        |
 *   +----------+----------+ +----------+----------+--------------------+
 *
 * So a lookup pays no extra pointer hop for the root and an update
 * allocates one object fewer.  The root node of a map is never shared with
 * another map (only its children are), which is what makes this safe.
 *
 * A collision node (struct cnode): [count | unused | k0 v0 k1 v1 ...].
 *
 * Bit f of datamap: the key whose fragment at this level is f is stored
 * inline; bit f of nodemap: a child node holds the keys with fragment f.
 * Entries and children are each in fragment order, so the position of
 * fragment f is popcount(map & ((1 << f) - 1)) - one popcount instruction
 * (the library is compiled with -mpopcnt where the CPU has it, so that it
 * is one; see configure.ac).  Entries first, children after: a lookup that
 * ends at an inline entry reads only the front of the node.
 *
 * A collision node (struct cnode) holds keys whose full 64-bit hashes are
 * equal; it sits only at depth HAMT_COLLISION_DEPTH (13), below the last
 * bitmap level, so the depth says which kind a child is and no tag is
 * needed.  Its entries are unordered; lookups scan them.  A key type with
 * an order (compare) has a collision tree there instead (ctree.c): the key
 * type says which, so again no tag is needed.
 *
 * Sizes.  A node of E entries and C children takes 8 + 16E + 8C bytes, a
 * collision node of K entries 8 + 16K, and each is followed by the 7-byte
 * owner tail (node.h) that says which batch, if any, may still write it.
 * The collector adds one byte to each request and rounds up to 16-byte
 * granules: 8 + 16k + 7 + 1 is exactly 16(k + 1), and 16k + 7 + 1 fits in
 * 16(k + 1) too, so the tail takes bytes that would be slack anyway and a
 * node costs what it would without it (at most 15 bytes over its slots).
 *
 * Invariants (checked by hamt__validate() in debug.c):
 *   N1  datamap & nodemap == 0.
 *   N2  every entry and every key below a child has, at this level, the
 *       fragment its bit says.
 *   N3  canonical shape: the trie holding a set of keys is unique.  For a
 *       fragment with exactly one key below it, the key is inline; with two
 *       or more, a child holds them.  So every non-root bitmap node holds at
 *       least two keys in its subtree, and after a remove a child left with
 *       one key is pulled up into its parent as an inline entry (map.c,
 *       REMOVE_SINGLE).  Two maps with the same keys have the same shape
 *       whatever the order of the updates, which lets equality compare
 *       node by node.
 *   N4  a collision node holds two or more entries, with distinct keys.
 *   N5  nodes reachable from a published map are never written again.
 *       Every function here but the *_in_place ones returns a fresh node
 *       (owner tail 0) and writes nothing of its input; the *_in_place
 *       ones are for batches.  Only a live batch writes nodes in place, and
 *       only those whose tail carries its own id (batch.c).
 *   N6  a pointer-free block (node.h, ND_ATOMIC: a childless node or a
 *       collision node of a map whose values are scalars) never holds a
 *       child pointer, nor a key or value the collector must see: the
 *       constructors choose the kind from the shape they build, and a batch
 *       never adds a child to such a node in place (map.c, map_change).
 *       Its memory comes zeroed like scanned memory (hamt__alloc_leaf
 *       zeroes it on every path, gc.c), so an owner tail that no one wrote
 *       reads 0 wherever it ends up: hamt__cn_append_room relies on that
 *       for the tail past its spare room.
 *
 * Function families: hamt__nd_* build bitmap nodes, hamt__cn_* collision
 * nodes.  All return NULL with errno = ENOMEM when allocation fails, having
 * changed nothing.
 */
#include "node.h"

#include <string.h>

#include "ctree.h"

struct node *
hamt__nd_alloc(size_t pre, unsigned ne, unsigned nc, bool scalar)
{
    return nd_alloc_room(pre, ne, nc, 0, scalar);
}

struct node *
hamt__nd_copy(size_t pre, const struct node *n, bool scalar)
{
    return nd_clone(pre, n, scalar);
}

struct node *
hamt__nd_replace(size_t pre, const struct node *n, unsigned slot, void *word,
                 bool scalar)
{
    struct node *c = hamt__nd_copy(pre, n, scalar);

    if (c != NULL) {
        c->slots[slot] = word;
    }
    return c;
}

struct node *
hamt__nd_set_value(size_t pre, const struct node *n, uint32_t bit, void *val,
                   bool scalar)
{
    return hamt__nd_replace(pre, n, 2 * nd_entry_index(n, bit) + 1, val,
                            scalar);
}

struct node *
hamt__nd_change(size_t pre, size_t room, const struct node *n,
                enum nd_change op, uint32_t bit, const void *key, void *val,
                bool scalar)
{
    return nd_change(pre, room, n, op, bit, key, val, scalar);
}

bool
hamt__nd_change_in_place(size_t pre, struct node *n, enum nd_change op,
                         uint32_t bit, const void *key, void *val)
{
    unsigned ne, nc;
    size_t old_end = nd_bytes(nd_nentries(n), nd_nchildren(n));
    /* Room for the largest node: 32 entries (64 words). */
    union {
        struct node n;
        unsigned char b[sizeof(struct node) + 2 * HAMT_FANOUT * sizeof(void *)];
    } tmp;

    nd_changed_counts(n, op, &ne, &nc);
    size_t new_end = nd_bytes(ne, nc);
    if (pre + new_end + HAMT_OWNER_BYTES
        > hamt__alloc_usable((char *)n - pre)) {
        return false;
    }
    nd_compose(&tmp.n, n, op, bit, key, val);
    n->datamap = tmp.n.datamap;
    n->nodemap = tmp.n.nodemap;
    nd_words(n->slots, tmp.n.slots, 2 * (size_t)ne + nc);
    if (old_end > new_end) {
        /* Shrunk: clear the old words, so that the collector, which scans
         * the whole block, does not keep what they pointed to alive. */
        memset((char *)n + new_end, 0, old_end - new_end + HAMT_OWNER_BYTES);
    }
    return true;
}

struct node *
hamt__nd_set_child(size_t pre, const struct node *n, uint32_t bit, void *child)
{
    /* n has a child, so the copy is scanned whatever the values are. */
    return hamt__nd_replace(pre, n, nd_child_slot(n, bit), child, false);
}

void *
hamt__nd_pair(const struct hamt__kt *kt, unsigned shift, const void *k1,
              void *v1, uint64_t h1, const void *k2, void *v2, uint64_t h2,
              bool scalar)
{
    struct node *n;

    if (nd_is_collision_shift(shift) && ct_ordered(kt)) {
        return hamt__ct_pair(kt, 0, k1, v1, k2, v2); /* ctree.c */
    }
    if (nd_is_collision_shift(shift)) {
        struct cnode *c = hamt__cn_alloc(2, scalar);
        if (c == NULL) {
            return NULL;
        }
        c->slots[0] = (void *)(uintptr_t)k1;
        c->slots[1] = v1;
        c->slots[2] = (void *)(uintptr_t)k2;
        c->slots[3] = v2;
        return c;
    }
    uint32_t f1 = nd_frag(h1, shift), f2 = nd_frag(h2, shift);
    if (f1 == f2) {
        void *child = hamt__nd_pair(kt, shift + HAMT_BITS, k1, v1, h1, k2, v2,
                                    h2, scalar);
        if (child == NULL) {
            return NULL;
        }
        n = hamt__nd_alloc(0, 0, 1, scalar);
        if (n == NULL) {
            return NULL; /* `child` becomes garbage; nothing saw it. */
        }
        n->datamap = 0;
        n->nodemap = UINT32_C(1) << f1;
        n->slots[0] = child;
        return n;
    }
    n = hamt__nd_alloc(0, 2, 0, scalar);
    if (n == NULL) {
        return NULL;
    }
    n->datamap = (UINT32_C(1) << f1) | (UINT32_C(1) << f2);
    n->nodemap = 0;
    if (f1 > f2) {
        const void *tk = k1;
        void *tv = v1;
        k1 = k2;
        v1 = v2;
        k2 = tk;
        v2 = tv;
    }
    n->slots[0] = (void *)(uintptr_t)k1;
    n->slots[1] = v1;
    n->slots[2] = (void *)(uintptr_t)k2;
    n->slots[3] = v2;
    return n;
}

struct cnode *
hamt__cn_alloc(uint32_t count, bool scalar)
{
    size_t end = sizeof(struct cnode) + 2 * (size_t)count * sizeof(void *);
    struct cnode *c;

    /* A collision node holds no children: pointer-free for scalar maps. */
    if (scalar) {
        c = hamt__alloc_leaf(end + HAMT_OWNER_BYTES);
    } else {
        c = hamt__alloc(end + HAMT_OWNER_BYTES);
    }
    if (c != NULL) {
        c->count = count;
    }
    return c;
}

struct cnode *
hamt__cn_set_value(const struct cnode *c, uint32_t i, void *val, bool scalar)
{
    struct cnode *d = hamt__cn_alloc(c->count, scalar);

    if (d != NULL) {
        memcpy(d->slots, c->slots, 2 * (size_t)c->count * sizeof(void *));
        d->slots[2 * i + 1] = val;
    }
    return d;
}

struct cnode *
hamt__cn_append_room(const struct cnode *c, const void *key, void *val,
                     uint32_t room, bool scalar)
{
    struct cnode *d = hamt__cn_alloc(c->count + 1 + room, scalar);

    if (d != NULL) {
        d->count = c->count + 1;
        memcpy(d->slots, c->slots, 2 * (size_t)c->count * sizeof(void *));
        d->slots[2 * c->count] = (void *)(uintptr_t)key;
        d->slots[2 * c->count + 1] = val;
    }
    return d;
}

bool
hamt__cn_append_in_place(struct cnode *c, const void *key, void *val)
{
    size_t end =
        sizeof(struct cnode) + 2 * ((size_t)c->count + 1) * sizeof(void *);

    if (end + HAMT_OWNER_BYTES > hamt__alloc_usable(c)) {
        return false;
    }
    c->slots[2 * c->count] = (void *)(uintptr_t)key;
    c->slots[2 * c->count + 1] = val;
    c->count++;
    return true;
}

void
hamt__cn_remove_in_place(struct cnode *c, uint32_t i)
{
    uint32_t last = c->count - 1;

    /* Keep the order of the rest, as hamt__cn_remove() does: a batch must
     * give the map the same operations give one by one, down to the
     * order of iteration. */
    memmove(&c->slots[2 * i], &c->slots[2 * i + 2],
            2 * (size_t)(last - i) * sizeof(void *));
    /* Clear the freed words and the old tail, so that the collector, which
     * scans the whole block, does not keep the removed key alive. */
    memset(&c->slots[2 * last], 0, 2 * sizeof(void *) + HAMT_OWNER_BYTES);
    c->count = last;
}

struct cnode *
hamt__cn_remove(const struct cnode *c, uint32_t i, bool scalar)
{
    struct cnode *d = hamt__cn_alloc(c->count - 1, scalar);

    if (d != NULL) {
        memcpy(d->slots, c->slots, 2 * (size_t)i * sizeof(void *));
        memcpy(d->slots + 2 * i, c->slots + 2 * i + 2,
               2 * (size_t)(c->count - i - 1) * sizeof(void *));
    }
    return d;
}
