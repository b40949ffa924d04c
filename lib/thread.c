/*
 * thread.c - making threads known to the collector.
 *
 * Why: the Boehm collector finds live objects by scanning the stacks and
 * registers of the threads it knows.  A thread it does not know is not
 * scanned, so a map version referenced only from such a thread's stack can
 * be reclaimed and its memory reused while the thread still reads it
 * (TOOLCHAIN.md shows this happening).  Every thread that holds a map
 * pointer must therefore be registered, unless it only reads and protects
 * each snapshot with a hazard slot (below).
 *
 * How: per thread, one byte of thread-local state says what this library
 * knows about the calling thread:
 *
 *     state              meaning                           at thread exit
 *     ----------------   -------------------------------   ---------------
 *     THREAD_UNKNOWN     not checked yet                   nothing
 *     THREAD_FOREIGN     registered already, by the        nothing (its
 *                        collector itself (the main          owner
 *                        thread, GC_pthread_create) or       unregisters)
 *                        by the application
 *     THREAD_OURS        registered here with              the key destructor
 *                        GC_register_my_thread()             unregisters it
 *
 * hamt__thread_ensure() is what the cell and the combiner call on every
 * entry that registers (all but the slot readers' calls), and what the
 * allocator's slow path calls (gc.c: a thread's first allocation, refills):
 * once the state is known it costs one thread-local load and a predicted
 * branch.
 * The state is initial-exec TLS, so reaching it is a fixed offset from the
 * thread pointer rather than a call to __tls_get_addr (the library is linked
 * at start-up in every supported use; glibc reserves static TLS space for a
 * few bytes of dlopen'ed initial-exec data as well).
 *
 * A thread registered here gets a non-NULL value under a pthread key whose
 * destructor calls GC_unregister_my_thread() when the thread exits: the
 * collector aborts the process if a registered thread exits without
 * unregistering.
 *
 * Invariants:
 *   - The state byte is only ever read and written by its own thread; it is
 *     not shared memory, so it needs no atomic access.
 *   - THREAD_OURS <=> this library's GC_register_my_thread() returned
 *     GC_SUCCESS and GC_unregister_my_thread() has not been called since,
 *     <=> the key holds a non-NULL value for this thread.
 *   - The state byte is never the only reference to anything (it holds no
 *     pointer); thread-local storage is not a collector root.
 *
 * What remains the caller's job: hamt_init() (or any map constructor) must
 * run on the main thread first, because the collector must be initialised
 * there; a thread the application registered itself must stay registered
 * while it uses the library; and a thread that blocks the collector's
 * signals must not hold maps.
 *
 * Without the collector (HAMT_NO_GC, sanitizer builds) nothing is ever
 * freed, so the registration functions are no-ops that succeed.
 *
 * ---- Hazard slots: readers the collector never knows ----
 *
 * A thread that only reads through hamt_cell_acquire() is never registered.
 * It protects each snapshot with a slot (slot.h; the protocol and its proof
 * are in cell.c).  This file owns where slots live and how threads get
 * them:
 *
 *   slot_chunks (static) --> chunk --> chunk --> ... --> NULL
 *                            (next: set before the chunk is linked, never
 *                             changed; chunks are never unlinked or freed)
 *
 *   struct slot_chunk (malloc'd, never collector memory)
 *   +------------------------------+------------------+-------------------+
 *   | slot[SLOT_N] {rec, chunk, i} | shadow[SLOT_N]   | next, mine_next,  |
 *   | rec written by the owner     | collector only   | owner, used       |
 *   +------------------------------+------------------+-------------------+
 *
 *   - A chunk belongs to at most one live thread (`owner`, claimed with a
 *     compare-and-swap from NULL).  The owner takes slots from it by
 *     setting bits in `used` (owner-private, no atomics) and chains the
 *     chunks it owns through `mine_next`; the thread-local `slot_mine`
 *     heads that chain.  So the number of slots grows with the number of
 *     reader threads (and snapshots held at once) without a fixed limit.
 *   - At thread exit a pthread key destructor clears every slot of the
 *     thread's chunks and gives the chunks back (owner := NULL, release);
 *     the next thread that needs one claims it instead of allocating.
 *   - The steady path of hamt__slot_get() is a thread-local load and a bit
 *     search: no lock, no allocation, no shared write.  The slow path (a
 *     thread's first slot, or all its slots in use) walks the chunk list
 *     for a free chunk and mallocs one when there is none; it calls
 *     pthread_setspecific and malloc, never the collector.
 *   - The collector reads the slots through its push-other-roots hook
 *     (slot_push_roots), installed once from a registered thread
 *     (hamt__slots_setup, called by hamt_cell_new): it copies every slot
 *     with an acquire load into the chunk's shadow array and scans that
 *     array at once with GC_push_all_eager.  Copying first is what makes
 *     the reads of the slots atomic loads ordered by the hook's own fence
 *     (cell.c, S3 and S5); the shadow is touched only inside the hook,
 *     which runs under the collector's lock, one collection at a time.
 *   - Chunks come from calloc and never from the collector: collector
 *     memory would need registration to allocate, and a chunk must outlive
 *     every collection that could read it (it lives forever).
 *
 * The marker count (hamt_set_markers) lives here too: it is about reader
 * threads competing with the collector's parallel markers for cores.
 */
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "slot.h"

