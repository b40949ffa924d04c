/*
 * bench.h - every declaration the files of the bench share: the table of
 * function pointers each competitor fills (bench/adapt_*.c), the helpers
 * (util.c, keys.c, out.c), the configuration, the records every figure is
 * stored as, and the sections.  Each block below names the file that
 * defines it; bench/README.md shows which files use which.
 *
 * Every competitor is a `struct bench_adapter`: create, insert, lookup,
 * remove, iterate, snapshot-read (read_batch), update (one writer or many)
 * and destroy, plus per-thread set-up.  The driver never knows what sits
 * behind the pointers; adapters never know which workload calls them.
 *
 * Keys: a `bkey` word is either a 64-bit integer (BK_U64) or a pointer to a
 * NUL-terminated 16-character string (BK_STR).  Values are 64-bit words and
 * never 0 (the copy-on-write table uses 0 as its empty marker).  String keys
 * handed to insert stay alive (the driver owns them) until destroy; probe
 * keys given to lookup may live on the caller's stack.
 *
 * Threads: every thread that calls an adapter first calls thread_enter()
 * (registration with userspace-rcu, an epoch record for ck, a reply
 * semaphore for the owner thread) and passes the returned context to every
 * call; thread_exit() undoes it.  All bench threads are created with
 * GC_THREADS in force, so they are registered with the collector.
 */
#ifndef BENCH_H
#define BENCH_H

#include "config.h"

#define GC_THREADS 1
#include <gc/gc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t bkey;

enum bkind { BK_U64 = 0, BK_STR = 1 };

/* Characters in a string key (plus the NUL). */
#define BENCH_STRLEN 16

/* Adapter capabilities (flags). */
#define BA_CONCURRENT 0x01 /* readers may run while a writer updates */
#define BA_READ_MT 0x02    /* several readers may run, without a writer */
#define BA_COPY_ALL 0x04   /* one update copies the whole map: cap timed ops */
#define BA_ROUNDTRIP 0x08  /* every op is a cross-thread round trip: cap ops */
#define BA_GC 0x10         /* allocates from the collector: GC accounting */
#define BA_CONC_ONLY 0x20  /* a writer variant: concurrent sections only */
/* Readers run in threads the collector does not know (rawthread.c). */
#define BA_UNREG_READERS 0x40
/* A map variant measured in the single-thread and memory sections only. */
#define BA_SINGLE_ONLY 0x80
/* Takes u64 keys only: every section leaves it out for string keys. */
#define BA_U64_ONLY 0x100

