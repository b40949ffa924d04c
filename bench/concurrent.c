/*
 * concurrent.c - the concurrent sections, at N = 1M entries:
 *
 *   rw     one writer replacing values continuously and R readers
 *          (batches of BENCH_BATCH lookups, one snapshot or read section
 *          per batch): reader lookups/s, writer updates/s, sampled
 *          single-lookup latency percentiles, and for collector-backed
 *          maps the collections and each stop-the-world pause
 *   ro     two readers and no writer
 *   sweep  (full mode) T threads each mixing reads and updates at 99/1,
 *          90/10 and 50/50; total ops/s
 *
 * libhamt-b16 (libhamt with a writer that publishes every 16th update)
 * runs here only.  Ratios between competitors are ratios of medians taken
 * in one process.  concurrent_report.c prints the tables and writes
 * concurrent.csv (reader throughput per map) and gc_pauses.csv (every pause
 * of libhamt's rw runs) for the pictures.
 */
#include "bench.h"

#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_LAT_EVERY 64  /* one sampled single lookup per 64 batches */
#define BENCH_LAT_CAP 65536 /* latency samples kept per reader (reservoir) */
/* Batches between two readings of a reader's run-queue time (see rq_note). */
#define BENCH_RQ_EVERY 256

static void
hist_add(size_t n_entries, unsigned readers, unsigned run, const double *p,
         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rec_add("gcpause", "libhamt", BK_U64, n_entries, readers, 1, 0,
                "pause_ms", run, p[i]);
    }
}

enum role { ROLE_READER, ROLE_WRITER, ROLE_MIXED };

struct cshared {
    const struct bench_adapter *a;
    void *m;
    enum bkind kind;
    size_t n;
    unsigned read_pct;
    _Atomic int stop;
    /* Set when the warm-up ends: every figure counts from there on. */
    _Atomic int go;
    /*
     * The phase's length: a reader's gap figures count only batches that
     * end within this much of its start.  The parent is registered with
     * the collector and stopped by it, so a collection under way at the
     * deadline runs the phase on until it ends (a whole pause past the
     * deadline), and the ro phase it is compared with has no
     * collections.
     */
    uint64_t phase_ns;
    /* Workers that have done at least one operation (see conc_run_phase). */
    _Atomic unsigned working;
    pthread_barrier_t bar;
};

struct cworker {
    struct cshared *sh;
    enum role role;
    uint64_t rng;
    uint64_t ops, hits, reads, sum;
    uint64_t t0, t1;
    double *lat;
    size_t nlat, seen;
    pthread_t thread;
    bool raw; /* started with bench_raw_thread_create */
    /*
     * Readers' stall profile: the gap between the ends of consecutive
     * batches, and lookups made while the collector had the world stopped.
     */
    uint64_t last_ns, gap_max_ns, gaps_1ms, gaps_5ms;
    uint64_t gap_end_ns; /* t0 + the phase: gaps count until then */
    uint64_t ops_stopped;
    /*
     * The reader's CPU time in each window, read only when a batch ends in
     * the other window than the last one (a few times per run): the time
     * since the last change goes to the window the reader was in.  The
     * batch that notices a change is charged to the old window's CPU time
     * but counted in the new window's lookups, one batch per change, as
     * the wall-clock rates count it.
     */
    bool in_stop;
    uint64_t cpu_last_ns, cpu_stopped_ns, cpu_outside_ns;
    /*
     * The reader's time waiting for a CPU on a run queue (the kernel's
     * schedstat), and its longest gap less that waiting: see rq_note.
     */
    int rq_fd;
    unsigned rq_batches;
    uint64_t rq_start_ns, rq_last_ns, gap_own_max_ns;
};

/*
 * The calling thread's total time spent runnable but waiting for a CPU,
 * in ns: the second field of /proc/thread-self/schedstat, read through
 * fd.  UINT64_MAX when the kernel does not give it.  A system call, made
 * only at the ends of a phase, after a gap over 1 ms and every
 * BENCH_RQ_EVERY batches.
 */
