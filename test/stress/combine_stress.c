/*
 * combine_stress.c - several submitters and readers on one combiner.
 *
 * A plain C program (no Criterion), so that it also runs under
 * ThreadSanitizer in a build configured with --disable-gc
 * --enable-sanitizers=thread; in the collector build a reader forces
 * collections while requests wait on the submitters' stacks.  It prints
 * "N passed, N failed" (one case per property below) and exits non-zero if
 * any case failed.
 *
 * Work: NSUB submitter threads.  Submitter s sets its own keys
 * KEY(s, i) = (s + 1) << 32 | i to VAL(key), removes every third of them
 * again, and increments the shared counter key COUNTER with an alter
 * function every fourth step; the last submitter gives every request a
 * short timeout, so some of its requests time out while pending.  Every
 * request and the version it returned are recorded.  NREAD reader threads
 * load the cell in a loop and record, for every version they see, the map
 * (maps[] is static memory, so the collector sees those maps).
 *
 * Cases:
 *   versions_per_submitter_increase   each submitter's successful requests
 *       returned strictly increasing versions (every request changes the
 *       map, so a later one lands in a later publication).
 *   readers_see_versions_in_order     no reader saw the version go back.
 *   every_batch_is_whole              for every pair of consecutive
 *       versions v-1, v both seen by a reader, the difference of their maps
 *       is exactly the requests that returned version v: their set keys
 *       added, their removed keys removed, the counter grown by the number
 *       of their alters, nothing else.
 *   final_map_is_exact                the final map holds exactly the keys
 *       whose set succeeded and whose remove did not, each with its value,
 *       and the counter equals the number of successful alters: every
 *       reported success was applied exactly once, every failure never.
 *   timeouts_only_while_pending       every failure is ETIMEDOUT from the
 *       timed submitter (no other errno, no failure elsewhere).
 *   tsan_reports_no_race              (TSan builds only) the runtime
 *       reported nothing.
 */
#include "harness.h"
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>
#endif

#define NSUB 4
#define NREAD 2
#ifdef HAMT_NO_GC
#define NREQ 3000u /* TSan is slow and nothing is freed. */
#else
#define NREQ 20000u
#endif
#define MAXVER (2 * NSUB * NREQ + 2) /* > requests: 1 + 1/3 + 1/4 a step */
#define COUNTER 1u
#define KEY(s, i) ((((uint64_t)(s) + 1) << 32) | (uint64_t)(i))
#define VAL(k) ((void *)(uintptr_t)((k) ^ 0x5a5a5a5aull))

enum { R_SET = 1, R_REMOVE = 2, R_ALTER = 3 };

/* One step of a submitter: the set of key i, and maybe more. */
struct step {
    int set_rc, set_err;
    uint64_t set_ver;
    int rm_rc, rm_err; /* rm_rc 1: not attempted */
    uint64_t rm_ver;
    int alt_rc, alt_err; /* alt_rc 1: not attempted */
    uint64_t alt_ver;
};

static struct hamt_cell *cell;
static struct hamt_combine *comb;
static struct step steps[NSUB][NREQ];
/* The map of each version a reader saw (static: the collector scans it). */
static const struct hamt *_Atomic maps[MAXVER];
static atomic_bool done;
static atomic_ulong fail_backwards;
static atomic_ulong loads;

static void
report(const char *name, unsigned long bad)
{
    printf("%s: %s", name, bad == 0 ? "ok" : "FAILED");
    if (bad != 0) {
        printf(" (%lu)", bad);
    }
    printf("\n");
    if (bad == 0) {
        passed++;
    } else {
        failed++;
    }
}

static enum hamt_alter_action
incr(void *old, bool present, void **nv, void *ctx)
{
    (void)ctx;
    *nv = (void *)((uintptr_t)(present ? old : NULL) + 1);
    return HAMT_ALTER_SET;
}

static void *
submitter_main(void *arg)
{
    unsigned s = (unsigned)(uintptr_t)arg;
    /* The last submitter's requests may time out while pending. */
    const struct timespec tmo = {0, 20000};
    const struct timespec *t = s == NSUB - 1 ? &tmo : NULL;

    for (unsigned i = 0; i < NREQ; i++) {
        struct step *st = &steps[s][i];
        uint64_t k = KEY(s, i);

        st->rm_rc = st->alt_rc = 1;
        st->set_rc =
            hamt_combine_set(comb, HAMT_U64(k), VAL(k), t, &st->set_ver);
        st->set_err = st->set_rc != 0 ? errno : 0;
        if (i % 3 == 2 && steps[s][i - 1].set_rc == 0) {
            struct step *p = &steps[s][i - 1];

            p->rm_rc = hamt_combine_remove(comb, HAMT_U64(KEY(s, i - 1)), t,
                                           &p->rm_ver);
            p->rm_err = p->rm_rc != 0 ? errno : 0;
        }
        if (i % 4 == 3) {
            st->alt_rc = hamt_combine_alter(comb, HAMT_U64(COUNTER), incr, NULL,
                                            t, &st->alt_ver);
            st->alt_err = st->alt_rc != 0 ? errno : 0;
        }
    }
    return NULL;
}

