/*
 * targets.c - the headline's targets, one row each: the figures it
 * compares (a series' median, or a per-round ratio of two single-thread
 * series), the comparison and the limit.  report.c derives each goal's
 * text and verdict from these, so a goal is written once, here.
 */
#include "bench.h"
#include "targets.h"

#define SINGLE(m, op)                                                          \
    {                                                                          \
        .workload = "single", .map = m, .metric = op                           \
    }
/* A map's series with 1 reader and 1 writer: RW in millions (rates),
 * RW_UNSCALED as recorded (counts, percentages). */
#define RW_SERIES(m, metric_)                                                  \
    .workload = "rw", .map = m, .metric = metric_, .readers = 1, .writers = 1
#define RW(m, metric_)                                                         \
    {                                                                          \
        RW_SERIES(m, metric_), .scale = 1e6                                    \
    }
#define RW_UNSCALED(m, metric_)                                                \
    {                                                                          \
        RW_SERIES(m, metric_)                                                  \
    }
/*
 * A slot reader's gap metric: the one reader under 1 writer against the
 * first of 2 readers with no writer, phases of the same length.
 */
#define SLOT_GAP_VS_NO_WRITER(metric_)                                         \
    .hamt = {.workload = "rw",                                                 \
             .map = "libhamt-slot",                                            \
             .metric = metric_,                                                \
             .readers = 1,                                                     \
             .writers = 1},                                                    \
    .ref = {.workload = "ro",                                                  \
            .map = "libhamt-slot",                                             \
            .metric = metric_,                                                 \
            .readers = 2}
#define EDITS(m, metric_)                                                      \
    {                                                                          \
        .workload = "edits", .map = m, .metric = metric_                       \
    }
#define VS_GHASH(op, text, lim)                                                \
    {                                                                          \
        .what = text, .unit = "ns", .size = AT_SINGLE,                         \
        .hamt = SINGLE("libhamt", op), .ref = SINGLE("ghash", op),             \
        .per_round = true, .cmp = AT_MOST, .limit = lim                        \
    }
#define COLLIDE(m, metric_)                                                    \
    {                                                                          \
        .workload = "collide", .map = m, .metric = metric_                     \
    }
#define COLLIDE_BUILD(metric_, text)                                           \
    {                                                                          \
        .what = text, .unit = "ms", .size = AT_COLLIDE,                        \
        .hamt = COLLIDE("ordered", metric_),                                   \
        .ref = COLLIDE("distinct", metric_), .cmp = AT_MOST, .limit = 10.0,    \
        .optional = true                                                       \
    }