static uint64_t
rq_wait_ns(int fd)
{
    char buf[128];
    unsigned long long run, wait;

    if (fd < 0) {
        return UINT64_MAX;
    }
    ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
    if (k <= 0) {
        return UINT64_MAX;
    }
    buf[k] = '\0';
    if (sscanf(buf, "%llu %llu", &run, &wait) != 2) {
        return UINT64_MAX;
    }
    return (uint64_t)wait;
}

/* The calling thread's CPU time (a system call: rare paths only). */
static uint64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Charges the reader's CPU time since the last change to its window. */
static void
cpu_charge(struct cworker *w)
{
    uint64_t c = thread_cpu_ns();
    if (w->in_stop) {
        w->cpu_stopped_ns += c - w->cpu_last_ns;
    } else {
        w->cpu_outside_ns += c - w->cpu_last_ns;
    }
    w->cpu_last_ns = c;
}

/*
 * Starts a worker's figures: at the start and again when the warm-up ends,
 * so that nothing of the warm-up is counted.
 */
static void
cworker_measure(struct cworker *w)
{
    /* hits and reads stay: every lookup is checked, warm-up included. */
    w->ops = 0;
    w->nlat = w->seen = 0;
    w->gap_max_ns = w->gaps_1ms = w->gaps_5ms = 0;
    w->ops_stopped = 0;
    w->cpu_stopped_ns = w->cpu_outside_ns = 0;
    w->t0 = bench_now_ns();
    w->last_ns = w->t0;
    w->in_stop = false;
    w->cpu_last_ns = thread_cpu_ns();
    w->rq_batches = 0;
    w->gap_own_max_ns = 0;
    w->rq_start_ns = w->rq_last_ns = rq_wait_ns(w->rq_fd);
}

/*
 * A gap's own share: the gap less the time the reader waited on a run
 * queue since the last reading.  A reader that never blocks waits there
 * only when another thread (another tenant's, a kernel thread's, the
 * bench's own) had its CPU; a gap spent that way is the scheduler's, not
 * the map's.  A reader stopped by the collector sleeps in a signal
 * handler, off every run queue, so a collection's stop stays in the
 * gap's own share.  The readings every BENCH_RQ_EVERY batches keep the
 * waiting counted against a gap close to it in time; a gap of 1 ms or
 * less counts whole (nothing subtracted), which can only overstate the
 * own share.
 */
static void
rq_note(struct cworker *w, uint64_t gap)
{
    uint64_t own = gap;

    if (gap > 1000000u || ++w->rq_batches >= BENCH_RQ_EVERY) {
        uint64_t rq = rq_wait_ns(w->rq_fd);
        w->rq_batches = 0;
        if (rq != UINT64_MAX && w->rq_last_ns != UINT64_MAX) {
            uint64_t waited = rq - w->rq_last_ns;
            if (gap > 1000000u) {
                own = gap > waited ? gap - waited : 0;
            }
        }
        w->rq_last_ns = rq;
    }
    if (own > w->gap_own_max_ns) {
        w->gap_own_max_ns = own;
    }
}

/* After each reader batch of `ops` lookups: the stall profile. */
static inline void
stall_note(struct cworker *w, uint64_t ops)
{
    uint64_t now = bench_now_ns();
    uint64_t gap = now - w->last_ns;
    uint64_t prev = w->last_ns;

    w->last_ns = now;
    if (prev < w->gap_end_ns) {
        /* A gap running past the phase's end counts up to it. */
        if (now > w->gap_end_ns) {
            gap = w->gap_end_ns - prev;
        }
        if (gap > w->gap_max_ns) {
            w->gap_max_ns = gap;
        }
        w->gaps_1ms += gap > 1000000u;
        w->gaps_5ms += gap > 5000000u;
        rq_note(w, gap);
    }
    bool stopped =
        atomic_load_explicit(&bench_gc_stopped, memory_order_relaxed) != 0;
    if (stopped) {
        w->ops_stopped += ops;
    }
    if (stopped != w->in_stop) {
        cpu_charge(w);
        w->in_stop = stopped;
    }
}

