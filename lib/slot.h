/*
 * slot.h - hazard slots for readers the collector does not know
 * (thread.c owns them; cell.c runs the protocol that fills them).
 *
 * A slot is one word in memory that the collector reads as a root in every
 * collection (thread.c pushes every slot from its push-other-roots hook).
 * A reader stores the cell record it is about to read into a slot, checks
 * that the cell still holds it, and clears the slot when it is done; the
 * proof is in cell.c (S1-S8).  The struct is the public, opaque
 * struct hamt_snapshot: a caller holds a pointer to its slot.
 */
#ifndef HAMT_SLOT_H
#define HAMT_SLOT_H

#include "internal.h"

#include "atomic.h"

struct slot_chunk;

struct hamt_snapshot {
    /*
     * The protected record, or NULL when the slot is free.  Written only by
     * the owning thread; read by the collector (thread.c, slot_push_roots).
     */
    HAMT_ATOMIC(void *) rec;
    struct slot_chunk *chunk; /* Immutable: the chunk holding this slot. */
    unsigned index;           /* Immutable: its index in the chunk. */
};

/*
 * A free slot of the calling thread, marked in use; NULL with errno ENOMEM
 * (the first slot of a thread, or one past all it owns, needs a chunk).
 * The steady path takes no lock, allocates nothing and writes no shared
 * word.  Calls nothing of the collector.
 */
struct hamt_snapshot *hamt__slot_get(void);

/*
 * Clears `s` (release) and gives it back to its thread.  -1 with errno
 * EINVAL if `s` is not a slot the calling thread holds.
 */
int hamt__slot_put(struct hamt_snapshot *s);

/*
 * Installs the collector hook that scans the slots (once per process) and
 * decides whether the collector's mode allows slot readers.  Called from
 * registered threads only (hamt_cell_new).  Returns 0, or -1 with errno.
 */
int hamt__slots_setup(void);

/* 0 if slot readers are allowed, else the errno to fail with (ENOTSUP). */
int hamt__slots_refused(void);

/*
 * 0 if cells may publish, else the errno to fail with (ENOTSUP: manual
 * dirty bits with incremental mode, seen by hamt__slots_setup() or by a
 * collection since).  Never calls the collector.
 */
int hamt__cells_refused(void);

/*
 * True if this library already knows the calling thread to be registered
 * with the collector (or the collector is off).  Never calls the collector.
 */
bool hamt__thread_known(void);

/*
 * Tests only: the current map and version read WITHOUT any protection and
 * without registering the thread - the slot protocol with its slot left
 * out, so that test/stress/slot_stress --no-slot can show what the slot
 * prevents.  Never use it anywhere else.
 */
const struct hamt *hamt__cell_peek_unprotected(const struct hamt_cell *c,
                                               uint64_t *version);

/* Chunks ever made (tests only: slot reuse and growth). */
size_t hamt__slot_chunk_count(void);

#endif /* HAMT_SLOT_H */
