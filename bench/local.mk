## bench/local.mk - the bench suite: hamt-bench (one file per section, one
## adapter per competitor; bench/README.md describes both) and cell_bench.
## `make bench` runs the quick mode (headline rows, every competitor) and
## draws the pictures with bench/plots.gp; `make bench-full` runs every
## workload.  Both write CSV files and PNGs to bench/out/;
## bench/report.sh publishes a run to bench/results/ and bench/README.md.
## `make check` runs only the smoke test (answers, no timing).
## Competitors whose library configure did not find are left out of the
## build and reported by every run as "skipped: <name> not found".

noinst_PROGRAMS += bench/hamt-bench
bench_hamt_bench_SOURCES = bench/bench.h bench/main.c bench/config.c \
	bench/adapters.c bench/keys.c bench/records.c bench/out.c \
	bench/sections.c bench/child.c bench/report.c bench/targets.c \
	bench/targets.h bench/smoke.c \
	bench/single.c bench/concurrent.c bench/concurrent_report.c \
	bench/breakpoint.c bench/balance.c \
	bench/edits.c bench/util.c bench/adapt_hamt.c bench/adapt_cow.c \
	bench/budget.c bench/rawthread.c bench/writers.c bench/writers.h \
	bench/writers_report.c bench/writers_claims.c \
	bench/adapt_syncmap.c bench/adapt_combine.c bench/collide.c \
	bench/hamt_common.h
bench_hamt_bench_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(URCU_CFLAGS)
bench_hamt_bench_LDADD = lib/libhamt_core.la $(GC_LIBS) $(SODIUM_LIBS) \
	-lpthread -lm
if HAVE_GLIB
bench_hamt_bench_SOURCES += bench/adapt_glib.c bench/adapt_owner.c
bench_hamt_bench_LDADD += $(GLIB_LIBS)
endif
if HAVE_URCU
bench_hamt_bench_SOURCES += bench/adapt_urcu.c
bench_hamt_bench_LDADD += $(URCU_LIBS)
endif
if HAVE_CK
bench_hamt_bench_SOURCES += bench/adapt_ck.c
bench_hamt_bench_LDADD += -lck
endif

## The cell alone: one writer, 0-2 readers, the collector's pauses
## (usage: bench/cell_bench [-k keys] [-s seconds]).  make check builds it
## so that it keeps compiling, and never runs it.
check_PROGRAMS += bench/cell_bench
bench_cell_bench_SOURCES = bench/cell_bench.c
bench_cell_bench_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes
bench_cell_bench_LDADD = lib/libhamt.la $(GC_LIBS) -lpthread
bench_cell_bench_LDFLAGS = -no-install $(AM_LDFLAGS)

## The bench drives the collector directly (pauses, heap accounting), so its
## smoke test runs only in collector builds; ThreadSanitizer cannot run
## a program that uses libgc (TOOLCHAIN.md).
if !HAMT_NO_GC
TESTS += bench/smoke.sh bench/args.sh
endif
EXTRA_DIST += bench/smoke.sh bench/args.sh bench/plots.gp bench/report.sh bench/README.md \
	bench/FINDINGS.md

BENCH_OUT = bench/out
BENCH_ARGS =
## The pictures are part of what make bench promises: without gnuplot it
## still prints the tables and writes the CSV files, then fails.
## hamt-bench removes the files of each section that did not run (their
## `outputs`, writers_*.png included) and plots.gp the pictures whose data
## holds no figure, so the pictures left in BENCH_OUT are this run's.
bench_plot = if test -n "$(GNUPLOT)"; then \
	  (cd $(BENCH_OUT) && $(GNUPLOT) $(abs_top_srcdir)/bench/plots.gp) && \
	  { test ! -f $(BENCH_OUT)/writers.gp || \
	    (cd $(BENCH_OUT) && $(GNUPLOT) writers.gp); } && \
	  echo "pictures in $(BENCH_OUT):" $$(cd $(BENCH_OUT) && ls *.png 2>/dev/null); \
	else echo "error: gnuplot not found, so no pictures (./bootstrap" \
	  "installs gnuplot-nox; then rerun configure)" >&2; exit 1; fi

bench: bench/hamt-bench$(EXEEXT)
	@$(MKDIR_P) $(BENCH_OUT)
	./bench/hamt-bench --quick --out $(BENCH_OUT) $(BENCH_ARGS)
	@$(bench_plot)

bench-full: bench/hamt-bench$(EXEEXT)
	@$(MKDIR_P) $(BENCH_OUT)
	./bench/hamt-bench --full --out $(BENCH_OUT) $(BENCH_ARGS)
	@$(bench_plot)

.PHONY: bench bench-full
CLEANFILES += $(BENCH_OUT)/*.csv $(BENCH_OUT)/*.png

## The colliding-keys rows (issue 17) are hamt-bench's "collide" section;
## `make bench-collide` runs that section alone.  bench/collide.c also
## builds a program of its own (-DCOLLIDE_MAIN), bench/hamt-collide
## [N] [ROUNDS] [UNORDERED_N], which make check runs at a small size for
## its answers (bench/collide-smoke.sh).
noinst_PROGRAMS += bench/hamt-collide
bench_hamt_collide_SOURCES = bench/collide.c
bench_hamt_collide_CFLAGS = $(AM_CFLAGS) -DCOLLIDE_MAIN
bench_hamt_collide_LDADD = lib/libhamt_core.la $(GC_LIBS) $(SODIUM_LIBS) \
	-lpthread -lm
if !HAMT_NO_GC
TESTS += bench/collide-smoke.sh
endif
EXTRA_DIST += bench/collide-smoke.sh

bench-collide: bench/hamt-bench$(EXEEXT)
	@$(MKDIR_P) $(BENCH_OUT)
	./bench/hamt-bench --sections collide --out $(BENCH_OUT) $(BENCH_ARGS)

.PHONY: bench-collide
