/*
 * gc.c - glue to the Boehm collector: initialisation, allocation, and the
 * collector-off allocator used by sanitizer builds.
 *
 * Four rules of the collector that the rest of the library relies on:
 *
 *  1. Pointers.  Nodes, map headers and cells come from GC_MALLOC, which is
 *     scanned conservatively: any word that looks like a pointer into an
 *     object keeps it alive.  The library never hides pointers (no high-bit
 *     tags, no XOR tricks); low-bit tags and interior pointers would be
 *     recognised only because interior-pointer recognition is on by default,
 *     and the library does not change that setting.  The root node of a map
 *     lives inside the map's block, so an iterator's pointer to it is an
 *     interior pointer - it always travels with the map pointer too.
 *
 *  2. Pointer-free blocks.  GC_MALLOC_ATOMIC memory is not scanned, so it may
 *     only hold bytes: the copies of string and byte-string keys.  A node,
 *     key or value pointer stored there would not keep its target alive.
 *     The leaves of scalar maps (hamt__alloc_leaf) are of a kind of the
 *     library's own whose only traced word is the first: past that word
 *     the same rule holds (see "Leaves of scalar maps" below).
 *
 *  3. Threads.  A thread the collector does not know is not scanned: a map
 *     held only on its stack can be reclaimed while in use.  hamt_init()
 *     calls GC_INIT() and GC_allow_register_threads(); thread.c registers
 *     other threads.  GC_THREADS is defined before <gc/gc.h> here and in
 *     every other file that includes it.
 *
 *  4. Roots the collector does not see.  malloc memory and thread-local
 *     storage are not scanned: a map referenced only from there can be
 *     reclaimed.  The library never keeps the only reference to a version in
 *     such memory, and hamt(3) tells callers not to either.
 *
 * The budget between collections.  bdwgc starts a collection once the bytes
 * allocated since the last one reach max(scan size / free-space divisor,
 * minimum), where the divisor is 3 and the minimum (GC_set_min_bytes_allocd)
 * is 1 byte unless someone sets them; it also grows the heap by a
 * divisor-th of its size when a collection is not yet due.  With those
 * settings a writer of persistent updates, whose every update is garbage a
 * moment later, collects after every third of its live heap: the marking
 * of the whole live trie is paid again and again for little garbage each
 * time.  A large fixed minimum cures that for a large map but hurts a
 * small one: its heap, and so the garbage it cycles through, no longer
 * fits the cache.  The divisor alone cannot go far enough: it is an
 * integer, and at 1 (collect when the garbage has reached about twice the
 * scanned live data) a large map still pays for the marking of its whole
 * trie too often for a writer.  So the library's default is a minimum that
 * follows the heap: divisor 1, and after each collection a minimum of a
 * factor times the heap in use (heap less its free blocks), never below a
 * floor that keeps a small map's heap cache-sized.  The factor is the
 * smallest that took the writer's stopped time per update well under half
 * of the collector's own schedule; memory is the price, the heap of a
 * large map growing to about factor + 1 times its heap in use.  The rule
 * needs no hook in the collector: the library's slow allocation path
 * (hamt__gc_alloc_slow, once per refill of a thread's list) compares the
 * collector's collection count with the one the rule last saw, and on a
 * change takes the allocation lock and sets the minimum there.  So it runs
 * once per collection, in whichever thread allocates first after it, soon
 * enough that the blocks the collection freed are still free: the heap in
 * use is then about what the collection kept, rounded up to whole blocks.
 * bdwgc reads the minimum once per collection, when it first asks whether
 * to collect again, which comes only once the free blocks run out: the
 * new minimum is in time for the current cycle, or at worst the next.
 * hamt_gc_set_budget() sets a fixed minimum and
 * hamt_gc_set_budget_factor() the rule; the divisor is the collector's
 * own setting (GC_set_free_space_divisor, GC_FREE_SPACE_DIVISOR).
 * hamt_init() sets each only when the application has not chosen it: the
 * minimum when it is still the collector's default and the environment
 * does not name one (HAMT_GC_BUDGET, a fixed minimum), the divisor when it
 * is still the collector's default and GC_FREE_SPACE_DIVISOR is unset; the
 * rule only with both, since it would override a divisor chosen by the
 * application.  The rule ends, keeping the minimum as it stands, when the
 * application sets a minimum of its own (through the library or
 * GC_set_min_bytes_allocd: the rule notices that the minimum is no longer
 * the one it set) or, for the default rule, another divisor.  The
 * measurements behind the default are in bench/README.md (section budget,
 * with their command); hamt_init(3) says how it was chosen.
 * The "scan size" the divisor divides is bdwgc's estimate of marking work:
 * twice the scanned bytes in use plus a quarter of the pointer-free ones
 * (min_bytes_allocd in its alloc.c), where a block is pointer-free when
 * its kind's mark descriptor is 0.
 *
 * Leaves of scalar maps.  A map from hamt_new_scalar() promises that its
 * values are not pointers to keep alive, so its childless nodes and
 * collision nodes hold nothing to follow.  Were they GC_MALLOC_ATOMIC, the
 * weighting above would let such a map allocate about half as much between
 * collections as a plain map of the same size: twice the collections, each
 * shorter, and more stopped time per update in all.  So they are of a kind
 * the library makes once (GC_new_kind in hamt_init): cleared on sweep like
 * NORMAL objects, with a bitmap descriptor that traces the first word only.
 * That word is the node's bitmaps or a collision node's count (for a root
 * node in its map block, the header's key-type pointer, which names a
 * static object), so marking a leaf costs a push and a pop and follows
 * nothing;
 * and since the descriptor is not 0 the collector counts the leaves as
 * scanned bytes, so a scalar map collects about as often as a plain one.
 * The first word being traced is also what lets these objects sit on the
 * per-thread lists below (a listed object's link is its first word).
 * Without that kind (it could not be made), the leaves are
 * GC_MALLOC_ATOMIC, zeroed by hand.  bdwgc 8.2 has room for 16 kinds and
 * aborts when asked for more; its own interfaces take a handful, so only a
 * program that makes several kinds of its own could meet that.
 *
 * The allocation path.  Every persistent update allocates the nodes on its
 * path, so the cost of one small scanned allocation matters.  GC_MALLOC
 * finds its thread's free lists through a thread-local lookup on every
 * call and reports each allocation as a write (GC_end_stubborn_change);
 * the library keeps per-thread free lists of its own instead, through the
 * collector's client interface (gc_inline.h): a list per granule count,
 * refilled a block at a time by GC_generic_malloc_many (kind NORMAL, whose
 * objects the collector clears when it sweeps them, so a listed object is
 * zero but for its link word), popped with two loads and two stores.
 * The rules that make this safe:
 *
 *  - Listed objects are traced.  An object on a list is free to us but
 *    allocated to the collector: were it unmarked, a collection would
 *    reclaim it and a later refill would hand it out a second time.  The
 *    list heads live in a block from GC_MALLOC_UNCOLLECTABLE, which the
 *    collector always marks and scans; the head's object is thus marked
 *    and scanned, and its link word marks the next one, and so on (NORMAL
 *    objects are scanned; a pointer-free list would not be traced past its
 *    head, which is why pointer-free requests still go to
 *    GC_MALLOC_ATOMIC; the leaf kind's lists are traced like the NORMAL
 *    ones, through the first word).  The thread-local pointer to the
 *    block is not a root and need not be one.
 *  - The block goes back at thread exit: a pthread key destructor frees it
 *    (GC_FREE needs no registration, so it may run after the collector has
 *    unregistered the thread); the listed objects are then garbage.
 *  - Only registered threads allocate (a library rule): a refill may
 *    collect.
 *  - Requests above the collector's small-object size, and threads whose
 *    lists could not be set up, use GC_MALLOC.
 *  - Manual dirty-bit mode stays unsupported: no write of the library is
 *    reported with GC_end_stubborn_change (hamt_cell(3) refuses that mode),
 *    and the writes to the list heads are not either.
 *
 * With --disable-gc (HAMT_NO_GC), allocation goes to calloc/malloc, and
 * nothing a map, cell or other thread could reach is ever freed (only the
 * objects hamt__free() is given, which no one else ever saw):
 * ThreadSanitizer cannot run a program that uses libgc, and ASan cannot see
 * overflows inside collector objects.  That mode is for short sanitizer
 * runs only.
 *
 * Fault injection: hamt__fail_after(n, persistent) makes the n-th allocation
 * from now fail with ENOMEM (and all later ones when persistent), so tests
 * can fail every allocation of an operation in turn; hamt__alloc_count()
 * counts this thread's allocations.  Both exist only with HAMT_TEST_HOOKS,
 * in the library the tests link (internal.h); the installed one allocates
 * with no check and no count.
 */
