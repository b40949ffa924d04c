/*
 * internal.h - private declarations shared by the modules of lib/.
 *
 * Nothing here is installed.  Non-static internals carry the hamt__ prefix;
 * the white-box tests link the convenience library and may call them.
 *
 * Where entry points live (one rule for every module): a public function
 * (HAMT_API in hamt.h) is defined in the module that owns what it acts
 * on, and begins with its argument checks; the algorithm follows in the
 * same module, or is a hamt__ function of another module when that one is
 * shared.  So cell.c defines hamt_cell_*, thread.c hamt_thread_*, batch.c
 * hamt_batch_*, ops.c hamt_alter/diff/merge/intersect/subtract, hash.c
 * hamt_set_seed, keys.c none (its functions are shared, unchecked), and
 * hamt.c those of the map itself (hamt_init, hamt_new*, lookups, set,
 * remove, iteration, equality): map.c and iter.c are called unchecked
 * from batch.c and ops.c too, so their public face, the checks, is hamt.c.
 * A hamt__ function trusts its arguments.
 *
 * Data layout: node.c's top comment draws it (a map version is a struct
 * hamt header with its root node in the same collector object).
 */
#ifndef HAMT_INTERNAL_H
#define HAMT_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hamt.h"

#if defined(__GNUC__)
#define HAMT_LIKELY(x) __builtin_expect(!!(x), 1)
#define HAMT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAMT_UNREACHABLE() __builtin_unreachable()
#else
#define HAMT_LIKELY(x) (x)
#define HAMT_UNLIKELY(x) (x)
#define HAMT_UNREACHABLE() ((void)0)
#endif

/* ---- key types (keys.c) ---- */

/*
 * The resolved key type shared by every map derived from one empty map.
 * Collector-allocated (or static for the built-in kinds); never changed
 * after it is published.
 */
struct hamt__kt {
    enum hamt_key_kind kind;
    hamt_key_hash_fn hash;       /* custom kinds only */
    hamt_key_equal_fn equal;     /* custom kinds only */
    hamt_key_compare_fn compare; /* custom kinds; NULL: no order */
    void *ctx;                   /* custom kinds only */
    /*
     * hamt_new_scalar(): the values are not pointers the map keeps alive
     * and the keys are integers in the word, so childless nodes are
     * allocated pointer-free (node.h, ND_ATOMIC).  Built-in kinds only.
     */
    bool scalar;
    const struct hamt *empty;
    struct hamt__kt *next; /* registry of custom key types (keys.c) */
};

const struct hamt *hamt__new_builtin(enum hamt_key_kind kind);
/* The empty map of hamt_new_scalar(): HAMT_KEY_U64 only, else EINVAL. */
const struct hamt *hamt__new_scalar(enum hamt_key_kind kind);
const struct hamt *hamt__new_custom(const struct hamt_key_type *kt);
/* Hash of a stored or probe key under kt. */
uint64_t hamt__key_hash(const struct hamt__kt *kt, const void *key);
bool hamt__key_eq(const struct hamt__kt *kt, const void *stored,
                  const void *probe);
/*
 * Whether `key` is acceptable for kt (non-NULL for strings and bytes).
 * Inline: every update and lookup checks its key, and for integer keys
 * the check is one comparison.
 */
static inline bool
hamt__key_valid(const struct hamt__kt *kt, const void *key)
{
    if (kt->kind == HAMT_KEY_STRING) {
        return key != NULL;
    }
    if (kt->kind == HAMT_KEY_BYTES) {
        const struct hamt_bytes *b = key;
        /*
         * No object is longer than PTRDIFF_MAX bytes, so a longer len is
         * a caller's error, refused before the bytes are hashed or copied
         * (which also keeps sizeof header + len in hamt__key_store() from
         * wrapping).
         */
        return b != NULL && (b->len == 0 || b->data != NULL)
               && b->len <= (size_t)PTRDIFF_MAX;
    }
    return true;
}
/*
 * The word to store for a new key (a private copy for strings and byte
 * strings), in *out.  False with errno = ENOMEM.
 */
bool hamt__key_store(const struct hamt__kt *kt, const void *key,
                     const void **out);

/* ---- nodes (node.c, node.h) ---- */

/* Bits of hash consumed per level, and the resulting limits. */
#define HAMT_BITS 5
#define HAMT_FANOUT 32
#define HAMT_MASK 31u
/* Bitmap levels: shifts 0, 5, ..., 60; the last uses the top 4 bits. */
#define HAMT_LEVELS 13
/* A child at this depth (shift 65) is a collision node. */
#define HAMT_COLLISION_DEPTH HAMT_LEVELS

