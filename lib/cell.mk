## lib/cell.mk - the publication cell and the thread model:
## library sources, their Criterion tests, and the plain-C stress programs.
##
##   make check                 test/cell, test/thread (Criterion) and
##                              test/stress/cell_stress (plain C)
##   make check-unregistered    shows that a reader the collector does not
##                              know can read a reclaimed snapshot (expected
##                              to detect; not part of make check)
## The cell's own benchmark is bench/cell_bench (bench/local.mk).
##
## In a build configured with --disable-gc --enable-sanitizers=thread
## (HAMT_TSAN) Criterion cannot run, so only the plain-C stress program is
## built and run there; it prints its own "N passed, N failed" line.

HAMT_SOURCES += lib/cell.c lib/thread.c lib/slot.h

CELL_CF = $(AM_CFLAGS) -Wno-missing-prototypes
CELL_LIBS = lib/libhamt_test.la $(GC_LIBS) -lpthread
CELL_LF = -no-install $(AM_LDFLAGS)

## Plain-C stress program: run in every build (collector, or TSan without it).
check_PROGRAMS += test/stress/cell_stress
TESTS += test/stress/cell_stress
test_stress_cell_stress_SOURCES = test/stress/cell_stress.c \
	test/stress/payload.h test/stress/harness.h
test_stress_cell_stress_CFLAGS = $(CELL_CF)
test_stress_cell_stress_LDADD = $(CELL_LIBS)
test_stress_cell_stress_LDFLAGS = $(CELL_LF)
check_PROGRAMS += test/stress/slot_stress
TESTS += test/stress/slot_stress
test_stress_slot_stress_SOURCES = test/stress/slot_stress.c \
	test/stress/payload.h test/stress/harness.h
test_stress_slot_stress_CFLAGS = $(CELL_CF)
test_stress_slot_stress_LDADD = $(CELL_LIBS)
test_stress_slot_stress_LDFLAGS = $(CELL_LF)

if !HAMT_TSAN
check_PROGRAMS += test/cell test/thread test/slot
TESTS += test/cell test/thread test/slot
test_slot_SOURCES = test/slot.c test/stress/payload.h
test_slot_CFLAGS = $(CELL_CF) -DHAMT_TEST_HOOKS $(CRITERION_CFLAGS)
test_slot_LDADD = $(CELL_LIBS) $(CRITERION_LIBS)
test_slot_LDFLAGS = $(CELL_LF)
test_cell_SOURCES = test/cell.c
test_cell_CFLAGS = $(CELL_CF) -DHAMT_TEST_HOOKS $(CRITERION_CFLAGS)
test_cell_LDADD = $(CELL_LIBS) $(CRITERION_LIBS)
test_cell_LDFLAGS = $(CELL_LF)
test_thread_SOURCES = test/thread.c test/stress/payload.h
test_thread_CFLAGS = $(CELL_CF) -DHAMT_TEST_HOOKS $(CRITERION_CFLAGS)
test_thread_LDADD = $(CELL_LIBS) $(CRITERION_LIBS)
test_thread_LDFLAGS = $(CELL_LF)
endif

## Expected to detect: readers that unregister from the collector while
## holding a snapshot must see it reclaimed.  Kept out of make check because
## it demonstrates a danger rather than checking a guarantee; the
## deterministic version of the same demonstration is a Criterion test
## (test/thread.c, unregistered_reader_sees_reclaimed_snapshot).
check-unregistered: test/stress/cell_stress
	$(builddir)/test/stress/cell_stress -u
.PHONY: check-unregistered

## Expected to detect: the slot readers of slot_stress with their slot left
## out (hamt__cell_peek_unprotected) must see a reclaimed snapshot or crash.
## Reliable (it detects within the first collections), so make check runs
## it in collector builds as test/stress/slot_noslot.sh.
if !HAMT_NO_GC
TESTS += test/stress/slot_noslot.sh
endif
EXTRA_DIST += test/stress/slot_noslot.sh
check-noslot: test/stress/slot_stress
	$(builddir)/test/stress/slot_stress -N
.PHONY: check-noslot