#include "gc_fast.h"

#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"

#ifndef HAMT_NO_GC
#define GC_THREADS
#include <gc/gc.h>
#include <gc/gc_inline.h> /* GC_I_PTRFREE */
#include <gc/gc_mark.h>   /* GC_get_kind_and_size */
#include <sys/syscall.h>  /* SYS_gettid */
#include <sys/types.h>
#include <unistd.h>

_Static_assert(HAMT__GC_GRANULE == GC_GRANULE_BYTES,
               "gc_fast.h computes granule counts");
#endif

#ifdef HAMT_TEST_HOOKS
/*
 * Fault-injection state.  Plain variables: only single-threaded tests set
 * them, and the hot path reads `fail_armed` once per allocation.
 */
static bool fail_armed;
static bool fail_persistent;
static unsigned long fail_countdown;
/*
 * Allocations made by this thread.  Thread-local, so counting costs no
 * atomic operation; tests read it from the thread that allocated.
 * Initial-exec, as thread.c's state byte (see there): a fixed offset from
 * the thread pointer instead of a call to __tls_get_addr on every
 * allocation, which callgrind showed on the persistent update path.
 */
#if defined(__GNUC__)
static _Thread_local unsigned long alloc_count
    __attribute__((tls_model("initial-exec")));
#else
static _Thread_local unsigned long alloc_count;
#endif

