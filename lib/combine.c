/*
 * combine.c - combined publication: any number of threads submit updates
 * (set, remove, alter with a function) to one cell; one of them at a time,
 * the publisher, applies every pending request through one batch and
 * publishes the result once.  This is flat combining (Hendler, Incze,
 * Shavit, Tzafrir, "Flat combining and the synchronization-parallelism
 * tradeoff", SPAA 2010) over the batch editor of batch.c: instead of each
 * writer copying its own path and retrying a compare-and-publish
 * (hamt_cell_update), the writers hand their updates to whoever holds the
 * publisher flag, and a batch writes in place the nodes it already copied.
 *
 * Layout:
 *
 *   struct hamt_combine (collector object)
 *   +----------------------------+
 *   | cell  ---------------------+--> struct hamt_cell (cell.c)
 *   | pending (atomic) ----------+--> req --> req --> req --> NULL
 *   | busy    (atomic u32)       |    (newest first; each on its
 *   +----------------------------+     submitter's stack, or in
 *                                      collector memory if timed)
 *   struct combine_req
 *   +------+-----+-----+----+-----+----+-----+---------+-------------+
 *   | next | key | val | fn | ctx | op | err | version | state (u32) |
 *   +------+-----+-----+----+-----+----+-----+---------+-------------+
 *
 * A submitter fills a request, pushes it on `pending` (a Treiber stack:
 * one CAS on the head) and then either becomes the publisher (CAS on
 * `busy` from 0 to 1) or waits on its own request's `state` word with a
 * futex.  The publisher takes the whole list with one exchange, claims
 * each request (state PENDING -> TAKEN), applies them oldest first in one
 * hamt_batch (a lone request: the persistent call itself, which does less
 * work than a batch of one), publishes the result with one
 * hamt_cell_cas(), and completes each request (TAKEN -> DONE, with its
 * version or errno), waking its submitter if it sleeps.  It serves up to
 * COMBINE_ROUNDS rounds while requests keep arriving, then leaves (see
 * "departure").
 *
 * Request states (the low byte of `state`; bit STATE_SLEEP says the
 * submitter sleeps, or is about to, in futex_wait on the word):
 *
 *   PENDING --claim (publisher)--> TAKEN --complete (publisher)--> DONE
 *      |  \
 *      |   `--handoff (publisher)--> HANDOFF --(submitter: becomes the
 *      |                                       publisher, state back to
 *      |                                       PENDING, claims its own)
 *      `--cancel (submitter, timeout)--> CANCELLED (never applied)
 *
 * Who writes what (W) and reads what (R):
 *
 *   word            submitter                  publisher (holds busy)
 *   --------------  -------------------------  --------------------------
 *   pending         W push (CAS, seq_cst)      W take (exchange, acquire)
 *                                              R departure (seq_cst),
 *                                                handoff walk (acquire)
 *   busy            W CAS 0->1 (seq_cst)       W store 0 (seq_cst),
 *                                                CAS 0->1 on departure
 *   req fields      W before the push          R after the take
 *   req->next       W before the push          W when reversing the list
 *   req err,version R after seeing DONE        W before the DONE exchange
 *   req->state      W SLEEP bit (CAS, relaxed) W claim (CAS, relaxed),
 *                   W cancel (CAS, relaxed)      handoff (CAS, release),
 *                   W PENDING after HANDOFF      DONE (exchange, release)
 *                   R acquire
 *
 * Guarantees (also listed in hamt_combine(3)):
 *
 *   C1  Exactly once.  A request whose call returns 0 was applied exactly
 *       once, in exactly one published version (or in none, if its batch
 *       changed nothing), and every snapshot of that version or a later
 *       one shows it (until a later update overrides it).  A call that
 *       returns -1 was applied in no version.
 *   C2  Linearizable.  Each successful request takes effect at one instant
 *       between its call and its return: the publication of its batch
 *       (the successful hamt_cell_cas), or, for a batch that changed
 *       nothing, the load of the map the batch started from.  Within a
 *       batch the requests apply in the order their pushes succeeded.  So
 *       a request submitted after another one returned is applied after it.
 *   C3  Whole batches.  Readers see only published versions: a batch is
 *       published by one compare-and-publish, so a snapshot shows all of a
 *       batch or none of it, and each publication increases the cell's
 *       version by exactly one (cell.c P5).
 *   C4  Failures stay with their request.  A request's own failure (an
 *       invalid key, an alter function's invalid action: EINVAL; memory
 *       while applying it: ENOMEM) leaves the batch as it was (the batch
 *       editor's rule) and the other requests of the batch go on.  Only a
 *       failure of the shared steps (loading the cell, beginning the batch,
 *       publishing) fails every request of that round, with that step's
 *       errno (ENOMEM; ENOTSUP when publishing is refused, cell.c;
 *       EOVERFLOW when batch ids run out), and then none of them is
 *       applied: no request is lost while its submitter is told it
 *       succeeded.
 *   C5  Progress: blocking, not lock-free.  The publisher holds a flag; if
 *       it is descheduled, submitters wait (delayed, not lost).  Every
 *       request ever pushed is taken by some publisher or cancelled (proof
 *       below), and a publisher's work is bounded: at most COMBINE_ROUNDS
 *       rounds of at most one request per thread each, then it hands the
 *       flag to a waiting submitter.  So no thread waits forever as long
 *       as every publisher keeps being scheduled.  Readers (hamt_cell_load)
 *       are untouched: still one acquire load, wait-free.
 *   C6  Timeouts.  A submitter that gives a timeout gets -1 / ETIMEDOUT
 *       only if its request was still PENDING when it cancelled it; then
 *       it was never applied.  Once a publisher has claimed it (TAKEN) the
 *       request completes and the call returns its result, after the
 *       deadline if need be (one round of bounded work).  A submitter that
 *       is handed the publisher flag serves, whatever its deadline.  A
 *       timeout too far ahead for the clock to express means none.
 *   C7  Other writers.  hamt_cell_cas() and hamt_cell_update() may run on
 *       the same cell at the same time: the publisher's compare-and-publish
 *       then fails and it redoes the round on the new map (alter functions
 *       run again).  hamt_cell_store() must not run concurrently with the
 *       combiner (its single-writer contract).
 *   C8  Collector.  A request lives on its submitter's stack (a registered
 *       thread: scanned) or, when timed, in collector memory (scanned, and
 *       kept alive by the list until a publisher drops it); `pending` is
 *       inside a collector object.  So the keys and values of a request
 *       are seen by the collector for as long as any thread can use them.
 *
 * Why every request is taken (C5).  Let r be pushed at P (seq_cst).  Its
 * submitter then tries busy 0->1 (seq_cst).  If that succeeds it takes the
 * list itself.  If it fails, it read 1 written by a holder H, so in the
 * single total order S of seq_cst operations the failed CAS precedes H's
 * store busy := 0 (D1) and hence P precedes D1.  H's departure then loads
 * `pending` (D2, after D1 in S): either r was taken already, or D2 sees a
 * non-empty list and H tries to take busy again; if that fails another
 * thread holds busy, acquired after P, and every holder takes the list at
 * least once after acquiring (or hands it on while it is non-empty, which
 * repeats the argument for the new holder).  A holder that hands off does
 * so only to a PENDING request's submitter, which is waiting in this code
 * and cannot leave without serving.  The store/load pairs (P, CAS) and
 * (D1, D2) are the Dekker pattern; with acquire/release alone both loads
 * could miss the other's store and r would sit in the list with busy free
 * and its submitter asleep.
 *
 * Why a completed submitter may return at once.  The publisher reads a
 * request's `next` before completing it and never touches the request
 * after the DONE exchange except to pass its address to futex_wake; a
 * wake on an address whose stack frame has been reused can only cause a
 * spurious wake-up elsewhere, which every futex waiter must tolerate.
 * A cancelled request is not touched by its submitter again and lives in
 * collector memory, so a publisher may still walk over it.
 *
 * Function families: hamt_combine_new; submitters hamt_combine_set,
 * hamt_combine_remove, hamt_combine_alter; tests hamt__combine_pending.
 *
 * References: Hendler et al. (above); Treiber's stack for the push;
 * Drepper, "Futexes Are Tricky" (the sleeper flag and the re-check after
 * the kernel's compare); cell.c for the publication it builds on.
 */
