/*
 * hamt.h - persistent hash maps that many threads read without locks.
 *
 * libhamt provides an immutable hash map built as a 32-way hash array mapped
 * trie (CHAMP encoding) with path copying and structural sharing.  Every
 * update returns a new map and leaves every older version intact; memory is
 * reclaimed by the Boehm garbage collector once no thread can reach a
 * version.  A publication cell (struct hamt_cell) lets one writer publish
 * new versions while any number of readers take snapshots without locks:
 * one atomic load (hamt_cell_load), or a load, a store and a load under a
 * hazard slot for a reader the collector never stops (hamt_cell_acquire).
 *
 * The return convention, which every function below follows:
 *   - A function that makes an object (a map, cell, batch, or a snapshot
 *     of a cell) returns a pointer, or NULL with errno set.
 *   - An operation that can fail returns int: 0 on success, -1 with errno
 *     set.  Any other answer it gives travels through an optional
 *     out-parameter (NULL when not wanted).
 *   - A query returns bool, size_t or an enum, cannot fail and never
 *     touches errno: a NULL map or batch, or an ended batch, reads as
 *     empty, and a key no map can hold (a NULL string) is absent.
 *     (hamt_cell_version() alone can fail, on a thread's first use of a
 *     cell; see there.)
 *   - A walk with a callback (hamt_foreach(), hamt_diff()): the callback
 *     returns 0 to go on and non-zero to stop; the walk returns 0 when it
 *     saw everything, 1 when the callback stopped it, -1 with errno only
 *     when the walk itself failed.  A callback passes anything else back
 *     through its ctx.
 *   - A function that cannot fail returns void.
 *   - Successful calls leave errno alone.
 *   - errno values: ENOMEM (allocation failed), EINVAL (bad argument),
 *     EAGAIN (compare-and-publish lost a race), EBUSY (seed already in use,
 *     markers chosen too late, or a key callback changing the batch whose
 *     operation called it), ETIMEDOUT (a wait timed out), ENOTSUP
 *     (hamt_init(): the library was built for a popcnt instruction this
 *     CPU lacks; the cell calls: a collector mode the library refuses),
 *     EOVERFLOW (hamt_batch_begin()), EDEADLK (a combiner called from its
 *     own alter function or key callback), EPERM (the first call, which
 *     initialises the collector, off the main thread).
 *   - A failed call publishes nothing and leaves every existing map valid.
 *   - Maps are immutable: every map parameter is `const struct hamt *`.
 *     Any number of threads may read any map at the same time.
 *   - Keys and values are stored by pointer (the word itself), never freed
 *     by the library.  String and byte-string keys are copied on insertion.
 *
 * See hamt(3) for the overview and the thread model.
 */
#ifndef HAMT_H
#define HAMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(HAMT_BUILDING)
#define HAMT_API __attribute__((visibility("default")))
#else
#define HAMT_API
#endif

#define HAMT_VERSION_MAJOR 0
#define HAMT_VERSION_MINOR 1
#define HAMT_VERSION_PATCH 0

/*
 * Declared at file scope for hamt_cell_wait(): strict ISO C99 (without
 * POSIX) has no struct timespec in <time.h>, and a struct first named in a
 * parameter list would be a different, local type.
 */
struct timespec;

/* An immutable map.  Opaque; every version is a distinct pointer. */
struct hamt;
/* A shared, mutable publication cell holding the current map. */
struct hamt_cell;
/* A snapshot held by a thread the collector does not know (a hazard slot). */
struct hamt_snapshot;

/* The built-in key kinds, and the tag for caller-defined key types. */
enum hamt_key_kind {
    HAMT_KEY_STRING = 1, /* NUL-terminated string; copied on insertion */
    HAMT_KEY_BYTES = 2,  /* const struct hamt_bytes *; copied on insertion */
    HAMT_KEY_U64 = 3,    /* the key word itself is the integer */
    HAMT_KEY_PTR = 4,    /* pointer identity; the pointer is not followed */
    HAMT_KEY_CUSTOM = 5  /* hash and equality callbacks */
};

/*
 * A byte-string key: pass a pointer to one of these as the key.  On
 * insertion the library stores a private copy (header and bytes in one
 * pointer-free block); keys handed back by iteration point to that copy.
 * NULL data with a non-zero len, or a len above PTRDIFF_MAX, is an invalid
 * key (EINVAL for updates, absent for lookups).
 */
struct hamt_bytes {
    size_t len;
    const void *data;
};

/*
 * HAMT_U64(k): the key word for a 64-bit integer key (HAMT_KEY_U64; needs
 * 64-bit pointers).  HAMT_AS_U64(p): the integer a HAMT_KEY_U64 key word
 * holds.  C++ gets C++ casts, so that -Wold-style-cast stays quiet.
 */
#ifdef __cplusplus
#define HAMT_U64(k)                                                            \
    reinterpret_cast<const void *>(                                            \
        static_cast<uintptr_t>(static_cast<uint64_t>(k)))
#define HAMT_AS_U64(p) static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p))
#else
#define HAMT_U64(k) ((const void *)(uintptr_t)(uint64_t)(k))
#define HAMT_AS_U64(p) ((uint64_t)(uintptr_t)(p))
#endif