#if defined(__GNUC__)
#define THREAD_TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define THREAD_TLS_MODEL
#endif

#ifndef HAMT_NO_GC

#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#include <gc/gc_mark.h>

enum thread_state { THREAD_UNKNOWN = 0, THREAD_FOREIGN = 1, THREAD_OURS = 2 };

/* Private to its thread: see the invariants above. */
static _Thread_local unsigned char thread_state THREAD_TLS_MODEL;

static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static int thread_key_error;

/*
 * Runs at the exit of a thread that this library registered (the key's
 * value is non-NULL only for those).  The thread is still registered, so
 * unregistering here is what the collector requires.  The state goes back
 * to unknown with it (the invariant above): the application's own key
 * destructors may run after this one and call the library, which must then
 * register the thread again rather than believe it registered (it would
 * allocate unregistered, and the collector aborts the process when such a
 * thread starts a collection).
 */
static void
thread_key_destroy(void *value)
{
    (void)value;
    GC_unregister_my_thread();
    thread_state = THREAD_UNKNOWN;
    hamt__gc_thread_detach();
}

/* Creates the key once per process; records the error for later callers. */
static void
thread_key_create(void)
{
    thread_key_error = pthread_key_create(&thread_key, thread_key_destroy);
}

/*
 * The slow path of hamt__thread_ensure(): runs once per thread (and again
 * after hamt_thread_unregister()).  Returns 0 or -1 with errno.
 */
static int
thread_register_slow(void)
{
    struct GC_stack_base sb;
    int rc;

    if (hamt_init() != 0) {
        return -1;
    }
    if (GC_thread_is_registered()) {
        thread_state = THREAD_FOREIGN;
        return 0;
    }
    if (pthread_once(&thread_key_once, thread_key_create) != 0
        || thread_key_error != 0) {
        errno = ENOMEM;
        return -1;
    }
    if (GC_get_stack_base(&sb) != GC_SUCCESS) {
        errno = ENOMEM;
        return -1;
    }
    rc = GC_register_my_thread(&sb);
    if (rc == GC_DUPLICATE) {
        /* Registered between the check above and here: not by us. */
        thread_state = THREAD_FOREIGN;
        return 0;
    }
    if (rc != GC_SUCCESS) {
        errno = ENOMEM;
        return -1;
    }
    if (pthread_setspecific(thread_key, (void *)&thread_key) != 0) {
        /* Without the destructor the thread would abort at exit. */
        GC_unregister_my_thread();
        errno = ENOMEM;
        return -1;
    }
    thread_state = THREAD_OURS;
    return 0;
}

int
hamt__thread_ensure(void)
{
    if (HAMT_LIKELY(thread_state != THREAD_UNKNOWN)) {
        return 0;
    }
    return thread_register_slow();
}

bool
hamt__thread_known(void)
{
    return thread_state != THREAD_UNKNOWN;
}

int
hamt_thread_register(void)
{
    return hamt__thread_ensure();
}

