/*
 * gc_fast.h - the allocation fast path, inline (see gc.c, "The allocation
 * path", for the per-thread lists and the rules that make them safe).
 *
 * A persistent update allocates one node per level of its path.  Out of
 * line, each of those allocations is a call besides its pop; node.h's
 * constructors, which map.c's persistent paths expand in place, pop from
 * this thread's list here instead.  Everything else (a thread's first
 * allocation, refills, sizes beyond the lists, the test hooks, builds
 * without the collector) stays in gc.c.
 */
#ifndef HAMT_GC_FAST_H
#define HAMT_GC_FAST_H

#include "internal.h"

#include "atomic.h"

#ifndef HAMT_NO_GC
/* The collector's granule (GC_GRANULE_BYTES, checked in gc.c). */
#define HAMT__GC_GRANULE 16
/*
 * Scanned objects of up to this many granules come from the per-thread
 * lists: the collector's small objects (at most half of a 4 KiB block).
 */
#define HAMT__GC_FL_GRANULES 128

/*
 * Per-thread free lists of scanned objects.  head[g] lists free objects
 * of g granules, linked through their first word; the rest of each object
 * is zero.
 */
struct hamt__gc_fl {
    HAMT_ATOMIC(void *) head[HAMT__GC_FL_GRANULES + 1];
    HAMT_ATOMIC(void *) leaf[HAMT__GC_FL_GRANULES + 1]; /* the leaf kind */
};

/*
 * This thread's lists (gc.c says when it points at an empty set instead).
 * Initial-exec: a fixed offset from the thread pointer instead of a
 * __tls_get_addr call on every allocation (gc.c gives the reasons this
 * model is sound here).
 */
#if defined(__GNUC__)
extern _Thread_local struct hamt__gc_fl *hamt__gc_fl_mine
    __attribute__((tls_model("initial-exec")));
#else
extern _Thread_local struct hamt__gc_fl *hamt__gc_fl_mine;
#endif

/*
 * Everything but a pop from a non-empty list (gc.c): zeroed memory of n
 * bytes, of the leaf kind if leaf; NULL with errno = ENOMEM.
 */
void *hamt__gc_alloc_slow(size_t n, bool leaf);

/*
 * Takes the first object of a list that `first` has just been read from
 * (non-NULL).  The object is zero but for its link word, which is cleared
 * here, so the caller gets zeroed memory as from GC_MALLOC.
 */
static inline __attribute__((always_inline)) void *
hamt__gc_fl_pop(HAMT_ATOMIC(void *) *head, void *first)
{
    /* ORDER: relaxed; only this thread writes the head.  The word is
     * atomic because the collector's markers read it (scanning the
     * uncollectable block) and in incremental mode they may do so while
     * this thread runs: they need an untorn value, old or new, and either
     * is safe, since `first` stays in a register or on this stack, which
     * the collector scans too.  Pairs with nothing. */
    hamt__store_rlx(head, *(void **)first);
    *(void **)first = NULL;
    return first;
}

/*
 * The fast path of both kinds: a pop from this thread's list of n's
 * granule count (its leaf lists if leaf), else the slow path.  Inlined
 * into each caller so that leaf is a constant and the common path needs
 * no stack frame of its own.
 */
static inline __attribute__((always_inline)) void *
hamt__gc_fl_fast(size_t n, bool leaf)
{
    struct hamt__gc_fl *fl = hamt__gc_fl_mine;
    /* The collector adds one byte to each request (see gc.c). */
    size_t g = (n + HAMT__GC_GRANULE) / HAMT__GC_GRANULE;

    if (HAMT_LIKELY(g <= HAMT__GC_FL_GRANULES)) {
        HAMT_ATOMIC(void *) *head = leaf ? &fl->leaf[g] : &fl->head[g];
        /* ORDER: relaxed; this thread is the only writer
         * (hamt__gc_fl_pop). */
        void *p = hamt__load_rlx(head);

        if (HAMT_LIKELY(p != NULL)) {
            return hamt__gc_fl_pop(head, p);
        }
    }
    return hamt__gc_alloc_slow(n, leaf);
}
#endif /* !HAMT_NO_GC */

/*
 * hamt__alloc(n), or hamt__alloc_leaf(n) if leaf, with the pop inline.
 * The test hooks (which count and fail allocations) and builds without
 * the collector take the out-of-line functions.
 */
static inline __attribute__((always_inline)) void *
hamt__alloc_inline(size_t n, bool leaf)
{
#if defined(HAMT_NO_GC) || defined(HAMT_TEST_HOOKS)
    return leaf ? hamt__alloc_leaf(n) : hamt__alloc(n);
#else
    return hamt__gc_fl_fast(n, leaf);
#endif
}

#endif /* HAMT_GC_FAST_H */