/*
 * Callbacks of a custom key type.  Both must be pure and infallible: the same
 * key must always give the same hash, and equal keys equal hashes.  They may
 * be called from any thread that reads a map, at the same time.  They may
 * read maps and build new ones, but not change or end a batch whose
 * operation called them (EBUSY there).  Callbacks that break these rules
 * make the maps of their key type hold or miss keys wrongly, never crash
 * or touch another map (hamt_new(3)).
 */
typedef uint64_t (*hamt_key_hash_fn)(const void *key, void *ctx);
typedef bool (*hamt_key_equal_fn)(const void *a, const void *b, void *ctx);
/*
 * An order of the keys of a custom key type (optional): negative, zero or
 * positive as a sorts before, equal to or after b.  It must be a total
 * order that agrees with equal (zero exactly for equal keys), pure and
 * infallible like the other callbacks.  It is called only on keys whose
 * full 64-bit hashes are equal; with it, n keys with one hash cost
 * O(log n) per operation instead of O(n) (hamt_new(3)).
 */
typedef int (*hamt_key_compare_fn)(const void *a, const void *b, void *ctx);

/* Compares two values for hamt_equal(); NULL there means identity. */
typedef bool (*hamt_value_equal_fn)(const void *a, const void *b, void *ctx);

/* Called once per entry by hamt_foreach(); 0 goes on, non-zero stops it. */
typedef int (*hamt_foreach_fn)(const void *key, void *val, void *ctx);

/*
 * A custom key type, given once to hamt_new_custom() and copied there.
 * `size` must be sizeof(struct hamt_key_type), so fields can be added later:
 * a program built against an older header passes its own, smaller size and
 * the fields past it read as NULL.  compare (may be NULL) came in this way;
 * give it, when the keys have an order, so that keys whose hashes collide
 * cost O(log n) instead of O(n).
 */
struct hamt_key_type {
    size_t size;
    hamt_key_hash_fn hash;
    hamt_key_equal_fn equal;
    void *ctx;
    hamt_key_compare_fn compare;
};
/* The size of struct hamt_key_type before compare was added. */
#define HAMT_KEY_TYPE_SIZE_V1 offsetof(struct hamt_key_type, compare)

/*
 * An iterator that lives on the caller's stack and never allocates.  All
 * fields are private.  The trie depth is bounded (13 bitmap levels and one
 * collision level), so a fixed-size stack suffices; a collision tree (a key
 * type with an order) is walked from the last key given, in key order.
 */
#define HAMT_ITER_DEPTH 15
struct hamt_iter {
    const void *priv_map;
    const void *priv_node[HAMT_ITER_DEPTH];
    uint32_t priv_pos[HAMT_ITER_DEPTH];
    int priv_depth;
};

/* ---- library set-up (hamt_init(3)) ---- */

/*
 * hamt_init - initialise the collector and the hash seed.
 * Safe to call more than once and from several threads; the first call
 * must come from the main thread (the collector's rule; elsewhere it fails
 * with EPERM and changes nothing, unless the program initialised the
 * collector itself).  Every other entry point calls it as needed.
 * Returns 0, or -1 with errno EINVAL (malformed HAMT_SEED or
 * HAMT_GC_BUDGET), ENOTSUP (built with -mpopcnt, CPU without popcnt),
 * EPERM (first call off the main thread) or ENOMEM.
 * Thread safety: any thread, any time, once the first call (from the main
 * thread) has returned.
 */
HAMT_API int hamt_init(void);

/*
 * hamt_set_seed - fix the 16-byte key of the built-in hashes.
 * Only before the first map of a built-in key type exists (EBUSY after).
 * The environment variable HAMT_SEED (32 hex digits) does the same at init.
 * Returns 0, or -1 with errno EINVAL (NULL seed) or EBUSY, or with the
 * errno of the library's set-up if that has failed (permanently) already.
 * Thread safety: any thread; only before the first map of a built-in key
 * type exists, so call it early in main().  A call that races with the
 * first hamt_new() takes effect for every map or fails with EBUSY.
 */
HAMT_API int hamt_set_seed(const uint8_t seed[16]);

/*
 * hamt_gc_set_budget - trade memory for writer speed: the collector starts
 * a collection only after at least `bytes` have been allocated since the
 * last one (process-wide; bdwgc's GC_set_min_bytes_allocd).  A larger
 * budget means fewer collections, less stopped time per update and a heap
 * about `bytes` larger than the live data; the collector's own
 * proportional rule (free-space divisor) still applies above it.  Takes
 * effect from the next collection on, and ends the rule of
 * hamt_gc_set_budget_factor().  hamt_init() sets that rule (factor 2,
 * floor 1 MiB) and the free-space divisor 1 (see hamt_init(3)), each
 * unless the application chose it before (GC_set_min_bytes_allocd or
 * HAMT_GC_BUDGET; GC_set_free_space_divisor or GC_FREE_SPACE_DIVISOR); 1
 * leaves only the proportional rule.  Initialises the library if needed.
 * Returns 0, or -1 with errno EINVAL (bytes == 0) or hamt_init()'s errno.
 * Thread safety: any thread, any time (it takes the collector's lock).
 */
HAMT_API int hamt_gc_set_budget(size_t bytes);

