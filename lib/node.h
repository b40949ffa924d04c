/*
 * node.h - inline accessors of the CHAMP node encoding (see node.c for the
 * layout and the canonical-shape invariants).
 */
#ifndef HAMT_NODE_H
#define HAMT_NODE_H

#include "internal.h"

#include <string.h>

#include "gc_fast.h"

/* The 5-bit fragment of hash h used at `shift` (0, 5, ..., 60). */
static inline uint32_t
nd_frag(uint64_t h, unsigned shift)
{
    return (uint32_t)(h >> shift) & HAMT_MASK;
}

static inline uint32_t
nd_bit(uint64_t h, unsigned shift)
{
    return UINT32_C(1) << nd_frag(h, shift);
}

static inline unsigned
nd_popcount(uint32_t x)
{
    return (unsigned)__builtin_popcount(x);
}

/* Number of inline entries and of children. */
static inline unsigned
nd_nentries(const struct node *n)
{
    return nd_popcount(n->datamap);
}

static inline unsigned
nd_nchildren(const struct node *n)
{
    return nd_popcount(n->nodemap);
}

/* Index of the entry for `bit` among the entries (bit must be in datamap). */
static inline unsigned
nd_entry_index(const struct node *n, uint32_t bit)
{
    return nd_popcount(n->datamap & (bit - 1));
}

/* Slot index of the child for `bit` (bit must be in nodemap). */
static inline unsigned
nd_child_slot(const struct node *n, uint32_t bit)
{
    return 2 * nd_nentries(n) + nd_popcount(n->nodemap & (bit - 1));
}

static inline const void *
nd_key(const struct node *n, unsigned i)
{
    return n->slots[2 * i];
}

static inline void *
nd_val(const struct node *n, unsigned i)
{
    return n->slots[2 * i + 1];
}

static inline void *
nd_child(const struct node *n, uint32_t bit)
{
    return n->slots[nd_child_slot(n, bit)];
}

/* Bytes of a bitmap node with ne entries and nc children. */
static inline size_t
nd_bytes(unsigned ne, unsigned nc)
{
    return sizeof(struct node) + (2 * (size_t)ne + nc) * sizeof(void *);
}

/*
 * The owner tail.  Every node is allocated HAMT_OWNER_BYTES longer than its
 * slots: the 56-bit id of the batch (batch.c) that created it, or 0 for a
 * node built by a persistent update.  A node's size is 8 + 16E + 8C bytes
 * and the collector adds one byte and rounds up to 16, so 7 bytes fit in
 * the slack of every size: the tail costs no memory (see node.c).  Only a
 * live batch whose id matches may write the node; ids are never reused.
 * The tail is read and written byte by byte, so its value does not depend
 * on the machine's byte order.
 */
#define HAMT_OWNER_BYTES 7
#define HAMT_OWNER_MAX ((UINT64_C(1) << (8 * HAMT_OWNER_BYTES)) - 1)
_Static_assert(HAMT_OWNER_BYTES == 7, "nd_tail_get/set name each byte");

/*
 * Written out byte by byte rather than as a loop: gcc at -O2 keeps the
 * loop (several instructions per byte, on every level of every batch
 * update), while it merges the written-out bytes into a few wide loads
 * and stores, whatever the machine's byte order.
 */