void
hamt__fail_after(unsigned long n, bool persistent)
{
    fail_armed = n != 0;
    fail_countdown = n;
    fail_persistent = persistent;
}

unsigned long
hamt__alloc_count(void)
{
    return alloc_count;
}

/* Decides whether this allocation is the injected failure. */
static bool
gc_fail_now(void)
{
    if (HAMT_LIKELY(!fail_armed)) {
        return false;
    }
    if (fail_countdown > 1) {
        fail_countdown--;
        return false;
    }
    if (!fail_persistent) {
        fail_armed = false;
    }
    fail_countdown = 0;
    return true;
}

bool
hamt__fail_injected(void)
{
    return gc_fail_now();
}
#endif /* HAMT_TEST_HOOKS */

/*
 * The floor, the factor and the divisor of the rule hamt_init() sets when
 * the application has chosen neither minimum nor divisor (see the top
 * comment; bench/README.md gives the measurements behind them).
 */
#define GC_BUDGET_DEFAULT ((size_t)1 << 20)
#define GC_DIVISOR_DEFAULT 1
#define GC_FACTOR_DEFAULT 2
/* The collector's own minimum and divisor: what bdwgc starts with. */
#define GC_BUDGET_COLLECTOR 1
#define GC_DIVISOR_COLLECTOR 3

#ifdef HAMT_NO_GC
/*
 * Without the collector the budget is only remembered, for hamt_gc_budget;
 * atomic, since any thread may set or read it (the collector's lock plays
 * that part otherwise).
 */
static HAMT_ATOMIC(size_t) nogc_budget = GC_BUDGET_COLLECTOR;
#endif

/*
 * Parses HAMT_GC_BUDGET: a decimal byte count, optionally followed by K, M
 * or G (binary multiples).  False for anything else, 0 or an overflow.
 */
bool
hamt__gc_budget_parse(const char *s, size_t *out)
{
    size_t v = 0;
    unsigned shift = 0;

    if (*s < '0' || *s > '9') {
        return false;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (SIZE_MAX - d) / 10) {
            return false;
        }
        v = 10 * v + d;
    }
    switch (*s) {
    case '\0':
        break;
    case 'K':
    case 'k':
        shift = 10;
        s++;
        break;
    case 'M':
    case 'm':
        shift = 20;
        s++;
        break;
    case 'G':
    case 'g':
        shift = 30;
        s++;
        break;
    default:
        return false;
    }
    if (*s != '\0' || v == 0 || v > (SIZE_MAX >> shift)) {
        return false;
    }
    *out = v << shift;
    return true;
}

/*
 * The proportional rule (see the top comment): after each collection the
 * minimum becomes budget_factor times the heap in use, never below
 * budget_floor; factor 0 means the minimum is fixed.  budget_set is the
 * minimum the rule set last, so that a minimum set behind the library's
 * back (GC_set_min_bytes_allocd) is noticed and left alone.  All but
 * budget_seen are read and written under the collector's allocation lock.
 * Without the collector there is no rule: hamt_gc_budget() reports the
 * minimum last set (nogc_budget).
 */