/*
 * hamt_gc_set_budget_factor - a budget that follows the heap: after each
 * collection the library sets the budget to `factor` times the collector's
 * heap in use after it, never below `floor` bytes (the budget right after
 * this call).  A larger factor means fewer collections and a heap about
 * factor + 1 times the heap in use.  This is hamt_init()'s default (see
 * hamt_init(3)); hamt_gc_set_budget(), or a minimum the application sets
 * with GC_set_min_bytes_allocd, ends it.  Initialises the library if
 * needed.
 * Returns 0, or -1 with errno EINVAL (factor or floor 0) or hamt_init()'s
 * errno.
 * Thread safety: any thread, any time (it takes the collector's lock).
 */
HAMT_API int hamt_gc_set_budget_factor(unsigned factor, size_t floor);

/*
 * hamt_gc_budget - the current budget in bytes (the collector's minimum
 * between collections, whoever set it; under hamt_gc_set_budget_factor()'s
 * rule it changes after each collection).  Initialises the library if
 * needed; 0 if that failed.  Never touches errno.
 * Thread safety: any thread, any time.
 */
HAMT_API size_t hamt_gc_budget(void);

/* ---- maps (hamt_new(3)) ---- */

/*
 * hamt_new - the empty map of a built-in key kind (one shared object per
 * kind).  Returns NULL with errno EINVAL for an unknown kind (or
 * HAMT_KEY_CUSTOM), or the errno of a failed hamt_init() (EINVAL for a
 * malformed HAMT_SEED, ENOTSUP, ENOMEM, EPERM for a first call off the
 * main thread).
 * Thread safety: any thread, any time, concurrently with anything.
 */
HAMT_API const struct hamt *hamt_new(enum hamt_key_kind kind);

/*
 * hamt_new_scalar - the empty map of a key kind whose keys are integers in
 * the word, for values that are not pointers the map must keep alive
 * (integers, or pointers the application keeps alive some other way).
 * The collector then need not scan the map's leaves: nodes without
 * children are allocated from a collector kind of the library's own whose
 * objects the collector scans no further than their first word (the
 * allocator's link), which cuts the marking work of large maps.  Every
 * map derived from it (hamt_set, batches, merges) inherits the choice.
 * Such maps form a key type of their own: hamt_merge() and the other
 * two-map functions refuse to mix them with hamt_new(HAMT_KEY_U64) maps
 * (EINVAL), and hamt_equal() finds them unequal to those.  A value the
 * collector must keep alive stored in such a map may be reclaimed while
 * the map still holds it.  Only HAMT_KEY_U64 is accepted: string, byte and
 * pointer keys are pointers the collector must see.  Returns the shared
 * empty map, or NULL with errno EINVAL (any other kind) or the errno of a
 * failed hamt_init().
 * Thread safety: any thread, any time.
 */
HAMT_API const struct hamt *hamt_new_scalar(enum hamt_key_kind kind);

/*
 * hamt_new_custom - the empty map of a custom key type.  The same
 * (hash, equal, compare, ctx) always yields the same empty map.  `kt` is
 * copied; `ctx` is stored and passed to the callbacks.  kt->size is
 * sizeof(struct hamt_key_type), or HAMT_KEY_TYPE_SIZE_V1 (no compare).
 * Returns NULL with errno EINVAL (NULL kt, wrong size, NULL hash or equal)
 * or ENOMEM, or the errno of a failed hamt_init().
 * Thread safety: any thread the collector knows (it takes a lock and
 * allocates the first time it sees a type), concurrently with anything.
 */
HAMT_API const struct hamt *hamt_new_custom(const struct hamt_key_type *kt);

/*
 * hamt_new_like - the empty map of the key type of `m`: the shared one of a
 * built-in kind (the scalar one for a scalar map), or the one
 * hamt_new_custom() gave for m's key type.  NULL
 * with errno EINVAL for a NULL m.
 * Thread safety: any thread, any time, concurrently with anything; never
 * locks or allocates.
 */
HAMT_API const struct hamt *hamt_new_like(const struct hamt *m);

/*
 * hamt_size - number of entries, O(1); 0 for NULL.
 * Thread safety: any thread, any time, concurrently with anything.
 */
HAMT_API size_t hamt_size(const struct hamt *m);

/*
 * hamt_key_kind - the key kind of `m`; 0 (no kind) for NULL.
 * Thread safety: any thread, any time, concurrently with anything.
 */
HAMT_API enum hamt_key_kind hamt_key_kind(const struct hamt *m);

/* ---- lookup (hamt_get(3)) ---- */

/*
 * hamt_get - look up `key`.  Returns true and stores the value in *val
 * (when val is not NULL) if present; false if absent.  Never allocates,
 * never locks, never touches errno.  A NULL map, or a NULL key of a string
 * or bytes map, returns false.  For a custom key type: one hash call,
 * then equal on the stored key the probed path ends at (its hash shares
 * the path's bits, not necessarily all 64), and among keys with the same
 * full hash equal on each, or O(log n) compare calls when the type has an
 * order.
 * Thread safety: any thread, any time, concurrently with anything, on any map;
 * the thread must be known to the collector or hold `m` as a snapshot of
 * hamt_cell_acquire() (see hamt(3)).
 */
HAMT_API bool hamt_get(const struct hamt *m, const void *key, void **val);