static void
lat_record(struct cworker *w, double ns)
{
    /* Reservoir sampling keeps a uniform sample of every latency seen. */
    w->seen++;
    if (w->nlat < BENCH_LAT_CAP) {
        w->lat[w->nlat++] = ns;
        return;
    }
    uint64_t j = bench_below(&w->rng, w->seen);
    if (j < BENCH_LAT_CAP) {
        w->lat[j] = ns;
    }
}

static void *
cworker_main(void *arg)
{
    struct cworker *w = arg;
    struct cshared *sh = w->sh;
    const struct bench_adapter *a = sh->a;
    void *t = a->thread_enter(sh->m);
    bkey keys[BENCH_BATCH];
    char bufs[BENCH_BATCH][BENCH_STRLEN + 1];
    uint64_t batch = 0, ctr = 0;
    bool counted = false, measuring = false;

    /* Its own thread's file: opened by the reader itself. */
    w->rq_fd = w->role == ROLE_READER
                   ? open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)
                   : -1;
    pthread_barrier_wait(&sh->bar);
    cworker_measure(w);
    /*
     * ORDER: relaxed; the flags only end the warm-up and the loop and
     * publish no data.  The parent reads this thread's counters after
     * pthread_join, which orders them.
     */
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        if (!measuring && atomic_load_explicit(&sh->go, memory_order_relaxed)) {
            cworker_measure(w);
            w->gap_end_ns = w->t0 + sh->phase_ns;
            measuring = true;
        }
        switch (w->role) {
        case ROLE_READER:
            if (batch++ % BENCH_LAT_EVERY == 0) {
                bkey k =
                    key_probe(sh->kind, bench_below(&w->rng, sh->n), bufs[0]);
                uint64_t s = bench_now_ns();
                w->hits += a->read_batch(sh->m, t, &k, 1, &w->sum);
                lat_record(w, (double)(bench_now_ns() - s));
                w->ops++;
                w->reads++;
                stall_note(w, 1);
                break;
            }
            for (unsigned b = 0; b < BENCH_BATCH; b++) {
                keys[b] =
                    key_probe(sh->kind, bench_below(&w->rng, sh->n), bufs[b]);
            }
            w->hits += a->read_batch(sh->m, t, keys, BENCH_BATCH, &w->sum);
            w->ops += BENCH_BATCH;
            w->reads += BENCH_BATCH;
            stall_note(w, BENCH_BATCH);
            break;
        case ROLE_WRITER: {
            size_t i = bench_below(&w->rng, sh->n);
            a->update(sh->m, t, key_stored(sh->kind, i), ++ctr);
            w->ops++;
            break;
        }
        case ROLE_MIXED: {
            size_t i = bench_below(&w->rng, sh->n);
            if (bench_below(&w->rng, 100) < sh->read_pct) {
                bkey k = key_probe(sh->kind, i, bufs[0]);
                w->hits += a->read_batch(sh->m, t, &k, 1, &w->sum);
                w->reads++;
            } else {
                a->update_mw(sh->m, t, key_stored(sh->kind, i), ++ctr);
            }
            w->ops++;
            break;
        }
        }
        if (!counted && measuring) {
            /* ORDER: relaxed; a count the parent only waits on (as above,
             * pthread_join orders the counters it then reads). */
            atomic_fetch_add_explicit(&sh->working, 1, memory_order_relaxed);
            counted = true;
        }
    }
    w->t1 = bench_now_ns();
    cpu_charge(w); /* a writer's all goes to "outside" (in_stop stays) */
    w->rq_last_ns = rq_wait_ns(w->rq_fd);
    if (w->rq_fd >= 0) {
        close(w->rq_fd);
    }
    a->thread_exit(sh->m, t);
    return NULL;
}

static void
sleep_s(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t end = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec
                   + (uint64_t)(s * 1e9);
    ts.tv_sec = (time_t)(end / 1000000000ULL);
    ts.tv_nsec = (long)(end % 1000000000ULL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
        /* EINTR: the collector's signals; sleep on to the same deadline. */
    }
}

