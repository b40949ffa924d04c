/*
 * atomic.h - the only file of libhamt that includes <stdatomic.h>.
 *
 * Every cross-thread access in the library goes through the wrappers
 * below, and each wrapper names its memory order in its own name, so a
 * reader of the calling code sees the order without looking here; the
 * exceptions are thread.c's claim (acq_rel compare-and-swap), slot_link
 * (weak compare-and-swap) and the collector hook's seq_cst fence, which
 * call <stdatomic.h> with the order spelled out at the call.  The
 * call site still carries an ORDER: comment saying why that order is
 * enough and which operation it pairs with (STYLE.md section 5).
 *
 * The orders used, and what each is for:
 *
 *   acquire  (hamt__load_acq, hamt__xchg_acq)   A reader's load of a
 *            published pointer or flag (the cell's record, the slot chunk
 *            list, a combiner request's state, init_errno, the leaf kind).
 *            Everything written before the matching release (the
 *            record, the map, every node reachable from it) is visible
 *            after it.  Compiles to a plain load on x86-64 and to LDAR
 *            on AArch64: the read path pays nothing extra.
 *
 *   release  (hamt__store_rel, hamt__xchg_rel, hamt__cas_rel)  Giving up
 *            a hazard slot or a chunk of slots (thread.c, cell.c),
 *            completing or handing off a combiner request (combine.c), and
 *            publishing a once-only set-up result (hamt.c, gc.c): what the
 *            writer wrote before is visible to whoever reads the word next
 *            with an acquire or seq_cst access.
 *
 *   seq_cst  (hamt__store_sc, hamt__load_sc, hamt__cas_sc,
 *            hamt__add_sc, hamt__sub_sc)  The store/load "Dekker" pattern
 *            (also combine.c's busy flag and push, proof C5) between a
 *            writer (publish, then look at the waiter count) and a waiter
 *            (count itself, then look at the version).  Release/acquire
 *            alone lets both sides read the old value of the other's
 *            word, which would lose a wake-up; only a single total order
 *            over the four accesses rules that out.  cell.c explains the
 *            interleaving where it is used.
 *
 *   relaxed  (hamt__load_rlx, hamt__add_rlx, hamt__store_rlx,
 *            hamt__cas_rlx)  Words that publish no other memory: the
 *            batch's owner-id counter, whose values only need to be
 *            distinct; the slot code's hints, each checked again by a
 *            stronger access; and in combine.c and gc.c one-word state
 *            transitions, statistics and thread-private list heads (the
 *            ORDER: comments at the call sites say how).
 *
 * Objects are declared with HAMT_ATOMIC(type), which is C11 _Atomic; a
 * plain access to such an object would be seq_cst and is never written on
 * purpose: every access names its order.
 */
#ifndef HAMT_ATOMIC_H
#define HAMT_ATOMIC_H

#include <stdatomic.h>

#define HAMT_ATOMIC(T) _Atomic(T)

/* Initialise an atomic object that no other thread can see yet. */
#define hamt__atomic_init(p, v) atomic_init((p), (v))

#define hamt__load_acq(p) atomic_load_explicit((p), memory_order_acquire)
#define hamt__load_sc(p) atomic_load_explicit((p), memory_order_seq_cst)
#define hamt__load_rlx(p) atomic_load_explicit((p), memory_order_relaxed)

#define hamt__store_rlx(p, v)                                                  \
    atomic_store_explicit((p), (v), memory_order_relaxed)
#define hamt__store_rel(p, v)                                                  \
    atomic_store_explicit((p), (v), memory_order_release)
#define hamt__store_sc(p, v)                                                   \
    atomic_store_explicit((p), (v), memory_order_seq_cst)

/*
 * Strong compare-and-swap: seq_cst on success (a release publication that
 * also takes part in the waiter handshake) and on failure: the cell's
 * callers need only acquire there (they read the record that won), but
 * combine.c's proof (C5) counts a failed CAS on `busy` as a seq_cst load
 * in the single total order.  The same instructions either way on x86-64
 * (LOCK CMPXCHG) and AArch64 (CASAL, or an LDAXR/STLXR loop).  Returns
 * true on success; on failure *expp holds the current value.
 */
#define hamt__cas_sc(p, expp, v)                                               \
    atomic_compare_exchange_strong_explicit(                                   \
        (p), (expp), (v), memory_order_seq_cst, memory_order_seq_cst)

#define hamt__add_sc(p, v)                                                     \
    atomic_fetch_add_explicit((p), (v), memory_order_seq_cst)
#define hamt__sub_sc(p, v)                                                     \
    atomic_fetch_sub_explicit((p), (v), memory_order_seq_cst)
#define hamt__add_rlx(p, v)                                                    \
    atomic_fetch_add_explicit((p), (v), memory_order_relaxed)

/*
 * Used by combine.c (flat combining): the request list and the request
 * state words.  Each call site says why its order is enough.
 */
#define hamt__xchg_acq(p, v)                                                   \
    atomic_exchange_explicit((p), (v), memory_order_acquire)
#define hamt__xchg_rel(p, v)                                                   \
    atomic_exchange_explicit((p), (v), memory_order_release)
/* Strong CAS, relaxed on success and failure: a flag on one word only. */
#define hamt__cas_rlx(p, expp, v)                                              \
    atomic_compare_exchange_strong_explicit(                                   \
        (p), (expp), (v), memory_order_relaxed, memory_order_relaxed)
/* Strong CAS, release on success (hands data over), relaxed on failure. */
#define hamt__cas_rel(p, expp, v)                                              \
    atomic_compare_exchange_strong_explicit(                                   \
        (p), (expp), (v), memory_order_release, memory_order_relaxed)

#endif /* HAMT_ATOMIC_H */
