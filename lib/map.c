/*
 * map.c - persistent map operations by path copying: get, set, remove and
 * equal.  Keys are handled through keys.c (hamt__key_*).
 *
 * Which nodes get copied.  An update walks from the root to the node that
 * holds (or will hold) the key, and copies exactly the nodes on that path,
 * each with one slot changed; every other subtree is shared, by pointer,
 * with the input map.  The root node is copied into a new map block (header
 * + root, drawn in node.c), so an update allocates depth + 1 objects at most
 * (plus the pair subtree when two keys first meet, plus a key copy for
 * string and byte-string keys).  Nothing reachable from the input map is
 * written (invariant N5 in node.c); a failed allocation leaves garbage that
 * nothing points to, which the collector reclaims.
 *
 * The identity rule.  An update that changes nothing returns its input
 * pointer and allocates nothing: set with a key already bound to the very
 * same value word, removal of an absent key.  Callers and the cell rely on
 * it to skip publication, and equality relies on it to short-circuit.
 * Removing the last key returns the key type's one shared empty map.
 *
 * Canonical shape after a removal: a subtree left with one key is pulled up
 * into its parent (REMOVE_SINGLE below), so shapes never depend on history.
 *
 * Function families:
 *   map_get_*     lookup, specialised per kind (no allocation, no lock),
 *                 and batched lookup with prefetching
 *   map_owns, map_mine*, map_retire, map_room, map_change, map_commit
 *                 the edit: which nodes a batch may write in place, and the
 *                 nodes it replaced, freed once an update succeeds
 *   map_set_*     insertion / replacement (batches)
 *   map_remove_*  removal (batches)
 *   map_pset*, map_premove*, map_path_copy
 *                 persistent updates (owner 0: hamt_set, hamt_remove): one
 *                 iterative descent, then the path copied bottom-up
 *   map_eq_*      structural equality
 *   hamt__*       the internal entry points (internal.h) that hamt.c,
 *                 ops.c and batch.c call
 *
 * References: Bagwell, "Ideal Hash Trees" (2001); Steindorfer and Vinju,
 * "Optimizing Hash-Array Mapped Tries for Fast and Lean Immutable JVM
 * Collections" (CHAMP, OOPSLA 2015); CPython's Python/hamt.c.
 */
#include "node.h"

#include <string.h>

#include "ctree.h"

/* ---- lookup ---- */

/*
 * Ask for the rest of node n while its first line is being read: the slot
 * a descent needs is found from the bitmaps in that first line, and would
 * otherwise be a second dependent miss (a full node of 32 slots spans five
 * lines; the owner tail that batches check is at its end).  The first line
 * itself is read at once by the caller, so prefetching it too only adds
 * an instruction (the bench showed it slower).  Prefetching past the end
 * of a small node only reads memory nearby; a prefetch never faults.  The
 * bench's single-thread lookup section is where this shows.
 */
static inline void
map_prefetch_whole(const void *n)
{
    const char *p = n;

    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
    __builtin_prefetch(p + 192);
    __builtin_prefetch(p + 256);
}

/*
 * A key's hash and key equality, with `ints` (integer or pointer keys) a
 * constant at every call site, so that those keys hash and compare inline
 * and the others call the key type's functions.
 */
static inline __attribute__((always_inline)) uint64_t
map_hash(const struct hamt__kt *kt, const void *key, bool ints)
{
    return ints ? hamt__hash_u64((uint64_t)(uintptr_t)key)
                : hamt__key_hash(kt, key);
}

static inline __attribute__((always_inline)) bool
map_key_eq(const struct hamt__kt *kt, const void *stored, const void *key,
           bool ints)
{
    return ints ? stored == key : hamt__key_eq(kt, stored, key);
}

/*
 * The collision level of a lookup: the keys of collision node (or ordered
 * collision tree) n whose hashes all equal the key's.  Out of line, so
 * that the descent calls nothing on its common path.
 */
static __attribute__((noinline, cold)) bool
map_get_collision(const struct hamt__kt *kt, const void *n, const void *key,
                  void **val)
{
    const struct cnode *c = n;

    if (ct_ordered(kt)) {
        return hamt__ct_get(kt, (const struct ctree *)n, key, val);
    }
    for (uint32_t i = 0; i < c->count; i++) {
        if (hamt__key_eq(kt, c->slots[2 * i], key)) {
            if (val != NULL) {
                *val = c->slots[2 * i + 1];
            }
            return true;
        }
    }
    return false;
}

/*
 * Lookup specialised by kind: `kind` is a constant at each call site, so the
 * hash and equality inline.  Reads only immutable nodes: no lock, no
 * allocation, no write.
 */
static inline __attribute__((always_inline)) bool
map_get_kind(const struct hamt *m, const void *key, void **val,
             enum hamt_key_kind kind)
{
    const struct hamt__kt *kt = m->kt;
    const struct node *n = hamt__root(m);
    bool ints = hamt__kind_int(kind);
    /* The hash's unused fragments: the lowest five bits index this level. */
    uint64_t h = map_hash(kt, key, ints);
    unsigned left = HAMT_LEVELS; /* bitmap levels below and at n */