#ifndef HAMT_NO_GC
static unsigned budget_factor;
static size_t budget_floor;
static size_t budget_set;
/*
 * True while the rule is hamt_init's default, which rests on the divisor
 * the library set: a divisor the application sets later ends it too.
 */
static bool budget_is_default;
/*
 * The collection number the rule last looked at: read without the lock on
 * every slow allocation (gc_budget_poll), written under it.
 */
static HAMT_ATOMIC(GC_word) budget_seen;

/* What gc_budget_apply() sets under the lock. */
struct gc_budget_req {
    size_t minimum;
    unsigned factor; /* 0: a fixed minimum */
    size_t floor;
    bool is_default; /* hamt_init's own rule */
};

/*
 * The collector reads the minimum under its allocation lock (when it
 * decides whether to collect): read and write it under the same lock, so
 * that setting the budget while other threads allocate is not a data race.
 */
static void *
gc_budget_store(void *arg)
{
    const struct gc_budget_req *r = arg;

    budget_factor = r->factor;
    budget_floor = r->floor;
    budget_is_default = r->is_default;
    budget_set = r->minimum;
    GC_set_min_bytes_allocd(r->minimum);
    return NULL;
}

static void *
gc_budget_fetch(void *arg)
{
    *(size_t *)arg = GC_get_min_bytes_allocd();
    return NULL;
}

/*
 * Under the allocation lock, once per collection: the minimum for the next
 * cycle from the heap in use now.  Called soon after the collection (the
 * first slow allocation of any thread after it), when the blocks holding
 * no live object have been freed and little has been allocated since, so
 * the heap less its free blocks is close to the bytes the collection kept
 * (a block with any live object counts whole).
 */
static void *
gc_budget_follow(void *arg)
{
    GC_word no = GC_get_gc_no();
    size_t used, b;

    (void)arg;
    /* ORDER: relaxed; the lock orders the writers, and a reader that sees
     * an old value only takes the lock once more.  Pairs with the load in
     * gc_budget_poll(). */
    if (hamt__load_rlx(&budget_seen) == no) {
        return NULL;
    }
    hamt__store_rlx(&budget_seen, no);
    if (budget_factor == 0) {
        return NULL;
    }
    if (GC_get_min_bytes_allocd() != budget_set
        || (budget_is_default
            && GC_get_free_space_divisor() != GC_DIVISOR_DEFAULT)) {
        budget_factor = 0; /* the application's own choice: keep it */
        return NULL;
    }
    /*
     * The heap less its free blocks, from the statistics getter meant for
     * callers that hold the allocation lock: GC_get_heap_size and
     * GC_get_free_bytes read the same words without the lock in bdwgc 8.2
     * but take it in later releases, which would deadlock here.
     */
    struct GC_prof_stats_s st;
    if (GC_get_prof_stats_unsafe(&st, sizeof st)
            < offsetof(struct GC_prof_stats_s, free_bytes_full)
                  + sizeof st.free_bytes_full
        || st.heapsize_full < st.free_bytes_full) {
        return NULL; /* keep the minimum as it stands */
    }
    used = (size_t)(st.heapsize_full - st.free_bytes_full);
    b = used > SIZE_MAX / budget_factor ? SIZE_MAX : used * budget_factor;
    if (b < budget_floor) {
        b = budget_floor;
    }
    budget_set = b;
    GC_set_min_bytes_allocd(b);
    return NULL;
}

/*
 * On the slow allocation path: has a collection happened since the rule
 * last looked?  A plain read of the collector's counter (an unlocked
 * getter, a word it writes with the world stopped) and of budget_seen;
 * the lock is taken only when they differ, about once per collection.
 */
static inline void
gc_budget_poll(void)
{
    /* ORDER: relaxed; see gc_budget_follow(). */
    if (HAMT_UNLIKELY(GC_get_gc_no() != hamt__load_rlx(&budget_seen))) {
        (void)GC_call_with_alloc_lock(gc_budget_follow, NULL);
    }
}
#endif

/*
 * Sets the minimum to bytes and the rule to (factor, floor); is_default
 * for hamt_init's own choice.
 */
static void
gc_budget_apply(size_t bytes, unsigned factor, size_t floor, bool is_default)
{
#ifdef HAMT_NO_GC
    (void)factor;
    (void)floor;
    (void)is_default;
    /* ORDER: relaxed; the word publishes nothing else, and a reader only
     * needs some value that was set (pairs with the load below). */
    hamt__store_rlx(&nogc_budget, bytes);
#else
    struct gc_budget_req r = {bytes, factor, floor, is_default};

    (void)GC_call_with_alloc_lock(gc_budget_store, &r);
#endif
}

