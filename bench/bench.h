/*
 * bench.h - the bench suite's common table of function pointers, shared by
 * the driver (bench/main.c), its helpers (bench/util.c) and one small
 * adapter per competitor (bench/adapt_*.c).
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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    /* Replace the value of a key while readers run: one writer thread. */
    void (*update)(void *m, void *t, bkey k, uint64_t v);
    /* The same, safe with several writer threads at once. */
    void (*update_mw)(void *m, void *t, bkey k, uint64_t v);
    /*
     * Several-writer section (bench/writers.c): add a new key, remove a
     * key, safe with several writer threads and readers at once.  NULL: the
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

/* ---- adapters (one file each; NULL-terminated list in main.c) ---- */

extern const struct bench_adapter bench_hamt;
extern const struct bench_adapter bench_hamt_b16;
#ifdef HAVE_GLIB
extern const struct bench_adapter bench_glib;
extern const struct bench_adapter bench_glib_mutex;
extern const struct bench_adapter bench_glib_rwlock;
extern const struct bench_adapter bench_glib_shards;
extern const struct bench_adapter bench_owner;
#endif
extern const struct bench_adapter bench_cow;
extern const struct bench_adapter bench_syncmap;
extern const struct bench_adapter bench_hamt_combine;
#ifdef HAVE_URCU
extern const struct bench_adapter bench_urcu;
#endif
#ifdef HAVE_CK
extern const struct bench_adapter bench_ck;
#endif

/* ---- results (main.c) ---- */

/* One figure of run `run` (u64 keys); the strings are copied. */
void bench_rec(const char *workload, const char *map, size_t n,
               const char *metric, unsigned run, double v);
/* A wrong answer: printed, counted, and the run's exit status fails. */
void bench_fail(const char *fmt, ...);

/* ---- batch editor and whole-map operations (edits.c) ---- */

/*
 * The "edits" section at n keys runs one child process per case: the number
 * of cases, and case c (0 <= c < the number) measured over `runs` runs;
 * ghash may be NULL (its build is skipped).
 */
unsigned bench_edits_cases(size_t n);
void bench_edits_case(size_t n, unsigned runs, unsigned c,
                      const struct bench_adapter *ghash);

/* ---- several writers (writers.c) ---- */

/*
 * The "writers" section: W writer threads and R reader threads on every
 * contender of `list` (NULL-terminated) that has update_mw, 1M u64 keys,
 * read ratios 50/90/99%, updates of existing keys and inserts with deletes;
 * prints its tables and writes writers.csv and writers.gp to outdir.
 * `full` runs the whole grid, otherwise a small subset.
 */
void bench_writers_all(const struct bench_adapter *const *list, bool full,
                       unsigned runs, const char *outdir);
/* Answers of every contender's several-writer calls; adds to the counts. */
void bench_writers_smoke(const struct bench_adapter *const *list,
                         unsigned *pass, unsigned *fail);

/* ---- helpers (util.c) ---- */

/* The competitors' own hash (not libhamt's): murmur3's 64-bit finalizer. */
static inline uint64_t
bench_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

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

/* Bytes held by live malloc chunks, all arenas (mallinfo2). */
size_t bench_malloc_bytes(void);
/* Collector heap in use after a full collection (heap minus free). */
size_t bench_gc_used_bytes(void);

/* Collector pause recording (GC_set_on_collection_event). */
void bench_gc_hook_install(void);
void bench_gc_reset(void);
struct bench_gc_stats {
    unsigned long collections;
    size_t npauses;
    double total_ms, p50_ms, p99_ms, max_ms;
    size_t heap_bytes;
};
/* Copies the pauses since the last reset into *pauses (malloc'd, ms). */
void bench_gc_read(struct bench_gc_stats *st, double **pauses);

#endif /* BENCH_H */