#include "internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"

/*
 * Rounds one publisher serves before it hands the flag on.  Serving on
 * saves a wake-up and a context switch per round; handing on bounds how
 * long a submitter whose own request is done stays busy for others.
 */
#define COMBINE_ROUNDS 4
/* Sets gathered for one hamt_batch_set_many() call. */
#define COMBINE_GROUP 32
/*
 * Re-checks of the state word (each after a pause instruction) before a
 * submitter sleeps.  Long enough to outlast a holder applying a round of
 * one or two requests, so that a submitter whose request is queued behind
 * it rarely sleeps: a sleeper costs the holder a futex wake, and on an
 * idle virtual CPU the wake-up itself takes far longer than the round.
 * Short enough that a waiter whose holder was preempted soon gives its
 * core back.
 */
#define COMBINE_SPINS 1024

enum combine_op { OP_SET = 1, OP_REMOVE = 2, OP_ALTER = 3 };

#define STATE_PENDING 0u
#define STATE_TAKEN 1u
#define STATE_DONE 2u
#define STATE_HANDOFF 3u
#define STATE_CANCELLED 4u
#define STATE_MASK 0xffu
#define STATE_SLEEP 0x100u

struct combine_req {
    struct combine_req *next;
    const void *key;
    void *val;
    hamt_alter_fn fn;
    void *ctx;
    enum combine_op op;
    int err;          /* 0 or errno; written before DONE */
    uint64_t version; /* written before DONE */
    HAMT_ATOMIC(uint32_t) state;
};

