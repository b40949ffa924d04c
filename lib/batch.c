/*
 * batch.c - the batch editor (a "transient"): many updates to one map that
 * write in place the nodes the batch itself created, instead of copying
 * the path again for every update.
 *
 * Ownership.  Each batch takes an owner id from a process-wide 56-bit
 * counter; ids are never reused.  Every node the batch creates records the
 * id in its owner tail (node.h), and map.c's edit functions write a node in
 * place only when its tail holds the id of the batch doing the edit.  A
 * node built by a persistent update has tail 0, a node of another batch
 * another id: both are copied, never written.  When the batch finishes, its
 * id dies with it (no live batch will ever hold it again), so from then on
 * its nodes are as immutable as any other.  The id lives in the node, not
 * in a table, so the collector needs no help: a finished batch's nodes are
 * reclaimed like any other once no map reaches them.  The batch object
 * itself is the small collector-allocated owner token of the design: it
 * holds the id and the current version, and after finish it holds id 0,
 * which every operation refuses with EINVAL.
 *
 * Versions.  Until its first change, a batch's current version is the
 * source map itself (nothing is owned: the first edit copies the path).
 * From then on it is a map block the batch owns; finish hands that block
 * out as an ordinary map, in O(1).  The source and every other version are
 * never written: only nodes carrying the batch's id are, and those are
 * reachable from nothing but the batch.
 *
 * Freeing.  A node the batch created and then replaced (a node that grew
 * or shrank) was never visible to anyone else, so map.c gives it back to
 * the collector at once (GC_FREE through hamt__free) instead of leaving it
 * for the next collection.  The bytes allocated are the same either way,
 * but bdwgc counts freed bytes against the allocation that triggers the
 * next collection, so a large batch load sees far fewer collections and
 * much less time stopped in them.
 *
 * Thread safety: a batch belongs to one thread at a time (its operations
 * are not synchronised); every map, the source included, stays readable by
 * any thread while the batch runs.  Publish the finished map as any other
 * (hamt_cell_store), which orders the batch's in-place writes before it.
 */
#include "internal.h"

#include "atomic.h"
#include "node.h"

struct hamt_batch {
    struct hamt *m; /* current version: the source until changed */
    uint64_t owner; /* its id; 0 once finished or discarded */
    /*
     * Calls of this batch now running key callbacks (hash, equal,
     * compare): while it is not 0 the batch is between the callbacks and
     * the in-place writes of one of its operations, which hold its nodes
     * and its id, so every call that would change or end it is refused
     * with EBUSY (a discard is put off: `ending`).  Reads are allowed: an
     * edit calls every callback before its first write (map.c).
     */
    unsigned busy;
    bool ending; /* hamt_batch_discard() from a callback: at the end */
};

/* The next owner id; accessed only through atomic.h's relaxed wrappers. */
static HAMT_ATOMIC(uint64_t) batch_next_owner = 1;

/* The batch if it is live, else NULL with errno = EINVAL. */
static struct hamt_batch *
batch_live(const struct hamt_batch *b)
{
    if (b == NULL || b->owner == 0) {
        errno = EINVAL;
        return NULL;
    }
    return (struct hamt_batch *)(uintptr_t)b;
}

/*
 * The batch if it is live and no operation of it is running a key
 * callback; else NULL with errno EINVAL or EBUSY (a callback of one of the
 * batch's own operations tried to change or end it).
 */
static struct hamt_batch *
batch_usable(const struct hamt_batch *b)
{
    if (batch_live(b) == NULL) {
        return NULL;
    }
    if (b->busy != 0) {
        errno = EBUSY;
        return NULL;
    }
    return (struct hamt_batch *)(uintptr_t)b;
}

/* Around every call into map.c that may run key callbacks on b. */
static inline void
batch_enter(struct hamt_batch *b)
{
    b->busy++;
}

/*
 * Leaves the section; a discard asked for inside it happens now.  Returns
 * rc, or -1 with errno EINVAL when the batch was discarded meanwhile.
 */
static int
batch_leave(struct hamt_batch *b, int rc)
{
    if (--b->busy == 0 && b->ending) {
        b->ending = false;
        b->owner = 0;
        b->m = NULL;
        errno = EINVAL;
        return -1;
    }
    return rc;
}

uint64_t
hamt__owner_new(void)
{
    /*
     * ORDER: relaxed.  Ids only need to be distinct, which the atomic
     * read-modify-write gives on its own; no other memory is published
     * through the counter (an id reaches nodes through the batch object,
     * which one thread uses at a time), so it pairs with nothing.
     */
    uint64_t id = hamt__add_rlx(&batch_next_owner, 1);

    if (id > HAMT_OWNER_MAX) {
        /*
         * 2^56 - 1 ids used: one more would repeat, which would be
         * unsafe.  Pin the counter past the last id so that it cannot
         * wrap to small ids however many more calls come.  ORDER:
         * relaxed, as the add above: the store publishes nothing and
         * pairs with nothing, and every add ordered before or after it
         * still draws an id above the maximum, since nothing ever lowers
         * the counter below MAX + 1.
         */
        hamt__store_rlx(&batch_next_owner, HAMT_OWNER_MAX + 1);
        return 0;
    }
    return id;
}