/*
 * One timed phase: `nr` readers and `nw` writers (or nr mixed threads when
 * mixed_pct > 0) on the shared map.  Checks that every lookup hit.
 *
 * The threads first run for bench_cfg.warm_s uncounted.  Threads created
 * for a phase often start on one core while the other is idle, and the
 * scheduler takes up to tens of milliseconds to move one of them: the
 * reader then waits whole time slices behind the writer (or the other
 * reader), which is neither the writer's nor the collector's doing and
 * would be counted as the phase's longest gap.
 */
void
conc_run_phase(const struct bench_adapter *a, void *m, enum bkind kind,
               size_t n, unsigned nr, unsigned nw, int mixed_pct, double secs,
               struct conc_result *res, double **pauses)
{
    struct cshared sh = {.a = a,
                         .m = m,
                         .kind = kind,
                         .n = n,
                         .phase_ns = (uint64_t)(secs * 1e9)};
    unsigned nt = nr + nw;
    struct cworker *w = bench_xcalloc(nt, sizeof *w);
    atomic_init(&sh.stop, 0);
    atomic_init(&sh.go, 0);
    atomic_init(&sh.working, 0);
    sh.read_pct = mixed_pct > 0 ? (unsigned)mixed_pct : 0;
    pthread_barrier_init(&sh.bar, NULL, nt + 1);
    for (unsigned i = 0; i < nt; i++) {
        w[i].sh = &sh;
        w[i].role =
            mixed_pct > 0 ? ROLE_MIXED : (i < nr ? ROLE_READER : ROLE_WRITER);
        w[i].rng = 0x1234567ULL * (i + 1) + n;
        if (w[i].role == ROLE_READER) {
            w[i].lat = bench_xmalloc(BENCH_LAT_CAP * sizeof(double));
        }
        w[i].raw = w[i].role == ROLE_READER && (a->flags & BA_UNREG_READERS);
        if ((w[i].raw
                 ? bench_raw_thread_create(&w[i].thread, cworker_main, &w[i])
                 : pthread_create(&w[i].thread, NULL, cworker_main, &w[i]))
            != 0) {
            fprintf(stderr, "hamt-bench: pthread_create failed\n");
            exit(2);
        }
    }
    pthread_barrier_wait(&sh.bar);
    if (bench_cfg.warm_s > 0) {
        sleep_s(bench_cfg.warm_s);
    }
    if (a->flags & BA_GC) {
        bench_gc_reset();
    }
    struct bench_ticks t0, t1;
    bool ticks = bench_cpu_ticks(&t0);
    /* ORDER: relaxed; see the load in cworker_main. */
    atomic_store_explicit(&sh.go, 1, memory_order_relaxed);
    sleep_s(secs);
    /*
     * On a loaded machine a thread may not have run at all in a short
     * phase (the smoke test's are 50 ms): its rate would read 0.  Stop only
     * once every thread has done one operation; each thread's rate is
     * taken over its own time, so waiting longer changes no rate.
     * ORDER: relaxed, as in cworker_main.
     */
    while (atomic_load_explicit(&sh.working, memory_order_relaxed) < nt) {
        sleep_s(0.001);
    }
    ticks = ticks && bench_cpu_ticks(&t1);
    /* ORDER: relaxed; see the load in cworker_main. */
    atomic_store_explicit(&sh.stop, 1, memory_order_relaxed);
    for (unsigned i = 0; i < nt; i++) {
        if (w[i].raw) {
            bench_raw_thread_join(w[i].thread);
        } else {
            pthread_join(w[i].thread, NULL);
        }
    }
    memset(res, 0, sizeof *res);
    res->steal_pct = ticks ? bench_steal_pct(&t0, &t1) : NAN;
    if (a->flags & BA_GC) {
        bench_gc_read(&res->gc, pauses);
    } else if (pauses) {
        *pauses = NULL;
    }
    size_t nlat = 0;
    for (unsigned i = 0; i < nt; i++) {
        double dt = (double)(w[i].t1 - w[i].t0) / 1e9;
        double rate = dt > 0 ? (double)w[i].ops / dt : 0;
        if (w[i].role == ROLE_READER) {
            res->reader_ops_s += rate;
            nlat += w[i].nlat;
        } else if (w[i].role == ROLE_WRITER) {
            res->writer_ops_s += rate;
            if (w[i].cpu_outside_ns > 0) {
                res->writer_cpu_ops_s +=
                    (double)w[i].ops / ((double)w[i].cpu_outside_ns / 1e9);
            }
        }
        res->total_ops_s += rate;
        if (w[i].hits != w[i].reads) {
            bench_fail("%s: a reader missed %llu of %llu present keys", a->name,
                       (unsigned long long)(w[i].reads - w[i].hits),
                       (unsigned long long)w[i].reads);
        }
    }
    res->per_reader_ops_s = nr ? res->reader_ops_s / nr : 0;
    if (nr && mixed_pct == 0) {
        double stopped_s = (a->flags & BA_GC) ? res->gc.stopped_ms / 1e3 : 0;
        uint64_t in_stop = 0, all = 0, cpu_stop = 0, cpu_out = 0;
        double span = 0;
        for (unsigned i = 0; i < nr; i++) {
            double dt = (double)(w[i].t1 - w[i].t0) / 1e9;
            double ms = (double)w[i].gap_max_ns / 1e6;
            /*
             * One reader's longest gap, the first's (readers are alike):
             * the longest of all would grow with the number of readers
             * (more reader-time to catch a stall in), and the headline
             * compares one reader under a writer with one of two readers
             * without one.  A mean over readers would not do either: a
             * median over runs of means is pulled up when one reader of
             * the two was hit and the other not.
             */
            /* The waiting at both ends of the phase, or none known. */
            bool rq_known =
                w[i].rq_start_ns != UINT64_MAX && w[i].rq_last_ns != UINT64_MAX;
            if (i == 0) {
                res->gap_max_ms = ms;
                res->gap_own_max_ms =
                    rq_known ? (double)w[i].gap_own_max_ns / 1e6 : NAN;
            }
            if (!rq_known) {
                res->rq_wait_ms_10s = NAN;
            } else if (dt > 0) {
                res->rq_wait_ms_10s +=
                    (double)(w[i].rq_last_ns - w[i].rq_start_ns) / 1e6 * 10.0
                    / dt / nr;
            }
            /* The gaps were counted over the phase's length at most. */
            double gdt = dt < secs ? dt : secs;
            if (gdt > 0) {
                res->gaps_1ms_10s += (double)w[i].gaps_1ms * 10.0 / gdt / nr;
                res->gaps_5ms_10s += (double)w[i].gaps_5ms * 10.0 / gdt / nr;
            }
            in_stop += w[i].ops_stopped;
            all += w[i].ops;
            span += dt / nr;
            cpu_stop += w[i].cpu_stopped_ns;
            cpu_out += w[i].cpu_outside_ns;
        }
        res->rate_stopped =
            stopped_s > 0 ? (double)in_stop / nr / stopped_s : NAN;
        res->rate_outside =
            span > stopped_s ? (double)(all - in_stop) / nr / (span - stopped_s)
                             : NAN;
        res->rate_stopped_cpu =
            cpu_stop > 0 ? (double)in_stop / ((double)cpu_stop / 1e9) : NAN;
        res->rate_outside_cpu =
            cpu_out > 0 ? (double)(all - in_stop) / ((double)cpu_out / 1e9)
                        : NAN;
        res->cpu_share_stopped =
            stopped_s > 0 ? (double)cpu_stop / 1e9 / nr / stopped_s : NAN;
        res->cpu_share_outside =
            span > stopped_s ? (double)cpu_out / 1e9 / nr / (span - stopped_s)
                             : NAN;
    }
    if (nlat) {
        double *all = bench_xmalloc(nlat * sizeof *all);
        size_t k = 0;
        for (unsigned i = 0; i < nt; i++) {
            if (w[i].nlat != 0) { /* w[i].lat may be NULL otherwise */
                memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
            }
            k += w[i].nlat;
        }
        res->p50 = bench_percentile(all, nlat, 50);
        res->p99 = bench_percentile(all, nlat, 99);
        res->p999 = bench_percentile(all, nlat, 99.9);
        res->max = all[nlat - 1];
        free(all);
    }
    for (unsigned i = 0; i < nt; i++) {
        free(w[i].lat);
    }
    free(w);
    pthread_barrier_destroy(&sh.bar);
}

