/*
 * cell.c - the publication cell: one shared, mutable word that holds the
 * current version of a map.  This is the only place in libhamt where
 * threads synchronise.
 *
 * Layout:
 *
 *   struct hamt_cell (collector object)      struct cell_rec (one per
 *   +---------------------------+              publication, immutable)
 *   | rec  (atomic pointer) ----+----------->  +-----------+------------+
 *   | seq  (u32, futex word)    |              | version   | map -------+--> struct hamt
 *   | waiters (u32)             |              +-----------+------------+
 *   +---------------------------+
 *
 * Every publication allocates a fresh record {version, map} and swings
 * `rec` to it.  A reader therefore gets a map and its version from ONE
 * acquire load; the two can never be torn apart, and the read path writes
 * nothing shared.  Records are never modified after publication.  Old
 * records and old maps are reclaimed by the collector once no registered
 * thread and no hazard slot references them; that is also why
 * compare-and-swap on `rec` has no ABA problem: a record cannot be freed
 * and reused while a registered thread that loaded it still holds the
 * pointer (a slot reader's A1 guess may be stale: S4).
 *
 * Guarantees (also listed in hamt_cell(3)):
 *
 *   P1  A snapshot shows everything written before its map was published:
 *       the acquire load of `rec` pairs with the release (or stronger)
 *       publication, and the record, the map and every node reachable from
 *       it were fully written before that.
 *   P2  Taking a snapshot (hamt_cell_load) is one acquire load: wait-free,
 *       no lock, no allocation, no write to shared memory, never blocks the
 *       writer and is never blocked by it.  (The first call on a thread
 *       registers the thread with the collector; see thread.c.)
 *   P3  A snapshot never changes and stays valid for as long as a thread
 *       the collector knows holds it, or a hazard slot holds it (S3),
 *       however many versions are published meanwhile.
 *   P4  The map and version of one snapshot belong together: the version is
 *       the number of publications that preceded this map.
 *   P5  Versions start at 0 and increase by exactly one per successful
 *       publication; a reader sees them in increasing order.
 *   P6  hamt_cell_store() is for one writer at a time (by contract: callers
 *       serialise stores).  hamt_cell_cas() and hamt_cell_update() are safe
 *       from any number of threads at once: of several racing
 *       publications from the same version that change the map, exactly
 *       one succeeds; the others fail with EAGAIN (cas) or retry (update).
 *       hamt_cell_cas() compares maps, not records: one that republishes
 *       `expected` itself does not make the others fail, so both succeed.
 *       Publishing is lock-free.
 *   P7  hamt_cell_wait() returns once a version newer than the caller's is
 *       published, or on timeout.  While nobody waits, publishing makes no
 *       system call and writes no word other than `rec`.  A waiter sleeps
 *       for any valid timeout: a deadline the clock cannot express is
 *       "forever", and a futex failure other than EAGAIN, EINTR and
 *       ETIMEDOUT (each of which ends a sleep or stands for an event) is
 *       never retried without sleeping (hamt__nap()).
 *
 * The waiting protocol (P7).  The futex word `seq` is bumped, and waiters
 * woken, only when `waiters` is non-zero.  Writer and waiter each write
 * one word and then read the other's:
 *
 *     writer                               waiter
 *     W1 rec := new           (seq_cst)    R1 waiters += 1       (seq_cst)
 *     W2 n := waiters         (seq_cst)    R2 s := seq           (seq_cst)
 *     W3 if n: seq += 1; futex_wake        R3 v := rec->version  (seq_cst)
 *                                          R4 if v <= seen: futex_wait(seq, s)
 *
 * If release/acquire were used, W2 could read 0 and R3 the old record at
 * the same time (each side's load may be satisfied before the other's
 * store is visible): the writer would skip the wake-up and the waiter would
 * sleep through the publication.  With all four accesses seq_cst there is
 * one total order S over them.  If R3 reads the old record, R3 precedes W1
 * in S; R1 precedes R3, so R1 precedes W2 and W2 sees the waiter; the
 * writer then bumps `seq` after R2 read it, so the kernel's compare in
 * futex_wait fails (the waiter re-checks) or the waiter is already queued
 * and futex_wake wakes it.  The cost on x86-64: the publication is an XCHG
 * instead of a MOV, and the waiter-count load is a plain MOV.
 *
 * ---- Readers the collector does not know: hazard slots ----
 *
 * hamt_cell_acquire() lets a thread that is never registered with the
 * collector read snapshots.  The collector neither stops nor scans such a
 * thread, so what keeps its snapshot alive is a slot (slot.h, thread.c): a
 * word the collector reads as a root in every collection.  The protocol:
 *
 *     reader (unregistered)                 writer (registered)
 *     A1 r := rec                (relaxed)  W  rec := new   (seq_cst store
 *     A2 slot := r               (seq_cst)                   or CAS)
 *     A3 r2 := rec               (seq_cst)
 *     A4 if r2 != r: r := r2, go to A2
 *     A5 read r->version, r->map and the map's nodes for as long as wanted
 *     A6 slot := NULL            (release)
 *
 *     collector (registered thread, world stopped, thread.c slot_push_roots)
 *     F  fence                   (seq_cst)  after every registered thread
 *                                           acknowledged the stop
 *     G  v := slot               (acquire)  for every slot; v is scanned
 *
 * Guarantees of the slot protocol (also listed in hamt_cell(3)):
 *
 *   S1  (what the collector must be) bdwgc in its default, non-incremental
 *       mode: every marking step, parallel markers included, runs in
 *       GC_stopped_mark with every registered thread stopped; the hook that
 *       reads the slots (G) runs there, in GC_push_roots, called with the
 *       world stopped in every collection (also after a mark stack
 *       overflow).  Unregistered threads are sent no signal (GC_suspend_all
 *       walks GC_threads only) and their stacks are not scanned.  Every
 *       writer of the cell is registered (publishing allocates).  In
 *       incremental or generational mode marking also runs with the world
 *       going (GC_collect_a_little_inner), which S3 does not cover:
 *       hamt_cell_acquire() fails there with ENOTSUP, and hamt_cell_new()
 *       fails with ENOTSUP when manual dirty bits are allowed as well (no
 *       cell is safe then: the library never calls GC_end_stubborn_change).
 *   S2  A reader dereferences r only after A3 returned r itself, and then
 *       reads the record through the value A3 returned (seq_cst, hence
 *       acquire): P1 holds for it as for hamt_cell_load().
 *   S3  (no snapshot is reclaimed while its slot holds it) Take a
 *       collection, F its fence, C the record in the cell while the world
 *       is stopped (the writers are stopped, so it cannot change).  A
 *       reader whose A3 returned r and whose slot still holds r at F:
 *       - if r = C, r is reachable from the cell, which the caller keeps
 *         reachable from a root the collector sees (hamt_cell(3)); marked.
 *       - otherwise A3 read a value that some later publication W, made
 *         before the stop, overwrote.  A seq_cst load that reads a value
 *         older than a seq_cst store precedes it in the single total order
 *         S: A3 < W.  A2 < A3 (program order, both seq_cst).  W happens
 *         before F: the writer's acknowledgement of the stop (sem_post in
 *         its suspend handler) synchronises with the collector's sem_wait;
 *         or W is the collecting thread's own earlier store; or the writer
 *         has since unregistered, exited or entered GC_do_blocking, each
 *         of which takes the collector's allocation lock after W, and the
 *         collection holds that lock.  S is consistent with happens-before
 *         and both are seq_cst, so W < F.  Hence A2 < F, and the acquire
 *         load G that follows F in the collector's thread sees A2 or a
 *         later store to the slot: it sees r, which is then marked, with
 *         the map and every node and value reachable from the record.
 *       The chunk holding the slot is seen as well.  Either the reader
 *       linked it, with a seq_cst compare-and-swap before A2 in its program
 *       order, or it claimed a chunk another thread had linked, after an
 *       acquire walk of the list that read that link: the link happens
 *       before A2 either way, so it precedes A2, and F, in S.
 *   S4  (ABA is harmless) r in A1 may be a record reclaimed since and its
 *       memory reused.  A2 then roots a stale word (harmless) and A3 sees a
 *       different record, so r is never read.  If the memory was reused
 *       for a record that was published again, A3 returns the same address
 *       and the reader reads that record, which is current at A3 and
 *       rooted from then on: the snapshot is a real, complete version.
 *   S5  The root scan reads slots only with atomic loads (G into the
 *       chunk's shadow array, then GC_push_all_eager on the shadow, which
 *       only the hook touches), so the collector never reads a slot word
 *       non-atomically.
 *   S6  (release) A6 is a release store and G an acquire load: a
 *       collection that sees the slot empty sees every read the reader
 *       made of the snapshot as done, so reclaiming it afterwards cannot
 *       change what the reader read.  A snapshot must not be touched after
 *       A6; values looked up in it may be reclaimed from then on unless
 *       something else keeps them.
 *   S7  (cost and progress) The steady path of acquire is one relaxed load,
 *       one seq_cst store and one seq_cst load (x86-64: MOV, XCHG, MOV), no
 *       lock, no allocation, no shared write other than the thread's own
 *       slot; release is one store.  A4 repeats only when a publication
 *       landed between A1 and A3, so acquire is lock-free (a writer
 *       publishing without pause can delay one reader, never all).  The
 *       writer pays nothing: publications are seq_cst already (P7).  A
 *       thread's first slot (and one past all it holds) mallocs a chunk
 *       once; the thread never calls the collector.
 *   S8  Slots grow without a fixed limit (32 per chunk, chunks linked for
 *       ever) and a thread's chunks are cleared and reused after it exits
 *       (thread.c).  A thread holds as many snapshots at once as it likes;
 *       each acquire takes its own slot and is released on its own.
 *
 *   W/R table: which side writes (W) and reads (R) each shared word.
 *
 *     word               writer          slot reader        collector hook
 *     ----------------   -------------   ----------------   --------------
 *     cell rec           W seq_cst       R relaxed (A1),    (marks via the
 *                        (store, CAS)      R seq_cst (A3)    cell object)
 *     slot rec           -               W seq_cst (A2),    R acquire (G)
 *                                          W release (A6,    after F
 *                                          also at exit and
 *                                          after a waiter's
 *                                          look)
 *     chunk list head    -               W seq_cst CAS      R acquire
 *                                          (new chunk)
 *     chunk owner        -               W CAS acq_rel /    -
 *                                          release at exit,
 *                                          R relaxed (claim's
 *                                          pre-check, release's
 *                                          identity check)
 *     chunk used, turn,  -               W/R plain (owner   -
 *     mine_next                            only; handed on
 *                                          by owner's release
 *                                          and claim's CAS)
 *     chunk shadow       -               -                  W/R plain
 *                                                             (under lock)
 *
 * Function families: hamt_cell_new; readers hamt_cell_load,
 * hamt_cell_acquire and hamt_snapshot_release, hamt_cell_version,
 * hamt_cell_wait; writers hamt_cell_store, hamt_cell_cas, hamt_cell_update.
 *
 * References: userspace-rcu (rcu_assign_pointer/rcu_dereference and their
 * numbered guarantees), Concurrency Kit (ck_pr orders), Drepper "Futexes
 * Are Tricky" (the waiter count and the re-check after the compare).
 */