/*
 * A bitmap node.  For each 5-bit hash fragment f, bit f of datamap says an
 * entry is stored inline, bit f of nodemap says a child node is; never both.
 * slots[] holds 2 words (key, value) per entry in fragment order, then one
 * word per child in fragment order.
 */
struct node {
    uint32_t datamap;
    uint32_t nodemap;
    void *slots[];
};

/*
 * A collision node: every key in it has the same full 64-bit hash.  It only
 * ever appears at depth HAMT_COLLISION_DEPTH, so no tag is needed to tell it
 * from a bitmap node, and it always holds at least two entries.
 */
struct cnode {
    uint32_t count;
    uint32_t unused;
    void *slots[]; /* key, value pairs */
};

/*
 * A map version: header followed by its root node in the same block
 * (drawn in node.c).
 */
struct hamt {
    const struct hamt__kt *kt;
    size_t size;
};

static inline struct node *
hamt__root(const struct hamt *m)
{
    return (struct node *)(uintptr_t)(m + 1);
}

/* ---- allocation and the collector (gc.c) ---- */

/*
 * Whether initialising the collector now would happen off the main thread
 * (the collector is not initialised yet, and this is not the main thread):
 * hamt_init() then refuses with EPERM rather than let the collector take
 * this thread for the main one.
 */
bool hamt__gc_init_off_main(void);
int hamt__gc_init(void);
#ifndef HAMT_NO_GC
/*
 * The calling thread was unregistered from the collector: its next
 * allocation must register it again before handing anything out.
 */
void hamt__gc_thread_detach(void);
#endif
/* thread.c: one marker on small machines unless the application chose. */
void hamt__markers_default(void);
/* hamt_gc_set_budget() and hamt_gc_budget() (gc.c). */
int hamt__gc_set_budget(size_t bytes);
int hamt__gc_set_budget_factor(unsigned factor, size_t floor);
size_t hamt__gc_budget(void);
/*
 * The syntax of HAMT_GC_BUDGET: decimal bytes, optionally followed by K, M
 * or G (binary multiples); false for anything else, 0 or an overflow.
 */
bool hamt__gc_budget_parse(const char *s, size_t *out);
/* Scanned, zeroed memory; NULL with errno = ENOMEM. */
void *hamt__alloc(size_t n);
/* Pointer-free memory (never holds node, key or value pointers); not zeroed. */
void *hamt__alloc_atomic(size_t n);
/*
 * Zeroed memory for a leaf of a scalar map: the collector traces its first
 * word only (so it may hold no node, key or value pointer past that word),
 * and counts it as scanned when it decides when to collect (gc.c).
 */
void *hamt__alloc_leaf(size_t n);
/*
 * Usable bytes of the block starting at p (the collector's granule-rounded
 * size less its extra byte, or malloc_usable_size without the collector).
 */
size_t hamt__alloc_usable(const void *p);
/*
 * For tests: 1 if the collector block holding p is pointer-free, 0 if it is
 * scanned, -1 if p is not in the collector's heap (or without it).
 */
int hamt__alloc_kind(const void *p);
/*
 * Bytes the allocator holds for the block starting at p: the collector's
 * whole slot, its extra byte included (GC_size), or malloc_usable_size
 * without the collector.  For memory accounting (stats.c).
 */
size_t hamt__alloc_block_size(const void *p);
/*
 * Give back an object that was never visible to another thread (a no-op
 * without the collector).
 */
void hamt__free(void *p);

#ifdef HAMT_TEST_HOOKS
/*
 * Test hooks, compiled only into lib/libhamt_test.la, the variant of the
 * library the tests link (Makefile.am); the installed library and the
 * bench have none of them, so its hot paths carry no counters.
 *
 * Fault injection: the n-th allocation from now fails (n >= 1), and every
 * later one too when `persistent`.  n = 0 turns it off.  Not thread-safe;
 * tests only.
 */
void hamt__fail_after(unsigned long n, bool persistent);
/* Allocations performed by the calling thread since it started. */
unsigned long hamt__alloc_count(void);
/*
 * Whether an allocation outside the collector's heap (a reader's slot
 * chunk, thread.c) is the injected failure: it counts down with the
 * collector allocations above but adds nothing to hamt__alloc_count().
 */
bool hamt__fail_injected(void);
/*
 * Called by a slot reader's acquire (lib/cell.c, cell_protect) before each
 * A2 of the slot protocol, with the record it is about to protect, when not
 * NULL.  Lets a test publish and collect between A1 and A2 and count the
 * protocol's retries.  Set it before the readers start; tests only.
 */