struct bench_adapter {
    const char *name; /* short id used in the CSV files */
    const char *desc; /* one line for the report */
    unsigned flags;
    void *(*create)(enum bkind kind, size_t hint);
    void (*destroy)(void *m);
    /* Per-thread context; every call below takes it as `t`. */
    void *(*thread_enter)(void *m);
    void (*thread_exit)(void *m, void *t);
    /* Called once before threads share the map (may be NULL). */
    void (*share)(void *m);
    /*
     * Called when no thread reads the shared map any more and only the
     * current version counts again (may be NULL): drops what share() keeps
     * of the map, so that the updates after it keep only the newest
     * version alive, as those of a map never shared do.
     */
    void (*unshare)(void *m);
    /* Single-thread operations.  insert returns true for a new key. */
    bool (*insert)(void *m, void *t, bkey k, uint64_t v);
    bool (*lookup)(void *m, void *t, bkey k, uint64_t *v);
    bool (*remove)(void *m, void *t, bkey k);
    /* Visits every entry; returns the count and adds the values to *sum. */
    size_t (*iterate)(void *m, void *t, uint64_t *sum);
    /*
     * Snapshot read: n lookups as one reader would do them concurrently with
     * a writer (one snapshot, read section or epoch per batch where the
     * competitor has one; a lock per lookup where it has a lock).  Returns
     * the number of hits and adds the values to *sum.
     */
    size_t (*read_batch)(void *m, void *t, const bkey *keys, size_t n,
                         uint64_t *sum);
    /*
     * Optional: the same n lookups through the competitor's batched lookup
     * call (libhamt: hamt_get_many), for the rows labelled as batched;
     * NULL: read_batch.
     */
    size_t (*read_many)(void *m, void *t, const bkey *keys, size_t n,
                        uint64_t *sum);
    /* Replace the value of a key while readers run: one writer thread. */
    void (*update)(void *m, void *t, bkey k, uint64_t v);
    /* The same, safe with several writer threads at once. */
    void (*update_mw)(void *m, void *t, bkey k, uint64_t v);
    /*
     * Several-writer section (writers.c): add a new key, remove a key,
     * safe with several writer threads and readers at once.  NULL: the
     * competitor sits out the insert/delete key pattern.
     */
    void (*insert_mw)(void *m, void *t, bkey k, uint64_t v);
    void (*remove_mw)(void *m, void *t, bkey k);
    /* Untimed bulk build (may be NULL: the driver loops over insert). */
    void (*bulk)(void *m, void *t, const bkey *keys, const uint64_t *vals,
                 size_t n);
    /* Releases deferred garbage (call_rcu, epochs) before memory accounting. */
    void (*quiesce)(void *m, void *t);
    /* Optional: exact bytes of every object the map holds (may be NULL). */
    size_t (*exact_bytes)(void *m);
};

/* ---- adapters (one file each; the list is in adapters.c) ---- */

extern const struct bench_adapter bench_hamt;
extern const struct bench_adapter bench_hamt_scalar;
extern const struct bench_adapter bench_hamt_b16;
extern const struct bench_adapter bench_hamt_slot;
extern const struct bench_adapter bench_hamt_slot_many;
extern const struct bench_adapter bench_hamt_combine;
/*
 * libhamt-combine's rounds by requests claimed ([i]: rounds of i + 1
 * requests; the last bucket: that many or more).  False unless m is a
 * shared libhamt-combine map.  n must be BENCH_COMBINE_HIST.
 */
#define BENCH_COMBINE_HIST 17
bool bench_combine_hist(void *m, uint64_t *hist, size_t n);
/* Prints the batch-vs-single cost table that bounds combining (writers). */
void bench_combine_bound(unsigned runs);
#ifdef HAVE_GLIB
extern const struct bench_adapter bench_glib;
extern const struct bench_adapter bench_glib_mutex;
extern const struct bench_adapter bench_glib_rwlock;
extern const struct bench_adapter bench_glib_shards;
extern const struct bench_adapter bench_owner;
#endif
extern const struct bench_adapter bench_cow;
extern const struct bench_adapter bench_syncmap;
/*
 * What the sync.Map algorithm did under its mutex since the last call
 * (the call zeroes them): the writers section prints them beside the
 * claims, to say where a claim's time went.
 */
struct bench_sm_stats {
    uint64_t locked_stores; /* Stores that took the mutex */
    uint64_t new_keys;      /* of them, keys new to both tables */
    uint64_t misses;        /* Loads and Deletes that took the mutex */
    uint64_t promotions;    /* dirty became read (misses or Range) */
    uint64_t rebuilds;      /* dirty rebuilt from read ... */
    uint64_t rebuilt;       /* ... entries copied so */
    uint64_t growths;       /* dirty table doubled ... */
    uint64_t grown;         /* ... entries moved so */
};
/* m: a map of the syncmap adapter's. */
void bench_syncmap_stats(void *m, struct bench_sm_stats *st);
#ifdef HAVE_URCU
extern const struct bench_adapter bench_urcu;
#endif
#ifdef HAVE_CK
extern const struct bench_adapter bench_ck;
#endif

/* ---- helpers (util.c) ---- */

/* Hash of a key for the non-GLib competitors (FNV-1a + mix for strings). */
uint64_t bench_hash(enum bkind kind, bkey k);
bool bench_key_eq(enum bkind kind, bkey a, bkey b);