    /*
     * A child first: on every level but the last one of a descent the key
     * goes on down, so that test decides alone there.  Every instruction
     * counts: a processor overlaps the cache misses of consecutive lookups
     * only as far as its window of instructions reaches.
     */
    for (;;) {
        uint32_t bit = UINT32_C(1) << (h & HAMT_MASK);
        uint32_t nodemap = n->nodemap;
        if (nodemap & bit) {
            n = n->slots[2 * nd_popcount(n->datamap)
                         + nd_popcount(nodemap & (bit - 1))];
            map_prefetch_whole(n);
            if (HAMT_UNLIKELY(--left == 0)) {
                /* n is at the collision depth (nd_is_collision_shift). */
                return map_get_collision(kt, n, key, val);
            }
            h >>= HAMT_BITS;
            continue;
        }
        if (!(n->datamap & bit)) {
            return false;
        }
        unsigned i = nd_entry_index(n, bit);
        if (!map_key_eq(kt, nd_key(n, i), key, ints)) {
            return false;
        }
        if (val != NULL) {
            *val = nd_val(n, i);
        }
        return true;
    }
}

/*
 * One function per family (hamt__get in internal.h picks), each with a
 * frame of its own: integer and pointer keys (one code: the kind only
 * decides how a key hashes and compares) call nothing on their common path
 * and so save no register, while the other kinds call their hash and
 * equality functions.  Inlined together, every lookup paid for the saves
 * the others need.
 */
bool
hamt__get_int(const struct hamt *m, const void *key, void **val)
{
    return map_get_kind(m, key, val, HAMT_KEY_U64);
}

bool
hamt__get_custom(const struct hamt *m, const void *key, void **val)
{
    return map_get_kind(m, key, val, HAMT_KEY_CUSTOM);
}

/*
 * Batched lookup.  A single lookup at 1M keys is bound by dependent cache
 * misses: each level's node address comes from the previous level.  Lookups
 * of different keys are independent, so map_get_group walks a group of keys
 * level by level: it prefetches the next node of every key in the group,
 * then processes each key one level, by which time its node is (mostly) in
 * cache.  The misses of the group overlap instead of adding up.
 *
 * A lookup needs a node's first two lines (bitmaps and the slots after
 * them); asking for all five lines of 16 nodes at once only queues up
 * misses, and hamt_get_many is slower for it.  A walk ahead of updates
 * (`whole`) wants whole nodes, which the updates then read for their owner
 * tails and copy, and hamt_batch_set_many is faster for prefetching them
 * whole.  The bench's "single" (get_many) and "edits" (batch) sections
 * show both.
 */

static size_t
map_get_group(const struct hamt *m, size_t n, const void *const *keys,
              void **vals, bool *found, bool whole, uint64_t *hashes)
{
    const struct hamt__kt *kt = m->kt;
    const void *node[HAMT_GET_GROUP];
    uint64_t h[HAMT_GET_GROUP];
    unsigned live[HAMT_GET_GROUP];
    unsigned nlive = 0, shift = 0;
    size_t hits = 0;
    bool ints = hamt__kind_int(kt->kind);

    for (unsigned i = 0; i < n; i++) {
        h[i] = map_hash(kt, keys[i], ints);
        if (hashes != NULL) {
            hashes[i] = h[i];
        }
        node[i] = hamt__root(m);
        found[i] = false;
        live[nlive++] = i;
    }
    while (nlive > 0) {
        unsigned still = 0;
        if (nd_is_collision_shift(shift)) {
            /*
             * A walk ahead of updates stops here: the update searches the
             * collision level itself, and a second search would double
             * the cost of a batch of colliding keys (found[] stays false).
             */
            for (unsigned j = 0; !whole && j < nlive; j++) {
                unsigned i = live[j];
                const struct cnode *c = node[i];
                if (ct_ordered(kt)) {
                    if (hamt__ct_get(kt, node[i], keys[i],
                                     vals != NULL ? &vals[i] : NULL)) {
                        found[i] = true;
                        hits++;
                    }
                    continue;
                }
                for (uint32_t e = 0; e < c->count; e++) {
                    if (hamt__key_eq(kt, c->slots[2 * e], keys[i])) {
                        if (vals != NULL) {
                            vals[i] = c->slots[2 * e + 1];
                        }
                        found[i] = true;
                        hits++;
                        break;
                    }
                }
            }
            break;
        }
        for (unsigned j = 0; j < nlive; j++) {
            unsigned i = live[j];
            const struct node *nd = node[i];
            uint32_t bit = nd_bit(h[i], shift);
            if (nd->datamap & bit) {
                unsigned e = nd_entry_index(nd, bit);
                const void *k = nd_key(nd, e);
                if (map_key_eq(kt, k, keys[i], ints)) {
                    if (vals != NULL) {
                        vals[i] = nd_val(nd, e);
                    }
                    found[i] = true;
                    hits++;
                }
            } else if (nd->nodemap & bit) {
                if (whole && shift != 0 && nd->datamap == 0
                    && nd->nodemap == bit) {
                    /*
                     * A chain node (one child, no entry): keys whose
                     * hashes share a long prefix, as colliding keys do.
                     * Their path is one line per level and in cache once
                     * the first of them is set, so walking it ahead only
                     * doubles the update's own walk: stop here.
                     */
                    continue;
                }
                node[i] = nd_child(nd, bit);
                __builtin_prefetch(node[i]);
                if (whole) {
                    map_prefetch_whole(node[i]);
                } else {
                    __builtin_prefetch((const char *)node[i] + 64);
                }
                live[still++] = i;
            }
        }
        nlive = still;
        shift += HAMT_BITS;
    }
    return hits;
}