static void *
reader_main(void *arg)
{
    uint64_t last = 0, v;
    unsigned long n = 0;
    unsigned id = (unsigned)(uintptr_t)arg;

    while (!atomic_load(&done)) {
        const struct hamt *m = hamt_cell_load(cell, &v);

        if (v < last) {
            atomic_fetch_add(&fail_backwards, 1);
        }
        last = v;
        if (v < MAXVER) {
            atomic_store_explicit(&maps[v], m, memory_order_relaxed);
        }
        n++;
#ifndef HAMT_NO_GC
        if (id == 0 && n % 20000 == 0) {
            GC_gcollect(); /* requests wait on stacks meanwhile */
        }
#else
        (void)id;
#endif
    }
    atomic_fetch_add(&loads, n);
    return NULL;
}

/*
 * The versions readers recorded (and the first and the final one) cut
 * (0, final] into spans (a, b] between consecutive recorded versions a < b.
 * span_of[v] is the span version v lies in; the diff of maps[a] and maps[b]
 * must be exactly what the requests that returned a version in (a, b] did.
 * A span of one version (b = a + 1) is one publication: that checks the
 * batch alone.  Readers on a busy machine often see no two consecutive
 * versions at all (the submitters publish while they wait for a core), so
 * wider spans are checked too, and every recorded version is used.
 */
static unsigned *span_of;
static unsigned long bad_batch;

/* What the requests of each span did: keys added, removed, alters. */
struct spanexp {
    unsigned added, removed, alters;
};

struct diffctx {
    unsigned span;
    unsigned added, removed;
    uintptr_t counter_delta;
};

static bool
in_span(int rc, uint64_t ver, unsigned span)
{
    return rc == 0 && ver < MAXVER && span_of[ver] == span;
}

static int
diff_cb(const void *key, void *old_val, void *new_val, enum hamt_diff_kind kind,
        void *ctx)
{
    struct diffctx *d = ctx;
    uint64_t k = HAMT_AS_U64(key);
    unsigned s = (unsigned)(k >> 32) - 1;
    unsigned i = (unsigned)(k & 0xffffffffu);

    if (k == COUNTER) {
        d->counter_delta = (uintptr_t)new_val - (uintptr_t)old_val;
        return 0;
    }
    if (s >= NSUB || i >= NREQ) {
        bad_batch++;
        return 0;
    }
    const struct step *st = &steps[s][i];
    bool set_here = in_span(st->set_rc, st->set_ver, d->span);
    bool rm_here = in_span(st->rm_rc, st->rm_ver, d->span);

    if (kind == HAMT_DIFF_ADDED) {
        /* Set in this span, and not removed again in it. */
        if (!set_here || rm_here || new_val != VAL(k)) {
            bad_batch++;
        }
        d->added++;
    } else if (kind == HAMT_DIFF_REMOVED) {
        /* Removed in this span, and set before it. */
        if (!rm_here || set_here) {
            bad_batch++;
        }
        d->removed++;
    } else {
        bad_batch++; /* set keys are set once: never changed */
    }
    return 0;
}