struct hamt_combine {
    struct hamt_cell *cell;
    HAMT_ATOMIC(struct combine_req *) pending;
    HAMT_ATOMIC(uint32_t) busy;
    /*
     * Rounds by requests claimed: [i] counts rounds of i + 1 requests, the
     * last bucket all larger ones.  Written by the flag's holder only (so a
     * plain load and store, no read-modify-write); read by
     * hamt__combine_rounds() for the bench.
     */
    HAMT_ATOMIC(uint64_t) rounds[HAMT__COMBINE_HIST];
};

/*
 * The combiners this thread is serving as publisher, innermost first: an
 * alter function may submit to another combiner and so serve it too, and
 * a submission to any combiner of the chain, not only the innermost, would
 * wait for this thread itself, so it gets EDEADLK.  Each frame lives in
 * its combine_serve() call.  Holds no reference the collector needs (the
 * publishers' frames hold each cb).
 */
struct combine_frame {
    const struct hamt_combine *cb;
    const struct combine_frame *outer;
};
static _Thread_local const struct combine_frame *combine_serving;

/* Whether this thread is serving cb as publisher (at any depth). */
static bool
combine_served_here(const struct hamt_combine *cb)
{
    for (const struct combine_frame *f = combine_serving; f != NULL;
         f = f->outer) {
        if (f->cb == cb) {
            return true;
        }
    }
    return false;
}

/*
 * Naps taken after an unexpected futex failure (hamt__nap()), for the
 * tests: a deadline the futex refuses would make them count up.
 */
static HAMT_ATOMIC(uint64_t) combine_naps;

static long
combine_futex(HAMT_ATOMIC(uint32_t) *word, int op, uint32_t val,
              const struct timespec *abs)
{
    return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, val,
                   abs, NULL, FUTEX_BITSET_MATCH_ANY);
}

