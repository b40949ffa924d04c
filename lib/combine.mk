## lib/combine.mk - combined publication for many writers (issue 15):
## library source, its Criterion test and its plain-C stress program.
##
##   make check   test/combine (Criterion: API, deterministic batches, OOM
##                injection during a combined batch) and
##                test/stress/combine_stress (plain C: submitters and
##                readers; also run by the TSan build of test/run-all)

HAMT_SOURCES += lib/combine.c

check_PROGRAMS += test/stress/combine_stress
TESTS += test/stress/combine_stress
test_stress_combine_stress_SOURCES = test/stress/combine_stress.c \
	test/stress/harness.h
test_stress_combine_stress_CFLAGS = $(CELL_CF)
test_stress_combine_stress_LDADD = $(CELL_LIBS)
test_stress_combine_stress_LDFLAGS = $(CELL_LF)

if !HAMT_TSAN
check_PROGRAMS += test/combine
TESTS += test/combine
test_combine_CFLAGS = $(UT_CF)
endif
