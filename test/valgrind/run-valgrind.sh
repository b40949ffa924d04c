#!/bin/sh
# run-valgrind.sh - the man page example programs (plain C, the collector
# on, threads included) under valgrind's memcheck, with
# test/valgrind/libgc.supp hiding the collector's conservative scans.  Any
# error memcheck still reports (they come from libhamt's code or the
# example's) fails the program.  Prints PASS/FAIL lines and
# "valgrind: N passed, N failed"; exits non-zero if anything failed or
# valgrind is missing.  Run from the top build directory after make check
# (make check-valgrind).
#
# --fair-sched=try: valgrind runs one thread at a time under a lock that by
# default is not fair on a multicore machine, so threads that spin (the
# readers of hamt_cell_acquire.c poll the cell until the writer is done)
# can keep the one that would end their wait from running for minutes.
# The ticket lock hands the CPU round, and "try" falls back to the default
# where valgrind cannot make it.  A program still running after
# VALGRIND_TIMEOUT seconds (default 900) is killed and fails.
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
supp=$srcdir/test/valgrind/libgc.supp
timeout_s=${VALGRIND_TIMEOUT:-900}
passed=0
failed=0

if ! command -v valgrind >/dev/null 2>&1; then
    echo "run-valgrind: valgrind not found (./bootstrap installs it)" >&2
    echo "valgrind: 0 passed, 1 failed"
    exit 1
fi
for c in "$srcdir"/man/examples/*.c; do
    stem=${c##*/}
    stem=${stem%.c}
    bin=man/examples/$stem
    if [ ! -x "$bin" ]; then
        echo "FAIL: $bin was not built (run make check first)"
        failed=$((failed + 1))
        continue
    fi
    timeout "$timeout_s" valgrind -q --error-exitcode=99 --fair-sched=try \
        --suppressions="$supp" "$bin" >/dev/null 2>"$bin.vg.log"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS: $bin"
        passed=$((passed + 1))
    else
        why="exit $rc; memcheck output in $bin.vg.log"
        if [ "$rc" -eq 124 ]; then
            why="still running after $timeout_s s under valgrind"
        fi
        echo "FAIL: $bin ($why)"
        cat "$bin.vg.log"
        failed=$((failed + 1))
    fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