#include "internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "slot.h"

/* One publication: never written after the store that makes it visible. */
struct cell_rec {
    uint64_t version;
    const struct hamt *map;
};

/*
 * One key type per cell: every map a cell publishes has the key type of
 * the map it was made with.  Its readers and its combiner interpret keys
 * by the key type of whatever map they load; a map of another type
 * published by mistake (a string map into a cell of integer maps) would
 * make a combined update hand an integer to a string hash, a crash in
 * another thread.  So hamt_cell_store, hamt_cell_cas and hamt_cell_update
 * refuse such a map with EINVAL, comparing key-type pointers (one type,
 * one pointer: keys.c), as the set operations do.
 */
struct hamt_cell {
    HAMT_ATOMIC(struct cell_rec *) rec;
    HAMT_ATOMIC(uint32_t) seq;     /* futex word, bumped for waiters only */
    HAMT_ATOMIC(uint32_t) waiters; /* threads inside hamt_cell_wait() */
};

/*
 * A fresh, unpublished record.  NULL with errno = ENOMEM, or ENOTSUP when
 * the collector's mode makes publishing unsafe (S1; every publication
 * makes its record here).  Plain writes: no other thread can see it
 * before the publication.
 */
static struct cell_rec *
cell_rec_new(uint64_t version, const struct hamt *m)
{
    struct cell_rec *r;
    int refused = hamt__cells_refused();

    if (HAMT_UNLIKELY(refused != 0)) {
        errno = refused;
        return NULL;
    }
    r = hamt__alloc(sizeof *r);
    if (HAMT_UNLIKELY(r == NULL)) {
        return NULL;
    }
    r->version = version;
    r->map = m;
    return r;
}