void
hamt_thread_unregister(void)
{
    if (thread_state != THREAD_OURS) {
        /* Not registered by this library: its owner decides. */
        return;
    }
    /*
     * Clear the key first, so the destructor cannot unregister a second
     * time when the thread exits.
     */
    (void)pthread_setspecific(thread_key, NULL);
    GC_unregister_my_thread();
    thread_state = THREAD_UNKNOWN;
    hamt__gc_thread_detach();
}

#else
/* HAMT_NO_GC: nothing shared is ever freed, so no thread needs scanning. */

int
hamt__thread_ensure(void)
{
    return 0;
}

bool
hamt__thread_known(void)
{
    return true;
}

int
hamt_thread_register(void)
{
    return 0;
}

void
hamt_thread_unregister(void)
{
}

#endif /* HAMT_NO_GC */

/* ---- hazard slots (see the top comment) ---- */

#define SLOT_N 32u
#define SLOT_ALL 0xffffffffu /* `used` with every one of SLOT_N bits set */

struct slot_chunk {
    struct hamt_snapshot slot[SLOT_N];
    void *shadow[SLOT_N];            /* Collector hook only. */
    struct slot_chunk *next;         /* Immutable once linked. */
    struct slot_chunk *mine_next;    /* Owner only. */
    HAMT_ATOMIC(const void *) owner; /* &slot_self of the owner, or NULL. */
    uint32_t used;                   /* Owner only: slots in use. */
    unsigned turn;                   /* Owner only: the next slot to try. */
};

/* Every chunk ever made; only ever grows at the head. */
static HAMT_ATOMIC(struct slot_chunk *) slot_chunks;

/* The chunks the calling thread owns (private to the thread). */
static _Thread_local struct slot_chunk *slot_mine THREAD_TLS_MODEL;
/* Its address names the calling thread as a chunk's owner. */
static _Thread_local char slot_self THREAD_TLS_MODEL;

static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static int slot_key_error;

/* 0, or ENOTSUP when the collector's mode is one the proof excludes. */
static HAMT_ATOMIC(int) slot_refused;

/*
 * 0, or ENOTSUP once manual dirty bits are on: no publication is safe then
 * (hamt__slots_setup()).
 */
static HAMT_ATOMIC(int) cell_refused;

/* Destructor rounds slot_key_destroy() has put off (see there). */
static _Thread_local unsigned char slot_exit_rounds THREAD_TLS_MODEL;

/*
 * Thread exit: clear every slot of the thread's chunks and give the chunks
 * back.  `value` is the head of the thread's chain (slot_mine).
 *
 * Key destructors run in an order POSIX leaves open (glibc: the order the
 * keys were made, and the slot key is made at a thread's first slot), so
 * an application destructor that runs after this one may still read and
 * release snapshots the thread holds.  While the thread holds any, this
 * one puts its value back and returns, which makes the system run another
 * round of destructors; it clears in the last round there is.
 */
static void
slot_key_destroy(void *value)
{
    struct slot_chunk *ch = value;
    struct slot_chunk *next;

    if (slot_exit_rounds + 1 < PTHREAD_DESTRUCTOR_ITERATIONS) {
        for (struct slot_chunk *c = ch; c != NULL; c = c->mine_next) {
            if (c->used != 0) {
                slot_exit_rounds++;
                if (pthread_setspecific(slot_key, value) == 0) {
                    return;
                }
                break; /* Cannot defer: clear now. */
            }
        }
    }
    while (ch != NULL) {
        for (unsigned i = 0; i < SLOT_N; i++) {
            /*
             * ORDER: release; pairs with the acquire load in
             * slot_push_roots() (S6 in cell.c): the thread's reads of a
             * snapshot it never released come before the collector sees
             * its slot empty.
             */
            hamt__store_rel(&ch->slot[i].rec, NULL);
        }
        next = ch->mine_next;
        ch->used = 0;
        ch->mine_next = NULL;
        /*
         * ORDER: release; pairs with the acquire (success order of the
         * compare-and-swap) in slot_claim(): the next owner sees `used`,
         * `mine_next` and the cleared slots as written here.
         */
        hamt__store_rel(&ch->owner, NULL);
        ch = next;
    }
    slot_mine = NULL;
}

