/*
 * stats.h - the shape and memory of one map's trie, for the tests and the
 * bench (bench/adapt_hamt.c, bench/balance.c).  Not installed, not
 * exported (no HAMT_API): a caller links the convenience library
 * lib/libhamt_core.la, as the tests do.
 *
 * The bench gives libhamt only its public API, like every competitor; the
 * two figures it cannot get from there (the bytes the collector holds for
 * a map's nodes, and how evenly the keys spread over the root's 32 slots)
 * come from this one function rather than from a copy of the trie walk.
 */
#ifndef HAMT_STATS_H
#define HAMT_STATS_H

#include <stddef.h>

#include "hamt.h"

struct hamt__stats {
    size_t entries;         /* key-value pairs: hamt_size(m) */
    size_t nodes;           /* bitmap nodes, the root included */
    size_t collision_nodes; /* nodes of keys sharing all 64 hash bits */
    /*
     * Bytes the allocator holds for the nodes: each block's whole slot
     * (GC_size, the collector's extra byte included; malloc_usable_size
     * with the collector off).  The root node shares its block with the
     * map header, which is counted with it.
     */
    size_t node_bytes;
    /* The same for the map's own copies of string and byte-string keys. */
    size_t key_bytes;
    /* Entries under each slot of the root: the keys whose hash has those
     * low 5 bits.  They add up to `entries`. */
    size_t root_slots[32];
    unsigned depth; /* levels below the root holding a node (0: root only) */
};

/*
 * hamt__stats - walk the trie of @m and fill @st.
 * Returns 0, or -1 with errno = EINVAL when @m or @st is NULL.  An empty
 * map reports zeros throughout: the shared empty map of a key kind belongs
 * to no one map, so its bytes are not counted.
 * Thread safety: any thread, like every read of an immutable map.
 * Cost: one visit of every node (and every key copy), O(size of the map).
 */
int hamt__stats(const struct hamt *m, struct hamt__stats *st);

#endif /* HAMT_STATS_H */