/* Key number i (a bijection of i under the fixed bench seed). */
uint64_t bench_key_u64(uint64_t i);
/* Writes the string key number i into buf[BENCH_STRLEN + 1]. */
void bench_key_str(uint64_t i, char *buf);

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);

/* xorshift-style generator state for one thread. */
static inline uint64_t
bench_rand(uint64_t *s)
{
    uint64_t x = *s += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Uniform integer in [0, n). */
static inline uint64_t
bench_below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)bench_rand(s) * n) >> 64);
}

/* Malloc that exits on failure (the bench is not an OOM test). */
void *bench_xmalloc(size_t n);
void *bench_xcalloc(size_t n, size_t sz);

/* Statistics. */
double bench_median(double *v, size_t n);
double bench_percentile(double *v, size_t n, double p); /* sorts v */
/* Upper tail of the chi-square distribution with `dof` degrees. */
double bench_chi2_q(double x, double dof);

/*
 * The machine's CPU time in clock ticks, all CPUs, and the hypervisor's
 * steal within it (/proc/stat); false where the kernel does not give them.
 */
struct bench_ticks {
    uint64_t all, steal;
};
bool bench_cpu_ticks(struct bench_ticks *t);
/* The steal between two readings, % of all the CPU time; NAN if none. */
double bench_steal_pct(const struct bench_ticks *from,
                       const struct bench_ticks *to);

/* Bytes held by live malloc chunks, all arenas (mallinfo2). */
size_t bench_malloc_bytes(void);
/* Collector heap in use after a full collection (heap minus free). */
size_t bench_gc_used_bytes(void);
/*
 * Zeroes the stack below the caller's frame, where earlier calls left
 * pointers that a later collection would scan (untimed, before a phase).
 */
void bench_clear_stack(void);

/* Collector pause recording (GC_set_on_collection_event). */
void bench_gc_hook_install(void);
void bench_gc_reset(void);
struct bench_gc_stats {
    unsigned long collections;
    size_t npauses;
    double total_ms, p50_ms, p99_ms, max_ms;
    size_t heap_bytes;
    double stopped_ms; /* world fully stopped: POST_STOP to PRE_START */
};
/* Copies the pauses since the last reset into *pauses (malloc'd, ms). */
void bench_gc_read(struct bench_gc_stats *st, double **pauses);
/*
 * Non-zero from the collector's POST_STOP_WORLD event to its
 * PRE_START_WORLD event (every registered thread stopped); readers sample
 * it to count the lookups they made while the world was stopped.
 */
extern _Atomic int bench_gc_stopped;

/* rawthread.c: the C library's pthread_create/join, never the collector's. */
int bench_raw_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);
int bench_raw_thread_join(pthread_t t);

/* ---- the competitors of a run (adapters.c) ---- */

/* Every adapter built in, NULL-terminated, in report order. */
extern const struct bench_adapter *const bench_adapters[];
/* Chosen by --only (every adapter without it). */
bool bench_selected(const struct bench_adapter *a);
/* Chosen, and measured in the single-thread and memory sections too. */
bool bench_selected_single(const struct bench_adapter *a);
/* Chosen for the single-thread and memory sections with keys of `kind`. */
bool bench_selected_single_kind(const struct bench_adapter *a, enum bkind kind);
/* Chosen, and measured in the concurrent sections (not BA_SINGLE_ONLY). */
bool bench_selected_conc(const struct bench_adapter *a);
/* Whether the adapter takes keys of `kind` (BA_U64_ONLY). */
bool bench_takes_kind(const struct bench_adapter *a, enum bkind kind);
/* The chosen adapter of that name, or NULL. */
const struct bench_adapter *bench_adapter_named(const char *name);
/* One line per competitor configure did not find, each after `prefix`. */
void bench_print_skipped(FILE *f, const char *prefix);
const char *bench_kind_name(enum bkind k);