extern void (*hamt__slot_hook)(const void *rec);
/*
 * Called in the slow path of a thread's slot allocation (lib/thread.c,
 * slot_get_slow) between storing the new chunk under the slot key and
 * making it the thread's, when not NULL.  Lets a test raise a signal there.
 * Tests only.
 */
extern void (*hamt__slot_slow_hook)(void);
#else
/* Without the hooks no allocation is ever an injected failure. */
static inline bool
hamt__fail_injected(void)
{
    return false;
}
#endif

/* Registers the calling thread with the collector if needed (thread.c). */
int hamt__thread_ensure(void);

/* ---- hashing (hash.c) ---- */

int hamt__hash_init(void);
/*
 * hamt.c: 0 while the library's set-up has not failed, else its errno (a
 * failure is permanent).
 */
int hamt__init_error(void);
/* Marks the seed as used; hamt_set_seed() fails with EBUSY afterwards. */
void hamt__seed_use(void);
/* The seed as two words (hash.c); written only before any map exists. */
extern uint64_t hamt__seed_k0, hamt__seed_k1;

/*
 * The keyed bijection of integer and pointer keys (see hash.c).  Inline:
 * every lookup and update of an integer map hashes its key, and a call
 * would cost more than the arithmetic.
 */
static inline uint64_t
hamt__hash_u64(uint64_t k)
{
    uint64_t h = k ^ hamt__seed_k0;

    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h + hamt__seed_k1;
}
uint64_t hamt__hash_bytes(const void *p, size_t n);

/* ---- maps (map.c) ---- */

/*
 * Integer and pointer keys: the kinds whose keys are the words themselves,
 * hashed and compared inline, and never invalid.
 */
static inline bool
hamt__kind_int(enum hamt_key_kind kind)
{
    return kind == HAMT_KEY_U64 || kind == HAMT_KEY_PTR;
}
/*
 * Lookup: hamt__get_int for integer and pointer keys, hamt__get_custom for
 * the others; hamt__get picks one.
 */
bool hamt__get_int(const struct hamt *m, const void *key, void **val);
bool hamt__get_custom(const struct hamt *m, const void *key, void **val);
static inline bool
hamt__get(const struct hamt *m, const void *key, void **val)
{
    if (hamt__kind_int(m->kt->kind)) {
        return hamt__get_int(m, key, val);
    }
    return hamt__get_custom(m, key, val);
}
/* Keys that hamt__get_many walks together (its prefetching group). */
#define HAMT_GET_GROUP 16
/*
 * whole: a walk ahead of updates: prefetch whole nodes, not two lines, and
 * stop at chain nodes and at the collision level, whose keys the updates
 * search themselves (found[] is false for the keys that stopped there).
 * hashes (may be NULL): receives each key's hash, for the updates.
 */
size_t hamt__get_many(const struct hamt *m, size_t n, const void *const *keys,
                      void **vals, bool *found, bool whole, uint64_t *hashes);
const struct hamt *hamt__set(const struct hamt *m, const void *key, void *val);
const struct hamt *hamt__remove(const struct hamt *m, const void *key);
/*
 * Edits (map.c): set or remove `key` in *pm.  With a batch's `owner` id,
 * nodes whose owner tail holds it are written in place, and *pm is replaced
 * when its root block had to be rebuilt.  With owner 0 (hamt__set,
 * hamt__remove) nothing is written: *pm is replaced by the new version, the
 * shared empty map when a remove empties it.  Return 1 when the key was added
 * (set) or removed (remove), 0 when not, -1 with errno = ENOMEM having changed
 * nothing.
 */
int hamt__edit_set(struct hamt **pm, uint64_t owner, const void *key,
                   void *val);
/* hamt__edit_set() with the key's hash already computed. */
int hamt__edit_set_hashed(struct hamt **pm, uint64_t owner, const void *key,
                          void *val, uint64_t h);
int hamt__edit_remove(struct hamt **pm, uint64_t owner, const void *key);
/*
 * The second step of hamt_alter() (ops.c), shared with hamt_batch_alter():
 * the action fn chose for `key`, as an edit of *pm by `owner` (0:
 * persistent, *pm is replaced on a change): 0, or -1 with errno = ENOMEM
 * (nothing changed) or EINVAL (not a hamt_alter_action).  The first step,
 * the lookup and fn, each caller makes itself (the batch keeps its key
 * callbacks apart from fn).
 */
int hamt__alter_apply(struct hamt **pm, uint64_t owner, const void *key,
                      enum hamt_alter_action act, void *nv);
/*
 * A fresh owner id for edits (batch.c): never given out before, or 0 once
 * 2^56 - 1 have been (hamt_batch_begin() then fails with EOVERFLOW).
 */