#define K_SPEEDUP(k, batch, text)                                              \
    {                                                                          \
        .what = text, .unit = "ns", .size = AT_EDITS,                          \
        .hamt = EDITS("libhamt", "sets_k" #k),                                 \
        .ref = EDITS("libhamt", batch "_k" #k), .cmp = AT_LEAST, .limit = 3.0, \
        .optional = true                                                       \
    }

/* Issue 14's persistent update goals at one N (Clojure's ratios here). */
#define VS_GHASH_AT(op, text, lim, at)                                         \
    {                                                                          \
        .what = text, .unit = "ns", .size = at, .hamt = SINGLE("libhamt", op), \
        .ref = SINGLE("ghash", op), .per_round = true, .cmp = AT_MOST,         \
        .limit = lim, .optional = true                                         \
    }
/*
 * The same goals for a hamt_new_scalar map (libhamt-scalar): the ratio is
 * taken per round against the ghash run of that round.
 */
#define SCALAR_VS_GHASH_AT(op, text, lim, at)                                  \
    {                                                                          \
        .what = text, .unit = "ns", .size = at,                                \
        .hamt = SINGLE("libhamt-scalar", op), .ref = SINGLE("ghash", op),      \
        .per_round = true, .cmp = AT_MOST, .limit = lim, .optional = true      \
    }
/* The best reader of the two lock-free tables, 1 writer, 1 reader. */
#define RW_BEST_LOCKFREE_READERS                                               \
    {                                                                          \
        .workload = "rw", .map = "urcu-lfht,ck-hs", .metric = "reader_ops_s",  \
        .readers = 1, .writers = 1, .scale = 1e6, .best_of = true              \
    }
/*
 * The readers of the lock-based maps under one writer: the best of the
 * three, since a reader of glibc's default rwlock under a busy writer
 * flips between running beside it and a lockstep of one lookup per update
 * that lasts for seconds (bench/FINDINGS.md, "The rwlock's lockstep"), so
 * any one of them alone is the scheduler's figure more than the map's.
 */
#define RW_BEST_LOCKED_READERS                                                 \
    {                                                                          \
        .workload = "rw", .map = "ghash-mutex,ghash-rwlock,ghash-shards",      \
        .metric = "reader_ops_s", .readers = 1, .writers = 1, .scale = 1e6,    \
        .best_of = true                                                        \
    }
/* The budget section (budget.c), at its N. */
#define BUDGET(m, metric_, scale_)                                             \
    {                                                                          \
        .workload = "budget", .map = m, .metric = metric_, .scale = scale_     \
    }
/*
 * The study's claims about sync.Map (writers_claims.c), W = 4, R = 1:
 * syncmap's ops/s against one lock-based map of the same run, the ratio
 * the median of per-run ratios of interleaved phases.
 */
#define WR_CLAIM_FIG(m, id)                                                    \
    {                                                                          \
        .workload = "writers", .map = m, .metric = "claim_" id "_ops_s",       \
        .readers = 1, .writers = 4, .scale = 1e6                               \
    }
#define WR_CLAIM(id, text, base, cmp_)                                         \
    {                                                                          \
        .what = text " vs " base, .unit = "M/s", .size = AT_1M,                \
        .hamt = WR_CLAIM_FIG("syncmap", id), .ref = WR_CLAIM_FIG(base, id),    \
        .ratio_metric = "claim_" id "_vs_" base, .cmp = cmp_, .limit = 1.0,    \
        .optional = true, .claim = true                                        \
    }
#define WR_CLAIMS(id, text, cmp_)                                              \
    WR_CLAIM(id, text, "ghash-mutex", cmp_),                                   \
        WR_CLAIM(id, text, "ghash-rwlock", cmp_),                              \
        WR_CLAIM(id, text, "ghash-shards", cmp_)

const struct target bench_targets[] = {
    VS_GHASH("lookup_hit", "lookup hit vs ghash", 1.0),
    VS_GHASH("insert", "persistent insert vs ghash insert", 2.5),
    VS_GHASH("remove", "persistent remove vs ghash remove", 3.0),
    VS_GHASH("iterate", "iterate per entry vs ghash", 2.0),
    {.what = "lookup hit, 16-key batches (hamt_get_many) vs ghash",
     .unit = "ns",
     .size = AT_SINGLE,
     .hamt = SINGLE("libhamt", "lookup_hit_batch"),
     .ref = SINGLE("ghash", "lookup_hit"),
     .per_round = true,
     .cmp = AT_MOST,
     .limit = 1.0},
    {.what = "bytes per entry (loaded via one batch) vs ghash",
     .unit = "B",
     .size = AT_SINGLE,
     .hamt = {.workload = "memory",
              .map = "libhamt",
              .metric = "bytes_per_entry"},
     .ref = {.workload = "memory", .map = "ghash", .metric = "bytes_per_entry"},
     .cmp = AT_MOST,
     .limit = 1.0},
    {.what = "reader lookups/s under 1 writer vs best(rculfhash, ck_hs)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "reader_ops_s"),
     .ref = RW_BEST_LOCKFREE_READERS,
     .cmp = AT_LEAST,
     .limit = 2.0},
    {.what = "reader lookups/s under 1 writer vs best(ghash-mutex, "
             "ghash-rwlock, ghash-shards)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "reader_ops_s"),
     .ref = RW_BEST_LOCKED_READERS,
     .cmp = AT_LEAST,
     .limit = 10.0},
    {.what = "writer updates/s (1 reader), every update vs ck_hs writer",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "writer_ops_s"),
     .ref = RW("ck-hs", "writer_ops_s"),
     .cmp = AT_LEAST,
     .limit = 1.0},
    /* Issue 14: the writer publishing a batch of 16 updates at a time. */
    {.what = "writer updates/s (1 reader), batches of 16 vs ck_hs writer",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt-b16", "writer_ops_s"),
     .ref = RW("ck-hs", "writer_ops_s"),
     .cmp = AT_LEAST,
     .limit = 1.0},
    /*
     * Issue 14: readers the collector never stops (libhamt-slot, hazard
     * slots) next to registered readers (libhamt), 1 writer, 1 reader.
     */
    {.what = "readers (slot) under 1 writer vs best(rculfhash, ck_hs)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt-slot", "reader_ops_s"),
     .ref = RW_BEST_LOCKFREE_READERS,
     .cmp = AT_LEAST,
     .limit = 3.0},
    /*
     * The same readers looking each batch of 16 up with one hamt_get_many
     * call: no goal, since every competitor above makes one call per key.
     */
    {.what = "readers (slot, hamt_get_many) vs best(rculfhash, ck_hs)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt-getmany", "reader_ops_s"),
     .ref = RW_BEST_LOCKFREE_READERS,
     .info = true},
    {.what = "reader gaps over 5 ms per 10 s under 1 writer: slot",
     .unit = "n",
     .size = AT_CONC,
     .hamt = RW_UNSCALED("libhamt-slot", "gaps_5ms_per_10s"),
     .cmp = AT_MOST,
     .limit = 2.0},
    /* Registered readers stop at every collection: today's model, shown
     * beside the slot rows (issue 14 keeps it), with no goal. */
    {.what = "reader gaps over 5 ms per 10 s under 1 writer: registered",
     .unit = "n",
     .size = AT_CONC,
     .hamt = RW_UNSCALED("libhamt", "gaps_5ms_per_10s"),
     .info = true},
    {.what = "reader longest gap (slot): 1 writer vs 2 readers, no writer",
     .unit = "ms",
     .size = AT_CONC,
     SLOT_GAP_VS_NO_WRITER("gap_max_ms"),
     .cmp = AT_MOST,
     .limit = 1.0},
    /*
     * The same gaps less the reader's time waiting on a run queue for a
     * CPU (concurrent.c, rq_note): what is left is the map's and the
     * collector's share, without the other threads of a 2-core machine.
     */
    {.what = "reader longest gap less run-queue wait (slot): 1 writer vs none",
     .unit = "ms",
     .size = AT_CONC,
     SLOT_GAP_VS_NO_WRITER("gap_own_max_ms"),
     .info = true},
    /*
     * How much of the machine the hypervisor took while the slot reader
     * ran, next to the same in ck_hs's runs: a reader whose vCPU is
     * descheduled waits on no run queue of its kernel, so the gap rows
     * above cannot tell that time apart (bench/README.md).
     */
    {.what = "hypervisor steal, % of CPU time: slot runs vs ck_hs runs",
     .unit = "%",
     .size = AT_CONC,
     .hamt = RW_UNSCALED("libhamt-slot", "steal_pct"),
     .ref = RW_UNSCALED("ck-hs", "steal_pct"),
     .info = true},
    {.what = "reader lookup rate during collections / outside: slot",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt-slot", "rate_stopped_ops_s"),
     .ref = RW("libhamt-slot", "rate_outside_ops_s"),
     .ratio_metric = "rate_stopped_ratio",
     .cmp = AT_LEAST,
     .limit = 0.9},
    {.what = "reader lookup rate during collections / outside: registered",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "rate_stopped_ops_s"),
     .ref = RW("libhamt", "rate_outside_ops_s"),
     .ratio_metric = "rate_stopped_ratio",
     .info = true},
    {.what = "2 readers, no writer vs unlocked ghash",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = {.workload = "ro",
              .map = "libhamt",
              .metric = "reader_ops_s",
              .readers = 2,
              .scale = 1e6},
     .ref = {.workload = "ro",
             .map = "ghash",
             .metric = "reader_ops_s",
             .readers = 2,
             .scale = 1e6},
     .cmp = AT_LEAST,
     .limit = 0.9},
    {.what = "max GC pause, 1M entries under write churn (ms)",
     .unit = "ms",
     .size = AT_CONC,
     .hamt = {.workload = "rw",
              .map = "libhamt",
              .metric = "gc_max_ms",
              .writers = 1,
              .max_any_readers = true},
     .cmp = AT_MOST,
     .limit = 10.0},
    {.what = "build via one batch (hamt_batch_set_many) vs ghash insert",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = EDITS("libhamt", "batch_build_many"),
     .ref = EDITS("ghash", "build"),
     .cmp = AT_MOST,
     .limit = 1.5,
     .optional = true},
    {.what = "build via one batch (hamt_batch_set) vs ghash insert",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = EDITS("libhamt", "batch_build"),
     .ref = EDITS("ghash", "build"),
     .cmp = AT_MOST,
     .limit = 1.5,
     .optional = true},
    K_SPEEDUP(1000, "batch", "k=1000 updates: k sets / batch_set (speedup)"),
    K_SPEEDUP(10000, "batch", "k=10000 updates: k sets / batch_set (speedup)"),
    K_SPEEDUP(100000, "batch",
              "k=100000 updates: k sets / batch_set (speedup)"),
    K_SPEEDUP(1000, "batch_many",
              "k=1000 updates: k sets / batch_set_many (speedup)"),
    K_SPEEDUP(10000, "batch_many",
              "k=10000 updates: k sets / batch_set_many (speedup)"),
    K_SPEEDUP(100000, "batch_many",
              "k=100000 updates: k sets / batch_set_many (speedup)"),
    VS_GHASH_AT("insert", "persistent insert vs ghash, N = 10k", 1.8, AT_10K),
    VS_GHASH_AT("insert", "persistent insert vs ghash, N = 100k", 5.0, AT_100K),
    VS_GHASH_AT("insert", "persistent insert vs ghash, N = 1M", 5.9, AT_1M),
    VS_GHASH_AT("remove", "persistent remove vs ghash, N = 10k", 4.9, AT_10K),
    VS_GHASH_AT("remove", "persistent remove vs ghash, N = 100k", 11.0,
                AT_100K),
    VS_GHASH_AT("remove", "persistent remove vs ghash, N = 1M", 12.8, AT_1M),
    SCALAR_VS_GHASH_AT("insert",
                       "persistent insert, scalar map vs ghash, N = 10k", 1.8,
                       AT_10K),
    SCALAR_VS_GHASH_AT("insert",
                       "persistent insert, scalar map vs ghash, N = 100k", 5.0,
                       AT_100K),
    SCALAR_VS_GHASH_AT(
        "insert", "persistent insert, scalar map vs ghash, N = 1M", 5.9, AT_1M),
    SCALAR_VS_GHASH_AT("remove",
                       "persistent remove, scalar map vs ghash, N = 10k", 4.9,
                       AT_10K),
    SCALAR_VS_GHASH_AT("remove",
                       "persistent remove, scalar map vs ghash, N = 100k", 11.0,
                       AT_100K),
    SCALAR_VS_GHASH_AT("remove",
                       "persistent remove, scalar map vs ghash, N = 1M", 12.8,
                       AT_1M),
    {.what = "writer stopped ns/update: default budget vs collector's",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt", "stopped_ns_default", 0),
     .ref = BUDGET("libhamt", "stopped_ns_b0", 0),
     .cmp = AT_MOST,
     .limit = 0.5,
     .optional = true},
    {.what = "writer collections/1M updates: default budget vs collector's",
     .unit = "",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt", "collections_per_1m_default", 0),
     .ref = BUDGET("libhamt", "collections_per_1m_b0", 0),
     .cmp = AT_MOST,
     .limit = 0.5,
     .optional = true},
    {.what = "writer updates/s, no reader: default budget vs collector's",
     .unit = "M/s",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt", "updates_per_s_default", 1e6),
     .ref = BUDGET("libhamt", "updates_per_s_b0", 1e6),
     .cmp = AT_LEAST,
     .limit = 1.0,
     .optional = true},
    {.what = "writer stopped ns/update: scalar values vs plain (default)",
     .unit = "ns",
     .size = AT_EDITS,
     .hamt = BUDGET("libhamt-scalar", "stopped_ns_default", 0),
     .ref = BUDGET("libhamt", "stopped_ns_default", 0),
     .cmp = AT_MOST,
     .limit = 1.0,
     .optional = true},
    {.what = "writer updates/s publishing every update (1 reader)",
     .unit = "M/s",
     .size = AT_CONC,
     .hamt = RW("libhamt", "writer_ops_s"),
     .cmp = AT_LEAST,
     .limit = 1.0},
    /* Issue 15: sync.Map wins (ratio >= 1) or loses (<= 1), per claim. */
    WR_CLAIMS("stable", "sync.Map claim 1, stable keys 99% reads: ops/s",
              AT_LEAST),
    WR_CLAIMS("disjoint", "sync.Map claim 2, disjoint keys 50% reads: ops/s",
              AT_LEAST),
    WR_CLAIMS("new-keys", "sync.Map claim 3, new keys 50% reads: ops/s",
              AT_MOST),
    /* Issue 17: keys with one hash and an order (collision trees). */
    COLLIDE_BUILD("build_set_ms",
                  "one hash, ordered: hamt_set build vs distinct hashes"),
    COLLIDE_BUILD("build_batch_ms",
                  "one hash, ordered: batch_set build vs distinct"),
    COLLIDE_BUILD("build_many_ms",
                  "one hash, ordered: batch_set_many build vs distinct"),
    {.what = "one hash, ordered: lookup",
     .unit = "ns",
     .size = AT_COLLIDE,
     .hamt = COLLIDE("ordered", "lookup_ns"),
     .cmp = AT_MOST,
     .limit = 2000.0,
     .optional = true},
    {.what = "one hash, ordered: batch_set_many vs batch_set",
     .unit = "ms",
     .size = AT_COLLIDE,
     .hamt = COLLIDE("ordered", "build_many_ms"),
     .ref = COLLIDE("ordered", "build_batch_ms"),
     .cmp = AT_MOST,
     .limit = 1.0,
     .optional = true},
};

const unsigned bench_ntargets = sizeof bench_targets / sizeof bench_targets[0];