size_t
hamt__gc_budget(void)
{
#ifdef HAMT_NO_GC
    /* ORDER: relaxed; pairs with the store in gc_budget_apply(). */
    return hamt__load_rlx(&nogc_budget);
#else
    size_t v;

    (void)GC_call_with_alloc_lock(gc_budget_fetch, &v);
    return v;
#endif
}

int
hamt__gc_set_budget(size_t bytes)
{
    if (bytes == 0) {
        errno = EINVAL;
        return -1;
    }
    gc_budget_apply(bytes, 0, 0, false);
    return 0;
}

int
hamt__gc_set_budget_factor(unsigned factor, size_t floor)
{
    if (factor == 0 || floor == 0) {
        errno = EINVAL;
        return -1;
    }
    gc_budget_apply(floor, factor, floor, false);
    return 0;
}

/*
 * The divisor at initialisation: the library's unless the application or
 * GC_FREE_SPACE_DIVISOR chose one (bdwgc reads that variable in GC_INIT, so
 * a value equal to the collector's default is told apart by the variable,
 * not by the setting).  True if the library's divisor is in force.
 */
static bool
gc_divisor_init(void)
{
#ifndef HAMT_NO_GC
    if (getenv("GC_FREE_SPACE_DIVISOR") == NULL
        && GC_get_free_space_divisor() == GC_DIVISOR_COLLECTOR) {
        GC_set_free_space_divisor(GC_DIVISOR_DEFAULT);
        return true;
    }
    return false;
#else
    return true;
#endif
}

/*
 * The budget at initialisation: HAMT_GC_BUDGET if set (EINVAL if
 * malformed), a fixed minimum; else nothing if the application set a
 * minimum of its own before hamt_init(); else the library's default, the
 * proportional rule when the divisor is the library's too, the floor as a
 * fixed minimum when the application chose the divisor.
 */
static int
gc_budget_init(void)
{
    const char *env = getenv("HAMT_GC_BUDGET");
    size_t v;

    if (env != NULL) {
        if (!hamt__gc_budget_parse(env, &v)) {
            errno = EINVAL;
            return -1;
        }
        gc_budget_apply(v, 0, 0, false);
        (void)gc_divisor_init();
        return 0;
    }
    if (hamt__gc_budget() != GC_BUDGET_COLLECTOR) {
        (void)gc_divisor_init();
        return 0;
    }
    /* The proportional rule rests on divisor 1: only with the library's. */
    if (gc_divisor_init()) {
        gc_budget_apply(GC_BUDGET_DEFAULT, GC_FACTOR_DEFAULT, GC_BUDGET_DEFAULT,
                        true);
    } else {
        gc_budget_apply(GC_BUDGET_DEFAULT, 0, 0, false);
    }
    return 0;
}

#ifndef HAMT_NO_GC
/*
 * The kind of the leaves of scalar maps (see the top comment, "Leaves of
 * scalar maps"): objects the collector marks and clears like scanned ones
 * but whose only traced word is the first, through a bitmap descriptor
 * whose most significant bit stands for that word.  The kind number is
 * published once by hamt_init (pthread_once there); 0 means not made, and
 * those leaves then come from GC_MALLOC_ATOMIC.
 */
#define GC_LEAF_DESCR (((GC_word)1 << (8 * sizeof(GC_word) - 1)) | GC_DS_BITMAP)
static HAMT_ATOMIC(unsigned) gc_leaf_kind;

static void
gc_leaf_kind_init(void)
{
    void **fl = GC_new_free_list(); /* once: hamt_init's pthread_once */
    unsigned kind;

    if (fl == NULL) {
        return;
    }
    kind = GC_new_kind(fl, GC_LEAF_DESCR, 0, 1);
    /*
     * A new kind has no reclaim lists until a single object of it is
     * allocated (GC_generic_malloc_inner makes them; GC_generic_malloc_many
     * never does).  Without them a collection neither sweeps the kind's
     * blocks nor empties its global free list, where GC_FREE puts objects:
     * that list then outlives the collection that frees its blocks, and
     * hands out memory in use (a batch's freed leaves did, in
     * gc/scalar_maps_survive_collections).  So allocate one, and use the
     * kind only if that worked; the object is garbage at once.
     */
    if (GC_generic_malloc(GC_GRANULE_BYTES, (int)kind) == NULL) {
        return;
    }
    /* ORDER: release; pairs with the acquire in hamt__gc_alloc_slow, which
     * may run in a thread that allocates without having called hamt_init
     * itself. */
    hamt__store_rel(&gc_leaf_kind, kind);
}
#endif