static void
conc_record(const char *wl, const struct bench_adapter *a, enum bkind kind,
            size_t n, unsigned nr, unsigned nw, unsigned pct, unsigned run,
            const struct conc_result *res)
{
    if (pct) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "total_ops_s", run,
                res->total_ops_s);
    } else if (nr) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "reader_ops_s", run,
                res->reader_ops_s);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "per_reader_ops_s", run,
                res->per_reader_ops_s);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_p50_ns", run, res->p50);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_p99_ns", run, res->p99);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_p999_ns", run,
                res->p999);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "lat_max_ns", run, res->max);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gap_max_ms", run,
                res->gap_max_ms);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gaps_1ms_per_10s", run,
                res->gaps_1ms_10s);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gaps_5ms_per_10s", run,
                res->gaps_5ms_10s);
        if (!isnan(res->gap_own_max_ms)) {
            rec_add(wl, a->name, kind, n, nr, nw, pct, "gap_own_max_ms", run,
                    res->gap_own_max_ms);
        }
        if (!isnan(res->rq_wait_ms_10s)) {
            rec_add(wl, a->name, kind, n, nr, nw, pct, "rq_wait_ms_per_10s",
                    run, res->rq_wait_ms_10s);
        }
        if ((a->flags & BA_GC) && !isnan(res->rate_stopped)) {
            rec_add(wl, a->name, kind, n, nr, nw, pct, "rate_stopped_ops_s",
                    run, res->rate_stopped);
            rec_add(wl, a->name, kind, n, nr, nw, pct, "rate_outside_ops_s",
                    run, res->rate_outside);
            rec_add(wl, a->name, kind, n, nr, nw, pct, "rate_stopped_ratio",
                    run, res->rate_stopped / res->rate_outside);
        }
        if ((a->flags & BA_GC) && !isnan(res->rate_stopped_cpu)
            && !isnan(res->rate_outside_cpu)) {
            rec_add(wl, a->name, kind, n, nr, nw, pct, "rate_stopped_cpu_ratio",
                    run, res->rate_stopped_cpu / res->rate_outside_cpu);
            rec_add(wl, a->name, kind, n, nr, nw, pct, "cpu_share_stopped", run,
                    res->cpu_share_stopped);
            rec_add(wl, a->name, kind, n, nr, nw, pct, "cpu_share_outside", run,
                    res->cpu_share_outside);
        }
    }
    if (!isnan(res->steal_pct)) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "steal_pct", run,
                res->steal_pct);
    }
    if (nw) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "writer_ops_s", run,
                res->writer_ops_s);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "writer_cpu_ops_s", run,
                res->writer_cpu_ops_s);
    }
    if (a->flags & BA_GC) {
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_collections", run,
                (double)res->gc.collections);
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_total_ms", run,
                res->gc.total_ms);
        /*
         * A phase without a pause measured none: no record (a 0 would
         * make the headline's "max GC pause" read "met" when no run saw
         * a collection), as the budget section does.
         */
        if (res->gc.npauses > 0) {
            rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_p99_ms", run,
                    res->gc.p99_ms);
            rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_max_ms", run,
                    res->gc.max_ms);
        }
        rec_add(wl, a->name, kind, n, nr, nw, pct, "gc_heap_mb", run,
                (double)res->gc.heap_bytes / 1048576.0);
    }
}