/*
 * hamt_get_many - look up n keys at once: found[i] says whether keys[i] is
 * present, and vals[i] (when vals is not NULL) receives its value; vals[i]
 * of an absent key is left alone.  Returns the number found.  The lookups
 * walk the trie together, level by level, prefetching each key's next
 * node, so their cache misses overlap: on a large map this is several times
 * faster than n calls of hamt_get().  Never allocates, never locks, never
 * touches errno.  A NULL map or keys array, or an invalid key among keys,
 * finds nothing (found[] all false, 0 returned); a NULL found returns 0.
 * Thread safety: as hamt_get().
 */
HAMT_API size_t hamt_get_many(const struct hamt *m, size_t n,
                              const void *const keys[], void *vals[],
                              bool found[]);

/*
 * hamt_contains - hamt_get() without the value.
 * Thread safety: as hamt_get().
 */
HAMT_API bool hamt_contains(const struct hamt *m, const void *key);

/* ---- updates (hamt_set(3)) ---- */

/*
 * hamt_set - the map `m` with `key` bound to `val`.  Returns `m` itself
 * (allocating nothing) when key is already bound to exactly `val`.
 * NULL with errno EINVAL (NULL map or invalid key) or ENOMEM.
 * Thread safety: any thread the collector knows (it allocates), concurrently
 * with anything; takes no lock of its own.
 */
HAMT_API const struct hamt *hamt_set(const struct hamt *m, const void *key,
                                     void *val);

/*
 * hamt_remove - the map `m` without `key`.  Returns `m` itself (allocating
 * nothing) when key is absent.  NULL with errno EINVAL or ENOMEM.
 * Thread safety: as hamt_set().
 */
HAMT_API const struct hamt *hamt_remove(const struct hamt *m, const void *key);

/* ---- iteration (hamt_iter(3)) ---- */

/*
 * hamt_iter_init - start iterating `m` (a NULL map iterates nothing).
 * Thread safety: any thread, any time, concurrently with anything; one
 * iterator is used by one thread at a time.
 */
HAMT_API void hamt_iter_init(struct hamt_iter *it, const struct hamt *m);

/*
 * hamt_iter_next - the next entry: true with *key and *val set (either may
 * be NULL), false when done.  Order is the trie's, stable for one map.  A
 * NULL or zero-initialised iterator has no entries.
 * Thread safety: as hamt_iter_init().
 */
HAMT_API bool hamt_iter_next(struct hamt_iter *it, const void **key,
                             void **val);

/*
 * hamt_foreach - call fn(key, val, ctx) for every entry until fn returns
 * non-zero.  Returns 0 after all entries, 1 when fn stopped the walk, or -1
 * with errno EINVAL (NULL map or fn).
 * Thread safety: any thread, any time, concurrently with anything; fn runs
 * in the calling thread.
 */
HAMT_API int hamt_foreach(const struct hamt *m, hamt_foreach_fn fn, void *ctx);

/* ---- comparison (hamt_equal(3)) ---- */

/*
 * hamt_equal - whether `a` and `b` hold the same keys with equal values
 * (veq(va, vb, ctx), or identity when veq is NULL).  Maps of different key
 * types are not equal; a NULL map reads as empty.  Shared subtrees are not
 * descended.  Never touches errno.
 * Thread safety: any thread, any time, concurrently with anything; veq and
 * the key type's callbacks run in the calling thread.
 */
HAMT_API bool hamt_equal(const struct hamt *a, const struct hamt *b,
                         hamt_value_equal_fn veq, void *ctx);

/* ---- threads and the collector (hamt_thread(3)) ---- */

/*
 * hamt_thread_register - make the calling thread known to the collector, so
 * that the maps its stack and registers reference stay alive.  Idempotent;
 * the thread is unregistered automatically when it exits.  Threads that
 * take snapshots with hamt_cell_load() or publish to a cell are registered
 * by the cell itself; hamt_cell_acquire() readers are never registered.
 * Returns 0, or -1 with errno ENOMEM (the collector could not record it)
 * or the errno of a failed hamt_init().  A full heap is not ENOMEM: the
 * collector aborts the process when it has no memory to record a thread,
 * here and wherever a call registers its thread (hamt_thread(3)).
 * Thread safety: acts on the calling thread only; any thread, any time.
 */
HAMT_API int hamt_thread_register(void);

/*
 * hamt_thread_unregister - forget the calling thread (a no-op if it was not
 * registered by this library).  After it, maps referenced only from this
 * thread may be reclaimed, so it must not touch maps until it registers
 * again.  It cannot fail.
 * Thread safety: acts on the calling thread only; any thread, any time.
 */
HAMT_API void hamt_thread_unregister(void);

/*
 * hamt_set_markers - the number of marker threads the collector uses
 * (1..64; 1 marks in the collecting thread alone).  Markers run only while
 * the world is stopped, but they compete for cores with readers that the
 * collector does not stop (hamt_cell_acquire()).  Call it before
 * hamt_init() and before anything else initialises the collector.
 * Without it the library chooses one marker on a machine of at most two
 * cores and the collector's default (one per core) on larger ones;
 * GC_MARKERS overrides both.  Returns 0, or -1 with errno EINVAL (0 or
 * more than 64) or EBUSY (the collector is initialised already: nothing
 * changed).
 * Thread safety: main thread, before any other call of the library.
 */