uint64_t hamt__owner_new(void);
/* The current version of a live batch (NULL once ended), for tests. */
const struct hamt *hamt__batch_peek(const struct hamt_batch *b);
bool hamt__equal(const struct hamt *a, const struct hamt *b,
                 hamt_value_equal_fn veq, void *ctx);

/* ---- waiting with a deadline (cell.c; the combiner uses them too) ---- */

/*
 * The absolute CLOCK_MONOTONIC deadline `rel` (a valid timespec) from now,
 * in *abs: true, or false when it does not fit in a time_t, which means
 * "no deadline".
 */
bool hamt__deadline(const struct timespec *rel, struct timespec *abs);
/*
 * A nap after a futex failure the waiting protocol does not expect (a
 * sandbox's ENOSYS or EPERM, EINVAL), so that the wait polls rather than
 * spins: sleeps *step ns (doubled each time, up to a bound) but not past
 * `deadline` (NULL: none).  0, or an error number from clock_nanosleep.
 */
int hamt__nap(const struct timespec *deadline, long *step);
/* The first *step for hamt__nap(). */
#define HAMT__NAP_FIRST_NS (1000L * 1000)
/* Whether CLOCK_MONOTONIC has reached `deadline`. */
bool hamt__past(const struct timespec *deadline);

/* ---- combined publication (combine.c) ---- */

/*
 * Requests waiting in the combiner's list.  Only for an alter function run
 * by the combiner's publisher (tests): elsewhere the list may change and
 * its requests vanish while it is walked.
 */
size_t hamt__combine_pending(const struct hamt_combine *cb);
/*
 * Of those, the requests whose submitter has flagged itself asleep (about
 * to wait on its futex, or waiting), with the same limits.
 */
size_t hamt__combine_asleep(const struct hamt_combine *cb);
/*
 * Naps the combine submitters of this process took after a futex failure
 * the protocol does not expect (tests: none in any of theirs).
 */
uint64_t hamt__combine_naps(void);
#ifndef HAMT_NO_GC
/*
 * Notes the collector's suspend and restart signals for the slot slow path
 * (thread.c), which leaves them unblocked; hamt__gc_init() calls it.
 */
void hamt__thread_note_gc_signals(void);
#endif
#ifdef HAMT_TEST_HOOKS
/*
 * Called by a departing publisher (combine_depart) after its last look at
 * the list and before it releases the flag: where a request pushed then
 * must still be seen (D2 of the proof).  Tests only.
 */
extern void (*hamt__combine_depart_hook)(struct hamt_combine *cb);
#endif
/*
 * Rounds served so far by requests claimed: hist[i] counts rounds of i + 1
 * requests, hist[HAMT__COMBINE_HIST - 1] those of HAMT__COMBINE_HIST or
 * more.  For the bench's writers section; counts may lag while submitters
 * run.
 */
#define HAMT__COMBINE_HIST 17
void hamt__combine_rounds(const struct hamt_combine *cb,
                          uint64_t hist[HAMT__COMBINE_HIST]);

/* ---- iteration (iter.c) ---- */

void hamt__iter_init(struct hamt_iter *it, const struct hamt *m);
bool hamt__iter_next(struct hamt_iter *it, const void **key, void **val);

/* ---- debugging (debug.c) ---- */

/*
 * A printable shape of the trie, e.g. "R{k1,k2,N{k3,k4}}": R is the root,
 * N a bitmap node, C a collision node, and each entry prints as the
 * decimal u64 key (u64 maps), the string (string maps) or "e" (others),
 * unless `label` (may be NULL) gives it.
 * Returns a malloc()ed string to free(), or NULL with errno = ENOMEM.
 */
char *hamt__debug_shape(const struct hamt *m,
                        const char *(*label)(const void *key));
/*
 * Checks every structural invariant (bitmaps disjoint, entries where their
 * hash says, canonical shape, collision nodes only at the bottom with >= 2
 * entries, size matches, no child in a pointer-free block and no
 * pointer-free block outside scalar maps: N6, code 7).  Returns 0, or a
 * positive code naming the first violation.
 */
int hamt__validate(const struct hamt *m);
#ifdef HAMT_TEST_HOOKS
/*
 * Nodes visited by structural operations (equality, diff, set algebra),
 * for tests that check what a walk skipped.  A test hook: see above.
 */
extern _Thread_local unsigned long hamt__nodes_visited;
#define HAMT_COUNT_VISIT() ((void)hamt__nodes_visited++)
#else
#define HAMT_COUNT_VISIT() ((void)0)
#endif

#endif /* HAMT_INTERNAL_H */