/*
 * In the child of fork() only the forking thread exists: give back the
 * chunks of every other thread, whose destructors will never run, so that
 * their snapshots are no longer rooted and later threads reuse the chunks.
 * The child has one thread, so plain walks and stores would do; the
 * atomics are for uniformity with the rest of the file.
 */
static void
slot_atfork_child(void)
{
    /* ORDER: acquire; as in slot_claim(). */
    for (struct slot_chunk *ch = hamt__load_acq(&slot_chunks); ch != NULL;
         ch = ch->next) {
        /* ORDER: relaxed; only this thread runs. */
        const void *owner = hamt__load_rlx(&ch->owner);

        if (owner == NULL || owner == (const void *)&slot_self) {
            continue;
        }
        for (unsigned i = 0; i < SLOT_N; i++) {
            /* ORDER: release; as in slot_key_destroy(). */
            hamt__store_rel(&ch->slot[i].rec, NULL);
        }
        ch->used = 0;
        ch->mine_next = NULL;
        /* ORDER: release; as in slot_key_destroy(). */
        hamt__store_rel(&ch->owner, NULL);
    }
}

static void
slot_key_create(void)
{
    slot_key_error = pthread_key_create(&slot_key, slot_key_destroy);
    if (slot_key_error == 0) {
        slot_key_error = pthread_atfork(NULL, NULL, slot_atfork_child);
    }
}

/* Claims a chunk nobody owns, or NULL if every chunk is owned. */
static struct slot_chunk *
slot_claim(void)
{
    /*
     * ORDER: acquire; pairs with the release (seq_cst) compare-and-swap in
     * slot_link(): a linked chunk's `next` and its slots' immutable fields
     * are visible.
     */
    for (struct slot_chunk *ch = hamt__load_acq(&slot_chunks); ch != NULL;
         ch = ch->next) {
        const void *none = NULL;

        /*
         * ORDER: relaxed pre-check, then acq_rel compare-and-swap.  The
         * acquire half pairs with the release store of NULL in
         * slot_key_destroy() (the previous owner's plain writes are
         * visible); release is not needed for anything but is what a
         * success order of acq_rel gives.  Failure needs nothing: the
         * chunk is skipped.
         */
        if (hamt__load_rlx(&ch->owner) == NULL
            && atomic_compare_exchange_strong_explicit(
                &ch->owner, &none, (const void *)&slot_self,
                memory_order_acq_rel, memory_order_relaxed)) {
            return ch;
        }
    }
    return NULL;
}

/* Links a fresh chunk at the head of slot_chunks. */
static void
slot_link(struct slot_chunk *ch)
{
    /* ORDER: relaxed; only the starting guess of the loop below. */
    struct slot_chunk *head = hamt__load_rlx(&slot_chunks);

    do {
        ch->next = head; /* Unpublished until the swap succeeds. */
        /*
         * ORDER: seq_cst on success.  Release publishes `next` and the
         * slots' fields (pairs with the acquire loads in slot_claim() and
         * slot_push_roots()).  seq_cst because a reader's slot store (A2 in
         * cell.c) follows this in program order, and the collector's fence
         * must see the chunk whenever it must see the store (S3).
         * Failure: relaxed, `head` is only the next guess.
         */
    } while (!atomic_compare_exchange_weak_explicit(
        &slot_chunks, &head, ch, memory_order_seq_cst, memory_order_relaxed));
}

#ifdef HAMT_TEST_HOOKS
void (*hamt__slot_slow_hook)(void);
#endif