HAMT_API int hamt_set_markers(unsigned n);

/* ---- publication cells (hamt_cell(3)) ---- */

/*
 * A function of the current map used by hamt_cell_update(): return the new
 * map, `cur` itself to publish nothing, or NULL (errno set) to fail.
 */
typedef const struct hamt *(*hamt_cell_update_fn)(const struct hamt *cur,
                                                  void *ctx);

/*
 * hamt_cell_new - a cell whose current map is `m` (version 0); every map it
 * publishes later must have m's key type.  The cell is collector-allocated:
 * keep its pointer where the collector looks (a registered thread's stack,
 * a global, a collector-allocated object); a thread the collector does not
 * know keeps nothing alive.  NULL with errno EINVAL (NULL map), ENOMEM, or
 * ENOTSUP (the collector runs in incremental mode with manual dirty bits,
 * which the library does not support).
 * Thread safety: any thread; share the cell through synchronisation.
 */
HAMT_API struct hamt_cell *hamt_cell_new(const struct hamt *m);

/*
 * hamt_cell_load - take a snapshot: the current map, and its version in
 * *version when that is not NULL.  One acquire load; wait-free; never
 * allocates or writes shared memory (after the thread's first call, which
 * registers it with the collector).  NULL with errno EINVAL for a NULL cell
 * or ENOMEM if the thread could not be registered.
 * Thread safety: any thread, any time, concurrently with anything.
 */
HAMT_API const struct hamt *hamt_cell_load(const struct hamt_cell *c,
                                           uint64_t *version);

/*
 * hamt_cell_acquire - take a snapshot from a thread the collector need not
 * know: the current map (and its version in *version when not NULL),
 * protected by a hazard slot stored in *snap until hamt_snapshot_release().
 * The thread is never registered and never calls the collector.  A thread
 * may hold any number of snapshots at once.  Steady cost: one seq_cst store
 * and one load; lock-free (retries only while publications land); no
 * allocation except a thread's first slots.  NULL (and *snap = NULL) with
 * errno EINVAL (NULL cell or snap), ENOMEM (no memory for a thread's
 * slots) or ENOTSUP (the collector runs in incremental mode).
 * Thread safety: any thread, any time, concurrently with anything.  Only
 * read the map (lookups, iteration, comparison); never allocate from a
 * thread the collector does not know.  Async-signal-safe (with
 * hamt_snapshot_release() and the map readers) once the thread has slots
 * to spare: see hamt_cell(3), THREAD SAFETY.
 */
HAMT_API const struct hamt *hamt_cell_acquire(const struct hamt_cell *c,
                                              uint64_t *version,
                                              struct hamt_snapshot **snap);

/*
 * hamt_snapshot_release - end a snapshot taken by hamt_cell_acquire(); the
 * map and the values read from it must not be used afterwards (unless
 * something else keeps them alive).  Returns 0, or -1 with errno EINVAL
 * (NULL, held by another thread, or already released - but only until the
 * thread's later snapshots reuse its slot: a handle released twice may
 * then end one of those; hamt_cell(3), ERRORS).
 * Thread safety: the thread that acquired the snapshot.
 */
HAMT_API int hamt_snapshot_release(struct hamt_snapshot *snap);

/*
 * hamt_cell_version - the version of the current map; 0 for a NULL cell.
 * The one query that can fail: in a thread the library has not registered
 * it reads the version under a hazard slot (it does not register the
 * thread), and if the thread's first slots cannot be allocated it returns
 * 0 with errno ENOMEM.  Where slots are refused (incremental mode, as
 * hamt_cell_acquire()) it registers the thread instead, and returns 0 with
 * that errno if registration fails.  A registered thread never sees errno
 * set.
 * Thread safety: any thread, any time.
 */
HAMT_API uint64_t hamt_cell_version(const struct hamt_cell *c);

/*
 * hamt_cell_store - publish `m` (single writer).  The version increases by
 * one, even when `m` is the current map (which wakes waiters).  Returns 0
 * and the new version in *version (when not NULL), or -1 with errno EINVAL
 * (also: m of another key type than the cell's) or ENOMEM (nothing
 * published).
 * Thread safety: one writer at a time; must not run concurrently with
 * another publication to the same cell.
 */
HAMT_API int hamt_cell_store(struct hamt_cell *c, const struct hamt *m,
                             uint64_t *version);

/*
 * hamt_cell_cas - publish `m` only if the current map is still `expected`.
 * Maps are compared, not publications: if `expected` was republished in
 * between, it still succeeds.  Returns 0 and the new version in *version
 * (when not NULL), or -1 with errno EAGAIN (the current map is another one;
 * nothing changed), EINVAL (also: m of another key type than expected) or
 * ENOMEM.
 * Thread safety: any number of threads at once (lock-free).
 */
HAMT_API int hamt_cell_cas(struct hamt_cell *c, const struct hamt *expected,
                           const struct hamt *m, uint64_t *version);