static void
concurrent_one(const struct bench_adapter *a, enum bkind kind, size_t n)
{
    void *m = a->create(kind, n);
    void *t = a->thread_enter(m);
    keys_build(a, m, t, kind, 0, n);
    if (a->share) {
        a->share(m);
    }
    struct conc_result res;
    /*
     * The read-only runs come first, on the map as built: the unlocked
     * GHashTable they are compared with has no writer and is read as
     * built, so every contender is read with the same history.  After the
     * rw runs a map whose writer allocates anew (libhamt's path copies,
     * ck_hs's entries) is scattered over the heap (bench/FINDINGS.md,
     * "Churn, the trie's shape and the readers"), and one updated in place
     * is not.
     */
    if (a->flags & BA_READ_MT) {
        for (unsigned r = 0; r < bench_cfg.runs; r++) {
            conc_run_phase(a, m, kind, n, 2, 0, 0, bench_cfg.ro_phase_s, &res,
                           NULL);
            conc_record("ro", a, kind, n, 2, 0, 0, r, &res);
        }
    }
    if (a->flags & BA_CONCURRENT) {
        for (unsigned ri = 0; ri < bench_cfg.nreaders; ri++) {
            unsigned R = bench_cfg.readers[ri];
            /*
             * The settle phase: the same readers and writer, untimed, its
             * result dropped (no record, no pause list; the collector's
             * log restarts after each phase's warm-up).  The first second
             * or so of a writer's churn after a build runs slow: the
             * first libhamt contender's heap grows to the size the budget
             * rule settles at, with page faults and extra collections,
             * and the contenders after it, which find the heap grown,
             * start slow too (bench/FINDINGS.md, "The settle phase").
             * Every contender gets the same, lock-based and lock-free
             * ones too, so that no ratio depends on the order they run
             * in.
             */
            if (bench_cfg.settle_s > 0) {
                conc_run_phase(a, m, kind, n, R, 1, 0, bench_cfg.settle_s, &res,
                               NULL);
            }
            for (unsigned r = 0; r < bench_cfg.runs; r++) {
                double *p = NULL;
                conc_run_phase(a, m, kind, n, R, 1, 0, bench_cfg.phase_s, &res,
                               &p);
                conc_record("rw", a, kind, n, R, 1, 0, r, &res);
                if (p && strcmp(a->name, "libhamt") == 0) {
                    hist_add(n, R, r, p, res.gc.npauses);
                }
                free(p);
            }
        }
    }
    if (bench_cfg.sweep && (a->flags & BA_CONCURRENT) && a->update_mw != NULL) {
        static const unsigned pcts[] = {99, 90, 50};
        for (unsigned p = 0; p < 3; p++) {
            /*
             * Each step to a larger share of updates (and two threads
             * updating) grows the heap again, as the rw runs' start did.
             */
            if (bench_cfg.settle_s > 0) {
                conc_run_phase(a, m, kind, n, bench_cfg.sweep_threads, 0,
                               (int)pcts[p], bench_cfg.settle_s, &res, NULL);
            }
            for (unsigned r = 0; r < bench_cfg.runs; r++) {
                conc_run_phase(a, m, kind, n, bench_cfg.sweep_threads, 0,
                               (int)pcts[p], bench_cfg.sweep_s, &res, NULL);
                conc_record("sweep", a, kind, n, bench_cfg.sweep_threads, 0,
                            pcts[p], r, &res);
            }
        }
    }
    a->thread_exit(m, t);
    a->destroy(m);
    if (a->flags & BA_GC) {
        GC_gcollect();
    }
}

void
concurrent_run(long c)
{
    (void)c;
    for (unsigned k = 0; k < bench_cfg.nkinds; k++) {
        keys_prepare(bench_cfg.kinds[k], 2 * bench_cfg.conc_n);
        for (unsigned i = 0; bench_adapters[i]; i++) {
            if (bench_selected_conc(bench_adapters[i])
                && bench_takes_kind(bench_adapters[i], bench_cfg.kinds[k])) {
                concurrent_one(bench_adapters[i], bench_cfg.kinds[k],
                               bench_cfg.conc_n);
            }
        }
        concurrent_report(bench_cfg.kinds[k], bench_cfg.conc_n);
    }
}
