## test/fuzz/fuzz.mk - hardening (issue 6): the differential fuzzer.
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