/*
 * The reader's load.  ORDER: acquire; pairs with the seq_cst (hence
 * release) publication in hamt_cell_store() or cell_cas_rec().  The record
 * and every node reachable from its map were written before that store,
 * so they are visible after this load (P1).
 */
static inline struct cell_rec *
cell_rec_load(const struct hamt_cell *c)
{
    return hamt__load_acq(&c->rec);
}

#ifdef HAMT_TEST_HOOKS
void (*hamt__slot_hook)(const void *rec);
#endif

/*
 * A1-A4 of the slot protocol (top comment): roots the current record in
 * slot `s` and returns it.  The caller may read the record only through
 * the returned pointer (S2).
 */
static struct cell_rec *
cell_protect(const struct hamt_cell *c, struct hamt_snapshot *s)
{
    /*
     * ORDER: relaxed; A1.  Only a guess that A3 confirms: it is never
     * dereferenced, so it needs no ordering (S2, S4).
     */
    struct cell_rec *r = hamt__load_rlx(&c->rec);
    struct cell_rec *r2;

    for (;;) {
#ifdef HAMT_TEST_HOOKS
        if (hamt__slot_hook != NULL) {
            hamt__slot_hook(r);
        }
#endif
        /*
         * ORDER: seq_cst; A2.  Must precede A3 in the single total order,
         * so that a publication A3 did not see follows it too, and with it
         * the collector's fence F (S3).  Pairs with F and the acquire load
         * G in thread.c slot_push_roots().
         */
        hamt__store_sc(&s->rec, (void *)r);
        /*
         * ORDER: seq_cst; A3.  seq_cst so that it is ordered after A2 (a
         * later load may otherwise be satisfied before the store is
         * visible: S3); as an acquire it also pairs with the publication
         * of the record it returns (P1, S2).
         */
        r2 = hamt__load_sc(&c->rec);
        if (HAMT_LIKELY(r2 == r)) {
            return r;
        }
        r = r2; /* A publication landed in between: protect the new one. */
    }
}