size_t
hamt__get_many(const struct hamt *m, size_t n, const void *const *keys,
               void **vals, bool *found, bool whole, uint64_t *hashes)
{
    size_t hits = 0;

    for (size_t i = 0; i < n; i += HAMT_GET_GROUP) {
        size_t g = n - i < HAMT_GET_GROUP ? n - i : HAMT_GET_GROUP;
        hits +=
            map_get_group(m, g, keys + i, vals != NULL ? vals + i : NULL,
                          found + i, whole, hashes != NULL ? hashes + i : NULL);
    }
    return hits;
}

/* ---- edits: persistent updates and batches ---- */

/*
 * One update, persistent or inside a batch.  A persistent update has
 * owner 0 and copies every node on the path.  A batch update carries the
 * batch's id: a node whose owner tail (node.h) holds that id was created by
 * this batch and never seen by anyone else, so it is written in place, and
 * a node of the batch that an update replaces is retired - given back to
 * the collector once the whole update has succeeded.
 *
 * Failure atomicity.  The nodes a batch owns are closed upwards: a node is
 * owned only if its parent is (a batch creates a node only while copying or
 * owning the whole path above it).  So once an update writes a node in
 * place, every node above it is owned too and needs at most an in-place
 * pointer store, which cannot fail: each update does all of its
 * allocations before its first write.  Retired nodes are freed only after
 * success, so a failed update leaves the batch exactly as it was.
 */
struct edit {
    uint64_t owner;    /* 0 for a persistent update */
    bool scalar;       /* the map's kt->scalar: pointer-free leaves */
    unsigned nretired; /* blocks to free on success */
    void *retired[HAMT_LEVELS + 2];
};

/* Whether the tail of `tail` says the editing batch owns the node. */
static inline bool
map_owns(const struct edit *ed, const unsigned char *tail)
{
    return ed->owner != 0 && nd_tail_get(tail) == ed->owner;
}

/* Marks a node just built for this edit as owned by the batch. */
static inline struct node *
map_mine(const struct edit *ed, struct node *n)
{
    if (ed->owner != 0 && n != NULL) {
        nd_tail_set(nd_tail(n), ed->owner);
    }
    return n;
}

static inline struct cnode *
map_mine_cn(const struct edit *ed, struct cnode *c)
{
    if (ed->owner != 0 && c != NULL) {
        nd_tail_set(cn_tail(c), ed->owner);
    }
    return c;
}

/* Marks every node of a fresh pair subtree (hamt__nd_pair) as owned. */
static void *
map_mine_pair(const struct edit *ed, void *sub, unsigned shift,
              const struct hamt__kt *kt)
{
    struct node *n = sub;

    if (ed->owner == 0 || sub == NULL) {
        return sub;
    }
    for (;;) {
        if (nd_is_collision_shift(shift)) {
            if (ct_ordered(kt)) {
                hamt__ct_mine((struct ctree *)n, ed->owner);
            } else {
                map_mine_cn(ed, (struct cnode *)n);
            }
            return sub;
        }
        map_mine(ed, n);
        if (n->nodemap == 0) {
            return sub; /* two entries: the bottom of the pair */
        }
        n = n->slots[0]; /* the single child of a chain node */
        shift += HAMT_BITS;
    }
}

/*
 * Notes that `n` (its block starting `pre` bytes earlier) is replaced:
 * freed after the update succeeds if the batch owns it.
 */
static inline void
map_retire(struct edit *ed, const void *n, const unsigned char *tail,
           size_t pre)
{
    if (map_owns(ed, tail)) {
        ed->retired[ed->nretired++] = (char *)(uintptr_t)n - pre;
    }
}

/*
 * Spare bytes a batch leaves after a node it rebuilds, so that the next
 * few changes of shape happen in place: a quarter of the node, for nodes of
 * 64 bytes and more (the small nodes near the leaves rarely grow again).
 */
static inline size_t
map_room(const struct node *n)
{
    size_t b = nd_bytes(nd_nentries(n), nd_nchildren(n));

    return b >= 64 ? (b / 4 + 15) & ~(size_t)15 : 0;
}

/*
 * n with a change of shape (node.h).  A persistent update gets a new node.
 * A batch changes n in place when it owns n and n's block has room, and
 * otherwise gets a new node of its own, with room to grow, retiring n.
 */
static struct node *
map_change(struct edit *ed, struct node *n, size_t pre, enum nd_change op,
           uint32_t bit, const void *key, void *val)
{
    struct node *r;

    if (ed->owner == 0) {
        return hamt__nd_change(pre, 0, n, op, bit, key, val, ed->scalar);
    }
    /*
     * N6: a childless node of a scalar map may be pointer-free; a child
     * must not be stored in it, so it is rebuilt (as a scanned node).
     */
    if (map_owns(ed, nd_tail(n))
        && !(op == ND_ENTRY_TO_CHILD && ND_ATOMIC(ed->scalar, nd_nchildren(n)))
        && hamt__nd_change_in_place(pre, n, op, bit, key, val)) {
        nd_tail_set(nd_tail(n), ed->owner); /* the tail moved */
        return n;
    }
    r = hamt__nd_change(pre, map_room(n), n, op, bit, key, val, ed->scalar);
    if (r != NULL) {
        nd_tail_set(nd_tail(r), ed->owner);
        map_retire(ed, n, nd_tail(n), pre);
    }
    return r;
}

/* The update succeeded: free what it replaced. */
static void
map_commit(struct edit *ed)
{
    for (unsigned i = 0; i < ed->nretired; i++) {
        hamt__free(ed->retired[i]);
    }
    ed->nretired = 0;
}