/*
 * hamt_cell_update - load, apply fn(cur, ctx), and compare-and-publish,
 * retrying until it succeeds.  fn may run several times.  Returns the map
 * now current (fn's result, or cur if fn returned it: nothing published,
 * nothing allocated), or NULL with errno from fn, EINVAL (also: fn's map
 * of another key type than the cell's) or ENOMEM.
 * Thread safety: any number of threads at once; fn must have no effects
 * beyond its result.
 */
HAMT_API const struct hamt *hamt_cell_update(struct hamt_cell *c,
                                             hamt_cell_update_fn fn, void *ctx);

/*
 * hamt_cell_wait - block until the cell's version exceeds `seen`, or until
 * `timeout` (relative, CLOCK_MONOTONIC; NULL, or a timeout that takes the
 * clock past the largest time_t, waits forever) passes; signals do not end
 * the wait.  The waiter sleeps: in the kernel's futex, or, should that
 * system call fail unexpectedly, in naps of bounded length between looks
 * (hamt_cell_wait(3) gives the bound).
 * Returns 0, or -1 with errno ETIMEDOUT, EINVAL (NULL cell, malformed
 * timeout), ENOMEM (a thread's first slot), or the error of
 * clock_nanosleep() if a nap fails too.  Publishing costs the writer no
 * system call while nobody waits.  Does not register the thread (it reads
 * versions under a hazard slot), except where slots are refused
 * (incremental mode), as hamt_cell_version().  Not a cancellation point:
 * runs with cancellation disabled.
 * Thread safety: any thread, any time.
 */
HAMT_API int hamt_cell_wait(struct hamt_cell *c, uint64_t seen,
                            const struct timespec *timeout);

/* ---- update with a function, diff, merge (hamt_ops(3)) ---- */

/* What a hamt_alter_fn decides for the key. */
enum hamt_alter_action {
    HAMT_ALTER_KEEP = 0,  /* leave the map as it is */
    HAMT_ALTER_SET = 1,   /* bind the key to *new_val (adding it if absent) */
    HAMT_ALTER_REMOVE = 2 /* remove the key (nothing to do if absent) */
};

/*
 * The function of hamt_alter() and hamt_batch_alter(): `old` is the current
 * value (NULL when absent), `present` whether the key is bound; on
 * HAMT_ALTER_SET it stores the new value in *new_val.  Called exactly once
 * per call.
 */
typedef enum hamt_alter_action (*hamt_alter_fn)(void *old, bool present,
                                                void **new_val, void *ctx);

/*
 * hamt_alter - the map `m` with the binding of `key` decided by
 * fn(old, present, &new_val, ctx).  HAMT_ALTER_KEEP returns `m` itself and
 * allocates nothing; so do HAMT_ALTER_SET with the value already bound and
 * HAMT_ALTER_REMOVE of an absent key.  `key` is stored as by hamt_set()
 * (strings and byte strings copied).  Returns the new map or `m`, or NULL
 * with errno EINVAL (NULL map or fn, invalid key, fn returned an unknown
 * action) or ENOMEM; `m` stays valid either way.
 * Thread safety: any thread the collector knows (it allocates),
 * concurrently with anything; fn runs in the calling thread.
 */
HAMT_API const struct hamt *hamt_alter(const struct hamt *m, const void *key,
                                       hamt_alter_fn fn, void *ctx);

/* The kind of difference reported by hamt_diff(). */
enum hamt_diff_kind {
    HAMT_DIFF_ADDED = 1,   /* in b only: old_val is NULL */
    HAMT_DIFF_REMOVED = 2, /* in a only: new_val is NULL */
    HAMT_DIFF_CHANGED = 3  /* in both, values differ */
};

/* Called once per differing key by hamt_diff(); 0 goes on, non-zero stops. */
typedef int (*hamt_diff_fn)(const void *key, void *old_val, void *new_val,
                            enum hamt_diff_kind kind, void *ctx);

/*
 * hamt_diff - call fn once per key added (in b only), removed (in a only)
 * or changed (values not the same word and, when veq is not NULL,
 * veq(old, new, ctx) false) between `a` and `b`, fragment by fragment in
 * hash order (not hamt_iter()'s order, which gives a node's entries before
 * its children's keys).  Subtrees the two maps share are skipped, so the
 * work grows with the number of differences, not with the size of the
 * maps.  The key passed is b's for added and changed keys, a's for removed
 * ones.  Returns 0 after all differences, 1 when fn stopped the walk, or -1
 * with errno EINVAL (NULL map or fn, different key types).  Never
 * allocates.
 * Thread safety: any thread, concurrently with anything; fn and veq run
 * in the calling thread.
 */
HAMT_API int hamt_diff(const struct hamt *a, const struct hamt *b,
                       hamt_value_equal_fn veq, hamt_diff_fn fn, void *ctx);

/* What a hamt_conflict_fn decides for a key present in both maps. */
enum hamt_conflict_action {
    HAMT_CONFLICT_LEFT = 0,    /* a's value */
    HAMT_CONFLICT_RIGHT = 1,   /* b's value */
    HAMT_CONFLICT_COMBINE = 2, /* the value stored in *out */
    HAMT_CONFLICT_DROP = 3     /* leave the key out of the result */
};

/* Decides a key bound in both maps (va from a, vb from b). */
typedef enum hamt_conflict_action (*hamt_conflict_fn)(const void *key, void *va,
                                                      void *vb, void **out,
                                                      void *ctx);