/*
 * For a call that reads the cell's record several times (version, wait):
 * *slot stays NULL if the thread is known to the collector (it reads
 * records directly), or becomes a slot that protects each read; when slot
 * readers are refused the thread is registered instead.  0 or -1 (errno).
 */
static int
cell_reader_begin(struct hamt_snapshot **slot)
{
    *slot = NULL;
    if (hamt__thread_known()) {
        return 0;
    }
    if (hamt__slots_refused() != 0) {
        return hamt__thread_ensure();
    }
    *slot = hamt__slot_get();
    return *slot != NULL ? 0 : -1;
}

/*
 * The current record's version, with the record loaded seq_cst (the wait
 * protocol's R3 needs that; a slot's A3 is seq_cst too).
 */
static uint64_t
cell_version_sc(const struct hamt_cell *c, struct hamt_snapshot *slot)
{
    uint64_t v;

    if (slot == NULL) {
        /* ORDER: seq_cst; R3 or its fast-path twin (hamt_cell_wait). */
        return hamt__load_sc(&c->rec)->version;
    }
    v = cell_protect(c, slot)->version;
    /*
     * ORDER: release; A6 (S6), pairs with the acquire load in thread.c
     * slot_push_roots().  The slot stays the caller's but roots nothing
     * while it sleeps, so a waiter does not keep an old version alive.
     */
    hamt__store_rel(&slot->rec, NULL);
    return v;
}

static long
cell_futex(HAMT_ATOMIC(uint32_t) *word, int op, uint32_t val,
           const struct timespec *abs)
{
    return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, val,
                   abs, NULL, FUTEX_BITSET_MATCH_ANY);
}

/*
 * The writer's half of the waiting protocol (W2, W3 in the top comment);
 * called right after a successful seq_cst publication.
 */