bool
hamt__gc_init_off_main(void)
{
#ifndef HAMT_NO_GC
    /*
     * GC_INIT takes the calling thread for the main thread: it records
     * that thread's stack as the main stack and registers it.  Were it
     * another thread, which later exits, the collector would go on
     * signalling it at every collection and abort the process ("Signals
     * delivery fails constantly").  On Linux the main thread is the one
     * whose thread id is the process id.
     */
    return !GC_is_init_called() && (pid_t)syscall(SYS_gettid) != getpid();
#else
    return false;
#endif
}

int
hamt__gc_init(void)
{
#ifndef HAMT_NO_GC
    /*
     * GC_INIT is idempotent; GC_allow_register_threads must come after it
     * and before any thread registers.  Both are cheap after the first call.
     */
    if (!GC_is_init_called()) {
        hamt__markers_default();
        GC_INIT();
    }
    GC_allow_register_threads();
    hamt__thread_note_gc_signals();
    /*
     * The kind's set-up allocates, and the calling thread may not be
     * registered yet (an application that initialised the collector itself
     * may make its first call from any thread; thread.c registers it after
     * this set-up): a collection started here would abort the process
     * ("Collecting from unknown thread").  No collection may start in it.
     */
    GC_disable();
    gc_leaf_kind_init();
    GC_enable();
#endif
    return gc_budget_init();
}

#ifndef HAMT_NO_GC
/*
 * Per-thread free lists of scanned objects (see the top comment, "The
 * allocation path"): struct hamt__gc_fl, and the pop, are in gc_fast.h.
 */
enum gc_fl_state { GC_FL_UNSET = 0, GC_FL_ON = 1, GC_FL_OFF = 2 };

/*
 * A thread without lists of its own points at this set, whose lists stay
 * empty (nothing ever pushes to them): its first pop finds nothing and
 * takes the slow path, which tells it apart by its address, so the fast
 * path needs no test of its own for it.
 */
static struct hamt__gc_fl gc_fl_none;

/*
 * This thread's lists (gc_fl_none until its first scanned allocation, and
 * again once its exit has begun) and whether it may have them.  The lists'
 * pointer is declared in gc_fast.h, whose inline fast path pops from them; only
 * this file writes it.  Private to the thread and never the only reference
 * to the lists (the key below holds it too, and the lists are
 * uncollectable): plain thread-local words.
 * Initial-exec, as thread.c's state byte: a fixed offset from the thread
 * pointer instead of a __tls_get_addr call on every allocation (the call
 * GC_MALLOC pays).  That model is sound for a library linked at start-up,
 * and glibc keeps static TLS space for a few such words of a dlopen'ed
 * one too (thread.c).
 */
#if defined(__GNUC__)
_Thread_local struct hamt__gc_fl *hamt__gc_fl_mine
    __attribute__((tls_model("initial-exec"))) = &gc_fl_none;
static _Thread_local unsigned char gc_fl_state
    __attribute__((tls_model("initial-exec")));
#else
_Thread_local struct hamt__gc_fl *hamt__gc_fl_mine = &gc_fl_none;
static _Thread_local unsigned char gc_fl_state;
#endif

static pthread_once_t gc_fl_once = PTHREAD_ONCE_INIT;
static pthread_key_t gc_fl_key;
static int gc_fl_key_error;

/*
 * At thread exit: stop using the lists and give the block back.  The
 * objects on the lists are then reachable from nothing and the next
 * collection reclaims them.  A library call made by a later destructor of
 * the same thread allocates with plain GC_MALLOC (GC_FL_OFF), so that no
 * new lists are made for a thread that is going away.
 */
static void
gc_fl_release(void *v)
{
    hamt__gc_fl_mine = &gc_fl_none;
    gc_fl_state = GC_FL_OFF;
    GC_FREE(v);
}

static void
gc_fl_key_create(void)
{
    gc_fl_key_error = pthread_key_create(&gc_fl_key, gc_fl_release);
}

void
hamt__gc_thread_detach(void)
{
    /*
     * The fast path pops without registering the thread: pointing it at the
     * empty lists sends the next allocation to hamt__gc_alloc_slow(), which
     * registers the thread again before it hands out anything.  An object
     * popped by an unregistered thread would be held only by a stack the
     * collector does not scan, and could be reclaimed and handed out again.
     */
    hamt__gc_fl_mine = &gc_fl_none;
}