/* ---- set ---- */

struct set_ctx {
    const struct hamt__kt *kt;
    const void *key; /* the caller's key */
    void *val;
    uint64_t h;
    bool added;      /* out: a new key was inserted */
    struct edit *ed; /* the batch edit, or a persistent one (owner 0) */
};

/* The collision tree `t` with the key set (ctree.c); t itself if unchanged
 * or changed in place. */
static void *
map_set_ctree(struct set_ctx *sc, struct ctree *t)
{
    struct ctree *out;
    int rc = hamt__ct_set(sc->kt, sc->ed->owner, t, sc->key, sc->val, &out);

    if (rc < 0) {
        return NULL;
    }
    sc->added = rc == 1;
    return out;
}

/* The collision node `c` with the key set; c itself if unchanged. */
static void *
map_set_cnode(struct set_ctx *sc, struct cnode *c)
{
    const void *stored;
    struct cnode *d;

    for (uint32_t i = 0; i < c->count; i++) {
        if (hamt__key_eq(sc->kt, c->slots[2 * i], sc->key)) {
            if (c->slots[2 * i + 1] == sc->val) {
                return c;
            }
            if (map_owns(sc->ed, cn_tail(c))) {
                c->slots[2 * i + 1] = sc->val;
                return c;
            }
            return map_mine_cn(
                sc->ed, hamt__cn_set_value(c, i, sc->val, sc->ed->scalar));
        }
    }
    if (!hamt__key_store(sc->kt, sc->key, &stored)) {
        return NULL;
    }
    if (map_owns(sc->ed, cn_tail(c))
        && hamt__cn_append_in_place(c, stored, sc->val)) {
        nd_tail_set(cn_tail(c), sc->ed->owner); /* the tail moved */
        sc->added = true;
        return c;
    }
    /* A batch leaves room to append in place: half the entries again,
     * so that n appends copy O(n) entries in all, not O(n^2). */
    d = map_mine_cn(sc->ed,
                    hamt__cn_append_room(c, stored, sc->val,
                                         sc->ed->owner != 0 ? c->count / 2 : 0,
                                         sc->ed->scalar));
    if (d != NULL) {
        sc->added = true;
        map_retire(sc->ed, c, cn_tail(c), 0);
    }
    return d;
}

/*
 * The node `n` (at `shift`) with the key set: a new node `pre` bytes into its
 * block, n itself if nothing changed or n was changed in place (batches
 * only), or NULL with errno = ENOMEM.
 */
static struct node *
map_set_node(struct set_ctx *sc, struct node *n, size_t pre, unsigned shift)
{
    uint32_t bit = nd_bit(sc->h, shift);
    struct edit *ed = sc->ed;
    struct node *r;

    if (ed->owner != 0) {
        /* The owner tail, read on the way back up, is at the node's far
         * end, often another cache line: start loading it now. */
        __builtin_prefetch(nd_tail(n), 1);
    }

    if (n->datamap & bit) {
        unsigned i = nd_entry_index(n, bit);
        const void *k = nd_key(n, i);
        if (hamt__key_eq(sc->kt, k, sc->key)) {
            if (nd_val(n, i) == sc->val) {
                return n;
            }
            if (map_owns(ed, nd_tail(n))) {
                n->slots[2 * i + 1] = sc->val;
                return n;
            }
            return map_mine(
                ed, hamt__nd_set_value(pre, n, bit, sc->val, ed->scalar));
        }
        /* Two keys meet: the old entry moves down into a pair subtree. */
        const void *stored;
        if (!hamt__key_store(sc->kt, sc->key, &stored)) {
            return NULL;
        }
        void *child = hamt__nd_pair(sc->kt, shift + HAMT_BITS, k, nd_val(n, i),
                                    hamt__key_hash(sc->kt, k), stored, sc->val,
                                    sc->h, ed->scalar);
        if (map_mine_pair(ed, child, shift + HAMT_BITS, sc->kt) == NULL) {
            return NULL;
        }
        r = map_change(ed, n, pre, ND_ENTRY_TO_CHILD, bit, NULL, child);
    } else if (n->nodemap & bit) {
        unsigned slot = nd_child_slot(n, bit);
        void *child = n->slots[slot];
        map_prefetch_whole(child);
        void *nc;
        unsigned cshift = shift + HAMT_BITS;
        if (nd_is_collision_shift(cshift)) {
            nc = ct_ordered(sc->kt) ? map_set_ctree(sc, child)
                                    : map_set_cnode(sc, child);
        } else {
            nc = map_set_node(sc, child, 0, cshift);
        }
        if (nc == child) {
            return n;
        }
        if (nc == NULL) {
            return NULL;
        }
        if (map_owns(ed, nd_tail(n))) {
            n->slots[slot] = nc; /* the new child, built by this batch */
            return n;
        }
        return map_mine(ed, hamt__nd_set_child(pre, n, bit, nc));
    } else {
        const void *stored;
        if (!hamt__key_store(sc->kt, sc->key, &stored)) {
            return NULL;
        }
        r = map_change(ed, n, pre, ND_INSERT_ENTRY, bit, stored, sc->val);
    }
    if (r != NULL) {
        sc->added = true;
    }
    return r;
}