static inline void
combine_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct hamt_combine *
hamt_combine_new(struct hamt_cell *c)
{
    struct hamt_combine *cb;

    if (c == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (hamt__thread_ensure() != 0) {
        return NULL;
    }
    cb = hamt__alloc(sizeof *cb);
    if (cb == NULL) {
        return NULL;
    }
    cb->cell = c;
    /* Not visible to another thread yet: the caller shares cb by its own
     * synchronisation, as with the cell. */
    hamt__atomic_init(&cb->pending, NULL);
    hamt__atomic_init(&cb->busy, 0);
    for (size_t i = 0; i < HAMT__COMBINE_HIST; i++) {
        hamt__atomic_init(&cb->rounds[i], 0);
    }
    return cb;
}

/*
 * PENDING -> TAKEN, keeping the sleeper bit.  False if the submitter
 * cancelled it first.  Called by the publisher only.
 */
static bool
combine_claim(struct combine_req *r)
{
    /*
     * ORDER: relaxed.  Only the word's own transitions matter here: the
     * CAS and the submitter's cancel CAS are read-modify-writes of one
     * location, so exactly one wins.  The request's fields were made
     * visible by the push (seq_cst) and the take (acquire exchange).
     */
    uint32_t s = hamt__load_rlx(&r->state);

    for (;;) {
        if ((s & STATE_MASK) != STATE_PENDING) {
            return false; /* CANCELLED: the only other possible state */
        }
        /* ORDER: relaxed; as above. */
        if (hamt__cas_rlx(&r->state, &s, STATE_TAKEN | (s & STATE_SLEEP))) {
            return true;
        }
    }
}

/* TAKEN -> DONE with the result; wakes the submitter if it sleeps. */
static void
combine_complete(struct combine_req *r)
{
    /*
     * ORDER: release; pairs with the acquire load of the state in
     * combine_submit(): err and version, written before, are visible to
     * the submitter once it sees DONE.  After this exchange the request may
     * be gone (its submitter returned): only its address is used below.
     */
    uint32_t old = hamt__xchg_rel(&r->state, STATE_DONE);

    if (old & STATE_SLEEP) {
        combine_futex(&r->state, FUTEX_WAKE, 1, NULL);
    }
}

/*
 * PENDING -> HANDOFF: the publisher flag passes to r's submitter.  False
 * if r is not pending (cancelled).  Called by the flag's holder only.
 */
static bool
combine_handoff(struct combine_req *r)
{
    /* ORDER: relaxed; only to seed the CAS below, which re-checks. */
    uint32_t s = hamt__load_rlx(&r->state);

    for (;;) {
        if ((s & STATE_MASK) != STATE_PENDING) {
            return false;
        }
        /*
         * ORDER: release; pairs with the acquire load of the state in
         * combine_submit(): whatever this holder wrote while it held the
         * flag happens before the new holder's work.
         */
        if (hamt__cas_rel(&r->state, &s, STATE_HANDOFF)) {
            break;
        }
    }
    if (s & STATE_SLEEP) {
        combine_futex(&r->state, FUTEX_WAKE, 1, NULL);
    }
    return true;
}

/*
 * Applies the claimed requests (oldest first) to batch b.  Sets each
 * request's err to 0 or its own errno (C4).  Consecutive sets go through
 * hamt_batch_set_many() in groups; a set that fails with ENOMEM fails
 * alone and the group goes on after it.
 */
static void
combine_apply(const struct hamt_combine *cb, struct hamt_batch *b,
              const struct hamt__kt *kt, struct combine_req *head)
{
    const void *keys[COMBINE_GROUP];
    void *vals[COMBINE_GROUP];
    struct combine_req *reqs[COMBINE_GROUP];
    struct combine_req *r = head;

    (void)cb;
    while (r != NULL) {
        r->err = 0;
        if (r->op == OP_SET) {
            size_t n = 0;
            size_t at = 0;

            while (r != NULL && r->op == OP_SET && n < COMBINE_GROUP) {
                r->err = 0;
                if (hamt__key_valid(kt, r->key)) {
                    keys[n] = r->key;
                    vals[n] = r->val;
                    reqs[n++] = r;
                } else {
                    r->err = EINVAL;
                }
                r = r->next;
            }
            while (at < n) {
                size_t done = 0;

                if (hamt_batch_set_many(b, n - at, keys + at, vals + at, &done)
                    == 0) {
                    break;
                }
                /* ENOMEM at keys[at + done]: that set alone fails. */
                reqs[at + done]->err = errno;
                at += done + 1;
            }
            continue;
        }
        if (r->op == OP_REMOVE) {
            if (hamt_batch_remove(b, r->key) < 0) {
                r->err = errno;
            }
        } else if (hamt_batch_alter(b, r->key, r->fn, r->ctx) < 0) {
            r->err = errno;
        }
        r = r->next;
    }
}

/*
 * A round of one request: the persistent update itself, without a batch.
 * A batch costs a record, an owner id and owned copies that only pay back
 * over several updates sharing nodes; for one update it only adds work.
 * Returns the new map, or base with r->err set (C4: the round publishes
 * nothing, as a batch whose only update failed).
 */
static const struct hamt *
combine_apply_one(const struct hamt *base, struct combine_req *r)
{
    const struct hamt *m;

    if (r->op == OP_SET) {
        m = hamt_set(base, r->key, r->val);
    } else if (r->op == OP_REMOVE) {
        m = hamt_remove(base, r->key);
    } else {
        m = hamt_alter(base, r->key, r->fn, r->ctx);
    }
    if (m == NULL) {
        r->err = errno;
        return base;
    }
    r->err = 0;
    return m;
}

/* Counts a round of n requests (n >= 1).  Called by the flag's holder. */
static void
combine_count(struct hamt_combine *cb, size_t n)
{
    size_t i = n < HAMT__COMBINE_HIST ? n - 1 : HAMT__COMBINE_HIST - 1;

    /*
     * ORDER: relaxed load and store; only the flag's holder writes the
     * counters, and holders follow one another through the seq_cst CAS on
     * busy or the release/acquire handoff.  A concurrent reader may see a
     * stale count, never a torn one.
     */
    hamt__store_rlx(&cb->rounds[i], hamt__load_rlx(&cb->rounds[i]) + 1);
}

/*
 * One round: the list taken from `pending` (newest first).  Claims its
 * requests, applies them in one batch, publishes once, completes them.
 */
static void
combine_round(struct hamt_combine *cb, struct combine_req *list)
{
    struct combine_req *head = NULL;
    struct combine_req **pp;
    const struct hamt *base;
    const struct hamt *m;
    uint64_t version = 0;
    int shared_err = 0;
    size_t claimed = 0;

    /* Oldest first (C2).  The list is ours: nobody else follows `next`. */
    while (list != NULL) {
        struct combine_req *n = list->next;

        list->next = head;
        head = list;
        list = n;
    }
    /* Claim; drop the cancelled (collector memory, left to it). */
    pp = &head;
    while (*pp != NULL) {
        if (combine_claim(*pp)) {
            pp = &(*pp)->next;
            claimed++;
        } else {
            *pp = (*pp)->next;
        }
    }
    if (head == NULL) {
        return;
    }
    combine_count(cb, claimed);
    for (int nomem = 0;;) {
        struct hamt_batch *b;

        base = hamt_cell_load(cb->cell, &version);
        if (base == NULL) {
            shared_err = errno;
            break;
        }
        if (head->next == NULL) {
            m = combine_apply_one(base, head);
        } else if ((b = hamt_batch_begin(base)) != NULL) {
            combine_apply(cb, b, base->kt, head);
            m = hamt_batch_finish(b);
        } else {
            if (errno == ENOMEM && nomem++ == 0) {
                continue; /* one more try: a collection may have run */
            }
            shared_err = errno;
            break;
        }
        if (m == base) {
            break; /* nothing changed: linearized at the load (C2) */
        }
        int rc = hamt_cell_cas(cb->cell, base, m, &version);
        if (rc != 0 && errno == ENOMEM && nomem++ == 0) {
            /*
             * One more try of the publication alone (a collection may have
             * run): the map is built, and redoing the round would call
             * every alter function again with no other writer in between,
             * which hamt_combine(3) rules out.
             */
            rc = hamt_cell_cas(cb->cell, base, m, &version);
        }
        if (rc == 0) {
            break;
        }
        if (errno == EAGAIN) {
            continue; /* another writer published (C7): redo on its map */
        }
        shared_err = errno;
        break;
    }
    while (head != NULL) {
        struct combine_req *r = head;

        head = r->next; /* read before DONE: r may vanish after it */
        if (shared_err != 0) {
            r->err = shared_err;
        }
        r->version = version;
        combine_complete(r);
    }
}

#ifdef HAMT_TEST_HOOKS
void (*hamt__combine_depart_hook)(struct hamt_combine *cb);
#endif

/*
 * The flag's holder leaves: hands the flag to a pending submitter, or
 * releases it and re-checks for requests pushed meanwhile (the proof in
 * the top comment).
 */
static void
combine_depart(struct hamt_combine *cb)
{
    for (;;) {
        /*
         * ORDER: acquire; pairs with the push's seq_cst CAS: the fields and
         * `next` of every request reached are visible.  The list is stable
         * below the head while we hold the flag (only the holder takes).
         */
        struct combine_req *h = hamt__load_acq(&cb->pending);

        for (struct combine_req *r = h; r != NULL; r = r->next) {
            if (combine_handoff(r)) {
                return;
            }
        }
        if (h != NULL) {
            /* Only cancelled requests (or new ones): take and serve. */
            /* ORDER: acquire; as the take in combine_serve(). */
            combine_round(cb, hamt__xchg_acq(&cb->pending, NULL));
            continue;
        }
#ifdef HAMT_TEST_HOOKS
        if (hamt__combine_depart_hook != NULL) {
            hamt__combine_depart_hook(cb);
        }
#endif
        /*
         * ORDER: seq_cst; D1 of the proof.  Must precede the load below in
         * the total order that also holds the submitter's push and CAS.
         */
        hamt__store_sc(&cb->busy, 0);
        /* ORDER: seq_cst; D2 of the proof (Dekker with push, CAS). */
        if (hamt__load_sc(&cb->pending) == NULL) {
            return;
        }
        uint32_t zero = 0;
        /* ORDER: seq_cst; as the submitter's CAS in combine_submit(). */
        if (!hamt__cas_sc(&cb->busy, &zero, 1)) {
            return; /* another holder: the list is its to take */
        }
    }
}

/* The flag's holder serves rounds, then departs (C5). */
static void
combine_serve(struct hamt_combine *cb)
{
    struct combine_frame frame = {cb, combine_serving};

    combine_serving = &frame;
    for (unsigned round = 0; round < COMBINE_ROUNDS; round++) {
        /*
         * ORDER: acquire; pairs with the seq_cst CAS of each push: the
         * requests' fields, written before their push, are visible.
         */
        struct combine_req *list = hamt__xchg_acq(&cb->pending, NULL);

        if (list == NULL) {
            break;
        }
        combine_round(cb, list);
        /* ORDER: relaxed; a hint only (the exchange above re-reads). */
        if (hamt__load_rlx(&cb->pending) == NULL) {
            break;
        }
    }
    combine_depart(cb);
    combine_serving = frame.outer;
}

/*
 * Pushes r, then serves or waits until r is DONE (0, or -1 with r's
 * errno) or cancelled at the deadline (-1, ETIMEDOUT).
 */
static int
combine_submit(struct hamt_combine *cb, struct combine_req *r,
               const struct timespec *deadline, uint64_t *version)
{
    /* ORDER: relaxed; only to seed the CAS, which re-reads. */
    struct combine_req *h = hamt__load_rlx(&cb->pending);
    unsigned spins = 0;
    long step = HAMT__NAP_FIRST_NS; /* first nap after a futex failure */
    int saved_errno = errno;

    do {
        r->next = h; /* unpublished until the CAS succeeds: plain write */
        /*
         * ORDER: seq_cst; P of the proof.  Release for the request's
         * fields (pairs with the publisher's acquire take or walk), and in
         * the single total order before our CAS on busy (Dekker with the
         * holder's D1/D2 in combine_depart()).  Failure: the new head.
         */
    } while (!hamt__cas_sc(&cb->pending, &h, r));
    for (;;) {
        /*
         * ORDER: acquire; pairs with the release exchange (DONE) in
         * combine_complete() for err and version, and with the release
         * CAS (HANDOFF) in combine_handoff() for the flag's hand-over.
         */
        uint32_t s = hamt__load_acq(&r->state);

        switch (s & STATE_MASK) {
        case STATE_DONE:
            if (r->err != 0) {
                errno = r->err;
                return -1;
            }
            if (version != NULL) {
                *version = r->version;
            }
            errno = saved_errno;
            return 0;
        case STATE_HANDOFF:
            /*
             * We hold the flag now.  Back to PENDING so that our round
             * claims our request.  ORDER: relaxed: no other thread writes
             * the word until we claim it (we are the only holder).
             */
            hamt__store_rlx(&r->state, STATE_PENDING);
            combine_serve(cb);
            continue;
        case STATE_PENDING: {
            uint32_t zero = 0;

            /*
             * ORDER: seq_cst for both.  The CAS is the proof's step after
             * P (Dekker with D1/D2); the look avoids writing a contended
             * line when the flag is held, and it may stand for the CAS in
             * the proof only because it is seq_cst too: reading 1 puts it
             * before the holder's D1 in the total order, so the holder's
             * D2 sees our push.  A relaxed look could read a stale 1 from a
             * holder that had already left, and we would sleep with the
             * flag free.  (A plain load on x86-64, LDAR on AArch64.)
             */
            if (hamt__load_sc(&cb->busy) == 0
                && hamt__cas_sc(&cb->busy, &zero, 1)) {
                combine_serve(cb);
                continue;
            }
            break;
        }
        default: /* TAKEN: wait, without a deadline (C6) */
            break;
        }
        if (spins < COMBINE_SPINS) {
            spins++;
            combine_relax();
            continue;
        }
        if (!(s & STATE_SLEEP)) {
            /* ORDER: relaxed; a flag for the publisher's wake decision.
             * Its DONE/HANDOFF exchange or CAS reads it atomically. */
            if (!hamt__cas_rlx(&r->state, &s, s | STATE_SLEEP)) {
                continue;
            }
            s |= STATE_SLEEP;
        }
        bool timed = deadline != NULL && (s & STATE_MASK) == STATE_PENDING;
        const struct timespec *until = timed ? deadline : NULL;

        if (combine_futex(&r->state, FUTEX_WAIT_BITSET, s, until) == 0
            || errno == EAGAIN || errno == EINTR) {
            continue; /* woken, the word changed, or a signal: look again */
        }
        if (errno != ETIMEDOUT) {
            /*
             * A failure the protocol does not expect (ENOSYS or EPERM from
             * a sandbox, EINVAL) returns at once each time: poll instead
             * of spinning, as hamt_cell_wait() does.  A failed nap only
             * shortens the poll.
             */
            /* ORDER: relaxed; a counter for the tests. */
            (void)hamt__add_rlx(&combine_naps, 1);
            (void)hamt__nap(until, &step);
            if (until == NULL || !hamt__past(until)) {
                continue;
            }
        }
        /* The deadline has passed: cancel, unless a publisher claimed r. */
        /* ORDER: relaxed; as in combine_claim(), one word's RMW. */
        s = hamt__load_rlx(&r->state);
        while ((s & STATE_MASK) == STATE_PENDING) {
            /* ORDER: relaxed; races only with claim and handoff. */
            if (hamt__cas_rlx(&r->state, &s, STATE_CANCELLED)) {
                errno = ETIMEDOUT;
                return -1;
            }
        }
    }
}

/*
 * Argument checks shared by the submitters; 0 or -1 with errno.  On 0,
 * *until is the absolute deadline (in *deadline), or NULL for none: no
 * timeout, or one too far ahead for the clock to express (forever).
 */
static int
combine_check(struct hamt_combine *cb, const struct timespec *timeout,
              struct timespec *deadline, const struct timespec **until)
{
    if (cb == NULL
        || (timeout != NULL
            && (timeout->tv_sec < 0 || timeout->tv_nsec < 0
                || timeout->tv_nsec >= 1000000000L))) {
        errno = EINVAL;
        return -1;
    }
    if (combine_served_here(cb)) {
        errno = EDEADLK; /* an alter function of this combiner's round */
        return -1;
    }
    if (hamt__thread_ensure() != 0) {
        return -1;
    }
    *until =
        timeout != NULL && hamt__deadline(timeout, deadline) ? deadline : NULL;
    return 0;
}

/*
 * Submits one request.  Without a timeout the request lives on this
 * frame (scanned: the thread is registered); with one it lives in
 * collector memory, because a cancelled request may still be walked by a
 * publisher after this call returned (C8).
 */
static int
combine_one(struct hamt_combine *cb, enum combine_op op, const void *key,
            void *val, hamt_alter_fn fn, void *ctx,
            const struct timespec *timeout, uint64_t *version)
{
    struct timespec deadline;
    const struct timespec *until;
    struct combine_req local;
    struct combine_req *r = &local;

    if (combine_check(cb, timeout, &deadline, &until) != 0) {
        return -1;
    }
    if (until != NULL) {
        r = hamt__alloc(sizeof *r);
        if (r == NULL) {
            return -1;
        }
    }
    r->key = key;
    r->val = val;
    r->fn = fn;
    r->ctx = ctx;
    r->op = op;
    r->err = 0;
    r->version = 0;
    /* Unpublished until the push. */
    hamt__atomic_init(&r->state, STATE_PENDING);
    /*
     * No cancellation while the request is in the list or this thread
     * holds the flag: a waiter cancelled in hamt__nap() (clock_nanosleep,
     * a cancellation point) would leave its stack request in the list for
     * a publisher to write into after the frame is gone, and a publisher
     * cancelled inside an alter function (another submitter's, maybe)
     * would keep the flag for ever and never complete the requests it
     * claimed.  A pending cancellation acts at the caller's next
     * cancellation point after the return.
     */
    int cancel_state;
    int rc;

    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    rc = combine_submit(cb, r, until, version);
    /* Leaves errno alone: returns its error (none possible here). */
    (void)pthread_setcancelstate(cancel_state, NULL);
    return rc;
}

int
hamt_combine_set(struct hamt_combine *cb, const void *key, void *val,
                 const struct timespec *timeout, uint64_t *version)
{
    return combine_one(cb, OP_SET, key, val, NULL, NULL, timeout, version);
}

int
hamt_combine_remove(struct hamt_combine *cb, const void *key,
                    const struct timespec *timeout, uint64_t *version)
{
    return combine_one(cb, OP_REMOVE, key, NULL, NULL, NULL, timeout, version);
}

int
hamt_combine_alter(struct hamt_combine *cb, const void *key, hamt_alter_fn fn,
                   void *ctx, const struct timespec *timeout, uint64_t *version)
{
    if (fn == NULL) {
        errno = EINVAL;
        return -1;
    }
    return combine_one(cb, OP_ALTER, key, NULL, fn, ctx, timeout, version);
}

void
hamt__combine_rounds(const struct hamt_combine *cb,
                     uint64_t hist[HAMT__COMBINE_HIST])
{
    for (size_t i = 0; i < HAMT__COMBINE_HIST; i++) {
        /* ORDER: relaxed; a statistic (see combine_count()). */
        hist[i] = hamt__load_rlx(&cb->rounds[i]);
    }
}

uint64_t
hamt__combine_naps(void)
{
    /* ORDER: relaxed; a counter (see combine_naps). */
    return hamt__load_rlx(&combine_naps);
}

/*
 * Requests in the pending list, or only those whose submitter flagged
 * itself asleep: the tests' two looks at the list (internal.h).
 */
static size_t
combine_count_pending(const struct hamt_combine *cb, bool asleep_only)
{
    size_t n = 0;

    /*
     * ORDER: acquire; as the walk in combine_depart().  Safe only while
     * the caller holds the flag (an alter function of a round), so that no
     * request below the head can complete and vanish.
     */
    for (const struct combine_req *r = hamt__load_acq(&cb->pending); r != NULL;
         r = r->next) {
        /* ORDER: relaxed; a look at the submitter's flag, for tests. */
        n += !asleep_only || (hamt__load_rlx(&r->state) & STATE_SLEEP) != 0;
    }
    return n;
}

size_t
hamt__combine_pending(const struct hamt_combine *cb)
{
    return combine_count_pending(cb, false);
}

size_t
hamt__combine_asleep(const struct hamt_combine *cb)
{
    return combine_count_pending(cb, true);
}