static void
cell_wake(struct hamt_cell *c)
{
    /*
     * ORDER: seq_cst; W2.  Must not be satisfied before the publication
     * W1 (seq_cst) is visible: with acquire, the load could be performed
     * before W1 and miss a waiter that R3 shows the old record (the Dekker
     * race in the top comment).  Pairs with R1 in hamt_cell_wait().
     */
    if (HAMT_LIKELY(hamt__load_sc(&c->waiters) == 0)) {
        return;
    }
    /*
     * ORDER: seq_cst; W3.  Changes the futex word after R2 read it, so a
     * waiter's futex_wait either sees the new value and returns, or was
     * queued before this and is woken below.  The kernel's futex hash-bucket
     * lock orders the wake with the compare.
     */
    hamt__add_sc(&c->seq, 1);
    cell_futex(&c->seq, FUTEX_WAKE, INT_MAX, NULL);
}

struct hamt_cell *
hamt_cell_new(const struct hamt *m)
{
    struct hamt_cell *c;
    struct cell_rec *r;

    if (m == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (hamt__thread_ensure() != 0 || hamt__slots_setup() != 0) {
        return NULL;
    }
    c = hamt__alloc(sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    r = cell_rec_new(0, m);
    if (r == NULL) {
        hamt__free(c);
        return NULL;
    }
    /*
     * Not visible to any other thread yet: the caller publishes `c` by its
     * own means (thread creation, a mutex, an atomic store), which orders
     * these initialisations before any use elsewhere.
     */
    hamt__atomic_init(&c->rec, r);
    hamt__atomic_init(&c->seq, 0);
    hamt__atomic_init(&c->waiters, 0);
    return c;
}

const struct hamt *
hamt_cell_load(const struct hamt_cell *c, uint64_t *version)
{
    const struct cell_rec *r;

    if (HAMT_UNLIKELY(c == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    if (HAMT_UNLIKELY(hamt__thread_ensure() != 0)) {
        return NULL;
    }
    r = cell_rec_load(c); /* ORDER: acquire; see cell_rec_load(). */
    if (version != NULL) {
        *version = r->version;
    }
    return r->map;
}

const struct hamt *
hamt_cell_acquire(const struct hamt_cell *c, uint64_t *version,
                  struct hamt_snapshot **snap)
{
    struct hamt_snapshot *s;
    struct cell_rec *r;
    int refused;

    if (HAMT_UNLIKELY(c == NULL || snap == NULL)) {
        if (snap != NULL) {
            *snap = NULL;
        }
        errno = EINVAL;
        return NULL;
    }
    refused = hamt__slots_refused();
    if (HAMT_UNLIKELY(refused != 0)) {
        *snap = NULL;
        errno = refused;
        return NULL;
    }
    s = hamt__slot_get();
    if (HAMT_UNLIKELY(s == NULL)) {
        *snap = NULL;
        return NULL;
    }
    r = cell_protect(c, s);
    if (version != NULL) {
        *version = r->version;
    }
    *snap = s;
    return r->map;
}

const struct hamt *
hamt__cell_peek_unprotected(const struct hamt_cell *c, uint64_t *version)
{
    /*
     * ORDER: acquire; as cell_rec_load() (P1).  Deliberately nothing else:
     * this is the reader of the slot protocol without A2 (slot.h).
     */
    const struct cell_rec *r = cell_rec_load(c);

    *version = r->version;
    return r->map;
}

int
hamt_snapshot_release(struct hamt_snapshot *snap)
{
    if (snap == NULL) {
        errno = EINVAL;
        return -1;
    }
    return hamt__slot_put(snap); /* A6; EINVAL if not held by this thread. */
}

uint64_t
hamt_cell_version(const struct hamt_cell *c)
{
    struct hamt_snapshot *slot;
    uint64_t v;

    if (c == NULL) {
        return 0; /* A query: a NULL cell reads as version 0. */
    }
    if (cell_reader_begin(&slot) != 0) {
        return 0;
    }
    if (slot == NULL) {
        /* ORDER: acquire; see cell_rec_load(). */
        return cell_rec_load(c)->version;
    }
    v = cell_version_sc(c, slot);
    (void)hamt__slot_put(slot); /* Held by this thread: cannot fail. */
    return v;
}

int
hamt_cell_store(struct hamt_cell *c, const struct hamt *m, uint64_t *version)
{
    struct cell_rec *cur;
    struct cell_rec *next;

    if (c == NULL || m == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (hamt__thread_ensure() != 0) {
        return -1;
    }
    /*
     * ORDER: acquire (cell_rec_load).  The version and the map's key type
     * are needed; with one writer at a time it is the writer's own record,
     * but the previous publication may have come from another thread (the
     * writer role can be handed over), and acquire makes its record's
     * fields visible.
     */
    cur = cell_rec_load(c);
    if (HAMT_UNLIKELY(m->kt != cur->map->kt)) {
        errno = EINVAL; /* one key type per cell (struct hamt_cell) */
        return -1;
    }
    next = cell_rec_new(cur->version + 1, m);
    if (next == NULL) {
        return -1;
    }
    /*
     * ORDER: seq_cst; W1 of the waiting protocol.  Release is what P1 needs
     * (pairs with the acquire in cell_rec_load(): the record, the map and
     * its nodes were written before this store).  seq_cst is needed on top
     * so that the waiter-count load in cell_wake() cannot be satisfied
     * before this store is visible (pairs with R1/R3 in hamt_cell_wait()).
     */
    hamt__store_sc(&c->rec, next);
    cell_wake(c);
    if (version != NULL) {
        *version = next->version; /* Our own record: plain read. */
    }
    return 0;
}

/*
 * Compare-and-publish on the record pointer.  `*cur` is the record the
 * caller started from; `next` an unpublished record whose version the
 * caller has set to (*cur)->version + 1.  On failure *cur is updated to the
 * record now current.  Returns true if `next` was published.
 */
static bool
cell_cas_rec(struct hamt_cell *c, struct cell_rec **cur, struct cell_rec *next)
{
    /*
     * ORDER: seq_cst on success: release for P1 (pairs with the acquire in
     * cell_rec_load(); next and its map were written before) and W1 of the
     * waiting protocol (pairs with R1/R3 in hamt_cell_wait()).  seq_cst on
     * failure too (hamt__cas_sc), where acquire would do: the caller reads
     * the winner's record fields, which were written before the winner's
     * publication (pairs with that publication).  No ABA: a record the
     * caller holds cannot be reclaimed and reused (registered thread), so
     * pointer equality means no publication happened in between.
     */
    if (hamt__cas_sc(&c->rec, cur, next)) {
        cell_wake(c);
        return true;
    }
    return false;
}

int
hamt_cell_cas(struct hamt_cell *c, const struct hamt *expected,
              const struct hamt *m, uint64_t *version)
{
    struct cell_rec *cur;
    struct cell_rec *next = NULL;

    if (c == NULL || expected == NULL || m == NULL || m->kt != expected->kt) {
        errno = EINVAL; /* the last: one key type per cell */
        return -1;
    }
    if (hamt__thread_ensure() != 0) {
        return -1;
    }
    cur = cell_rec_load(c); /* ORDER: acquire; see cell_rec_load(). */
    if (HAMT_UNLIKELY(m->kt != cur->map->kt)) {
        errno = EINVAL; /* Neither map is of the cell's key type. */
        return -1;
    }
    /*
     * Loop invariant: cur is a record that was current at some point since
     * the call started.  The loop only repeats when another thread
     * published the same map `expected` again in between (the current map
     * is still `expected`, so the caller's condition holds): a conflict on
     * the record alone is not a conflict on the map.
     */
    while (cur->map == expected) {
        if (next == NULL) {
            next = cell_rec_new(0, m);
            if (next == NULL) {
                return -1;
            }
        }
        next->version = cur->version + 1; /* Unpublished: plain write. */
        if (cell_cas_rec(c, &cur, next)) {
            if (version != NULL) {
                *version = next->version; /* Written by us before. */
            }
            return 0;
        }
    }
    if (next != NULL) {
        hamt__free(next); /* Never visible to another thread. */
    }
    errno = EAGAIN;
    return -1;
}

const struct hamt *
hamt_cell_update(struct hamt_cell *c, hamt_cell_update_fn fn, void *ctx)
{
    struct cell_rec *cur;
    struct cell_rec *next = NULL;
    const struct hamt *m;

    if (c == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (hamt__thread_ensure() != 0) {
        return NULL;
    }
    cur = cell_rec_load(c); /* ORDER: acquire; see cell_rec_load(). */
    for (;;) {
        m = fn(cur->map, ctx);
        if (m == NULL || m == cur->map) {
            /* Failure (errno from fn), or nothing to publish. */
            break;
        }
        if (HAMT_UNLIKELY(m->kt != cur->map->kt)) {
            errno = EINVAL; /* one key type per cell (struct hamt_cell) */
            m = NULL;
            break;
        }
        if (next == NULL) {
            next = cell_rec_new(0, m);
            if (next == NULL) {
                return NULL;
            }
        }
        /* Unpublished: plain writes; the record is reused on retry. */
        next->version = cur->version + 1;
        next->map = m;
        if (cell_cas_rec(c, &cur, next)) {
            return m;
        }
        /* Lost the race: cur is now the winner's record; apply fn again. */
    }
    if (next != NULL) {
        hamt__free(next); /* Never visible to another thread. */
    }
    return m;
}

/*
 * The largest time_t.  time_t is a signed integer type on every target this
 * library builds for (Linux); the static assertion keeps it honest.
 */
#define CELL_TIME_MAX                                                          \
    ((time_t)((((uintmax_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1))
_Static_assert((time_t)-1 < 0, "time_t must be a signed integer type");

/*
 * The absolute CLOCK_MONOTONIC deadline `rel` (valid: 0 <= tv_nsec < 1e9,
 * tv_sec >= 0) from now.  Returns false when the sum does not fit in a
 * time_t: such a deadline lies beyond what the clock can express and means
 * "forever".  Adding first and checking after would be signed overflow
 * (undefined; in practice a deadline in the past, which made the futex fail
 * at once and the wait loop spin).
 */
bool
hamt__deadline(const struct timespec *rel, struct timespec *abs)
{
    clock_gettime(CLOCK_MONOTONIC, abs);
    /* abs->tv_sec >= 0 on CLOCK_MONOTONIC; keep one second for the carry. */
    if (rel->tv_sec > CELL_TIME_MAX - 1 - abs->tv_sec) {
        return false;
    }
    abs->tv_sec += rel->tv_sec;
    abs->tv_nsec += rel->tv_nsec;
    if (abs->tv_nsec >= 1000000000L) {
        abs->tv_nsec -= 1000000000L;
        abs->tv_sec++;
    }
    return true;
}

/* The longest nap after an unexpected futex failure (see hamt__nap()). */
#define CELL_NAP_MAX_NS (64L * 1000 * 1000)

/*
 * Sleep after the futex failed in a way the waiting protocol does not
 * expect (not a wake-up, EAGAIN, EINTR or ETIMEDOUT: e.g. ENOSYS or EPERM
 * from a sandbox that filters futex, or EINVAL).  Retrying at once would
 * turn the wait into a busy loop, so the waiter polls instead: it sleeps
 * *step nanoseconds (doubling up to CELL_NAP_MAX_NS, so a publication is
 * still noticed) but never past `deadline` (NULL: no deadline).  Returns 0
 * (slept, or a signal cut the nap short: the caller re-checks either way),
 * or an error number from clock_nanosleep().
 */
int
hamt__nap(const struct timespec *deadline, long *step)
{
    struct timespec until;
    int e;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += *step;
    while (until.tv_nsec >= 1000000000L) {
        until.tv_nsec -= 1000000000L;
        until.tv_sec++;
    }
    if (deadline != NULL
        && (until.tv_sec > deadline->tv_sec
            || (until.tv_sec == deadline->tv_sec
                && until.tv_nsec > deadline->tv_nsec))) {
        until = *deadline;
    }
    if (*step < CELL_NAP_MAX_NS) {
        *step *= 2;
    }
    e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
    return e == EINTR ? 0 : e;
}

/* Whether CLOCK_MONOTONIC has reached `deadline`. */
bool
hamt__past(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec
           || (now.tv_sec == deadline->tv_sec
               && now.tv_nsec >= deadline->tv_nsec);
}

int
hamt_cell_wait(struct hamt_cell *c, uint64_t seen,
               const struct timespec *timeout)
{
    struct timespec deadline;
    const struct timespec *until = NULL; /* NULL: wait without limit */
    long step = HAMT__NAP_FIRST_NS;      /* first nap after a failure */
    struct hamt_snapshot *slot;
    uint32_t s;
    int saved_errno = errno;
    int cancel_state;
    int rc = 0;
    int err = 0;

    if (c == NULL
        || (timeout != NULL
            && (timeout->tv_sec < 0 || timeout->tv_nsec < 0
                || timeout->tv_nsec >= 1000000000L))) {
        errno = EINVAL;
        return -1;
    }
    /*
     * Not a cancellation point (hamt_cell(3)): the futex system call is
     * not one, but hamt__nap()'s clock_nanosleep() is, and a waiter
     * cancelled there would leave `waiters` raised for good and its slot
     * held until its exit.  A cancellation acts at the caller's next
     * cancellation point after the return.  Changes nothing of errno.
     */
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    if (cell_reader_begin(&slot) != 0) {
        err = errno;
        rc = -1;
        goto done;
    }
    /*
     * Fast path; for a registered thread no shared write.  ORDER: seq_cst
     * (cell_version_sc); acquire would do here, but the slot path is
     * seq_cst anyway and on x86-64 the two are the same load.
     */
    if (cell_version_sc(c, slot) > seen) {
        goto out;
    }
    if (timeout != NULL && hamt__deadline(timeout, &deadline)) {
        until = &deadline;
    }
    /*
     * ORDER: seq_cst; R1.  Must precede R3 in the single total order, so
     * that a writer whose W2 comes after it sees the waiter; pairs with W2
     * in cell_wake() (the Dekker pattern in the top comment).
     */
    hamt__add_sc(&c->waiters, 1);
    for (;;) {
        if (slot != NULL && HAMT_UNLIKELY(hamt__slots_refused() != 0)) {
            /*
             * Incremental mode came on while this thread waited: the slot
             * no longer protects (S1), so wait on as a registered thread.
             */
            (void)hamt__slot_put(slot);
            slot = NULL;
            if (hamt__thread_ensure() != 0) {
                err = errno;
                rc = -1;
                break;
            }
        }
        /*
         * ORDER: seq_cst; R2.  Read before R3: if the record read by R3 is
         * old, the bump W3 of the publication that makes it new comes after
         * this load, so the futex compare below sees the change.  Pairs
         * with W3 in cell_wake().
         */
        s = hamt__load_sc(&c->seq);
        /*
         * ORDER: seq_cst; R3 (cell_version_sc: the load of `rec`, or A3
         * of the slot protocol).  Must not be satisfied before R1 is
         * visible (acquire would allow that on weak hardware, and would
         * let R3 and W2 both read old values).  Also an acquire for P1.
         */
        if (cell_version_sc(c, slot) > seen) {
            break;
        }
        if (cell_futex(&c->seq, FUTEX_WAIT_BITSET, s, until) == 0) {
            continue; /* Woken (or spuriously): re-check. */
        }
        /*
         * Each failure the protocol expects either slept or stands for an
         * event that ended the sleep: EAGAIN (the word changed: a
         * publication), EINTR (a signal; the collector stops threads with
         * signals), ETIMEDOUT (the deadline).  Any other failure returns at
         * once, so retrying it directly would spin: nap first.
         */
        if (errno == EAGAIN || errno == EINTR) {
            continue;
        }
        if (errno != ETIMEDOUT) {
            err = hamt__nap(until, &step);
            if (err != 0) {
                rc = -1;
                break;
            }
            if (until == NULL || !hamt__past(until)) {
                continue;
            }
        }
        /* One last look: a publication may have raced the deadline. */
        /* ORDER: seq_cst; as R3 above. */
        if (cell_version_sc(c, slot) <= seen) {
            rc = -1;
            err = ETIMEDOUT;
        }
        break;
    }
    /*
     * ORDER: seq_cst.  Only a count: a writer that still sees this waiter
     * does one needless wake-up, and one that no longer sees it has nobody
     * to wake.  seq_cst only for uniformity with R1 (free on x86-64).
     */
    hamt__sub_sc(&c->waiters, 1);
out:
    if (slot != NULL) {
        (void)hamt__slot_put(slot); /* A6: held by this thread. */
    }
done:
    (void)pthread_setcancelstate(cancel_state, NULL);
    /* A successful call leaves errno as it found it (the futex sets it). */
    errno = rc != 0 ? err : saved_errno;
    return rc;
}