/* Fills in the header of a map whose root node `root` was just built. */
static struct hamt *
map_finish(struct node *root, const struct hamt__kt *kt, size_t size)
{
    struct hamt *m = (struct hamt *)((char *)root - sizeof(struct hamt));

    m->kt = kt;
    m->size = size;
    return m;
}

int
hamt__edit_set_hashed(struct hamt **pm, uint64_t owner, const void *key,
                      void *val, uint64_t h)
{
    struct hamt *m = *pm;
    /* Not zeroed as a whole: retired[] is written before it is read. */
    struct edit ed;
    struct set_ctx sc = {
        .kt = m->kt,
        .key = key,
        .val = val,
        .h = h,
        .added = false,
        .ed = &ed,
    };
    struct node *root = hamt__root(m);
    struct node *nr;

    ed.owner = owner;
    ed.scalar = m->kt->scalar;
    ed.nretired = 0;
    nr = map_set_node(&sc, root, sizeof(struct hamt), 0);
    if (nr == NULL) {
        return -1;
    }
    if (nr == root) {
        /* Unchanged, or changed in place: then the root block is owned. */
        if (sc.added) {
            m->size++;
        }
    } else {
        *pm = map_finish(nr, m->kt, m->size + (sc.added ? 1 : 0));
    }
    map_commit(&ed);
    return sc.added ? 1 : 0;
}

/* ---- remove ---- */

/* Outcomes of removing a key from a subtree. */
enum remove_result {
    REMOVE_NOTFOUND, /* the key is absent; nothing allocated */
    REMOVE_NEWNODE,  /* dc->node is the subtree without the key */
    REMOVE_SINGLE,   /* one key is left (dc->k, dc->v): pull it up */
    REMOVE_NOMEM     /* allocation failed; errno = ENOMEM */
};

struct del_ctx {
    const struct hamt__kt *kt;
    const void *key;
    uint64_t h;
    void *node;      /* out, REMOVE_NEWNODE (the input node if changed
                        in place) */
    const void *k;   /* out, REMOVE_SINGLE */
    void *v;         /* out, REMOVE_SINGLE */
    struct edit *ed; /* the batch edit, or a persistent one (owner 0) */
};

static enum remove_result
map_remove_cnode(struct del_ctx *dc, struct cnode *c)
{
    if (ct_ordered(dc->kt)) {
        struct ctree *out;
        switch (hamt__ct_remove(dc->kt, dc->ed->owner, (struct ctree *)c,
                                dc->key, &out, &dc->k, &dc->v)) {
        case 0:
            return REMOVE_NOTFOUND;
        case 1:
            dc->node = out;
            return REMOVE_NEWNODE;
        case 2:
            return REMOVE_SINGLE;
        default:
            return REMOVE_NOMEM;
        }
    }
    for (uint32_t i = 0; i < c->count; i++) {
        if (!hamt__key_eq(dc->kt, c->slots[2 * i], dc->key)) {
            continue;
        }
        if (c->count > 2 && map_owns(dc->ed, cn_tail(c))) {
            /* A batch's own node: the later entries shift down. */
            hamt__cn_remove_in_place(c, i);
            nd_tail_set(cn_tail(c), dc->ed->owner); /* the tail moved */
            dc->node = c;
            return REMOVE_NEWNODE;
        }
        map_retire(dc->ed, c, cn_tail(c), 0);
        if (c->count == 2) {
            /* N4: a collision node never holds one entry. */
            dc->k = c->slots[2 * (1 - i)];
            dc->v = c->slots[2 * (1 - i) + 1];
            return REMOVE_SINGLE;
        }
        dc->node = map_mine_cn(dc->ed, hamt__cn_remove(c, i, dc->ed->scalar));
        return dc->node != NULL ? REMOVE_NEWNODE : REMOVE_NOMEM;
    }
    return REMOVE_NOTFOUND;
}

/*
 * Removes the key from node `n` at `shift`.  The root (`pre` != 0) never
 * reports REMOVE_SINGLE: it may hold any number of entries.  A node reporting
 * REMOVE_SINGLE or replaced by a new node is retired (freed on success if the
 * batch owns it); failures leave everything as it was (see struct edit).
 */
static enum remove_result
map_remove_node(struct del_ctx *dc, struct node *n, size_t pre, unsigned shift)
{
    uint32_t bit = nd_bit(dc->h, shift);
    bool is_root = pre != 0;
    struct edit *ed = dc->ed;

    if (n->datamap & bit) {
        unsigned i = nd_entry_index(n, bit);
        if (!hamt__key_eq(dc->kt, nd_key(n, i), dc->key)) {
            return REMOVE_NOTFOUND;
        }
        if (!is_root && n->nodemap == 0 && nd_nentries(n) == 2) {
            /* N3: the other entry is the subtree's only key. */
            dc->k = nd_key(n, 1 - i);
            dc->v = nd_val(n, 1 - i);
            map_retire(ed, n, nd_tail(n), pre);
            return REMOVE_SINGLE;
        }
        dc->node = map_change(ed, n, pre, ND_REMOVE_ENTRY, bit, NULL, NULL);
        return dc->node != NULL ? REMOVE_NEWNODE : REMOVE_NOMEM;
    }
    if (!(n->nodemap & bit)) {
        return REMOVE_NOTFOUND;
    }

    unsigned slot = nd_child_slot(n, bit);
    void *child = n->slots[slot];

    map_prefetch_whole(child);
    unsigned cshift = shift + HAMT_BITS;
    enum remove_result r = nd_is_collision_shift(cshift)
                               ? map_remove_cnode(dc, child)
                               : map_remove_node(dc, child, 0, cshift);
    switch (r) {
    case REMOVE_NOTFOUND:
    case REMOVE_NOMEM:
        return r;
    case REMOVE_NEWNODE:
        if (dc->node == child) {
            dc->node = n; /* the child changed in place */
        } else if (map_owns(ed, nd_tail(n))) {
            n->slots[slot] = dc->node;
            dc->node = n;
        } else {
            dc->node = map_mine(ed, hamt__nd_set_child(pre, n, bit, dc->node));
        }
        return dc->node != NULL ? REMOVE_NEWNODE : REMOVE_NOMEM;
    case REMOVE_SINGLE:
        if (!is_root && n->datamap == 0 && nd_nchildren(n) == 1) {
            /* This node would hold just that key: pull it up further. */
            map_retire(ed, n, nd_tail(n), pre);
            return REMOVE_SINGLE;
        }
        dc->node = map_change(ed, n, pre, ND_CHILD_TO_ENTRY, bit, dc->k, dc->v);
        return dc->node != NULL ? REMOVE_NEWNODE : REMOVE_NOMEM;
    }
    HAMT_UNREACHABLE();
    return REMOVE_NOMEM;
}