struct hamt_batch *
hamt_batch_begin(const struct hamt *m)
{
    struct hamt_batch *b;
    uint64_t id;

    if (m == NULL) {
        errno = EINVAL;
        return NULL;
    }
    id = hamt__owner_new();
    if (id == 0) {
        errno = EOVERFLOW;
        return NULL;
    }
    b = hamt__alloc(sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    b->m = (struct hamt *)(uintptr_t)m; /* never written while not owned */
    b->owner = id;
    return b;
}

int
hamt_batch_set(struct hamt_batch *b, const void *key, void *val)
{
    if (batch_usable(b) == NULL) {
        return -1;
    }
    if (!hamt__key_valid(b->m->kt, key)) {
        errno = EINVAL;
        return -1;
    }
    batch_enter(b);
    /* hamt__edit_set() says added (1) or replaced (0); the API does not. */
    return batch_leave(b, hamt__edit_set(&b->m, b->owner, key, val) < 0 ? -1
                                                                       : 0);
}

int
hamt_batch_set_many(struct hamt_batch *b, size_t n, const void *const keys[],
                    void *const vals[], size_t *done)
{
    bool found[HAMT_GET_GROUP];
    uint64_t hashes[HAMT_GET_GROUP];

    if (done != NULL) {
        *done = 0;
    }
    if (batch_usable(b) == NULL) {
        return -1;
    }
    if (n != 0 && (keys == NULL || vals == NULL)) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!hamt__key_valid(b->m->kt, keys[i])) {
            errno = EINVAL;
            return -1;
        }
    }
    int rc = 0;

    batch_enter(b);
    /* Until a pair fails, or a key callback discards b (`ending`). */
    for (size_t i = 0; rc == 0 && i < n && !b->ending; i += HAMT_GET_GROUP) {
        size_t g = n - i < HAMT_GET_GROUP ? n - i : HAMT_GET_GROUP;
        /*
         * Walk the group's paths first with the batched lookup, which
         * prefetches each key's next node so that the cache misses of the
         * group overlap; the updates then find their paths in cache.
         */
        hamt__get_many(b->m, g, keys + i, NULL, found, true, hashes);
        for (size_t j = i; j < i + g && !b->ending; j++) {
            /* The walk's hashes: a custom hash is not called twice. */
            if (hamt__edit_set_hashed(&b->m, b->owner, keys[j], vals[j],
                                      hashes[j - i])
                < 0) {
                rc = -1; /* errno = ENOMEM; keys[0 .. j-1] are set */
                break;
            }
            if (done != NULL) {
                *done = j + 1;
            }
        }
    }
    rc = batch_leave(b, rc);
    if (b->owner == 0 && done != NULL) {
        *done = 0; /* discarded meanwhile (EINVAL): no pair stays */
    }
    return rc;
}

int
hamt_batch_remove(struct hamt_batch *b, const void *key)
{
    if (batch_usable(b) == NULL) {
        return -1;
    }
    if (!hamt__key_valid(b->m->kt, key)) {
        errno = EINVAL;
        return -1;
    }
    batch_enter(b);
    return batch_leave(b, hamt__edit_remove(&b->m, b->owner, key) < 0 ? -1
                                                                      : 0);
}

int
hamt_batch_alter(struct hamt_batch *b, const void *key, hamt_alter_fn fn,
                 void *ctx)
{
    if (batch_usable(b) == NULL) {
        return -1;
    }
    if (fn == NULL || !hamt__key_valid(b->m->kt, key)) {
        errno = EINVAL;
        return -1;
    }
    void *old = NULL;
    void *nv = NULL;
    bool present;

    /* The lookup runs key callbacks; fn runs outside, free to use b. */
    batch_enter(b);
    present = hamt__get(b->m, key, &old);
    if (batch_leave(b, 0) != 0) {
        return -1; /* a key callback discarded the batch */
    }
    enum hamt_alter_action act = fn(present ? old : NULL, present, &nv, ctx);
    /*
     * fn may have used the batch.  If it finished or discarded it, the
     * update is refused (the finished map is frozen); if it changed it, the
     * action applies to the batch as it is now.
     */
    if (batch_live(b) == NULL) {
        return -1;
    }
    batch_enter(b);
    return batch_leave(b, hamt__alter_apply(&b->m, b->owner, key, act, nv));
}

bool
hamt_batch_get(const struct hamt_batch *b, const void *key, void **val)
{
    /* A query: an ended batch reads as empty, an invalid key as absent. */
    struct hamt_batch *w = (struct hamt_batch *)(uintptr_t)b;
    bool found;

    if (b == NULL || b->owner == 0 || !hamt__key_valid(b->m->kt, key)) {
        return false;
    }
    /*
     * The lookup's key callbacks must not change the batch under it.  A
     * discard they ask for happens at the end; the answer stands, and
     * errno is left alone (a query).
     */
    int saved_errno = errno;
    batch_enter(w);
    found = hamt__get(b->m, key, val);
    (void)batch_leave(w, 0);
    errno = saved_errno;
    return found;
}

size_t
hamt_batch_size(const struct hamt_batch *b)
{
    if (b == NULL || b->owner == 0) {
        return 0; /* A query: an ended batch reads as empty. */
    }
    return b->m->size;
}

const struct hamt *
hamt_batch_finish(struct hamt_batch *b)
{
    const struct hamt *m;

    if (batch_usable(b) == NULL) {
        return NULL;
    }
    m = b->m;
    /* The id dies here: no live batch holds it, so its nodes are frozen. */
    b->owner = 0;
    b->m = NULL;
    if (m->size == 0) {
        return m->kt->empty; /* the shared empty map, as hamt_remove gives */
    }
    return m;
}

void
hamt_batch_discard(struct hamt_batch *b)
{
    if (b == NULL || b->owner == 0) {
        return;
    }
    if (b->busy != 0) {
        /* From a key callback of b's own operation: when it returns. */
        b->ending = true;
        return;
    }
    b->owner = 0;
    b->m = NULL; /* the batch's nodes become garbage */
}

const struct hamt *
hamt__batch_peek(const struct hamt_batch *b)
{
    return b != NULL ? b->m : NULL;
}