/*
 * Makes the calling thread's lists.  On any failure the thread allocates
 * through GC_MALLOC from then on: slower, never wrong.
 */
static struct hamt__gc_fl *
gc_fl_setup(void)
{
    struct hamt__gc_fl *fl;

    gc_fl_state = GC_FL_OFF;
    if (pthread_once(&gc_fl_once, gc_fl_key_create) != 0
        || gc_fl_key_error != 0) {
        return NULL;
    }
    fl = GC_MALLOC_UNCOLLECTABLE(sizeof *fl); /* Zeroed: every list empty. */
    if (fl == NULL) {
        return NULL;
    }
    if (pthread_setspecific(gc_fl_key, fl) != 0) {
        GC_FREE(fl);
        return NULL;
    }
    hamt__gc_fl_mine = fl;
    gc_fl_state = GC_FL_ON;
    return fl;
}

/*
 * An empty list: ask the collector for a block's worth of free objects of
 * g granules (one sweep of a block, or a fresh block, under its lock; it
 * may collect first).  NULL with errno ENOMEM when there is no memory.
 */
static void *
gc_fl_refill(HAMT_ATOMIC(void *) *head, size_t g, int kind)
{
    void *list = NULL;

    /* `list` is on this stack, scanned, until it is in the list head. */
    GC_generic_malloc_many(g * GC_GRANULE_BYTES, kind, &list);
    if (HAMT_UNLIKELY(list == NULL)) {
        errno = ENOMEM;
        return NULL;
    }
    return hamt__gc_fl_pop(head, list);
}

/*
 * Everything but a pop from a non-empty list: this thread's first
 * allocation, sizes beyond the lists, refills; scanned memory, or the leaf
 * kind's if leaf (GC_MALLOC_ATOMIC, zeroed here, if that kind could not be
 * made).  Out of line, so that the fast path (hamt__gc_fl_fast,
 * gc_fast.h) saves no register and needs no stack frame (every node of a
 * persistent update's path is one such call).
 *
 * It first registers the calling thread if nobody has (thread.c; a
 * thread-local load once the thread is known).  A thread that allocates
 * must be known to the collector, which aborts the process when an unknown
 * thread's allocation starts a collection ("Collecting from unknown
 * thread"), and scans no stack of such a thread.  So an update in a thread
 * nobody registered (a plain thread, or a reader that so far only used
 * hamt_cell_acquire) registers it, as the cell's calls do.  A thread's
 * first allocation and every refill come here, so the fast path of a pop
 * never pays for it.
 */
__attribute__((noinline)) void *
hamt__gc_alloc_slow(size_t n, bool leaf)
{
    struct hamt__gc_fl *fl = hamt__gc_fl_mine;
    /* The collector adds one byte to each request (interior pointers;
     * counting it also when they are off only rounds up). */
    size_t g = (n + GC_GRANULE_BYTES) / GC_GRANULE_BYTES;
    int kind = GC_I_NORMAL;
    void *p;

    if (HAMT_UNLIKELY(hamt__thread_ensure() != 0)) {
        return NULL;
    }
    if (fl == &gc_fl_none && gc_fl_state == GC_FL_ON) {
        /*
         * Detached when the thread was unregistered (hamt__gc_thread_detach):
         * registered again just now, it takes its lists back.  They stayed
         * alive meanwhile (the key holds them, the block is uncollectable).
         */
        struct hamt__gc_fl *own = pthread_getspecific(gc_fl_key);

        if (own != NULL) {
            fl = hamt__gc_fl_mine = own;
        }
    }
    if (leaf) {
        /* ORDER: acquire; pairs with the release in gc_leaf_kind_init(). */
        kind = (int)hamt__load_acq(&gc_leaf_kind);
    }
    if (leaf && kind == 0) {
        p = GC_MALLOC_ATOMIC(n);
        if (p != NULL) {
            memset(p, 0, n); /* as the leaf kind's objects are */
        }
    } else if ((fl == &gc_fl_none
                && (gc_fl_state != GC_FL_UNSET || (fl = gc_fl_setup()) == NULL))
               || g > HAMT__GC_FL_GRANULES) {
        p = leaf ? GC_generic_malloc(n, kind) : GC_MALLOC(n);
    } else {
        HAMT_ATOMIC(void *) *head = leaf ? &fl->leaf[g] : &fl->head[g];
        /* ORDER: relaxed; this thread is the only writer (hamt__gc_fl_pop). */
        p = hamt__load_rlx(head);
        p = p != NULL ? hamt__gc_fl_pop(head, p) : gc_fl_refill(head, g, kind);
    }
    gc_budget_poll();
    if (HAMT_UNLIKELY(p == NULL)) {
        errno = ENOMEM;
    }
    return p;
}
#endif /* !HAMT_NO_GC */