/* ---- configuration (config.c; main.c fills it from the command line) ---- */

struct bench_cfg {
    const char *mode;
    const char *outdir;
    unsigned runs;
    size_t ns[8]; /* single-thread sizes */
    unsigned nns;
    enum bkind kinds[2];
    unsigned nkinds;
    unsigned readers[8]; /* reader counts beside one writer */
    unsigned nreaders;
    double phase_s;    /* concurrent phase with a writer */
    double ro_phase_s; /* read-only phase */
    double warm_s;     /* uncounted start of every concurrent phase */
    double settle_s;   /* untimed phase before each rw reader count and
                          sweep ratio (0: none) */
    size_t conc_n;
    bool sweep;
    unsigned sweep_threads;
    double sweep_s;
    size_t bp_max;
    unsigned bp_per_decade;
    double bp_min_s;
    size_t min_lookups;   /* lookups per single-thread measurement */
    size_t remove_sample; /* removes timed per run (0: all N) */
    size_t rt_cap;        /* ops per phase for round-trip adapters */
    size_t copy_cap;      /* updates per phase for copy-everything adapters */
    const char *only;     /* --only: NULL for every competitor */
    const char *sections; /* --sections: NULL for all */
};
extern struct bench_cfg bench_cfg;

void bench_mode_quick(void);
void bench_mode_full(void);
/* The section is on the --sections list (every section without one). */
bool bench_section_on(const char *name);

/* ---- keys of the workloads (keys.c) ---- */

/* String keys 0 .. n-1, made once (keys_prepare); u64 keys are computed. */
extern char (*bench_str_keys)[BENCH_STRLEN + 1];
/* Makes string keys 0 .. n-1 when kind is BK_STR (no-op otherwise). */
void keys_prepare(enum bkind kind, size_t n);

/* Key i as stored in a map (string keys live in bench_str_keys). */
static inline bkey
key_stored(enum bkind kind, size_t i)
{
    if (kind == BK_U64) {
        return bench_key_u64(i);
    }
    return (bkey)(uintptr_t)bench_str_keys[i];
}

/* Key i as a probe: for strings a fresh copy in buf, as a caller would. */
static inline bkey
key_probe(enum bkind kind, size_t i, char *buf)
{
    if (kind == BK_U64) {
        return bench_key_u64(i);
    }
    bench_key_str(i, buf);
    return (bkey)(uintptr_t)buf;
}

/* The j-th index of a fixed shuffle of 0 .. n-1. */
static inline size_t
key_perm(size_t j, size_t n)
{
    return (size_t)(((uint64_t)(j % n) * 2654435761ULL) % n);
}

/* Inserts keys [from, to) untimed, value i + 1 (bulk where there is one). */
void keys_build(const struct bench_adapter *a, void *m, void *t,
                enum bkind kind, size_t from, size_t to);

/* ---- result records and their statistics (records.c) ---- */

/*
 * One figure: a workload ("single", "rw", "edits", ...), the map, the key
 * kind and size, the threads (readers, writers, read percentage of mixed
 * threads), the metric, the repetition and the value.  A series is every
 * run of one (workload .. metric); reports read medians of series.
 */
struct rec {
    const char *workload;
    const char *map;
    enum bkind kind;
    size_t n;
    unsigned readers, writers, read_pct;
    const char *metric;
    unsigned run;
    double v;
};
extern struct rec *recs;
extern size_t nrecs;
/* Wrong answers seen (bench_fail); any fails the run. */
extern unsigned long bench_errors;

/* Appends a record; the strings are kept, not copied. */
void rec_add(const char *workload, const char *map, enum bkind kind, size_t n,
             unsigned readers, unsigned writers, unsigned pct,
             const char *metric, unsigned run, double v);
/* One figure of run `run` (u64 keys, no threads); the strings are copied. */
void bench_rec(const char *workload, const char *map, size_t n,
               const char *metric, unsigned run, double v);