/*
 * hamt_merge - the union of `a` and `b`.  A key bound in one map only keeps
 * its binding; a key bound in both is decided by fn(key, va, vb, &out, ctx)
 * (NULL fn: keep a's value).  The result shares, by pointer, every subtree
 * of either input that it takes unchanged, and is `a` or `b` itself when it
 * equals one of them binding for binding (e.g. merging a map with a subset
 * of itself).  Cost: O(min(|a|, |b|) log32 max(|a|, |b|)), and for two
 * versions that share most subtrees O(differences * depth) (with a fn,
 * plus the keys the versions share, which fn must see); except that two
 * large maps that share many subtrees and differ in many others may cost
 * O(|result|), to count its keys.  Returns
 * the result, or NULL with errno EINVAL (NULL map, different key types, fn
 * returned an unknown action) or ENOMEM; the inputs stay valid.
 * Thread safety: any thread the collector knows (it allocates),
 * concurrently with anything; fn runs in the calling thread.
 */
HAMT_API const struct hamt *hamt_merge(const struct hamt *a,
                                       const struct hamt *b,
                                       hamt_conflict_fn fn, void *ctx);

/*
 * hamt_intersect - the keys bound in both `a` and `b`, each decided by
 * fn(key, va, vb, &out, ctx) as in hamt_merge() (NULL fn: a's value),
 * at the same cost.  Returns the result (`a` or `b` itself when it equals
 * one of them), or NULL with errno EINVAL or ENOMEM; the inputs stay
 * valid.
 * Thread safety: as hamt_merge().
 */
HAMT_API const struct hamt *hamt_intersect(const struct hamt *a,
                                           const struct hamt *b,
                                           hamt_conflict_fn fn, void *ctx);

/*
 * hamt_subtract - the bindings of `a` whose keys are not bound in `b`.
 * Cost as hamt_merge() with a NULL fn.  Returns the result (`a` itself when
 * no key of b is in a; the shared empty map when every key is), or NULL
 * with errno EINVAL (NULL map, different key types) or ENOMEM; the inputs
 * stay valid.
 * Thread safety: as hamt_merge().
 */
HAMT_API const struct hamt *hamt_subtract(const struct hamt *a,
                                          const struct hamt *b);

/* ---- batch editor (hamt_batch(3)) ---- */

/*
 * A batch ("transient"): many updates to one map, each writing in place the
 * nodes the batch created instead of copying its path again, then one
 * ordinary map out of it.  The source map and every other version are never
 * changed.  A batch belongs to one thread at a time (its calls are not
 * synchronised); keep the batch pointer where the collector sees it, as
 * with maps.  After hamt_batch_finish() or hamt_batch_discard() every call
 * on the batch fails with EINVAL and changes nothing.
 */
struct hamt_batch;

/*
 * hamt_batch_begin - a batch whose first version is `m`, in O(1).  NULL
 * with errno EINVAL (NULL m), ENOMEM, or EOVERFLOW (2^56 - 1 batches begun).
 * Thread safety: any thread the collector knows (it allocates),
 * concurrently with anything.
 */
HAMT_API struct hamt_batch *hamt_batch_begin(const struct hamt *m);

/*
 * hamt_batch_set - bind `key` to `val` in the batch (key stored as by
 * hamt_set()).  Returns 0, or -1 with errno EINVAL (NULL, finished or
 * discarded batch, invalid key), EBUSY (called from a key callback of an
 * operation of the same batch) or ENOMEM (the batch is unchanged).
 * Whether the key was added: hamt_batch_size() before and after.
 * Thread safety: the batch's thread: one thread at a time per batch
 * (see above); every map stays readable by any thread meanwhile.
 */
HAMT_API int hamt_batch_set(struct hamt_batch *b, const void *key, void *val);

/*
 * hamt_batch_set_many - hamt_batch_set() of keys[i] to vals[i] for i < n,
 * in order.  The keys are taken in groups whose paths are walked together
 * first, prefetching, so that their cache misses overlap: loading a large
 * map this way is much faster than n calls of hamt_batch_set().  Returns 0,
 * or -1 with errno EINVAL (NULL or ended batch, NULL arrays with n > 0, an
 * invalid key: nothing changed; or a key callback discarded the batch: it
 * stops at the next pair, *done is 0), EBUSY or ENOMEM (the first *done
 * pairs were applied, the rest not).  *done (when done is not NULL)
 * receives the number of pairs applied.
 * Thread safety: as hamt_batch_set().
 */
HAMT_API int hamt_batch_set_many(struct hamt_batch *b, size_t n,
                                 const void *const keys[], void *const vals[],
                                 size_t *done);

/*
 * hamt_batch_remove - remove `key` from the batch (nothing to do if it is
 * absent).  Returns 0, or -1 with errno as hamt_batch_set().
 * Thread safety: as hamt_batch_set().
 */
HAMT_API int hamt_batch_remove(struct hamt_batch *b, const void *key);

