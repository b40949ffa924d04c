## test/fuzz/fuzz.mk - hardening: the differential fuzzer and
## the soak program.
##
##   make fuzz FUZZ_SECONDS=N   builds test/fuzz/fuzz_map with clang
##                              (libFuzzer, ASan, UBSan, collector off) and
##                              runs it for N seconds (default 60); ends with
##                              "N passed, N failed".  test/run-all runs it
##                              for 120 s.  Not part of make check.

FUZZ_SECONDS = 60
EXTRA_DIST += test/fuzz/fuzz_map.c test/fuzz/run-fuzz.sh test/fuzz/corpus

fuzz:
	srcdir=$(abs_top_srcdir) builddir=$(abs_top_builddir) \
	    $(SHELL) $(top_srcdir)/test/fuzz/run-fuzz.sh $(FUZZ_SECONDS)
.PHONY: fuzz

## The soak program (collector on): one writer, several readers, forced
## collections.  Built by make check, never run by it; test/run-all runs it
## for 60 s in the main build.
##   make soak SOAK_SECONDS=N
check_PROGRAMS += test/stress/soak
test_stress_soak_SOURCES = test/stress/soak.c
test_stress_soak_CFLAGS = $(AM_CFLAGS) -Wno-missing-prototypes
test_stress_soak_LDADD = lib/libhamt_core.la $(GC_LIBS) -lpthread
test_stress_soak_LDFLAGS = -no-install $(AM_LDFLAGS)

SOAK_SECONDS = 60
soak: test/stress/soak
	$(builddir)/test/stress/soak -t $(SOAK_SECONDS)
.PHONY: soak