static void
check(void)
{
    unsigned long bad_order = 0, bad_final = 0, bad_err = 0;
    unsigned long spans = 0, single = 0, alters_ok = 0;
    uint64_t fv;
    const struct hamt *fm = hamt_cell_load(cell, &fv);
    size_t expect_size = 0;
    struct spanexp *sexp;
    void *val;

    if (fv < MAXVER) {
        atomic_store(&maps[fv], fm);
    }
    span_of = calloc(MAXVER, sizeof *span_of);
    sexp = calloc(MAXVER, sizeof *sexp);
    if (span_of == NULL || sexp == NULL) {
        perror("calloc");
        exit(2);
    }
    /* Span j ends at the j-th recorded version after version 0. */
    for (uint64_t v = 1, j = 1; v < MAXVER; v++) {
        span_of[v] = (unsigned)j;
        if (atomic_load(&maps[v]) != NULL) {
            j++;
        }
    }
    for (unsigned s = 0; s < NSUB; s++) {
        uint64_t last = 0;

        for (unsigned i = 0; i < NREQ; i++) {
            struct step *st = &steps[s][i];
            uint64_t k = KEY(s, i);
            bool present = st->set_rc == 0 && st->rm_rc != 0;

            /* Request order within the step: set i, remove i-1, alter. */
            if (st->set_rc == 0) {
                if (st->set_ver <= last || st->set_ver >= MAXVER) {
                    bad_order++;
                }
                last = st->set_ver;
            }
            if (i > 0 && steps[s][i - 1].rm_rc == 0 && i % 3 == 2) {
                uint64_t rv = steps[s][i - 1].rm_ver;

                if (rv <= last || rv >= MAXVER) {
                    bad_order++;
                }
                last = rv;
            }
            if (st->alt_rc == 0) {
                if (st->alt_ver <= last || st->alt_ver >= MAXVER) {
                    bad_order++;
                }
                last = st->alt_ver;
                sexp[span_of[st->alt_ver % MAXVER]].alters++;
                alters_ok++;
            }
            /* Key i: added in its set's span, removed in its remove's
             * (nothing at all if both lie in one span). */
            if (st->set_rc == 0) {
                unsigned js = span_of[st->set_ver % MAXVER];
                unsigned jr = st->rm_rc == 0 ? span_of[st->rm_ver % MAXVER] : 0;

                if (jr != js) {
                    sexp[js].added++;
                    if (jr != 0) {
                        sexp[jr].removed++;
                    }
                }
            }
            int errs[3] = {st->set_rc != 0 ? st->set_err : 0,
                           st->rm_rc == -1 ? st->rm_err : 0,
                           st->alt_rc == -1 ? st->alt_err : 0};
            for (int e = 0; e < 3; e++) {
                if (errs[e] != 0 && (s != NSUB - 1 || errs[e] != ETIMEDOUT)) {
                    bad_err++;
                }
            }
            bool got = hamt_get(fm, HAMT_U64(k), &val);
            if (got != present || (got && val != VAL(k))) {
                bad_final++;
            }
            expect_size += present;
        }
    }
    if (!hamt_get(fm, HAMT_U64(COUNTER), &val)) {
        val = NULL;
    }
    if ((uintptr_t)val != alters_ok) {
        bad_final++;
    }
    if (hamt_size(fm) != expect_size + (alters_ok != 0)) {
        bad_final++;
    }
    for (uint64_t a = 0, b = 1; b < MAXVER; b++) {
        const struct hamt *ma = atomic_load(&maps[a]);
        const struct hamt *mb = atomic_load(&maps[b]);

        if (mb == NULL) {
            continue;
        }
        struct diffctx d = {span_of[b], 0, 0, 0};

        spans++;
        single += b == a + 1;
        if (hamt_diff(ma, mb, NULL, diff_cb, &d) != 0) {
            bad_batch++;
        }
        if (d.added != sexp[d.span].added || d.removed != sexp[d.span].removed
            || d.counter_delta != sexp[d.span].alters) {
            bad_batch++;
        }
        a = b;
    }
    report("versions_per_submitter_increase", bad_order);
    report("readers_see_versions_in_order", atomic_load(&fail_backwards));
    /* The final map is recorded: at least one span unless nothing ran. */
    report("every_batch_is_whole", bad_batch + (spans == 0));
    report("final_map_is_exact", bad_final);
    report("timeouts_only_while_pending", bad_err);
    printf("combine_stress: %u submitters x %u steps, %lu reader loads, "
           "%llu versions, %lu spans checked (%lu of one version), "
           "%lu alters\n",
           NSUB, NREQ, atomic_load(&loads), (unsigned long long)fv, spans,
           single, alters_ok);
    free(sexp);
    free(span_of);
}

int
main(int argc, char **argv)
{
    pthread_t sub[NSUB], rd[NREAD];

    (void)argc;
#ifdef STRESS_TSAN
    if (getenv("COMBINE_STRESS_FD") == NULL) {
        return stress_run_under_tsan(argv, "COMBINE_STRESS_FD", report);
    }
#else
    (void)argv;
#endif
    if (hamt_init() != 0) {
        perror("hamt_init");
        return 2;
    }
    cell = hamt_cell_new(hamt_new(HAMT_KEY_U64));
    comb = cell != NULL ? hamt_combine_new(cell) : NULL;
    if (comb == NULL) {
        perror("setup");
        return 2;
    }
    atomic_store(&maps[0], hamt_cell_load(cell, NULL));
    for (unsigned r = 0; r < NREAD; r++) {
        if (pthread_create(&rd[r], NULL, reader_main, (void *)(uintptr_t)r)) {
            perror("pthread_create");
            return 2;
        }
    }
    for (unsigned s = 0; s < NSUB; s++) {
        if (pthread_create(&sub[s], NULL, submitter_main,
                           (void *)(uintptr_t)s)) {
            perror("pthread_create");
            return 2;
        }
    }
    for (unsigned s = 0; s < NSUB; s++) {
        pthread_join(sub[s], NULL);
    }
    atomic_store(&done, true);
    for (unsigned r = 0; r < NREAD; r++) {
        pthread_join(rd[r], NULL);
    }
    check();
    return stress_finish("COMBINE_STRESS_FD");
}