/* hamt__edit_remove for a batch (owner != 0; owner 0 is map_premove). */
static int
map_edit_remove(struct hamt **pm, uint64_t owner, const void *key)
{
    struct hamt *m = *pm;
    struct edit ed; /* as in hamt__edit_set_hashed */
    struct del_ctx dc = {
        .kt = m->kt,
        .key = key,
        .h = hamt__key_hash(m->kt, key),
        .ed = &ed,
    };

    ed.owner = owner;
    ed.scalar = m->kt->scalar;
    ed.nretired = 0;
    switch (map_remove_node(&dc, hamt__root(m), sizeof(struct hamt), 0)) {
    case REMOVE_NOTFOUND:
        return 0;
    case REMOVE_NOMEM:
        return -1;
    case REMOVE_NEWNODE:
        if (dc.node == hamt__root(m)) {
            m->size--; /* changed in place: the root block is owned */
        } else {
            /* A batch keeps even an empty root: hamt_batch_finish returns
             * the shared empty map for it. */
            *pm = map_finish(dc.node, m->kt, m->size - 1);
        }
        map_commit(&ed);
        return 1;
    case REMOVE_SINGLE:
        break;
    }
    HAMT_UNREACHABLE();
    return -1;
}

/* ---- persistent updates ---- */

/*
 * hamt_set and hamt_remove, and every edit with owner 0, take this path.
 * The general edit above serves batches too and pays on every level for
 * what only they need: owner tails, retirement, changes in place, and a
 * recursion whose result says which of them happened.  A persistent update
 * needs none of that.  It walks down once, iteratively, noting each node it
 * passes and the slot of the child it takes (struct map_path); it builds the
 * new bottom node; then it copies each node above with that one slot
 * replaced, from the bottom up.  Each allocation happens before anything
 * points to its result, so a failed one leaves the input map as it was and
 * only garbage that nothing reaches.  As in map_get_kind, `ints` is a
 * constant at each call site, so integer keys hash and compare inline.
 */
struct map_path {
    struct node *n[HAMT_LEVELS]; /* the bitmap nodes passed, root first */
    unsigned slot[HAMT_LEVELS];  /* the slot of the child taken in each */
};

/*
 * One step down a persistent walk: records the node and the child slot
 * taken (for the copy back up), and returns the child, whose whole node
 * is loaded at once since every node on the path is copied whole.
 */
static inline __attribute__((always_inline)) struct node *
map_step(struct map_path *p, unsigned *depth, unsigned *shift, struct node *n,
         uint32_t bit)
{
    unsigned slot = nd_child_slot(n, bit);
    struct node *child = n->slots[slot];

    p->n[*depth] = n;
    p->slot[*depth] = slot;
    (*depth)++;
    map_prefetch_whole(child);
    *shift += HAMT_BITS;
    return child;
}

/* The edit state of a change nothing owns (the collision levels' code
 * takes one): every node it makes is new, none is retired. */
static inline void
map_edit_unowned(struct edit *ed, const struct hamt__kt *kt)
{
    ed->owner = 0;
    ed->scalar = kt->scalar;
    ed->nretired = 0;
}

/* Bytes in front of a node built at path depth d (the map header). */
static inline size_t
map_pre(unsigned depth)
{
    return depth == 0 ? sizeof(struct hamt) : 0;
}

/*
 * The new map of `size` keys: p->n[0 .. depth - 1] copied, each with its
 * slot p->slot[d] pointing to the copy below it, the lowest to `sub`.  With
 * depth 0, sub is the new root itself.  NULL with errno = ENOMEM.  Inline,
 * with the copy loop of node.h, in each persistent path, which already
 * holds the registers that loop needs.
 */
static inline __attribute__((always_inline)) struct hamt *
map_path_copy(const struct hamt__kt *kt, const struct map_path *p,
              unsigned depth, void *sub, size_t size)
{
    struct node *root;

    if (sub == NULL) {
        return NULL;
    }
    root = nd_copy_path(sizeof(struct hamt), p->n, p->slot, depth, sub);
    return root != NULL ? map_finish(root, kt, size) : NULL;
}