static inline uint64_t
nd_tail_get(const unsigned char *t)
{
    return (uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16
           | (uint64_t)t[3] << 24 | (uint64_t)t[4] << 32 | (uint64_t)t[5] << 40
           | (uint64_t)t[6] << 48;
}

static inline void
nd_tail_set(unsigned char *t, uint64_t id)
{
    t[0] = (unsigned char)id;
    t[1] = (unsigned char)(id >> 8);
    t[2] = (unsigned char)(id >> 16);
    t[3] = (unsigned char)(id >> 24);
    t[4] = (unsigned char)(id >> 32);
    t[5] = (unsigned char)(id >> 40);
    t[6] = (unsigned char)(id >> 48);
}

/* The owner tail of a bitmap node, just past its last slot. */
static inline unsigned char *
nd_tail(const struct node *n)
{
    return (unsigned char *)(uintptr_t)n
           + nd_bytes(nd_nentries(n), nd_nchildren(n));
}

/* The owner tail of a collision node. */
static inline unsigned char *
cn_tail(const struct cnode *c)
{
    return (unsigned char *)(uintptr_t)c + sizeof(struct cnode)
           + 2 * (size_t)c->count * sizeof(void *);
}

/*
 * Pointer-free nodes.  A map made by hamt_new_scalar() declares that its
 * values are not pointers it must keep alive, and its keys are integers in
 * the word (HAMT_KEY_U64).  A node of such a map that has no children then
 * holds nothing the collector must follow, so it is allocated pointer-free
 * (hamt__alloc_leaf: the collector reads only its first word, which holds
 * the bitmaps or a count - or, for a root node, the map header's key-type
 * pointer, a static object for these maps; gc.c).  Every
 * constructor below takes the map's `scalar` flag and applies this rule to
 * the node it builds; a node with a child is always scanned.  The one way
 * a child could enter a pointer-free block is an in-place change by a
 * batch (map.c refuses it: it rebuilds such a node as a scanned one).  So:
 * a pointer-free block never holds a child (invariant N6 in node.c).
 */
#define ND_ATOMIC(scalar, nc) ((scalar) && (nc) == 0)

/*
 * Inline construction.  A persistent update copies one node per level of
 * its path.  As a call into node.c that copy also pays the call and the
 * saving and restoring of registers its caller already holds, so map.c's
 * persistent paths use the inline versions below; the hamt__nd_* functions
 * of node.c wrap them for every other caller.
 *
 * A node of ne entries and nc children with `room` spare bytes after it,
 * zeroed (so its owner tail is 0).  Pointer-free (ND_ATOMIC above) when
 * the map's values are scalars and the node has no children (N6).
 */
static inline __attribute__((always_inline)) struct node *
nd_alloc_room(size_t pre, unsigned ne, unsigned nc, size_t room, bool scalar)
{
    size_t end = pre + nd_bytes(ne, nc);
    char *block;

    /* Two calls, not one with ND_ATOMIC() as the argument: each inlined
     * pop then has its list set as a constant. */
    if (ND_ATOMIC(scalar, nc)) {
        block = hamt__alloc_inline(end + HAMT_OWNER_BYTES + room, true);
    } else {
        block = hamt__alloc_inline(end + HAMT_OWNER_BYTES + room, false);
    }
    if (block == NULL) {
        return NULL;
    }
    return (struct node *)(block + pre);
}

/*
 * Copies n words.  The count passes through an empty asm so that the
 * compiler cannot bound it: for a copy whose size it knows to be small (a
 * node has at most 64 slots) GCC emits an inline `rep movsq`, whose
 * start-up costs more than a whole short copy by the C library's memcpy,
 * which moves vectors.  Every node copy goes through here.
 */
static inline void
nd_words(void **dst, void *const *src, size_t n)
{
#if defined(__GNUC__)
    __asm__("" : "+r"(n));
#endif
    memcpy(dst, src, n * sizeof(void *));
}

/* A copy of n with `pre` bytes in front; NULL with ENOMEM. */
static inline __attribute__((always_inline)) struct node *
nd_clone(size_t pre, const struct node *n, bool scalar)
{
    unsigned ne = nd_nentries(n), nc = nd_nchildren(n);
    struct node *c = nd_alloc_room(pre, ne, nc, 0, scalar);

    if (c != NULL) {
        c->datamap = n->datamap;
        c->nodemap = n->nodemap;
        nd_words(c->slots, n->slots, 2 * (size_t)ne + nc);
    }
    return c;
}

/*
 * Path copying: path[0 .. depth - 1], each node the parent of the next,
 * copied from the bottom up, each with slots[slot[d]] pointing to the copy
 * below it and the lowest to `sub`; the top copy has `pre` bytes in front.
 * Returns the top copy (sub itself when depth is 0), or NULL with
 * errno = ENOMEM: the copies made so far are garbage nothing points to.
 */
static inline __attribute__((always_inline)) struct node *
nd_copy_path(size_t pre, struct node *const *path, const unsigned *slot,
             unsigned depth, void *sub)
{
    while (depth > 0) {
        depth--;
        /* path[depth] has a child, so the copy is scanned whatever the
         * values are. */
        struct node *c = nd_clone(depth == 0 ? pre : 0, path[depth], false);
        if (c == NULL) {
            return NULL;
        }
        c->slots[slot[depth]] = sub;
        sub = c;
    }
    return sub;
}

/*
 * Constructors.  Each returns a new node (never modifying its input), or
 * NULL with errno = ENOMEM.  `pre` bytes are reserved in front of the node
 * in the same block (sizeof(struct hamt) for a root node, 0 otherwise); the
 * returned pointer is the node, `pre` bytes into the block.
 */
/* A zeroed node of ne entries and nc children (tail 0). */
struct node *hamt__nd_alloc(size_t pre, unsigned ne, unsigned nc, bool scalar);
struct node *hamt__nd_copy(size_t pre, const struct node *n, bool scalar);
/*
 * n with slots[slot] replaced by `word` (a value, or a child: then n has
 * children and the copy is scanned whatever `scalar` says).
 */
struct node *hamt__nd_replace(size_t pre, const struct node *n, unsigned slot,
                              void *word, bool scalar);
struct node *hamt__nd_set_value(size_t pre, const struct node *n, uint32_t bit,
                                void *val, bool scalar);
/* The changes of shape: an entry or a child appears or disappears. */
enum nd_change {
    ND_INSERT_ENTRY,   /* (key, val) becomes the entry for bit */
    ND_REMOVE_ENTRY,   /* the entry for bit goes */
    ND_ENTRY_TO_CHILD, /* the entry for bit becomes the child `val` */
    ND_CHILD_TO_ENTRY  /* the child for bit becomes the entry (key, val) */
};
/*
 * Writes into dst the node n with one change of shape at fragment `bit`
 * (see enum nd_change); `val` is the new child for ND_ENTRY_TO_CHILD.
 * dst must not overlap n and must have room for the new shape.
 */
static inline __attribute__((always_inline)) void
nd_compose(struct node *dst, const struct node *n, enum nd_change op,
           uint32_t bit, const void *key, void *val)
{
    /*
     * Entries and children lie in one array, so whatever stays on each
     * side of the change is one contiguous run in both nodes: each case
     * is at most three copies (runs may be empty).
     */
    size_t ne = nd_nentries(n), nc = nd_nchildren(n);
    size_t i = nd_popcount(n->datamap & (bit - 1)); /* entry position */
    size_t j = nd_popcount(n->nodemap & (bit - 1)); /* child position */
    void *const *s = n->slots;
    void **d = dst->slots;

    switch (op) {
    case ND_INSERT_ENTRY:
        nd_words(d, s, 2 * i);
        d[2 * i] = (void *)(uintptr_t)key;
        d[2 * i + 1] = val;
        nd_words(d + 2 * i + 2, s + 2 * i, 2 * (ne - i) + nc);
        dst->datamap = n->datamap | bit;
        dst->nodemap = n->nodemap;
        return;
    case ND_REMOVE_ENTRY:
        nd_words(d, s, 2 * i);
        nd_words(d + 2 * i, s + 2 * i + 2, 2 * (ne - i - 1) + nc);
        dst->datamap = n->datamap & ~bit;
        dst->nodemap = n->nodemap;
        return;
    case ND_ENTRY_TO_CHILD:
        /* Entries without the one that moves down, the children before
         * fragment position j, the new child, the rest. */
        nd_words(d, s, 2 * i);
        nd_words(d + 2 * i, s + 2 * i + 2, 2 * (ne - i - 1) + j);
        d[2 * (ne - 1) + j] = val;
        nd_words(d + 2 * (ne - 1) + j + 1, s + 2 * ne + j, nc - j);
        dst->datamap = n->datamap & ~bit;
        dst->nodemap = n->nodemap | bit;
        return;
    case ND_CHILD_TO_ENTRY:
        nd_words(d, s, 2 * i);
        d[2 * i] = (void *)(uintptr_t)key;
        d[2 * i + 1] = val;
        nd_words(d + 2 * i + 2, s + 2 * i, 2 * (ne - i) + j);
        nd_words(d + 2 * (ne + 1) + j, s + 2 * ne + j + 1, nc - j - 1);
        dst->datamap = n->datamap | bit;
        dst->nodemap = n->nodemap & ~bit;
        return;
    }
    HAMT_UNREACHABLE(); /* every enum nd_change is a case above */
}

/* Entries and children after the change. */
static inline __attribute__((always_inline)) void
nd_changed_counts(const struct node *n, enum nd_change op, unsigned *ne,
                  unsigned *nc)
{
    *ne = nd_nentries(n);
    *nc = nd_nchildren(n);
    switch (op) {
    case ND_INSERT_ENTRY:
        ++*ne;
        break;
    case ND_REMOVE_ENTRY:
        --*ne;
        break;
    case ND_ENTRY_TO_CHILD:
        --*ne;
        ++*nc;
        break;
    case ND_CHILD_TO_ENTRY:
        ++*ne;
        --*nc;
        break;
    }
}

/*
 * hamt__nd_change (declared below), inline where `op` is a constant: the
 * bottom node of a persistent update (see "Inline construction" above).
 */
static inline __attribute__((always_inline)) struct node *
nd_change(size_t pre, size_t room, const struct node *n, enum nd_change op,
          uint32_t bit, const void *key, void *val, bool scalar)
{
    unsigned ne, nc;
    struct node *c;

    nd_changed_counts(n, op, &ne, &nc);
    c = nd_alloc_room(pre, ne, nc, room, scalar);
    if (c != NULL) {
        nd_compose(c, n, op, bit, key, val);
    }
    return c;
}

/*
 * A new node: n with the change, with `room` spare bytes after its owner
 * tail (batches leave room to grow in place; persistent updates 0).
 */
struct node *hamt__nd_change(size_t pre, size_t room, const struct node *n,
                             enum nd_change op, uint32_t bit, const void *key,
                             void *val, bool scalar);
/*
 * The same change made in n itself, when its block (starting `pre` bytes
 * before n) has room for the new shape: true, or false having changed
 * nothing.  Batches only, on nodes they own; the caller rewrites the owner
 * tail (it moves with the end of the slots).  Bytes freed by a shrink are
 * zeroed.
 */
bool hamt__nd_change_in_place(size_t pre, struct node *n, enum nd_change op,
                              uint32_t bit, const void *key, void *val);
struct node *hamt__nd_set_child(size_t pre, const struct node *n, uint32_t bit,
                                void *child);
/*
 * A subtree holding two entries with different keys, starting at `shift`
 * (a collision node when shift has passed the last level).  Returns the
 * subtree root (a struct node, or at the collision depth a struct cnode,
 * or a struct ctree when kt has an order).
 */
void *hamt__nd_pair(const struct hamt__kt *kt, unsigned shift, const void *k1,
                    void *v1, uint64_t h1, const void *k2, void *v2,
                    uint64_t h2, bool scalar);

/* Collision nodes. */
struct cnode *hamt__cn_alloc(uint32_t count, bool scalar);
struct cnode *hamt__cn_set_value(const struct cnode *c, uint32_t i, void *val,
                                 bool scalar);
/* c plus (key, val), with room for `room` more entries (batches). */
struct cnode *hamt__cn_append_room(const struct cnode *c, const void *key,
                                   void *val, uint32_t room, bool scalar);
/*
 * Batches only, on a collision node they own: append in place when the
 * block has room (false, having changed nothing, when not), or remove
 * entry i (count > 2) by shifting the later entries down, so that the
 * order is the one hamt__cn_remove() gives.  The caller rewrites the owner
 * tail, which moves with the count.
 */
bool hamt__cn_append_in_place(struct cnode *c, const void *key, void *val);
void hamt__cn_remove_in_place(struct cnode *c, uint32_t i);
struct cnode *hamt__cn_remove(const struct cnode *c, uint32_t i, bool scalar);

/* True for the shift of a child that is a collision node. */
static inline bool
nd_is_collision_shift(unsigned shift)
{
    return shift >= HAMT_BITS * HAMT_LEVELS;
}

#endif /* HAMT_NODE_H */
