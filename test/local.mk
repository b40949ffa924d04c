## test/local.mk - Criterion unit tests, one program per module.
## Each program is run through test/run-test.sh (LOG_COMPILER below);
## Criterion's "Synthesis" line lands in its .log, and test/summary.sh adds
## those lines up into one "N passed, N failed" line (make check-summary).

UT_CF = -DHAMT_TEST_HOOKS -I$(top_srcdir)/test/support $(AM_CFLAGS) $(CRITERION_CFLAGS) $(SODIUM_CFLAGS) -Wno-missing-prototypes
UT_LIBS = test/support/libtestsupport.la lib/libhamt_test.la $(CRITERION_LIBS) $(GC_LIBS) $(SODIUM_LIBS) -lpthread

noinst_LTLIBRARIES += test/support/libtestsupport.la
test_support_libtestsupport_la_SOURCES = test/support/testkeys.c test/support/refmap.c \
	test/support/testkeys.h test/support/refmap.h test/support/mix.h \
	test/support/expect.h test/support/u64map.h test/support/collide0.h \
	test/support/futex_deny.h
test_support_libtestsupport_la_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes

HAMT_UNIT_TESTS = test/node test/map test/hash test/iter test/api test/oom test/random test/ops \
	test/hostile test/batch test/gc test/stats test/ctree
## Criterion cannot run under ThreadSanitizer (TOOLCHAIN.md): the TSan build
## runs only the plain-C stress programs.
if !HAMT_TSAN
check_PROGRAMS += $(HAMT_UNIT_TESTS)
TESTS += $(HAMT_UNIT_TESTS)
endif

## A unit test test/NAME is built from test/NAME.c (Automake's default
## source) and links UT_LIBS, the default LDADD of this tree: every other
## program names its own LDADD.  Automake has no pattern for per-program
## flags, so each test names its CFLAGS on one line (which also gives its
## objects a name of their own).  A new test: add it to HAMT_UNIT_TESTS
## and add its _CFLAGS line.
LDADD = $(UT_LIBS)
test_node_CFLAGS = $(UT_CF)
test_map_CFLAGS = $(UT_CF)
test_hash_CFLAGS = $(UT_CF)
test_iter_CFLAGS = $(UT_CF)
test_api_CFLAGS = $(UT_CF)
test_oom_CFLAGS = $(UT_CF)
test_random_CFLAGS = $(UT_CF)
test_ops_CFLAGS = $(UT_CF)
test_gc_CFLAGS = $(UT_CF)
test_batch_CFLAGS = $(UT_CF)
test_ctree_CFLAGS = $(UT_CF)
test_hostile_CFLAGS = $(UT_CF)
test_stats_CFLAGS = $(UT_CF)

## The public header must compile as C++.
check_PROGRAMS += test/cxx_header
TESTS += test/cxx_header
test_cxx_header_SOURCES = test/cxx_header.cc
test_cxx_header_CXXFLAGS = -Wall -Wextra -Werror -Wold-style-cast $(SAN_CFLAGS)
test_cxx_header_LDADD = lib/libhamt.la
test_cxx_header_LDFLAGS = -no-install $(AM_LDFLAGS)

## ... and in strict ISO C (c99/c11/c17 -pedantic -Werror, gcc and clang)
## and strict C++ (c++11/c++17 -pedantic -Werror, g++ and clang++).
TESTS += test/header-strict.sh
EXTRA_DIST += test/header-strict.sh test/strict_header.c

## What a user builds against the installed library, with pkg-config's
## flags only: the man examples and a program that calls the collector as
## hamt(3) says (test/installed.sh installs into a temporary DESTDIR).
## Not in the TSan build: the collector cannot run under TSan.
if !HAMT_TSAN
TESTS += test/installed.sh
endif
EXTRA_DIST += test/installed.sh test/installed/gc_user.c test/install-system.sh \
	test/debian.sh

## The scripts above read the build's settings from test/check.env.
check_SCRIPTS += test/check.env
CLEANFILES += test/check.env
test/check.env: Makefile
	$(AM_V_GEN)$(MKDIR_P) test && { \
	  echo "CC='$(CC)'"; \
	  echo "CXX='$(CXX)'"; \
	  echo "MAKE='$(MAKE)'"; \
	  echo "PKG_CONFIG='$(PKG_CONFIG)'"; \
	  echo "SAN_CFLAGS='$(SAN_CFLAGS)'"; \
	  echo "libdir='$(libdir)'"; \
	} >$@

LOG_COMPILER = $(SHELL) $(top_srcdir)/test/run-test.sh
EXTRA_DIST += test/run-test.sh test/summary.sh test/run-all test/tally.sh

## One line for CI: test cases counted from the Criterion synthesis lines
## and the plain "N passed, N failed" lines of the other test programs.
check-summary:
	@$(SHELL) $(top_srcdir)/test/summary.sh $(TEST_LOGS)
.PHONY: check-summary

## make check-valgrind: the man page examples under valgrind's memcheck,
## with test/valgrind/libgc.supp hiding the collector's conservative scans
## (TOOLCHAIN.md); test/run-all runs it after make check.
EXTRA_DIST += test/valgrind/run-valgrind.sh test/valgrind/libgc.supp
check-valgrind: $(check_PROGRAMS)
	@srcdir=$(srcdir) $(SHELL) $(srcdir)/test/valgrind/run-valgrind.sh
.PHONY: check-valgrind

## For test/run-all: the .log files of this build's TESTS, one per line.
print-test-logs:
	@for l in $(TEST_LOGS); do echo "$$l"; done
.PHONY: print-test-logs
include test/fuzz/fuzz.mk