/* A wrong answer: printed, counted, and the run's exit status fails. */
void bench_fail(const char *fmt, ...);
bool rec_match(const struct rec *r, const char *workload, const char *map,
               enum bkind kind, size_t n, unsigned readers, unsigned writers,
               unsigned pct, const char *metric);
/* Values of one series in run order (at most cap); returns the count. */
size_t rec_series(double *out, size_t cap, const char *workload,
                  const char *map, enum bkind kind, size_t n, unsigned readers,
                  unsigned writers, unsigned pct, const char *metric);
/* Median and maximum of a series; NaN when it is empty. */
double rec_median(const char *workload, const char *map, enum bkind kind,
                  size_t n, unsigned readers, unsigned writers, unsigned pct,
                  const char *metric);
double rec_max(const char *workload, const char *map, enum bkind kind, size_t n,
               unsigned readers, unsigned writers, unsigned pct,
               const char *metric);
/* Median over rounds of a/b, both single-thread series of one (kind, n). */
double rec_ratio_per_round(const char *a, const char *b, enum bkind kind,
                           size_t n, const char *metric);
/* The same with metric_a of a over metric_b of b (same rounds). */
double rec_ratio_per_round2(const char *a, const char *metric_a, const char *b,
                            const char *metric_b, enum bkind kind, size_t n);
/*
 * The records a child hands its parent: every record from the first
 * `from` on, and the error count, as tab-separated lines.  rec_load
 * appends a file's records and adds its errors; false if it is missing.
 */
void rec_save(const char *path, size_t from);
bool rec_load(const char *path);

/* ---- output files (out.c) ---- */

/* "date | system | cpu x cores | mode, runs": first line of every file. */
extern char bench_meta[1024];
void out_meta_prepare(void);
/* Opens outdir/name for writing (exits on failure). */
FILE *out_open(const char *name);
/* Opens outdir/name and writes the comment lines every CSV file starts with. */
FILE *out_csv(const char *name);
/* Removes the files of outdir whose names match the glob pattern (exits
 * on failure). */
void out_remove(const char *pattern);

/* ---- sections (one file each; the list is in sections.c) ---- */

/*
 * A section of the bench.  The parent runs every section that is on in
 * the order of bench_sections[], each in fresh child processes (a collector
 * heap left large and full of garbage by one workload would otherwise tax
 * the allocations of the next): one child per case when `cases` is set,
 * else one child.  The child calls run(case) (case -1 without `cases`),
 * which measures, records (rec_add) and may print tables; the records come
 * back to the parent (child.c).  After every section has run, the parent
 * calls each section's report(), which prints summaries from the records
 * and writes the section's CSV files for the pictures, then the headline
 * (report.c).
 */
struct bench_section {
    const char *name; /* for --sections */
    /* Number of child processes (one per case); NULL: one child. */
    unsigned (*cases)(void);
    /* Measure case c (or -1), in the child; prints its own tables. */
    void (*run)(long c);
    /* In the parent, after every section ran (may be NULL). */
    void (*report)(void);
    /* The child starts with the parent's records (single prints memory). */
    bool preload;
    /* No timing: run() runs in the parent, after the children. */
    bool in_parent;
    /*
     * Glob patterns (NULL-terminated; NULL: none) of the files in outdir
     * that only this section writes and that its report() does not
     * rewrite when the section is off.  A run without the section removes
     * them first, so that no picture is drawn from an earlier run's data.
     */
    const char *const *outputs;
};
extern const struct bench_section bench_sections[];

/* single.c: "memory" and "single" */
unsigned memory_cases(void);
void memory_run(long c);
void single_run_all(long c);
void single_write_data(void);
/* concurrent.c */
void concurrent_run(long c);
/* concurrent_report.c */
void concurrent_report(enum bkind kind, size_t n);
void concurrent_write_data(void);
/* breakpoint.c */
void breakpoint_run(long c);
void breakpoint_report(void);
/* The N from which path copying wins at every larger N measured (0: it
 * never does); *measured tells whether the section ran. */