/*
 * hamt_batch_alter - hamt_alter() inside a batch: fn decides keep, set or
 * remove for `key`.  fn may use the batch: its action then applies to the
 * batch as fn left it, and is refused (EINVAL) when fn finished or
 * discarded the batch.  (Key callbacks may not: every batch call that
 * changes or ends the batch fails with EBUSY when made from a key callback
 * of one of its own operations; a discard from there ends it when that
 * operation returns, which fails with EINVAL.)  Returns 0, or -1 with
 * errno EINVAL (as hamt_batch_set(), NULL fn, an fn result outside
 * hamt_alter_action, or the batch ended inside fn) or ENOMEM; on failure
 * the batch is as fn left it, without the call's own action.
 * Thread safety: as hamt_batch_set(); fn runs in the calling thread.
 */
HAMT_API int hamt_batch_alter(struct hamt_batch *b, const void *key,
                              hamt_alter_fn fn, void *ctx);

/*
 * hamt_batch_get - hamt_get() on the batch's current version.  A NULL,
 * finished or discarded batch reads as empty; never touches errno.
 * Thread safety: as hamt_batch_set().
 */
HAMT_API bool hamt_batch_get(const struct hamt_batch *b, const void *key,
                             void **val);

/*
 * hamt_batch_size - entries in the batch's current version; 0 for a NULL,
 * finished or discarded batch.
 * Thread safety: as hamt_batch_set().
 */
HAMT_API size_t hamt_batch_size(const struct hamt_batch *b);

/*
 * hamt_batch_finish - end the batch and return its version as an ordinary
 * map, in O(1): the source itself if nothing changed, the shared empty map
 * if no key is left.  The batch's nodes are immutable from then on.  NULL
 * with errno EINVAL for a NULL, finished or discarded batch, or EBUSY from
 * a key callback of an operation of the same batch.
 * Thread safety: as hamt_batch_set().
 */
HAMT_API const struct hamt *hamt_batch_finish(struct hamt_batch *b);

/*
 * hamt_batch_discard - end the batch without a map; its changes are
 * dropped.  A NULL, finished or discarded batch is left alone.  From a
 * key callback of an operation of the same batch it takes effect when that
 * operation returns (which then fails with EINVAL).
 * Thread safety: as hamt_batch_set().
 */
HAMT_API void hamt_batch_discard(struct hamt_batch *b);

/* ---- combined publication (hamt_combine(3)) ---- */

/*
 * A combiner: any number of threads submit updates to one cell through it;
 * whichever submitter finds it free becomes the publisher, applies every
 * pending request in one batch and publishes the result once (flat
 * combining).  A submitter returns once its update is visible.
 */
struct hamt_combine;

/*
 * hamt_combine_new - a combiner publishing to cell `c` (stored, not
 * copied).  Collector-allocated: keep its pointer where the collector looks,
 * as with the cell.  Use one combiner per cell: two on one cell are correct
 * but do not combine with each other.  NULL with errno EINVAL (NULL cell)
 * or ENOMEM.
 * Thread safety: any thread; share the combiner through synchronisation.
 */
HAMT_API struct hamt_combine *hamt_combine_new(struct hamt_cell *c);

/*
 * hamt_combine_set - bind `key` to `val` in the cell's map (key stored as
 * by hamt_set()) and return once that is visible: 0 with the version that
 * first shows it in *version (when not NULL), or -1 with errno EINVAL (NULL
 * combiner, invalid key, malformed timeout), ENOMEM, ENOTSUP (publishing
 * refused, hamt_cell(3)) or EOVERFLOW (batch ids used up), each not
 * applied, ETIMEDOUT (`timeout`, relative, passed while the request still waited to
 * be taken: not applied; a taken request always completes), or EDEADLK
 * (called from an alter function or key callback this combiner is
 * running).  NULL timeout
 * waits as long as it takes.  Not a cancellation point: runs with
 * cancellation disabled, alter functions included.  Not
 * async-signal-safe.
 * Thread safety: any number of threads at once; blocking (the publisher
 * holds a flag); readers of the cell are not affected.  Not concurrently
 * with hamt_cell_store() on the same cell; hamt_cell_cas() and
 * hamt_cell_update() are fine.
 */
HAMT_API int hamt_combine_set(struct hamt_combine *cb, const void *key,
                              void *val, const struct timespec *timeout,
                              uint64_t *version);

/*
 * hamt_combine_remove - remove `key` (nothing to do if absent); returns as
 * hamt_combine_set().
 * Thread safety: as hamt_combine_set().
 */
HAMT_API int hamt_combine_remove(struct hamt_combine *cb, const void *key,
                                 const struct timespec *timeout,
                                 uint64_t *version);

/*
 * hamt_combine_alter - hamt_batch_alter() of `key` with fn and ctx,
 * applied by the publisher thread (fn runs there, once per publication
 * attempt: again only if the cell was published to outside the combiner
 * meanwhile).  fn must not wait for other submitters of this combiner,
 * must not publish to its cell (each such publication runs the round
 * again; one on every run never ends it), and must return (no longjmp,
 * pthread_exit or exception: the combiner would stay busy for ever).
 * Returns as hamt_combine_set(); EINVAL also for a NULL fn or an fn result
 * outside hamt_alter_action.
 * Thread safety: as hamt_combine_set().
 */
HAMT_API int hamt_combine_alter(struct hamt_combine *cb, const void *key,
                                hamt_alter_fn fn, void *ctx,
                                const struct timespec *timeout,
                                uint64_t *version);

#ifdef __cplusplus
}
#endif

#endif /* HAMT_H */