#ifdef HAMT_TEST_HOOKS
/* Counts an allocation; false (errno ENOMEM) if it is the injected failure. */
static bool
gc_hooks_pass(void)
{
    alloc_count++;
    if (HAMT_UNLIKELY(gc_fail_now())) {
        errno = ENOMEM;
        return false;
    }
    return true;
}
#endif

#ifdef HAMT_NO_GC
/* Without the collector both kinds are calloc's zeroed memory. */
static void *
nogc_zeroed(size_t n)
{
    void *p = calloc(1, n);

    if (HAMT_UNLIKELY(p == NULL)) {
        errno = ENOMEM;
    }
    return p;
}
#else
/* The fast path is hamt__gc_fl_fast, in gc_fast.h. */
#endif

/*
 * Zeroed memory of either kind (the leaf kind if leaf): what hamt__alloc
 * and hamt__alloc_leaf share, inlined so that each keeps its frameless
 * fast path.
 */
static inline __attribute__((always_inline)) void *
alloc_zeroed(size_t n, bool leaf)
{
#ifdef HAMT_TEST_HOOKS
    if (!gc_hooks_pass()) {
        return NULL;
    }
#endif
#ifdef HAMT_NO_GC
    (void)leaf;
    return nogc_zeroed(n);
#else
    return hamt__gc_fl_fast(n, leaf);
#endif
}

/* Scanned, zeroed memory: a pop from this thread's list of its size. */
void *
hamt__alloc(size_t n)
{
    return alloc_zeroed(n, false);
}

/* Zeroed memory traced only through its first word. */
void *
hamt__alloc_leaf(size_t n)
{
    return alloc_zeroed(n, true);
}

/* Pointer-free memory, not zeroed. */
void *
hamt__alloc_atomic(size_t n)
{
    void *p;

#ifdef HAMT_TEST_HOOKS
    if (!gc_hooks_pass()) {
        return NULL;
    }
#endif
#ifdef HAMT_NO_GC
    p = malloc(n ? n : 1);
#else
    /* Registers an unknown thread first, as hamt__gc_alloc_slow() does. */
    if (HAMT_UNLIKELY(hamt__thread_ensure() != 0)) {
        return NULL;
    }
    p = GC_MALLOC_ATOMIC(n);
#endif
    if (HAMT_UNLIKELY(p == NULL)) {
        errno = ENOMEM;
    }
    return p;
}

size_t
hamt__alloc_usable(const void *p)
{
#ifdef HAMT_NO_GC
    return malloc_usable_size((void *)(uintptr_t)p);
#else
    /* GC_size includes the extra byte the collector adds to each request
     * (interior pointers are recognised): leave it alone.  0 for anything
     * that is not a collector object (never asked for here). */
    size_t n = GC_size(p);

    return n != 0 ? n - 1 : 0;
#endif
}

int
hamt__alloc_kind(const void *p)
{
#ifdef HAMT_NO_GC
    (void)p;
    return -1;
#else
    void *base = GC_base((void *)(uintptr_t)p);

    if (base == NULL) {
        return -1;
    }
    int kind = GC_get_kind_and_size(base, NULL);

    /* ORDER: relaxed; tests call this after hamt_init.  Pairs with
     * nothing. */
    return kind == GC_I_PTRFREE
                   || (unsigned)kind == hamt__load_rlx(&gc_leaf_kind)
               ? 1
               : 0;
#endif
}

size_t
hamt__alloc_block_size(const void *p)
{
#ifdef HAMT_NO_GC
    return malloc_usable_size((void *)(uintptr_t)p);
#else
    return GC_size(p);
#endif
}

void
hamt__free(void *p)
{
#ifdef HAMT_NO_GC
    /* Only objects nothing else can reach come here (batch nodes replaced
     * inside their batch, cell records never published): freeing them
     * lets ASan catch a use after free. */
    free(p);
#else
    GC_FREE(p);
#endif
}