/* The slow path of hamt__slot_get(): one more chunk for this thread. */
static struct hamt_snapshot *
slot_get_slow(void)
{
    struct slot_chunk *ch;
    bool fresh = false;
    unsigned first;

    if (pthread_once(&slot_key_once, slot_key_create) != 0
        || slot_key_error != 0) {
        errno = ENOMEM;
        return NULL;
    }
    ch = slot_claim();
    if (ch == NULL) {
        ch = hamt__fail_injected() ? NULL : calloc(1, sizeof *ch);
        if (ch == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        for (unsigned i = 0; i < SLOT_N; i++) {
            hamt__atomic_init(&ch->slot[i].rec, NULL);
            ch->slot[i].chunk = ch;
            ch->slot[i].index = i;
        }
        hamt__atomic_init(&ch->owner, (const void *)&slot_self);
        fresh = true;
    }
    ch->mine_next = slot_mine;
    if (pthread_setspecific(slot_key, ch) != 0) {
        /* Without the destructor the chunk would never come back. */
        ch->mine_next = NULL;
        if (fresh) {
            free(ch); /* Never linked: nobody else can see it. */
        } else {
            /* ORDER: release; as in slot_key_destroy(). */
            hamt__store_rel(&ch->owner, NULL);
        }
        errno = ENOMEM;
        return NULL;
    }
#ifdef HAMT_TEST_HOOKS
    if (hamt__slot_slow_hook != NULL) {
        hamt__slot_slow_hook();
    }
#endif
    if (fresh) {
        slot_link(ch);
    }
    slot_mine = ch;
    /*
     * A claimed chunk goes on from its previous owner's turn (a fresh one
     * starts at 0, calloc), so that a handle the exited thread kept names a
     * free slot (EINVAL) rather than this thread's first snapshot.
     */
    first = ch->turn;
    ch->used = 1u << first;
    ch->turn = (first + 1) % SLOT_N;
    return &ch->slot[first];
}

#ifndef HAMT_NO_GC
/*
 * The collector's suspend and restart signals, which the slow path below
 * leaves open.  Asked of the collector once, at init (a thread it knows),
 * so that a slot reader, which never calls the collector, need not ask.
 */
static HAMT_ATOMIC(int) slot_sig_suspend;
static HAMT_ATOMIC(int) slot_sig_restart;

void
hamt__thread_note_gc_signals(void)
{
    /* ORDER: relaxed; see slot_get_slow_blocked(). */
    hamt__store_rlx(&slot_sig_suspend, GC_get_suspend_signal());
    /* ORDER: relaxed; as above. */
    hamt__store_rlx(&slot_sig_restart, GC_get_thr_restart_signal());
}
#endif

/*
 * slot_get_slow() with the thread's signals blocked.  The slow path calls
 * pthread_once, calloc and pthread_setspecific and sets the thread's chain
 * and key value in two steps: a signal handler that took a snapshot in
 * between (its own first slot) used to leave one of the two chunks in
 * neither, owned by the thread for good (a chunk lost per such exit, and
 * any snapshot in it rooted for ever), and one that came inside the
 * pthread_once waited for itself.  Blocked, such a handler runs when the
 * slow path is done and takes its slot on the steady path.  The
 * collector's stop and restart signals stay open (their handlers never
 * enter the library, and the collector waits for a registered thread's
 * answer).  Costs two system calls, once per chunk a thread takes.
 */
static struct hamt_snapshot *
slot_get_slow_blocked(void)
{
    struct hamt_snapshot *s;
    sigset_t all, old;
    int e;

    sigfillset(&all);
#ifndef HAMT_NO_GC
    /*
     * ORDER: relaxed; written at init, before any cell (and so any slot
     * reader) existed, and the reader got its cell through the
     * application's own synchronisation.  Pairs with nothing.
     */
    int sig = hamt__load_rlx(&slot_sig_suspend);

    if (sig > 0) {
        sigdelset(&all, sig);
    }
    /* ORDER: relaxed; as above. */
    sig = hamt__load_rlx(&slot_sig_restart);
    if (sig > 0) {
        sigdelset(&all, sig);
    }
#endif
    if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) {
        return slot_get_slow(); /* Cannot fail with valid arguments. */
    }
    e = errno;
    s = slot_get_slow();
    if (s == NULL) {
        e = errno;
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e; /* A handler run at the unmask may have changed it. */
    return s;
}

struct hamt_snapshot *
hamt__slot_get(void)
{
    for (struct slot_chunk *ch = slot_mine; ch != NULL; ch = ch->mine_next) {
        if (HAMT_LIKELY(ch->used != SLOT_ALL)) {
            /*
             * The first free slot from `turn` on, round the chunk: slots
             * are handed out in turn rather than lowest first, so that a
             * handle released twice names a free slot (EINVAL) until the
             * thread has taken as many snapshots since as it has free
             * slots, instead of the very next snapshot's.
             */
            uint32_t avail = ~ch->used;
            unsigned t = ch->turn;
            uint32_t ahead = avail >> t | avail << ((SLOT_N - t) % SLOT_N);
            unsigned i = ((unsigned)__builtin_ctz(ahead) + t) % SLOT_N;

            ch->used |= 1u << i;
            ch->turn = (i + 1) % SLOT_N;
            return &ch->slot[i];
        }
    }
    return slot_get_slow_blocked();
}

int
hamt__slot_put(struct hamt_snapshot *s)
{
    struct slot_chunk *ch = s->chunk;

    /*
     * ORDER: relaxed.  Only an identity check: if the calling thread owns
     * the chunk it wrote this value itself; no other thread can store this
     * thread's &slot_self.
     */
    if (HAMT_UNLIKELY(hamt__load_rlx(&ch->owner) != (const void *)&slot_self
                      || s->index >= SLOT_N || &ch->slot[s->index] != s
                      || (ch->used & (1u << s->index)) == 0)) {
        errno = EINVAL;
        return -1;
    }
    /*
     * ORDER: release; S6 in cell.c.  Pairs with the acquire load in
     * slot_push_roots(): every read the thread made of the snapshot happens
     * before a collection that sees the slot empty can reclaim it.
     */
    hamt__store_rel(&s->rec, NULL);
    ch->used &= ~(1u << s->index);
    return 0;
}

size_t
hamt__slot_chunk_count(void)
{
    size_t n = 0;

    /* ORDER: acquire; pairs with the seq_cst swap in slot_link(). */
    for (struct slot_chunk *ch = hamt__load_acq(&slot_chunks); ch != NULL;
         ch = ch->next) {
        n++;
    }
    return n;
}

int
hamt__slots_refused(void)
{
    /*
     * ORDER: relaxed.  Set by hamt__slots_setup() before the cell it was
     * called for is shared, whose caller's own synchronisation on that cell
     * orders the store before this load; or by slot_push_roots() in the
     * collection that GC_enable_incremental() runs, where a reader that
     * still reads 0 is one that came before the switch (hamt_cell(3)).
     */
    return hamt__load_rlx(&slot_refused);
}

int
hamt__cells_refused(void)
{
    /*
     * ORDER: relaxed, as hamt__slots_refused(): a flag that only ever goes
     * from 0 to ENOTSUP and orders no other data.
     */
    return hamt__load_rlx(&cell_refused);
}

#ifndef HAMT_NO_GC

static pthread_once_t slot_hook_once = PTHREAD_ONCE_INIT;
static GC_push_other_roots_proc slot_prev_push;

/*
 * The collector runs in incremental mode: refuse slot readers, and with
 * manual dirty bits every publication too.  Called with the mode seen on
 * (hamt__slots_setup(), slot_push_roots()).
 */
static void
slot_refuse_mode(void)
{
    /*
     * ORDER: relaxed; see hamt__slots_refused().  Incremental and
     * generational modes mark with the world running; S1-S8 assume every
     * marking step runs with the writers stopped.
     */
    hamt__store_rlx(&slot_refused, ENOTSUP);
    if (GC_get_manual_vdb_allowed()) {
        /*
         * ORDER: relaxed; see hamt__cells_refused().  Manual dirty bits
         * need GC_end_stubborn_change() after every write to a collector
         * object; the library makes none, so no publication is safe in
         * that mode, registered readers or not.
         */
        hamt__store_rlx(&cell_refused, ENOTSUP);
    }
}

/*
 * The collector's push-other-roots hook: runs in the collecting thread,
 * with the allocation lock held, while the world is stopped (in the
 * non-incremental mode that hamt__slots_setup() requires).
 */
static void GC_CALLBACK
slot_push_roots(void)
{
    /*
     * An application that switches incremental mode on after its first
     * cell: GC_enable_incremental() collects once, world stopped, before
     * any incremental marking (when anything was allocated, as the cell
     * was), and that collection reaches this hook.  From then on slot
     * readers and, with manual dirty bits, publications are refused.
     */
    if (HAMT_UNLIKELY(GC_is_incremental_mode())) {
        slot_refuse_mode();
    }
    /*
     * ORDER: seq_cst fence; F in cell.c (S3).  Every registered writer
     * acknowledged the stop before this point, so each publication it made
     * precedes this fence in the single total order; a reader's slot store
     * that precedes one of those publications precedes the fence too, and
     * the loads below see it.
     */
    atomic_thread_fence(memory_order_seq_cst);
    /* ORDER: acquire; pairs with the seq_cst swap in slot_link(). */
    for (struct slot_chunk *ch = hamt__load_acq(&slot_chunks); ch != NULL;
         ch = ch->next) {
        for (unsigned i = 0; i < SLOT_N; i++) {
            /*
             * ORDER: acquire; pairs with the release store that clears a
             * slot (hamt__slot_put, slot_key_destroy): if this sees the
             * slot empty, the reader's reads of the snapshot it held
             * happened before (S6).
             */
            ch->shadow[i] = hamt__load_acq(&ch->slot[i].rec);
        }
        /* Scanned now, in this thread: the shadow is ours only here. */
        GC_push_all_eager(ch->shadow, ch->shadow + SLOT_N);
    }
    if (slot_prev_push != 0) {
        slot_prev_push(); /* The thread stacks, and any other client's. */
    }
}

/* Runs under the collector's allocation lock (GC_call_with_alloc_lock). */
static void *GC_CALLBACK
slot_hook_install(void *arg)
{
    (void)arg;
    slot_prev_push = GC_get_push_other_roots();
    GC_set_push_other_roots(slot_push_roots);
    return NULL;
}

static void
slot_hook_once_fn(void)
{
    /*
     * gc_mark.h asks for external synchronisation of the setter and the
     * getter: the allocation lock is what every collection holds while it
     * calls the hook.
     */
    (void)GC_call_with_alloc_lock(slot_hook_install, NULL);
}

int
hamt__slots_setup(void)
{
    if (GC_is_incremental_mode()) {
        slot_refuse_mode();
        if (hamt__cells_refused() != 0) {
            errno = ENOTSUP;
            return -1;
        }
        return 0;
    }
    (void)pthread_once(&slot_hook_once, slot_hook_once_fn);
    return 0;
}

/*
 * Whether the application chose the marker count through
 * hamt_set_markers().  Written and read only on the thread that
 * initialises the library, before any other thread may use it (the
 * count must be set before GC_INIT), so a plain bool is enough.
 */
static bool markers_chosen;

int
hamt_set_markers(unsigned n)
{
    if (n == 0 || n > 64) {
        errno = EINVAL;
        return -1;
    }
    /*
     * The collector reads the count in GC_init (GC_thr_init) and starts the
     * markers at GC_allow_register_threads(): after that a new count would
     * be silently ignored.
     */
    if (GC_is_init_called()) {
        errno = EBUSY;
        return -1;
    }
    GC_set_markers_count(n);
    markers_chosen = true;
    return 0;
}

/*
 * The library's default marker count, applied just before GC_INIT when
 * neither hamt_set_markers() nor GC_MARKERS chose one: on a machine of at
 * most two cores a second marker takes the core a slot reader would run
 * on while the world is stopped, and buys the registered threads little,
 * so one marker marks alone.  Larger machines keep the collector's count
 * (one per core): the library has no measurement there to overrule it.
 */
void
hamt__markers_default(void)
{
    if (markers_chosen || GC_is_init_called() || getenv("GC_MARKERS") != NULL) {
        return;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 0 && cores <= 2) {
        GC_set_markers_count(1);
    }
}

#else /* HAMT_NO_GC */

int
hamt__slots_setup(void)
{
    return 0; /* Nothing is freed: slots protect nothing but are kept. */
}

int
hamt_set_markers(unsigned n)
{
    if (n == 0 || n > 64) {
        errno = EINVAL;
        return -1;
    }
    return 0; /* No collector, no markers. */
}

void
hamt__markers_default(void)
{
}

#endif /* HAMT_NO_GC */