size_t breakpoint_wins_from(bool *measured);
/* balance.c */
void balance_run(long c);
void balance_write_data(void);
/* edits.c */
unsigned edits_cases(void);
void edits_run(long c);
void edits_report(void);
/* The N of the edits section (the largest single-thread size). */
size_t edits_n(void);
/* budget.c: the writer against the budget between collections */
unsigned budget_cases(void);
void budget_run(long c);
void budget_report(void);
/* The floor of the curve's factor rows, in MiB (plots.gp's title). */
unsigned budget_factor_floor_mib(void);
/* writers.c: several writers; prints its own tables and files */
void writers_run(long c);
/* The smoke mode's check of every several-writer call; adds to counts. */
void writers_smoke(unsigned *pass, unsigned *fail);
/* collide.c: keys with one hash, with and without an order (issue 17) */
unsigned collide_cases(void);
/* The N of the collide section's distinct and ordered rows. */
size_t collide_keys(void);
void collide_run(long c);
void collide_report(void);

/* ---- concurrent phases (concurrent.c; the smoke mode uses them too) ---- */

#define BENCH_BATCH 16 /* lookups per reader snapshot */

struct conc_result {
    double reader_ops_s;     /* all readers together */
    double per_reader_ops_s; /* mean per reader */
    double writer_ops_s;
    /* Per second of the writers' own CPU time (a collecting writer's
     * marking included, parallel marker threads not). */
    double writer_cpu_ops_s;
    double total_ops_s; /* mixed runs */
    double p50, p99, p999, max;
    struct bench_gc_stats gc;
    /* Readers' stall profile (0 without readers). */
    double gap_max_ms;   /* the first reader's longest gap */
    double gaps_1ms_10s; /* gaps over 1 ms per reader per 10 s */
    double gaps_5ms_10s; /* gaps over 5 ms per reader per 10 s */
    /*
     * The first reader's longest gap less its time waiting on a run queue
     * for a CPU (concurrent.c, rq_note), and the readers' waiting in ms
     * per reader per 10 s; NAN where the kernel does not report it.
     */
    double gap_own_max_ms;
    double rq_wait_ms_10s;
    double rate_stopped; /* lookups/s per reader, world stopped */
    double rate_outside; /* lookups/s per reader, otherwise */
    /*
     * The same two rates per second of the readers' own CPU time, and the
     * share of a core the readers got in each window: on a shared machine
     * a long pause is often a pause whose marker lost its core to another
     * tenant, and the reader loses CPU in the same windows (see
     * concurrent.c).
     */
    double rate_stopped_cpu, rate_outside_cpu;
    double cpu_share_stopped, cpu_share_outside;
    /*
     * The share of the machine's CPU time (all CPUs) the hypervisor gave
     * to other guests during the timed part, in %; NAN where the kernel
     * does not report steal.  Gaps and rates of a run with much steal are
     * the host's as much as the map's.
     */
    double steal_pct;
};
/*
 * One timed phase: `nr` readers and `nw` writers (or nr mixed threads when
 * mixed_pct > 0) on the shared map for `secs`.  Checks that every lookup
 * hit (bench_fail).  *pauses (if not NULL) gets the collector's pauses.
 */
void conc_run_phase(const struct bench_adapter *a, void *m, enum bkind kind,
                    size_t n, unsigned nr, unsigned nw, int mixed_pct,
                    double secs, struct conc_result *res, double **pauses);

/* ---- report.c, smoke.c, child.c ---- */

/* The headline table, the CSV files of every record, the pictures' data. */
void report_all(void);
/* make check: every adapter's answers on a small map; exit status. */
int smoke_main(void);
/* The parent's loop over the sections, and a child's one section. */
int child_parent(int argc, char **argv);
int child_main(const char *file, long case_no);

#endif /* BENCH_H */