static inline __attribute__((always_inline)) int
map_pset_kind(struct hamt **pm, const void *key, void *val, bool ints)
{
    const struct hamt *m = *pm;
    const struct hamt__kt *kt = m->kt;
    uint64_t h = map_hash(kt, key, ints);
    /* The hash's unused fragments: the lowest five bits index this level
     * (one shift a level, where nd_bit(h, shift) takes two and a multiply
     * of the depth). */
    uint64_t frags = h;
    struct node *n = hamt__root(m);
    unsigned depth = 0, shift = 0;
    const void *stored = key;
    struct map_path p;
    struct hamt *r;
    void *sub;
    int added;

    for (;;) {
        uint32_t bit = UINT32_C(1) << (frags & HAMT_MASK);
        if (n->datamap & bit) {
            unsigned i = nd_entry_index(n, bit);
            const void *k = nd_key(n, i);
            if (map_key_eq(kt, k, key, ints)) {
                if (nd_val(n, i) == val) {
                    return 0; /* the identity rule */
                }
                sub = hamt__nd_replace(map_pre(depth), n, 2 * i + 1, val,
                                       kt->scalar);
                added = 0;
                break;
            }
            /* Two keys meet: the old entry moves down into a pair. */
            if (!ints && !hamt__key_store(kt, key, &stored)) {
                return -1;
            }
            uint64_t kh = map_hash(kt, k, ints);
            void *child = hamt__nd_pair(kt, shift + HAMT_BITS, k, nd_val(n, i),
                                        kh, stored, val, h, kt->scalar);
            if (child == NULL) {
                return -1;
            }
            /* The copy has a child: scanned whatever the values are. */
            sub = nd_change(map_pre(depth), 0, n, ND_ENTRY_TO_CHILD, bit, NULL,
                            child, false);
            added = 1;
            break;
        }
        if (!(n->nodemap & bit)) {
            if (!ints && !hamt__key_store(kt, key, &stored)) {
                return -1;
            }
            sub = nd_change(map_pre(depth), 0, n, ND_INSERT_ENTRY, bit, stored,
                            val, kt->scalar);
            added = 1;
            break;
        }
        n = map_step(&p, &depth, &shift, n, bit);
        frags >>= HAMT_BITS;
        if (HAMT_UNLIKELY(nd_is_collision_shift(shift))) {
            /* As the general edit does it, with nothing owned. */
            struct edit ed;
            struct set_ctx sc = {
                .kt = kt, .key = key, .val = val, .h = h, .ed = &ed};
            map_edit_unowned(&ed, kt);
            sub = ct_ordered(kt) ? map_set_ctree(&sc, (struct ctree *)n)
                                 : map_set_cnode(&sc, (struct cnode *)n);
            if (sub == n) {
                return 0;
            }
            added = sc.added ? 1 : 0;
            break;
        }
    }
    r = map_path_copy(kt, &p, depth, sub, m->size + (size_t)added);
    if (r == NULL) {
        return -1;
    }
    *pm = r;
    return added;
}

/* A persistent set (hamt__edit_set with owner 0); inline in its two
 * callers, so hamt_set's own path has no extra call. */
static inline __attribute__((always_inline)) int
map_pset(struct hamt **pm, const void *key, void *val)
{
    enum hamt_key_kind kind = (*pm)->kt->kind;

    if (hamt__kind_int(kind)) {
        return map_pset_kind(pm, key, val, true);
    }
    return map_pset_kind(pm, key, val, false);
}

static inline __attribute__((always_inline)) int
map_premove_kind(struct hamt **pm, const void *key, bool ints)
{
    const struct hamt *m = *pm;
    const struct hamt__kt *kt = m->kt;
    uint64_t h = map_hash(kt, key, ints);
    uint64_t frags = h; /* as in map_pset_kind */
    struct node *n = hamt__root(m);
    unsigned depth = 0, shift = 0;
    struct map_path p;
    struct hamt *r;
    const void *k1;
    void *v1, *sub;

    for (;;) {
        uint32_t bit = UINT32_C(1) << (frags & HAMT_MASK);
        if (n->datamap & bit) {
            unsigned i = nd_entry_index(n, bit);
            const void *k = nd_key(n, i);
            if (!map_key_eq(kt, k, key, ints)) {
                return 0;
            }
            if (m->size == 1) {
                /* The last key: the key type's shared empty map. */
                *pm = (struct hamt *)(uintptr_t)kt->empty;
                return 1;
            }
            if (depth != 0 && n->nodemap == 0 && nd_nentries(n) == 2) {
                /* N3: the other entry is the subtree's only key. */
                k1 = nd_key(n, 1 - i);
                v1 = nd_val(n, 1 - i);
                goto single;
            }
            sub = nd_change(map_pre(depth), 0, n, ND_REMOVE_ENTRY, bit, NULL,
                            NULL, kt->scalar);
            goto copy;
        }
        if (!(n->nodemap & bit)) {
            return 0;
        }
        n = map_step(&p, &depth, &shift, n, bit);
        frags >>= HAMT_BITS;
        if (HAMT_UNLIKELY(nd_is_collision_shift(shift))) {
            struct edit ed;
            struct del_ctx dc = {.kt = kt, .key = key, .h = h, .ed = &ed};
            map_edit_unowned(&ed, kt);
            switch (map_remove_cnode(&dc, (struct cnode *)n)) {
            case REMOVE_NOTFOUND:
                return 0;
            case REMOVE_NOMEM:
                return -1;
            case REMOVE_NEWNODE:
                sub = dc.node;
                goto copy;
            case REMOVE_SINGLE:
                k1 = dc.k;
                v1 = dc.v;
                goto single;
            }
            HAMT_UNREACHABLE();
        }
    }
single:
    /*
     * One key (k1, v1) is left below p.n[depth - 1]: it goes up to the
     * first node above that keeps something else (N3), the root at the
     * latest, and becomes an entry there; the nodes between vanish.
     */
    while (depth > 1 && p.n[depth - 1]->datamap == 0
           && nd_nchildren(p.n[depth - 1]) == 1) {
        depth--;
    }
    depth--;
    sub = nd_change(map_pre(depth), 0, p.n[depth], ND_CHILD_TO_ENTRY,
                    nd_bit(h, depth * HAMT_BITS), k1, v1, kt->scalar);
copy:
    r = map_path_copy(kt, &p, depth, sub, m->size - 1);
    if (r == NULL) {
        return -1;
    }
    *pm = r;
    return 1;
}

