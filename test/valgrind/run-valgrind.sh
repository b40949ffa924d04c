#!/bin/sh
# run-valgrind.sh - the man page example programs (plain C, the collector
# on, threads included) under valgrind's memcheck, with
# test/valgrind/libgc.supp hiding the collector's conservative scans.  Any
# error memcheck still reports (they come from libhamt's code or the
# example's) fails the program.  Prints PASS/FAIL lines and
# "valgrind: N passed, N failed"; exits non-zero if anything failed or
# valgrind is missing.  Run from the top build directory after make check
# (make check-valgrind).
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
supp=$srcdir/test/valgrind/libgc.supp
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
    if valgrind -q --error-exitcode=99 --suppressions="$supp" "$bin" \
        >/dev/null 2>"$bin.vg.log"; then
        echo "PASS: $bin"
        passed=$((passed + 1))
    else
        echo "FAIL: $bin (memcheck output in $bin.vg.log)"
        cat "$bin.vg.log"
        failed=$((failed + 1))
    fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