/* A persistent remove (hamt__edit_remove with owner 0); inline in its
 * two callers, as map_pset. */
static inline __attribute__((always_inline)) int
map_premove(struct hamt **pm, const void *key)
{
    enum hamt_key_kind kind = (*pm)->kt->kind;

    if (hamt__kind_int(kind)) {
        return map_premove_kind(pm, key, true);
    }
    return map_premove_kind(pm, key, false);
}

int
hamt__edit_set(struct hamt **pm, uint64_t owner, const void *key, void *val)
{
    if (owner == 0) {
        return map_pset(pm, key, val);
    }
    return hamt__edit_set_hashed(pm, owner, key, val,
                                 hamt__key_hash((*pm)->kt, key));
}

const struct hamt *
hamt__set(const struct hamt *m, const void *key, void *val)
{
    /* Nothing is written in place; r is replaced on a change. */
    struct hamt *r = (struct hamt *)(uintptr_t)m;

    return map_pset(&r, key, val) < 0 ? NULL : r;
}

int
hamt__edit_remove(struct hamt **pm, uint64_t owner, const void *key)
{
    if (owner == 0) {
        return map_premove(pm, key);
    }
    return map_edit_remove(pm, owner, key);
}

const struct hamt *
hamt__remove(const struct hamt *m, const void *key)
{
    /* Nothing is written in place; r is replaced on a change. */
    struct hamt *r = (struct hamt *)(uintptr_t)m;

    return map_premove(&r, key) < 0 ? NULL : r;
}

/* ---- equality ---- */

struct eq_ctx {
    const struct hamt__kt *kt;
    hamt_value_equal_fn veq;
    void *ctx;
};

static bool
map_eq_val(const struct eq_ctx *ec, const void *a, const void *b)
{
    return a == b || (ec->veq != NULL && ec->veq(a, b, ec->ctx));
}

static bool
map_eq_cnode(const struct eq_ctx *ec, const struct cnode *a,
             const struct cnode *b)
{
    HAMT_COUNT_VISIT();
    if (a == b) {
        return true;
    }
    if (a->count != b->count) {
        return false;
    }
    /* Unordered, distinct keys (N4): every key of a must be in b. */
    for (uint32_t i = 0; i < a->count; i++) {
        uint32_t j;
        for (j = 0; j < b->count; j++) {
            if (hamt__key_eq(ec->kt, b->slots[2 * j], a->slots[2 * i])) {
                break;
            }
        }
        if (j == b->count
            || !map_eq_val(ec, a->slots[2 * i + 1], b->slots[2 * j + 1])) {
            return false;
        }
    }
    return true;
}

/*
 * Canonical shape (N3) means equal key sets have equal bitmaps at every
 * node, so the walk compares node by node and skips shared subtrees.
 */
static bool
map_eq_node(const struct eq_ctx *ec, const struct node *a, const struct node *b,
            unsigned shift)
{
    HAMT_COUNT_VISIT();
    if (a == b) {
        return true;
    }
    if (a->datamap != b->datamap || a->nodemap != b->nodemap) {
        return false;
    }
    unsigned ne = nd_nentries(a), nc = nd_nchildren(a);
    for (unsigned i = 0; i < ne; i++) {
        if (!hamt__key_eq(ec->kt, nd_key(a, i), nd_key(b, i))
            || !map_eq_val(ec, nd_val(a, i), nd_val(b, i))) {
            return false;
        }
    }
    unsigned cshift = shift + HAMT_BITS;
    for (unsigned j = 0; j < nc; j++) {
        const void *ca = a->slots[2 * ne + j], *cb = b->slots[2 * ne + j];
        bool eq = !nd_is_collision_shift(cshift)
                      ? map_eq_node(ec, ca, cb, cshift)
                  : ct_ordered(ec->kt)
                      ? hamt__ct_equal(ec->kt, ca, cb, ec->veq, ec->ctx)
                      : map_eq_cnode(ec, ca, cb);
        if (!eq) {
            return false;
        }
    }
    return true;
}

bool
hamt__equal(const struct hamt *a, const struct hamt *b, hamt_value_equal_fn veq,
            void *ctx)
{
    struct eq_ctx ec = {.kt = a->kt, .veq = veq, .ctx = ctx};

    if (a->kt != b->kt) {
        return false; /* maps of different key types are never equal */
    }
    if (a == b) {
        return true;
    }
    if (a->size != b->size) {
        return false;
    }
    return map_eq_node(&ec, hamt__root(a), hamt__root(b), 0);
}
